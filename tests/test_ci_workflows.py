"""The GitHub Actions workflows: the harness's tests on every push, and the nightly gate
against Redox dev that keeps its evidence and its history."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.helpers import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as true
    return document


def commands(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_every_push_runs_the_harness_tests_through_the_ci_entry_point() -> None:
    harness = workflow("harness.yml")
    assert {"push", "pull_request"} <= set(harness["on"])
    assert "bash .ci/run" in commands(harness["jobs"]["test"])
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_nightly_runs_dev_with_secrets_and_keeps_report_history_and_gate() -> None:
    nightly = workflow("nightly-dev.yml")
    assert nightly["on"]["schedule"][0]["cron"] and "workflow_dispatch" in nightly["on"]
    job = nightly["jobs"]["validate"]
    run = commands(job)
    assert "techval run --env dev" in run and "techval bundle --env dev" in run
    needed = {
        placeholder[2:-1]
        for placeholder in re.findall(
            r"\$\{[A-Z_]+\}", (ROOT / "environments/dev.yaml").read_text()
        )
    }
    assert needed <= set(job["env"]), needed - set(job["env"])
    assert all(
        "secrets." in str(job["env"][name])
        for name in ("REDOX_CLIENT_ID", "REDOX_KEY_ID", "REDOX_DOD_DESTINATION_ID")
    )
    uses = {step.get("uses", "").split("@")[0]: step for step in job["steps"]}
    assert uses["actions/cache/restore"]["with"]["path"] == "reports/history"
    assert uses["actions/cache/save"]["with"]["path"] == "reports/history"
    artifact = uses["actions/upload-artifact"]
    assert artifact["if"] == "always()" and "techval-evidence-" in artifact["with"]["path"]
    gate = job["steps"][-1]
    assert gate["if"] == "steps.suite.outcome != 'success'" and "exit 1" in gate["run"]
    assert "GITHUB_STEP_SUMMARY" in run
