"""The simulator answers as Redox documents, for good and bad input alike."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from techval.core.config import Settings
from techval.simulator import RunningSimulator, Simulator, provision
from techval.simulator.acceptance import REQUIRED
from techval.simulator.app import NO_SUBSCRIPTION
from techval.simulator.faults import named
from techval.validation import organization
from tests.helpers import in_process_client, settings_for

HEALTH_SYSTEM, HARNESS = "Simulated Health System", "Harness Test Clinic"


def post(simulator: Simulator, body: Any, token: str | None = "valid") -> tuple[int, Any]:
    if token == "valid":
        token = simulator.tokens._issue(300)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = simulator.handle("POST", "/endpoint", headers, raw)
    try:
        return reply.status, json.loads(reply.body)
    except ValueError:
        return reply.status, reply.body.decode()


def errors(document: dict[str, Any]) -> list[str]:
    return [e["Text"] for e in document["Meta"]["Errors"]]


def test_endpoint_needs_a_valid_token(simulator: Simulator, test_settings: Settings) -> None:
    message = organization.query_message(test_settings, "1.2.3")
    assert post(simulator, message, token=None) == (401, "Unauthorized")
    assert post(simulator, message, token="forged")[0] == 401


def test_malformed_and_schema_breaking_messages_get_400(
    simulator: Simulator, test_settings: Settings
) -> None:
    status, body = post(simulator, b"{not json")
    assert status == 400 and errors(body) == ["Request body is not valid JSON"]
    message = organization.new_message(test_settings, test_settings.organizations[0])
    del message["Organizations"][0]["Name"]
    status, body = post(simulator, message)
    assert status == 400
    assert errors(body) == ["Required field missing - Organizations[0].Name in Organization:New"]


def test_unknown_destination_has_no_subscription(
    simulator: Simulator, test_settings: Settings
) -> None:
    message = organization.query_message(test_settings, "1.2.3")
    message["Meta"]["Destinations"] = [{"ID": "00000000-0000-4000-8000-000000000000"}]
    status, body = post(simulator, message)
    assert status == 400 and errors(body)[0].startswith(NO_SUBSCRIPTION)
    message["Meta"]["Destinations"] = [{"ID": test_settings.destinations["patient_search"]}]
    assert post(simulator, message)[0] == 400  # subscribed, but not to Organization.Query


def test_queries_take_one_destination(simulator: Simulator, test_settings: Settings) -> None:
    message = organization.query_message(test_settings, "1.2.3")
    message["Meta"]["Destinations"] *= 2
    status, body = post(simulator, message)
    assert status == 400 and "only support one destination" in errors(body)[0]


def test_directory_lifecycle_with_documented_answers(
    simulator: Simulator, test_settings: Settings
) -> None:
    profile = test_settings.organizations[0]
    new = organization.new_message(test_settings, profile)
    status, body = post(simulator, new)
    assert status == 200 and body["Meta"]["Logs"][0]["ID"]
    assert body["Meta"]["Destinations"][0]["Name"] == "Carequality Organization Directory"
    status, body = post(simulator, new)
    assert (status, errors(body)) == (403, [f"{profile.oid} already exists."])

    post(simulator, organization.update_message(test_settings, profile, active=False))
    status, body = post(simulator, organization.query_message(test_settings, profile.oid))
    assert status == 200 and body["Organizations"][0]["Active"] is False
    assert body["Meta"]["EventType"] == "Query"  # Redox echoes the request's event type
    assert body["Paging"] == {"Count": 1, "Index": 0}


def test_update_of_unknown_oid_is_not_valid(simulator: Simulator, test_settings: Settings) -> None:
    profile = test_settings.organizations[0]
    status, body = post(simulator, organization.update_message(test_settings, profile))
    assert (status, errors(body)) == (403, [f"id: {profile.oid} is not valid."])


def test_record_without_type_cannot_be_parsed(
    simulator: Simulator, test_settings: Settings
) -> None:
    message = organization.new_message(test_settings, test_settings.organizations[0])
    message["Organizations"][0]["Type"] = {"System": None, "Value": None}
    status, body = post(simulator, message)
    assert (status, errors(body)) == (403, ["Failed to parse request body as XML resource."])


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ({"NameSearch": {"Value": "redox"}}, ["Redox"]),
        ({"State": "WI"}, ["Redox", HEALTH_SYSTEM, "Simulated Pediatric Clinic", HARNESS]),
        ({"RadiusSearch": {"ZipCode": "53711", "Radius": "25"}}, ["Redox", HEALTH_SYSTEM, HARNESS]),
        ({"State": "CA"}, ["Simulated Senior Care"]),
        ({"State": "TX"}, []),
        ({"State": "WI", "Index": "1", "Limit": "1"}, [HEALTH_SYSTEM]),
    ],
)
def test_query_filters_and_pages(
    simulator: Simulator, test_settings: Settings, search: dict[str, Any], expected: list[str]
) -> None:
    post(simulator, organization.new_message(test_settings, test_settings.organizations[0]))
    message = organization.query_message(test_settings, "1.2.3")
    del message["Identifier"]
    message.update(search)
    status, body = post(simulator, message)
    assert status == 200 and [o["Name"] for o in body["Organizations"]] == expected


def test_token_endpoint_refusals(simulator: Simulator) -> None:
    reply = simulator.handle("POST", "/v2/auth/token", {}, b"grant_type=password")
    assert reply.status == 400 and json.loads(reply.body)["error"] == "invalid_request"
    form = (
        b"grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth"
        b"%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=not.a.jwt"
    )
    reply = simulator.handle("POST", "/v2/auth/token", {}, form)
    assert reply.status == 401 and json.loads(reply.body)["error"] == "invalid_client"


def test_replayed_assertion_is_refused(test_settings: Settings) -> None:
    client = in_process_client(test_settings)
    assertion = client.auth.client_assertion()  # type: ignore[attr-defined]
    simulator = provision(test_settings)
    form = (
        "grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:"
        f"client-assertion-type:jwt-bearer&client_assertion={assertion}"
    ).encode()
    assert simulator.handle("POST", "/v2/auth/token", {}, form).status == 200
    again = simulator.handle("POST", "/v2/auth/token", {}, form)
    assert again.status == 401 and b"jti was already used" in again.body


def test_real_server_answers_413_over_the_limit(test_settings: Settings) -> None:
    simulator = provision(test_settings)
    simulator.max_message_bytes = 2_000
    running = RunningSimulator(simulator).start()
    try:
        token = simulator.tokens._issue(300)
        response = httpx.post(
            f"{running.url}/endpoint",
            content=b"x" * 5_000,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 413
        assert "exceeds the size limit" in response.json()["Meta"]["Errors"][0]["Text"]
        assert httpx.get(f"{running.url}/endpoint").status_code == 404
    finally:
        running.stop()


# -- the simulator's own acceptance, written from the documentation --------------------------

HARNESS_OID = "2.16.840.1.113883.3.6147.458.99999.1.1.1.1"
PATIENT_OID = "2.16.840.1.113883.3.6147.458.99999.1.1.2.1"
PEDIATRIC = "2.16.840.1.113883.3.9999.2"
NETWORK_ID = {"ID": "RLS-5F3A9C-0001", "IDType": "2.16.840.1.113883.3.6147.458.2"}
MRN = {"ID": "MRN-778899", "IDType": "2.16.840.1.113883.3.9999.1.2"}
BY_OID = {"ID": "MRN-778899", "IDType": "2.16.840.1.113883.3.9999.1"}
EXTENSIONS = {
    "organization-name": {"string": HARNESS},
    "sender-organization-id": {"string": HARNESS_OID},
    "user-id": {"string": "Tester, Pat"},
    "user-role": {"coding": {"code": "112247003", "display": "Medical Doctor"}},
    "purpose-of-use": {"coding": {"code": "TREATMENT", "display": "Treatment"}},
}
TIMOTHY = {"FirstName": "Timothy", "LastName": "Bixby", "DOB": "2008-01-06", "Sex": "Male"}
BARBARA = {"FirstName": "Barbara", "LastName": "Bixby", "DOB": "1982-07-24", "Sex": "Female"}


def request(
    settings: Settings,
    purpose: str,
    data_model: str,
    event_type: str,
    facility: str | None = None,
    **body: Any,
) -> dict[str, Any]:
    """A message as the documentation shows it, built here rather than by the harness."""
    meta: dict[str, Any] = {
        "DataModel": data_model,
        "EventType": event_type,
        "Test": True,
        "Destinations": [{"ID": settings.destinations[purpose]}],
    }
    if purpose not in {"organization", "data_on_demand"}:
        meta["Extensions"] = copy.deepcopy(EXTENSIONS)
    if facility:
        meta["FacilityCode"] = facility
    return {"Meta": meta, **copy.deepcopy(body)}


def locate(settings: Settings, identifier: dict[str, str] = NETWORK_ID) -> dict[str, Any]:
    return request(
        settings,
        "patient_search",
        "PatientSearch",
        "LocationQuery",
        Patient={"Identifiers": [identifier]},
    )


def until_success(simulator: Simulator, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every answer to `message`, asked again while task-status is Active."""
    answers = []
    for _ in range(10):
        status, body = post(simulator, message)
        assert status == 200, body
        answers.append(body)
        if body["Meta"]["Extensions"]["task-status"]["string"] != "Active":
            return answers
    raise AssertionError("the record locator never finished")


