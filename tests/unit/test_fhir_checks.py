"""The FHIR checks of patient search, documents and your repository, each fed a nonconforming
answer (or test data that does not fit) and seen to fail with its kind of not-passing and a
message naming what was observed: against the simulator's FHIR routes in process, with an
ad hoc fault, or with a hand-built answer."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from techval.core.errors import (
    CheckFailed,
    NotFound,
    ReadbackMismatch,
    SchemaMismatch,
    TestDataMismatch,
    WrongContent,
)
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.simulator import Simulator, provision
from techval.simulator.faults import Fault, named
from techval.simulator.fhir_faults import SEARCH, edit_fhir, on_fhir
from techval.validation import checks, dod
from techval.validation.apis import for_settings
from techval.validation.fhir.documents import FhirDocuments
from techval.validation.fhir.organization import FhirDirectory
from techval.validation.fhir.paging import Walk
from techval.validation.fhir.repository import listed_as_sent
from techval.validation.fhir.search import FhirPatientSearch
from techval.validation.located import Located
from techval.validation.patients import TestPatient, load_patients, patient
from tests.helpers import RecordingClient, in_process_client, settings_for
from tests.unit.test_fhir_write_answers import write_all

ONE = "test patient 1"


def simulated(tmp_path: Path, *faults: Fault) -> tuple[Any, RecordingClient, Simulator]:
    settings = settings_for(tmp_path, api="fhir")
    simulator = provision(settings)
    simulator.repository.delay = 0
    simulator.faults.extend(faults)
    return settings, in_process_client(settings, simulator), simulator


def person(settings: Any, alias: str = ONE) -> TestPatient:
    return load_patients(settings.test_patients)[alias]


def searchset(label: str, *resources: dict[str, Any], url: str = "http://x/") -> Exchange:
    """A searchset answer as the client records it."""
    return Exchange(
        label=label,
        method="POST",
        url=url,
        request_headers={},
        request_body=None,
        started_at="",
        status=200,
        response_body={
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(resources),
            "entry": [{"resource": r} for r in resources],
        },
    )


def a_patient(pid: str, *identifiers: tuple[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": f"urn:oid:{oid}", "value": value} for value, oid in identifiers],
    }


# -- validation/fhir/search.py ----------------------------------------------------------------


def test_several_patients_answered_are_a_test_data_mismatch_naming_alias_and_key(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, api="fhir")
    two = searchset(
        "Patient search", a_patient("p1", ("M1", "1.2.3")), a_patient("p2", ("M2", "1.2.3"))
    )
    with pytest.raises(TestDataMismatch) as mismatch:
        FhirPatientSearch(settings).matched([two], person(settings))
    assert (mismatch.value.alias, mismatch.value.key) == (ONE, "Demographics")
    assert "Patient search answered 2 patients: several people at this organization" in str(
        mismatch.value.msg
    )


def located_patient(
    tmp_path: Path,
) -> tuple[Simulator, RecordingClient, FhirPatientSearch, Located]:
    settings, client, simulator = simulated(tmp_path)
    search = FhirPatientSearch(settings)
    located = search.locate(client, Reporter(client.redactor), person(settings))
    return simulator, client, search, located


def test_no_match_at_the_chosen_organization_is_not_found(tmp_path: Path) -> None:
    simulator, client, search, located = located_patient(tmp_path)
    search.matched_at(search.narrow(client, located), located)  # conforming: found again
    simulator.faults.append(on_fhir("Patient", SEARCH, edit_fhir(empty)))
    with pytest.raises(NotFound) as failure:
        search.matched_at(search.narrow(client, located), located)
    assert str(failure.value) == (
        "Patient search: no match within the organization that holds records"
    )


def empty(body: dict[str, Any]) -> None:
    body.update(entry=[], total=0)


def test_a_match_without_the_located_identifiers_is_wrong_content(tmp_path: Path) -> None:
    _, client, search, located = located_patient(tmp_path)
    answered = search.narrow(client, located).pages[0]
    other = a_patient(str(located.chosen.patient_id), ("someone-else", "9.9.9"))
    with pytest.raises(WrongContent) as failure:
        search.matched_at(Walk([replace(answered, response_body=bundle_of(other))]), located)
    assert str(failure.value) == (
        "Patient search: $.entry[].resource.identifier: none of the identifiers the patient "
        "was located with at this organization"
    )


def bundle_of(*resources: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = searchset("", *resources).response_body
    return body


def test_a_patient_without_zip_nor_organization_is_a_test_data_mismatch(tmp_path: Path) -> None:
    settings, client, _ = simulated(tmp_path)
    someone = person(settings)
    someone = replace(someone, demographics=dict(someone.demographics, Address={}))
    with pytest.raises(TestDataMismatch) as mismatch:
        FhirPatientSearch(settings).organizations(client, someone)
    assert (mismatch.value.alias, mismatch.value.key) == (ONE, "Demographics")
    assert "no Address.ZIP to search the directory near, and no organization named" in str(
        mismatch.value.msg
    )
    assert not client.exchanges  # nothing asked of the directory


def test_a_directory_with_nothing_near_the_zip_is_not_found(tmp_path: Path) -> None:
    settings, client, _ = simulated(tmp_path)
    someone = person(settings)
    far = dict(someone.demographics["Address"], ZIP="00001")
    someone = replace(someone, demographics=dict(someone.demographics, Address=far))
    with pytest.raises(NotFound) as failure:
        FhirPatientSearch(settings).locate(client, Reporter(client.redactor), someone)
    assert str(failure.value) == (
        f"Organization search: the directory lists no organization near the ZIP of {ONE!r} "
        "but your own"
    )


def test_no_request_to_a_carequality_organization_fails_the_metadata_check(
    tmp_path: Path,
) -> None:
    settings, client, _ = simulated(tmp_path)
    search = FhirPatientSearch(settings)
    search.organizations(client, person(settings))  # the directory only (ceq-orgs)
    with pytest.raises(CheckFailed) as failure:
        search.carried_metadata(client.exchanges)
    assert str(failure.value) == (
        "no request to a Carequality organization (ceq-xcpd, ceq-xca) was sent in this "
        "scenario; sent: Organization search, token"
    )
    with pytest.raises(CheckFailed, match=r"; sent: nothing$"):
        search.carried_metadata([])


@pytest.mark.parametrize("change", ["missing", "other"])
def test_a_request_without_a_metadata_header_or_with_another_value_fails_naming_it(
    tmp_path: Path, change: str
) -> None:
    _, client, search, _ = located_patient(tmp_path)
    settings = search.settings
    sent = [e for e in client.exchanges if e.label == "Patient search"]
    search.carried_metadata(sent)  # conforming: every header with its value
    name = next(iter(settings.carequality_headers()))
    headers = {k: v for k, v in sent[0].request_headers.items() if k.lower() != name.lower()}
    if change == "other":
        headers[name] = "someone else"
    with pytest.raises(CheckFailed) as failure:
        search.carried_metadata([replace(sent[0], request_headers=headers)])
    said = "missing" if change == "missing" else "not the environment's value"
    assert str(failure.value) == f"Patient search: header {name}: {said}"


# -- validation/fhir/documents.py -------------------------------------------------------------


def documents_of(
    tmp_path: Path, *faults: Fault
) -> tuple[FhirDocuments, RecordingClient, Located, Walk]:
    """The located test patient's document list at the organization chosen, then `faults`."""
    simulator, client, search, located = located_patient(tmp_path)
    documents = FhirDocuments(search.settings)
    found = documents.search(client, located.chosen)
    simulator.faults.extend(faults)
    return documents, client, located, found


