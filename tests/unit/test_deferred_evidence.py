"""An exchange's evidence (redaction, HAR entry, drift shape, Allure attachment, event line) is
built out of the request's time, at the next settle: a step's end, a nested step, a wait, a
finding, any other event. What the steps read is there at once; what is written keeps the
order things happened in, and a value an answer taught the redactor is known before anything
later is masked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from techval.core.config import Settings
from techval.core.errors import TransportError
from techval.core.redaction import PATIENT_MASK, Redactor
from techval.core.reporting import Reporter
from techval.harness import events
from techval.harness.evidence.plugin import Evidence
from techval.harness.pytest_plugin import RUN_KEY, SCENARIO_MARK
from techval.harness.run import Run, start_run
from techval.validation import organization
from tests.helpers import REDOX_GATEWAY

STARTED = events.ScenarioStarted(scenario="a.feature::one")


def kinds(seen: list[events.Record]) -> list[str]:
    return [event.KIND for event in seen]


def test_deferred_events_come_out_in_order_at_settle_or_before_the_next_event() -> None:
    stream = events.EventStream()
    seen: list[events.Record] = []
    stream.subscribe(seen.append)
    first = events.Finding(scenario=None, requirement="R-1", message="first")
    second = events.Finding(scenario=None, requirement="R-2", message="second")
    stream.defer(lambda: stream.emit(first))
    stream.defer(lambda: stream.emit(second))
    assert seen == []  # nothing written in the request's time
    stream.emit(STARTED)
    assert seen == [first, second, STARTED]
    stream.defer(lambda: stream.emit(first))
    stream.settle()
    assert seen[-1] is first and len(seen) == 4
    stream.settle()  # nothing left: nothing again
    assert len(seen) == 4


def test_an_action_emitting_while_settling_does_not_let_the_next_one_in_first() -> None:
    """The action's own emit would settle: the next deferred action waits its turn."""
    stream = events.EventStream()
    seen: list[str] = []
    stream.subscribe(lambda event: seen.append(getattr(event, "message", event.KIND)))
    for name in ("one", "two", "three"):
        finding = events.Finding(scenario=None, requirement="R", message=name)
        stream.defer(lambda finding=finding: stream.emit(finding))  # type: ignore[misc]
    stream.settle()
    assert seen == ["one", "two", "three"]


def test_no_more_than_max_deferred_wait() -> None:
    stream = events.EventStream()
    seen: list[events.Record] = []
    stream.subscribe(seen.append)
    for _ in range(stream.MAX_DEFERRED - 1):
        stream.defer(lambda: stream.emit(STARTED))
    assert seen == []
    stream.defer(lambda: stream.emit(STARTED))
    assert len(seen) == stream.MAX_DEFERRED


def test_a_run_hands_the_exchange_to_the_steps_at_once_and_writes_its_evidence_at_settle(
    test_settings: Settings,
) -> None:
    run = start_run(test_settings)
    try:
        seen: list[events.Record] = []
        run.stream.subscribe(seen.append, keep=True)
        run.stream.settle()  # the first token's
        run.stream.emit(STARTED)
        run.stream.scenario = STARTED.scenario  # as the plugin sets it
        exchange = run.client.send(organization.query_message(test_settings, REDOX_GATEWAY))
        assert run.current.exchanges == [exchange]  # the steps read it now
        assert "exchange" not in kinds(seen[-1:])
        run.stream.settle()
        recorded = seen[-1]
        assert isinstance(recorded, events.ExchangeRecorded) and recorded.exchange is exchange
        assert recorded.scenario == STARTED.scenario  # the scenario it was sent in
        assert recorded.entry["request"]["headers"]  # its HAR entry, built now
    finally:
        run.close()


def taught(redactor: Redactor, stream: events.EventStream) -> None:
    """Defer the evidence of an answer that teaches the redactor a patient's id."""
    answer = {"resourceType": "Patient", "id": "pt-7781-4410"}
    stream.defer(lambda: redactor.data(answer))


def test_a_finding_is_masked_with_what_a_held_back_answer_taught() -> None:
    redactor, stream = Redactor(), events.EventStream()
    findings: list[str] = []
    reporter = Reporter(
        redactor, on_finding=lambda _, text: findings.append(text), settle=stream.settle
    )
    taught(redactor, stream)
    reporter.finding("R-1", "the answer echoed pt-7781-4410")
    assert findings == [f"the answer echoed {PATIENT_MASK}"]


def test_a_note_and_a_nested_step_settle_what_was_held_back_first() -> None:
    for report in ("note", "step"):
        redactor, stream = Redactor(), events.EventStream()
        reporter = Reporter(redactor, settle=stream.settle)
        taught(redactor, stream)
        if report == "note":
            reporter.note("the search was read in part")
        else:
            with reporter.step("attempt 1 of 3"):
                pass
        assert redactor.text("pt-7781-4410") == PATIENT_MASK, report


def test_a_nested_step_writes_what_was_sent_before_it_and_inside_it_at_its_ends() -> None:
    settled: list[str] = []
    reporter = Reporter(Redactor(), settle=lambda: settled.append("settle"))
    with reporter.step("attempt 1 of 3"):
        assert settled == ["settle"]
    assert settled == ["settle", "settle"]


