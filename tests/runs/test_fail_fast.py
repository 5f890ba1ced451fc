"""An environment that stops answering stops the run soon: exit 2, every scenario accounted for."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from techval.simulator import RunningSimulator
from techval.simulator.faults import named
from tests.helpers import run_techval, write_environment
from tests.unit.test_fail_fast import (
    _complete,
    _every_scenario,
    falling_silent,
)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


@pytest.mark.whole_run
def test_a_server_that_never_answers_ends_the_run_with_exit_2_and_every_scenario_not_run(
    silent_server: str, tmp_path: Path
) -> None:
    """The first token gives up after timeouts.token (30 s by default, see above: measured
    end to end at 32 s; here 2 s, to keep the suite quick), then nothing else waits."""
    config = write_environment(
        tmp_path, simulator=None, base_url=silent_server, timeouts={"token": 2}
    )
    started = time.monotonic()
    result = run_techval(["--config", str(config)], tmp_path / "reports", timeout=110)
    elapsed = time.monotonic() - started
    assert result.code == 2, result.stderr
    assert elapsed < 2 + 15, elapsed  # the token timeout and the run's own fixed cost
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("techval: could not run: cannot reach the token endpoint")
    scenarios = _every_scenario(result.reports)
    assert len(scenarios) == 15  # the test environment has one organization
    assert {(s["status"], s["kind"]) for s in scenarios} == {("skipped", "could_not_run")}
    assert all(
        s["message"].startswith("not run: the environment stopped answering: cannot reach")
        for s in scenarios
    )
    _complete(result.reports)
    junit = (result.reports / "junit.xml").read_text()
    assert junit.count("<skipped") == 15


@pytest.mark.whole_run
def test_an_environment_that_falls_silent_mid_run_stops_the_run_soon(
    server: RunningSimulator, tmp_path: Path
) -> None:
    config = falling_silent(server, tmp_path, after=3)
    result = run_techval(["--config", str(config)], tmp_path / "reports", timeout=90)
    assert result.code == 2, result.stdout + result.stderr
    assert "could not run: 3 requests in a row got no answer" in result.stderr
    scenarios = _every_scenario(result.reports)
    statuses = [(s["status"], s["kind"]) for s in scenarios]
    assert ("passed", None) in statuses  # what ran before the silence is kept
    not_run = [s for s in scenarios if s["message"].startswith("not run: the environment")]
    assert not_run and all(s["kind"] == "could_not_run" for s in not_run)
    assert len(scenarios) == 15  # the test environment has one organization
    _complete(result.reports)
    durations = sorted(s["duration_s"] for s in scenarios)
    assert durations[-1] < 5  # one read timeout, then probes of 0.3 s: no scenario waited long


@pytest.mark.whole_run
def test_credentials_revoked_mid_run_stop_the_run(server: RunningSimulator, tmp_path: Path) -> None:
    server.simulator.faults += [named("token_expires_early"), named("token_refused_after:1")]
    config = write_environment(tmp_path, simulator=None, base_url=server.url)
    result = run_techval(["--config", str(config)], tmp_path / "reports")
    assert result.code == 2, result.stdout + result.stderr
    assert (
        "mid-run, the token endpoint" in result.stderr
        and "refused the credentials" in result.stderr
    )
    scenarios = _every_scenario(result.reports)
    assert any(s["message"].startswith("not run: the environment") for s in scenarios)
    _complete(result.reports)


@pytest.mark.waits
@pytest.mark.whole_run
def test_with_workers_the_reason_is_said_once_and_the_exit_is_2(
    server: RunningSimulator, tmp_path: Path
) -> None:
    config = falling_silent(server, tmp_path, after=2)
    result = run_techval(
        ["--config", str(config), "--workers", "2"], tmp_path / "reports", timeout=90
    )
    assert result.code == 2, result.stdout[-2000:] + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("techval: could not run: ")
    # whichever worker saw it first: requests without an answer, or its first token
    assert "2 requests in a row got no answer" in lines[0] or "token endpoint" in lines[0]
    verdict = json.loads((result.reports / "verdict.json").read_text())
    assert verdict["stopped"] and verdict["counts"]["total"] == 15
    _complete(result.reports)
