"""The retry policy: what is sent again, after how long, and when to give up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from techval.core.retries import RetryPolicy, seconds


def policy(**changes: Any) -> RetryPolicy:
    return RetryPolicy(random=lambda low, high: high, **changes)  # the ceiling, not a draw


def test_only_429_502_503_are_retried() -> None:
    for status in (200, 400, 401, 403, 404, 413, 500, 504, None):
        assert policy().delay(status, None, 1) is None, status
    assert policy().delay(502, None, 1) == 0.5 and policy().delay(503, None, 1) == 0.5


def test_backoff_doubles_up_to_its_ceiling_with_full_jitter() -> None:
    assert [policy(attempts=9).delay(502, None, n) for n in range(1, 8)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        8.0,
        8.0,
    ]
    draws: list[tuple[float, float]] = []

    def draw(low: float, high: float) -> float:
        draws.append((low, high))
        return 0.0

    assert RetryPolicy(random=draw).delay(502, None, 3) == 0.0
    assert draws == [(0, 2.0)]


def test_attempts_bound_the_retries() -> None:
    assert policy(attempts=3).delay(502, None, 2) == 1.0
    assert policy(attempts=3).delay(502, None, 3) is None
    assert policy(attempts=1).delay(429, "1", 1) is None


def test_retry_after_is_honoured_unless_too_long() -> None:
    assert policy().delay(429, "7", 1) == 7.0
    assert policy(retry_after_max=5).delay(429, "7", 1) is None
    assert policy().delay(429, "soon", 1) == 0.5  # unreadable: the usual backoff


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
    assert seconds("Sat, 21 Nov 2026 10:00:30 GMT", now) == 30.0
    assert seconds("Sat, 21 Nov 2026 09:00:00 GMT", now) == 0.0
    assert seconds("not a date", now) is None