def test_a_listed_document_with_neither_type_nor_category_is_wrong_content(
    tmp_path: Path,
) -> None:
    documents, _, _, found = documents_of(tmp_path)
    assert documents.listed(found)  # conforming
    body = found.pages[0].response_body
    untyped = [
        {k: v for k, v in e["resource"].items() if k not in ("type", "category")}
        for e in body["entry"]
    ]
    page = replace(found.pages[0], response_body=bundle_of(*untyped))
    with pytest.raises(WrongContent) as failure:
        documents.listed(Walk([page]))
    assert str(failure.value) == (
        "DocumentReference search: $.entry[0].resource: no type nor category"
    )


def other_id(body: dict[str, Any]) -> None:
    body["id"] = "another-document"


def test_another_document_read_than_the_one_requested_is_wrong_content(tmp_path: Path) -> None:
    wrong = on_fhir("DocumentReference", {"read"}, edit_fhir(other_id))
    documents, client, located, found = documents_of(tmp_path, wrong)
    wanted = documents.listed(found)[0]
    exchange = documents.retrieve(client, located.chosen, wanted)
    assert exchange.response_body["id"] == "another-document"
    with pytest.raises(WrongContent) as failure:
        documents.retrieved(exchange, wanted)
    assert str(failure.value) == (
        "DocumentReference read: $.id: another document came back than the one requested "
        f"('another-document', not {wanted!r})"
    )


