"""A second opinion on FHIR resources, independent of the harness's JSON Schemas: the FHIR R4B
models of the `fhir.resources` package (pydantic v2; a development dependency). Redox's API is
FHIR R4; the package ships R5 (its default), R4B and STU3 models, and R4B (4.3) keeps R4's
shape of the resources the harness sends and reads (Organization, Patient, DocumentReference,
Bundle, OperationOutcome).

The models are strict FHIR: an unknown field, a wrong type, a missing required element or a
malformed primitive (an id, a date, base64) is refused. They do not check code bindings (a
gender "M" passes) nor invariants. Texts name the place and pydantic's message, which names the
rule, not the value (pydantic keeps the input apart, and it is left out).

`invalid_sent` gives the same opinion on what a run really sent: the requests the simulator
received (`Simulator.captured`), as bytes off the wire. Not the HAR: its bodies are redacted,
and a masked value (a birth date as `9999-99-99`) is no valid FHIR; nor the harness's own
record of an exchange, which is what the harness believes it sent. The simulator of a whole-run
test runs in the test's process, so reading its capture costs no other process.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pydantic
from fhir.resources.R4B import get_fhir_model_class

from techval.core.schemas import json_path
from techval.simulator.app import CapturedRequest


def invalid_by_fhir_resources(resource: dict[str, Any]) -> list[str]:
    """Why the R4B model of the resource's type refuses it; empty when it accepts it."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        return ["$.resourceType: missing or not a string"]
    try:
        model = get_fhir_model_class(kind)
    except ValueError:
        return ["$.resourceType: not a FHIR R4B resource type"]
    try:
        model.model_validate(resource)
    except pydantic.ValidationError as error:
        found = error.errors(include_url=False, include_input=False, include_context=False)
        return [f"{_path(e['loc'])}: {' '.join(e['msg'].split())}" for e in found]
    return []


def _path(loc: tuple[int | str, ...]) -> str:
    # pydantic names the resource type field resource_type
    return json_path("resourceType" if part == "resource_type" else part for part in loc)


def resources_sent(requests: Iterable[CapturedRequest]) -> list[tuple[str, dict[str, Any]]]:
    """(method and path, resource) of each request whose body is a FHIR resource: JSON with a
    `resourceType`. A form-encoded search is no resource, nor a Data Model message."""
    found = []
    for request in requests:
        if "json" not in request.headers.get("content-type", "") or not request.body:
            continue
        try:
            body = json.loads(request.body)
        except ValueError:
            continue
        if isinstance(body, dict) and "resourceType" in body:
            found.append((f"{request.method} {request.path.split('?', 1)[0]}", body))
    return found


def invalid_sent(requests: Iterable[CapturedRequest]) -> list[str]:
    """Why the R4B models refuse a resource sent, naming the request; empty when none."""
    return [
        f"{sent}: {problem}"
        for sent, resource in resources_sent(requests)
        for problem in invalid_by_fhir_resources(resource)
    ]
