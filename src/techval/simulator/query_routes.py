"""Routes of the Carequality query destinations: patient search (record locator and within one
organization) and clinical summary (DocumentQuery, DocumentGet, PatientQuery).

Every step needs the Carequality metadata; without it the network answers 401 (redox-api.md 5.6).
Answers are shaped like Redox's examples: explicit nulls, lists in the network's order rather
than the one sent, the record locator answering "Active" before "Success" (10.1, 10.4).
"""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Any

from techval.core.redox import LOINC, SUCCESS, TASK_STATUS
from techval.simulator.acceptance import carequality_refusals
from techval.simulator.clinical_documents import narratives
from techval.simulator.network import Holding, Network, NetworkPatient
from techval.simulator.record_locator import task_status
from techval.simulator.responses import Reply, echo_meta, error, errors_reply, json_reply
from techval.simulator.routes import Handler, Routes
from techval.simulator.shapes import (
    DEMOGRAPHICS,
    LISTED_DOCUMENT,
    LOCATION_ORGANIZATION,
    SUMMARY_HEADER,
    filled,
    reordered,
)

if TYPE_CHECKING:
    from techval.simulator.app import Simulator

NO_DOCUMENTS = (
    "Something Went Wrong Retrieving The Document List. Error: Could Not Find Any Documents."
)
NOT_FOUND = "The file you're looking for isn't found."
NO_ENDPOINT = "Repository URL and certificate are required. Review destination configuration."
CDA_MIME_TYPE = "text/xml"  # DocumentGetResponse FileType in Redox's examples (10.4)