def data_of(text: bytes | str) -> Any:
    def edit(body: dict[str, Any]) -> None:
        for content in body.get("content") or []:
            value = base64.b64encode(text).decode() if isinstance(text, bytes) else text
            content["attachment"]["data"] = value

    return edit


def test_attachment_data_not_base64_is_caught_by_the_read_schema(tmp_path: Path) -> None:
    garbled = on_fhir("DocumentReference", {"read"}, edit_fhir(data_of("<ClinicalDocument/>")))
    documents, client, located, found = documents_of(tmp_path, garbled)
    with pytest.raises(SchemaMismatch, match=r"\$\.content\[0\]\.attachment\.data: is not base64"):
        checks.succeeded(documents.retrieve(client, located.chosen, documents.listed(found)[0]))


@pytest.mark.parametrize(
    "data", [b"\xff\xfe<ClinicalDocument/>", "<ClinicalDocument/> is not base64"]
)
def test_attachment_data_not_base64_of_utf8_is_wrong_content_naming_the_content(
    tmp_path: Path, data: bytes | str
) -> None:
    """Base64 of bytes that are no UTF-8 text passes the schema and is refused by the read
    check; text that is not base64 is refused by it too (the schema aside)."""
    documents, client, located, found = documents_of(tmp_path)
    wanted = documents.listed(found)[0]
    read = documents.retrieve(client, located.chosen, wanted)
    body = dict(read.response_body)
    edit = data_of(data)
    edit(body)
    with pytest.raises(WrongContent) as failure:
        documents.retrieved(replace(read, response_body=body), wanted)
    assert str(failure.value) == (
        "DocumentReference read: $.content[0].attachment.data: not base64 of UTF-8 text"
    )
    if isinstance(data, bytes):  # as the simulator answers it: schema-valid, the check fails
        wrong = on_fhir("DocumentReference", {"read"}, edit_fhir(data_of(data)))
        (tmp_path / "sim").mkdir()
        documents, client, located, found = documents_of(tmp_path / "sim", wrong)
        wanted = documents.listed(found)[0]
        exchange = documents.retrieve(client, located.chosen, wanted)
        checks.succeeded(exchange)
        with pytest.raises(WrongContent, match=r"\.data: not base64 of UTF-8 text$"):
            documents.retrieved(exchange, wanted)


def test_a_document_read_without_any_data_is_wrong_content(tmp_path: Path) -> None:
    """The fault fhir_document_without_data is caught earlier, by the list's schema: the read
    check is fed a read answer built by hand."""
    documents, client, located, found = documents_of(tmp_path)
    wanted = documents.listed(found)[0]
    read = documents.retrieve(client, located.chosen, wanted)
    assert "<ClinicalDocument" in documents.retrieved(read, wanted)  # conforming: the CDA
    body = dict(read.response_body)
    body["content"] = [
        {"attachment": {"contentType": "text/xml"}},
        {"attachment": {"contentType": "application/pdf", "data": ""}},
        "not a content",
    ]
    with pytest.raises(WrongContent) as failure:
        documents.retrieved(replace(read, response_body=body), wanted)
    assert str(failure.value) == (
        "DocumentReference read: $.content[].attachment.data: no document data"
    )


# -- validation/fhir/repository.py (DOD-07) ---------------------------------------------------


def pushed(tmp_path: Path, *faults: Fault) -> tuple[Any, dict[str, Any], list[dict[str, str]]]:
    """test patient 2 and a visit summary pushed to your repository (Data Model, as under
    either API); the FHIR finder of your organization, the pushed document and the ids."""
    settings, client, _ = simulated(tmp_path, *faults)
    someone = patient(load_patients(settings.test_patients), "test patient 2")
    ids = [dod.identifier(settings, someone)]
    visit = dod.visit_push(settings, someone, ids)
    for message in (dod.new_patient(settings, someone, ids), visit):
        checks.succeeded(client.send(message))
    finder = for_settings(settings).finder(client, Reporter(client.redactor))
    return finder, visit["Header"]["Document"], ids


def each_document(edit: Any) -> Fault:
    """`edit` applied to every DocumentReference a search lists."""

    def apply(body: dict[str, Any]) -> None:
        for entry in body.get("entry") or []:
            if entry.get("resource", {}).get("resourceType") == "DocumentReference":
                edit(entry["resource"])

    return on_fhir("DocumentReference", SEARCH, edit_fhir(apply))