def documents_of(settings: Settings, facility: str, identifier: dict[str, str]) -> dict[str, Any]:
    return request(
        settings,
        "clinical_summary",
        "Clinical Summary",
        "DocumentQuery",
        facility,
        Patient={"Identifiers": [identifier]},
    )


@pytest.mark.parametrize(
    ("purpose", "data_model", "event_type", "body", "expected"),
    [
        (
            "patient_search",
            "PatientSearch",
            "LocationQuery",
            {"Patient": {"Identifiers": [{"ID": "RLS-1"}]}},
            "Patient.Identifiers[0].IDType in PatientSearch:LocationQuery",
        ),
        (
            "patient_search",
            "PatientSearch",
            "LocationQuery",
            {"Patient": {}},
            "Patient.Identifiers in PatientSearch:LocationQuery",
        ),
        (
            "clinical_summary",
            "Clinical Summary",
            "DocumentQuery",
            {},
            "Patient in Clinical Summary:DocumentQuery",
        ),
        (
            "clinical_summary",
            "Clinical Summary",
            "DocumentGet",
            {"Document": {"ID": None}},
            "Document.ID in Clinical Summary:DocumentGet",
        ),
        (
            "clinical_summary",
            "Clinical Summary",
            "PatientQuery",
            {"Patient": {"Identifiers": [{"IDType": "1.2.3"}]}},
            "Patient.Identifiers[0].ID in Clinical Summary:PatientQuery",
        ),
        (
            "data_on_demand",
            "PatientAdmin",
            "PatientMerge",
            {"Patient": {"Identifiers": [{"ID": "techval-x", "IDType": PATIENT_OID}]}},
            "Patient.PreviousIdentifiers in PatientAdmin:PatientMerge",
        ),
        (
            "data_on_demand",
            "PatientAdmin",
            "NewPatient",
            {"Patient": {"Demographics": {"FirstName": "Timothy"}}},
            "Patient.Identifiers in PatientAdmin:NewPatient",
        ),
        (
            "organization",
            "Organization",
            "Update",
            {"Directory": "Carequality", "Organizations": [{"Name": "X", "Active": True}]},
            "Action in Organization:Update",
        ),
        (
            "organization",
            "Organization",
            "Query",
            {"Identifier": {"ID": "1.2.3", "IDType": "OID"}},
            "Directory in Organization:Query",
        ),
    ],
)
def test_a_missing_documented_required_field_is_refused_naming_it(
    simulator: Simulator,
    test_settings: Settings,
    purpose: str,
    data_model: str,
    event_type: str,
    body: dict[str, Any],
    expected: str,
) -> None:
    status, answer = post(
        simulator, request(test_settings, purpose, data_model, event_type, **body)
    )
    assert status == 400
    assert errors(answer) == [f"Required field missing - {expected}"]
    assert "Timothy" not in json.dumps(answer)  # no patient data in refusals


