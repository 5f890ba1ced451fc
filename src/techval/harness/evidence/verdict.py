"""reports/verdict.json: the machine-readable outcome of a run, per validation step, and what
changed since the previous run and since the last green one.

reports/history/ carries state from run to run (CI keeps it between nightly jobs):
latest.json (the previous verdict), last-green.json, and the Allure trend history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from techval.core import jsontext
from techval.core.errors import COULD_NOT_RUN, NOT_OFFERED
from techval.harness.evidence import history
from techval.harness.evidence.baseline_match import KNOWN_FAILURE
from techval.harness.evidence.decide import Decided
from techval.harness.evidence.outcomes import (
    BROKEN,
    FAILED,
    PASSED,
    SKIPPED,
    STATUSES,
    ScenarioOutcome,
)
from techval.validation.catalogue import STEPS

SCHEMA_VERSION = 1
INCOMPLETE = "incomplete"
CANNOT_RUN_FAILED = "could_not_run_failed"  # of the could_not_run ones, those failed or broken
NOT_APPLICABLE = "not_applicable"  # skipped because the test data does not fit the network
NOT_SELECTED = "not_selected"  # a scenario of the suite left out (--tags, -k, --shard)
# verdict.json's own keys (Verdict.as_document, then verdict.write's comparisons): no
# section's part may take one (sections.check_order)
VERDICT_KEYS = (
    "schema_version",
    "verdict",
    "interrupted",
    "started_at",
    "finished_at",
    "environment",
    "counts",
    "undefined_steps",
    "stopped",
    "steps",
    "since_previous",
    "since_last_green",
)


@dataclass(frozen=True)
class StepVerdict:
    """One validation step: its scenarios' outcomes (decided) and what they add up to."""

    key: str
    number: int
    title: str
    verdict: str
    counts: dict[str, int]
    doc_url: str
    scenarios: list[ScenarioOutcome]
    not_selected: list[str]  # the titles of its scenarios a selection left out

    def as_document(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "number": self.number,
            "title": self.title,
            "verdict": self.verdict,
            "counts": self.counts,
            "doc_url": self.doc_url,
            "scenarios": [o.as_document() for o in self.scenarios],
            NOT_SELECTED: list(self.not_selected),
        }


@dataclass(frozen=True)
class Verdict:
    """The run's verdict, built in one pass from its decided outcomes; verdict.json holds its
    `as_document`, with the sections' parts after it."""

    verdict: str
    interrupted: bool
    started_at: str
    finished_at: str
    environment: dict[str, str]
    counts: dict[str, int]
    undefined_steps: list[str]
    stopped: list[str]  # why the environment counted as unreachable (fail fast)
    steps: list[StepVerdict]

    def exit_code(self) -> int:
        ended = ((o.status, o.kind, o.baseline) for s in self.steps for o in s.scenarios)
        return _exit_code(ended, bool(self.undefined_steps))

    def as_document(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "verdict": self.verdict,
            "interrupted": self.interrupted,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "environment": dict(self.environment),
            "counts": self.counts,
            "undefined_steps": list(self.undefined_steps),
            "stopped": list(self.stopped),
            "steps": [step.as_document() for step in self.steps],
        }


def build(
    outcomes: Iterable[ScenarioOutcome],
    environment: Mapping[str, str],
    *,
    started_at: str,
    finished_at: str,
    interrupted: bool = False,
    undefined_steps: Iterable[str] = (),
    stopped: Iterable[str] = (),
    not_selected: Iterable[ScenarioOutcome] = (),
) -> Verdict:
    """A step passes only when every scenario of the suite in it ran and passed: one left
    out by a selection makes it incomplete (not_selected when none of its scenarios ran), so
    a subset is never a passed validation, though its exit code may be 0."""
    outcomes, left_out = list(outcomes), list(not_selected)
    steps = []
    for step in STEPS:
        mine = [o for o in outcomes if o.step == step.key]
        left = [o for o in left_out if o.step == step.key]
        counts = _counts(mine, len(left))
        steps.append(
            StepVerdict(
                step.key,
                step.number,
                step.title,
                _step_verdict(counts),
                counts,
                step.doc_url,
                mine,
                [o.title for o in left],
            )
        )
    verdicts = {s.verdict for s in steps}
    overall = FAILED if FAILED in verdicts else PASSED if verdicts == {PASSED} else INCOMPLETE
    return Verdict(
        overall,
        interrupted,
        started_at,
        finished_at,
        dict(environment),
        _counts(outcomes, len(left_out)),
        list(undefined_steps),
        list(stopped),
        steps,
    )


def from_decided(decided: Decided) -> Verdict:
    """The verdict of a run whose outcomes are decided (decide.py: the baseline applied)."""
    assembled = decided.found
    return build(
        assembled.outcomes,
        assembled.environment,
        started_at=assembled.started_at,
        finished_at=assembled.finished_at,
        interrupted=assembled.interrupted,
        undefined_steps=assembled.undefined_steps,
        stopped=assembled.stopped,
        not_selected=assembled.not_selected,
    )


