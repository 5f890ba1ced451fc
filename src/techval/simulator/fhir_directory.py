"""The Carequality directory over FHIR: `Organization` on the `ceq-orgs` slug (redox-fhir.md §4).

Create, read, update and search work on the same directory as Organization.New / Update /
Query, so a record written through one API is read through the other. Answers:

* create: a bare Organization whose `id` is the OID of its identifier with system
  http://www.hl7.org/oid/ (4.1; the simulator's own option `oid_system`); 201 with the stored
  Organization and a Location header (INFERRED, 4.3: the status and body are not in the stored
  copy); an existing OID: 403 `[OID] already exists.` (4.11); a record the directory cannot
  take (no OID identifier, no type, an Implementer without contacts): 403 `Failed to parse
  request body as XML resource.`;
* update: `PUT Organization/{oid}`, or `POST Organization` with an existing id when the
  environment's update verb is POST (INFERRED, 4.4); 200 with the stored Organization; an
  unknown OID: 403 `id: [ID] is not valid.` (4.11); deactivate is an update with active false;
* read: `GET Organization/{oid}`; unknown: 404 OperationOutcome;
* search: `POST Organization/_search`, form-encoded (4.9), paged by `index` and `limit` (9.3)
  and by `next` links (9.1; none when the options say `directory_next_links: False`).

Read answers show the Organization as last written through FHIR, its identifiers and contacts
in another order than sent, and meta.lastUpdated; a record last written through the Data Model
is shown in FHIR terms (fhir_shapes.organization).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from techval.core.redox import timestamp
from techval.simulator.directory import NOT_PARSED, DirectoryError
from techval.simulator.fhir_routes import FhirRequest, FhirRoutes, first, whole_number
from techval.simulator.fhir_shapes import (
    as_dict,
    directory_record,
    fhir_reply,
    organization,
    organization_oid,
    outcome_reply,
)
from techval.simulator.responses import Reply
from techval.simulator.shapes import reordered

if TYPE_CHECKING:
    from techval.simulator.app import Simulator

_not_stored: ContextVar[bool] = ContextVar("updates_not_stored", default=False)


@contextmanager
def updates_not_stored() -> Iterator[None]:
    """Organization updates handled inside are checked and acknowledged, never stored (a fault)."""
    token = _not_stored.set(True)
    try:
        yield
    finally:
        _not_stored.reset(token)


def shown(sim: Simulator, oid: str) -> dict[str, Any]:
    """The directory's record of `oid` as the FHIR API answers it."""
    record = sim.directory.records[oid]
    written = sim.fhir.organizations.get(oid)
    if written is not None and written[0] is record:
        resource = copy.deepcopy(written[1])
        for key in ("identifier", "contact"):
            if isinstance(resource.get(key), list):
                resource[key] = reordered(resource[key])
    else:
        resource = organization(oid, record, sim.fhir.options.oid_system)
    updated = sim.directory.updated.get(oid, datetime.now(UTC))
    meta = as_dict(resource.get("meta"))
    resource["meta"] = {**meta, "lastUpdated": timestamp(updated)}
    return resource


def _remember(sim: Simulator, oid: str, resource: dict[str, Any]) -> None:
    sim.fhir.organizations[oid] = (sim.directory.records[oid], copy.deepcopy(resource))


def _refused(exc: DirectoryError) -> Reply:
    return outcome_reply(exc.status, "processing", str(exc.error["Text"]))


def _checked(sim: Simulator, request: FhirRequest) -> tuple[dict[str, Any], str] | Reply:
    """The Organization sent and its OID, or Redox's refusal."""
    try:
        resource = json.loads(request.body)
    except ValueError:
        resource = None
    if not isinstance(resource, dict) or resource.get("resourceType") != "Organization":
        return outcome_reply(400, "structure", "The request body is not an Organization resource")
    system = sim.fhir.options.oid_system
    oid = organization_oid(resource, system)
    if oid is None:  # "missing identifier" (4.11)
        return outcome_reply(403, "processing", NOT_PARSED)
    if resource.get("id") != oid:  # 4.1; the refusal's wording is INFERRED
        return outcome_reply(
            400,
            "invalid",
            "Organization.id is required and must equal the OID of its identifier with system "
            f"{system}",
        )
    for name, kind in (("name", str), ("active", bool)):  # required by the create schema (4.5)
        if not isinstance(resource.get(name), kind):
            return outcome_reply(400, "required", f"Organization.{name} is required")
    return resource, oid


