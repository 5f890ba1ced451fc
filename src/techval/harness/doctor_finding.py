"""One row of `techval doctor`'s table, under either API."""

from __future__ import annotations

from dataclasses import dataclass

OK, FAIL, WARN, SKIP = "ok", "FAIL", "warn", "skipped"
# The alias the patient search feature expects no match for.
EXPECTED_ABSENT = {"unknown patient"}


@dataclass(frozen=True)
class Finding:
    check: str
    result: str  # ok, FAIL, warn, skipped
    detail: str
    advice: str = ""
    code: int = 0  # what it does to the exit code: 0, 1 (does not fit), 2 (could not run)
