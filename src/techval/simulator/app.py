"""The simulated Redox API: routes a request to the token endpoints or to /endpoint.

`Simulator.handle` is a plain function of (method, path, headers, body) so tests can call it
directly; server.py puts it behind a real HTTP server on loopback.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from techval.core import yamlfile
from techval.core.paths import project_root
from techval.core.redox import MAX_MESSAGE_BYTES
from techval.simulator import (
    directory_routes,
    dod_routes,
    fhir_directory,
    fhir_queries,
    fhir_routes,
    query_routes,
    routes,
)
from techval.simulator.acceptance import missing_fields
from techval.simulator.directory import Directory, DirectoryError
from techval.simulator.faults import Fault
from techval.simulator.fhir_config import FhirState
from techval.simulator.fhir_routes import interaction
from techval.simulator.network import Network
from techval.simulator.record_locator import FanOut
from techval.simulator.repository import Repository
from techval.simulator.responses import (
    Reply,
    error,
    errors_reply,
    text_reply,
)
from techval.simulator.routes import DESTINATION_NAMES
from techval.simulator.tokens import TokenIssuer

CAPTURED = 1000  # requests kept for harness tests to read (the latest ones)
NO_SUBSCRIPTION = (
    "No subscriptions. Meta.Destinations needs to contain a destination from existing subscriptions"
)


@dataclass(frozen=True)
class CapturedRequest:
    """What the simulator received, so harness tests can check what was sent."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Simulator:
    def __init__(
        self,
        destinations: Mapping[str, str],
        *,
        data_dir: Path | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        faults: list[Fault] | None = None,
        test_patients: Path | None = None,
        answer_delay: float = 0.0,
    ) -> None:
        self.purposes = {dest_id: purpose for purpose, dest_id in destinations.items()}
        self.max_message_bytes = max_message_bytes
        self.tokens = TokenIssuer()
        data_dir = data_dir or project_root() / "fixtures" / "simulator"
        self.network = Network.load(data_dir, test_patients)
        self.repository = Repository(folder=data_dir)
        self.record_locator = FanOut(active=1)
        self.directory = Directory(
            (_load_yaml(data_dir / "directory.yaml") or []) + self.network.directory_records()
        )
        self.fhir = FhirState()  # the FHIR R4 API (fhir_*.py); provision() sets its options
        # the latest requests (a long-lived `techval simulator` must not grow without end)
        self.captured: deque[CapturedRequest] = deque(maxlen=CAPTURED)
        self.routes = routes.merged(directory_routes.ROUTES, dod_routes.ROUTES, query_routes.ROUTES)
        self.fhir_routes = routes.merged(fhir_directory.ROUTES, fhir_queries.ROUTES)
        self.faults: list[Fault] = list(faults or [])
        self.lock = threading.RLock()
        # Seconds every answer (token and /endpoint) is held back on the wire, as a round trip
        # to Redox takes; server.py applies it outside the lock. Not in-process (transport.py).
        self.answer_delay = answer_delay

    @property
    def location_query_active(self) -> int:
        """How often a LocationQuery is answered task-status Active before Success."""
        return self.record_locator.active

    @location_query_active.setter
    def location_query_active(self, times: int) -> None:
        self.record_locator.active = max(int(times), 0)

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        headers = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            self.captured.append(CapturedRequest(method, path, headers, body))
            path = path.split("?", 1)[0].rstrip("/")

            def proceed() -> Reply:
                return self._route(method, path, headers, body)

            message = None
            fhir = self.fhir.options.owns(path)
            if path in {"/endpoint", "/query"}:
                parsed = _json_or_none(body)
                message = parsed if isinstance(parsed, dict) else {}
            elif fhir:
                message = fhir_stand_in(*interaction(self.fhir.options, method, path))
            for fault in self.faults:
                proceed = _wrapped(fault, message, proceed)
            reply = proceed()
            if fhir and not any(k.lower() == TRACE_HEADER.lower() for k in reply.headers):
                # on every answer of the FHIR API (redox-fhir.md 9.6), copied: a fault may
                # answer the same Reply object every time
                reply = Reply(reply.status, reply.body, {**reply.headers, TRACE_HEADER: _trace()})
            return reply

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if self.fhir.options.owns(path):
            if not self.tokens.valid(headers.get("authorization")):
                return text_reply(401, "Unauthorized")
            if len(body) > self.max_message_bytes:
                return too_large(self.max_message_bytes)
            return fhir_routes.handle(self, self.fhir_routes, (method, path), headers, body)
        if method != "POST":
            return text_reply(404, "Not Found")
        if path in {"/v2/auth/token", "/oauth/token"}:
            return self.tokens.oauth(body, path)
        if path in {"/auth/authenticate", "/auth/refreshToken"}:
            document = _json_or_none(body)
            if path == "/auth/authenticate":
                return self.tokens.legacy_login(document)
            return self.tokens.legacy_refresh(document)
        if path in {"/endpoint", "/query"}:
            if not self.tokens.valid(headers.get("authorization")):
                return text_reply(401, "Unauthorized")
            if len(body) > self.max_message_bytes:
                return too_large(self.max_message_bytes)
            return self._endpoint(body)
        return text_reply(404, "Not Found")

    def _endpoint(self, body: bytes) -> Reply:
        message = _json_or_none(body)
        if not isinstance(message, dict):
            return errors_reply(400, {}, [error("Request body is not valid JSON")])
        meta = message.get("Meta")
        if not isinstance(meta, dict):
            return errors_reply(400, {}, [error("Required field missing - Meta")])
        data_model, event_type = meta.get("DataModel"), meta.get("EventType")
        if not isinstance(data_model, str) or not isinstance(event_type, str):
            return errors_reply(
                400, meta, [error("Required field missing - Meta.DataModel or Meta.EventType")]
            )
        destinations = meta.get("Destinations")
        if not isinstance(destinations, list) or not destinations:
            return errors_reply(400, meta, [error(NO_SUBSCRIPTION, module="Subscriptions")])
        if len(destinations) > 1:
            return errors_reply(
                400,
                meta,
                [
                    error(
                        "Synchronous requests like queries can only support one destination.",
                        module="Send",
                    )
                ],
            )
        destination = destinations[0].get("ID") if isinstance(destinations[0], dict) else None
        purpose = self.purposes.get(str(destination))
        handler = self.routes.get((purpose or "", data_model, event_type))
        if purpose is None or handler is None:
            return errors_reply(400, meta, [error(NO_SUBSCRIPTION, module="Subscriptions")])
        name = DESTINATION_NAMES.get(purpose)
        invalid = missing_fields(message, data_model, event_type)
        if invalid:
            return errors_reply(400, meta, [error(text) for text in invalid], name)
        try:
            return handler(self, message, name or purpose)
        except DirectoryError as exc:
            return errors_reply(exc.status, meta, [exc.error], name)


TRACE_HEADER = "Redox-Trace-Id"


def _trace() -> str:
    return str(uuid.uuid4())


def fhir_stand_in(resource: str, kind: str, environment: str) -> dict[str, Any]:
    """What faults see of a FHIR request: Redox's name for it as a data model and event type
    (`FHIR.<Resource>`, redox-fhir.md 8.8) and, under "FHIR", the interaction."""
    return {
        "Meta": {"DataModel": f"FHIR.{resource}", "EventType": kind},
        "FHIR": {"resource": resource, "interaction": kind, "environment": environment},
    }


def _wrapped(
    fault: Fault, message: dict[str, Any] | None, inner: Callable[[], Reply]
) -> Callable[[], Reply]:
    return lambda: fault(message, inner)


def too_large(limit: int) -> Reply:
    return errors_reply(
        413,
        {},
        [error(f"Payload exceeds the size limit of {limit / 1_000_000:g} MB", module="Send")],
    )


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _load_yaml(path: Path) -> Any:
    return yamlfile.load(path) if path.is_file() else None
