"""The one HTTP client of the harness: POST a Redox Data Model message to {base_url}/endpoint
(`send`), or any request of a REST API, Redox's FHIR API (`request`: GET, PUT, POST JSON or a
form), both through one loop (token, 401 renewal, retries, deadlines, fail fast, 40 MB).

Before sending, the body is validated against its request schema: a bad message is the
user's mistake and is never sent. After the answer, the response is validated against its
response schema (or the error schema for error answers), and the whole exchange is recorded
and handed to the `on_exchange` callbacks (the report, the HAR log).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from techval import __version__
from techval.core import wire
from techval.core.auth import TokenProvider, token_provider
from techval.core.clock import ScenarioClock
from techval.core.config import CLIENT_HEADERS, Settings
from techval.core.errors import (
    AuthError,
    BreaksRedoxRule,
    BreaksRequestSchema,
    MalformedResponse,
    ScenarioTimeout,
    TransportError,
)
from techval.core.exchange import (
    MALFORMED,
    TIMED_OUT,
    Exchange,
    TooDeep,
    masked_form,
    parse_json,
    timed_request,
)
from techval.core.health import Health
from techval.core.redaction import Redactor
from techval.core.redox import timestamp
from techval.core.schemas import ERROR_SCHEMA, SchemaRegistry, UnknownMessage, Violation
from techval.core.verifies import verifies

JSON, FHIR_JSON = "application/json", "application/fhir+json"
# Redox's FHIR searches are form posts:
# https://docs.redoxengine.com/basics/redox-fhir-api/understanding-fhir-search/
FORM = "application/x-www-form-urlencoded"
OPERATION_OUTCOME = "fhir/OperationOutcome"  # the FHIR error answer's schema

ExchangeHook = Callable[[Exchange], None]
# The documented rules a message must keep before it is sent, given the destination's purpose
# (techval.validation.rules.OutgoingRules); the client knows schemas, not Redox's rules.
OutgoingRules = Callable[[dict[str, Any], str | None], Sequence[Violation]]
# The documented rules of a FHIR request's headers (techval.validation.fhir.headers.HeaderRules):
# BreaksRedoxRule, and the request is not sent, when one is broken.
HeaderRules = Callable[[str, Mapping[str, str]], None]


def no_rules(message: dict[str, Any], purpose: str | None) -> Sequence[Violation]:
    return []


def no_header_rules(label: str, headers: Mapping[str, str]) -> None:
    return None


def reaches_https(settings: Settings) -> bool:
    """Whether the client may send to an https URL: it sends only to base_url's scheme, host and
    port (`RedoxClient.elsewhere`) and to the token endpoints, and follows no redirect."""
    urls = (settings.base_url, settings.auth.token_url, settings.auth.refresh_url)
    return not all(url.lower().startswith("http://") for url in urls if url)


class RedoxClient:
    def __init__(
        self,
        settings: Settings,
        registry: SchemaRegistry,
        redactor: Redactor,
        *,
        transport: httpx.BaseTransport | None = None,
        on_exchange: list[ExchangeHook] | None = None,
        outgoing: OutgoingRules = no_rules,
        outgoing_headers: HeaderRules = no_header_rules,
        clock: ScenarioClock | None = None,
        settle: Callable[[], None] = lambda: None,
    ) -> None:
        """`settle`: called before waiting to send again, to write the evidence held back."""
        self.settings = settings
        self.registry = registry
        self.redactor = redactor
        self.hooks: list[ExchangeHook] = list(on_exchange or [])
        self.outgoing = outgoing
        self.outgoing_headers = outgoing_headers
        self.clock = clock or ScenarioClock()
        self.settle = settle
        self.health = Health(settings.fail_fast)
        timeouts = settings.timeouts
        self.http = httpx.Client(
            timeout=httpx.Timeout(
                connect=timeouts.connect,
                read=timeouts.read,
                write=timeouts.write,
                pool=timeouts.connect,
            ),
            transport=transport or wire.bounded_transport(tls=reaches_https(settings)),
            # only the codings read_body decodes (httpx would add br or zstd when installed)
            headers={
                "User-Agent": f"techval/{__version__}",
                "Accept-Encoding": wire.ACCEPT_ENCODING,
            },
            follow_redirects=False,
        )
        token_timeout = httpx.Timeout(
            connect=timeouts.connect,
            read=timeouts.token,
            write=timeouts.write,
            pool=timeouts.connect,
        )
        self.auth: TokenProvider = token_provider(
            settings.auth, self.http, redactor, self._record, timeout=token_timeout
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RedoxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def endpoint(self) -> str:
        return f"{self.settings.base_url}/endpoint"

    def _record(self, exchange: Exchange) -> None:
        self.health.observe(exchange)
        for hook in self.hooks:
            hook(exchange)

    @verifies("API-06")
    def check_request(self, message: dict[str, Any]) -> str:
        """The request schema name of `message`; InvalidMessage when it breaks that schema."""
        try:
            name = self.registry.schema_for(message)
        except UnknownMessage as exc:
            raise BreaksRequestSchema(f"not sent: {exc}") from None
        violations = self.registry.validate(name, message)
        if violations:
            listed = "; ".join(str(v) for v in violations)
            raise BreaksRequestSchema(
                f"{name}: the message breaks its request schema, not sent: {listed}"
            )
        broken = self.outgoing(message, self.purpose_of(message))
        if broken:
            listed = "; ".join(str(v) for v in broken)
            error = BreaksRedoxRule(f"{name}: the message breaks a Redox rule, not sent: {listed}")
            error.requirements = tuple(dict.fromkeys(r for v in broken for r in v.requirements))
            error.check = next((v.check for v in broken if v.check), None)
            raise error  # named by the rules it broke, not by this schema check's API-06
        return name

    @verifies("API-10")
    def purpose_of(self, message: dict[str, Any]) -> str | None:
        """Which configured destination (by purpose) the message is addressed to."""
        destinations = message.get("Meta", {}).get("Destinations") or [{}]
        wanted = destinations[0].get("ID") if isinstance(destinations[0], dict) else None
        return next((p for p, d in self.settings.destinations.items() if d == wanted), None)

    @verifies("API-01", "API-03", "API-04")
    def send(self, message: dict[str, Any]) -> Exchange:
        """Validate, send and record one message; the answer is checked by the caller.

        A 401 renews the token once (it may have expired early); 429/502/503 are sent again
        as the retry policy says; every attempt is recorded and reported."""
        name = self.check_request(message)

        def schema(exchange: Exchange) -> str:
            success = exchange.status is not None and 200 <= exchange.status < 300
            return f"{name}.response" if success and not exchange.redox_errors else ERROR_SCHEMA

        outgoing = _Outgoing(
            label=name,
            method="POST",
            url=self.endpoint,
            headers={"Content-Type": JSON, "Accept": JSON},
            content=json.dumps(message, ensure_ascii=False).encode("utf-8"),
            body=message,
            expected=f"{name}.response",
            schema_of=schema,
        )
        with wire.deadline(self.clock.remaining()):  # no request past it, a token's included
            return self._exchange(outgoing)

    @verifies("API-03", "API-04", "FHIR-01", "FHIR-03")
    def request(
        self,
        label: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: Mapping[str, Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        request_schema: str | None = None,
        response_schema: str | None = None,
        kind: str | None = None,
    ) -> Exchange:
        """Send any request of a REST API (Redox's FHIR API) with the machinery of `send`.

        `path` starts with "/" (below base_url) or is an absolute URL on base_url's scheme, host and
        port (a `next` link): the token goes nowhere else. A JSON body is sent as fhir.content_type
        (application/fhir+json unless configured), a form as application/x-www-form-urlencoded (its
        parameters recorded masked); the body is checked against `request_schema` first (not sent
        when it breaks it). The answer is checked against `response_schema` when 2xx, else against
        the error shape it has: an OperationOutcome or a Data-Model-shaped Meta.Errors body (both
        were seen from Redox's FHIR API, as was an empty 404:
        https://docs.redoxengine.com/api-reference/error-handling-and-responses/ and answers
        recorded in github.com/databricks-industry-solutions/redox-ehr-api); an empty answer against
        none. `kind`: what kind of request it is when the label says more (a later page of a search:
        its first page's label), Exchange.kind."""
        if json_body is not None and form is not None:
            raise ValueError(f"{label}: a request has a JSON body or a form, not both")
        url = self._url(label, path)
        self._check_schemas(label, request_schema, response_schema, OPERATION_OUTCOME)
        sent_form = (
            None if form is None else {str(k): [str(v) for v in vs] for k, vs in form.items()}
        )
        if request_schema is not None:
            body = sent_form if json_body is None else json_body
            violations = self.registry.validate(request_schema, body)
            if violations:
                listed = "; ".join(str(v) for v in violations)
                raise BreaksRequestSchema(
                    f"{label}: the request breaks its schema {request_schema}, not sent: {listed}"
                )
        self.outgoing_headers(label, headers or {})
        sent = {"Accept": FHIR_JSON}
        content = None
        if json_body is not None:
            sent["Content-Type"] = self.settings.fhir.content_type
            content = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        elif sent_form is not None:
            sent["Content-Type"] = FORM
            pairs = [(name, value) for name, values in sent_form.items() for value in values]
            content = urlencode(pairs).encode("ascii")
        sent |= {k: v for k, v in (headers or {}).items() if k.lower() not in CLIENT_HEADERS}

        def schema(exchange: Exchange) -> str | None:
            if exchange.status is not None and 200 <= exchange.status < 300:
                return response_schema
            body = exchange.response_body
            return ERROR_SCHEMA if isinstance(body, dict) and "Meta" in body else OPERATION_OUTCOME

        outgoing = _Outgoing(
            label=label,
            method=method.upper(),
            url=url,
            headers=sent,
            content=content,
            body=json_body,
            form=None if sent_form is None else masked_form(sent_form, self.redactor, url),
            expected=response_schema,
            schema_of=schema,
            kind=kind,
        )
        with wire.deadline(self.clock.remaining()):
            return self._exchange(outgoing)

    def elsewhere(self, url: str) -> str | None:
        """Why `url` is not a URL the token may be sent to (it is not one, or it is elsewhere
        than base_url's scheme, host and port), naming its origin and never its path; None
        when it is one."""
        base = httpx.URL(self.settings.base_url)
        try:
            found = httpx.URL(url)
        except httpx.InvalidURL as exc:  # a character no URL has (a server's ID in the path)
            return f"not a URL ({exc})"
        here = (found.scheme, found.host, found.port, found.userinfo)
        if found.is_absolute_url and here == (base.scheme, base.host, base.port, b""):
            return None
        elsewhere = (
            f"{found.scheme}://{found.netloc.decode('ascii', 'replace')}"
            if found.is_absolute_url
            else "a relative URL"
        )
        with_user = " (with user info)" if found.userinfo else ""
        origin = f"{base.scheme}://{base.netloc.decode('ascii')}"
        return f"{elsewhere}{with_user} is not {origin}, where the token goes"

    def _url(self, label: str, path: str) -> str:
        """The URL of `path`; BreaksRedoxRule, not sent, for one that is not a URL or is
        elsewhere than base_url's scheme, host and port (the token is sent there only)."""
        full = self.settings.base_url + path if path.startswith("/") else path
        problem = self.elsewhere(full)
        if problem is not None:
            raise BreaksRedoxRule(f"{label}: not sent: {problem}")
        return full

    def _check_schemas(self, label: str, *names: str | None) -> None:
        for name in names:
            if name is not None:
                try:  # compiled once, as validate() would
                    self.registry.fast_validator(name)
                except UnknownMessage as exc:
                    raise BreaksRequestSchema(f"{label}: not sent: {exc}") from None

    def _exchange(self, outgoing: _Outgoing) -> Exchange:
        attempt, reason, renewed = 1, None, False
        while True:
            exchange = self._attempt(outgoing, attempt, reason)
            if exchange.status == 401 and not renewed:
                renewed = True
                self.auth.invalidate()
                reason = "after HTTP 401, with a new token"
            else:
                retry_after = exchange.response_headers.get("retry-after")
                delay = self.settings.retries.delay(exchange.status, retry_after, attempt)
                if delay is None:
                    return exchange
                self._wait(delay, outgoing.label)
                reason = f"after HTTP {exchange.status}, waited {delay:.1f} s"
            attempt += 1

    def _wait(self, seconds: float, name: str) -> None:
        """Wait before a retry, unless that would pass the scenario's deadline."""
        self.settle()  # the evidence so far written before the wait (its time counted)
        remaining = self.clock.remaining()
        if remaining is not None and seconds > remaining:
            raise ScenarioTimeout(f"{name}: {self.timed_out()}")
        time.sleep(seconds)  # a backoff delay, not a poll: nothing to check before it ends

    def timed_out(self) -> str:
        return f"timed out: the scenario's deadline ({self.settings.timeouts.scenario:g} s) passed"

    def _timeout(self, name: str) -> tuple[httpx.Timeout, float]:
        """The configured timeouts (reads cut to the probe after a request got no answer), with
        reading cut short by the scenario's deadline; and the time the request may take in all:
        its read timeout (the scenario's deadline, set around `send`, may end it sooner)."""
        timeouts = self.settings.timeouts
        allowed = self.health.read_timeout(timeouts.read)
        read = allowed
        remaining = self.clock.remaining()
        if remaining is not None:
            if remaining <= 0:
                raise ScenarioTimeout(f"{name}: {self.timed_out()}")
            read = min(read, remaining)
        timeout = httpx.Timeout(
            connect=timeouts.connect, read=read, write=timeouts.write, pool=timeouts.connect
        )
        return timeout, allowed

    def _attempt(self, outgoing: _Outgoing, attempt: int, reason: str | None) -> Exchange:
        name, url = outgoing.label, outgoing.url
        timeout, allowed = self._timeout(name)
        headers = {"Authorization": f"Bearer {self._token(name)}", **outgoing.headers}
        if self.settings.auth.source_id:
            headers["Redox-Source-Id"] = self.settings.auth.source_id
        exchange = Exchange(
            label=name,
            kind=outgoing.kind,
            method=outgoing.method,
            url=url,
            request_headers={},
            request_body=outgoing.body,
            started_at=timestamp(),
            attempt=attempt,
            retry_reason=reason,
            request_form=outgoing.form,
        )
        try:
            response = timed_request(
                self.http,
                exchange,
                outgoing.method,
                url,
                mask=self.redactor.headers,
                max_bytes=self.settings.message_limit_bytes,
                within=allowed,
                content=outgoing.content,
                headers=headers,
                timeout=timeout,
            )
        except httpx.HTTPError:
            problem = exchange.transport_error or ""
            self._record(exchange)
            if exchange.cut_short:
                raise ScenarioTimeout(f"{name}: {self.timed_out()}") from None
            if problem.startswith(MALFORMED):
                raise MalformedResponse(f"{name}: {url}: answered with a {problem}") from None
            reason = problem if problem.startswith(TIMED_OUT) else f"cannot reach ({problem})"
            raise TransportError(f"{name}: {url}: {reason}") from None
        self._read_response(exchange, response, outgoing)
        self._record(exchange)
        return exchange

    def _token(self, name: str) -> str:
        """The token; a refusal after one was granted in this run stops it (fail fast), unless
        it was the scenario's deadline that ended the token's request."""
        granted = self.auth.fetches > 0
        try:
            return self.auth.token()
        except AuthError as exc:
            remaining = self.clock.remaining()
            if remaining is not None and remaining <= 0:
                raise ScenarioTimeout(f"{name}: {self.timed_out()}") from None
            if granted:
                self.health.stop(f"mid-run, {exc}")
            raise

    def _read_response(
        self, exchange: Exchange, response: httpx.Response, outgoing: _Outgoing
    ) -> None:
        if exchange.oversized:
            exchange.schema = outgoing.expected
            exchange.violations = [
                Violation(
                    "$",
                    f"the response is over the {self.settings.message_limit_bytes:,} byte limit",
                )
            ]
            return
        exchange.response_text = response.text
        try:
            exchange.response_body = parse_json(response.content)
        except TooDeep:
            exchange.too_deep = True
            return
        except ValueError:  # not JSON, or empty
            return
        exchange.schema = outgoing.schema_of(exchange)
        if exchange.schema is not None:
            exchange.violations = self.registry.validate(exchange.schema, exchange.response_body)


@dataclass(frozen=True)
class _Outgoing:
    """One request as `_exchange` sends it, each attempt alike."""

    label: str
    method: str
    url: str
    headers: dict[str, str]  # besides Authorization and Redox-Source-Id
    content: bytes | None
    body: Any  # recorded as the request body
    expected: str | None  # the answer's schema when it is a success (named when oversized)
    schema_of: Callable[[Exchange], str | None]  # the schema of a JSON answer, or None
    form: dict[str, list[str]] | None = None  # recorded, masked
    kind: str | None = None  # Exchange.kind
