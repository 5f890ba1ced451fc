"""pytest glue: options, the run's fixtures, per-organization scenarios, exit codes.

Loaded from the root conftest.py. Options: --env NAME | --env-file PATH, --allow-production.
(Not --config: pytest reads that as an abbreviation of its own --config-file.)
Exit codes: 0 every scenario passed, 1 a validation check failed, 2 the run could not go on
(bad config, refused credentials, unreachable server): see errors.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from typing import Any

import pytest

from techval.core.client import RedoxClient
from techval.core.config import OrganizationProfile, Settings, load_settings
from techval.core.errors import COULD_NOT_RUN, ConfigError, CouldNotRun, failure_kind
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.harness.run import Run, start_run
from techval.validation.catalogue import STEPS, step_for
from techval.validation.patients import TestPatient, load_patients

SETTINGS_KEY = pytest.StashKey[Settings]()
RUN_KEY = pytest.StashKey[Run]()
OUTCOMES_KEY = pytest.StashKey[dict[str, int]]()
FIRST_EXCHANGE_KEY = pytest.StashKey[int]()
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


def pytest_configure(config: pytest.Config) -> None:
    env, path = config.getoption("--env"), config.getoption("--env-file")
    if env and path:
        raise pytest.UsageError("give --env or --env-file, not both")
    try:
        config.stash[SETTINGS_KEY] = load_settings(env, path)
    except ConfigError as exc:
        raise pytest.UsageError(f"techval: {exc}") from None
    config.stash[OUTCOMES_KEY] = {"checks": 0, "could_not_run": 0}
    config.addinivalue_line("markers", "xdist_group(name): run on one pytest-xdist worker")


def provide_run(config: pytest.Config, run: Run) -> None:
    """Hand an already started run to the plugin (the CLI starts it to report errors itself)."""
    config.stash[RUN_KEY] = run


def pytest_bdd_apply_tag(tag: str, function: Callable[..., Any]) -> bool | None:
    """@per_organization: run the scenario once for each configured organization."""
    if tag == "per_organization":
        pytest.mark.usefixtures("organization_profile")(function)
        pytest.mark.per_organization(function)
        # under pytest-xdist --dist loadgroup, one worker runs the whole record lifecycle
        pytest.mark.xdist_group(name="organization")(function)
        return True
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "organization"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "organization_profile" in metafunc.fixturenames:
        organizations = metafunc.config.stash[SETTINGS_KEY].organizations
        metafunc.parametrize(
            "organization_profile", organizations, ids=[_slug(o.name) for o in organizations]
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the scenarios in the order of the validation steps (pytest-bdd sorts features by
    name); the sort is stable, so the order within a feature stays the file's."""

    def number(item: pytest.Item) -> int:
        step = step_for(marker.name for marker in item.iter_markers())
        return step.number if step else len(STEPS) + 1

    items.sort(key=number)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the run once scenarios are selected, so a failure stops it before any of them."""
    config = session.config
    if RUN_KEY in config.stash or not any(
        item.get_closest_marker(SCENARIO_MARK) for item in session.items
    ):
        return
    try:
        config.stash[RUN_KEY] = start_run(
            config.stash[SETTINGS_KEY], allow_production=config.getoption("--allow-production")
        )
    except CouldNotRun as exc:
        pytest.exit(f"techval: could not run: {exc}", returncode=2)


def _start_clock(item: pytest.Item) -> None:
    """Give the scenario (then its teardown) timeouts.scenario seconds in all."""
    run = item.config.stash.get(RUN_KEY, None)
    if run is not None and item.get_closest_marker(SCENARIO_MARK):
        run.client.clock.start(run.settings.timeouts.scenario)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    run = item.config.stash.get(RUN_KEY, None)
    item.stash[FIRST_EXCHANGE_KEY] = len(run.client.exchanges) if run else 0
    _start_clock(item)
    return (yield)


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


class _reporting:
    """Let the reporter attach to Allure while the test body or its teardown runs."""

    def __init__(self, item: pytest.Item) -> None:
        run = item.config.stash.get(RUN_KEY, None)
        self.reporter = run.reporter if run and item.get_closest_marker(SCENARIO_MARK) else None

    def __enter__(self) -> None:
        if self.reporter:
            self.reporter.active = True

    def __exit__(self, *exc: object) -> None:
        if self.reporter:
            self.reporter.active = False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Count failures by kind: a check that failed, or a run that could not go on."""
    report = yield
    if report.failed and call.excinfo is not None and item.get_closest_marker(SCENARIO_MARK):
        could_not_run = failure_kind(call.excinfo.value) == COULD_NOT_RUN
        kind = "could_not_run" if could_not_run else "checks"
        item.config.stash[OUTCOMES_KEY][kind] += 1
    return report


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        run.close()
    outcomes = config.stash.get(OUTCOMES_KEY, {})
    if (
        exitstatus == pytest.ExitCode.TESTS_FAILED
        and outcomes.get("could_not_run")
        and not outcomes.get("checks")
    ):
        session.exitstatus = 2  # nothing failed a check: the run could not go on


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> Run:
    config = request.config
    if RUN_KEY not in config.stash:
        config.stash[RUN_KEY] = start_run(
            config.stash[SETTINGS_KEY], allow_production=config.getoption("--allow-production")
        )
    return config.stash[RUN_KEY]


@pytest.fixture(scope="session")
def settings(run: Run) -> Settings:
    """The environment's settings, aimed at the simulator when the run started one."""
    return run.settings


@pytest.fixture(scope="session")
def client(run: Run) -> RedoxClient:
    return run.client


@pytest.fixture(scope="session")
def reporter(run: Run) -> Reporter:
    return run.reporter


@pytest.fixture(scope="session")
def test_patients(settings: Settings) -> dict[str, TestPatient]:
    """The environment's test patients by alias."""
    return load_patients(settings.test_patients)


@pytest.fixture
def scenario_exchanges(request: pytest.FixtureRequest, client: RedoxClient) -> list[Exchange]:
    """The exchanges this scenario's steps have made so far."""
    return client.exchanges[request.node.stash.get(FIRST_EXCHANGE_KEY, 0) :]


@pytest.fixture
def organization_profile() -> OrganizationProfile:
    """Parametrized per configured organization for @per_organization scenarios."""
    raise pytest.UsageError("organization_profile is only available in @per_organization scenarios")