def test_an_action_that_fails_does_not_stop_the_others_and_is_raised_once_they_ran() -> None:
    stream = events.EventStream()
    seen: list[str] = []
    stream.subscribe(lambda event: seen.append(getattr(event, "message", "")))

    def broken() -> None:
        raise ValueError("cannot build this exchange's evidence")

    stream.defer(broken)
    later = events.Finding(scenario=None, requirement="R", message="after it")
    stream.defer(lambda: stream.emit(later))
    with pytest.raises(ValueError, match="cannot build"):
        stream.settle()
    assert seen == ["after it"]
    stream.settle()  # the failed one is not run again
    assert seen == ["after it"]


def test_an_action_interrupted_is_first_in_line_at_the_next_settle() -> None:
    """Ctrl-C (or SIGTERM, raised as KeyboardInterrupt) inside an action: the run's end
    settles again and that exchange's evidence is not lost."""
    stream = events.EventStream()
    seen: list[str] = []
    stream.subscribe(lambda event: seen.append(getattr(event, "message", "")))
    interrupted = [True]

    def interruptible() -> None:
        if interrupted.pop() if interrupted else False:
            raise KeyboardInterrupt
        stream.emit(events.Finding(scenario=None, requirement="R", message="first"))

    stream.defer(interruptible)
    stream.defer(lambda: stream.emit(events.Finding(scenario=None, requirement="R", message="2")))
    with pytest.raises(KeyboardInterrupt):
        stream.settle()
    assert seen == []
    stream.settle()
    assert seen == ["first", "2"]


def reported(run: Run, call: Any, report: Any) -> Any:
    """`report` as the evidence plugin's report hook leaves it, for a scenario of `run`."""
    config = SimpleNamespace(stash=pytest.Stash())
    config.stash[RUN_KEY] = run
    evidence = object.__new__(Evidence)
    evidence.config, evidence.stream = config, run.stream  # type: ignore[assignment]
    item = SimpleNamespace(get_closest_marker=lambda name: name == SCENARIO_MARK)
    hook = evidence.pytest_runtest_makereport(item, call)  # type: ignore[arg-type]
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(report)
    return report


def test_a_failure_is_masked_with_what_the_evidence_held_back_taught(
    test_settings: Settings,
) -> None:
    """A setup fixture's exchange taught the redactor an id; the failure raised there names it:
    the plugin settles before it masks the failure for the console, JUnit and the events."""
    run = start_run(test_settings)
    try:
        taught(run.reporter.redactor, run.stream)
        error = TransportError("Patient.read: http://fhir.test/Patient/pt-7781-4410: refused")
        call = SimpleNamespace(excinfo=SimpleNamespace(value=error, typename="TransportError"))
        report = reported(run, call, SimpleNamespace(longrepr=str(error), sections=[], when="call"))
    finally:
        run.close()
    assert "pt-7781-4410" not in report.longrepr + report.techval["message"]
    assert PATIENT_MASK in report.longrepr


def test_evidence_that_cannot_be_written_fails_its_scenario_not_the_session(
    test_settings: Settings,
) -> None:
    """pytest does not guard its report hook: an error there would end the whole run."""
    run = start_run(test_settings)

    def broken() -> None:
        raise RecursionError("an answer too deep to mask")

    try:
        run.stream.defer(broken)
        report = SimpleNamespace(longrepr=None, sections=[], when="call", outcome="passed")
        reported(run, SimpleNamespace(excinfo=None), report)
    finally:
        run.close()
    assert report.outcome == "failed"
    assert "evidence could not be written: RecursionError" in report.techval["message"]
    assert report.techval["kind"] != ""


def test_an_exchange_whose_event_was_being_written_is_not_written_twice(
    test_settings: Settings,
) -> None:
    """Ctrl-C while its event is handed to the subscribers: the next settle does not write the
    exchange a second time (the HAR would show two requests where one was sent)."""
    run = start_run(test_settings)
    try:
        seen: list[events.Record] = []
        run.stream.subscribe(seen.append, keep=True)
        run.stream.settle()
        before = len(seen)  # the first token's exchange among them
        interrupt = [True]

        def ctrl_c(event: events.Record) -> None:
            if isinstance(event, events.ExchangeRecorded) and interrupt:
                interrupt.pop()
                raise KeyboardInterrupt

        run.stream.subscribe(ctrl_c)
        run.client.send(organization.query_message(test_settings, REDOX_GATEWAY))
        with pytest.raises(KeyboardInterrupt):
            run.stream.settle()
        run.stream.settle()
        assert [e.KIND for e in seen[before:]].count("exchange") == 1
    finally:
        run.close()


def test_a_step_that_fails_keeps_its_failure_when_its_evidence_cannot_be_written() -> None:
    stream = events.EventStream()
    reporter = Reporter(Redactor(), settle=stream.settle)

    def broken() -> None:
        raise ValueError("cannot mask")

    def attempt() -> None:
        with reporter.step("attempt 1 of 3"):
            stream.defer(broken)
            raise AssertionError("the check failed")

    with pytest.raises(AssertionError, match="the check failed") as failed:
        attempt()
    assert any("evidence could not be written" in note for note in failed.value.__notes__)
