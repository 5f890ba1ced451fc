"""What happened to each scenario, in Allure's terms, gathered while pytest runs.

Statuses follow allure-pytest-bdd so the verdict, the JUnit XML and the Allure results agree:
a failed check (AssertionError) is `failed`, any other exception `broken`, a skip `skipped`;
a setup error decides the status, and a teardown error only spoils a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from techval.core.errors import NOT_OFFERED, TEST_DATA
from techval.harness import events

PASSED, FAILED, BROKEN, SKIPPED = "passed", "failed", "broken", "skipped"
STATUSES = (PASSED, FAILED, BROKEN, SKIPPED)


@dataclass
class ScenarioOutcome:
    nodeid: str
    name: str
    feature: str  # the feature's name
    step: str | None  # the validation step key, None for a scenario outside the four
    parameters: dict[str, str] = field(default_factory=dict)
    feature_file: str = ""  # relative to the features folder, never a path of this machine
    group: str | None = None  # its lifecycle group (harness.groups), None when independent
    position: int = 0  # its place in the whole suite's order, so merged shards sort alike
    status: str | None = None  # None until the scenario ran
    message: str = ""  # the first line of the failure, redacted
    kind: str | None = None  # what kind of not-passing (errors.failure_kind); None when passed
    raised_at: str | None = None  # the declared check that failed it, e.g. "...checks.succeeded"
    requirements: list[str] = field(default_factory=list)  # what that check verifies
    log_ids: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    baseline: str | None = None  # what baseline.yaml says of it (decide.py), None: nothing

    def identity(self) -> dict[str, Any]:
        """What is known before it runs, as the scenario_collected event carries it (JSON:
        the setup report an xdist worker sends its controller carries it too)."""
        return {
            "scenario": self.nodeid,
            "name": self.name,
            "feature": self.feature,
            "feature_file": self.feature_file,
            "step": self.step,
            "parameters": self.parameters,
            "group": self.group,
            "position": self.position,
        }

    def collected(self) -> events.ScenarioCollected:
        return events.ScenarioCollected(**self.identity())

    def left_out(self, reason: str) -> events.ScenarioNotSelected:
        return events.ScenarioNotSelected(reason=reason, **self.identity())

    @classmethod
    def from_identity(cls, known: events.Identity) -> ScenarioOutcome:
        return cls(
            known.scenario,
            known.name,
            known.feature,
            known.step,
            dict(known.parameters),
            feature_file=known.feature_file,
            group=known.group,
            position=known.position,
        )

    def ending(self) -> events.ScenarioFinished:
        """How it ended, as the scenario_finished event carries it."""
        return events.ScenarioFinished(
            scenario=self.nodeid,
            status=self.status,
            kind=self.kind,
            message=self.message,
            raised_at=self.raised_at,
            requirements=list(self.requirements),
            duration_s=round(self.duration_s, 3),
        )

    def end(self, finished: events.ScenarioFinished) -> None:
        self.status, self.kind = finished.status, finished.kind
        self.message, self.raised_at = finished.message, finished.raised_at
        self.requirements = list(finished.requirements)
        self.duration_s = finished.duration_s

    @property
    def title(self) -> str:
        """The scenario's name with its parameters, as a person tells runs apart."""
        params = ", ".join(self.parameters.values())
        return self.name + (f" [{params}]" if params else "")

    @property
    def not_offered(self) -> bool:
        """Skipped because the run's Redox API does not offer it (not a failure, not a gap)."""
        return self.status == SKIPPED and self.kind == NOT_OFFERED

    @property
    def not_applicable(self) -> bool:
        """Skipped because the test data does not fit the network (not a failure)."""
        return self.status == SKIPPED and self.kind == TEST_DATA

    def record(
        self,
        report: pytest.TestReport,
        assertion: bool,
        message: str,
        kind: str | None = None,
        raised_at: str | None = None,
        requirements: Sequence[str] = (),
    ) -> None:
        """Fold one phase's report (setup, call, teardown) into the status."""
        self.duration_s += report.duration
        status = _status(report, assertion)
        if status is None:
            return
        if report.when == "teardown":
            if self.status in (None, PASSED) and status in (FAILED, BROKEN):
                self.status, self.message, self.kind = status, message, kind
                self.raised_at, self.requirements = raised_at, list(requirements)
            return
        if self.status in (None, PASSED):
            self.status = status
            if status != PASSED:
                self.message, self.kind, self.raised_at = message, kind, raised_at
                self.requirements = list(requirements)

    def as_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": self.name,
            "feature": self.feature,
            "feature_file": self.feature_file,
            "parameters": self.parameters,
            "group": self.group,
            "status": self.status or SKIPPED,
            "kind": self.kind,
            "message": self.message,
            "raised_at": self.raised_at,
            "requirements": self.requirements,
            "redox_log_ids": self.log_ids,
            "duration_s": round(self.duration_s, 3),
        }
        return document | ({"baseline": self.baseline} if self.baseline else {})


def _status(report: pytest.TestReport, assertion: bool) -> str | None:
    if report.skipped:
        return SKIPPED
    if report.passed:
        return PASSED if report.when == "call" else None
    return FAILED if assertion else BROKEN


def counted(number: int, one: str, many: str | None = None) -> str:
    """ "1 script", "2 scripts", "3 baseline entries" (`many` when adding an s is wrong)."""
    return f"{number} {one if number == 1 else many or one + 's'}"


def first_line(text: str, limit: int = 300) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"
