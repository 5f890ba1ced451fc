"""Error types, split by who has to act on them.

`CouldNotRun` and its subclasses stop a run before or outside any check (exit 2): bad
configuration, refused credentials, an unreachable server. `CheckFailed` is a validation
check that failed (exit 1). `InvalidMessage` is a message the harness was about to send that
breaks its own request schema: the user's mistake, reported without sending anything.
"""

from __future__ import annotations


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