def test_a_required_field_of_the_wrong_type_is_refused(
    simulator: Simulator, test_settings: Settings
) -> None:
    message = request(
        test_settings,
        "organization",
        "Organization",
        "New",
        Directory="Carequality",
        Organizations=[{"Name": "", "Active": "yes"}],
    )
    status, answer = post(simulator, message)
    assert status == 400
    assert errors(answer) == [
        "Invalid value - Organizations[0].Active must be a non-empty boolean in Organization:New",
        "Invalid value - Organizations[0].Name must be a non-empty string in Organization:New",
    ]


def test_every_routed_event_has_its_documented_required_fields() -> None:
    assert {(m, e) for _, m, e in Simulator({}).routes} <= set(REQUIRED)


def test_the_simulator_does_not_use_the_harness_schemas(
    simulator: Simulator, test_settings: Settings
) -> None:
    """Only documented required fields are refused; an optional field of another shape than
    the harness's schema allows is Redox's business, not a refusal."""
    message = locate(test_settings)
    message["Patient"]["Notes"] = ["anything"]
    assert post(simulator, message)[0] == 200


@pytest.mark.parametrize("key", list(EXTENSIONS))
def test_a_missing_carequality_extension_is_401_naming_it(
    simulator: Simulator, test_settings: Settings, key: str
) -> None:
    for purpose, event in (
        ("patient_search", "Query"),
        ("patient_search", "LocationQuery"),
        ("organization_patient_search", "Query"),
    ):
        message = request(test_settings, purpose, "PatientSearch", event, PEDIATRIC)
        message["Patient"] = {"Demographics": TIMOTHY, "Identifiers": [NETWORK_ID]}
        del message["Meta"]["Extensions"][key]
        status, answer = post(simulator, message)
        assert status == 401
        assert errors(answer) == [
            f"Unauthorized: Carequality metadata missing - Meta.Extensions.{key}"
        ]
    message = documents_of(test_settings, PEDIATRIC, MRN)
    message["Meta"]["Extensions"][key] = {"string": "  "}
    assert post(simulator, message)[0] == 401


