"""A Patient a searchset answers without its `id` (FHIR R4: a server's resource has one; the
documents are asked for by it, `patient=<id>`, FHIR 5.9 and 6.9) is a conformance failure of
the search answer, named by its entry where the patient is read: when a test patient is
located, and when validation step 4 finds the patient pushed to your repository (found without
an id, not "not found")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from techval.core.errors import WrongContent
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.simulator import provision
from techval.simulator.faults import named
from techval.validation import checks, dod
from techval.validation.apis import for_settings
from techval.validation.fhir.search import FhirPatientSearch, patient_id
from techval.validation.patients import load_patients, patient
from tests.helpers import RecordingClient, in_process_client, settings_for

MISSING = "id: missing: the patient was found, but without the id its documents are asked for by"


def fhir(tmp_path: Path, *faults: str) -> tuple[Any, RecordingClient]:
    settings = settings_for(tmp_path, api="fhir")
    simulator = provision(settings)
    simulator.repository.delay = 0
    simulator.faults.extend(named(fault) for fault in faults)
    return settings, in_process_client(settings, simulator)


def test_a_located_patient_without_an_id_fails_naming_the_entry(tmp_path: Path) -> None:
    settings, client = fhir(tmp_path, "fhir_patients_without_id")
    person = load_patients(settings.test_patients)["test patient 1"]
    search = FhirPatientSearch(settings)
    with pytest.raises(WrongContent) as failure:
        search.locate(client, Reporter(client.redactor), person)
    assert str(failure.value).startswith(f"Patient search: $.entry[0].resource.{MISSING}")


def test_the_same_search_answered_with_ids_locates_the_patient(tmp_path: Path) -> None:
    settings, client = fhir(tmp_path)
    person = load_patients(settings.test_patients)["test patient 1"]
    located = FhirPatientSearch(settings).locate(client, Reporter(client.redactor), person)
    assert located.chosen.patient_id  # what the documents are asked for by


def page(label: str, *resources: dict[str, Any], next_url: str | None = None) -> Exchange:
    body: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }
    if next_url:
        body["link"] = [{"relation": "next", "url": next_url}]
    return Exchange(
        label=label,
        method="POST",
        url="http://x/fhir/R4/ceq-xcpd:1.2.3/Development/Patient/_search",
        request_headers={},
        request_body=None,
        started_at="",
        status=200,
        response_body=body,
    )


IDENTIFIED = {"identifier": [{"system": "urn:oid:1.2.3", "value": "MRN-1"}]}


def test_the_entry_named_is_the_patients_on_the_page_it_came_on(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, api="fhir")
    person = load_patients(settings.test_patients)["test patient 1"]
    found = [
        page("Patient search", next_url="http://x/next"),
        page(
            "Patient search, page 2",
            {"resourceType": "Organization", "name": "Included", "active": True},
            {"resourceType": "Patient", **IDENTIFIED},
        ),
    ]
    with pytest.raises(WrongContent) as failure:
        FhirPatientSearch(settings).matched(found, person)
    assert str(failure.value).startswith(f"Patient search, page 2: $.entry[1].resource.{MISSING}")
    with_id = [found[0], page("Patient search, page 2", {"resourceType": "Patient", "id": "p1"})]
    with pytest.raises(WrongContent, match=r"page 2: \$\.entry\[0\]\.resource\.identifier: "):
        FhirPatientSearch(settings).matched(with_id, person)  # identifiers are checked first
    assert patient_id("here", {"id": "p1"}) == "p1"


def pushed(tmp_path: Path, *faults: str) -> tuple[Any, Any, list[dict[str, str]], Any]:
    """test patient 2 pushed to your repository (Data Model, as under either API), and the
    FHIR finder of your organization."""
    settings, client = fhir(tmp_path, *faults)
    person = patient(load_patients(settings.test_patients), "test patient 2")
    ids = [dod.identifier(settings, person)]
    visit = dod.visit_push(settings, person, ids)
    for message in (dod.new_patient(settings, person, ids), visit):
        checks.succeeded(client.send(message))
    finder = for_settings(settings).finder(client, Reporter(client.redactor))
    return person, visit["Header"]["Document"], ids, (finder, client)


def test_step_4_says_the_pushed_patient_was_found_without_an_id_not_not_found(
    tmp_path: Path,
) -> None:
    person, document, ids, (finder, client) = pushed(tmp_path, "fhir_patients_without_id")
    with pytest.raises(WrongContent) as failure:
        finder.patient(person, ids, expect={"Identifiers": ids})
    assert str(failure.value).startswith(f"Patient search: $.entry[0].resource.{MISSING}")
    with pytest.raises(WrongContent) as failure:
        finder.document(ids, document)
    assert str(failure.value).startswith(f"Patient search: $.entry[0].resource.{MISSING}")
    assert "not found" not in str(failure.value)
    # said at once: the first attempt of each found the patient, no polling until the deadline
    searches = [e for e in client.exchanges if e.label == "Patient search"]
    assert len(searches) == 2
    assert not [e for e in client.exchanges if e.label == "DocumentReference search"]


def test_step_4_finds_the_pushed_patient_and_document_by_the_patients_id(tmp_path: Path) -> None:
    person, document, ids, (finder, client) = pushed(tmp_path)
    finder.patient(person, ids, expect={"Identifiers": ids})
    assert finder.document(ids, document)
    (listed, *_) = [e for e in client.exchanges if e.label == "DocumentReference search"]
    assert listed.request_form is not None and set(listed.request_form) == {"patient", "category"}
