"""The asynchronous location query, the identifier picked at an organization, and test data that
does not fit the network (not applicable, never failed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from techval.core.config import Settings
from techval.core.errors import CheckFailed, TestDataMismatch
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.simulator import Simulator
from techval.simulator.responses import Reply, json_reply
from techval.validation import documents, search
from techval.validation.located import Located, Location
from techval.validation.patients import TestPatient, load_patients, patient
from tests.helpers import ROOT, in_process_client

PATIENTS = load_patients(ROOT / "fixtures/test_patients.yaml")
LOCATION_QUERY = ("PatientSearch", "LocationQuery")


def task_status_answers(*statuses: str | None, errors: list[str] | None = None) -> Callable:
    """A fault: answer the first LocationQueries with these task-status values (no Patients),
    then let the simulator answer; None lets one through untouched."""
    queue = list(statuses)

    def fault(message: dict[str, Any] | None, proceed: Callable[[], Reply]) -> Reply:
        meta = (message or {}).get("Meta") or {}
        if (meta.get("DataModel"), meta.get("EventType")) != LOCATION_QUERY or not queue:
            return proceed()
        status = queue.pop(0)
        if status is None:
            return proceed()
        reply = proceed()
        body = json.loads(reply.body)
        body["Meta"].setdefault("Extensions", {})["task-status"] = {
            "url": "https://api.redoxengine.com/extensions/task-status",
            "string": status,
        }
        if status != "Success":
            body.pop("Patients", None)
        if errors:
            body["Meta"]["Errors"] = [{"ID": 1, "Text": t, "Type": "query"} for t in errors]
        return json_reply(200, body)

    return fault


def locate(settings: Settings, simulator: Simulator, who: TestPatient) -> tuple[Any, list]:
    """Locate `who`; the simulator's own Active answers are switched off, so only the test's
    task-status answers come before the complete one."""
    simulator.location_query_active = 0
    client = in_process_client(settings, simulator)
    located = search.locate(client, settings, Reporter(client.redactor), who)
    return located, [e for e in client.exchanges if e.label == "PatientSearch.LocationQuery"]


def test_location_query_is_sent_again_while_active(
    test_settings: Settings, simulator: Simulator
) -> None:
    simulator.faults.append(task_status_answers("Active", "Active", "Success"))
    located, sent = locate(test_settings, simulator, patient(PATIENTS, "test patient 1"))
    assert len(sent) == 3
    assert located.locations  # the Success answer's organizations


def test_an_answer_without_task_status_is_complete(
    test_settings: Settings, simulator: Simulator
) -> None:
    simulator.faults.append(lambda message, proceed: _without_task_status(proceed()))
    located, sent = locate(test_settings, simulator, patient(PATIENTS, "test patient 1"))
    assert len(sent) == 1 and located.locations


def _without_task_status(reply: Reply) -> Reply:
    body = json.loads(reply.body)
    extensions = (body.get("Meta") or {}).get("Extensions") or {}
    extensions.pop("task-status", None)
    return json_reply(reply.status, body)


def test_task_status_error_fails_naming_it(test_settings: Settings, simulator: Simulator) -> None:
    simulator.faults.append(task_status_answers("Active", "Error"))
    with pytest.raises(CheckFailed, match="the record locator answered task-status Error$"):
        locate(test_settings, simulator, patient(PATIENTS, "test patient 1"))


def test_an_active_answer_with_errors_fails(test_settings: Settings, simulator: Simulator) -> None:
    simulator.faults.append(task_status_answers("Active", errors=["Gateway unavailable"]))
    with pytest.raises(CheckFailed, match="HTTP 200 with Meta.Errors: Gateway unavailable"):
        locate(test_settings, simulator, patient(PATIENTS, "test patient 1"))


def test_a_locator_that_stays_active_fails_within_the_limits(
    test_settings: Settings, simulator: Simulator
) -> None:
    simulator.faults.append(task_status_answers(*["Active"] * 50))
    attempts = test_settings.location_query.attempts
    with pytest.raises(
        CheckFailed,
        match=rf"task-status Success\): not found after {attempts} attempts .*limits: {attempts}",
    ):
        locate(test_settings, simulator, patient(PATIENTS, "test patient 1"))


def test_an_unknown_task_status_fails_naming_the_field(
    test_settings: Settings, simulator: Simulator
) -> None:
    simulator.faults.append(task_status_answers("Pending"))
    with pytest.raises(
        CheckFailed, match=r"\$\.Meta\.Extensions\.task-status: not one of Active, Success, Error"
    ):
        locate(test_settings, simulator, patient(PATIENTS, "test patient 1"))


def test_the_identifier_typed_with_the_organization_oid_is_picked() -> None:
    both = Location("1.2.3", "Org", (("MRN-1", "1.2.3.2"), ("P-9", "1.2.3")))
    assert both.patient_identifiers == [{"ID": "P-9", "IDType": "1.2.3"}]
    other = Location("1.2.3", "Org", (("MRN-1", "1.2.3.2"), ("X", "EHRID")))
    assert other.patient_identifiers == [
        {"ID": "MRN-1", "IDType": "1.2.3.2"},
        {"ID": "X", "IDType": "EHRID"},
    ]


FIRST, SECOND = (
    Location("1.2.3", "First", (("A", "1.2.3"),)),
    Location("4.5.6", "Second", (("B", "4.5.6"),)),
)


def with_organization(alias: str, oid: str | None) -> TestPatient:
    person = patient(PATIENTS, alias)
    return TestPatient(person.alias, person.demographics, person.identifiers, oid)


def test_the_organization_of_the_test_data_is_chosen() -> None:
    def chosen(oid: str | None) -> Location:
        who = with_organization("test patient 1", oid)
        return Located(who, {}, (FIRST, SECOND)).chosen

    assert chosen(None) is FIRST
    assert chosen("4.5.6") is SECOND


def test_an_organization_the_locator_does_not_list_is_a_test_data_mismatch() -> None:
    located = Located(with_organization("test patient 1", "7.8.9"), {}, (FIRST, SECOND))
    with pytest.raises(TestDataMismatch) as caught:
        located.chosen  # noqa: B018 - the property raises
    message = str(caught.value)
    assert message.startswith("Not applicable with this test data: 'test patient 1': ")
    assert "lists 2 organization(s)" in message
    assert message.endswith("change 'organization' of 'test patient 1' in the test-patients file")


def answer(body: dict[str, Any], label: str, status: int = 200) -> Exchange:
    return Exchange(label, "POST", "u", {}, {}, "t", status=status, response_body=body)


def test_documents_for_the_patient_without_documents_are_a_test_data_mismatch() -> None:
    walter = patient(PATIENTS, "test patient without documents")
    listed = answer(
        {"Meta": {}, "Documents": [{"ID": "d1"}, {"ID": "d2"}]}, "Clinical Summary.DocumentQuery"
    )
    with pytest.raises(TestDataMismatch, match=r"lists 2 document\(s\) .* change 'organization'"):
        documents.expect_no_documents(listed, walter)


def test_potential_matches_for_a_test_patient_are_a_test_data_mismatch() -> None:
    timothy = patient(PATIENTS, "test patient 1")
    several = answer(
        {"Meta": {}, "Patient": {}, "PotentialMatches": [{}, {}, {}]}, "PatientSearch.Query"
    )
    with pytest.raises(
        TestDataMismatch, match=r"answered 3 potential matches.*change 'Demographics'"
    ):
        search.found(several, timothy)
    with pytest.raises(TestDataMismatch, match="change 'Demographics' of 'unknown patient'"):
        search.no_match(several, patient(PATIENTS, "unknown patient"))


def test_a_test_patient_not_found_is_a_search_failure_that_says_why_it_may_be() -> None:
    nobody = answer({"Meta": {}, "Patient": {}}, "PatientSearch.Query")
    with pytest.raises(CheckFailed, match="who should be found .*may not hold them") as caught:
        search.found(nobody, patient(PATIENTS, "test patient 1"))
    assert "Timothy" not in str(caught.value)


def test_the_test_patients_file_takes_an_organization_oid(tmp_path: Path) -> None:
    path = tmp_path / "patients.yaml"
    path.write_text(
        "walter:\n  organization: 2.16.840.1.113883.3.9999.3\n"
        "  Demographics: {FirstName: W, LastName: C, DOB: '1945-03-04'}\n"
    )
    assert load_patients(path)["walter"].organization == "2.16.840.1.113883.3.9999.3"
    path.write_text(
        "walter:\n  organization: Senior Care\n"
        "  Demographics: {FirstName: W, LastName: C, DOB: '1945-03-04'}\n"
    )
    with pytest.raises(Exception, match=r"walter\.organization: pattern rule broken"):
        load_patients(path)
