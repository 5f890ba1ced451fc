"""Whole runs where the test data names the organization a patient's scenarios use: pointed at
the right one it passes; pointed at one where the patient without documents has documents, the
scenario is not applicable (skipped, never failed) and its validation step is incomplete."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from techval.harness.evidence.bundle import summary
from techval.simulator import RunningSimulator, Simulator, provision
from tests.helpers import ROOT, assert_evidence_agrees, run_techval, settings_for, write_environment

pytestmark = pytest.mark.whole_run  # runs techval commands as a whole: not in make test-fast

HEALTH_SYSTEM, SENIOR_CARE = "2.16.840.1.113883.3.9999.1", "2.16.840.1.113883.3.9999.3"
NO_DOCUMENTS = "test_a_patient_without_documents"


def network_where_walter_has_documents_first(folder: Path) -> Path:
    """The shipped network, with the patient without documents also held (with a document) at
    the health system, which the record locator lists first."""
    data = folder / "network"
    shutil.copytree(ROOT / "fixtures/simulator", data)
    network = yaml.safe_load((data / "network.yaml").read_text())
    walter = next(p for p in network["patients"] if p["alias"] == "test patient without documents")
    timothy_ccd = network["patients"][0]["held_at"][0]["documents"][0]
    walter["held_at"].insert(
        0,
        {
            "organization": HEALTH_SYSTEM,
            "id": "MRN-990011",
            "documents": [dict(timothy_ccd, id=f"{HEALTH_SYSTEM}.3^doc-walter")],
        },
    )
    (data / "network.yaml").write_text(yaml.safe_dump(network, sort_keys=False))
    return data


def patients_naming(folder: Path, oid: str) -> Path:
    patients = yaml.safe_load((ROOT / "fixtures/test_patients.yaml").read_text())
    patients["test patient without documents"]["organization"] = oid
    path = folder / "patients.yaml"
    path.write_text(yaml.safe_dump(patients, sort_keys=False))
    return path


@pytest.fixture
def network(tmp_path: Path) -> Path:
    return network_where_walter_has_documents_first(tmp_path)


def run_with(tmp_path: Path, data: Path, oid: str):
    patients = patients_naming(tmp_path, oid)
    settings = settings_for(tmp_path, test_patients=str(patients))
    simulator = Simulator(settings.destinations, data_dir=data, test_patients=patients)
    server = RunningSimulator(provision(settings, simulator)).start()
    try:
        config = write_environment(
            tmp_path, simulator=None, base_url=server.url, test_patients=str(patients)
        )
        return run_techval(
            ["--config", str(config), "--tags", "document_query"], tmp_path / "reports"
        )
    finally:
        server.stop()


def test_the_named_organization_is_used(tmp_path: Path, network: Path) -> None:
    result = run_with(tmp_path, network, SENIOR_CARE)
    assert result.code == 0, result.stdout[-3000:]
    assert set(result.cases().values()) == {""}
    verdict = assert_evidence_agrees(result.reports)
    assert {s["key"]: s["verdict"] for s in verdict["steps"]}["document_query"] == "passed"


def test_a_patient_with_documents_there_is_not_applicable(tmp_path: Path, network: Path) -> None:
    result = run_with(tmp_path, network, HEALTH_SYSTEM)
    assert result.code == 0, result.stdout[-3000:]  # nothing failed: not applicable is no failure
    verdict = assert_evidence_agrees(result.reports)
    step = next(s for s in verdict["steps"] if s["key"] == "document_query")
    assert step["verdict"] == "incomplete"
    assert step["counts"]["not_applicable"] == 1 and step["counts"]["failed"] == 0
    (scenario,) = [s for s in step["scenarios"] if s["status"] != "passed"]
    assert (scenario["status"], scenario["kind"]) == ("skipped", "test_data")
    expected = (
        "Not applicable with this test data: 'test patient without documents': "
        "ClinicalSummary.DocumentQuery lists 1 document(s) for this patient at the organization "
        "used, who should have none there; change 'organization' of "
        "'test patient without documents' in the test-patients file"
    )
    assert scenario["message"] == expected
    assert "N/A" in result.stdout and "INCOMPLETE" in result.stdout
    assert "1 scenario(s) not applicable with this test data" in result.stdout
    assert "not applicable with this test data: A patient without documents" in summary(verdict)
    (skipped,) = [r for r in result.allure_results() if r["status"] == "skipped"]
    assert expected in skipped["statusDetails"]["message"]
    junit = (result.reports / "junit.xml").read_text()
    assert "Not applicable with this test data" in junit
    assert json.loads((result.reports / "verdict.json").read_text())["counts"]["failed"] == 0