def test_carequality_metadata_in_either_documented_shape_is_accepted(
    simulator: Simulator, test_settings: Settings
) -> None:
    message = locate(test_settings)
    message["Meta"]["Extensions"]["purpose-of-use"] = {"string": "TREATMENT"}  # 10.7
    assert post(simulator, message)[0] == 200
    message["Meta"]["Extensions"]["sender-organization-id"] = {"string": "My Clinic"}
    status, answer = post(simulator, message)
    assert status == 401
    assert errors(answer) == ["Unauthorized: Meta.Extensions.sender-organization-id is not an OID"]


def test_messages_over_40_mb_are_refused_in_process(test_settings: Settings) -> None:
    simulator = provision(test_settings)
    assert simulator.max_message_bytes == 40_000_000
    simulator.max_message_bytes = 1_000
    message = locate(test_settings)
    message["Patient"]["Notes"] = ["x" * 2_000]
    status, answer = post(simulator, message)
    assert status == 413 and "exceeds the size limit of 0.001 MB" in errors(answer)[0]


# -- answers shaped as Redox's published examples --------------------------------------------


@pytest.mark.parametrize("active", [0, 1, 3])
def test_location_query_is_active_n_times_then_success(tmp_path: Path, active: int) -> None:
    settings = settings_for(
        tmp_path, simulator={"start": True, "port": 0, "location_query_active": active}
    )
    simulator = provision(settings)
    assert simulator.location_query_active == active
    answers = until_success(simulator, locate(settings))
    statuses = [a["Meta"]["Extensions"]["task-status"] for a in answers]
    assert [s["string"] for s in statuses] == ["Active"] * active + ["Success"]
    assert {s["url"] for s in statuses} == {"https://api.redoxengine.com/extensions/task-status"}
    counts = [len(a["Patients"]) for a in answers]
    assert counts[-1] == 2 and all(c < 2 for c in counts[:-1])  # none or part while Active
    if active:
        assert counts[0] == 0
    for answer in answers:  # the Carequality metadata stays alongside task-status
        assert set(answer["Meta"]["Extensions"]) == {*EXTENSIONS, "task-status"}
        assert "Message" not in answer["Meta"] and "Transmission" not in answer["Meta"]
    # once it succeeded, the same query keeps answering Success
    assert len(until_success(simulator, locate(settings))) == 1