def other_code(document: dict[str, Any]) -> None:
    document["type"]["coding"][0]["code"] = "11506-3"


def no_type(document: dict[str, Any]) -> None:
    document.pop("type")


def no_coding(document: dict[str, Any]) -> None:
    document["type"] = {"text": "Summary of episode note"}


def other_description(document: dict[str, Any]) -> None:
    document["description"] = "Another title"


def other_attachment_title(document: dict[str, Any]) -> None:
    document["content"][0]["attachment"]["title"] = "Another title"


def no_title(document: dict[str, Any]) -> None:
    document.pop("description", None)
    for content in document["content"]:
        content["attachment"].pop("title", None)


MISSING_TYPE = "type.coding: missing (no code), the type code sent cannot be compared"


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (other_code, "type.coding[].code differs from the type code sent"),
        (no_type, MISSING_TYPE),
        (no_coding, MISSING_TYPE),
        (other_description, "description differs from the title sent"),
        (other_attachment_title, "content[0].attachment.title differs from the title sent"),
    ],
)
def test_the_pushed_document_listed_otherwise_than_sent_fails_naming_the_field(
    tmp_path: Path, edit: Any, said: str
) -> None:
    finder, document, ids = pushed(tmp_path, each_document(edit))
    with pytest.raises(ReadbackMismatch) as failure:
        finder.document(ids, document)
    assert str(failure.value) == f"the pushed document {document['ID']}: found, but {said}"


@pytest.mark.parametrize("edit", [None, no_title])
def test_the_pushed_document_listed_as_sent_or_without_a_title_is_found(
    tmp_path: Path, edit: Any
) -> None:
    finder, document, ids = pushed(tmp_path, *([each_document(edit)] if edit else []))
    found = finder.document(ids, document)
    assert document["TypeCode"]["Code"] in {c["code"] for c in found["type"]["coding"]}
    if edit is None:  # the simulator lists the title sent in both places
        assert found["description"] == document["Title"]
        assert found["content"][0]["attachment"]["title"] == document["Title"]
    assert listed_as_sent(found, document) == ""


# -- fhir_one_per_page: every step's FHIR flow, paging followed -------------------------------


def test_every_steps_fhir_flow_passes_with_one_result_per_page(tmp_path: Path) -> None:
    """Searches answered one result a page (the fault fhir_one_per_page): the directory
    lifecycle (step 1), locating and narrowing a patient and a search for nobody (step 2), the
    documents listed and read (step 3), what was pushed found in your repository (step 4)."""
    settings, client, _ = simulated(tmp_path, named("fhir_one_per_page"))
    api, profile = FhirDirectory(settings), settings.organizations[0]
    for number in range(2):  # namesakes listed before it: its read-back is on page 3
        far = replace(profile.address, zip="00001")  # not near any test patient
        namesake = replace(
            profile, name=f"{profile.name} {number}", oid=f"1.2.3.{number}", address=far
        )
        checks.succeeded(api.create(client, namesake))
    write_all(api, client, settings)

    search = FhirPatientSearch(settings)
    located = search.locate(client, Reporter(client.redactor), person(settings))
    search.matched_at(search.narrow(client, located), located)
    search.no_match(search.across_network(client, person(settings, "unknown patient")))
    search.carried_metadata(client.exchanges)

    documents = FhirDocuments(settings)
    listed = documents.listed(documents.search(client, located.chosen))
    for wanted in listed:
        read = documents.retrieve(client, located.chosen, wanted)
        documents.check_cda(read, documents.retrieved(read, wanted))

    someone = patient(load_patients(settings.test_patients), "test patient 2")
    ids = [dod.identifier(settings, someone)]
    visits = [dod.visit_push(settings, someone, ids) for _ in range(2)]
    for message in (dod.new_patient(settings, someone, ids), *visits):
        checks.succeeded(client.send(message))
    finder = for_settings(settings).finder(client, Reporter(client.redactor))
    finder.patient(someone, ids, expect={"Identifiers": ids})
    for visit in visits:  # the second listed on the second page
        finder.document(ids, visit["Header"]["Document"])

    # followed where there was more than one result: the directory's and the repository's
    paged = {e.kind for e in client.exchanges if ", page " in e.label}
    assert paged == {"Organization search", "DocumentReference search"}, paged
    answers = [e.response_body for e in client.exchanges if " search" in e.label]
    assert answers and all(len(a.get("entry") or []) <= 1 for a in answers)
