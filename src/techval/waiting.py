"""The one place the harness waits: bounded polling with a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from techval.errors import CheckFailed

T = TypeVar("T")
MAX_INTERVAL = 10.0


def poll(
    probe: Callable[[int], T | None],
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

    Raises CheckFailed naming `what`, the attempts made and the time spent.
    """
    start = clock()
    pause = interval
    made = 0
    for attempt in range(1, attempts + 1):
        made = attempt
        found = probe(attempt)
        if found is not None:
            return found
        remaining = deadline - (clock() - start)
        if attempt == attempts or remaining <= 0:
            break
        sleep(min(pause, remaining))
        pause = min(pause * 2, MAX_INTERVAL)
    raise CheckFailed(
        f"{what}: not found after {made} attempt{'s' if made != 1 else ''} "
        f"in {clock() - start:.1f} s (limits: {attempts} attempts, {deadline:g} s)"
    )
