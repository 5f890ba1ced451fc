"""Each scenario's outcome decided once, before anything reads it: how it ended (assemble.py:
passed, failed, broken, skipped, with its kind: not offered, not applicable, could not run),
then what the baseline file says of it (known, expired, changed, stale). The verdict is built
from a `Decided`, and the sections read one: none of them changes an outcome.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.baseline_file import BaselineError, load, shown
from techval.harness.evidence.baseline_match import Matched, match, run_date
from techval.harness.evidence.inputs import Inputs


@dataclass(frozen=True)
class Decided:
    """The run as assembled from its events, its outcomes final."""

    found: Assembled
    baseline: Matched = field(default_factory=Matched)


def decide(found: Assembled, inputs: Inputs) -> Decided:
    path = inputs.baseline
    environment = found.environment.get("environment", "")
    named = Matched(file=shown(path), environment=environment)
    try:
        entries = load(path, shown(path)).get(environment, [])
    except BaselineError as exc:  # checked before the run; changed since
        return Decided(found, dataclasses.replace(named, error=str(exc)))
    outcomes, states = match(found.outcomes, entries, run_date(found.finished_at))
    decided = dataclasses.replace(found, outcomes=outcomes)
    return Decided(decided, dataclasses.replace(named, entries=len(entries), states=states))
