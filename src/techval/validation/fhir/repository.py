"""Finding what was pushed to the data-on-demand repository, through Redox's FHIR API: the
pushes stay Data Model messages (the only documented way to write the repository), then your
own organization is searched as the network would: `Patient/_search` on
`ceq-xcpd:{your OID}` and `DocumentReference/_search` on `ceq-xca:{your OID}`, repeated until
what was pushed shows up (data_on_demand limits). A FHIR Patient is read into the record shape
the checks compare (Identifiers with IDType, Demographics), so the expectations are the same
for both APIs. Sources: docs/redox-facts.md, FHIR 5.x, 6.x, 7.1."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import Settings
from techval.core.errors import NotFound, ReadbackMismatch
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.core.verifies import verifies
from techval.validation.fhir import paging
from techval.validation.fhir.documents import CDA_CATEGORY
from techval.validation.fhir.paging import SEARCHSET
from techval.validation.fhir.search import demographics_form, oid_of, patient_id, system_of
from techval.validation.finding import OwnOrganizationFinder
from techval.validation.patients import TestPatient

PHONES = {"home": "Home", "mobile": "Mobile", "work": "Office"}


def record_of(patient: dict[str, Any], template: str = "urn:oid:{oid}") -> dict[str, Any]:
    """A FHIR Patient as the record the checks compare: identifiers (system -> IDType), names,
    birth date, sex, the first address, phones by use and e-mail addresses."""
    names = [n for n in patient.get("name") or [] if isinstance(n, dict)]
    name = names[0] if names else {}
    given = [g for g in name.get("given") or [] if g]
    addresses = [a for a in patient.get("address") or [] if isinstance(a, dict)]
    address = addresses[0] if addresses else {}
    telecom = [t for t in patient.get("telecom") or [] if isinstance(t, dict)]
    phones = {
        PHONES.get(str(t.get("use")), "Home"): t.get("value")
        for t in telecom
        if t.get("system") == "phone"
    }
    demographics = {
        "FirstName": given[0] if given else None,
        "MiddleName": given[1] if len(given) > 1 else None,
        "LastName": name.get("family"),
        "DOB": patient.get("birthDate"),
        "Sex": str(patient.get("gender") or "").capitalize() or None,
        "Address": {
            "StreetAddress": " ".join(address.get("line") or []) or None,
            "City": address.get("city"),
            "State": address.get("state"),
            "ZIP": address.get("postalCode"),
            "County": address.get("district"),
            "Country": address.get("country"),
        },
        "PhoneNumber": phones,
        "EmailAddresses": [t.get("value") for t in telecom if t.get("system") == "email"],
    }
    identifiers = [
        {"ID": i.get("value"), "IDType": oid_of(i.get("system"), template)}
        for i in patient.get("identifier") or []
        if isinstance(i, dict)
    ]
    return {"Identifiers": identifiers, "Demographics": demographics}


@verifies("FHIR-03")
def by_identifiers(
    ids: list[dict[str, str]], template: str = "urn:oid:{oid}"
) -> dict[str, list[str]]:
    """A Patient/_search by identifier token (`system|value`, the system from the OID as
    `fhir.identifier_system` writes it)."""
    return {"identifier": [f"{system_of(i['IDType'], template)}|{i['ID']}" for i in ids]}


def document_ids(document_id: str) -> set[str]:
    """The values a pushed document's ID may be listed under (INFERRED): the ID itself, the
    extension of `root^extension`, and a UUID as its `urn:uuid:` URI."""
    found = {document_id}
    _, caret, extension = document_id.partition("^")
    if caret:
        found.add(extension)
    with contextlib.suppress(ValueError):
        found.add(uuid.UUID(document_id).urn)
    return found


class FhirFinder(OwnOrganizationFinder):
    """Your own organization searched through FHIR, until the push shows up."""

    def __init__(self, client: RedoxClient, settings: Settings, reporter: Reporter) -> None:
        super().__init__(client, settings, reporter)
        self.fhir = settings.fhir
        self.own = settings.carequality.sender
        self.stopped = ""  # the last search's walk, when fhir.max_pages ended it early

    def _walk(self, first: Exchange, headers: dict[str, str]) -> list[Exchange]:
        """The pages of a search, remembering whether fhir.max_pages cut it short."""
        walk = paging.pages(self.client, first, self.fhir, headers, reporter=self.reporter)
        self.stopped = f"{first.label} {walk.stopped()}" if walk.more else ""
        return walk.pages

    def _until(self, what: str, probe: Callable[[], Any]) -> Any:
        """Polling, its "not found" saying when the last search did not read every page."""
        try:
            return super()._until(what, probe)
        except NotFound as exc:
            if not self.stopped:
                raise
            raise NotFound(f"{exc}; the last {self.stopped}") from None

    def _patients(self, form: dict[str, list[str]]) -> list[tuple[str, dict[str, Any]]]:
        """The Patients your organization answers the search with, each with its place."""
        headers = self.settings.carequality_headers()
        first = self.client.request(
            "Patient search",
            "POST",
            self.fhir.path(self.fhir.patients_slug.format(oid=self.own.oid), "Patient/_search"),
            form=form,
            headers=headers,
            response_schema=SEARCHSET,
        )
        return paging.placed(self._walk(first, headers), "Patient")

    def _search(
        self, patient: TestPatient, ids: list[dict[str, str]] | None
    ) -> dict[str, Any] | None:
        # by identifier: unambiguous even when records share demographics
        template = self.fhir.identifier_system
        form = by_identifiers(ids, template) if ids is not None else demographics_form(patient)
        patients = self._patients(form)
        if not patients:
            return None
        where, found = patients[0]
        patient_id(where, found)  # a Patient without its id is no conforming answer
        return record_of(found, template)

    def _documents(self, patient_id: str) -> Exchange:
        slug = self.fhir.documents_slug.format(oid=self.own.oid)
        return self.client.request(
            "DocumentReference search",
            "POST",
            self.fhir.path(slug, "DocumentReference/_search"),
            form={"patient": [patient_id], "category": [CDA_CATEGORY]},
            headers=self.settings.carequality_headers(),
            response_schema=SEARCHSET,
        )

    @verifies("DOD-07")
    def document(self, ids: list[dict[str, str]], sent: dict[str, Any]) -> dict[str, Any]:
        """The pushed document (`sent`: its Header.Document) among your organization's
        DocumentReferences of the patient, by ID; it must carry the type code sent
        (type.coding), and the title sent where it lists one (description,
        content[].attachment.title), as the Data Model check compares the list entry."""
        what = f"the pushed document {sent['ID']}"
        wanted = document_ids(str(sent["ID"]))

        def probe() -> dict[str, Any] | None:
            patient_id = self._patient_id(ids)
            if patient_id is None:
                return None
            headers = self.settings.carequality_headers()
            found = self._walk(self._documents(patient_id), headers)
            for document in paging.resources(found, "DocumentReference"):
                if _listed_ids(document) & wanted:
                    problem = listed_as_sent(document, sent)
                    if problem:
                        raise ReadbackMismatch(f"{what}: found, but {problem}")
                    return dict(document)
            return None

        result: dict[str, Any] = self._until(what, probe)
        return result

    def _patient_id(self, ids: list[dict[str, str]]) -> str | None:
        """The id of the patient these identifiers find (None: not found yet); found without
        one is said so (WrongContent), not waited on as "not found"."""
        patients = self._patients(by_identifiers(ids, self.fhir.identifier_system))
        return patient_id(*patients[0]) if patients else None


def _listed_ids(document: dict[str, Any]) -> set[str]:
    """The values a DocumentReference is identified by: its masterIdentifier and identifiers."""
    master = document.get("masterIdentifier") or {}
    return {str(master.get("value"))} | {
        str(i.get("value")) for i in document.get("identifier") or [] if isinstance(i, dict)
    }


def listed_as_sent(document: dict[str, Any], sent: dict[str, Any]) -> str:
    """What of the pushed document (`sent`: its Header.Document) the DocumentReference found
    does not hold ("" when nothing): the type code sent must be among type.coding's codes (a
    listing without them cannot show it); the title sent, where the listing has one as its
    description or an attachment's title, must be it (a title left out is fine, as for the
    Data Model's list). Paths and kinds only, no values."""
    code = sent["TypeCode"]["Code"]
    kind = document.get("type")
    coding = kind.get("coding") if isinstance(kind, dict) else None
    codes = {c.get("code") for c in coding or [] if isinstance(c, dict)} - {None, ""}
    if not codes:
        return "type.coding: missing (no code), the type code sent cannot be compared"
    if code not in codes:
        return "type.coding[].code differs from the type code sent"
    title = sent.get("Title")
    if not title:
        return ""
    places = {"description": document.get("description")}
    for index, content in enumerate(document.get("content") or []):
        attachment = content.get("attachment") if isinstance(content, dict) else None
        if isinstance(attachment, dict):
            places[f"content[{index}].attachment.title"] = attachment.get("title")
    wrong = [path for path, listed in places.items() if listed not in (None, "", title)]
    return f"{', '.join(wrong)} differs from the title sent" if wrong else ""
