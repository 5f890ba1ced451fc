"""Fail fast: when the environment stops answering, the remaining scenarios are not attempted,
they are reported as not run, the run exits 2 soon after the first failure, and every report
is complete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from techval.core.config import FailFast, Timeouts
from techval.core.exchange import Exchange
from techval.core.health import Health
from techval.simulator import RunningSimulator
from techval.simulator.faults import named
from tests.helpers import write_environment


def exchange(label: str = "PatientSearch.Query", **changes: Any) -> Exchange:
    values: dict[str, Any] = {
        "label": label,
        "method": "POST",
        "url": "https://api.example/endpoint",
        "request_headers": {},
        "request_body": {},
        "started_at": "2026-01-01T00:00:00.000Z",
        "status": 200,
    }
    return Exchange(**(values | changes))


def test_requests_in_a_row_without_an_answer_make_the_environment_unreachable() -> None:
    health = Health(FailFast(after=3, probe_read=5))
    assert health.read_timeout(130) == 130
    health.observe(exchange(status=None, transport_error="timed out (ReadTimeout)"))
    assert health.read_timeout(130) == 5  # after the first failure, reads wait for the probe only
    health.observe(exchange(status=None, transport_error="ConnectError"))
    assert health.unreachable is None
    health.observe(exchange())  # an answer: the count starts again
    assert health.failures == 0 and health.read_timeout(130) == 130
    for _ in range(3):
        health.observe(exchange("Organization.Query", status=None, transport_error="ConnectError"))
    assert health.unreachable == (
        "3 requests in a row got no answer (the last: Organization.Query: ConnectError)"
    )


def test_a_wait_cut_by_the_scenarios_own_deadline_says_nothing_of_the_environment() -> None:
    health = Health(FailFast(after=2))
    cut = exchange(status=None, transport_error="timed out (ReadTimeout)", cut_short=True)
    for _ in range(3):
        health.observe(cut)
    assert health.failures == 0 and health.unreachable is None
    health.observe(exchange(status=None, transport_error="ConnectError"))
    health.observe(cut)  # neither counts nor resets
    health.observe(exchange(status=None, transport_error="ConnectError"))
    assert health.unreachable is not None


def test_token_answers_are_judged_by_the_client_not_one_by_one() -> None:
    """A refused refresh that the legacy flow recovers with a login must not stop the run:
    only the token provider's final refusal does (RedoxClient._token)."""
    health = Health(FailFast())
    health.observe(exchange("token", status=200))
    health.observe(exchange("token", status=401))
    assert health.unreachable is None


def test_the_default_timeouts_give_up_on_a_silent_token_endpoint_quickly() -> None:
    assert Timeouts().token <= 30 < Timeouts().read


def _every_scenario(reports: Path) -> list[dict[str, Any]]:
    result = json.loads((reports / "verdict.json").read_text())
    return [s for step in result["steps"] for s in step["scenarios"]]


def _complete(reports: Path) -> None:
    for part in ("verdict.json", "junit.xml", "exchanges.har"):
        assert (reports / part).is_file(), part
    assert any((reports / "allure-results").glob("*-result.json"))


FAST = {"connect": 1, "read": 1, "token": 1, "scenario": 60}


def falling_silent(server: RunningSimulator, tmp_path: Path, after: int) -> Path:
    """An environment whose server stops answering after 8 requests; reads of 1 s, probes of
    0.3 s, unreachable after `after` requests in a row without an answer."""
    server.simulator.faults.append(named("silent_after:8"))
    return write_environment(
        tmp_path,
        simulator=None,
        base_url=server.url,
        timeouts=FAST,
        fail_fast={"after": after, "probe_read": 0.3},
    )
