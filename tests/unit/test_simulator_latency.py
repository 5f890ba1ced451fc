"""`simulator.answer_delay`: every answer of the real server is held back like a round trip to
Redox, outside the simulator's lock, so concurrent clients (parallel workers) wait together."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from techval.core.auth import token_provider
from techval.core.config import Settings
from techval.core.redaction import Redactor
from techval.simulator import RunningSimulator, Simulator, provision
from techval.validation import organization
from tests.helpers import settings_for

DELAY = 0.2
CLIENTS = 4
EARLY = 0.01  # a timed wait may end a clock tick early


@pytest.fixture
def delayed_settings(tmp_path: Path) -> Settings:
    simulator = {"start": True, "port": 0, "repository_delay": 0.05, "answer_delay": DELAY}
    return settings_for(tmp_path, simulator=simulator)


@pytest.fixture
def running(delayed_settings: Settings) -> Iterator[RunningSimulator]:
    server = RunningSimulator(provision(delayed_settings)).start()
    try:
        yield server
    finally:
        server.stop()


def _query(settings: Settings) -> bytes:
    return json.dumps(organization.query_message(settings, settings.organizations[0].oid)).encode()


def _post(
    url: str, token: str, body: bytes, http: httpx.Client | None = None
) -> tuple[float, int, Any]:
    """One POST to /endpoint: (seconds it took, status, JSON answer)."""
    with contextlib.ExitStack() as stack:
        http = http or stack.enter_context(httpx.Client(timeout=10))
        start = time.perf_counter()
        response = http.post(
            f"{url}/endpoint",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        return time.perf_counter() - start, response.status_code, response.json()


def _without_log_ids(document: Any) -> Any:
    """The answer minus what differs between any two answers (the Redox log of the request)."""
    document = json.loads(json.dumps(document))
    document.get("Meta", {}).pop("Logs", None)
    return document


def test_the_environment_file_sets_the_delay(delayed_settings: Settings, tmp_path: Path) -> None:
    assert delayed_settings.simulator and delayed_settings.simulator.answer_delay == DELAY
    assert provision(delayed_settings).answer_delay == DELAY
    assert Simulator({}).answer_delay == 0.0  # none by default
    assert settings_for(tmp_path).simulator.answer_delay == 0.0  # type: ignore[union-attr]


class Gathering(threading.Event):
    """The server's stop event, whose timed wait (the answer delay) first meets the other
    clients' at a barrier: held behind one lock, the answers would never all wait at once
    and the barrier breaks. No clock decides: the barrier's timeout only bounds a failure."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=30)
        self.met = 0

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None:  # an answer being held back
            self.barrier.wait()
            self.met += 1
        return super().wait(timeout)


def test_concurrent_answers_wait_together_and_are_unchanged(
    running: RunningSimulator, delayed_settings: Settings
) -> None:
    simulator = running.simulator
    token = simulator.tokens._issue(300)
    body = _query(delayed_settings)
    headers = {"authorization": f"Bearer {token}"}
    undelayed = simulator.handle("POST", "/endpoint", headers, body)  # in-process: no wire
    gathering = Gathering(CLIENTS)
    running._server.stopping = gathering

    with contextlib.ExitStack() as stack, ThreadPoolExecutor(CLIENTS) as pool:
        clients = [stack.enter_context(httpx.Client(timeout=60)) for _ in range(CLIENTS)]
        answers = list(pool.map(lambda http: _post(running.url, token, body, http), clients))

    assert not gathering.barrier.broken, "the answers were not held back at the same time"
    assert gathering.met == CLIENTS
    assert all(seconds >= DELAY - EARLY for seconds, _, _ in answers)  # each one held back
    expected = _without_log_ids(json.loads(undelayed.body))
    for _, status, document in answers:
        assert status == undelayed.status == 200
        assert _without_log_ids(document) == expected


def test_token_answers_are_held_back_too(
    running: RunningSimulator, delayed_settings: Settings
) -> None:
    auth = delayed_settings.with_base_url(running.url).auth
    with httpx.Client(timeout=10) as http:
        provider = token_provider(auth, http, Redactor(), lambda exchange: None)
        start = time.perf_counter()
        token = provider.token()
        seconds = time.perf_counter() - start
    assert seconds >= DELAY - EARLY
    assert running.simulator.tokens.valid(f"Bearer {token}")


def test_stopping_lets_held_answers_go_at_once(delayed_settings: Settings) -> None:
    simulator = provision(delayed_settings)
    simulator.answer_delay = 60.0
    server = RunningSimulator(simulator).start()
    token = simulator.tokens._issue(300)
    outcome: list[tuple[float, int, Any]] = []
    client = threading.Thread(
        target=lambda: outcome.append(_post(server.url, token, _query(delayed_settings)))
    )
    client.start()
    deadline = time.monotonic() + 10
    while not simulator.captured and time.monotonic() < deadline:  # the request is in
        time.sleep(0.01)
    server.stop()
    client.join(timeout=10)
    assert outcome, "the held answer was not sent when the simulator stopped"
    seconds, status, _ = outcome[0]
    assert status == 200 and seconds < 10
