"""Routing of Redox's FHIR R4 API: `{base_path}/{slug}/{environment}/{Resource}[/...]` (1.1).

The bearer token is checked by app.py, as on every path. Here: the slug and environment
(unknown -> 404 "Unknown slug", 8.4), the route table (fhir_directory.py and fhir_queries.py
register into it), the Carequality headers (missing -> 401, 3.7), and Redox's answers for
what has no route: a known resource with an operation it lacks -> 400 with a Data-Model-shaped
body (8.5), a POST to a resource instance -> 404 with an empty body (8.6).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from techval.simulator.acceptance import OID
from techval.simulator.fhir_config import FhirOptions, Slug
from techval.simulator.fhir_paging import Where
from techval.simulator.fhir_shapes import (
    data_model_error,
    fhir_reply,
    outcome,
    outcome_reply,
    unknown_slug,
)
from techval.simulator.responses import Reply
from techval.simulator.routes import Table

if TYPE_CHECKING:
    from techval.simulator.app import Simulator

FORM = "application/x-www-form-urlencoded"  # search bodies (1.7)
RESOURCES = {
    "organizations": "Organization",
    "patients": "Patient",
    "documents": "DocumentReference",
}


@dataclass(frozen=True)
class FhirRequest:
    method: str
    slug: Slug
    environment: str
    resource: str
    tail: tuple[str, ...]  # the segments after the resource
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    where: Where

    def form(self) -> dict[str, list[str]] | Reply:
        """The search parameters (form-encoded, 1.7), or the 400 for another body."""
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if self.body and content_type != FORM:
            return outcome_reply(
                400, "invalid", f"Search parameters must be sent as {FORM} (the body was not)"
            )
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            return outcome_reply(400, "invalid", "The search parameters are not UTF-8")
        parsed = parse_qs(text, keep_blank_values=True)
        return {k: [v for v in values if v.strip()] for k, values in parsed.items()}


Handler = Callable[["Simulator", FhirRequest], Reply]
Key = tuple[str, str, str, str]  # (slug kind, HTTP method, resource, shape of the path's rest)


class FhirRoutes(Table[Key, Handler]):
    """The FHIR routes of one module (routes.merged joins them)."""

    def route(
        self, kind: str, method: str, resource: str, shape: str
    ) -> Callable[[Handler], Handler]:
        """A handler for slug kind, HTTP method, resource, and the shape of the rest of the
        path ("type": none, "search": `_search`, "instance": an id)."""

        def add(handler: Handler) -> Handler:
            self.table[(kind, method, resource, shape)] = handler
            return handler

        return add


def _shape(tail: tuple[str, ...]) -> str:
    if not tail:
        return "type"
    if len(tail) > 1:
        return "other"
    if tail[0] == "_search":
        return "search"
    return "operation" if tail[0].startswith("$") else "instance"


def _parts(options: FhirOptions, path: str) -> tuple[str, str, str, tuple[str, ...]] | None:
    parts = options.split(path)
    if len(parts) < 3 or not all(parts[:3]):
        return None
    return parts[0], parts[1], parts[2], tuple(parts[3:])


def interaction(options: FhirOptions, method: str, path: str) -> tuple[str, str, str]:
    """(resource, interaction, environment) of a FHIR path, for faults: the interaction is
    create, read, update, search, page or other."""
    parts = _parts(options, path)
    if parts is None:
        return "", "other", options.environment
    _, environment, resource, tail = parts
    if resource == "page" and len(tail) >= 1:
        return tail[0], "page", environment
    kinds = {
        ("POST", "type"): "create",
        ("GET", "instance"): "read",
        ("PUT", "instance"): "update",
        ("POST", "search"): "search",
    }
    return resource, kinds.get((method, _shape(tail)), "other"), environment


# What the code of a coded header must be (3.5: a SNOMED CT user role; a purpose of use such
# as TREATMENT)
CODES = {
    "user_role": (re.compile(r"[1-9][0-9]{5,17}"), "a SNOMED CT code"),
    "purpose_of_use": (re.compile(r"[A-Z][A-Z_]*"), "a purpose of use code"),
}


def _written(template: str) -> re.Pattern[str]:
    """A value written by `template` ({code}, {display}, {system} around literal text). The
    simulator reads a header with its own parser, not the harness's (config.written_parts):
    it shares the harness's data, never its decisions, so a mistake in one is caught by the
    other."""
    pattern = ""
    for literal, name, _, _ in string.Formatter().parse(template):
        pattern += re.escape(literal)
        if name:
            pattern += f"(?P<{name}>.+?)" if f"(?P<{name}>" not in pattern else f"(?P={name})"
    return re.compile(pattern)


def _value_refusal(options: FhirOptions, field_name: str, header: str, value: str) -> str:
    """Why a coded header's value is not as the simulator expects it ("" when it is)."""
    template = options.header_values.get(field_name)
    if template is None or field_name not in CODES:
        return ""
    code, what = CODES[field_name]
    written = _written(template).fullmatch(value)
    found = written.groupdict() if written is not None else None
    if found is not None and ("code" not in found or code.fullmatch(found["code"])):
        return ""
    return f"Unauthorized: the {header} header is not {template} with {what}"


