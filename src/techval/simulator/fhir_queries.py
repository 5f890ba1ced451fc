"""Carequality queries over FHIR: `Patient/_search` on `ceq-xcpd:{oid}` and `DocumentReference`
on `ceq-xca:{oid}` (redox-fhir.md §5, §6), answered from the same network and repository as
the Data Model's PatientSearch.Query and Clinical Summary routes.

* the organization of the slug is answered by the user's repository (their own organizations,
  after the repository delay) or the simulated network; another OID: 404 "Unknown slug";
* a search needs one of the documented parameter sets (5.2, 6.4), else 400;
* no match is a searchset without entries (5.6); several matches are all listed (5.10 is silent);
* a document search for a patient the organization does not hold, or a read of a document it
  does not hold: 404 with the documented "isn't found" text (6.12);
* documents are listed in another order than the organization holds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from techval.simulator.fhir_routes import (
    FhirRequest,
    FhirRoutes,
    alternatives,
    parameters_missing,
)
from techval.simulator.fhir_shapes import (
    CDA,
    DOCUMENT_KIND,
    LOINC_SYSTEM,
    document_id,
    document_reference,
    fhir_reply,
    identifier_system,
    master_identifier,
    outcome_reply,
    patient,
    patient_id,
    unknown_slug,
)
from techval.simulator.network import Holding, Network, NetworkPatient
from techval.simulator.query_routes import NOT_FOUND, source_for
from techval.simulator.responses import Reply
from techval.simulator.shapes import reordered

if TYPE_CHECKING:
    from techval.simulator.app import Simulator

Held = tuple[NetworkPatient, Holding]


def _held(sim: Simulator, request: FhirRequest) -> tuple[Network, list[Held]] | Reply:
    """Who answers for the slug's organization and the patients it holds, or 404."""
    oid = str(request.slug.oid)
    source = source_for(sim, oid)
    if source is None:
        return unknown_slug(request.slug.text)
    held = []
    for person in source.patients:
        holding = person.at(oid)
        if holding is not None:
            held.append((person, holding))
    return source, held


def _every(values: list[str] | None, test: Any) -> bool:
    """Each value of a repeated parameter matches (AND), through any of its alternatives (OR)."""
    return all(any(test(alt) for alt in alternatives(v)) for v in values or [])


def token_matches(token: str, system: str, value: str, *also: str) -> bool:
    """A FHIR token `[system|]value` against one identifier (its system or `also` names)."""
    wanted_system, bar, wanted = token.rpartition("|")
    if not bar:
        return token == value
    return wanted == value and (not wanted_system or wanted_system in (system, *also))


def _is(value: Any, wanted: str) -> bool:
    return isinstance(value, str) and value.strip().casefold() == wanted.strip().casefold()


def _patient_matches(
    source: Network, person: NetworkPatient, holding: Holding, form: dict[str, list[str]]
) -> bool:
    identifiers = source.identifiers_at(person, holding)
    demographics = person.demographics
    givens = [demographics.get("FirstName"), demographics.get("MiddleName")]
    checks = (
        _every(form.get("_id"), lambda alt: alt == patient_id(holding)),
        _every(
            form.get("identifier"),
            lambda alt: any(
                token_matches(
                    alt,
                    identifier_system(str(i.get("IDType"))),
                    str(i.get("ID")),
                    str(i.get("IDType")),
                )
                for i in identifiers
            ),
        ),
        all(any(_is(g, v) for g in givens) for v in form.get("given") or []),
        all(_is(demographics.get("LastName"), v) for v in form.get("family") or []),
        all(
            _is(demographics.get("DOB"), v.removeprefix("eq")) for v in form.get("birthdate") or []
        ),
        all(_is(demographics.get("Sex"), v) for v in form.get("gender") or []),
    )
    return all(checks)


ROUTES = FhirRoutes()  # this module's routes (app.py merges them)


@ROUTES.route("patients", "POST", "Patient", "search")
def search_patients(sim: Simulator, request: FhirRequest) -> Reply:
    form = request.form()
    if isinstance(form, Reply):
        return form
    held = _held(sim, request)
    if isinstance(held, Reply):
        return held
    missing = parameters_missing(
        form, [("_id",), ("identifier",), ("given", "family", "birthdate")]
    )
    if missing is not None:
        return missing
    source, candidates = held
    found = [
        patient(person, holding, source.identifiers_at(person, holding))
        for person, holding in candidates
        if _patient_matches(source, person, holding, form)
    ]
    return fhir_reply(
        200, sim.fhir.pages.first(request.where, found, 0, sim.fhir.options.page_size)
    )


def _document_matches(oid: str, document: dict[str, Any], form: dict[str, list[str]]) -> bool:
    master = master_identifier(str(document["id"]))
    code = str((document.get("type") or {}).get("Code"))
    checks = (
        _every(form.get("_id"), lambda alt: alt == document_id(oid, document)),
        _every(
            form.get("identifier"),
            lambda alt: (
                alt == document["id"]
                or token_matches(alt, master.get("system", ""), master["value"])
            ),
        ),
        _every(form.get("category"), lambda alt: token_matches(alt, DOCUMENT_KIND, CDA)),
        _every(form.get("type"), lambda alt: token_matches(alt, LOINC_SYSTEM, code)),
    )
    return all(checks)


def _patient_reference(value: str) -> str:
    return value.removeprefix("Patient/")


@ROUTES.route("documents", "POST", "DocumentReference", "search")
def search_documents(sim: Simulator, request: FhirRequest) -> Reply:
    form = request.form()
    if isinstance(form, Reply):
        return form
    held = _held(sim, request)
    if isinstance(held, Reply):
        return held
    missing = parameters_missing(form, [("_id",), ("identifier",), ("patient",)])
    if missing is not None:
        return missing
    source, candidates = held
    if form.get("patient"):
        candidates = [
            (person, holding)
            for person, holding in candidates
            if _every(
                form["patient"], lambda alt, h=holding: _patient_reference(alt) == patient_id(h)
            )
        ]
        if not candidates:
            return outcome_reply(404, "not-found", NOT_FOUND)
    oid = str(request.slug.oid)
    listed = [
        document_reference(oid, holding, document, source.document_text(document))
        for _, holding in candidates
        for document in reordered(holding.documents)
        if _document_matches(oid, document, form)
    ]
    size = sim.fhir.options.page_size
    return fhir_reply(200, sim.fhir.pages.first(request.where, listed, 0, size))


@ROUTES.route("documents", "GET", "DocumentReference", "instance")
def read_document(sim: Simulator, request: FhirRequest) -> Reply:
    held = _held(sim, request)
    if isinstance(held, Reply):
        return held
    source, candidates = held
    oid, wanted = str(request.slug.oid), request.tail[0]
    for _, holding in candidates:
        for document in holding.documents:
            if document_id(oid, document) == wanted:
                text = source.document_text(document)
                return fhir_reply(200, document_reference(oid, holding, document, text))
    return outcome_reply(404, "not-found", NOT_FOUND)
