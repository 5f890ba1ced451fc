"""Patient search and document query: the metadata rule, the simulator's answers, the checks."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from techval.core.config import Settings
from techval.core.errors import CheckFailed, ConfigError, InvalidMessage
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.simulator import Simulator
from techval.simulator.query_routes import NO_DOCUMENTS
from techval.validation import documents, rules, search
from techval.validation.located import Located, Location
from techval.validation.messages import carequality_extensions
from techval.validation.patients import load_patients, patient
from tests.helpers import ROOT, in_process_client, settings_for

PATIENTS = load_patients(ROOT / "fixtures/test_patients.yaml")
HEALTH_SYSTEM = "2.16.840.1.113883.3.9999.1"


def send(simulator: Simulator, message: dict[str, Any]) -> tuple[int, Any]:
    token = simulator.tokens._issue(300)
    reply = simulator.handle(
        "POST", "/endpoint", {"Authorization": f"Bearer {token}"}, json.dumps(message).encode()
    )
    return reply.status, json.loads(reply.body)


def location(settings: Settings, simulator: Simulator, alias: str) -> Location:
    client = in_process_client(settings, simulator)
    return search.locate(
        client, settings, Reporter(client.redactor), patient(PATIENTS, alias)
    ).chosen


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("organization-name", None, "organization-name.string: Carequality metadata missing"),
        ("user-id", {"string": ""}, "user-id.string: Carequality metadata missing"),
        (
            "sender-organization-id",
            {"string": "My Clinic"},
            "sender-organization-id.string: Carequality metadata missing or not an OID",
        ),
        (
            "user-role",
            {"coding": {"code": "Doctor"}},
            "user-role.coding.code: Carequality metadata missing or not a SNOMED CT code",
        ),
        (  # the whole value is the code: Python's $ would let a final newline through
            "user-role",
            {"coding": {"code": "112247003\n"}},
            "user-role.coding.code: Carequality metadata missing or not a SNOMED CT code",
        ),
        (
            "purpose-of-use",
            {"coding": {"code": "OPERATIONS"}},
            "purpose-of-use.coding.code: Carequality metadata missing or not TREATMENT",
        ),
    ],
)
def test_carequality_metadata_rule_names_each_problem(
    test_settings: Settings, key: str, value: Any, expected: str
) -> None:
    message = search.demographics_query(test_settings, patient(PATIENTS, "test patient 1"))
    assert rules.carequality_metadata(message) == []
    if value is None:
        del message["Meta"]["Extensions"][key]
    else:
        message["Meta"]["Extensions"][key] = value
    assert [str(v) for v in rules.carequality_metadata(message)] == [
        f"$.Meta.Extensions.{expected}"
    ]


def test_client_refuses_a_carequality_query_without_metadata(test_settings: Settings) -> None:
    client = in_process_client(test_settings)
    message = search.demographics_query(test_settings, patient(PATIENTS, "test patient 1"))
    del message["Meta"]["Extensions"]
    with pytest.raises(InvalidMessage, match="breaks a Redox rule, not sent: .*user-id"):
        client.send(message)


def test_organization_messages_need_no_carequality_metadata(test_settings: Settings) -> None:
    assert rules.outgoing({"Meta": {"Test": True}}, "organization", test_settings, set()) == []


def test_simulator_answers_401_without_metadata(
    simulator: Simulator, test_settings: Settings
) -> None:
    message = search.demographics_query(test_settings, patient(PATIENTS, "test patient 1"))
    message["Meta"]["Extensions"].pop("purpose-of-use")
    status, body = send(simulator, message)
    assert status == 401
    assert "Carequality metadata missing" in body["Meta"]["Errors"][0]["Text"]


def test_broad_search_matches_by_demographics(
    simulator: Simulator, test_settings: Settings
) -> None:
    status, body = send(
        simulator, search.demographics_query(test_settings, patient(PATIENTS, "test patient 2"))
    )
    assert status == 200 and body["Patient"]["Identifiers"][0]["ID"] == "RLS-5F3A9C-0002"
    assert body["Meta"]["EventType"] == "Query"
    status, body = send(
        simulator, search.demographics_query(test_settings, patient(PATIENTS, "unknown patient"))
    )
    assert (status, body["Patient"]) == (200, {})


def test_two_matches_are_potential_matches(simulator: Simulator, test_settings: Settings) -> None:
    twin = copy.deepcopy(simulator.network.patients[0])
    twin.network_id = {"ID": "RLS-TWIN", "IDType": twin.network_id["IDType"]}
    simulator.network.patients.append(twin)
    exchange_body = send(
        simulator, search.demographics_query(test_settings, patient(PATIENTS, "test patient 1"))
    )[1]
    assert len(exchange_body["PotentialMatches"]) == 2 and exchange_body["Patient"] == {}


def test_search_within_unknown_organization_is_refused(
    simulator: Simulator, test_settings: Settings
) -> None:
    message = search.demographics_query(
        test_settings,
        patient(PATIENTS, "test patient 1"),
        organization_oid="2.16.840.1.113883.3.9999.77",
    )
    status, body = send(simulator, message)
    assert (
        status == 200
        and "Repository URL and certificate are required" in body["Meta"]["Errors"][0]["Text"]
    )


def test_document_query_filters_by_type_and_date(
    simulator: Simulator, test_settings: Settings
) -> None:
    where = location(test_settings, simulator, "test patient 1")
    message = documents.document_query(test_settings, where)
    assert len(send(simulator, message)[1]["Documents"]) == 1
    message["Document"] = {"Types": [{"Code": "11506-3", "Codeset": "LOINC", "Name": None}]}
    status, body = send(simulator, message)
    assert status == 200 and NO_DOCUMENTS in body["Meta"]["Errors"][0]["Text"]
    message["Document"] = {"StartDate": "2026-01-01"}
    assert NO_DOCUMENTS in send(simulator, message)[1]["Meta"]["Errors"][0]["Text"]


def test_document_query_for_an_unknown_patient_is_not_found(
    simulator: Simulator, test_settings: Settings
) -> None:
    where = location(test_settings, simulator, "test patient 1")
    unknown = Location(where.organization_oid, where.organization_name, (("NOPE-1", "x"),))
    status, body = send(simulator, documents.document_query(test_settings, unknown))
    assert status == 404 and "isn't found" in body["Meta"]["Errors"][0]["Text"]


def test_patient_query_returns_the_parsed_latest_summary(
    simulator: Simulator, test_settings: Settings
) -> None:
    where = location(test_settings, simulator, "test patient 1")
    status, body = send(simulator, documents.patient_query(test_settings, where))
    assert status == 200
    assert body["Header"]["Document"]["TypeCode"]["Code"] == "34133-9"
    assert "Asthma" in body["ProblemsText"]


def exchange(
    body: dict[str, Any], status: int = 200, label: str = "Clinical Summary.DocumentGet"
) -> Exchange:
    return Exchange(
        label=label,
        method="POST",
        url="u",
        request_headers={},
        request_body={},
        started_at="t",
        status=status,
        response_body=body,
    )


def test_cda_check_accepts_raw_and_base64_xml() -> None:
    cda = (ROOT / "fixtures/simulator/documents/barbara-bixby-ccd.xml").read_text()
    documents.check_cda(exchange({"FileType": "XML"}), cda)
    encoded = base64.b64encode(cda.encode()).decode()
    documents.check_cda(exchange({"FileType": "CDA"}), encoded)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("<ClinicalDocument><a></ClinicalDocument>", "not well-formed XML (line 1, column 23)"),
        ('<?xml version="1.0"?><html/>', "the XML root is not an HL7 v3 ClinicalDocument"),
        ("<ClinicalDocument/>", "the XML root is not an HL7 v3 ClinicalDocument"),
    ],
)
def test_cda_check_names_the_problem(data: str, expected: str) -> None:
    with pytest.raises(CheckFailed, match=expected.replace("(", r"\(").replace(")", r"\)")):
        documents.check_cda(exchange({"FileType": "XML"}), data)


def test_location_without_an_organization_oid_fails() -> None:
    body = {
        "Meta": {"DataModel": "PatientSearch", "EventType": "LocationQuery"},
        "Patients": [
            {"Identifiers": [{"ID": "1", "IDType": "x"}], "Organization": {"Name": "No OID"}}
        ],
    }
    with pytest.raises(
        CheckFailed, match=r"\$\.Patients\[0\]\.Organization: no identifier with IDType OID"
    ):
        search.locations(exchange(body, label="PatientSearch.LocationQuery"))


def test_summary_of_another_patient_fails() -> None:
    where = Location("1.2.3", "Org", (("MRN-1", "1.2.3.2"),))
    body: dict[str, Any] = {
        "Meta": {},
        "Header": {
            "Document": {"ID": "d"},
            "Patient": {"Identifiers": [{"ID": "MRN-2", "IDType": "1.2.3.2"}]},
        },
    }
    with pytest.raises(CheckFailed, match="the summary is of another patient"):
        documents.summary(exchange(body, label="Clinical Summary.PatientQuery"), where)
    # the same identifier with another IDType is another patient's too
    body["Header"]["Patient"]["Identifiers"] = [{"ID": "MRN-1", "IDType": "1.2.3.9"}]
    with pytest.raises(CheckFailed, match="the summary is of another patient"):
        documents.summary(exchange(body, label="Clinical Summary.PatientQuery"), where)


def test_summary_of_the_patient_passes_in_any_order_with_nulls() -> None:
    where = Location("1.2.3", "Org", (("MRN-1", "1.2.3.2"), ("E-7", "1.2.3.4")))
    identifiers = [
        {"ID": None, "IDType": None},
        {"ID": "X-1", "IDType": "1.2.3.5"},
        {"IDType": "1.2.3.2", "ID": "MRN-1", "Type": None},
    ]
    body = {
        "Meta": {},
        "Header": {"Document": {"ID": "d"}, "Patient": {"Identifiers": identifiers}},
    }
    header = documents.summary(exchange(body, label="Clinical Summary.PatientQuery"), where)
    assert header["Document"]["ID"] == "d"


def test_empty_document_list_fails() -> None:
    body = {
        "Meta": {"DataModel": "Clinical Summary", "EventType": "DocumentQuery"},
        "Documents": [],
    }
    with pytest.raises(CheckFailed, match="the document list is empty"):
        documents.listed(exchange(body, label="ClinicalSummary.DocumentQuery"))


def test_bad_test_patient_file_names_the_place_not_the_person(tmp_path: Path) -> None:
    path = tmp_path / "patients.yaml"
    path.write_text(
        "test patient 1:\n  Demographics: {FirstName: Secretname, LastName: X, DOB: 01/02/1990}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_patients(path)
    assert "test patient 1.Demographics.DOB" in str(caught.value)
    assert "Secretname" not in str(caught.value) and "01/02/1990" not in str(caught.value)


def test_unknown_alias_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="no test patient 'patient 9'.*'test patient 1'"):
        patient(PATIENTS, "patient 9")


@pytest.mark.parametrize(
    ("carequality", "expected"),
    [
        (
            {"user_id": "x", "sender_oid": "1.2.3.4"},
            "carequality.sender_oid: 1.2.3.4 is not a configured",
        ),
        ({"user_id": "x", "user_role": {"code": "doctor"}}, "carequality.user_role.code"),
        ({}, "carequality: 'user_id' is a required property"),
    ],
)
def test_carequality_settings_are_validated(
    tmp_path: Path, carequality: dict, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        settings_for(tmp_path, carequality=carequality)


def search_answer(body: dict[str, Any]) -> Exchange:
    return exchange(
        {"Meta": {"DataModel": "PatientSearch", "EventType": "Query"}, **body},
        label="PatientSearch.Query",
    )


def test_a_match_for_someone_who_does_not_exist_fails() -> None:
    nobody = patient(PATIENTS, "unknown patient")
    search.no_match(search_answer({"Patient": {}}), nobody)
    with pytest.raises(CheckFailed, match="a patient matched who does not exist"):
        search.no_match(
            search_answer({"Patient": {"Identifiers": [{"ID": "1", "IDType": "x"}]}}), nobody
        )


def test_potential_matches_are_not_one_patient() -> None:
    answer = search_answer(
        {"Patient": {}, "PotentialMatches": [{"Identifiers": []}, {"Identifiers": []}]}
    )
    with pytest.raises(CheckFailed, match="2 potential matches and no single patient"):
        search.matched(answer)


def test_match_within_an_organization_needs_its_identifiers() -> None:
    where = Location("1.2.3", "Org", (("MRN-1", "1.2.3.2"),))
    located = Located(patient(PATIENTS, "test patient 1"), {}, (where,))
    search.matched_at(
        search_answer({"Patient": {"Identifiers": [{"ID": "MRN-1", "IDType": "1.2.3.2"}]}}),
        located,
    )
    with pytest.raises(CheckFailed, match="none of the identifiers the record locator listed"):
        search.matched_at(
            search_answer({"Patient": {"Identifiers": [{"ID": "MRN-9", "IDType": "1.2.3.2"}]}}),
            located,
        )


def test_metadata_carried_check_fails_on_other_metadata(test_settings: Settings) -> None:
    expected = carequality_extensions(test_settings)
    sent = search.demographics_query(test_settings, patient(PATIENTS, "test patient 1"))
    good = Exchange("PatientSearch.Query", "POST", "u", {}, sent, "t")
    rules.carried_metadata([good], expected)
    tampered = copy.deepcopy(sent)
    tampered["Meta"]["Extensions"]["user-id"]["string"] = "Someone Else"
    with pytest.raises(CheckFailed, match=r"\$\.Meta\.Extensions: not the environment's metadata"):
        rules.carried_metadata(
            [Exchange("PatientSearch.Query", "POST", "u", {}, tampered, "t")], expected
        )
    with pytest.raises(CheckFailed, match="no Carequality request was sent"):
        rules.carried_metadata([], expected)


def test_no_documents_check_needs_redox_no_documents_answer() -> None:
    walter = patient(PATIENTS, "test patient without documents")
    documents.expect_no_documents(exchange({"Meta": {"Errors": [{"Text": NO_DOCUMENTS}]}}), walter)
    with pytest.raises(CheckFailed, match="expected Redox's 'no documents' answer, got HTTP 200"):
        documents.expect_no_documents(exchange({"Meta": {}, "Documents": []}), walter)
    with pytest.raises(CheckFailed, match="expected Redox's 'no documents' answer, got HTTP 500"):
        documents.expect_no_documents(exchange({"Meta": {}}, status=500), walter)


def test_summary_without_a_document_fails() -> None:
    where = Location("1.2.3", "Org", (("MRN-1", "1.2.3.2"),))
    with pytest.raises(
        CheckFailed, match=r"\$\.Header\.Document\.ID: the summary names no document"
    ):
        documents.summary(
            exchange({"Meta": {}, "Header": {}}, label="Clinical Summary.PatientQuery"), where
        )