ROUTES = FhirRoutes()  # this module's routes (app.py merges them)


@ROUTES.route("organizations", "POST", "Organization", "type")
def create(sim: Simulator, request: FhirRequest) -> Reply:
    checked = _checked(sim, request)
    if isinstance(checked, Reply):
        return checked
    resource, oid = checked
    if oid in sim.directory.records and sim.fhir.options.update_verb == "POST":
        return _update(sim, resource, oid)
    try:
        sim.directory.new([directory_record(resource, oid)])
    except DirectoryError as exc:
        return _refused(exc)
    _remember(sim, oid, resource)
    location = request.where.url(f"Organization/{oid}")
    return fhir_reply(201, shown(sim, oid), {"Location": location})


@ROUTES.route("organizations", "PUT", "Organization", "instance")
def update(sim: Simulator, request: FhirRequest) -> Reply:
    checked = _checked(sim, request)
    if isinstance(checked, Reply):
        return checked
    resource, oid = checked
    if request.tail[0] != oid:
        return outcome_reply(400, "invalid", "Organization.id must equal the id in the URL")
    return _update(sim, resource, oid)


def _update(sim: Simulator, resource: dict[str, Any], oid: str) -> Reply:
    if oid not in sim.directory.records:
        return outcome_reply(403, "processing", f"id: {oid} is not valid.")
    if _not_stored.get():
        return fhir_reply(200, resource)
    try:
        sim.directory.update([directory_record(resource, oid)], "Update")
    except DirectoryError as exc:
        return _refused(exc)
    _remember(sim, oid, resource)
    return fhir_reply(200, shown(sim, oid))


@ROUTES.route("organizations", "GET", "Organization", "instance")
def read(sim: Simulator, request: FhirRequest) -> Reply:
    oid = request.tail[0]
    if oid not in sim.directory.records:
        return outcome_reply(404, "not-found", f"Organization {oid} is not in the directory")
    return fhir_reply(200, shown(sim, oid))


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, str) and a.strip().casefold() == b.strip().casefold()


def matches(record: dict[str, Any], form: dict[str, list[str]]) -> bool:
    """Whether a directory record answers the search (4.9). Each given parameter must match.
    INFERRED: `name` matches part of the name or an alias, `name-searchtype=exact` the whole;
    a postal code alone matches that ZIP, with `radius` any ZIP of its 3-digit area (no
    geocoding, as directory.py)."""
    address = as_dict(record.get("Address"))
    names = [str(n) for n in [record.get("Name"), *(record.get("Aliases") or [])] if n]
    exact = (first(form, "name-searchtype") or "").casefold() == "exact"
    for wanted in form.get("name") or []:
        folded = wanted.strip().casefold()
        if not any((n.casefold() == folded) if exact else (folded in n.casefold()) for n in names):
            return False
    if any(not _same(address.get("City"), v) for v in form.get("address-city") or []):
        return False
    if any(not _same(address.get("State"), v) for v in form.get("address-state") or []):
        return False
    zip_code = str(address.get("ZIP") or "")
    digits = 3 if form.get("radius") else 5
    for wanted in form.get("address-postalcode") or []:
        if not zip_code or zip_code[:digits] != wanted.strip()[:digits]:
            return False
    return all(
        str(record.get("Active")).casefold() == value.strip().casefold()
        for value in form.get("active") or []
    )


@ROUTES.route("organizations", "POST", "Organization", "search")
def search(sim: Simulator, request: FhirRequest) -> Reply:
    form = request.form()
    if isinstance(form, Reply):
        return form
    start = whole_number(form, "index", 0)
    limit = whole_number(form, "limit", sim.fhir.options.page_size)
    if isinstance(start, Reply):
        return start
    if isinstance(limit, Reply):
        return limit
    found = [shown(sim, oid) for oid, rec in sim.directory.records.items() if matches(rec, form)]
    links = sim.fhir.options.directory_next_links
    return fhir_reply(200, sim.fhir.pages.first(request.where, found, start, limit, links=links))
