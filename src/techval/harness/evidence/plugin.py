"""pytest glue for the evidence: scenario outcomes, Allure labels, redaction of what pytest
writes (console, JUnit), and at the end verdict.json, exchanges.har and the report's
environment block. Loaded from the root conftest.py after techval.harness.pytest_plugin.

Outcomes travel on the test reports (`report.techval`), so they are gathered the same way
in one process and under pytest-xdist, where only the reports reach the controller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import allure
import pytest

from techval.core.errors import failure_kind
from techval.core.redaction import Redactor
from techval.harness.evidence import har, verdict
from techval.harness.evidence.allure_files import (
    guard_results,
    redact_strings,
    write_environment,
    write_executor,
)
from techval.harness.evidence.console import progress_line
from techval.harness.evidence.outcomes import ScenarioOutcome, first_line
from techval.harness.evidence.run_info import describe
from techval.harness.pytest_plugin import FIRST_EXCHANGE_KEY, RUN_KEY, SCENARIO_MARK, SETTINGS_KEY
from techval.harness.run import redactor_for
from techval.validation.catalogue import EPIC, step_for

REDACTOR_KEY = pytest.StashKey[Redactor]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("techval")
    group.addoption(
        "--techval-reports",
        default=None,
        metavar="DIR",
        help="write verdict.json and exchanges.har here (default: beside --alluredir)",
    )
    group.addoption(
        "--techval-progress",
        action="store_true",
        help="one line per scenario as it ends, instead of pytest's progress",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Evidence(config), "techval-evidence")


def redactor(config: pytest.Config) -> Redactor:
    """The run's redactor once the run started (it learns tokens), a configured one before."""
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        return run.reporter.redactor
    if REDACTOR_KEY not in config.stash:
        config.stash[REDACTOR_KEY] = redactor_for(config.stash[SETTINGS_KEY])
    return config.stash[REDACTOR_KEY]


def reports_dir(config: pytest.Config) -> Path | None:
    chosen = config.getoption("--techval-reports")
    alluredir = getattr(config.option, "allure_report_dir", None)
    if chosen:
        return Path(chosen)
    return Path(alluredir).parent if alluredir else None


def outcome_for(item: pytest.Item) -> ScenarioOutcome:
    """What is known before the scenario runs: its names, step and parameters."""
    doc = getattr(getattr(item, "obj", None), "__doc__", None) or item.name
    feature, _, name = doc.partition(": ")
    callspec = getattr(item, "callspec", None)
    parameters: dict[str, str] = {}
    for key, value in (callspec.params if callspec is not None else {}).items():
        if key == "_pytest_bdd_example" and isinstance(value, dict):
            parameters |= {str(k): str(v) for k, v in value.items()}
        elif key == "organization_profile":
            parameters["organization"] = getattr(value, "name", str(value))
    for key, value in parameters.items():
        name = name.replace(f"<{key}>", value)
    step = step_for(marker.name for marker in item.iter_markers())
    return ScenarioOutcome(
        item.nodeid, name or doc, feature, step.key if step else None, parameters
    )


@pytest.hookimpl(trylast=True)
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """Label the scenario in Allure by the validation step it proves."""
    step = step_for(feature.tags | scenario.tags)
    if step is None:
        return
    allure.dynamic.epic(EPIC)
    allure.dynamic.feature(step.label)
    allure.dynamic.story(scenario.name)
    allure.dynamic.severity(allure.severity_level(step.severity))
    allure.dynamic.link(step.doc_url, name=f"Redox documentation: {step.title}")
    allure.dynamic.label("validation_step", step.key)


class Evidence:
    """The per-run part: outcomes by node ID, progress lines, the files written at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: dict[str, ScenarioOutcome] = {}
        self.started_at = _now()
        self.progress = bool(config.getoption("--techval-progress"))
        self.unguard: Callable[[], None] = lambda: None
        self.interrupted = False

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.unguard = guard_results(lambda: redactor(self.config))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.unguard()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            if item.get_closest_marker(SCENARIO_MARK):
                self.outcomes[item.nodeid] = outcome_for(item)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Redact what pytest will print and write (console, JUnit); note the outcome."""
        report = yield
        if not item.get_closest_marker(SCENARIO_MARK):
            return report
        masker = redactor(self.config)
        if isinstance(report.longrepr, str):
            report.longrepr = masker.text(report.longrepr)
        elif report.longrepr is not None:
            redact_strings(report.longrepr, masker)
        report.sections = [(title, masker.text(text)) for title, text in report.sections]
        message = ""
        if call.excinfo is not None:
            text = first_line(str(call.excinfo.value)) or call.excinfo.typename
            message = masker.text(text)
        error = getattr(call.excinfo, "value", None)
        techval: dict[str, Any] = {
            "assertion": isinstance(error, AssertionError),
            "message": message,
            "kind": failure_kind(error),
        }
        run = self.config.stash.get(RUN_KEY, None)
        if report.when == "teardown" and run is not None:
            first = item.stash.get(FIRST_EXCHANGE_KEY, 0)
            techval["exchanges"] = [first, len(run.client.exchanges)]
            techval["log_ids"] = [i for e in run.client.exchanges[first:] for i in e.log_ids]
        report.techval = techval  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self.outcomes.get(report.nodeid)
        techval = getattr(report, "techval", None)
        if outcome is None or not isinstance(techval, dict) or _is_worker(self.config):
            return
        outcome.record(report, bool(techval["assertion"]), techval["message"], techval.get("kind"))
        if report.when == "teardown":
            outcome.first_exchange, outcome.last_exchange = techval.get("exchanges", [0, 0])
            outcome.log_ids = list(techval.get("log_ids", []))
            if self.progress:
                self._progress(outcome)

    def _progress(self, outcome: ScenarioOutcome) -> None:
        done = sum(1 for o in self.outcomes.values() if o.status is not None)
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.ensure_newline()
            terminal.write_line(progress_line(outcome, done, len(self.outcomes)))

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        """With --techval-progress the per-scenario lines replace pytest's dots and words."""
        if not (self.progress and hasattr(report, "techval")):
            return None
        if report.when == "call":
            return report.outcome, "", ""
        return ("error" if report.failed else "skipped" if report.skipped else ""), "", ""

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the evidence before the run closes (the exchanges are still at hand)."""
        if self.progress:  # each failure was shown as it happened; tracebacks are in the report
            self.config.option.tbstyle = "no"
        folder = reports_dir(self.config)
        run = self.config.stash.get(RUN_KEY, None)
        if folder is None or run is None or _is_worker(self.config):
            return
        folder.mkdir(parents=True, exist_ok=True)
        environment = describe(run.settings)
        results = folder / "allure-results"
        if results.is_dir():
            write_environment(results, environment)
            write_executor(results)
        masker = redactor(self.config)
        pages = [
            har.Page(o.title, o.first_exchange, o.last_exchange) for o in self.outcomes.values()
        ]
        archive = har.archive(run.client.exchanges, pages, masker)
        (folder / "exchanges.har").write_text(
            json.dumps(archive, indent=1, ensure_ascii=False), encoding="utf-8"
        )
        result = verdict.build(
            self.outcomes.values(),
            environment,
            started_at=self.started_at,
            finished_at=_now(),
            interrupted=self.interrupted,
        )
        verdict.write(folder, result)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")
