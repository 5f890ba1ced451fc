"""`techval run --workers N`: a pytest-xdist scheduler that keeps each lifecycle group on one
worker (loaded with -p by the CLI, only for runs with workers).

The controller never collects; it learns the groups from the workers' scenario_collected
events, which each worker writes (flushed) before it reports its collection to the controller,
so they are on disk when the scheduler splits the work.

It subclasses xdist's LoadScopeScheduling and uses its private parts, each listed in
thirdparty.XDIST_SCHEDULER_NEEDS / _STATE (checked by thirdparty.missing()).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

from techval.harness import events


class OneAhead(LoadScopeScheduling):  # type: ignore[misc]
    """xdist's loadscope, a worker given its next unit only when it is down to its last test
    (which it keeps until it knows what comes next): xdist's own rule (more than two pending)
    queues a short test behind a long unit while another worker sits idle. A test in `crashed`
    (its worker died running it) is done: it is not run a second time."""

    def __init__(self, config: pytest.Config, log: Any) -> None:
        super().__init__(config, log)
        self.crashed: set[str] = set()

    def _reschedule(self, node: Any) -> None:
        if node.shutting_down:
            return
        for scope, unit in list(self.workqueue.items()):
            for nodeid in self.crashed & set(unit):
                unit[nodeid] = True
            if all(unit.values()):
                del self.workqueue[scope]
        if not self.workqueue:
            node.shutdown()
            return
        if self._pending_of(self.assigned_work[node]) > 1:
            return
        self._assign_work_unit(node)


class GroupScheduling(OneAhead):
    def __init__(self, config: pytest.Config, log: Any, reports: Path) -> None:
        super().__init__(config, log)
        self.reports = reports
        self.groups: dict[str, str] | None = None

    def remove_node(self, node: Any) -> str | None:
        """A worker that died: the scenario it was running is reported broken (xdist's crash
        report) and is not run again, as loadscope would: what it had done to the environment
        is unknown. The rest of its lifecycle group goes to another worker.

        Which one was running, the events say (a worker's scenario_started, the controller's
        scenario_finished once it has the teardown report), not xdist's guess (the first it
        has not heard complete): a worker killed after its teardown report, before xdist's
        own "complete" message, was running none, and one killed before it started the next
        was not running that one. Unreadable events leave xdist's guess."""
        workload = self.assigned_work.get(node)
        if not workload or not self._pending_of(workload):
            return super().remove_node(node)  # type: ignore[no-any-return]
        try:
            started: set[str] | None
            started, finished = self._progress()
        except (events.BadEvents, OSError):  # unreadable events: xdist's guess, as before
            started, finished = None, set()
        for unit in workload.values():
            for nodeid in unit:
                if nodeid in finished:
                    unit[nodeid] = True  # it ended before the worker died: not run again
        pending = [n for unit in workload.values() for n, done in unit.items() if not done]
        # it runs its units in order: the first pending one, if it had started
        running = [n for n in pending[:1] if started is None or n in started]
        if running or not pending:
            self.crashed.update(running)
            return super().remove_node(node)  # type: ignore[no-any-return]
        # None was running: what it had not started goes to the other workers, no crash report
        del self.assigned_work[node]
        self.workqueue.update(workload)
        for other in self.assigned_work:
            self._reschedule(other)
        return None

    def _progress(self) -> tuple[set[str], set[str]]:
        """The scenarios started and those finished, by every process of the run so far."""
        started: set[str] = set()
        finished: set[str] = set()
        for event in events.read([self.reports]):
            if isinstance(event, events.ScenarioStarted):
                started.add(event.scenario)
            elif isinstance(event, events.ScenarioFinished):
                finished.add(event.scenario)
        return started, finished

    def _split_scope(self, nodeid: str) -> str:
        if self.groups is None:
            self.groups = {
                e.scenario: e.group or e.scenario
                for e in events.read([self.reports])
                if isinstance(e, events.ScenarioCollected)
            }
        # A test that is not a scenario (none in a run) is its own unit.
        return self.groups.get(nodeid, nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> GroupScheduling | None:
    from techval.harness.evidence.plugin import reports_dir

    reports = reports_dir(config)
    return GroupScheduling(config, log, reports) if reports is not None else None
