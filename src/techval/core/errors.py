"""Error types, split by who has to act on them.

`CouldNotRun` and its subclasses stop a run before or outside any check (exit 2): bad
configuration, refused credentials, an unreachable server. `CheckFailed` is a validation
check that failed (exit 1). `InvalidMessage` is a message the harness was about to send that
breaks its own request schema: the user's mistake, reported without sending anything.
`TestDataMismatch` is Redox answering well-formed and as documented, but the user's test data
not fitting their network: the scenario is not applicable (skipped), never failed.
"""

from __future__ import annotations

import pytest


class TechvalError(Exception):
    """Base class of every error techval raises on purpose."""


class CouldNotRun(TechvalError):
    """The run cannot go on; nothing about the system under test was proven."""


class ConfigError(CouldNotRun):
    """The environment file or the command line is wrong."""


class AuthError(CouldNotRun):
    """The token endpoint refused the credentials or answered nonsense."""


class TransportError(CouldNotRun):
    """The server could not be reached, or did not answer in time."""


class ScenarioTimeout(TransportError):
    """A scenario used up its total time (timeouts.scenario): reported as timed out."""


class InvalidMessage(TechvalError):
    """An outgoing message breaks its request schema or a documented rule."""


class CheckFailed(AssertionError):
    """A conformance check failed. An AssertionError, so pytest and Allure report 'failed'."""


NOT_APPLICABLE = "Not applicable with this test data"


class TestDataMismatch(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """The test data does not fit the network: a skip (as Inferno skips on bad input), with one
    line naming the alias and the key of the test-patients file to change."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, alias: str, key: str, observed: str) -> None:
        self.alias, self.key = alias, key
        super().__init__(
            f"{NOT_APPLICABLE}: {alias!r}: {observed}; change {key!r} of {alias!r} in the "
            "test-patients file",
            pytrace=False,
        )


# The kinds of not-passing a reader must tell apart (and a fourth: the harness itself broke).
CONFORMANCE, TEST_DATA, COULD_NOT_RUN, HARNESS_ERROR = (
    "conformance",
    "test_data",
    "could_not_run",
    "harness_error",
)


def failure_kind(error: BaseException | None) -> str | None:
    """Which kind of not-passing an exception from a scenario is; None for none or a plain skip."""
    from pytest_bdd.exceptions import StepDefinitionNotFoundError  # only when a scenario ran

    if error is None:
        return None
    if isinstance(error, TestDataMismatch):
        return TEST_DATA
    if isinstance(error, pytest.skip.Exception):
        return None
    if isinstance(error, CouldNotRun | StepDefinitionNotFoundError):
        return COULD_NOT_RUN
    if isinstance(error, CheckFailed | InvalidMessage):
        return CONFORMANCE
    return HARNESS_ERROR
