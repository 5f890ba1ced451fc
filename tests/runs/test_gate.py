"""A run of a subset of the suite keeps exit 0 but is never called passed."""

from __future__ import annotations

from pathlib import Path

import pytest

from techval.harness.evidence import bundle
from tests.helpers import assert_evidence_agrees, run_techval


@pytest.mark.whole_run
def test_a_k_subset_keeps_exit_0_but_is_never_called_passed(tmp_path: Path) -> None:
    result = run_techval(["--", "-k", "Broad or List or inpatient or Create"], tmp_path / "r")
    assert result.code == 0, result.stderr
    found = assert_evidence_agrees(result.reports)
    assert found["verdict"] == "incomplete"
    assert found["counts"]["total"] == 6 and found["counts"]["not_selected"] == 12
    assert "PASSED" not in result.stdout.split("Validation step")[1]
    assert "12 of the suite's 18 scenarios were not selected" in result.stdout
    globals_file = result.reports / "allure-results" / "techval-globals.json"
    assert "Scenarios not selected" in globals_file.read_text()
    summary = bundle.summary(found)  # summary.md of the evidence bundle
    assert "**Subset.**" in summary and "Verdict: **INCOMPLETE**" in summary
    assert "not selected: Update the address" in summary
    rows = (result.reports / "requirements.csv").read_text()
    assert "incomplete" in rows  # a requirement some of whose scenarios were left out
