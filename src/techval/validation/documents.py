"""Documents of a located patient: list (DocumentQuery), retrieve (DocumentGet), summary
(PatientQuery), sent to the clinical summary destination with FacilityCode = the organization."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import Settings
from techval.core.errors import NotFound, RedoxRefused, TestDataMismatch, WrongContent
from techval.core.exchange import Exchange
from techval.core.redox import HL7_V3
from techval.core.verifies import verifies
from techval.validation import cda, readback
from techval.validation.checks import answered, succeeded
from techval.validation.located import Location
from techval.validation.messages import envelope
from techval.validation.patients import TestPatient

NO_DOCUMENTS = "could not find any documents"
CDA_ROOT = f"{{{HL7_V3}}}ClinicalDocument"


def _query(settings: Settings, event_type: str, location: Location) -> dict[str, Any]:
    message = envelope(
        settings,
        "Clinical Summary",
        event_type,
        "clinical_summary",
        facility=location.organization_oid,
    )
    message["Patient"] = {"Identifiers": location.patient_identifiers}
    return message


@verifies("DQ-01")
def document_query(settings: Settings, location: Location) -> dict[str, Any]:
    return _query(settings, "DocumentQuery", location)


def patient_query(settings: Settings, location: Location) -> dict[str, Any]:
    return _query(settings, "PatientQuery", location)


def document_get(settings: Settings, location: Location, document_id: str) -> dict[str, Any]:
    message = envelope(
        settings,
        "Clinical Summary",
        "DocumentGet",
        "clinical_summary",
        facility=location.organization_oid,
    )
    message["Document"] = {"ID": document_id}
    return message


@verifies("DQ-06")
def reports_no_documents(exchange: Exchange) -> bool:
    """Redox's documented "no documents" answer: HTTP 200 with that Meta.Errors text."""
    return exchange.status == 200 and any(
        NO_DOCUMENTS in e.casefold() for e in exchange.redox_errors
    )


@verifies("DQ-02")
def listed(exchange: Exchange) -> list[dict[str, Any]]:
    """The documents of a DocumentQuery answer; each must have an ID and a type."""
    succeeded(exchange)
    documents = exchange.response_body["Documents"]
    if not documents:
        raise NotFound(f"{exchange.label}: the document list is empty")
    for index, document in enumerate(documents):
        kind = document.get("Type") or {}
        if not (kind.get("Code") or kind.get("Name")):
            raise WrongContent(f"{exchange.label}: $.Documents[{index}].Type: no code or name")
    return list(documents)


@verifies("DQ-03")
def retrieved(exchange: Exchange, requested_id: str) -> str:
    """The content of a DocumentGet answer, which must be the requested document."""
    succeeded(exchange)
    body = exchange.response_body
    if body["Document"]["ID"] != requested_id:
        raise WrongContent(
            f"{exchange.label}: $.Document.ID: another document came back than the one requested"
        )
    return str(body["Data"])


@verifies("DQ-04")
def cda_text(data: str, file_type: str) -> str:
    """The XML text of a CDA in DocumentGet Data: raw XML, or base64 for other file types."""
    text = data.lstrip()
    if text.startswith("<") or file_type.upper() == "XML":
        return text
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return data


@verifies("DQ-04")
def check_cda(exchange: Exchange, data: str) -> None:
    """A CDA must be well-formed XML with a ClinicalDocument root in the HL7 v3 namespace."""
    text = cda_text(data, str(exchange.response_body.get("FileType", "")))
    problem = cda.malformed(text)
    if problem is not None:
        raise WrongContent(f"{exchange.label}: $.Data: {problem}")


@verifies("DQ-05")
def summary(exchange: Exchange, location: Location) -> dict[str, Any]:
    """A PatientQuery answer: the latest summary document, for the patient that was asked about."""
    succeeded(exchange)
    header = exchange.response_body.get("Header") or {}
    document = header.get("Document") or {}
    if not document.get("ID"):
        raise WrongContent(f"{exchange.label}: $.Header.Document.ID: the summary names no document")
    # the same patient: one identifier in common (readback: order, nulls and added fields do
    # not matter); the summary may carry fewer identifiers than the record locator listed
    got = (header.get("Patient") or {}).get("Identifiers")
    if not readback.blank(got) and not readback.matching(location.patient_identifiers, got):
        raise WrongContent(
            f"{exchange.label}: $.Header.Patient.Identifiers: the summary is of another patient"
        )
    return dict(header)


@verifies("DQ-06")
def expect_no_documents(exchange: Exchange, patient: TestPatient) -> None:
    """Redox's documented "no documents" answer, itself well-formed. A well-formed list of
    documents means the test data does not fit: this patient has documents there."""
    if exchange.status == 200 and not exchange.redox_errors and not exchange.violations:
        listed = exchange.response_body.get("Documents") or []
        if listed:
            raise TestDataMismatch(
                patient.alias,
                "organization",
                f"{exchange.label} lists {len(listed)} document(s) for this patient at the "
                "organization used, who should have none there",
            )
    if not reports_no_documents(exchange):
        errors = "; ".join(exchange.redox_errors) or "without Meta.Errors"
        refused = exchange.redox_errors or not 200 <= (exchange.status or 0) < 300
        raise (RedoxRefused if refused else WrongContent)(
            f"{exchange.label}: expected Redox's 'no documents' answer, got HTTP "
            f"{exchange.status} {errors}"
        )
    answered(exchange)


class DataModelDocuments:
    """Documents through the Data Model API: ClinicalSummary DocumentQuery and DocumentGet."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def search(self, client: RedoxClient, location: Location) -> Exchange:
        return client.send(document_query(self.settings, location))

    def listed(self, exchange: Exchange) -> list[str]:
        return [str(document["ID"]) for document in listed(exchange)]

    def retrieve(self, client: RedoxClient, location: Location, document_id: str) -> Exchange:
        return client.send(document_get(self.settings, location, document_id))

    def retrieved(self, exchange: Exchange, requested_id: str) -> str:
        return retrieved(exchange, requested_id)

    def check_cda(self, exchange: Exchange, data: str) -> None:
        check_cda(exchange, data)

    def expect_no_documents(self, exchange: Exchange, patient: TestPatient) -> None:
        expect_no_documents(exchange, patient)

    def summary_of(self, client: RedoxClient, location: Location) -> Exchange:
        """ClinicalSummary.PatientQuery: the latest summary of the patient there."""
        return client.send(patient_query(self.settings, location))

    def summary(self, exchange: Exchange, location: Location) -> dict[str, Any]:
        return summary(exchange, location)