def scenarios_of(verdict: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The scenarios of a verdict document (verdict.json, read back), step by step."""
    return [s for step in (verdict or {}).get("steps", []) for s in step.get("scenarios", [])]


def exit_code(verdict: Mapping[str, Any]) -> int:
    """The exit code of a verdict document (verdict.json, read back): Verdict.exit_code."""
    ended = ((s.get("status"), s.get("kind"), s.get("baseline")) for s in scenarios_of(verdict))
    return _exit_code(ended, bool(verdict.get("undefined_steps")))


def _exit_code(ended: Iterable[tuple[str | None, str | None, str | None]], undefined: bool) -> int:
    """0 nothing failed; 1 a scenario failed a check (or the harness broke); 2 the only
    failures are "could not run" (errors.failure_kind), or a step has no definition.
    A known failure (baseline.yaml: unexpired, the same kind; its `baseline` is "known") is
    not counted; it still fails its step. `ended`: each scenario's status, kind, baseline."""
    ended = list(ended)
    counted = [(s, k) for s, k, baseline in ended if baseline != KNOWN_FAILURE]
    kinds = {kind for status, kind in counted if status in (FAILED, BROKEN)}
    if kinds - {COULD_NOT_RUN}:
        return 1
    # not run because the environment stopped answering: skipped, and could-not-run
    kinds |= {kind for _, kind, _ in ended if kind == COULD_NOT_RUN}
    return 2 if kinds or undefined else 0


def _counts(outcomes: list[ScenarioOutcome], not_selected: int = 0) -> dict[str, int]:
    """By status among the scenarios that were selected ("total"), and how many of the
    suite's were not selected (not in "total")."""
    counts = dict.fromkeys(STATUSES, 0)
    for outcome in outcomes:
        counts[outcome.status or SKIPPED] += 1
    counts["total"] = len(outcomes)
    counts[NOT_SELECTED] = not_selected
    counts[NOT_APPLICABLE] = sum(1 for o in outcomes if o.not_applicable)
    # not offered by the run's API (FHIR has no record locator): counted, never required
    counts[NOT_OFFERED] = sum(1 for o in outcomes if o.not_offered)
    # could not run (unreachable, timed out, not attempted): neither a pass nor a failed check
    counts[COULD_NOT_RUN] = sum(1 for o in outcomes if o.kind == COULD_NOT_RUN)
    counts[CANNOT_RUN_FAILED] = sum(
        1 for o in outcomes if o.kind == COULD_NOT_RUN and o.status in (FAILED, BROKEN)
    )
    return counts


def _step_verdict(counts: Mapping[str, int]) -> str:
    """failed if a scenario failed or broke other than by not being able to run; passed only
    if every scenario of the suite passed; not_selected if a selection left them all out;
    skipped if none ran; not_offered if the run's API offers none of them (a scenario the API
    does not offer never keeps a step from passing); else incomplete (a scenario not applicable
    with this test data, one that could not run: an outage is not a failed step; or one not
    selected)."""
    if counts[FAILED] + counts[BROKEN] > counts[CANNOT_RUN_FAILED]:
        return FAILED
    if not counts["total"]:
        return NOT_SELECTED if counts.get(NOT_SELECTED) else SKIPPED
    offered = counts["total"] - counts.get(NOT_OFFERED, 0)
    if not offered:
        return NOT_OFFERED
    if counts[SKIPPED] - counts.get(NOT_OFFERED, 0) == offered > counts[NOT_APPLICABLE]:
        return SKIPPED
    complete = counts[PASSED] == offered and not counts.get(NOT_SELECTED)
    return PASSED if complete else INCOMPLETE


def compare(current: Mapping[str, Any], earlier: Mapping[str, Any] | None) -> dict[str, Any]:
    """Which steps regressed (passed then, not now) and recovered, against an earlier verdict."""
    if not earlier:
        return {"against": None, "regressed": [], "recovered": []}
    before = {s["key"]: s["verdict"] for s in earlier.get("steps", [])}
    regressed, recovered = [], []
    for step in current["steps"]:
        was = before.get(step["key"])
        if was == PASSED and step["verdict"] == FAILED:
            regressed.append(f"{step['number']}. {step['title']}")
        if was == FAILED and step["verdict"] == PASSED:
            recovered.append(f"{step['number']}. {step['title']}")
    environment = earlier.get("environment", {})
    return {
        "against": {
            "finished_at": earlier.get("finished_at"),
            "git_revision": environment.get("git_revision"),
            "verdict": earlier.get("verdict"),
        },
        "regressed": regressed,
        "recovered": recovered,
    }


def read(path: Path) -> dict[str, Any] | None:
    """A verdict file, or None when there is none (a first run); one that is not a verdict
    counts as none, with a warning line (history.read)."""
    return history.read(path, wrong_shape)


def wrong_shape(document: dict[str, Any]) -> str | None:
    """What makes `document` not a verdict for the code that reads one back (the
    comparisons, the baseline, the bundle), or None."""
    steps = document.get("steps")
    problem = history.listed(steps, "steps", {"key": str, "verdict": str, "scenarios": list})
    if problem is not None:
        return problem
    for index, step in enumerate(steps or []):
        scenarios = f"steps[{index}].scenarios"
        problem = history.listed(step["scenarios"], scenarios, {"name": str, "parameters": dict})
        if problem is not None:
            return problem
    if not isinstance(document.get("environment", {}), dict):
        return "environment is not an object"
    return None


def write(reports: Path, verdict: dict[str, Any]) -> dict[str, Any]:
    """Compare with the history, write verdict.json and move the history on."""
    folder = reports / "history"
    folder.mkdir(parents=True, exist_ok=True)
    verdict["since_previous"] = compare(verdict, read(folder / "latest.json"))
    verdict["since_last_green"] = compare(verdict, read(folder / "last-green.json"))
    text = jsontext.indented(verdict) + "\n"
    (reports / "verdict.json").write_text(text, encoding="utf-8")
    if not verdict["interrupted"]:
        history.write(folder / "latest.json", text)
        if verdict["verdict"] == PASSED:
            history.write(folder / "last-green.json", text)
    return verdict
