"""The record of one HTTP exchange with Redox (or the simulator): what went out, what came back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from techval.core import wire
from techval.core.redaction import MASK, SECRET_KEYS, Redactor, search_resource
from techval.core.redox import MAX_MESSAGE_BYTES
from techval.core.schemas import Violation
from techval.core.verifies import verifies

# Redox's ID of an exchange, seen on its API's answers (undocumented): FHIR answers have no Meta
TRACE_HEADER = "redox-trace-id"


@dataclass
class Exchange:
    label: str  # what the exchange was for, e.g. "Organization.New" or "token"
    method: str
    url: str
    request_headers: dict[str, str]  # as sent, secrets masked (timed_post fills them in)
    request_body: Any
    started_at: str  # ISO 8601 UTC
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_text: str = ""
    response_body: Any = None  # parsed JSON, or None when the body is not JSON
    duration_ms: float = 0.0
    transport_error: str | None = None  # set when no HTTP answer came back
    schema: str | None = None  # the schema the response was checked against
    violations: list[Violation] = field(default_factory=list)
    attempt: int = 1
    retry_reason: str | None = (
        None  # why this attempt was made, e.g. "after HTTP 502, waited 0.4 s"
    )
    oversized: bool = False  # the body, decoded, was over the limit: not read to the end
    read_limit: int = MAX_MESSAGE_BYTES  # that limit, in bytes (limits.message_bytes)
    too_deep: bool = False  # the body is JSON nested deeper than MAX_DEPTH: not parsed
    cut_short: bool = False  # the scenario's own deadline ended the wait (not the environment)
    request_form: dict[str, list[str]] | None = None  # a form sent, masked (masked_form)
    # what kind of request this is when its label says more: every page of a search is of its
    # first page's kind ("Patient search", the label "Patient search, page 2"); None: the label
    kind: str | None = None

    @property
    def is_json(self) -> bool:
        return self.response_body is not None

    @property
    def meta(self) -> dict[str, Any]:
        body = self.response_body
        meta = body.get("Meta") if isinstance(body, dict) else None
        return meta if isinstance(meta, dict) else {}

    @property
    @verifies("FHIR-06")
    def redox_errors(self) -> list[str]:
        """The error texts of the answer, as Redox wrote them, in whichever of its shapes it
        came: Data Model `Meta.Errors[].Text`, which Redox was also seen to send on a FHIR path;
        a FHIR OperationOutcome's issues of severity error or fatal (`details.text`, else
        `diagnostics`), also as an entry of a 200 searchset."""
        errors = self.meta.get("Errors") or []
        if not isinstance(errors, list):  # a malformed answer: the error schema says so
            errors = [errors]
        texts = [str(e.get("Text", e)) if isinstance(e, dict) else str(e) for e in errors]
        return texts + outcome_errors(self.response_body)

    @property
    @verifies("FHIR-06")
    def log_ids(self) -> list[str]:
        """Redox's IDs for this exchange (Meta.Logs[].ID, or the older Meta.Message.ID), and
        the Redox-Trace-Id header's value (FHIR answers have no Meta)."""
        ids = [
            str(log["ID"])
            for log in self.meta.get("Logs") or []
            if isinstance(log, dict) and log.get("ID") is not None
        ]
        message = self.meta.get("Message")
        if not ids and isinstance(message, dict) and message.get("ID") is not None:
            ids.append(str(message["ID"]))
        trace = self.trace_id
        if trace and trace not in ids:
            ids.append(trace)
        return ids

    @property
    def trace_id(self) -> str | None:
        """The Redox-Trace-Id response header (any case), when the answer carried one."""
        found = (v for k, v in self.response_headers.items() if k.lower() == TRACE_HEADER)
        return next((v.strip() for v in found if v.strip()), None)

    def __repr__(self) -> str:  # tracebacks show what the exchange was, not its bodies
        return f"<Exchange {self.summary()}>"

    def summary(self) -> str:
        """One line: what was sent and how it was answered."""
        if self.transport_error:
            return f"{self.label}: no answer ({self.transport_error})"
        logs = f", log {', '.join(self.log_ids)}" if self.log_ids else ""
        retry = f" (attempt {self.attempt}, {self.retry_reason})" if self.retry_reason else ""
        return f"{self.label}: HTTP {self.status} in {self.duration_ms:.0f} ms{logs}{retry}"

    def as_document(self) -> dict[str, Any]:
        """A JSON-ready view of the exchange, as attached to the report."""
        return {
            "label": self.label,
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 1),
            "attempt": self.attempt,
            "retry_reason": self.retry_reason,
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": self.request_headers,
                "body": self.request_body,
            }
            | ({} if self.request_form is None else {"form": self.request_form}),
            "response": None
            if self.status is None
            else {
                "status": self.status,
                "headers": self.response_headers,
                "body": self.response_body if self.is_json else self.response_text,
            },
            "transport_error": self.transport_error,
            "redox_log_ids": self.log_ids,
            "schema": self.schema,
            "violations": [str(v) for v in self.violations],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_document(), indent=2, ensure_ascii=False)


HeaderMask = Callable[[Iterable[tuple[str, str]]], dict[str, str]]


