"""Documents of a located patient through Redox's FHIR API, slug `ceq-xca:{oid}`:
`DocumentReference/_search` (form-encoded, `patient` = the Patient id the search returned,
with the Carequality headers), then `GET DocumentReference/{id}`, the base64 attachment
decoded: a CDA must be well-formed XML with an HL7 v3 root. Each request must have carried the
Carequality headers (checked on the request as sent). No documents is an empty
searchset. The latest-summary query is Data Model only. Sources: docs/redox-facts.md, FHIR 6.x.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import quote

from techval.core.client import RedoxClient
from techval.core.config import Settings
from techval.core.errors import NotFound, NotOffered, TestDataMismatch, WrongContent
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.core.verifies import verifies
from techval.validation import cda
from techval.validation.checks import succeeded
from techval.validation.fhir import paging
from techval.validation.fhir.paging import SEARCHSET, Walk
from techval.validation.fhir.search import carried_headers
from techval.validation.located import Location
from techval.validation.patients import TestPatient

DOCUMENT = "fhir/DocumentReference"
# Redox's category for XML CDA documents in a DocumentReference search (FHIR 6.5)
CDA_CATEGORY = "urn:redox:document_kind|CDA"


class FhirDocuments:
    def __init__(self, settings: Settings, reporter: Reporter | None = None) -> None:
        self.settings = settings
        self.fhir = settings.fhir
        self.reporter = reporter  # told of a search that stopped with pages remaining

    def _path(self, location: Location, tail: str) -> str:
        return self.fhir.path(self.fhir.documents_slug.format(oid=location.organization_oid), tail)

    @verifies("DQ-01", "FHIR-03")
    def search(self, client: RedoxClient, location: Location) -> Walk:
        """The documents of the located patient there: every page of the searchset."""
        if not location.patient_id:
            raise WrongContent(
                "Patient search: the patient matched without an id: no document can be asked for"
            )
        headers = self.settings.carequality_headers()
        first = client.request(
            "DocumentReference search",
            "POST",
            self._path(location, "DocumentReference/_search"),
            form={"patient": [location.patient_id], "category": [CDA_CATEGORY]},
            headers=headers,
            response_schema=SEARCHSET,
        )
        carried_headers(first, headers)
        return paging.pages(client, first, self.fhir, headers, reporter=self.reporter)

    def _sent(self, exchange: Exchange) -> Exchange:
        carried_headers(exchange, self.settings.carequality_headers())
        return exchange

    @verifies("DQ-02")
    def listed(self, found: Walk) -> list[str]:
        """The IDs of the listed documents (every page); each must have an id and a type."""
        label = found.pages[0].label
        documents = paging.resources(found.pages, "DocumentReference")
        if not documents:
            stopped = f": {found.stopped()}" if found.more else ""
            raise NotFound(f"{label}: the document list is empty{stopped}")
        for index, document in enumerate(documents):
            if not document.get("id"):
                raise WrongContent(f"{label}: $.entry[{index}].resource.id: missing")
            if not (document.get("type") or document.get("category")):
                raise WrongContent(f"{label}: $.entry[{index}].resource: no type nor category")
        return [str(d["id"]) for d in documents]

    @verifies("DQ-01", "FHIR-03")
    def retrieve(self, client: RedoxClient, location: Location, document_id: str) -> Exchange:
        return self._sent(
            client.request(
                "DocumentReference read",
                "GET",
                self._path(location, f"DocumentReference/{quote(document_id, safe='')}"),
                headers=self.settings.carequality_headers(),
                response_schema=DOCUMENT,
            )
        )

    @verifies("DQ-03")
    def retrieved(self, exchange: Exchange, requested_id: str) -> str:
        """The decoded content of the document read, which must be the one asked for."""
        succeeded(exchange)
        body = exchange.response_body
        if body.get("id") != requested_id:
            raise WrongContent(
                f"{exchange.label}: $.id: another document came back than the one requested "
                f"({str(body.get('id'))[:80]!r}, not {requested_id[:80]!r})"
            )
        contents = [c for c in body.get("content") or [] if isinstance(c, dict)]
        # the CDA (text/xml) first: a document may also come as a PDF or a parsed view
        contents.sort(key=lambda c: not _xml((c.get("attachment") or {}).get("contentType")))
        for index, content in enumerate(contents):
            attachment = content.get("attachment")
            data = attachment.get("data") if isinstance(attachment, dict) else None
            if not data:
                continue
            try:
                return base64.b64decode(data, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise WrongContent(
                    f"{exchange.label}: $.content[{index}].attachment.data: not base64 of "
                    "UTF-8 text"
                ) from None
        raise WrongContent(f"{exchange.label}: $.content[].attachment.data: no document data")

    @verifies("DQ-04")
    def check_cda(self, exchange: Exchange, text: str) -> None:
        problem = cda.malformed(text)
        if problem is not None:
            raise WrongContent(f"{exchange.label}: $.content[].attachment.data: {problem}")

    def summary_of(self, client: RedoxClient, location: Location) -> Exchange:
        raise _not_offered()  # scenarios that need it are tagged @summary_query

    def summary(self, exchange: Exchange, location: Location) -> dict[str, Any]:
        raise _not_offered()

    @verifies("DQ-06")
    def expect_no_documents(self, found: Walk, patient: TestPatient) -> None:
        """An empty searchset. Documents listed mean the test data does not fit."""
        listed = paging.resources(found.pages, "DocumentReference")
        if listed:
            raise TestDataMismatch(
                patient.alias,
                "organization",
                f"{found.pages[0].label} lists {len(listed)} document(s) for this patient at the "
                "organization used, who should have none there",
            )


def _xml(content_type: Any) -> bool:
    return str(content_type or "").split(";")[0].strip() in ("text/xml", "application/xml")


SUMMARY = "the latest summary of a patient (ClinicalSummary.PatientQuery)"


def _not_offered() -> NotOffered:
    return NotOffered(SUMMARY, "FHIR API")