def test_location_query_fans_out_per_patient_identifier(
    simulator: Simulator, test_settings: Settings
) -> None:
    first = post(simulator, locate(test_settings))[1]
    other = post(simulator, locate(test_settings, {**NETWORK_ID, "ID": "RLS-5F3A9C-0002"}))[1]
    assert first["Meta"]["Extensions"]["task-status"]["string"] == "Active"
    assert other["Meta"]["Extensions"]["task-status"]["string"] == "Active"
    wrong_type = until_success(simulator, locate(test_settings, {**NETWORK_ID, "IDType": "MR"}))
    assert wrong_type[-1]["Patients"] == []  # the network ID is an ID *and* its IDType


def test_location_identifiers_list_the_organization_oid_one_not_first(
    simulator: Simulator, test_settings: Settings
) -> None:
    (answer,) = until_success(simulator, locate(test_settings))[-1:]
    for entry in answer["Patients"]:
        oid = entry["Organization"]["Identifiers"][0]["ID"]
        types = [i["IDType"] for i in entry["Identifiers"]]
        assert oid in types and types[0] != oid
    assert answer["Patients"][0]["Identifiers"] == [MRN, BY_OID]


@pytest.mark.parametrize("identifier", [MRN, BY_OID])
def test_either_listed_identifier_is_accepted_later(
    simulator: Simulator, test_settings: Settings, identifier: dict[str, str]
) -> None:
    facility = "2.16.840.1.113883.3.9999.1"
    status, listed = post(simulator, documents_of(test_settings, facility, identifier))
    assert status == 200 and [d["ID"] for d in listed["Documents"]] == [
        "2.16.840.1.113883.3.9999.1.3^doc-0001"
    ]
    summary = documents_of(test_settings, facility, identifier)
    summary["Meta"]["EventType"] = "PatientQuery"
    status, body = post(simulator, summary)
    assert status == 200 and body["Header"]["Patient"]["Identifiers"] == [MRN, BY_OID]
    search = request(
        test_settings,
        "organization_patient_search",
        "PatientSearch",
        "Query",
        facility,
        Patient={"Identifiers": [identifier]},
    )
    status, body = post(simulator, search)
    assert status == 200 and body["Patient"]["Identifiers"] == [MRN, BY_OID]
    status, body = post(simulator, documents_of(test_settings, PEDIATRIC, identifier))
    assert status == 404  # another organization's identifier


def test_search_answers_carry_explicit_nulls(simulator: Simulator, test_settings: Settings) -> None:
    message = request(
        test_settings, "patient_search", "PatientSearch", "Query", Patient={"Demographics": BARBARA}
    )
    status, body = post(simulator, message)
    assert status == 200
    demographics = body["Patient"]["Demographics"]
    assert demographics["PhoneNumber"] == {
        "Home": "+18088675303",
        "Office": None,
        "Mobile": "+19189368865",
    }
    assert demographics["MiddleName"] is None and demographics["SSN"] is None
    assert demographics["Address"]["County"] == "Green" and demographics["EmailAddresses"] == []
    assert body["PotentialMatches"] == [] and body["Meta"]["IsIncomplete"] is False
    assert body["Patient"]["Identifiers"] == [{"ID": "RLS-5F3A9C-0002", **_gateway()}]


def _gateway() -> dict[str, str]:
    return {"IDType": NETWORK_ID["IDType"]}


