"""Patient search through Redox's FHIR API: no record locator (broad search is Data Model only),
so a test patient's organizations come from its test data (`organization:`) or from the
directory (`Organization/_search` near the patient's ZIP on `ceq-orgs`, every page followed by
next links or by `index`/`limit`, bounded: paging.py); then `Patient/_search`, form-encoded
with the Carequality headers, on `ceq-xcpd:{oid}` at each until the patient is found. Sources:
docs/redox-facts.md, FHIR 5.x."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import Settings
from techval.core.errors import (
    CheckFailed,
    NotFound,
    NotOffered,
    TestDataMismatch,
    WrongContent,
)
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.core.verifies import verifies
from techval.validation.fhir import paging
from techval.validation.fhir.paging import SEARCHSET, Walk
from techval.validation.located import Located, Location, Searched
from techval.validation.patients import TestPatient

API = "FHIR API"
GENDERS = {"male": "male", "female": "female", "other": "other", "unknown": "unknown"}
NOT_ON_NETWORK = (
    "the test-patients file says they are on this network, but a development network may not "
    "hold them: check their Demographics against your Carequality test data"
)


@verifies("FHIR-03")
def demographics_form(patient: TestPatient) -> dict[str, list[str]]:
    """The documented mandatory set (given + family + birthdate) and what narrows it."""
    demographics = patient.demographics
    form = {
        "given": demographics.get("FirstName"),
        "family": demographics.get("LastName"),
        "birthdate": demographics.get("DOB"),
        "gender": GENDERS.get(str(demographics.get("Sex") or "").lower()),
        "address-postalcode": (demographics.get("Address") or {}).get("ZIP"),
    }
    return {name: [str(value)] for name, value in form.items() if value}


@verifies("CQ-02", "FHIR-04")
def carried_headers(exchange: Exchange, expected: dict[str, str]) -> None:
    """The request as sent carried each Carequality metadata header with the environment's
    value (required on ceq-xcpd and ceq-xca: docs/redox-facts.md, FHIR)."""
    got = {k.lower(): v for k, v in exchange.request_headers.items()}
    for name, value in expected.items():
        if name.lower() not in got:
            raise CheckFailed(f"{exchange.label}: header {name}: missing")
        if got[name.lower()] != value:
            raise CheckFailed(f"{exchange.label}: header {name}: not the environment's value")


def oid_of(system: Any, template: str = "urn:oid:{oid}") -> str:
    """The assigning authority of an identifier system written as `template` (`fhir.
    identifier_system`, INFERRED: `urn:oid:X` -> X); any other system as it is."""
    text = str(system or "")
    before, _, after = template.partition("{oid}")
    if text.startswith(before) and text.endswith(after) and len(text) > len(before + after):
        return text[len(before) : len(text) - len(after)]
    return text


def system_of(oid: str, template: str = "urn:oid:{oid}") -> str:
    """The identifier system of an assigning authority, as `fhir.identifier_system` says."""
    return template.replace("{oid}", oid)


@verifies("FHIR-06")
def patient_id(where: str, patient: dict[str, Any]) -> str:
    """The id of a Patient a searchset answered (`where`: its place, paging.placed). A
    server's resource has one (FHIR R4), and the patient's documents are asked for by it
    (`patient=<id>`, FHIR 5.9, 6.9): WrongContent naming the entry when it has none."""
    found = patient.get("id")
    if isinstance(found, str) and found:
        return found
    raise WrongContent(
        f"{where}.id: missing: the patient was found, but without the id its documents are "
        "asked for by (DocumentReference/_search patient=<id>)"
    )


class FhirPatientSearch:
    def __init__(self, settings: Settings, reporter: Reporter | None = None) -> None:
        self.settings = settings
        self.fhir = settings.fhir
        self.reporter = reporter  # told of a search that stopped with pages remaining

    def _search_at(
        self,
        client: RedoxClient,
        patient: TestPatient,
        oid: str,
        form: dict[str, list[str]] | None = None,
    ) -> Walk:
        """The patient search at one organization (by demographics unless `form` says
        otherwise): its first page and the pages after it."""
        slug = self.fhir.patients_slug.format(oid=oid)
        headers = self.settings.carequality_headers()
        first = client.request(
            "Patient search",
            "POST",
            self.fhir.path(slug, "Patient/_search"),
            form=form or demographics_form(patient),
            headers=headers,
            response_schema=SEARCHSET,
        )
        return paging.pages(client, first, self.fhir, headers, reporter=self.reporter)

    @verifies("PS-05")
    def matched(self, found: list[Exchange], patient: TestPatient) -> dict[str, Any] | None:
        """The one Patient of a searchset (every page); None for the empty searchset ("no
        match"). Several are a test-data mismatch; a Patient without identifiers cannot be
        used further."""
        exchange = found[0]
        patients = paging.placed(found, "Patient")
        if len(patients) > 1:
            raise TestDataMismatch(
                patient.alias,
                "Demographics",
                f"{exchange.label} answered {len(patients)} patients: several people at this "
                "organization share these demographics",
            )
        if not patients:
            return None
        where, match = patients[0]
        listed = match.get("identifier")
        identifiers = (
            [i for i in listed if isinstance(i, dict) and i.get("system") and i.get("value")]
            if isinstance(listed, list)
            else []
        )
        if not identifiers:
            raise WrongContent(
                f"{where}.identifier: the matched patient has no identifiers (system and value)"
            )
        patient_id(where, match)
        return dict(match, identifier=identifiers)

    @verifies("FHIR-03")
    def organizations(
        self, client: RedoxClient, patient: TestPatient, *, near_you: bool = False
    ) -> list[tuple[str, str]]:
        """(OID, name) of the organizations to search: the one the test data names, else the
        directory's near the patient's ZIP (pages read until fhir.max_organizations are listed,
        at most fhir.max_pages), the environment's own organizations and their parents left
        out; `near_you`: near your organization's ZIP when the patient has
        none (someone who may exist nowhere)."""
        return self._organizations(client, patient, near_you=near_you)[0]

    def _organizations(
        self, client: RedoxClient, patient: TestPatient, *, near_you: bool = False
    ) -> tuple[list[tuple[str, str]], str]:
        """`organizations`, and why the directory may list more than it read ("" when every
        page was read)."""
        if patient.organization:
            return [(patient.organization, patient.organization)], ""
        zip_code = (patient.demographics.get("Address") or {}).get("ZIP")
        if not zip_code and near_you:
            zip_code = self.settings.carequality.sender.address.zip
        if not zip_code:
            raise TestDataMismatch(
                patient.alias,
                "Demographics",
                "no Address.ZIP to search the directory near, and no organization named",
            )
        # your own records and the ones they are part of (the Redox gateway) hold no patients
        own = {o.oid for o in self.settings.organizations}
        own |= {o.part_of for o in self.settings.organizations if o.part_of}
        seen: set[str] = set()

        def enough(page: Exchange) -> bool:
            """Enough candidates once max_organizations are listed: no further page."""
            for organization in paging.entries(page.response_body):
                oid = _organization_oid(organization, self.fhir.oid_system)
                if oid and oid not in own:
                    seen.add(oid)
            return len(seen) >= self.fhir.max_organizations

        found: dict[str, str] = {}
        walk = self._directory(client, str(zip_code), enough)
        for organization in paging.resources(walk.pages, "Organization"):
            oid = _organization_oid(organization, self.fhir.oid_system)
            if oid and oid not in own:
                found.setdefault(oid, str(organization.get("name") or oid))
        return list(found.items())[: self.fhir.max_organizations], walk.stopped()

    def _directory(
        self, client: RedoxClient, zip_code: str, enough: Callable[[Exchange], bool]
    ) -> Walk:
        """The directory's organizations near a ZIP: page after page (9.1, 9.3) until
        `enough` (or fhir.max_pages)."""
        form = {
            "address-postalcode": [zip_code],
            "radius": [str(self.fhir.directory_radius)],
            "limit": [str(self.fhir.page_limit)],
        }
        headers = self.settings.carequality_headers() if self.fhir.headers_on_directory else {}
        first = client.request(
            "Organization search",
            "POST",
            self.fhir.path(self.fhir.organizations_slug, "Organization/_search"),
            form=form,
            headers=headers,
            response_schema=SEARCHSET,
        )
        return paging.pages(
            client, first, self.fhir, headers, until=enough, form=form, reporter=self.reporter
        )

    def across_network(self, client: RedoxClient, patient: TestPatient) -> Searched:
        """FHIR has no record locator: the patient is searched at each organization of the
        directory near their ZIP (or near yours when their test data has none)."""
        candidates, stopped = self._organizations(client, patient, near_you=True)
        answers = tuple(
            page for oid, _ in candidates for page in self._search_at(client, patient, oid).pages
        )
        unread = f"the directory search {stopped}" if stopped else ""
        return Searched(patient, answers, unread)

    def network_match(self, searched: Searched) -> dict[str, Any]:
        raise NotOffered("a network patient ID from the record locator (broad search)", API)

    def holders(
        self, client: RedoxClient, reporter: Reporter, match: dict[str, Any], searched: Searched
    ) -> None:
        raise NotOffered("the location query of the record locator", API)

    @verifies("PS-02")
    def no_match(self, searched: Searched) -> None:
        """Every organization searched answered an empty searchset ("no match" is no error)."""
        if not searched.answers:
            unread = f"; {searched.unread}" if searched.unread else ""
            raise NotFound(
                f"Organization search: no organization of the directory was searched{unread}"
            )
        for answer in searched.answers:  # each page of each organization's answer
            if paging.resources([answer], "Patient"):
                raise WrongContent(f"{answer.label}: a patient matched who does not exist")

    @verifies("PS-05")
    def locate(self, client: RedoxClient, reporter: Reporter, patient: TestPatient) -> Located:
        """The first organization whose patient search finds the test patient."""
        candidates, stopped = self._organizations(client, patient)
        unread = [f"the directory search {stopped}"] if stopped else []
        if not candidates:
            raise NotFound(
                f"Organization search: the directory lists no organization near the ZIP of "
                f"{patient.alias!r} but your own{_said(unread)}"
            )
        for oid, name in candidates:
            walk = self._search_at(client, patient, oid)
            match = self.matched(walk.pages, patient)
            if match is not None:
                found = location(oid, name, match, self.fhir.identifier_system)
                return Located(patient, {}, (found,))
            if walk.more:
                unread.append(f"the patient search at {oid} {walk.stopped()}")
        raise NotFound(
            f"Patient search: no match for {patient.alias!r} at any of the {len(candidates)} "
            f"organization(s) searched ({NOT_ON_NETWORK}){_said(unread)}"
        )

    @verifies("CQ-02", "FHIR-04")
    def carried_metadata(self, exchanges: list[Exchange]) -> None:
        """Every request to a Carequality organization (ceq-xcpd, ceq-xca) carried the
        environment's metadata headers, each with its value."""
        expected = self.settings.carequality_headers()
        kinds = (self.fhir.patients_slug, self.fhir.documents_slug)
        # the slugs' text before the organization's OID: "/fhir/R4/ceq-xcpd:"
        prefixes = tuple(f"{self.fhir.base_path}/{k.split('{oid}')[0]}" for k in kinds)
        sent = [e for e in exchanges if any(p in e.url for p in prefixes)]
        if not sent:
            said = sorted({e.kind or e.label for e in exchanges})
            slugs = ", ".join(k.split("{oid}")[0].rstrip(":") for k in kinds)
            raise CheckFailed(
                f"no request to a Carequality organization ({slugs}) was sent in this "
                f"scenario; sent: {', '.join(said) or 'nothing'}"
            )
        for exchange in sent:
            carried_headers(exchange, expected)

    @verifies("FHIR-03")
    def narrow(self, client: RedoxClient, located: Located) -> Walk:
        """The search within the organization by the identifier it gave the patient (not the
        demographics that located them): the answer must be the same patient."""
        chosen = located.chosen
        first = chosen.patient_identifiers[0]
        token = f"{system_of(first['IDType'], self.fhir.identifier_system)}|{first['ID']}"
        return self._search_at(
            client, located.patient, chosen.organization_oid, {"identifier": [token]}
        )

    @verifies("PS-05")
    def matched_at(self, found: Walk, located: Located) -> dict[str, Any]:
        """The match at the chosen organization carries the identifiers it was located with."""
        exchange = found.pages[0]
        match = self.matched(found.pages, located.patient)
        if match is None:
            stopped = f": {found.stopped()}" if found.more else ""
            raise NotFound(
                f"{exchange.label}: no match within the organization that holds records{stopped}"
            )
        if located.chosen.patient_id and match.get("id") != located.chosen.patient_id:
            raise WrongContent(
                f"{exchange.label}: $.entry[].resource.id: another patient than the one the "
                "organization answered for before"
            )
        template = self.fhir.identifier_system
        got = {(i.get("value"), oid_of(i.get("system"), template)) for i in match["identifier"]}
        if not got & set(located.chosen.identifiers):
            raise WrongContent(
                f"{exchange.label}: $.entry[].resource.identifier: none of the identifiers the "
                "patient was located with at this organization"
            )
        return match


def _said(unread: list[str]) -> str:
    """What was not read, after a failure's message."""
    return f"; {'; '.join(unread)}" if unread else ""


def location(oid: str, name: str, match: dict[str, Any], template: str) -> Location:
    """Where a match of `matched` (identifiers and id checked there) was found."""
    identifiers = tuple(
        (str(i["value"]), oid_of(i["system"], template)) for i in match["identifier"]
    )
    return Location(oid, name, identifiers, str(match["id"]))


def _organization_oid(organization: Any, oid_system: str) -> str | None:
    """The OID of a directory's Organization: its identifier with system `fhir.oid_system`,
    or an `urn:ietf:rfc:3986` one as the Carequality directory writes it (4.7); else its id."""
    if not isinstance(organization, dict):
        return None
    for identifier in organization.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") in (
            oid_system,
            "urn:ietf:rfc:3986",
        ):
            return str(identifier.get("value") or "").removeprefix("urn:oid:") or None
    found = organization.get("id")
    return str(found) if found else None
