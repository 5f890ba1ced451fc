"""Fault modes: ways to make the simulator answer wrongly, so tests can prove each check fails.

A fault wraps the simulator's handling of one request: it gets the parsed request message
(None for the token endpoints and other paths; for the FHIR API a stand-in naming the request
as `FHIR.<Resource>` and its interaction, app.fhir_stand_in) and `proceed`, which runs the
normal handling and returns its reply. It may change that reply, or answer without proceeding.
Named faults are selectable with `techval simulator --fault NAME` and from tests; the FHIR
API's own are in fhir_faults.py.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from techval.core.redox import ERROR, MAX_MESSAGE_BYTES, TASK_STATUS
from techval.simulator.fhir_faults import FHIR_NAMED, fhir_request
from techval.simulator.record_locator import task_status
from techval.simulator.repository import pushes_not_applied
from techval.simulator.responses import Reply, echo_meta, error, json_reply, text_reply

Message = dict[str, Any] | None
Fault = Callable[[Message, Callable[[], Reply]], Reply]


def event_of(message: Message) -> tuple[str, str]:
    meta = (message or {}).get("Meta")
    meta = meta if isinstance(meta, dict) else {}
    return str(meta.get("DataModel", "")), str(meta.get("EventType", ""))


def on_events(events: set[tuple[str, str]], fault: Fault) -> Fault:
    """Apply `fault` only to these (DataModel, EventType) pairs."""

    def selective(message: Message, proceed: Callable[[], Reply]) -> Reply:
        return fault(message, proceed) if event_of(message) in events else proceed()

    return selective


def edit_body(edit: Callable[[dict[str, Any]], None]) -> Fault:
    """Change the JSON body of successful /endpoint answers (not the FHIR API's)."""

    def apply(message: Message, proceed: Callable[[], Reply]) -> Reply:
        reply = proceed()
        if message is None or fhir_request(message) or not 200 <= reply.status < 300:
            return reply
        body = json.loads(reply.body)
        edit(body)
        return json_reply(reply.status, body)

    return apply


def answer_with(replacement: Reply) -> Fault:
    """Answer every /endpoint request with `replacement`, handling nothing."""

    def apply(message: Message, proceed: Callable[[], Reply]) -> Reply:
        return replacement if message is not None else proceed()

    return apply


def _add_meta_errors(body: dict[str, Any]) -> None:
    body.setdefault("Meta", {})["Errors"] = [
        error(
            "Something went wrong processing the request. Please contact Redox Support.",
            kind="query",
            module="Send",
        )
    ]


def _drop_required(body: dict[str, Any]) -> None:
    for key in ("Organizations", "Patients", "Patient", "Documents", "Data", "Directory"):
        if key in body:
            del body[key]
            return
    body.pop("Meta", None)


def _wrong_type(body: dict[str, Any]) -> None:
    for record in body.get("Organizations") or []:
        record["Active"] = "yes"


def _refuse_token(message: Message, proceed: Callable[[], Reply]) -> Reply:
    reply = proceed()
    if message is None and reply.status == 200 and b"ccess" in reply.body:
        return json_reply(401, {"error": "invalid_client", "error_description": "client refused"})
    return reply


def _ignore_updates(message: Message, proceed: Callable[[], Reply]) -> Reply:
    """Accept Organization.Update with 200 but change nothing: a directory that drops updates."""
    if event_of(message) == ("Organization", "Update") and message is not None:
        return json_reply(200, {"Meta": echo_meta(message["Meta"], None)})
    return proceed()


def _strip_patient_identifiers(body: dict[str, Any]) -> None:
    if body.get("Patient"):
        body["Patient"]["Identifiers"] = []


def _drop_document_id(body: dict[str, Any]) -> None:
    for document in body.get("Documents") or []:
        document.pop("ID", None)


def _other_document(body: dict[str, Any]) -> None:
    body["Document"]["ID"] = "2.16.840.1.113883.3.9999.9.3^another-document"


def _not_xml(body: dict[str, Any]) -> None:
    body["Data"] = "<ClinicalDocument><unclosed></ClinicalDocument>"


def _no_locations(body: dict[str, Any]) -> None:
    body["Patients"] = []


def _location_error(body: dict[str, Any]) -> None:
    """The record locator's fan-out failed: task-status Error and no organizations (10.1)."""
    body["Meta"].setdefault("Extensions", {})[TASK_STATUS] = task_status(ERROR)
    body["Patients"] = []


def _not_applied(message: Message, proceed: Callable[[], Reply]) -> Reply:
    """Handle the push as usual (checked, acknowledged with 200 and Meta.Logs, as Redox does)
    but never apply it to the repository."""
    with pushes_not_applied():
        return proceed()


PUSH_EVENTS = {
    ("PatientAdmin", "NewPatient"),
    ("PatientAdmin", "PatientUpdate"),
    ("PatientAdmin", "PatientMerge"),
    ("Clinical Summary", "VisitPush"),
}


def _drop_push(message: Message, proceed: Callable[[], Reply]) -> Reply:
    """Acknowledge a push as Redox does, then lose it: the repository never shows it."""
    if event_of(message) in PUSH_EVENTS and message is not None:
        return json_reply(200, {"Meta": echo_meta(message["Meta"], None)})
    return proceed()


SERVER_ERROR_PAGE = "<html><body><h1>500 Internal Server Error</h1></body></html>"
BAD_GATEWAY_PAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>"
SLOW_SECONDS = 3.0  # `slow`: beyond the read timeout the tests configure; `slow:SECONDS` to choose
OVERSIZE = MAX_MESSAGE_BYTES + 1_000_000


def once_per_event(reply: Callable[[], Reply]) -> Fault:
    """Answer `reply()` to the first request of each (DataModel, EventType), then behave: a
    transient failure that every validation step meets once."""
    seen: set[tuple[str, str]] = set()
    lock = threading.Lock()

    def apply(message: Message, proceed: Callable[[], Reply]) -> Reply:
        if message is None:
            return proceed()
        with lock:
            first = event_of(message) not in seen
            seen.add(event_of(message))
        return reply() if first else proceed()

    return apply


def _rate_limited() -> Reply:
    reply = text_reply(429, "Too Many Requests")
    reply.headers["Retry-After"] = "1"
    return reply


def slow(seconds: float) -> Fault:
    """Answer /endpoint requests only after `seconds` (the token endpoint stays fast)."""

    def apply(message: Message, proceed: Callable[[], Reply]) -> Reply:
        if message is not None:
            time.sleep(seconds)  # the fault *is* the delay
        return proceed()

    return apply


SILENT_SECONDS = 300.0  # `silent_after`: an answer held past any read timeout (default 130 s)


def silent_after(answered: int) -> Fault:
    """Answer the first `answered` /endpoint requests, then hold every later answer (token
    requests included) for SILENT_SECONDS: an environment that stops answering mid-run."""
    count = itertools.count(1)
    lock = threading.Lock()
    fallen = threading.Event()

    def apply(message: Message, proceed: Callable[[], Reply]) -> Reply:
        if message is not None:
            with lock:
                if next(count) > answered:
                    fallen.set()
        if fallen.is_set():
            time.sleep(SILENT_SECONDS)  # the fault *is* the silence
        return proceed()

    return apply


def refuse_tokens_after(granted: int) -> Fault:
    """Grant the first `granted` tokens, then refuse every token request with 401: the
    credentials revoked mid-run."""
    count = itertools.count(1)

    def apply(message: Message, proceed: Callable[[], Reply]) -> Reply:
        if message is None and next(count) > granted:
            return _refuse_token(message, proceed)
        return proceed()

    return apply


def expiring_tokens(every: int = 7) -> Fault:
    """Every `every`-th /endpoint request is refused with 401, as when a token expires before
    its announced lifetime; a client that renews its token and sends again goes on."""
    count = itertools.count(1)

    def apply(message: Message, proceed: Callable[[], Reply]) -> Reply:
        if message is not None and next(count) % every == 0:
            return text_reply(401, "Unauthorized")
        return proceed()

    return apply


def _extra_field(body: dict[str, Any]) -> None:
    """A field the documentation does not have, as when Redox adds one without notice."""
    body.setdefault("Meta", {})["Trace"] = {"Region": "us-east-1"}


def _oversize(body: dict[str, Any]) -> None:
    body["Data"] = str(body.get("Data", "")) + " " * OVERSIZE


NAMED: dict[str, Callable[[], Fault]] = {
    "server_error": lambda: answer_with(text_reply(500, SERVER_ERROR_PAGE, "text/html")),
    "malformed_json": lambda: answer_with(
        Reply(200, b'{"Meta": {"DataModel": ', {"Content-Type": "application/json"})
    ),
    "meta_errors_on_success": lambda: edit_body(_add_meta_errors),
    "missing_required_field": lambda: edit_body(_drop_required),
    "wrong_type": lambda: edit_body(_wrong_type),
    "token_refused": lambda: _refuse_token,
    "ignores_updates": lambda: _ignore_updates,
    "patient_without_identifiers": lambda: on_events(
        {("PatientSearch", "Query")}, edit_body(_strip_patient_identifiers)
    ),
    "no_locations": lambda: on_events(
        {("PatientSearch", "LocationQuery")}, edit_body(_no_locations)
    ),
    "document_without_id": lambda: on_events(
        {("Clinical Summary", "DocumentQuery")}, edit_body(_drop_document_id)
    ),
    "wrong_document": lambda: on_events(
        {("Clinical Summary", "DocumentGet")}, edit_body(_other_document)
    ),
    "location_query_error": lambda: on_events(
        {("PatientSearch", "LocationQuery")}, edit_body(_location_error)
    ),
    "ignores_patient_updates": lambda: on_events({("PatientAdmin", "PatientUpdate")}, _not_applied),
    "drops_pushes": lambda: _drop_push,
    "drops_patient_updates": lambda: on_events({("PatientAdmin", "PatientUpdate")}, _drop_push),
    "drops_merges": lambda: on_events({("PatientAdmin", "PatientMerge")}, _drop_push),
    "cda_not_xml": lambda: on_events({("Clinical Summary", "DocumentGet")}, edit_body(_not_xml)),
    "rate_limited_once": lambda: once_per_event(_rate_limited),
    "dropped_once": lambda: once_per_event(lambda: text_reply(502, BAD_GATEWAY_PAGE, "text/html")),
    "slow": lambda: slow(SLOW_SECONDS),
    "token_expires_early": expiring_tokens,
    "extra_field": lambda: on_events({("PatientSearch", "Query")}, edit_body(_extra_field)),
    "oversized_response": lambda: on_events(
        {("Clinical Summary", "DocumentGet")}, edit_body(_oversize)
    ),
    **FHIR_NAMED,
}


def named(name: str) -> Fault:
    """A fault by name; `slow:SECONDS` chooses the delay of `slow`."""
    base, _, argument = name.partition(":")
    counted = {"silent_after": silent_after, "token_refused_after": refuse_tokens_after}
    if base in counted:
        if not re.fullmatch(r"[0-9]+", argument):
            raise ValueError(f"fault {name!r}: expected {base}:N, e.g. {base}:5")
        return counted[base](int(argument))
    if base == "slow" and argument:
        try:
            seconds = float(argument)
            if not 0 <= seconds < float("inf"):  # also refuses nan
                raise ValueError(argument)
            return slow(seconds)
        except ValueError:
            raise ValueError(f"fault {name!r}: expected slow:SECONDS, e.g. slow:140") from None
    try:
        return NAMED[name]()
    except KeyError:
        known = [*sorted(NAMED), "slow:SECONDS", "silent_after:N", "token_refused_after:N"]
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(known)}") from None
