"""pytest glue: options, the run's fixtures, per-organization scenarios, order and shards.

Loaded from the root conftest.py. Options: --env NAME | --env-file PATH, --allow-production,
--techval-shard K/N, --techval-simulator-url URL (set by `techval run` for its workers).
(Not --config: pytest reads that as an abbreviation of its own --config-file.)
Exit codes (set by the evidence plugin from the verdict): 0 every scenario passed, 1 a
validation check failed, 2 the run could not go on (bad config, refused credentials,
unreachable server): see errors.py.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Generator
from typing import Any

import pytest

from techval.core.client import RedoxClient
from techval.core.config import OrganizationProfile, Settings, load_settings
from techval.core.errors import ConfigError, CouldNotRun, NotRun
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.harness import groups
from techval.harness.events import EventStream, RunStopped, ScenarioStarted
from techval.harness.failure_text import (
    FAILED_STEP,
    message_only_for_known_failures,
    remember_failed_step,
)
from techval.harness.run import Run, start_run
from techval.validation import apis
from techval.validation.catalogue import STEPS, step_for
from techval.validation.patients import TestPatient, load_patients

SETTINGS_KEY = pytest.StashKey[Settings]()
RUN_KEY = pytest.StashKey[Run]()
STREAM_KEY = pytest.StashKey[EventStream]()
POSITION_KEY = pytest.StashKey[int]()
OTHER_SHARD_KEY = pytest.StashKey[bool]()  # deselected: another shard runs it
SCENARIO_MARK = "techval_scenario"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("techval", "techval validation run")
    group.addoption(
        "--env", default=None, help="environment name in environments/ (default: simulator)"
    )
    group.addoption(
        "--env-file", default=None, help="path of an environment file (instead of --env)"
    )
    group.addoption(
        "--allow-production",
        action="store_true",
        help="allow sending test data to an environment marked production: true",
    )
    group.addoption(
        "--techval-shard",
        default=None,
        metavar="K/N",
        help="run slice K of N (lifecycle groups are never split)",
    )
    group.addoption(
        "--techval-simulator-url",
        default=None,
        metavar="URL",
        help="use this running simulator instead of starting one (techval run's workers)",
    )


def pytest_configure(config: pytest.Config) -> None:
    env, path = config.getoption("--env"), config.getoption("--env-file")
    if env and path:
        raise pytest.UsageError("give --env or --env-file, not both")
    try:
        config.stash[SETTINGS_KEY] = load_settings(env, path)
    except ConfigError as exc:
        raise pytest.UsageError(f"techval: {exc}") from None
    shard = config.getoption("--techval-shard")
    if shard:
        try:
            groups.parse_shard(shard)
        except ValueError as exc:
            raise pytest.UsageError(f"techval: {exc}") from None


def provide_run(config: pytest.Config, run: Run) -> None:
    """Hand an already started run to the plugin (the CLI starts it to report errors itself)."""
    config.stash[RUN_KEY] = run
    config.stash[STREAM_KEY] = run.stream


def stream_for(config: pytest.Config) -> EventStream:
    """This process's event stream: the run's, or the one the run will use once started."""
    if STREAM_KEY not in config.stash:
        config.stash[STREAM_KEY] = EventStream()
    return config.stash[STREAM_KEY]


def pytest_bdd_apply_tag(tag: str, function: Callable[..., Any]) -> bool | None:
    """@per_organization: run the scenario once for each configured organization."""
    if tag == "per_organization":
        pytest.mark.usefixtures("organization_profile")(function)
        pytest.mark.per_organization(function)
        return True
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "organization_profile" in metafunc.fixturenames:
        organizations = metafunc.config.stash[SETTINGS_KEY].organizations
        metafunc.parametrize(
            "organization_profile", organizations, ids=[groups.slug(o.name) for o in organizations]
        )


@pytest.hookimpl(tryfirst=True)  # before -m and -k deselect: places in the whole suite
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the scenarios in the order of the validation steps (pytest-bdd sorts features by
    name; the sort is stable, so the order within a feature stays the file's); note each
    one's place in the whole suite, so that shards and subsets sort alike; a scenario's
    failures of techval's own classes are told by their message (failure_text)."""

    def number(item: pytest.Item) -> int:
        step = step_for(marker.name for marker in item.iter_markers())
        return step.number if step else len(STEPS) + 1

    items.sort(key=number)
    for position, item in enumerate(items):
        item.stash[POSITION_KEY] = position
        if item.get_closest_marker(SCENARIO_MARK):
            message_only_for_known_failures(item)


