"""A run's evidence from its event stream: the scenarios with their outcomes and log IDs, the
HAR entries, the environment and the times. The same code serves one process, the xdist
workers of `techval run --workers N`, and the shards folded together by `techval merge`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from techval.core.errors import COULD_NOT_RUN, HARNESS_ERROR
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
    findings: list[dict[str, Any]] = field(default_factory=list)  # SHOULD: Reporter.finding
    # scenarios of the suite this run (or no merged shard) selected: --tags, -k, --shard
    not_selected: list[ScenarioOutcome] = field(default_factory=list)


def assemble(stream: Iterable[dict[str, Any]], *, merging: bool = False) -> Assembled:
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
        kind, scenario = event["event"], event.get("scenario")
        latest = max(latest, str(event.get("at", "")))
        if kind == "run_started":
            _run_started(found, event)
        elif kind == "scenario_collected" and scenario not in scenarios:
            scenarios[str(scenario)] = ScenarioOutcome.from_identity(event)
        elif kind == "scenario_not_selected" and scenario not in left_out:
            left_out[str(scenario)] = (
                ScenarioOutcome.from_identity(event),
                str(event.get("reason")),
            )
        elif kind == "scenario_started":
            started.add(str(scenario))
        elif kind == "exchange" and isinstance(event.get("entry"), dict):
            found.entries.append((scenario, event["entry"]))
            log_ids.setdefault(str(scenario), []).extend(event.get("log_ids") or [])
            if isinstance(event.get("shape"), dict):  # field paths and types, no values
                found.shapes.append(event["shape"])
        elif kind == "scenario_finished" and scenario in scenarios:
            scenarios[str(scenario)].end(event)
            finished.add(str(scenario))
        elif kind == "finding":
            found.findings.append(event)
        elif kind == "run_stopped" and event.get("reason") not in found.stopped:
            found.stopped.append(str(event.get("reason")))
        elif kind == "undefined_step" and event.get("where") not in found.undefined_steps:
            found.undefined_steps.append(str(event.get("where")))
        elif kind == "run_finished":
            finished_run = True
            finished_runs += 1
            found.finished_at = max(found.finished_at, str(event.get("at", "")))
            found.interrupted = found.interrupted or bool(event.get("interrupted"))
    if not finished_run:  # the reporting process itself was killed: what ran until then
        found.finished_at, found.interrupted = latest, True
    if finished_runs < found.runs:  # merged shards: one of them was killed
        found.interrupted = True
    for nodeid, outcome in scenarios.items():
        outcome.log_ids = log_ids.get(nodeid, [])
        if nodeid in finished:
            continue
        if found.interrupted:  # what a stopped run did not get to: neither passed nor failed
            ended = NOT_FINISHED if nodeid in started else NOT_REACHED
            outcome.status, outcome.kind, outcome.message = SKIPPED, COULD_NOT_RUN, ended
        elif nodeid in started:
            outcome.status, outcome.kind, outcome.message = BROKEN, HARNESS_ERROR, UNFINISHED
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


def _run_started(found: Assembled, event: dict[str, Any]) -> None:
    at = str(event.get("at", ""))
    found.started_at = min(found.started_at, at) if found.started_at else at
    environment = event.get("environment")
    if isinstance(environment, dict) and environment:
        found.runs += 1
        if not found.environment:
            found.environment = {str(k): str(v) for k, v in environment.items()}