def test_location_and_document_answers_carry_explicit_nulls(
    simulator: Simulator, test_settings: Settings
) -> None:
    organization = until_success(simulator, locate(test_settings))[-1]["Patients"][0][
        "Organization"
    ]
    assert organization["Address"]["County"] is None
    assert organization["Contacts"][0]["EmailAddresses"] == [
        "interop@shs.example",
        "it@shs.example",
    ]
    assert organization["Contacts"][1]["PhoneNumber"] == {
        "Home": None,
        "Work": "+16085550199",
        "Mobile": None,
    }
    facility = "2.16.840.1.113883.3.9999.1"
    (document,) = post(simulator, documents_of(test_settings, facility, MRN))[1]["Documents"]
    assert document["Author"]["ID"] is None and document["Author"]["Credentials"] == []
    assert document["Visit"] == {"ID": None, "StartDateTime": None, "EndDateTime": None}
    assert document["Location"] == {"Department": None}
    assert document["Type"]["Codeset"] == "http://hl7.org/fhir/ValueSet/c80-doc-typecodes"
    summary = documents_of(test_settings, facility, MRN)
    summary["Meta"]["EventType"] = "PatientQuery"
    header = post(simulator, summary)[1]["Header"]
    assert header["Patient"]["Demographics"]["MiddleName"] == "Paul"
    assert header["Patient"]["Demographics"]["PhoneNumber"] == {
        "Home": "+18088675301",
        "Mobile": None,
    }
    assert header["Document"]["Author"]["FirstName"] is None and header["PCP"]["ID"] is None


def test_document_get_file_type_is_a_mime_type(
    simulator: Simulator, test_settings: Settings
) -> None:
    message = request(
        test_settings,
        "clinical_summary",
        "Clinical Summary",
        "DocumentGet",
        "2.16.840.1.113883.3.9999.1",
        Document={"ID": "2.16.840.1.113883.3.9999.1.3^doc-0001"},
    )
    status, body = post(simulator, message)
    assert status == 200 and body["FileType"] == "text/xml"
    assert body["Data"].lstrip().startswith("<?xml")


def test_directory_answers_nulls_numbers_and_lists_in_another_order(
    simulator: Simulator, test_settings: Settings
) -> None:
    message = request(
        test_settings,
        "organization",
        "Organization",
        "Query",
        Directory="Carequality",
        Identifier={"ID": "2.16.840.1.113883.3.9999.1", "IDType": "OID"},
        Limit="20",  # a string, as in Redox's example (10.4)
        Index="0",
    )
    status, body = post(simulator, message)
    assert status == 200 and body["Paging"] == {"Count": 1, "Index": 0}
    (record,) = body["Organizations"]
    assert record["ManagingOrg"] is None and record["PartOf"]["Identifier"]["Value"] is None
    assert [c["Purpose"] for c in record["Contacts"]] == ["Administrative", "Technical"]
    assert record["Contacts"][1]["EmailAddresses"] == ["it@shs.example", "interop@shs.example"]
    assert record["Contacts"][0]["EmailAddresses"] == []
    assert "Endpoints" not in record and "DestinationID" not in record


def test_deprecated_meta_is_not_echoed(simulator: Simulator, test_settings: Settings) -> None:
    message = locate(test_settings)
    message["Meta"]["Message"] = {"ID": 41962259}
    message["Meta"]["Transmission"] = {"ID": 1}
    meta = post(simulator, message)[1]["Meta"]
    assert "Message" not in meta and "Transmission" not in meta and meta["Logs"][0]["ID"]


def _push(settings: Settings, event_type: str, **body: Any) -> dict[str, Any]:
    return request(settings, "data_on_demand", "PatientAdmin", event_type, **body)


PUSHED_IDS = [{"ID": "techval-x", "IDType": PATIENT_OID}, {"ID": "0000000002", "IDType": "MR"}]


def _repository_search(simulator: Simulator, settings: Settings) -> dict[str, Any]:
    message = request(
        settings,
        "organization_patient_search",
        "PatientSearch",
        "Query",
        HARNESS_OID,
        Patient={"Identifiers": [PUSHED_IDS[0]]},
    )
    status, body = post(simulator, message)
    assert status == 200
    return body


def test_repository_answers_pushed_identifiers_in_another_order(
    simulator: Simulator, test_settings: Settings
) -> None:
    simulator.repository.delay = 0
    pushed = _push(
        test_settings, "NewPatient", Patient={"Identifiers": PUSHED_IDS, "Demographics": BARBARA}
    )
    assert post(simulator, pushed)[0] == 200
    body = _repository_search(simulator, test_settings)
    assert body["Patient"]["Identifiers"] == list(reversed(PUSHED_IDS))
    assert body["Patient"]["Demographics"]["PhoneNumber"] == {
        "Home": None,
        "Office": None,
        "Mobile": None,
    }


