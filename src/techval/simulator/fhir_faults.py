"""Fault modes of the FHIR API (merged into faults.NAMED): each a way Redox's FHIR answers could
be wrong, so tests can prove the suite catches it.

A FHIR request reaches a fault as a stand-in message (app.fhir_stand_in): its "FHIR" entry names
the resource and the interaction (create, read, update, search, page, other).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from techval.simulator.fhir_directory import updates_not_stored
from techval.simulator.fhir_paging import one_per_page
from techval.simulator.fhir_shapes import data_model_error, outcome
from techval.simulator.responses import Reply

Message = dict[str, Any] | None
Fault = Callable[[Message, Callable[[], Reply]], Reply]
NOT_XML = "<ClinicalDocument><unclosed></ClinicalDocument>"
ELSEWHERE = "elsewhere.example"  # the host of next links sent elsewhere
# Redox's text for a document list that failed (redox-api.md 3.4 example).
LIST_FAILED = (
    "Something went wrong retrieving the document list. Please contact Redox Support. "
    "Could not find any documents."
)


def fhir_request(message: Message) -> dict[str, str] | None:
    """The FHIR stand-in's resource and interaction; None for any other request."""
    found = (message or {}).get("FHIR")
    return found if isinstance(found, dict) else None


def on_fhir(resource: str, interactions: set[str], fault: Fault) -> Fault:
    """Apply `fault` to these interactions with one resource only."""

    def selective(message: Message, proceed: Callable[[], Reply]) -> Reply:
        request = fhir_request(message)
        wanted = request is not None and request.get("resource") == resource
        if wanted and request is not None and request.get("interaction") in interactions:
            return fault(message, proceed)
        return proceed()

    return selective


def edit_fhir(edit: Callable[[dict[str, Any]], None]) -> Fault:
    """Change the JSON body of successful FHIR answers; their headers stay."""

    def apply(message: Message, proceed: Callable[[], Reply]) -> Reply:
        reply = proceed()
        if fhir_request(message) is None or not 200 <= reply.status < 300:
            return reply
        try:
            body = json.loads(reply.body)
        except ValueError:
            return reply
        if isinstance(body, dict):
            edit(body)
        return Reply(reply.status, json.dumps(body).encode("utf-8"), dict(reply.headers))

    return apply


def _resources(body: dict[str, Any], kind: str) -> Iterator[dict[str, Any]]:
    """The resources of `kind`: the body itself, or a searchset's entries."""
    if body.get("resourceType") == kind:
        yield body
    for entry in body.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == kind:
            yield resource


