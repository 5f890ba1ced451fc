"""Whole runs through Redox's FHIR API (`api: fhir`) against the simulator's FHIR routes: every
validation step covered, what FHIR does not offer listed as such, no simulated patient's value
in the reports, every FHIR resource sent valid by a second opinion, and each FHIR fault caught
by the right scenario with a message naming what was observed."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

import pytest

from techval.core.redaction import Redactor, patient_values, shape
from techval.harness.evidence import leaks
from techval.simulator import RunningSimulator, Simulator, provision
from techval.simulator.app import CapturedRequest
from techval.simulator.faults import named
from techval.simulator.fhir_shapes import patient_id
from tests.fhir_second_opinion import invalid_sent, resources_sent
from tests.helpers import (
    RunResult,
    assert_evidence_agrees,
    run_techval,
    settings_for,
    shared_run,
    write_environment,
)

pytestmark = pytest.mark.whole_run
ORGANIZATION_UPDATE = "test_update_the_address_and_contacts_of_the_organization_record"


def fhir_run(server: RunningSimulator, tmp_path: Path, *faults: str) -> RunResult:
    server.simulator.faults.extend(named(fault) for fault in faults)
    config = write_environment(tmp_path, simulator=None, base_url=server.url, api="fhir")
    return run_techval(["--config", str(config)], tmp_path / "reports")


def failed(result: RunResult) -> dict[str, str]:
    return {name: message for name, message in result.cases().items() if message}


@pytest.fixture(scope="session")
def clean_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[RunResult, list[CapturedRequest]]:
    """One run without faults for the whole session, made by whichever test worker asks
    first (helpers.shared_run), with what its simulator received (kept beside it)."""

    def make(folder: Path) -> RunResult:
        server = RunningSimulator(provision(settings_for(folder))).start()
        try:
            result = fhir_run(server, folder)
            received = [
                [r.method, r.path, dict(r.headers), base64.b64encode(r.body).decode()]
                for r in server.simulator.captured
            ]
        finally:
            server.stop()
        (folder / "captured.json").write_text(json.dumps(received), encoding="utf-8")
        return result

    result = shared_run(tmp_path_factory, "fhir-clean", make)
    received = json.loads((result.reports.parent / "captured.json").read_text(encoding="utf-8"))
    return result, [CapturedRequest(m, p, h, base64.b64decode(b)) for m, p, h, b in received]


def test_every_step_runs_through_fhir_and_what_it_lacks_is_not_offered(
    clean_run: tuple[RunResult, list[CapturedRequest]],
) -> None:
    result, _ = clean_run
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


def test_the_data_model_pushes_and_the_carequality_headers_check_their_requirements(
    clean_run: tuple[RunResult, list[CapturedRequest]],
) -> None:
    """Under FHIR step 4 still pushes Data Model messages: the envelope rules are checked by
    its scenarios alone; the user role and purpose of use rules by the headers' values."""
    result, _ = clean_run
    with (result.reports / "requirements.csv").open(encoding="utf-8", newline="") as file:
        rows = {row["id"]: row for row in csv.DictReader(file)}
    pushes = {
        "Push a new patient and a visit summary, then find both",
        "Update the contact details of a patient",
        "Merge two records of a patient",
    }
    for key in ("API-01", "API-06", "API-07", "API-08", "API-09"):
        assert rows[key]["verdict"] == "passed", key
        ran = set(rows[key]["scenarios"].split("; "))
        assert pushes <= ran and all(s in pushes or s.startswith("Push the visit") for s in ran)
        assert rows[key]["redox_log_ids"], key
    for key in ("CQ-03", "CQ-04"):  # the broad search is not offered under FHIR
        assert rows[key]["verdict"] in ("passed", "incomplete"), key
        assert "Search within one organization" in rows[key]["scenarios"], key
    for key in ("CQ-01", "CQ-05", "PS-01", "API-10"):  # Data Model only: not applicable
        assert rows[key]["verdict"] == "not_applicable", key


def simulated_patient_values(simulator: Simulator) -> list[str]:
    """What identifies the simulator's patients: names, birth dates, streets, phones and
    identifiers (test_patients.yaml), each organization's own identifier (an MRN) and Patient
    id, the record locator's network ID."""
    values = []
    for person in simulator.network.patients:
        values += patient_values([{"d": person.demographics, "i": person.identifiers or []}])
        values.append(person.network_id["ID"])
        for holding in person.holdings:
            values += [holding.patient_id, patient_id(holding)]
    return values


def test_no_simulated_patients_value_reaches_the_reports(
    clean_run: tuple[RunResult, list[CapturedRequest]], tmp_path: Path
) -> None:
    result, _ = clean_run
    simulator = provision(settings_for(tmp_path))  # the run's simulator had the same patients
    values = simulated_patient_values(simulator)
    assert {"Timothy", "2008-01-06", "MRN-778899", "RLS-5F3A9C-0001"} <= set(values)
    # they went by: the documents search names the patient by her Patient id, masked
    har = (result.reports / "exchanges.har").read_text()
    ids = [patient_id(h) for p in simulator.network.patients for h in p.holdings]
    assert any(f"patient={shape(found)}" in har for found in ids)
    # in any spelling the redactor masks, and unmasked in no place it masks by shape
    assert leaks.scan(result.reports, Redactor(patient_values=values)) == []


def test_every_fhir_resource_the_run_sent_is_valid_by_fhir_resources(
    clean_run: tuple[RunResult, list[CapturedRequest]],
) -> None:
    _, captured = clean_run
    sent = resources_sent(captured)
    assert {resource["resourceType"] for _, resource in sent} == {"Organization"}
    assert {where.split(" ")[0] for where, _ in sent} == {"POST", "PUT"}  # created, updated
    assert invalid_sent(captured) == []


@pytest.mark.parametrize(
    ("fault", "scenario", "said"),
    [
        ("fhir_update_not_stored", ORGANIZATION_UPDATE, "ReadbackMismatch: the directory"),
        (
            "fhir_patients_without_identifiers",
            "test_search_within_one_organization",
            "WrongContent: Patient search: $.entry[0].resource.identifier",
        ),
        (
            "fhir_patients_without_id",
            "test_push_a_new_patient_and_a_visit_summary",
            "WrongContent: Patient search: $.entry[0].resource.id: missing: the patient was "
            "found, but without the id",
        ),
        (
            "fhir_write_answers_outcome",
            "test_create_the_organization_record",
            "SchemaMismatch: Organization create: the answer is an OperationOutcome, not the "
            "Organization (fhir.write_answer: resource;",
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
