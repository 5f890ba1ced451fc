"""Fixtures of the harness's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from techval.core.config import Settings
from techval.simulator import RunningSimulator, Simulator, provision
from tests.helpers import RunResult, run_techval, settings_for, shared_run


@pytest.fixture
def test_settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
def simulator(test_settings: Settings) -> Simulator:
    return provision(test_settings)


@pytest.fixture(scope="session")
def serial_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The whole suite on the simulator, defaults only, made once for the session by
    whichever worker asks first (helpers.shared_run); the tests only read it."""
    return shared_run(
        tmp_path_factory, "serial", lambda folder: run_techval([], folder / "reports")
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningSimulator]:
    """A simulator on a real port, provisioned for the test environment's credentials."""
    running = RunningSimulator(provision(settings_for(tmp_path))).start()
    yield running
    running.stop()


# Rough cost of a test in seconds of a worker, to place the tests that wait on purpose
# (`waits`) evenly among the rest: two cores, four workers.
WHOLE_RUN_COST, UNIT_COST = 1.0, 0.03
SPREAD = 0.5  # through the first half: a wait near the end would end the suite alone


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """For `make test`'s workers, which take one test at a time: the whole runs before the
    unit tests (the unit tests are short: no long test ends the suite alone), and the runs
    that wait on purpose (a Retry-After, a deadline, a signal, a browser) spread evenly through
    the first half of the rest, so that about half the workers wait while the others use the
    CPU. Collection order kept within each kind."""
    waiting = [item for item in items if item.get_closest_marker("waits")]
    rest = sorted(
        (item for item in items if not item.get_closest_marker("waits")),
        key=lambda item: item.get_closest_marker("whole_run") is None,
    )
    if not waiting:
        items[:] = rest
        return
    costs = [WHOLE_RUN_COST if i.get_closest_marker("whole_run") else UNIT_COST for i in rest]
    every = sum(costs) * SPREAD / len(waiting)
    ordered, spent, pending = [], 0.0, list(waiting)
    for item, cost in zip(rest, costs, strict=True):
        while pending and spent >= every * (len(waiting) - len(pending)):
            ordered.append(pending.pop(0))
        ordered.append(item)
        spent += cost
    items[:] = ordered + pending
