"""Error types, split by who has to act on them.

`CouldNotRun` and its subclasses stop a run before or outside any check (exit 2): bad
configuration, refused credentials, an unreachable server. `CheckFailed` is a validation
check that failed (exit 1). `InvalidMessage` is a message the harness was about to send that
breaks its own request schema: the user's mistake, reported without sending anything.
`TestDataMismatch` is Redox answering well-formed and as documented, but the user's test data
not fitting their network: the scenario is not applicable (skipped), never failed.

Each kind of failure is a class, and each class names the report category it is filed under
(`category`, inherited along the MRO): `category_of` files an error by its class, never by the
words of its message, so rewording a message cannot move a failure to another category.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest


class TechvalError(Exception):
    """Base class of every error techval raises on purpose."""

    category: ClassVar[str | None] = None  # the report category; None: Allure's default


class CouldNotRun(TechvalError):
    """The run cannot go on; nothing about the system under test was proven."""

    category = "Could not run"


class ConfigError(CouldNotRun):
    """The environment file or the command line is wrong."""


class AuthError(CouldNotRun):
    """The token endpoint refused the credentials or answered nonsense."""


class TransportError(CouldNotRun):
    """The server could not be reached, or did not answer in time."""

    category = "Could not connect / timed out"


class TokenEndpointUnreachable(AuthError, TransportError):
    """No answer from the token endpoint: the credentials were not put to the test."""


class MalformedResponse(TransportError):
    """The server's answer broke HTTP (a bad status line or header, the connection closed
    mid-body, a body that does not decode): no answer to judge, so nothing about the API was
    proven (a proxy or the network may have broken it as well as the server)."""

    category = "Malformed HTTP response"


class ScenarioTimeout(TransportError):
    """A scenario used up its total time (timeouts.scenario): reported as timed out."""


class InvalidMessage(TechvalError):
    """An outgoing message breaks its request schema or a documented rule."""

    category = "Your message is invalid (not sent)"
    requirements: tuple[str, ...] = ()  # what the check that raised it verifies (verifies.py)
    check: str | None = None  # that check, "module.qualname"


class BreaksRequestSchema(InvalidMessage):
    """An outgoing message has no request schema, or breaks it: not sent."""


class BreaksRedoxRule(InvalidMessage):
    """An outgoing message breaks a documented Redox rule (rules.outgoing): not sent."""


class CheckFailed(AssertionError):
    """A conformance check failed. An AssertionError, so pytest and Allure report 'failed'."""

    category: ClassVar[str | None] = "Conformance check failed"
    requirements: tuple[str, ...] = ()  # what the check that raised it verifies (verifies.py)
    check: str | None = None  # that check, "module.qualname"


class SchemaMismatch(CheckFailed):
    """The response is over the size limit, is not JSON, or does not match its schema."""

    category = "Response did not match schema"


class RedoxRefused(CheckFailed):
    """Redox answered with an HTTP error status, Meta.Errors, or task-status Error; `status`
    and `errors` (Redox's error texts) say which, for code that explains it (doctor)."""

    category = "Redox answered with an error"

    def __init__(
        self, message: str, *, status: int | None = None, errors: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = tuple(errors)


class NotFound(CheckFailed):
    """A well-formed answer without what had to be there (a match, a record, a holder), or
    polling that never saw what it waited for."""

    category = "Expected result not found"


class ReadbackMismatch(CheckFailed):
    """A record was found again, but differs from what was written."""

    category = "Record read back differs from what was sent"


class WrongContent(CheckFailed):
    """A well-formed answer whose content is wrong: another patient or document, a field
    without the value it must have, a document that is not a CDA, an unexpected match."""

    category = "Answer content is wrong"


# The Allure category of a TestDataMismatch (a label; the verdict counts these scenarios as
# not_applicable: evidence.verdict.NOT_APPLICABLE)
TEST_DATA_CATEGORY = "Not applicable with this test data"


class TestDataMismatch(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """The test data does not fit the network: a skip (as Inferno skips on bad input), with one
    line naming the alias and the key of the test-patients file to change."""

    __test__ = False  # not a test class, whatever pytest thinks of the name
    category: ClassVar[str | None] = TEST_DATA_CATEGORY

    def __init__(self, alias: str, key: str, observed: str) -> None:
        self.alias, self.key = alias, key
        super().__init__(
            f"{TEST_DATA_CATEGORY}: {alias!r}: {observed}; change {key!r} of {alias!r} in the "
            "test-patients file",
            pytrace=False,
            _use_item_location=True,  # the scenario's place, not a path of this machine
        )


class NotRun(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """A scenario not attempted because the environment had stopped answering (fail fast):
    a skip, of the kind could-not-run."""

    category: ClassVar[str | None] = "Not run: the environment stopped answering"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"not run: the environment stopped answering: {reason}",
            pytrace=False,
            _use_item_location=True,  # the scenario's place, not a path of this machine
        )


NOT_OFFERED_BY_API = "Not offered by this API"


class NotOffered(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """What the run's Redox API does not offer (the record locator and the summary query are
    Data Model only): a skip that is neither a failure nor a gap in the validation, listed as
    not offered in every report."""

    category: ClassVar[str | None] = NOT_OFFERED_BY_API

    def __init__(self, what: str, api: str) -> None:
        super().__init__(
            f"not offered by this API: {what} is not offered by Redox's {api}",
            pytrace=False,
            _use_item_location=True,  # the scenario's place, not a path of this machine
        )


# The kinds of not-passing a reader must tell apart (and a fourth: the harness itself broke),
# and what the run's API does not offer, which is none of them.
CONFORMANCE, TEST_DATA, COULD_NOT_RUN, HARNESS_ERROR, NOT_OFFERED = (
    "conformance",
    "test_data",
    "could_not_run",
    "harness_error",
    "not_offered",
)


def failure_kind(error: BaseException | None) -> str | None:
    """Which kind of not-passing an exception from a scenario is; None for none or a plain skip."""
    from pytest_bdd.exceptions import StepDefinitionNotFoundError  # only when a scenario ran

    if error is None:
        return None
    if isinstance(error, TestDataMismatch):
        return TEST_DATA
    if isinstance(error, NotRun):
        return COULD_NOT_RUN
    if isinstance(error, NotOffered):
        return NOT_OFFERED
    if isinstance(error, pytest.skip.Exception):
        return None
    if isinstance(error, CouldNotRun | StepDefinitionNotFoundError):
        return COULD_NOT_RUN
    if isinstance(error, CheckFailed | InvalidMessage):
        return CONFORMANCE
    return HARNESS_ERROR


def category_of_class(kind: type[BaseException]) -> str | None:
    """The report category of an exception class: the `category` its MRO gives it, for
    techval's own errors; "Could not run" for a step without definition; else None."""
    from pytest_bdd.exceptions import StepDefinitionNotFoundError

    if issubclass(kind, TechvalError | CheckFailed | TestDataMismatch | NotRun | NotOffered):
        category: str | None = kind.category
        return category
    if issubclass(kind, StepDefinitionNotFoundError):
        return CouldNotRun.category
    return None


def category_of(error: BaseException | None) -> str | None:
    """The report category of an exception from a scenario, by its class (never its message);
    None for none, a plain skip or a harness error (Allure files those by status)."""
    return None if error is None else category_of_class(type(error))


def categories() -> dict[str, list[str]]:
    """Every category a techval error class names (subclasses included), in the order the
    classes were defined, with the Allure statuses its classes are reported as."""
    found: dict[str, list[str]] = {}
    pending: list[type[BaseException]] = [
        TechvalError,
        CheckFailed,
        TestDataMismatch,
        NotRun,
        NotOffered,
    ]
    while pending:
        kind = pending.pop(0)
        category = category_of_class(kind)
        if category is not None:
            statuses = found.setdefault(category, [])
            status = allure_status(kind)
            if status not in statuses:
                statuses.append(status)
        pending[:0] = kind.__subclasses__()
    return found


def allure_status(kind: type[BaseException]) -> str:
    """The status Allure gives a scenario that raised `kind` (allure_pytest_bdd.utils)."""
    if issubclass(kind, pytest.skip.Exception):
        return "skipped"
    return "failed" if issubclass(kind, AssertionError) else "broken"