# after -m and -k have deselected
@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_shard(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --techval-shard keep one deterministic slice; the others are marked as left to
    the other shards (the evidence tells them from a -k or --tags selection)."""
    shard = config.getoption("--techval-shard")
    if not shard:
        return
    k, n = groups.parse_shard(shard)
    chosen = groups.shard_of([groups.group_for(item) for item in items], n)
    kept = [item for item, s in zip(items, chosen, strict=True) if s == k - 1]
    left = [item for item, s in zip(items, chosen, strict=True) if s != k - 1]
    for item in left:
        item.stash[OTHER_SHARD_KEY] = True
    if left:
        config.hook.pytest_deselected(items=left)
    items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the run once scenarios are selected, so a failure stops it before any of them.
    What collection built lives until the session ends: out of the garbage collector's walks
    (pytest collects once more at its end; a short run spent some 30 ms there)."""
    gc.freeze()
    config = session.config
    if config.option.collectonly:  # a list of the scenarios needs no run
        return
    if RUN_KEY in config.stash or not any(
        item.get_closest_marker(SCENARIO_MARK) for item in session.items
    ):
        return
    try:
        config.stash[RUN_KEY] = _start(config)
    except CouldNotRun as exc:
        pytest.exit(f"techval: could not run: {exc}", returncode=2)


def _start(config: pytest.Config) -> Run:
    return start_run(
        config.stash[SETTINGS_KEY],
        allow_production=config.getoption("--allow-production"),
        simulator_url=config.getoption("--techval-simulator-url"),
        stream=stream_for(config),
    )


def current_run(config: pytest.Config) -> Run | None:
    return config.stash.get(RUN_KEY, None)


def _start_clock(item: pytest.Item) -> None:
    """Give the scenario (then its teardown) timeouts.scenario seconds in all."""
    run = item.config.stash.get(RUN_KEY, None)
    if run is not None and item.get_closest_marker(SCENARIO_MARK):
        run.client.clock.start(run.settings.timeouts.scenario)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    run = item.config.stash.get(RUN_KEY, None)
    if FAILED_STEP in item.stash:  # an attempt names its own failed step, never an earlier one
        del item.stash[FAILED_STEP]
    if run is not None and item.get_closest_marker(SCENARIO_MARK):
        run.stream.scenario = item.nodeid
        run.stream.emit(ScenarioStarted(scenario=item.nodeid))
    _start_clock(item)
    return (yield)


@pytest.hookimpl(trylast=True)  # once allure-pytest-bdd has opened the scenario's result
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """Fail fast: no scenario is attempted once the environment stopped answering; a scenario
    needing what the run's API does not offer is not offered, before any of its steps."""
    run = request.config.stash.get(RUN_KEY, None)
    if run is not None and run.client.health.unreachable:
        stopped(run)
        raise NotRun(run.client.health.unreachable)
    if run is not None:
        apis.require_offered(apis.for_settings(run.settings), set(feature.tags | scenario.tags))


def stopped(run: Run) -> None:
    """Say once in the event stream why this process attempts no further scenario."""
    if run.client.health.unreachable and not run.stop_told:
        run.stop_told = True
        run.stream.emit(RunStopped(reason=run.client.health.unreachable))


@pytest.hookimpl(tryfirst=True)  # before allure-pytest-bdd closes the step
def pytest_bdd_after_step(request: pytest.FixtureRequest) -> None:
    """The evidence of the step's exchanges, held back from their requests' time, is written
    before the step ends: its attachments go inside it."""
    _settle(request.config)


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_step_error(request: pytest.FixtureRequest, feature: Any, step: Any) -> None:
    remember_failed_step(request.node, feature, step)
    _settle(request.config)


def pytest_bdd_step_func_lookup_error(
    request: pytest.FixtureRequest, feature: Any, step: Any
) -> None:
    remember_failed_step(request.node, feature, step)  # a step without a definition


def _settle(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        run.stream.settle()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _reporting(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    _start_clock(item)
    try:
        with _reporting(item):
            return (yield)
    finally:
        run = item.config.stash.get(RUN_KEY, None)
        if run is not None:
            run.client.clock.stop()
            run.stream.scenario = None


class _reporting:
    """Let the reporter attach to Allure while the test body or its teardown runs."""

    def __init__(self, item: pytest.Item) -> None:
        run = item.config.stash.get(RUN_KEY, None)
        self.reporter = run.reporter if run and item.get_closest_marker(SCENARIO_MARK) else None

    def __enter__(self) -> None:
        if self.reporter:
            self.reporter.settle()  # what was sent before (in setup) is not attached
            self.reporter.active = True

    def __exit__(self, *exc: object) -> None:
        if self.reporter:
            self.reporter.settle()
            self.reporter.active = False


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(RUN_KEY, None)
    if run is not None:
        run.close()


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> Run:
    config = request.config
    if RUN_KEY not in config.stash:
        config.stash[RUN_KEY] = _start(config)
    return config.stash[RUN_KEY]


@pytest.fixture(scope="session")
def settings(run: Run) -> Settings:
    """The environment's settings, aimed at the simulator when the run started one."""
    return run.settings


@pytest.fixture(scope="session")
def client(run: Run) -> RedoxClient:
    return run.client


@pytest.fixture(scope="session")
def api(settings: Settings, reporter: Reporter) -> apis.Api:
    """The Redox API the run speaks (`api:` in the environment file): what the steps' requests
    are made of."""
    return apis.for_settings(settings, reporter)


@pytest.fixture(scope="session")
def reporter(run: Run) -> Reporter:
    return run.reporter


@pytest.fixture(scope="session")
def test_patients(settings: Settings) -> dict[str, TestPatient]:
    """The environment's test patients by alias."""
    return load_patients(settings.test_patients)


@pytest.fixture
def scenario_exchanges(run: Run) -> list[Exchange]:
    """The exchanges this scenario's steps have made so far."""
    return run.current.exchanges


@pytest.fixture
def organization_profile() -> OrganizationProfile:
    """Parametrized per configured organization for @per_organization scenarios."""
    raise pytest.UsageError("organization_profile is only available in @per_organization scenarios")
