"""Fixtures of the harness's own tests."""

from __future__ import annotations

import json
import resource
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

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


# How long each test took and the CPU it used (seconds, under make test's load, its own and
# its child processes'), as `make durations` measured them: the order below packs the tests
# by them. A test not listed (a new one) counts as a whole run or a unit test usually does.
DURATIONS = Path(__file__).with_name("durations.json")
WHOLE_RUN, UNIT = (1.0, 0.7), (0.03, 0.03)  # (wall, CPU) of a test not measured
WORKERS, CORES = 4, 2  # make test's
WAITING = 0.35  # a test using less CPU than this share of its time mostly waits
CPU_KEY = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        action="store_true",
        help=f"write how long each test took and the CPU it used to {DURATIONS.name}",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """For `make test`'s workers, which take one test at a time: the longest first (no long
    test ends the suite alone), and the tests that mostly wait (a Retry-After, a deadline, a
    signal; marked `waits` where not measured) started when the cores are busy with the
    other workers' tests, so that the waits cost no CPU time. The order is played through
    four workers, each taking the next test as it comes free, with `make durations`' times."""
    known = _durations()

    def measured(item: pytest.Item) -> tuple[float, float]:
        return known.get(item.nodeid) or (
            WHOLE_RUN if item.get_closest_marker("whole_run") else UNIT
        )

    def waits(item: pytest.Item) -> bool:
        wall, cpu = measured(item)
        if item.nodeid not in known:
            return item.get_closest_marker("waits") is not None
        return wall >= 1 and cpu < WAITING * wall

    by_length = sorted(items, key=lambda item: measured(item)[0], reverse=True)
    waiting = [item for item in by_length if waits(item)]
    busy = [item for item in by_length if not waits(item)]
    workers = [(0.0, 0.0)] * WORKERS  # each worker's (next free at, CPU share until then)
    ordered: list[pytest.Item] = []
    while waiting or busy:
        now, _ = min(workers)
        taking = workers.index(min(workers))
        used = sum(share for at, share in workers if at > now)  # the others' CPU
        # a waiting test when the others fill the cores (or nothing else is left)
        item = (waiting if waiting and (used >= CORES - 0.5 or not busy) else busy).pop(0)
        wall, cpu = measured(item)
        workers[taking] = (now + wall, cpu / wall if wall else 0.0)
        ordered.append(item)
    items[:] = ordered


# Tests run on one worker, by id prefix: importing Redox's models costs each process that does
# it about 2 s of CPU (xdist's own xdist_group mark does not reach pytest 9's node ids).
ONE_WORKER = {
    "redox-models": (
        "tests/runs/test_redox_data_model.py::",
        "tests/unit/test_simulator.py::test_answers_conform_to_redox_own_models",
    ),
}


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """make test's scheduler (--dist loadscope): each ONE_WORKER group a unit for one worker,
    every other test a unit of its own, in the order above (xdist puts a group first); a worker
    gets its next unit only when it is down to the test it runs, as `techval run --workers`
    hands out scenarios (parallel.OneAhead)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from techval.harness.parallel import OneAhead

    class Scheduling(OneAhead):
        def _split_scope(self, nodeid: str) -> str:
            groups = (name for name, ids in ONE_WORKER.items() if nodeid.startswith(ids))
            return next(groups, nodeid)

        def remove_node(self, node: Any) -> str | None:
            """A worker that died: the test it ran (its first not done: a worker runs its
            units in order) is reported crashed, as --dist load does, and not run again."""
            workload = self.assigned_work.get(node, {})
            pending = [n for unit in workload.values() for n, done in unit.items() if not done]
            self.crashed.update(pending[:1])
            return super().remove_node(node)

    return Scheduling(config, log)


def _durations() -> dict[str, tuple[float, float]]:
    try:
        found = json.loads(DURATIONS.read_text(encoding="utf-8"))
        return {str(k): (float(v[0]), float(v[1])) for k, v in found.items()}
    except (OSError, ValueError, TypeError, IndexError, AttributeError):
        return {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    if item.config.getoption("--record-durations"):
        item.stash[CPU_KEY] = _cpu()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "teardown" and CPU_KEY in item.stash:
        report.user_properties.append(("cpu", _cpu() - item.stash[CPU_KEY]))
    return report


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended."""
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


class _Recorder:
    """In the process that reports (the xdist controller): each test's setup, call and
    teardown times summed, and the CPU its worker measured, written to DURATIONS at the end."""

    def __init__(self) -> None:
        self.took: dict[str, list[float]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        took = self.took.setdefault(report.nodeid, [0.0, 0.0])
        took[0] += report.duration
        took[1] += sum(v for k, v in report.user_properties if k == "cpu" and isinstance(v, float))

    def pytest_sessionfinish(self) -> None:
        kept = {  # the quick unit tests are left to the default
            k: [round(wall, 2), round(cpu, 2)]
            for k, (wall, cpu) in sorted(self.took.items())
            if wall >= 0.05 or k.startswith("tests/runs/")
        }
        lines = ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in kept.items())
        DURATIONS.write_text("{\n" + lines + "\n}\n", encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--record-durations") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Recorder(), "techval-durations")
