"""The one HTTP client of the harness: POST a Redox message to {base_url}/endpoint.

Before sending, the message is validated against its request schema: a bad message is the
user's mistake and is never sent. After the answer, the response is validated against its
response schema (or the error schema for error answers), and the whole exchange is recorded
and handed to the `on_exchange` callbacks (the report, the HAR log).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from techval import __version__
from techval.core import wire
from techval.core.auth import TokenProvider, token_provider
from techval.core.clock import ScenarioClock
from techval.core.config import Settings
from techval.core.errors import (
    AuthError,
    BreaksRedoxRule,
    BreaksRequestSchema,
    MalformedResponse,
    ScenarioTimeout,
    TransportError,
)
from techval.core.exchange import MALFORMED, TIMED_OUT, Exchange, TooDeep, parse_json, timed_post
from techval.core.health import Health
from techval.core.redaction import Redactor
from techval.core.redox import MAX_MESSAGE_BYTES, timestamp
from techval.core.schemas import ERROR_SCHEMA, SchemaRegistry, UnknownMessage, Violation

ExchangeHook = Callable[[Exchange], None]
# The documented rules a message must keep before it is sent, given the destination's purpose
# (techval.validation.rules.OutgoingRules); the client knows schemas, not Redox's rules.
OutgoingRules = Callable[[dict[str, Any], str | None], Sequence[Violation]]


def no_rules(message: dict[str, Any], purpose: str | None) -> Sequence[Violation]:
    return []


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
        clock: ScenarioClock | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.redactor = redactor
        self.hooks: list[ExchangeHook] = list(on_exchange or [])
        self.outgoing = outgoing
        self.clock = clock or ScenarioClock()
        self.health = Health(settings.fail_fast)
        timeouts = settings.timeouts
        self.http = httpx.Client(
            timeout=httpx.Timeout(
                connect=timeouts.connect,
                read=timeouts.read,
                write=timeouts.write,
                pool=timeouts.connect,
            ),
            transport=transport or wire.bounded_transport(),
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
            raise BreaksRedoxRule(f"{name}: the message breaks a Redox rule, not sent: {listed}")
        return name

    def purpose_of(self, message: dict[str, Any]) -> str | None:
        """Which configured destination (by purpose) the message is addressed to."""
        destinations = message.get("Meta", {}).get("Destinations") or [{}]
        wanted = destinations[0].get("ID") if isinstance(destinations[0], dict) else None
        return next((p for p, d in self.settings.destinations.items() if d == wanted), None)

    def send(self, message: dict[str, Any]) -> Exchange:
        """Validate, send and record one message; the answer is checked by the caller.

        A 401 renews the token once (it may have expired early); 429/502/503 are sent again
        as the retry policy says; every attempt is recorded and reported."""
        name = self.check_request(message)
        with wire.deadline(self.clock.remaining()):  # no request past it, a token's included
            return self._send(
                name, json.dumps(message, ensure_ascii=False).encode("utf-8"), message
            )

    def _send(self, name: str, body: bytes, message: dict[str, Any]) -> Exchange:
        attempt, reason, renewed = 1, None, False
        while True:
            exchange = self._post(name, body, message, attempt, reason)
            if exchange.status == 401 and not renewed:
                renewed = True
                self.auth.invalidate()
                reason = "after HTTP 401, with a new token"
            else:
                retry_after = exchange.response_headers.get("retry-after")
                delay = self.settings.retries.delay(exchange.status, retry_after, attempt)
                if delay is None:
                    return exchange
                self._wait(delay, name)
                reason = f"after HTTP {exchange.status}, waited {delay:.1f} s"
            attempt += 1

    def _wait(self, seconds: float, name: str) -> None:
        """Wait before a retry, unless that would pass the scenario's deadline."""
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

    def _post(
        self, name: str, body: bytes, message: dict[str, Any], attempt: int, reason: str | None
    ) -> Exchange:
        timeout, allowed = self._timeout(name)
        headers = {
            "Authorization": f"Bearer {self._token(name)}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if self.settings.auth.source_id:
            headers["Redox-Source-Id"] = self.settings.auth.source_id
        exchange = Exchange(
            label=name,
            method="POST",
            url=self.endpoint,
            request_headers={},
            request_body=message,
            started_at=timestamp(),
            attempt=attempt,
            retry_reason=reason,
        )
        try:
            response = timed_post(
                self.http,
                exchange,
                self.endpoint,
                mask=self.redactor.headers,
                max_bytes=MAX_MESSAGE_BYTES,
                within=allowed,
                content=body,
                headers=headers,
                timeout=timeout,
            )
        except httpx.HTTPError:
            problem = exchange.transport_error or ""
            self._record(exchange)
            if exchange.cut_short:
                raise ScenarioTimeout(f"{name}: {self.timed_out()}") from None
            if problem.startswith(MALFORMED):
                said = f"{name}: {self.endpoint}: answered with a {problem}"
                raise MalformedResponse(said) from None
            reason = problem if problem.startswith(TIMED_OUT) else f"cannot reach ({problem})"
            raise TransportError(f"{name}: {self.endpoint}: {reason}") from None
        self._read_response(exchange, response, name)
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

    def _read_response(self, exchange: Exchange, response: httpx.Response, name: str) -> None:
        if exchange.oversized:
            exchange.schema = f"{name}.response"
            exchange.violations = [
                Violation("$", f"the response is over the {MAX_MESSAGE_BYTES:,} byte limit")
            ]
            return
        exchange.response_text = response.text
        try:
            exchange.response_body = parse_json(response.content)
        except TooDeep:
            exchange.too_deep = True
            return
        except ValueError:  # not JSON
            return
        if 200 <= response.status_code < 300 and not exchange.redox_errors:
            exchange.schema = f"{name}.response"
        else:
            exchange.schema = ERROR_SCHEMA
        exchange.violations = self.registry.validate(exchange.schema, exchange.response_body)
