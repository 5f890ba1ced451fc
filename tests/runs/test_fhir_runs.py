"""Whole runs through Redox's FHIR API (`api: fhir`) against the simulator's FHIR routes: every
validation step covered, what FHIR does not offer listed as such, and each FHIR fault caught by
the right scenario with a message naming what was observed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from techval.simulator import RunningSimulator
from techval.simulator.faults import named
from tests.helpers import RunResult, assert_evidence_agrees, run_techval, write_environment

pytestmark = pytest.mark.whole_run
ORGANIZATION_UPDATE = "test_update_the_address_and_contacts_of_the_organization_record"


def fhir_run(server: RunningSimulator, tmp_path: Path, *faults: str) -> RunResult:
    server.simulator.faults.extend(named(fault) for fault in faults)
    config = write_environment(tmp_path, simulator=None, base_url=server.url, api="fhir")
    return run_techval(["--config", str(config)], tmp_path / "reports")


def failed(result: RunResult) -> dict[str, str]:
    return {name: message for name, message in result.cases().items() if message}


def test_every_step_runs_through_fhir_and_what_it_lacks_is_not_offered(
    server: RunningSimulator, tmp_path: Path
) -> None:
    result = fhir_run(server, tmp_path)
    assert result.code == 0, result.stdout[-3000:]
    verdict = assert_evidence_agrees(result.reports)
    assert verdict["verdict"] == "passed"
    assert {step["verdict"] for step in verdict["steps"]} == {"passed"}
    not_offered = [s["name"] for step in verdict["steps"] for s in step["scenarios"] if s["kind"]]
    assert sorted(not_offered) == [
        "Broad search finds the patient and the organizations that hold records",
        "Summarize the patient",
    ]  # the unknown patient is searched at the directory's organizations: empty searchsets
    assert "2 scenario(s) not offered by this API" in result.stdout
    entries = json.loads((result.reports / "exchanges.har").read_text())["log"]["entries"]
    slugs = {
        e["request"]["url"].split("/fhir/R4/")[1].split(":")[0].split("/")[0]
        for e in entries
        if "/fhir/R4/" in e["request"]["url"]
    }
    assert slugs == {"ceq-orgs", "ceq-xcpd", "ceq-xca"}
    # pushes stay Data Model messages (the only documented repository writes), nothing else
    endpoint = [e for e in entries if e["request"]["url"].endswith("/endpoint")]
    texts = [e["request"]["postData"]["text"] for e in endpoint]
    assert texts and all('"PatientAdmin"' in t or '"VisitPush"' in t for t in texts)
    assert all(e["response"]["headers"] for e in entries)  # Redox-Trace-Id among them
    traced = [s for step in verdict["steps"] for s in step["scenarios"] if s["redox_log_ids"]]
    assert traced  # the trace IDs are the log IDs of FHIR exchanges


@pytest.mark.parametrize(
    ("fault", "scenario", "said"),
    [
        ("fhir_update_not_stored", ORGANIZATION_UPDATE, "ReadbackMismatch: the directory"),
        (
            "fhir_patients_without_identifiers",
            "test_search_within_one_organization",
            "WrongContent: Patient search: $.entry[].resource.identifier",
        ),
        (
            "fhir_document_without_data",
            "test_list_the_patients_documents",
            "attachment.data: required field missing",
        ),
        (
            "fhir_document_not_xml",
            "test_retrieve_a_listed_document",
            "the document is not well-formed XML",
        ),
        (
            "fhir_outcome_in_searchset",
            "test_list_the_patients_documents",
            "RedoxRefused: DocumentReference search: Redox answered HTTP 200 with an "
            "OperationOutcome",
        ),
        (
            "fhir_data_model_errors",
            "test_search_within_one_organization",
            "Patient search: Redox answered HTTP 400: Invalid data model and/or event type.",
        ),
    ],
)
def test_each_fhir_fault_fails_the_right_scenario_naming_what_was_seen(
    server: RunningSimulator, tmp_path: Path, fault: str, scenario: str, said: str
) -> None:
    result = fhir_run(server, tmp_path, fault)
    assert result.code == 1, result.stdout[-3000:]
    messages = [m for name, m in failed(result).items() if name.startswith(scenario)]
    assert messages and said in messages[0], failed(result)
    assert "Traceback" not in result.stderr
    # what FHIR does not offer is said before any step: never failed by an earlier step's fault
    assert not [n for n in failed(result) if n.startswith(("test_summarize", "test_broad"))]