def _attachments(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for document in _resources(body, "DocumentReference"):
        for content in document.get("content") or []:
            if isinstance(content, dict) and isinstance(content.get("attachment"), dict):
                yield content["attachment"]


def _without_identifiers(body: dict[str, Any]) -> None:
    for patient in _resources(body, "Patient"):
        patient.pop("identifier", None)


def _without_id(body: dict[str, Any]) -> None:
    for patient in _resources(body, "Patient"):
        patient.pop("id", None)


def _without_data(body: dict[str, Any]) -> None:
    for attachment in _attachments(body):
        attachment.pop("data", None)


def _not_xml(body: dict[str, Any]) -> None:
    for attachment in _attachments(body):
        attachment["data"] = base64.b64encode(NOT_XML.encode("utf-8")).decode("ascii")


def _outcome_entry(body: dict[str, Any]) -> None:
    """A partial error inside a 200 searchset (8.3: the shape is INFERRED): an OperationOutcome
    entry with severity error, search mode outcome."""
    if body.get("resourceType") == "Bundle":
        entry = {"resource": outcome("exception", LIST_FAILED), "search": {"mode": "outcome"}}
        body["entry"] = [*(body.get("entry") or []), entry]


def _next_elsewhere(body: dict[str, Any]) -> None:
    """A searchset's next link on another host than the API's (the token would follow it)."""
    for link in body.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            parts = urlsplit(str(link["url"]))
            link["url"] = urlunsplit(parts._replace(netloc=ELSEWHERE))


def written_as(body: Callable[[Reply], bytes]) -> Fault:
    """A write that succeeded (and took effect) answered with another body, same status: the
    shapes Redox's pages leave open (4.3, fhir.write_answer)."""

    def apply(message: Message, proceed: Callable[[], Reply]) -> Reply:
        reply = proceed()
        if not 200 <= reply.status < 300:
            return reply
        headers = {k: v for k, v in reply.headers.items() if k.lower() != "content-type"}
        content = body(reply)
        if content:
            headers["Content-Type"] = "application/fhir+json"
        return Reply(reply.status, content, headers)

    return apply


def _outcome(severity: str, text: str) -> Callable[[Reply], bytes]:
    return lambda _: json.dumps(outcome("informational", text, severity=severity)).encode()


def _transaction_response(reply: Reply) -> bytes:
    """Like the sandbox's write answer (7.8): one entry's response, status and location."""
    written = json.loads(reply.body)
    location = f"Organization/{written.get('id')}/_history/1"
    status = "201 Created" if reply.status == 201 else "200 OK"
    entry = {"response": {"status": status, "location": location, "etag": 'W/"1"'}}
    return json.dumps(
        {"resourceType": "Bundle", "type": "transaction-response", "entry": [entry]}
    ).encode()


# what faults answer an Organization write with, instead of the stored Organization
WRITTEN_AS: dict[str, Callable[[Reply], bytes]] = {
    "outcome": _outcome("information", "The organization record was saved"),
    "bundle": _transaction_response,
    "empty": lambda _: b"",
    "error": _outcome("error", "The organization record could not be saved"),
}


def _written(body: Callable[[Reply], bytes]) -> Callable[[], Fault]:
    return lambda: on_fhir("Organization", {"create", "update"}, written_as(body))


def _data_model_errors(message: Message, proceed: Callable[[], Reply]) -> Reply:
    """Redox's Data-Model-shaped 400 on a FHIR path (8.5), nothing handled."""
    request = fhir_request(message) or {}
    return data_model_error(str(request.get("environment") or "Development"))


def _update_not_stored(message: Message, proceed: Callable[[], Reply]) -> Reply:
    with updates_not_stored():
        return proceed()


def _one_per_page(message: Message, proceed: Callable[[], Reply]) -> Reply:
    if fhir_request(message) is None:
        return proceed()
    with one_per_page():
        return proceed()


SEARCH = {"search", "page"}
DOCUMENTS = {"search", "page", "read"}
FHIR_NAMED: dict[str, Callable[[], Fault]] = {
    # create too: a POST with an existing id is an update when the update verb is POST
    "fhir_update_not_stored": lambda: on_fhir(
        "Organization", {"create", "update"}, _update_not_stored
    ),
    "fhir_patients_without_identifiers": lambda: on_fhir(
        "Patient", SEARCH, edit_fhir(_without_identifiers)
    ),
    "fhir_document_without_data": lambda: on_fhir(
        "DocumentReference", DOCUMENTS, edit_fhir(_without_data)
    ),
    "fhir_document_not_xml": lambda: on_fhir("DocumentReference", DOCUMENTS, edit_fhir(_not_xml)),
    "fhir_outcome_in_searchset": lambda: on_fhir(
        "DocumentReference", SEARCH, edit_fhir(_outcome_entry)
    ),
    "fhir_data_model_errors": lambda: on_fhir("Patient", {"search"}, _data_model_errors),
    "fhir_patients_without_id": lambda: on_fhir("Patient", SEARCH, edit_fhir(_without_id)),
    **{f"fhir_write_answers_{kind}": _written(body) for kind, body in WRITTEN_AS.items()},
    "fhir_one_per_page": lambda: _one_per_page,
    "fhir_next_link_elsewhere": lambda: edit_fhir(_next_elsewhere),
}
