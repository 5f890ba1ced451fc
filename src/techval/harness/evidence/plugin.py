"""pytest glue for the evidence: scenario outcomes, Allure labels, redaction of what pytest
writes (console, JUnit), the event file of this process, and at the end verdict.json,
exchanges.har and the report's environment block, built from the events of every process.
Loaded from the root conftest.py after techval.harness.pytest_plugin.

Every process appends its events to reports/events/<process>.jsonl (harness.events): the
scenarios it collected, the ones it started, its exchanges. The process that sees the test
reports (the only one, or the xdist controller, where the workers' reports arrive) folds each
scenario's phases into its outcome and writes scenario_finished, then assembles the evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import allure
import pytest

from techval.core.errors import HARNESS_ERROR, failure_kind
from techval.core.redaction import Redactor
from techval.core.verifies import check_of, requirements_of
from techval.harness import events
from techval.harness.evidence import agree, verdict
from techval.harness.evidence.allure_files import (
    guard_results,
    redact_strings,
)
from techval.harness.evidence.assemble import NOT_FINISHED, NOT_REACHED, OTHER_SHARD, assemble
from techval.harness.evidence.baseline_file import path_of
from techval.harness.evidence.console import progress_line
from techval.harness.evidence.inputs import Inputs
from techval.harness.evidence.outcomes import BROKEN, ScenarioOutcome, first_line
from techval.harness.evidence.run_info import describe
from techval.harness.evidence.writing import write_evidence
from techval.harness.groups import group_for
from techval.harness.pytest_plugin import (
    OTHER_SHARD_KEY,
    POSITION_KEY,
    SCENARIO_MARK,
    SETTINGS_KEY,
    current_run,
    stopped,
    stream_for,
)
from techval.harness.run import redactor_for
from techval.harness.thirdparty import allure_results, example_values, scenario_template
from techval.validation.catalogue import EPIC, step_for

REDACTOR_KEY = pytest.StashKey[Redactor]()
CRASHED = "???"  # the phase of xdist's report of a test whose worker died
WORKER_DIED = "broken: the worker process running it died (crashed or was killed)"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("techval")
    group.addoption(
        "--techval-reports",
        default=None,
        metavar="DIR",
        help="write verdict.json and exchanges.har here (default: beside --alluredir)",
    )
    group.addoption(
        "--techval-baseline",
        default=None,
        metavar="FILE",
        help="the known-failures file (default: $TECHVAL_BASELINE, else baseline.yaml)",
    )
    group.addoption(
        "--techval-progress",
        action="store_true",
        help="one line per scenario as it ends, instead of pytest's progress",
    )


def inputs_of(config: pytest.Config) -> Inputs:
    """The evidence's inputs from this run's options."""
    return Inputs(baseline=path_of(config.getoption("--techval-baseline")))


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Evidence(config), "techval-evidence")


def redactor(config: pytest.Config) -> Redactor:
    """The run's redactor once the run started (it learns tokens), a configured one before."""
    run = current_run(config)
    if run is not None:
        return run.reporter.redactor
    if REDACTOR_KEY not in config.stash:
        config.stash[REDACTOR_KEY] = redactor_for(config.stash[SETTINGS_KEY])
    return config.stash[REDACTOR_KEY]


def reports_dir(config: pytest.Config) -> Path | None:
    chosen = config.getoption("--techval-reports")
    alluredir = allure_results(config)
    if chosen:
        return Path(chosen)
    return alluredir.parent if alluredir is not None else None