# -- the new faults --------------------------------------------------------------------------


def test_location_query_error_fault(simulator: Simulator, test_settings: Settings) -> None:
    simulator.faults.append(named("location_query_error"))
    status, body = post(simulator, locate(test_settings))
    assert status == 200 and body["Patients"] == []
    assert body["Meta"]["Extensions"]["task-status"]["string"] == "Error"
    assert "user-id" in body["Meta"]["Extensions"]
    assert post(simulator, locate(test_settings))[1]["Patients"] == []  # it never recovers


def test_ignores_patient_updates_fault(simulator: Simulator, test_settings: Settings) -> None:
    simulator.repository.delay = 0
    new = _push(
        test_settings, "NewPatient", Patient={"Identifiers": PUSHED_IDS, "Demographics": BARBARA}
    )
    update = _push(
        test_settings,
        "PatientUpdate",
        Patient={
            "Identifiers": PUSHED_IDS,
            "Demographics": {**BARBARA, "PhoneNumber": {"Mobile": "+16085550123"}},
        },
    )
    simulator.faults.append(named("ignores_patient_updates"))
    assert post(simulator, new)[0] == 200
    status, ack = post(simulator, update)
    assert status == 200 and ack["Meta"]["Logs"][0]["ID"]  # acknowledged as Redox does
    assert ack["Meta"]["Destinations"][0]["Name"] == "Redox Data On Demand Repository"
    mobile = _repository_search(simulator, test_settings)["Patient"]["Demographics"]
    assert mobile["PhoneNumber"]["Mobile"] is None  # ... and not applied
    del update["Patient"]["Identifiers"]
    assert post(simulator, update)[0] == 400  # still checked like any push
    simulator.faults.clear()
    update["Patient"]["Identifiers"] = PUSHED_IDS
    assert post(simulator, update)[0] == 200
    mobile = _repository_search(simulator, test_settings)["Patient"]["Demographics"]
    assert mobile["PhoneNumber"]["Mobile"] == "+16085550123"  # without the fault it is applied


def test_answers_conform_to_redox_own_models(simulator: Simulator, test_settings: Settings) -> None:
    """Redox's schema bundle, as the `redox` package models it (redox-api.md 10.2), takes every
    answer: an oracle neither the simulator nor the harness wrote."""
    redox_models = pytest.importorskip("redox.abstract_base")
    from redox.clinicalsummary.documentgetresponse import DocumentGetResponse
    from redox.clinicalsummary.documentqueryresponse import DocumentQueryResponse
    from redox.clinicalsummary.patientqueryresponse import PatientQueryResponse
    from redox.organization.queryresponse import QueryResponse
    from redox.patientsearch.locationqueryresponse import LocationQueryResponse
    from redox.patientsearch.response import Response

    assert redox_models
    facility = "2.16.840.1.113883.3.9999.1"
    summary = documents_of(test_settings, facility, BY_OID)
    summary["Meta"]["EventType"] = "PatientQuery"
    get = request(
        test_settings,
        "clinical_summary",
        "Clinical Summary",
        "DocumentGet",
        facility,
        Document={"ID": "2.16.840.1.113883.3.9999.1.3^doc-0001"},
    )
    directory = request(
        test_settings, "organization", "Organization", "Query", Directory="Carequality"
    )
    search = request(
        test_settings, "patient_search", "PatientSearch", "Query", Patient={"Demographics": TIMOTHY}
    )
    answers: list[tuple[type[Any], dict[str, Any]]] = [
        (LocationQueryResponse, until_success(simulator, locate(test_settings))[-1]),
        (LocationQueryResponse, post(simulator, locate(test_settings))[1]),  # Active
        (Response, post(simulator, search)[1]),
        (QueryResponse, post(simulator, directory)[1]),
        (DocumentQueryResponse, post(simulator, documents_of(test_settings, facility, MRN))[1]),
        (PatientQueryResponse, post(simulator, summary)[1]),
        (DocumentGetResponse, post(simulator, get)[1]),
    ]
    for model, body in answers:
        model.model_validate(body)


