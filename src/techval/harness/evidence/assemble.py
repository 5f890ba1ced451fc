"""A run's evidence from its event stream: the scenarios with their outcomes and log IDs, the
HAR entries, the environment and the times. The same code serves one process, the xdist
workers of `techval run --workers N`, and the shards folded together by `techval merge`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from techval.core.errors import COULD_NOT_RUN, HARNESS_ERROR
from techval.harness import events
from techval.harness.evidence.outcomes import BROKEN, SKIPPED, ScenarioOutcome

UNFINISHED = "did not finish: the process running it stopped"
NOT_REACHED = "not run: the run was stopped (interrupted) before it"
NOT_FINISHED = "not finished: the run was stopped (interrupted) while it ran"
NOT_HELD = "not run: none of the merged reports folders holds it (its shard's events are missing)"
OTHER_SHARD = "shard"  # the reason a scenario was not selected: another shard runs it


@dataclass
class Assembled:
    outcomes: list[ScenarioOutcome] = field(default_factory=list)
    entries: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    interrupted: bool = False
    undefined_steps: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)  # why a process stopped (fail fast)
    runs: int = 0  # how many reporting processes' runs were folded in (shards)
    shapes: list[dict[str, Any]] = field(default_factory=list)  # answers' shapes (drift.py)
    findings: list[events.Finding] = field(default_factory=list)  # SHOULD: Reporter.finding
    # scenarios of the suite this run (or no merged shard) selected: --tags, -k, --shard
    not_selected: list[ScenarioOutcome] = field(default_factory=list)


def assemble(stream: Iterable[events.Record], *, merging: bool = False) -> Assembled:
    """`merging`: the events of several shards of one suite, where a scenario that each
    shard left to another and none ran was not run (a shard's events are missing)."""
    found = Assembled()
    scenarios: dict[str, ScenarioOutcome] = {}
    left_out: dict[str, tuple[ScenarioOutcome, str]] = {}
    started: set[str] = set()
    finished: set[str] = set()
    log_ids: dict[str, list[str]] = {}
    finished_run, finished_runs, latest = False, 0, ""
    for event in stream:
        latest = max(latest, event.at)
        match event:
            case events.RunStarted():
                _run_started(found, event)
            case events.ScenarioCollected() if event.scenario not in scenarios:
                scenarios[event.scenario] = ScenarioOutcome.from_identity(event)
            case events.ScenarioNotSelected() if event.scenario not in left_out:
                left_out[event.scenario] = (ScenarioOutcome.from_identity(event), event.reason)
            case events.ScenarioStarted():
                started.add(event.scenario)
            case events.ExchangeRecorded():
                found.entries.append((event.scenario, event.entry))
                log_ids.setdefault(str(event.scenario), []).extend(event.log_ids)
                if event.shape is not None:  # field paths and types, no values
                    found.shapes.append(event.shape)
            case events.ScenarioFinished() if event.scenario in scenarios:
                scenarios[event.scenario].end(event)
                finished.add(event.scenario)
            case events.Finding():
                found.findings.append(event)
            case events.RunStopped() if event.reason not in found.stopped:
                found.stopped.append(event.reason)
            case events.UndefinedStep() if event.where not in found.undefined_steps:
                found.undefined_steps.append(event.where)
            case events.RunFinished():
                finished_run = True
                finished_runs += 1
                found.finished_at = max(found.finished_at, event.at)
                found.interrupted = found.interrupted or event.interrupted
    if not finished_run:  # the reporting process itself was killed: what ran until then
        found.finished_at, found.interrupted = latest, True
    if finished_runs < found.runs:  # merged shards: one of them was killed
        found.interrupted = True
    _ended(found, scenarios, started, finished, log_ids)
    for nodeid, (outcome, reason) in left_out.items():
        if nodeid in scenarios:  # a merged shard ran it
            continue
        if merging and reason == OTHER_SHARD:
            outcome.status, outcome.kind, outcome.message = SKIPPED, COULD_NOT_RUN, NOT_HELD
            scenarios[nodeid] = outcome
        else:
            found.not_selected.append(outcome)
    found.outcomes = sorted(scenarios.values(), key=lambda o: o.position)
    found.not_selected.sort(key=lambda o: o.position)
    return found


def _ended(
    found: Assembled,
    scenarios: dict[str, ScenarioOutcome],
    started: set[str],
    finished: set[str],
    log_ids: dict[str, list[str]],
) -> None:
    """Each scenario's log IDs; how one that did not finish ended."""
    for nodeid, outcome in scenarios.items():
        outcome.log_ids = log_ids.get(nodeid, [])
        if nodeid in finished:
            continue
        if found.interrupted:  # what a stopped run did not get to: neither passed nor failed
            ended = NOT_FINISHED if nodeid in started else NOT_REACHED
            outcome.status, outcome.kind, outcome.message = SKIPPED, COULD_NOT_RUN, ended
        elif nodeid in started:
            outcome.status, outcome.kind, outcome.message = BROKEN, HARNESS_ERROR, UNFINISHED


def _run_started(found: Assembled, event: events.RunStarted) -> None:
    found.started_at = min(found.started_at, event.at) if found.started_at else event.at
    environment = event.environment
    if environment:
        found.runs += 1
        if not found.environment:
            found.environment = {str(k): str(v) for k, v in environment.items()}
