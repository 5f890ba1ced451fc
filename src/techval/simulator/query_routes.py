"""Routes of the Carequality query destinations: patient search (record locator and within one
organization) and clinical summary (DocumentQuery, DocumentGet, PatientQuery).

Every step needs the Carequality metadata; without it the network answers 401 (redox-api.md 5.6).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import wraps
from typing import TYPE_CHECKING, Any

from techval.rules import carequality_metadata
from techval.simulator.network import Holding, NetworkPatient
from techval.simulator.responses import Reply, echo_meta, error, errors_reply, json_reply
from techval.simulator.routes import Handler, handles

if TYPE_CHECKING:
    from techval.simulator.app import Simulator

NO_DOCUMENTS = (
    "Something Went Wrong Retrieving The Document List. Error: Could Not Find Any Documents."
)
NOT_FOUND = "The file you're looking for isn't found."
NO_ENDPOINT = "Repository URL and certificate are required. Review destination configuration."
HL7 = "{urn:hl7-org:v3}"
# CDA section LOINC code -> the key of its narrative in Redox's parsed view.
SECTION_TEXT = {
    "48765-2": "AllergyText",
    "11450-4": "ProblemsText",
    "10160-0": "MedicationsText",
    "8716-3": "VitalSignsText",
    "18776-5": "PlanOfCareText",
    "51847-2": "AssessmentText",
    "47519-4": "ProceduresText",
    "30954-2": "ResultText",
    "29762-2": "SocialHistoryText",
    "11369-6": "ImmunizationText",
    "46240-8": "EncountersText",
}


def carequality(handler: Handler) -> Handler:
    """Refuse (401) a step without the Carequality metadata, as the network does."""

    @wraps(handler)
    def checked(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
        missing = carequality_metadata(message)
        if missing:
            texts = [
                error(
                    f"Unauthorized: Carequality metadata missing - {v.path[2:]}",
                    kind="query",
                    module="Send",
                )
                for v in missing
            ]
            return errors_reply(401, message["Meta"], texts, name)
        return handler(sim, message, name)

    return checked


def _answer(message: dict[str, Any], name: str, **body: Any) -> Reply:
    return json_reply(200, {"Meta": echo_meta(message["Meta"], name), **body})


def _patient(patient: NetworkPatient, identifiers: list[dict[str, str]]) -> dict[str, Any]:
    return {"Identifiers": identifiers, "Demographics": patient.demographics}


@handles("patient_search", "PatientSearch", "Query")
@carequality
def broad_search(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    """Record locator: the match carries the network patient ID (redox-api.md 4.2.2)."""
    matches = sim.network.match(message["Patient"].get("Demographics") or {})
    if len(matches) > 1:
        return _answer(
            message,
            name,
            Patient={},
            PotentialMatches=[_patient(p, [p.network_id]) for p in matches],
        )
    if not matches:
        return _answer(message, name, Patient={})
    return _answer(message, name, Patient=_patient(matches[0], [matches[0].network_id]))


@handles("patient_search", "PatientSearch", "LocationQuery")
@carequality
def locate(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    patient = sim.network.by_network_id(message["Patient"]["Identifiers"][0])
    holdings = patient.holdings if patient else []
    return _answer(
        message,
        name,
        Patients=[
            {
                "Identifiers": [h.identifier],
                "Organization": {
                    "Name": h.organization["name"],
                    "Aliases": [],
                    "Identifiers": [{"ID": h.oid, "IDType": "OID"}],
                    "Contacts": [],
                    "Address": h.organization.get("address"),
                },
            }
            for h in holdings
        ],
    )


@handles("organization_patient_search", "PatientSearch", "Query")
@carequality
def search_in_organization(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    oid = message["Meta"].get("FacilityCode")
    if oid not in sim.network.organizations:
        return errors_reply(
            200, message["Meta"], [error(NO_ENDPOINT, kind="query", module="Send")], name
        )
    patient = message["Patient"]
    matches = sim.network.match(patient.get("Demographics") or {}, oid)
    if not matches and patient.get("Identifiers"):
        held = sim.network.holding(oid, patient["Identifiers"])
        matches = [held[0]] if held else []
    if not matches:
        return _answer(message, name, Patient={})
    holding = matches[0].at(oid)
    assert holding is not None
    return _answer(message, name, Patient=_patient(matches[0], [holding.identifier]))


def _located(
    sim: Simulator, message: dict[str, Any], name: str
) -> tuple[NetworkPatient, Holding] | Reply:
    """The record the queried organization holds, or the network's refusal."""
    oid = message["Meta"].get("FacilityCode")
    if oid not in sim.network.organizations:
        return errors_reply(
            200, message["Meta"], [error(NO_ENDPOINT, kind="query", module="Send")], name
        )
    held = sim.network.holding(oid, message["Patient"]["Identifiers"])
    if held is None:
        return errors_reply(
            404, message["Meta"], [error(NOT_FOUND, kind="query", module="Send")], name
        )
    return held


