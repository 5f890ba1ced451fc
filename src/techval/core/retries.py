"""When to send a message again: 429 (honouring Retry-After) and 502/503, with bounded
exponential backoff and full jitter.

Every Data Model message the harness sends is safe to repeat: queries change nothing; pushes
carry stable IDs (the patient's `techval-<alias>` identifiers, the document's ID), so Redox
treats a repeat as the same message; Organization.New repeated after a dropped request is
answered "already exists", which the scenario adopts. FHIR requests alike: reads and searches
change nothing, a PUT writes the same record again, a repeated create is "already exists".
Timeouts are never retried: the request may have been processed, and a slow Redox is a
finding, not a blip.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from techval.core.verifies import verifies

RETRYABLE = frozenset({429, 502, 503})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # in all, the first one included
    backoff: float = 0.5  # seconds before the 2nd attempt; doubles each time
    backoff_max: float = 8.0
    retry_after_max: float = 60.0  # a longer Retry-After is not waited for
    random: Callable[[float, float], float] = field(default=random.uniform, compare=False)

    @verifies("API-04")
    def delay(self, status: int | None, retry_after: str | None, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None: do not send again."""
        if status not in RETRYABLE or attempt >= self.attempts:
            return None
        if status == 429 and retry_after:
            asked = seconds(retry_after)
            if asked is not None:
                return asked if asked <= self.retry_after_max else None
        ceiling = min(self.backoff_max, self.backoff * 2 ** (attempt - 1))
        return self.random(0, ceiling)


def seconds(retry_after: str, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date; None when unreadable."""
    value = retry_after.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
