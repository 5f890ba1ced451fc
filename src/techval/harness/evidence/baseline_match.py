"""The baseline's entries against the run's scenarios: each entry of the run's environment
is matched to the outcomes of the scenarios it names. known (failed as baselined, unexpired:
not counted in the exit code, still failed in its step), expired or changed (a different
failure kind: both counted as today), stale (the scenario now passes: the entry can go).
Scenarios that did not run leave their entry alone. decide.py applies this while it decides
each scenario's outcome, before the verdict is built.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from techval.core.errors import COULD_NOT_RUN
from techval.harness.evidence.baseline_file import Entry, Key, key_of
from techval.harness.evidence.outcomes import BROKEN, FAILED, PASSED, ScenarioOutcome

KNOWN_FAILURE = "known"  # a scenario's `baseline` state: failed as baseline.yaml expects
EXPIRED, CHANGED, STALE = "expired", "changed", "stale"
STATES = (KNOWN_FAILURE, EXPIRED, CHANGED, STALE)


def failed(status: str | None, kind: str | None) -> bool:
    """A failure a baseline entry can name: failed or broken, other than by not running."""
    return status in (FAILED, BROKEN) and kind != COULD_NOT_RUN


def run_date(finished_at: str) -> date:
    """The day the run finished (UTC), against which expiry dates are read."""
    with contextlib.suppress(ValueError, TypeError):
        return date.fromisoformat(finished_at[:10])
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Matched:
    """What the baseline file said of this run: verdict.json's `baseline`."""

    file: str = ""  # as the evidence names it: relative to the project
    environment: str = ""
    entries: int = 0  # the environment's entries in the file
    error: str | None = None  # the file went bad after the run was checked: not applied
    states: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {state: [] for state in STATES}
    )

    def as_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "file": self.file,
            "environment": self.environment,
            "entries": self.entries,
        }
        if self.error is not None:
            document["error"] = self.error
        return document | {state: list(self.states.get(state, [])) for state in STATES}


def _state(outcome: ScenarioOutcome, entry: Entry, today: date) -> str | None:
    if failed(outcome.status, outcome.kind):
        if outcome.kind != entry.kind:
            return CHANGED
        return EXPIRED if entry.expires < today else KNOWN_FAILURE
    return STALE if outcome.status == PASSED else None  # not run, not applicable: nothing


def match(
    outcomes: list[ScenarioOutcome], entries: list[Entry], today: date
) -> tuple[list[ScenarioOutcome], dict[str, list[dict[str, Any]]]]:
    """The outcomes with each matched scenario's `baseline` state (verdict.exit_code leaves
    out the known ones), and the entries by state."""
    states: dict[str, list[dict[str, Any]]] = {state: [] for state in STATES}
    by_key: dict[Key, list[int]] = {}
    for index, outcome in enumerate(outcomes):
        by_key.setdefault(key_of(outcome.name, outcome.parameters), []).append(index)
    decided = list(outcomes)
    for entry in entries:
        for index in by_key.get(entry.key, []):
            outcome = decided[index]
            state = _state(outcome, entry, today)
            if state is None:
                continue
            decided[index] = dataclasses.replace(outcome, baseline=state)
            item = entry.as_document()
            if state == CHANGED:
                item |= {"now": outcome.kind, "message": outcome.message}
            states[state].append(item)
    return decided, states