def _header_refusal(options: FhirOptions, field_name: str, header: str, value: str) -> str:
    if not value:
        return f"Unauthorized: Carequality metadata missing - {header} header"
    if field_name == "sender_organization_id" and not OID.fullmatch(value):
        return f"Unauthorized: the {header} header is not an OID"
    return _value_refusal(options, field_name, header, value)


def carequality_refusal(options: FhirOptions, headers: Mapping[str, str]) -> Reply | None:
    """401 naming each Carequality header that is missing or empty, a sender that is not an
    OID (3.2-3.7), or a coded value not written as FhirOptions.header_values says; None when
    all are there."""
    issues = []
    for field_name, header in options.headers.items():
        value = headers.get(header.lower(), "").strip()
        text = _header_refusal(options, field_name, header, value)
        if text:
            issues.extend(outcome("security", text)["issue"])
    if not issues:
        return None
    return fhir_reply(401, {"resourceType": "OperationOutcome", "issue": issues})


def handle(
    sim: Simulator,
    routes: Mapping[Key, Handler],
    request_line: tuple[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> Reply:
    method, path = request_line
    options = sim.fhir.options
    parts = _parts(options, path)
    if parts is None:
        first = options.split(path)[0]
        return unknown_slug(first)
    slug_text, environment, resource, tail = parts
    slug = options.slug(slug_text)
    if slug is None or environment != options.environment:
        return unknown_slug(slug_text)
    host = headers.get("host", "")
    base = f"{options.base_path.rstrip('/')}/{slug_text}/{environment}"
    where = Where(f"http://{host}" if host else "", base, resource)
    needs_headers = slug.kind != "organizations" or options.headers_on_directory
    if needs_headers:
        refusal = carequality_refusal(options, headers)
        if refusal is not None:
            return refusal
    if resource == "page":
        return _page(sim, method, slug, where, tail)
    request = FhirRequest(method, slug, environment, resource, tail, headers, body, where)
    handler = routes.get((slug.kind, method, resource, _shape(tail)))
    if handler is not None:
        return handler(sim, request)
    if resource == RESOURCES[slug.kind] and method == "POST":
        if _shape(tail) == "operation":
            return data_model_error(environment)
        if _shape(tail) == "instance":
            return Reply(404)
    return unknown_slug(slug_text)


def _page(sim: Simulator, method: str, slug: Slug, where: Where, tail: tuple[str, ...]) -> Reply:
    """`page/{Resource}/search/{key}.next` (9.1) with the environment's next verb (GET unless
    it says POST, 9.2): the next page of a searchset."""
    if (
        method != sim.fhir.options.next_verb
        or len(tail) != 3
        or tail[1] != "search"
        or not tail[2].endswith(".next")
    ):
        return unknown_slug(slug.text)
    found = sim.fhir.pages.follow(
        Where(where.origin, where.base, tail[0]), tail[2].removesuffix(".next")
    )
    if found is None:
        return outcome_reply(404, "not-found", "The search page is not known or has expired")
    return fhir_reply(200, found)


def first(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name) or []
    return values[0] if values else None


def alternatives(value: str) -> list[str]:
    """A token parameter's comma-separated alternatives (FHIR search: a comma is OR)."""
    return [part for part in value.split(",") if part]


def whole_number(form: dict[str, list[str]], name: str, default: int) -> int | Reply:
    value = first(form, name)
    if value is None:
        return default
    if not value.strip().isdigit():
        return outcome_reply(400, "invalid", f"Search parameter {name} must be a whole number")
    return int(value)


def parameters_missing(form: dict[str, Any], sets: list[tuple[str, ...]]) -> Reply | None:
    """400 unless one of the documented mandatory parameter sets is complete (5.2, 6.4)."""
    if any(all(form.get(name) for name in names) for names in sets):
        return None
    described = " or ".join("+".join(names) for names in sets)
    return outcome_reply(
        400, "required", f"One of these search parameters is required: {described}"
    )
