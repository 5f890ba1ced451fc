"""`techval run --workers N`: when a worker dies, the scenario it was running is the one
reported broken, as the events tell it (harness/parallel.py), not xdist's guess of the first
scenario it had not heard complete."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from techval.harness import events
from techval.harness.parallel import GroupScheduling

UPDATE, DEACTIVATE = "steps/t.py::test_update", "steps/t.py::test_deactivate"


class _Config:
    """What xdist's scheduler reads of pytest's config: two workers."""

    def getvalue(self, name: str) -> list[str]:
        assert name == "tx"
        return ["2*popen"]


class _Worker:
    shutting_down = False


def _scheduler(reports: Path, *happened: events.Record) -> tuple[GroupScheduling, _Worker]:
    """A scheduler whose one worker was given the organization lifecycle, neither scenario
    heard complete; `happened`: the events before it died, each in the file of the process
    that writes it (a scenario's start the worker's, its end the controller's)."""
    worker_file, controller_file = (
        events.EventFile(reports, "gw0"),
        events.EventFile(reports, "main"),
    )
    for event in happened:
        (controller_file if isinstance(event, events.ScenarioFinished) else worker_file)(event)
    worker_file.close()
    controller_file.close()
    scheduler = GroupScheduling(_Config(), None, reports)  # type: ignore[arg-type]
    worker = _Worker()
    scheduler.assigned_work[worker] = OrderedDict(
        [("organization", {UPDATE: False, DEACTIVATE: False})]
    )
    return scheduler, worker


def _finished(scenario: str) -> events.ScenarioFinished:
    return events.ScenarioFinished(scenario=scenario, status="passed")


def test_a_worker_dying_mid_scenario_breaks_that_scenario(tmp_path: Path) -> None:
    scheduler, worker = _scheduler(tmp_path, events.ScenarioStarted(scenario=UPDATE))
    assert scheduler.remove_node(worker) == UPDATE
    assert scheduler.crashed == {UPDATE}


def test_a_worker_dying_just_after_a_scenario_finished_breaks_none(tmp_path: Path) -> None:
    """Killed after the update's events, before xdist heard it complete: the update passed,
    the deactivation never started and goes to another worker."""
    scheduler, worker = _scheduler(
        tmp_path, events.ScenarioStarted(scenario=UPDATE), _finished(UPDATE)
    )
    assert scheduler.remove_node(worker) is None
    assert scheduler.crashed == set()
    requeued: dict[str, Any] = dict(scheduler.workqueue)
    assert requeued == {"organization": {UPDATE: True, DEACTIVATE: False}}


def test_a_worker_dying_in_the_next_scenario_breaks_the_next(tmp_path: Path) -> None:
    scheduler, worker = _scheduler(
        tmp_path,
        events.ScenarioStarted(scenario=UPDATE),
        _finished(UPDATE),
        events.ScenarioStarted(scenario=DEACTIVATE),
    )
    assert scheduler.remove_node(worker) == DEACTIVATE
    assert scheduler.crashed == {DEACTIVATE}


def test_unreadable_events_leave_xdists_guess(tmp_path: Path) -> None:
    """An event file techval did not write as it is: the crash is charged as xdist would
    (the first scenario not heard complete), and the controller goes on."""
    scheduler, worker = _scheduler(tmp_path, events.ScenarioStarted(scenario=UPDATE))
    (tmp_path / "events" / "gw1.jsonl").write_text('{"event": 5}\n', encoding="utf-8")
    assert scheduler.remove_node(worker) == UPDATE
    assert scheduler.crashed == {UPDATE}