def carequality(handler: Handler) -> Handler:
    """Refuse (401) a step without the Carequality metadata, as the network does."""

    @wraps(handler)
    def checked(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
        refusals = carequality_refusals(message)
        if refusals:
            texts = [error(text, kind="query", module="Send") for text in refusals]
            return errors_reply(401, message["Meta"], texts, name)
        return handler(sim, message, name)

    return checked


def _answer(message: dict[str, Any], name: str, **body: Any) -> Reply:
    return json_reply(200, {"Meta": echo_meta(message["Meta"], name), **body})


def _search_answer(message: dict[str, Any], name: str, **body: Any) -> Reply:
    """A PatientSearch answer: Meta.IsIncomplete false, as in Redox's example (10.4)."""
    meta = echo_meta(message["Meta"], name)
    meta["IsIncomplete"] = False
    return json_reply(200, {"Meta": meta, **body})


def _patient(patient: NetworkPatient, identifiers: list[dict[str, str]]) -> dict[str, Any]:
    return {"Identifiers": identifiers, "Demographics": filled(DEMOGRAPHICS, patient.demographics)}


ROUTES = Routes()  # this module's routes (app.py merges them)


@ROUTES.handles("patient_search", "PatientSearch", "Query")
@carequality
def broad_search(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    """Record locator: the match carries the network patient ID (redox-api.md 4.2.2)."""
    matches = sim.network.match((message.get("Patient") or {}).get("Demographics") or {})
    if len(matches) > 1:
        return _search_answer(
            message,
            name,
            Patient={},
            PotentialMatches=[_patient(p, [p.network_id]) for p in matches],
        )
    if not matches:
        return _search_answer(message, name, Patient={})
    return _search_answer(
        message,
        name,
        Patient=_patient(matches[0], [matches[0].network_id]),
        PotentialMatches=[],
    )


def _location(holding: Holding) -> dict[str, Any]:
    organization = holding.organization
    return {
        "Identifiers": holding.identifiers,
        "Organization": filled(
            LOCATION_ORGANIZATION,
            {
                "Name": organization["name"],
                "Identifiers": [{"ID": holding.oid, "IDType": "OID"}],
                "Contacts": organization.get("contacts") or [],
                "Address": organization.get("address"),
            },
        ),
    }


@ROUTES.handles("patient_search", "PatientSearch", "LocationQuery")
@carequality
def locate(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    """Organizations holding records of the patient, found asynchronously (10.1)."""
    identifiers = message["Patient"]["Identifiers"]
    status, share = sim.record_locator.ask(identifiers[0] if identifiers else None)
    patient = sim.network.by_network_id(identifiers)
    holdings = patient.holdings if patient else []
    if status != SUCCESS:
        holdings = holdings[: int(len(holdings) * share)]
    meta = echo_meta(message["Meta"], name)
    meta.setdefault("Extensions", {})[TASK_STATUS] = task_status(status)
    return json_reply(200, {"Meta": meta, "Patients": [_location(h) for h in holdings]})


def source_for(sim: Simulator, oid: Any) -> Network | None:
    """Who answers for an organization: the user's repository for their own organizations,
    the simulated network for the others, nobody for an OID neither knows."""
    for source in (sim.repository, sim.network):
        if oid in source.organizations:
            return source
    return None


def _no_endpoint(message: dict[str, Any], name: str) -> Reply:
    return errors_reply(
        200, message["Meta"], [error(NO_ENDPOINT, kind="query", module="Send")], name
    )


def _not_found(message: dict[str, Any], name: str) -> Reply:
    return errors_reply(404, message["Meta"], [error(NOT_FOUND, kind="query", module="Send")], name)


@ROUTES.handles("organization_patient_search", "PatientSearch", "Query")
@carequality
def search_in_organization(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    oid = str(message["Meta"].get("FacilityCode"))
    source = source_for(sim, oid)
    if source is None:
        return _no_endpoint(message, name)
    patient = message.get("Patient") or {}
    matches = source.match(patient.get("Demographics") or {}, oid)
    if patient.get("Identifiers"):  # an identifier search looks the record up directly
        held = source.holding(oid, patient["Identifiers"])
        matches = [held[0]] if held else []
    if not matches:
        return _search_answer(message, name, Patient={})
    holding = matches[0].at(oid)
    assert holding is not None
    identifiers = source.identifiers_at(matches[0], holding)
    return _search_answer(
        message, name, Patient=_patient(matches[0], identifiers), PotentialMatches=[]
    )


Located = tuple[Network, NetworkPatient, Holding]


def _located(sim: Simulator, message: dict[str, Any], name: str) -> Located | Reply:
    """The record the queried organization holds, or the network's refusal."""
    oid = str(message["Meta"].get("FacilityCode"))
    source = source_for(sim, oid)
    if source is None:
        return _no_endpoint(message, name)
    held = source.holding(oid, message["Patient"]["Identifiers"])
    if held is None:
        return _not_found(message, name)
    return source, held[0], held[1]


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


def _listed(document: dict[str, Any]) -> dict[str, Any]:
    header = ((document.get("push") or {}).get("Header") or {}).get("Document") or {}
    visit = header.get("Visit") or {}
    listed: dict[str, Any] = filled(
        LISTED_DOCUMENT,
        {
            "ID": document["id"],
            "Title": document["title"],
            "DateTime": document["datetime"],
            "Locale": header.get("Locale") or "US",
            "Type": document["type"],
            "Author": header.get("Author"),
            "Visit": {
                "ID": visit.get("VisitNumber"),
                "StartDateTime": visit.get("StartDateTime"),
                "EndDateTime": visit.get("EndDateTime"),
            },
            "Location": {"Department": (visit.get("Location") or {}).get("Department")},
        },
    )
    return listed


@ROUTES.handles("clinical_summary", "Clinical Summary", "DocumentQuery")
@carequality
def document_query(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    located = _located(sim, message, name)
    if isinstance(located, Reply):
        return located
    source, patient, holding = located
    documents = [d for d in holding.documents if _wanted(d, message.get("Document") or {})]
    if not documents:
        return _no_documents(message, name)
    return _answer(
        message,
        name,
        Patient={"Identifiers": source.identifiers_at(patient, holding)},
        Documents=[_listed(d) for d in reordered(documents)],
    )


@ROUTES.handles("clinical_summary", "Clinical Summary", "DocumentGet")
@carequality
def document_get(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    oid = str(message["Meta"].get("FacilityCode"))
    source = source_for(sim, oid)
    document = source.document(oid, message["Document"]["ID"]) if source else None
    if source is None or document is None:
        return _not_found(message, name)
    return _answer(
        message,
        name,
        Document={"ID": document["id"]},
        FileType=CDA_MIME_TYPE,
        Data=source.document_text(document),
    )


@ROUTES.handles("clinical_summary", "Clinical Summary", "PatientQuery")
@carequality
def patient_query(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    """The latest summary document in Redox's parsed view (CDA only)."""
    located = _located(sim, message, name)
    if isinstance(located, Reply):
        return located
    source, patient, holding = located
    if not holding.documents:
        return _no_documents(message, name)
    latest = max(holding.documents, key=lambda d: str(d["datetime"]))
    pushed = ((latest.get("push") or {}).get("Header") or {}).get("Document") or {}
    kind = latest["type"]
    header = filled(
        SUMMARY_HEADER,
        {
            "Document": {
                **pushed,
                "ID": latest["id"],
                "Title": latest["title"],
                "DateTime": latest["datetime"],
                "Type": kind.get("Name"),
                "Locale": pushed.get("Locale") or "US",
                "TypeCode": {
                    "Code": kind.get("Code"),
                    "CodeSystem": LOINC,
                    "CodeSystemName": "LOINC",
                    "Name": kind.get("Name"),
                },
            },
            "Patient": {
                "Identifiers": source.identifiers_at(patient, holding),
                "Demographics": patient.demographics,
            },
        },
    )
    return _answer(message, name, Header=header, **narratives(source.document_text(latest)))
