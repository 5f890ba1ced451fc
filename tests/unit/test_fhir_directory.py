"""Step 1 through Redox's FHIR API: the organization record's lifecycle on `ceq-orgs`, run by
the same flow (validation.directory) as the Data Model's, against the simulator's FHIR routes."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from techval.core.config import Settings
from techval.core.errors import CheckFailed, NotOffered, ReadbackMismatch, WrongContent
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.simulator import provision
from techval.simulator.faults import named
from techval.validation import checks, directory, organization
from techval.validation.apis import for_settings
from techval.validation.fhir.documents import FhirDocuments
from techval.validation.fhir.organization import FhirDirectory, resource
from techval.validation.fhir.paging import Walk
from techval.validation.fhir.search import FhirPatientSearch, oid_of, system_of
from techval.validation.located import Location
from techval.validation.patients import load_patients
from tests.fhir_second_opinion import invalid_by_fhir_resources
from tests.helpers import RecordingClient, in_process_client, settings_for


def fhir_directory(tmp_path: Path, *faults: str, **fhir: Any) -> tuple[Settings, RecordingClient]:
    settings = settings_for(tmp_path, api="fhir", fhir=fhir or None)
    simulator = provision(settings)
    simulator.faults.extend(named(fault) for fault in faults)
    return settings, in_process_client(settings, simulator)


def test_the_api_of_the_environment_file_is_the_one_the_steps_speak(tmp_path: Path) -> None:
    assert isinstance(for_settings(settings_for(tmp_path, api="fhir")).directory, FhirDirectory)
    dm = for_settings(settings_for(tmp_path))
    assert isinstance(dm.directory, organization.DataModelDirectory)


@pytest.mark.parametrize("verb", ["PUT", "POST"])
def test_create_update_deactivate_and_read_back_through_fhir(tmp_path: Path, verb: str) -> None:
    settings, client = fhir_directory(tmp_path, update_verb=verb)
    api, profile = FhirDirectory(settings), settings.organizations[0]
    created = directory.create_or_adopt(api, client, profile)
    checks.succeeded(created.final)
    assert created.final.status == 201 and len(created.exchanges) == 1
    records = directory.read_back(api, client, profile)
    assert len(records) == 2  # by id, and by name in a searchset
    directory.expect_record(api, records, profile, active=True)
    changed = organization.updated(profile)
    checks.succeeded(directory.update(api, client, changed).final)
    directory.expect_record(api, directory.read_back(api, client, changed), changed, active=True)
    checks.succeeded(directory.update(api, client, profile, active=False).final)
    found = directory.read_back(api, client, profile)
    directory.expect_record(api, found, profile, active=False)
    with pytest.raises(ReadbackMismatch, match=r"Organization\.active differs"):
        directory.expect_record(api, found, profile, active=True)
    sent = [e for e in client.exchanges if e.method in ("POST", "PUT") and e.label != "token"]
    assert {e.url.split("/fhir/R4/")[1].split("/")[0] for e in sent} == {"ceq-orgs"}
    assert all(
        e.request_headers.get("Content-Type") == "application/fhir+json"
        for e in sent
        if e.request_form is None
    )


def test_a_rerun_adopts_the_record_the_directory_already_holds(tmp_path: Path) -> None:
    settings, client = fhir_directory(tmp_path)
    api, profile = FhirDirectory(settings), settings.organizations[0]
    checks.succeeded(directory.create_or_adopt(api, client, profile).final)
    again = directory.create_or_adopt(api, client, profile)
    assert [e.status for e in again.exchanges] == [403, 200]
    assert "already exists." in again.exchanges[0].redox_errors[0]
    checks.succeeded(again.final)


def test_an_update_acknowledged_but_not_stored_fails_naming_the_field(tmp_path: Path) -> None:
    settings, client = fhir_directory(tmp_path, "fhir_update_not_stored")
    api, profile = FhirDirectory(settings), settings.organizations[0]
    checks.succeeded(directory.create_or_adopt(api, client, profile).final)
    changed = organization.updated(profile)
    checks.succeeded(directory.update(api, client, changed).final)  # acknowledged...
    with pytest.raises(CheckFailed) as failure:  # ... but the directory still holds the old
        directory.expect_record(
            api, directory.read_back(api, client, changed), changed, active=True
        )
    assert "Organization.address" in str(failure.value) or "Organization.contact" in str(
        failure.value
    )
    assert str(changed.address.street) not in str(failure.value)


def test_every_organization_resource_sent_is_valid_fhir(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, api="fhir")
    for profile in settings.organizations:
        for active in (True, False):
            sent = resource(profile, active=active)
            assert invalid_by_fhir_resources(sent) == []
            assert sent["id"] == sent["identifier"][0]["value"] == profile.oid
        assert invalid_by_fhir_resources(resource(organization.updated(profile))) == []


def neighbours(settings: Settings, client: RecordingClient, zip_code: str) -> None:
    """Three more organizations in the directory near `zip_code`."""
    for number in range(3):
        other = replace(
            settings.organizations[0],
            name=f"Neighbour Clinic {number}",
            oid=f"2.16.840.1.113883.3.7777.{number}",
            address=replace(settings.organizations[0].address, zip=zip_code),
        )
        checks.succeeded(FhirDirectory(settings).create(client, other))


def test_the_directory_search_follows_every_page_and_leaves_out_your_own(tmp_path: Path) -> None:
    settings, client = fhir_directory(tmp_path, "fhir_one_per_page")
    person = load_patients(settings.test_patients)["test patient 1"]
    neighbours(settings, client, person.demographics["Address"]["ZIP"])
    found = FhirPatientSearch(settings).organizations(client, person)
    oids = [oid for oid, _ in found]
    assert {f"2.16.840.1.113883.3.7777.{n}" for n in range(3)} <= set(oids)
    assert not {o.oid for o in settings.organizations} & set(oids)
    pages = [e for e in client.exchanges if e.label.startswith("Organization search, page")]
    assert len(pages) >= 3 and all(e.method == "GET" for e in pages)


def test_the_directory_search_is_bounded_by_max_pages(tmp_path: Path) -> None:
    settings, client = fhir_directory(tmp_path, "fhir_one_per_page", max_pages=2)
    person = load_patients(settings.test_patients)["test patient 1"]
    neighbours(settings, client, person.demographics["Address"]["ZIP"])
    FhirPatientSearch(settings).organizations(client, person)
    searches = [e for e in client.exchanges if e.label.startswith("Organization search")]
    assert len(searches) == 2


def test_across_the_network_is_each_organization_of_the_directory_near_the_patient(
    tmp_path: Path,
) -> None:
    settings, client = fhir_directory(tmp_path)
    patients = load_patients(settings.test_patients)
    search = FhirPatientSearch(settings)
    nobody = search.across_network(client, patients["unknown patient"])  # no ZIP: near you
    assert nobody.answers
    search.no_match(nobody)  # every organization answered an empty searchset
    somebody = search.across_network(client, patients["test patient 1"])
    with pytest.raises(WrongContent, match="a patient matched who does not exist"):
        search.no_match(somebody)
    with pytest.raises(NotOffered):
        search.network_match(somebody)
    gateway = settings.organizations[0].part_of
    assert not any(f"ceq-xcpd:{gateway}/" in e.url for e in client.exchanges)


def test_what_the_sources_leave_open_is_a_key_of_the_environment_file(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        api="fhir",
        fhir={"identifier_system": "urn:x:{oid}:mrn", "organization_type_system": "urn:types"},
    )
    assert settings.fhir.identifier_system == "urn:x:{oid}:mrn"
    assert oid_of("urn:x:1.2.3:mrn", settings.fhir.identifier_system) == "1.2.3"
    assert oid_of("urn:oid:1.2.3", settings.fhir.identifier_system) == "urn:oid:1.2.3"
    assert system_of("1.2.3", settings.fhir.identifier_system) == "urn:x:1.2.3:mrn"
    assert oid_of("urn:oid:1.2.3") == "1.2.3"  # the default, INFERRED
    client = in_process_client(settings)
    api, profile = FhirDirectory(settings), settings.organizations[0]
    created = directory.create_or_adopt(api, client, profile)
    assert created.final.request_body["type"][0]["coding"][0]["system"] == "urn:types"


def test_a_patient_is_searched_at_max_organizations_of_the_directory_at_most(
    tmp_path: Path,
) -> None:
    settings, client = fhir_directory(tmp_path, max_organizations=2)
    person = load_patients(settings.test_patients)["test patient 1"]
    neighbours(settings, client, person.demographics["Address"]["ZIP"])
    assert len(FhirPatientSearch(settings).organizations(client, person)) == 2


def test_the_read_back_by_name_finds_the_record_on_a_later_page(tmp_path: Path) -> None:
    settings, client = fhir_directory(tmp_path, "fhir_one_per_page")
    api, profile = FhirDirectory(settings), settings.organizations[0]
    namesake = replace(profile, name=f"{profile.name} North", oid="2.16.840.1.113883.3.7777.9")
    checks.succeeded(api.create(client, namesake))  # listed before it by name
    checks.succeeded(directory.create_or_adopt(api, client, profile).final)
    directory.expect_record(api, directory.read_back(api, client, profile), profile, active=True)
    pages = [e for e in client.exchanges if e.label.startswith("Organization search, page")]
    assert pages  # the record was on a later page


def test_the_cda_attachment_is_read_whatever_comes_before_it(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, api="fhir")
    cda_text = '<ClinicalDocument xmlns="urn:hl7-org:v3"/>'
    read = Exchange(
        label="DocumentReference read",
        method="GET",
        url="http://x/fhir/R4/ceq-xca:1.2/Development/DocumentReference/d1",
        request_headers={},
        request_body=None,
        started_at="",
        status=200,
        response_body={
            "resourceType": "DocumentReference",
            "id": "d1",
            "content": [
                {"attachment": {"contentType": "application/pdf", "data": "JVBERi0xLjQK/w=="}},
                {
                    "attachment": {
                        "contentType": "text/xml",
                        "data": base64.b64encode(cda_text.encode()).decode(),
                    }
                },
            ],
        },
    )
    documents = FhirDocuments(settings)
    assert documents.retrieved(read, "d1") == cda_text
    documents.check_cda(read, cda_text)


def test_documents_are_asked_for_as_cda(tmp_path: Path) -> None:
    settings, client = fhir_directory(tmp_path)
    location = Location("2.16.840.1.113883.3.6147.458.5555.1", "Elsewhere", (), "patient-1")
    FhirDocuments(settings).search(client, location)
    (sent,) = [e for e in client.exchanges if e.label == "DocumentReference search"]
    assert sent.request_form is not None
    assert sent.request_form["category"] == ["urn:redox:document_kind|CDA"]


def test_the_narrow_search_must_answer_the_patient_that_was_located(tmp_path: Path) -> None:
    settings, client = fhir_directory(tmp_path)
    search = FhirPatientSearch(settings)
    person = load_patients(settings.test_patients)["test patient 1"]
    located = search.locate(client, Reporter(client.redactor), person)
    found = search.narrow(client, located)
    (sent,) = [e for e in found.pages if e.label == "Patient search"]
    assert sent.request_form is not None and set(sent.request_form) == {"identifier"}
    search.matched_at(found, located)  # the same patient, by the identifier it was given
    other = dict(found.pages[0].response_body)
    entry = dict(other["entry"][0])
    entry["resource"] = dict(entry["resource"], id="someone-else")
    other["entry"] = [entry]
    with pytest.raises(WrongContent, match="another patient than the one"):
        search.matched_at(Walk([replace(found.pages[0], response_body=other)]), located)