def masked_form(
    form: Mapping[str, Sequence[str]], redactor: Redactor, url: str = ""
) -> dict[str, list[str]]:
    """A form's parameters as the evidence shows them (Exchange.request_form, the HAR): the one
    place a form is masked. A search's patient parameters by shape (`Redactor.form`, knowing
    from `url` which resource is searched); a secret's name (client_secret) masks its values."""
    shown = redactor.form(
        {str(name): [str(v) for v in values] for name, values in form.items()},
        search_resource(url),
    )
    return {
        name: [MASK for _ in values] if name.lower() in SECRET_KEYS else values
        for name, values in shown.items()
    }


TIMED_OUT = "timed out"  # how a transport_error starts when no answer came in time
MALFORMED = "malformed HTTP response"  # ... when what came back broke HTTP
MAX_DEPTH = 100  # levels of JSON nesting an answer may have: far more than any Redox answer,
# few enough for the evidence's writers (redaction, HAR, JSON attachments), which recurse


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH."""


def parse_json(data: bytes | str) -> Any:
    """The JSON value of `data`; ValueError when it is not JSON, TooDeep when it nests deeper
    than MAX_DEPTH."""
    try:
        value = json.loads(data)
    except RecursionError:  # deeper than Python's parser goes
        raise TooDeep(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    pending = [(value, 1)]  # a loop, not recursion: the value may nest deep
    while pending:
        item, depth = pending.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                if depth >= MAX_DEPTH:
                    raise TooDeep(f"JSON nested more than {MAX_DEPTH} levels deep")
                pending.append((child, depth + 1))
    return value


def timed_request(
    http: httpx.Client,
    exchange: Exchange,
    method: str,
    url: str,
    *,
    mask: HeaderMask,
    max_bytes: int,
    within: float | None,
    **kwargs: Any,
) -> httpx.Response:
    """Send `method` `url` (httpx's build_request arguments in `kwargs`) and note on
    `exchange` the headers that really went out and came back (masked by `mask`), how long it
    took and its status. The whole request, answer included, must be over
    `within` seconds after it starts (and by the deadline of an enclosing `wire.deadline`).

    When no complete HTTP answer comes back, `transport_error` says why ("timed out (...)",
    "malformed HTTP response (...)", or the httpx error's name; `cut_short` when the enclosing
    deadline ended it) and the httpx error is raised again. A body over `max_bytes` once
    decoded is not read to the end: `exchange.oversized` is set. The response returned holds
    the decoded body."""
    request = http.build_request(method, url, **kwargs)
    # as written on the wire, names in their own case (Headers.items() lowercases them)
    exchange.request_headers = mask((k.decode(), v.decode()) for k, v in request.headers.raw)
    enclosing = wire.remaining()
    start = time.perf_counter()
    try:
        with wire.deadline(within):
            response = http.send(request, stream=True)
            try:
                exchange.read_limit = max_bytes
                body, exchange.oversized = wire.read_body(response, max_bytes)
            finally:
                response.close()
    except httpx.HTTPError as exc:
        elapsed = time.perf_counter() - start
        exchange.transport_error = _why_no_answer(exc, elapsed, within, enclosing)
        exchange.cut_short = exchange.transport_error == _CUT
        raise
    finally:
        exchange.duration_ms = (time.perf_counter() - start) * 1000
    exchange.status = response.status_code
    exchange.response_headers = mask(response.headers.items())
    decoded = [(k, v) for k, v in response.headers.multi_items() if k != "content-encoding"]
    return httpx.Response(response.status_code, headers=decoded, content=body, request=request)


_CUT = f"{TIMED_OUT} (at the scenario's deadline)"


def _why_no_answer(
    exc: httpx.HTTPError, elapsed: float, within: float | None, enclosing: float | None
) -> str:
    """The transport_error of a request that got no complete answer: which deadline ended it,
    or what broke HTTP (a server hanging up before answering is "cannot reach", as before)."""
    if isinstance(exc, httpx.TimeoutException):
        ends = [(t, mine) for t, mine in ((within, True), (enclosing, False)) if t is not None]
        first = min(ends, default=None)
        if first is not None and elapsed >= first[0] - 0.01:  # a deadline, not one silent read
            return f"{TIMED_OUT} (no complete answer within {within:g} s)" if first[1] else _CUT
        return f"{TIMED_OUT} ({type(exc).__name__})"
    hung_up = str(exc).startswith("Server disconnected without sending a response")
    if isinstance(exc, httpx.ProtocolError | httpx.DecodingError) and not hung_up:
        detail = " ".join(str(exc).split())[:160]
        return f"{MALFORMED} ({type(exc).__name__}: {detail})"
    return type(exc).__name__


@verifies("FHIR-06")
def outcome_errors(body: Any) -> list[str]:
    """The texts of the error and fatal issues of an OperationOutcome, or of the
    OperationOutcome entries of a Bundle (a searchset that failed in part)."""
    if not isinstance(body, dict):
        return []
    if body.get("resourceType") == "Bundle":
        listed = body.get("entry")
        entries: list[Any] = listed if isinstance(listed, list) else []
        return [
            t for e in entries if isinstance(e, dict) for t in outcome_errors(e.get("resource"))
        ]
    if body.get("resourceType") != "OperationOutcome" or not isinstance(body.get("issue"), list):
        return []
    texts = []
    for issue in body["issue"]:
        if not isinstance(issue, dict) or issue.get("severity") not in ("error", "fatal"):
            continue
        details = issue.get("details")
        text = details.get("text") if isinstance(details, dict) else None
        texts.append(str(text or issue.get("diagnostics") or issue.get("code") or "(no text)"))
    return texts