def _no_documents(message: dict[str, Any], name: str) -> Reply:
    return errors_reply(
        200, message["Meta"], [error(NO_DOCUMENTS, kind="query", module="Send")], name
    )


def _wanted(document: dict[str, Any], query: dict[str, Any]) -> bool:
    """Honour DocumentQuery's Document.Types and StartDate/EndDate filters."""
    types = [t.get("Code") for t in query.get("Types") or [] if t and t.get("Code")]
    if types and document["type"].get("Code") not in types:
        return False
    day = str(document["datetime"])[:10]
    start, end = query.get("StartDate"), query.get("EndDate")
    return not (start and day < str(start)[:10]) and not (end and day > str(end)[:10])


@handles("clinical_summary", "Clinical Summary", "DocumentQuery")
@carequality
def document_query(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    located = _located(sim, message, name)
    if isinstance(located, Reply):
        return located
    _, holding = located
    documents = [d for d in holding.documents if _wanted(d, message.get("Document") or {})]
    if not documents:
        return _no_documents(message, name)
    return _answer(
        message,
        name,
        Patient={"Identifiers": [holding.identifier]},
        Documents=[
            {
                "ID": d["id"],
                "Title": d["title"],
                "DateTime": d["datetime"],
                "Locale": "US",
                "Type": d["type"],
                "Author": {},
                "Visit": {},
                "Location": {},
            }
            for d in documents
        ],
    )


@handles("clinical_summary", "Clinical Summary", "DocumentGet")
@carequality
def document_get(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    document = sim.network.document(
        str(message["Meta"].get("FacilityCode")), message["Document"]["ID"]
    )
    if document is None:
        return errors_reply(
            404, message["Meta"], [error(NOT_FOUND, kind="query", module="Send")], name
        )
    return _answer(
        message,
        name,
        Document={"ID": document["id"]},
        FileType="XML",
        Data=sim.network.document_text(document),
    )


def parsed_sections(text: str) -> dict[str, str]:
    """The narrative of each known CDA section, keyed as in Redox's parsed view."""
    sections: dict[str, str] = {}
    root = ET.fromstring(text)  # noqa: S314 - the simulator's own fixture
    for section in root.iter(f"{HL7}section"):
        code = section.find(f"{HL7}code")
        key = SECTION_TEXT.get(code.get("code", "") if code is not None else "")
        narrative = section.find(f"{HL7}text")
        if key and narrative is not None:
            sections[key] = " ".join(" ".join(narrative.itertext()).split())
    return sections


@handles("clinical_summary", "Clinical Summary", "PatientQuery")
@carequality
def patient_query(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    """The latest summary document in Redox's parsed view (CDA only)."""
    located = _located(sim, message, name)
    if isinstance(located, Reply):
        return located
    patient, holding = located
    if not holding.documents:
        return _no_documents(message, name)
    latest = max(holding.documents, key=lambda d: str(d["datetime"]))
    kind = latest["type"]
    header = {
        "Document": {
            "ID": latest["id"],
            "Title": latest["title"],
            "DateTime": latest["datetime"],
            "Type": kind.get("Name"),
            "Locale": "US",
            "TypeCode": {
                "Code": kind.get("Code"),
                "CodeSystem": "2.16.840.1.113883.6.1",
                "CodeSystemName": "LOINC",
                "Name": kind.get("Name"),
            },
        },
        "Patient": _patient(patient, [holding.identifier]),
    }
    return _answer(
        message, name, Header=header, **parsed_sections(sim.network.document_text(latest))
    )
