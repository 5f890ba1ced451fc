"""The text pytest keeps of a scenario that failed in its steps (its console line, junit.xml,
the Allure scenario's trace): for techval's own failures the message and the Gherkin step that
raised it, for anything else pytest's traceback. (A setup fixture's error keeps pytest's
traceback: pytest does not ask the item for it. The Allure steps keep allure-pytest-bdd's own
trace of a step's error.)

A check's message names what was observed, where, and the rule; the frames that raised it are
the harness's plumbing, which in evidence sent to a third party reads as a crash. pytest's
traceback of them is also the most expensive part of a failing run: it parses each source file
on the way to place each line (with every scenario failing, about two thirds of a run's CPU).
A harness error (a KeyError in a check, a plain assert) keeps pytest's traceback: there it is
what the reader needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from techval.core.errors import category_of

FAILED_STEP = pytest.StashKey[str]()


def remember_failed_step(item: pytest.Item, feature: Any, step: Any) -> None:
    """Note the Gherkin step whose error failed the scenario (pytest-bdd's step_error hook):
    its words and its place in the feature file (relative to the features folder)."""
    item.stash[FAILED_STEP] = (
        f"{step.keyword} {step.name} ({feature.rel_filename}:{step.line_number})"
    )


def message_only_for_known_failures(item: pytest.Item) -> None:
    """Make `item` describe a failure of a techval error class by its message (with its
    notes) and the step that raised it; any other failure as pytest would."""
    pytests_own: Callable[..., Any] = item.repr_failure

    def repr_failure(
        excinfo: pytest.ExceptionInfo[BaseException], *args: Any, **kwargs: Any
    ) -> Any:
        if category_of(excinfo.value) is None:
            return pytests_own(excinfo, *args, **kwargs)
        step = item.stash.get(FAILED_STEP, None)
        return excinfo.exconly() + (f"\n  in step: {step}" if step else "")

    item.repr_failure = repr_failure  # type: ignore[method-assign]