def test_repository_renders_the_pushed_visit_summary(
    simulator: Simulator, test_settings: Settings
) -> None:
    pytest.importorskip("redox")
    from redox.clinicalsummary.documentqueryresponse import DocumentQueryResponse
    from redox.clinicalsummary.patientqueryresponse import PatientQueryResponse

    simulator.repository.delay = 0
    document_id = "2.16.840.1.113883.3.6147.458.99999.1.1.3.1^techval-doc-1"
    visit = request(
        test_settings,
        "data_on_demand",
        "Clinical Summary",
        "VisitPush",
        Header={
            "Document": {
                "ID": document_id,
                "Title": "Visit Summary",
                "DateTime": "2026-01-01T15:00:00.000Z",
                "TypeCode": {"Code": "34133-9", "Name": "Summarization of Episode Note"},
                "Author": {"ID": "4356789876", "IDType": "NPI", "LastName": "Granite"},
                "Visit": {"VisitNumber": "1234", "Location": {"Department": "Clinic"}},
            },
            "Patient": {"Identifiers": list(reversed(PUSHED_IDS)), "Demographics": TIMOTHY},
        },
        ProblemsText="Seasonal allergic rhinitis & asthma",
    )
    assert post(simulator, visit)[0] == 200
    listed = post(simulator, documents_of(test_settings, HARNESS_OID, PUSHED_IDS[1]))[1]
    DocumentQueryResponse.model_validate(listed)
    (document,) = listed["Documents"]
    assert document["ID"] == document_id and document["Author"]["IDType"] == "NPI"
    assert document["Visit"]["ID"] == "1234" and document["Location"]["Department"] == "Clinic"
    summary = documents_of(test_settings, HARNESS_OID, PUSHED_IDS[0])
    summary["Meta"]["EventType"] = "PatientQuery"
    body = post(simulator, summary)[1]
    PatientQueryResponse.model_validate(body)
    assert body["ProblemsText"] == "Seasonal allergic rhinitis & asthma"
    assert body["Header"]["Patient"]["Identifiers"] == PUSHED_IDS  # pushed reversed, answered not
    get = request(
        test_settings,
        "clinical_summary",
        "Clinical Summary",
        "DocumentGet",
        HARNESS_OID,
        Document={"ID": document_id},
    )
    cda = post(simulator, get)[1]["Data"]
    root = ET.fromstring(cda)
    v3 = "{urn:hl7-org:v3}"
    patient_id = root.find(f"{v3}recordTarget/{v3}patientRole/{v3}id")
    assert patient_id is not None and patient_id.get("root") == PATIENT_OID  # not the first one
    assert "Seasonal allergic rhinitis &amp; asthma" in cda
    assert root.find(f"{v3}custodian//{v3}name").text == HARNESS  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "name", ["slow:-1", "slow:nan", "slow:inf", "silent_after:²", "silent_after:"]
)
def test_a_fault_argument_out_of_range_is_refused_by_name(name: str) -> None:
    with pytest.raises(ValueError, match=f"fault {re.escape(repr(name))}: expected"):
        named(name)


def test_an_unknown_fault_lists_the_ones_with_arguments_too() -> None:
    with pytest.raises(ValueError, match="slow:SECONDS, silent_after:N, token_refused_after:N"):
        named("nope")


def test_the_request_log_keeps_only_the_latest_requests() -> None:
    from techval.simulator.app import CAPTURED

    sim = Simulator({})
    for number in range(CAPTURED + 5):
        sim.handle("GET", f"/nothing/{number}", {}, b"")
    assert len(sim.captured) == CAPTURED
    assert sim.captured[0].path == "/nothing/5"
    assert sim.captured[-1].path == f"/nothing/{CAPTURED + 4}"


def test_a_route_two_modules_claim_is_refused() -> None:
    from techval.simulator.routes import Routes, merged

    first, second = Routes(), Routes()
    for table in (first, second):
        table.handles("organization", "Organization", "New")(lambda sim, message, name: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(
        ValueError, match=r"claimed twice: \[\"\('organization', 'Organization', 'New'\)\"\]"
    ):
        merged(first, second)
