"""Whole runs against a hostile server (tests/hostile.py): each ends in time, in one line
naming what was observed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from techval.core.exchange import MAX_DEPTH
from techval.core.redox import MAX_MESSAGE_BYTES
from tests import hostile
from tests.unit.test_hostile_answers import (
    answering,
    complete,
    gzip_bomb,
    run_measured,
    scenarios,
)


@pytest.mark.waits
@pytest.mark.whole_run
def test_a_run_against_a_drip_ends_by_the_scenarios_deadline(
    tmp_path: Path, environment: Any
) -> None:
    endpoint = [hostile.drip(b"x" * 10_000, every=0.2), hostile.hang_up()]
    with answering(endpoint) as server:
        config = environment(server.url, connect=1, read=30, token=2, scenario=3)
        started = time.monotonic()
        result, _ = run_measured(config, tmp_path / "reports")
        elapsed = time.monotonic() - started
    assert result.code == 2, result.stdout + result.stderr
    assert elapsed < 3 + 20, elapsed  # the deadline, then requests that fail at once
    assert result.stderr.count("\n") == 1, result.stderr
    complete(result)
    first = scenarios(result)[0]
    assert "timed out: the scenario's deadline (3 s) passed" in first["message"], first
    assert first["kind"] == "could_not_run"


@pytest.mark.waits
@pytest.mark.whole_run
def test_a_run_against_a_drip_ends_at_the_read_timeout_of_each_request(
    tmp_path: Path, environment: Any
) -> None:
    with answering(hostile.drip(b"x" * 10_000, every=0.2)) as server:
        config = environment(server.url, connect=1, read=1, token=2, scenario=60)
        started = time.monotonic()
        result, _ = run_measured(config, tmp_path / "reports")
        elapsed = time.monotonic() - started
    assert result.code == 2, result.stdout + result.stderr
    assert elapsed < 3 * 1 + 20, elapsed  # three requests of 1 s, then fail fast
    assert result.stderr.startswith("techval: could not run: 3 requests in a row got no answer")
    assert "timed out (no complete answer within 1 s)" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    complete(result)


@pytest.mark.waits
@pytest.mark.whole_run
def test_a_run_against_gzip_bombs_stays_small_and_fails_the_checks(
    tmp_path: Path, environment: Any
) -> None:
    with answering(gzip_bomb()) as server:
        config = environment(server.url)
        result, peak = run_measured(config, tmp_path / "reports")
    assert peak < 400 * 2**20, peak
    assert result.code == 1, result.stdout + result.stderr
    complete(result)
    messages = [s["message"] or "" for s in scenarios(result)]
    assert any(f"over the {MAX_MESSAGE_BYTES:,} byte limit" in m for m in messages), messages
    assert not any("cannot reach" in m for m in messages), messages


@pytest.mark.whole_run
def test_a_run_against_malformed_answers_could_not_run_and_says_why(
    tmp_path: Path, environment: Any
) -> None:
    with answering(hostile.closed_mid_body()) as server:
        result, _ = run_measured(environment(server.url), tmp_path / "reports")
    assert result.code == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "malformed HTTP response (RemoteProtocolError: peer closed" in result.stderr
    complete(result)
    broken = [s for s in scenarios(result) if not s["message"].startswith("not run:")]
    assert broken and all(
        "answered with a malformed HTTP response" in s["message"] for s in broken
    ), broken
    assert {s["kind"] for s in scenarios(result)} == {"could_not_run"}


@pytest.mark.whole_run
@pytest.mark.parametrize(
    ("token", "observed"),
    [
        (hostile.deep_json, f"answered HTTP 200 with JSON nested more than {MAX_DEPTH} levels"),
        (gzip_bomb, f"with a body over the {MAX_MESSAGE_BYTES:,} byte limit"),
        (hostile.malformed_header, "answered with a malformed HTTP response"),
    ],
    ids=["deep-json", "gzip-bomb", "malformed"],
)
def test_a_first_token_answer_that_cannot_be_read_is_one_line_and_complete_reports(
    tmp_path: Path, environment: Any, token: Callable[[], hostile.Answer], observed: str
) -> None:
    with answering(hostile.json_answer({}), token=token()) as server:
        result, peak = run_measured(environment(server.url), tmp_path / "reports")
    assert result.code == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("techval: could not run: the token endpoint")
    assert observed in result.stderr
    complete(result)
    assert {(s["status"], s["kind"]) for s in scenarios(result)} == {("skipped", "could_not_run")}
    assert peak < 400 * 2**20, peak