def outcome_for(item: pytest.Item, masker: Redactor) -> ScenarioOutcome:
    """What is known before the scenario runs: its names, step, parameters and group."""
    template = scenario_template(item)
    feature = template.feature if template is not None else None
    name = template.name if template is not None else item.name
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    parameters: dict[str, str] = example_values(params)
    if "organization_profile" in params:
        profile = params["organization_profile"]
        parameters["organization"] = getattr(profile, "name", str(profile))
    for key, value in parameters.items():
        name = name.replace(f"<{key}>", value)
    step = step_for(marker.name for marker in item.iter_markers())
    return ScenarioOutcome(
        item.nodeid,
        masker.text(name),
        masker.text(feature.name if feature is not None else ""),
        step.key if step else None,
        {key: masker.text(value) for key, value in parameters.items()},
        feature_file=feature.rel_filename if feature is not None else "",
        group=group_for(item),
        position=item.stash.get(POSITION_KEY, 0),
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
    allure.dynamic.label(agree.NODE_LABEL, request.node.nodeid)  # agree.restate finds it


def _reported(identity: dict[str, Any]) -> ScenarioOutcome:
    """The scenario as the setup report of an xdist worker names it (its identity, JSON)."""
    known = events.parse_as(events.ScenarioCollected, identity, "a worker's report")
    return ScenarioOutcome.from_identity(known)


class Evidence:
    """The per-process part: this process's event file; in the reporting process the
    outcomes by node ID, progress lines and the files written at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.worker = hasattr(config, "workerinput")
        self.outcomes: dict[str, ScenarioOutcome] = {}
        self.not_selected: list[pytest.Item] = []  # scenarios of the suite deselected
        self.expected = 0  # scenarios to run, for the progress count
        self.finished = 0
        self.progress = bool(config.getoption("--techval-progress"))
        self.unguard: Callable[[], None] = lambda: None
        self.interrupted = False
        self.file: events.EventFile | None = None
        self.session: pytest.Session | None = None
        self.write_error: OSError | None = None
        self.stream = stream_for(config)
        folder = reports_dir(config)
        if folder is not None:
            if not self.worker:
                events.clear(folder)  # the workers start after this, into a clean folder
            process = config.workerinput["workerid"] if self.worker else "main"  # type: ignore[attr-defined]
            self.file = events.EventFile(folder, process, on_error=self.cannot_write)
            self.stream.subscribe(self.file, keep=True)
        if self.progress and not self.worker:
            self.stream.subscribe(self._progress)

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session
        self.unguard = guard_results(lambda: redactor(self.config), self.cannot_write)

    def cannot_write(self, exc: OSError) -> None:
        """A write under the reports was refused (a full disk, a read-only folder): no
        further scenario starts, and the run (techval run) says so in one line."""
        if self.write_error is None:
            self.write_error = exc
            run = current_run(self.config)
            if run is not None:
                run.write_error = exc
        if self.session is not None:
            self.session.shouldstop = f"techval: cannot write the reports ({exc.strerror})"

    # outermost: pytest's JUnit writer fails there too when the disk is full
    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_writes(self, session: pytest.Session) -> Generator[None, None, None]:
        try:
            return (yield)
        except OSError as exc:
            self.cannot_write(exc)
            return None

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """After pytest wrote JUnit: a stopped run's JUnit and Allure results list the
        scenarios it did not reach or finish, as its verdict does."""
        self.unguard()
        if self.file is not None:
            self.file.close()
        folder = reports_dir(config)
        if not self.interrupted or self.worker or folder is None or self.write_error:
            return
        stopped = [
            outcome
            for outcome in assemble(events.read([folder])).outcomes
            if outcome.message in (NOT_REACHED, NOT_FINISHED)
        ]
        junit = getattr(config.option, "xmlpath", None)
        try:
            agree.restate(stopped, allure_results(config), Path(junit) if junit else None)
        except OSError as exc:
            self.cannot_write(exc)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.not_selected += [item for item in items if item.get_closest_marker(SCENARIO_MARK)]

    @pytest.hookimpl(tryfirst=True)  # before an xdist worker reports its collection
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """The suite: each scenario selected, and each one left out (by --tags or -k, or to
        another shard), so that no verdict calls a subset a passed validation."""
        masker = redactor(self.config)
        for item in session.items:
            if item.get_closest_marker(SCENARIO_MARK):
                outcome = outcome_for(item, masker)
                self.outcomes[item.nodeid] = outcome
                self.stream.emit(outcome.collected())
        for item in self.not_selected:
            reason = OTHER_SHARD if item.stash.get(OTHER_SHARD_KEY, False) else "selection"
            self.stream.emit(outcome_for(item, masker).left_out(reason))
        self.expected = len(self.outcomes)

    @pytest.hookimpl(optionalhook=True)  # an xdist hook: only when there are workers
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.expected = len(ids)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """The run has started (in a worker, at the end of collection): keep its events."""
        run = current_run(self.config)
        if run is not None and self.file is not None:
            environment = None if self.worker else describe(run.settings)
            self.stream.emit(
                events.RunStarted(process=self.file.path.stem, environment=environment)
            )

    def pytest_bdd_step_func_lookup_error(self, feature: Any, step: Any) -> None:
        where = f"{feature.rel_filename}:{step.line_number}: {step.keyword} {step.name}"
        self.stream.emit(events.UndefinedStep(where=where))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Redact what pytest will print and write (console, JUnit); note the outcome. The
        evidence held back is settled first: what its answers taught the redactor (a setup
        fixture's exchange, say) is masked in the failure's text too."""
        report = yield
        if not item.get_closest_marker(SCENARIO_MARK):
            return report
        problem = None
        try:
            self.stream.settle()
        except Exception as exc:  # noqa: BLE001 - this scenario's harness error, not the session's
            problem = exc
            report.outcome = "failed"
            report.longrepr = f"techval: an exchange's evidence could not be written: {exc!r}"
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
        elif problem is not None:
            message = masker.text(first_line(str(report.longrepr)))
        error = getattr(call.excinfo, "value", None) or problem
        techval: dict[str, Any] = {
            "assertion": isinstance(error, AssertionError),
            "message": message,
            "kind": failure_kind(error),
            "raised_at": check_of(error),  # declared on the check: no traceback walked
            "requirements": list(requirements_of(error)),
        }
        if report.when == "setup":  # the controller of xdist workers learns the scenario here
            techval["scenario"] = outcome_for(item, masker).identity()
        report.techval = techval  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        techval = getattr(report, "techval", None)
        if not self.worker and report.when == CRASHED:
            crashed = self.outcomes.get(report.nodeid) or self._collected(report.nodeid)
            if crashed is not None:
                self._crashed(crashed)
        if self.worker or not isinstance(techval, dict):
            return
        outcome = self.outcomes.get(report.nodeid)
        if outcome is None and isinstance(techval.get("scenario"), dict):
            outcome = self.outcomes[report.nodeid] = _reported(techval["scenario"])
        if outcome is None:
            return
        outcome.record(
            report,
            bool(techval["assertion"]),
            techval["message"],
            techval.get("kind"),
            techval.get("raised_at"),
            techval.get("requirements") or (),
        )
        if report.when == "teardown":
            self.finished += 1
            self.stream.emit(outcome.ending())

    def _collected(self, nodeid: str) -> ScenarioOutcome | None:
        """A scenario as a worker collected it (the controller collects none): one whose
        worker died before it reported the scenario's setup."""
        folder = reports_dir(self.config)
        for event in events.read([folder] if folder is not None else []):
            if isinstance(event, events.ScenarioCollected) and event.scenario == nodeid:
                self.outcomes[nodeid] = ScenarioOutcome.from_identity(event)
                return self.outcomes[nodeid]
        return None

    def _crashed(self, outcome: ScenarioOutcome) -> None:
        """xdist's report of a scenario whose worker died while running it (a crash, a kill):
        broken, as JUnit says, and finished, so the verdict and the console agree."""
        outcome.status, outcome.kind, outcome.message = BROKEN, HARNESS_ERROR, WORKER_DIED
        results = allure_results(self.config)
        if results is not None:
            agree.restate([outcome], results, None)
        self.finished += 1
        self.stream.emit(outcome.ending())

    def _progress(self, event: events.Record) -> None:
        if not isinstance(event, events.ScenarioFinished):
            return
        outcome = self.outcomes.get(event.scenario)
        if outcome is None:
            return
        done = self.finished
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.ensure_newline()
            terminal.write_line(progress_line(outcome, done, max(self.expected, done)))

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        """With --techval-progress the per-scenario lines replace pytest's dots and words."""
        if not (self.progress and hasattr(report, "techval")):
            return None
        if report.when == "call":
            return report.outcome, "", ""
        return ("error" if report.failed else "skipped" if report.skipped else ""), "", ""

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Assemble the evidence from every process's events, before the run closes."""
        if self.progress:  # each failure was shown as it happened; tracebacks are in the report
            self.config.option.tbstyle = "no"
        self.stream.settle()  # the evidence held back (a worker's too) is in its file
        folder = reports_dir(self.config)
        run = current_run(self.config)
        if run is not None:
            stopped(run)  # the environment fell during the last scenario: say so all the same
        if folder is None or self.worker or self.file is None:
            return
        if self.config.option.collectonly or not self.outcomes:
            return  # nothing ran: the previous run's evidence stays (techval run's stage)
        self.stream.emit(events.RunFinished(interrupted=self.interrupted))
        self.file.close()
        if self.write_error is not None:  # the evidence would be incomplete: none is written
            return
        try:
            result = write_evidence([folder], folder, inputs_of(self.config))
        except OSError as exc:
            self.cannot_write(exc)
            return
        if result is not None and session.exitstatus in (0, 1):
            session.exitstatus = verdict.exit_code(result)
