"""FHIR searchsets read across their pages (validation.fhir.paging): next links followed with
`fhir.next_verb`, the directory's own `index` and `limit` when a full page has no next link
(9.3), a walk cut short by `fhir.max_pages` said so, and a next link elsewhere refused as
Redox's wrong answer; against the simulator's FHIR routes, in process."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import allure
import pytest

from techval.core.config import Settings
from techval.core.errors import CheckFailed, NotFound, WrongContent
from techval.core.exchange import Exchange
from techval.core.redaction import Redactor
from techval.core.reporting import Reporter
from techval.simulator import Simulator, provision
from techval.simulator.faults import named
from techval.validation import checks, directory
from techval.validation.fhir import paging
from techval.validation.fhir.documents import FhirDocuments
from techval.validation.fhir.organization import FhirDirectory
from techval.validation.fhir.paging import Walk
from techval.validation.fhir.repository import FhirFinder
from techval.validation.fhir.search import FhirPatientSearch
from techval.validation.patients import TestPatient, load_patients
from tests.helpers import RecordingClient, in_process_client, settings_for

STOPPED = (
    r"stopped after {} page\(s\) with more remaining \(raise fhir\.max_pages to read further\)"
)


class Notes(Reporter):
    """A reporter keeping its notes."""

    def __init__(self) -> None:
        super().__init__(Redactor([]))
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


def simulated(
    tmp_path: Path, *faults: str, next_links: bool = True, **fhir: Any
) -> tuple[Settings, RecordingClient, Simulator]:
    settings = settings_for(tmp_path, api="fhir", fhir=fhir or None)
    simulator = provision(settings)
    simulator.faults.extend(named(fault) for fault in faults)
    simulator.fhir.options = replace(simulator.fhir.options, directory_next_links=next_links)
    return settings, in_process_client(settings, simulator), simulator


def person(settings: Settings) -> TestPatient:
    return load_patients(settings.test_patients)["test patient 1"]


def neighbours(settings: Settings, client: RecordingClient, zip_code: str, count: int = 3) -> None:
    """`count` more organizations in the directory near `zip_code`."""
    for number in range(count):
        other = replace(
            settings.organizations[0],
            name=f"Neighbour Clinic {number}",
            oid=f"2.16.840.1.113883.3.7777.{number}",
            address=replace(settings.organizations[0].address, zip=zip_code),
        )
        checks.succeeded(FhirDirectory(settings).create(client, other))


def searches(client: RecordingClient) -> list[Exchange]:
    return [e for e in client.exchanges if e.label.startswith("Organization search")]


# -- index and limit (9.3) -------------------------------------------------------------------


def test_a_directory_without_next_links_is_paged_by_index_and_limit(tmp_path: Path) -> None:
    settings, client, _ = simulated(tmp_path, next_links=False, page_limit=1)
    patient = person(settings)
    zip_code = patient.demographics["Address"]["ZIP"]
    neighbours(settings, client, zip_code)
    found = {oid for oid, _ in FhirPatientSearch(settings).organizations(client, patient)}
    assert {f"2.16.840.1.113883.3.7777.{n}" for n in range(3)} <= found
    first, *later = searches(client)
    assert paging.next_link(first.response_body) is None and paging.matches(first.response_body)
    assert len(later) + 1 == first.response_body["total"]  # the total said when to stop
    for number, page in enumerate(later, start=1):
        assert (page.method, page.url, page.label) == (
            "POST",
            first.url,
            f"Organization search, page {number + 1}",
        )
        assert page.request_form == {**(first.request_form or {}), "index": [str(number)]}
        assert page.kind == "Organization search"


def test_the_read_back_by_name_pages_by_index_and_limit(tmp_path: Path) -> None:
    settings, client, _ = simulated(tmp_path, next_links=False, page_limit=1)
    api, profile = FhirDirectory(settings), settings.organizations[0]
    namesake = replace(profile, name=f"{profile.name} North", oid="2.16.840.1.113883.3.7777.9")
    checks.succeeded(api.create(client, namesake))
    checks.succeeded(directory.create_or_adopt(api, client, profile).final)
    directory.expect_record(api, directory.read_back(api, client, profile), profile, active=True)
    indexed = [e for e in searches(client) if (e.request_form or {}).get("index")]
    assert indexed and all(e.method == "POST" for e in indexed)


def test_a_page_short_of_the_limit_is_the_last(tmp_path: Path) -> None:
    settings, client, _ = simulated(tmp_path, next_links=False, page_limit=50)
    FhirPatientSearch(settings).organizations(client, person(settings))
    assert len(searches(client)) == 1


# -- the verb of next links (9.2) ------------------------------------------------------------


def test_next_links_are_followed_with_the_configured_verb(tmp_path: Path) -> None:
    settings, client, simulator = simulated(tmp_path, "fhir_one_per_page", next_verb="POST")
    assert simulator.fhir.options.next_verb == "POST"  # the environment's, as for the harness
    neighbours(settings, client, person(settings).demographics["Address"]["ZIP"])
    FhirPatientSearch(settings).organizations(client, person(settings))
    _, *later = searches(client)
    assert len(later) >= 3
    for page in later:
        assert page.status == 200 and page.method == "POST" and page.request_form == {}
        assert "/page/Organization/search/" in page.url
        assert page.request_headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_a_next_link_followed_with_the_wrong_verb_fails_on_its_answer(tmp_path: Path) -> None:
    settings, client, simulator = simulated(tmp_path, "fhir_one_per_page")
    simulator.fhir.options = replace(simulator.fhir.options, next_verb="POST")  # Redox's way
    neighbours(settings, client, person(settings).demographics["Address"]["ZIP"])
    with pytest.raises(CheckFailed, match=r"^Organization search, page 2: "):
        FhirPatientSearch(settings).organizations(client, person(settings))


# -- a next link elsewhere -------------------------------------------------------------------


def test_a_next_link_to_another_host_is_redox_answering_wrong_and_is_not_followed(
    tmp_path: Path,
) -> None:
    settings, client, _ = simulated(tmp_path, "fhir_one_per_page", "fhir_next_link_elsewhere")
    neighbours(settings, client, person(settings).demographics["Address"]["ZIP"])
    with pytest.raises(WrongContent) as failure:
        FhirPatientSearch(settings).organizations(client, person(settings))
    message = str(failure.value)
    assert message.startswith(
        "Organization search: $.link[next].url: http://elsewhere.example is not "
        "http://simulator.test, where the token goes: Redox's next link is not followed"
    )
    link = paging.next_link(searches(client)[0].response_body)
    assert link is not None and link.rsplit("/", 1)[-1] not in message  # never the link's key
    assert all(e.url.startswith("http://simulator.test/") for e in client.exchanges)


def test_a_note_is_a_step_of_its_own_in_the_report_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    titles: list[str] = []

    def step(title: str) -> contextlib.AbstractContextManager[None]:
        titles.append(title)
        return contextlib.nullcontext()

    monkeypatch.setattr(allure, "step", step)
    reporter = Reporter(Redactor(["s3cret-value"]))
    reporter.note("nothing while no scenario runs")
    reporter.active = True
    reporter.note("Organization search s3cret-value: stopped after 2 page(s)")
    assert titles == ["Note: Organization search ***: stopped after 2 page(s)"]


# -- fhir.max_pages --------------------------------------------------------------------------


def test_the_directory_is_read_only_until_enough_organizations_are_listed(
    tmp_path: Path,
) -> None:
    settings, client, _ = simulated(tmp_path, page_limit=1, max_organizations=2, max_pages=50)
    patient = person(settings)
    neighbours(settings, client, patient.demographics["Address"]["ZIP"], count=4)
    notes = Notes()
    found = FhirPatientSearch(settings, notes).organizations(client, patient)
    assert len(found) == 2
    read = searches(client)
    assert len(read) < read[0].response_body["total"]  # pages were left unread, on purpose
    assert notes.notes == []  # not a walk cut short: it had what it needed


def test_a_read_back_cut_short_by_max_pages_says_so_in_its_failure(tmp_path: Path) -> None:
    settings, client, _ = simulated(tmp_path, "fhir_one_per_page", max_pages=2)
    api, profile = FhirDirectory(settings), settings.organizations[0]
    for number in range(2):  # listed before it by name
        name = f"{profile.name} North {number}"
        checks.succeeded(api.create(client, replace(profile, name=name, oid=f"1.2.3.{number}")))
    checks.succeeded(directory.create_or_adopt(api, client, profile).final)
    with pytest.raises(NotFound) as failure:
        directory.read_back(api, client, profile)
    assert str(failure.value) == (
        f"Organization search, page 2: the directory returned no record with OID {profile.oid}: "
        "stopped after 2 page(s) with more remaining (raise fhir.max_pages to read further)"
    )
    with_more = replace(settings, fhir=replace(settings.fhir, max_pages=3))
    directory.read_back(FhirDirectory(with_more), client, profile)  # on the third page


def test_a_walk_cut_short_that_found_what_it_wanted_is_noted(tmp_path: Path) -> None:
    settings, client, _ = simulated(tmp_path, "fhir_one_per_page", max_pages=2)
    notes = Notes()
    neighbours(settings, client, person(settings).demographics["Address"]["ZIP"])
    assert FhirPatientSearch(settings, notes).organizations(client, person(settings))
    assert notes.notes == [
        "Organization search: stopped after 2 page(s) with more remaining (raise "
        "fhir.max_pages to read further)"
    ]
    notes.notes.clear()
    everything = replace(settings, fhir=replace(settings.fhir, max_pages=50))
    FhirPatientSearch(everything, notes).organizations(client, person(settings))
    assert notes.notes == []  # every page read: nothing to say


def test_locating_a_patient_over_a_directory_cut_short_says_so(tmp_path: Path) -> None:
    settings, client, _ = simulated(tmp_path, "fhir_one_per_page", max_pages=1)
    neighbours(settings, client, person(settings).demographics["Address"]["ZIP"])
    stranger = person(settings)
    demographics = dict(stranger.demographics, FirstName="Nomatch", LastName="Quillfeather")
    stranger = replace(stranger, demographics=demographics)
    with pytest.raises(NotFound, match=r"; the directory search " + STOPPED.format(1) + "$"):
        FhirPatientSearch(settings).locate(client, Notes(), stranger)


def test_what_was_not_found_on_pages_read_in_part_says_so(tmp_path: Path) -> None:
    settings, client, _ = simulated(tmp_path)
    search = FhirPatientSearch(settings)
    patient = person(settings)
    located = search.locate(client, Notes(), patient)
    chosen = located.chosen
    empty = replace(search.narrow(client, located).pages[0], response_body=searchset())
    with pytest.raises(
        NotFound, match=r"within the organization that holds records: " + STOPPED.format(1)
    ):
        search.matched_at(Walk([empty], more=True), located)
    with pytest.raises(NotFound, match=r"within the organization that holds records$"):
        search.matched_at(Walk([empty]), located)
    documents = FhirDocuments(settings)
    listed = replace(documents.search(client, chosen).pages[0], response_body=searchset())
    with pytest.raises(NotFound, match=r"the document list is empty: " + STOPPED.format(1)):
        documents.listed(Walk([listed], more=True))


def test_a_search_for_nobody_over_a_directory_cut_short_says_so(tmp_path: Path) -> None:
    settings, client, _ = simulated(tmp_path, "fhir_one_per_page", max_pages=1)
    search = FhirPatientSearch(settings)
    nobody = load_patients(settings.test_patients)["unknown patient"]
    searched = search.across_network(client, nobody)  # its first page: the Redox gateway
    assert searched.answers == () and searched.unread
    with pytest.raises(
        NotFound,
        match=r"^Organization search: no organization of the directory was searched; "
        r"the directory search " + STOPPED.format(1) + "$",
    ):
        search.no_match(searched)


def test_polling_that_ends_not_found_names_the_last_search_cut_short(tmp_path: Path) -> None:
    settings, client, _ = simulated(tmp_path, "fhir_one_per_page", max_pages=1)
    notes = Notes()
    finder = FhirFinder(client, settings, notes)
    first = client.request(
        "Organization search",
        "POST",
        settings.fhir.path(settings.fhir.organizations_slug, "Organization/_search"),
        form={"limit": ["50"]},
        response_schema=paging.SEARCHSET,
    )
    assert finder._walk(first, {}) == [first]
    assert finder.stopped == f"Organization search {STOPPED.format(1)}".replace("\\", "")
    with pytest.raises(NotFound, match=r"; the last Organization search " + STOPPED.format(1)):
        finder._until("the pushed document", lambda: None)
    finder.stopped = ""
    with pytest.raises(NotFound, match=r"\(limits: \d+ attempts, [\d.]+ s\)$"):
        finder._until("the pushed document", lambda: None)


def searchset() -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": 0, "link": []}
