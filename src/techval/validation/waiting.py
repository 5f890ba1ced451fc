"""The one place the harness waits: bounded polling with a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from techval.core.config import Polling
from techval.core.errors import NotFound, ReadbackMismatch
from techval.core.reporting import Reporter
from techval.core.verifies import verifies

T = TypeVar("T")
MAX_INTERVAL = 10.0


@dataclass(frozen=True)
class Miss:
    """A probe's answer when it found what it looks for, but not (yet) as expected: `why` names
    what differs (fields and kinds, never values), for the message if polling ends so."""

    why: str


def poll(
    probe: Callable[[int], T | Miss | None],
    *,
    what: str,
    attempts: int,
    deadline: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `probe(attempt)` until it returns a value, at most `attempts` times and no later
    than `deadline` seconds from now; the pause doubles from `interval` up to 10 s.

    Raises CheckFailed naming `what`, the attempts made and the time spent: "not found" when
    the probe never found anything, else "found on ... attempts, but" the last Miss's `why`.
    """
    start = clock()
    pause = interval
    made = 0
    misses: list[Miss] = []
    for attempt in range(1, attempts + 1):
        made = attempt
        found = probe(attempt)
        if isinstance(found, Miss):
            misses.append(found)
        elif found is not None:
            return found
        remaining = deadline - (clock() - start)
        if attempt == attempts or remaining <= 0:
            break
        sleep(min(pause, remaining))
        pause = min(pause * 2, MAX_INTERVAL)
    spent = clock() - start
    limits = f"limits: {attempts} attempts, {deadline:g} s"
    if misses:
        times = (
            f"every attempt ({made})"
            if len(misses) == made
            else f"{len(misses)} of {made} attempts"
        )
        raise ReadbackMismatch(
            f"{what}: found on {times}, but {misses[-1].why} (after {spent:.1f} s; {limits})"
        )
    raise NotFound(
        f"{what}: not found after {made} attempt{'s' if made != 1 else ''} "
        f"in {spent:.1f} s ({limits})"
    )


@verifies("DOD-06", "PS-04")
def poll_reported(
    reporter: Reporter, what: str, limits: Polling, probe: Callable[[], T | Miss | None]
) -> T:
    """`poll` within an environment's limits, each attempt a step of its own in the report."""

    def attempt(number: int) -> T | Miss | None:
        with reporter.step(f"{what}: attempt {number} of {limits.attempts}"):
            return probe()

    return poll(
        attempt,
        what=what,
        attempts=limits.attempts,
        deadline=limits.deadline,
        interval=limits.interval,
    )
