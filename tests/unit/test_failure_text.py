"""A scenario's failure text: the message alone for techval's own failure classes, pytest's
traceback for anything else (harness/failure_text.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pytest_bdd.exceptions import StepDefinitionNotFoundError

from techval.core.errors import NotRun, RedoxRefused, SchemaMismatch
from techval.harness import pytest_plugin
from techval.harness.failure_text import (
    FAILED_STEP,
    message_only_for_known_failures,
    remember_failed_step,
)


class Item:
    """What pytest's Function offers here: a repr_failure of its own, and a stash."""

    def __init__(self) -> None:
        self.asked: list[tuple[BaseException, str | None]] = []
        self.stash = pytest.Stash()

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None
    ) -> str:
        self.asked.append((excinfo.value, style))
        return "pytest's traceback"


def told(error: BaseException, *args: Any, item: Item | None = None) -> tuple[str, list[Any]]:
    item = item or Item()
    message_only_for_known_failures(item)  # type: ignore[arg-type]
    try:
        raise error
    except BaseException:  # noqa: BLE001 - any error, as pytest catches it
        excinfo = pytest.ExceptionInfo.from_current()
    return item.repr_failure(excinfo, *args), item.asked


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            SchemaMismatch("Organization.Query: $.Organizations[0].Active: expected boolean"),
            "techval.core.errors.SchemaMismatch: Organization.Query: "
            "$.Organizations[0].Active: expected boolean",
        ),
        (
            RedoxRefused("PatientSearch.Query: Redox answered HTTP 500"),
            "techval.core.errors.RedoxRefused: PatientSearch.Query: Redox answered HTTP 500",
        ),
        (
            NotRun("Redox answered HTTP 503"),
            "techval.core.errors.NotRun: not run: the environment stopped answering: "
            "Redox answered HTTP 503",
        ),
    ],
    ids=["conformance", "refused", "not-run"],
)
def test_a_techval_failure_is_told_by_its_message_alone(error: Exception, text: str) -> None:
    assert told(error) == (text, [])


def test_an_undefined_step_is_told_by_its_message() -> None:
    undefined, asked = told(StepDefinitionNotFoundError("Step definition is not found: x"))
    assert undefined.endswith("StepDefinitionNotFoundError: Step definition is not found: x")
    assert not asked


def test_a_note_added_to_a_failure_stays_in_its_text() -> None:
    error = SchemaMismatch("Organization.Query: the response does not match")
    error.add_note("an exchange's evidence could not be written")
    text, _ = told(error)
    assert text.splitlines() == [
        "techval.core.errors.SchemaMismatch: Organization.Query: the response does not match",
        "an exchange's evidence could not be written",
    ]


@pytest.mark.parametrize("error", [KeyError("Organizations"), AssertionError("x"), OSError(5)])
def test_a_harness_error_keeps_pytests_traceback_and_its_arguments(error: Exception) -> None:
    text, asked = told(error, "short")
    assert text == "pytest's traceback"
    assert asked == [(error, "short")]


def test_the_step_that_raised_a_failure_follows_its_message() -> None:
    item = Item()
    feature = SimpleNamespace(rel_filename="features/1_organization.feature")
    step = SimpleNamespace(keyword="Then", name="the directory accepts the record", line_number=11)
    remember_failed_step(item, feature, step)  # type: ignore[arg-type]
    text, _ = told(RedoxRefused("Organization.New: Redox answered HTTP 500"), item=item)
    assert text.splitlines() == [
        "techval.core.errors.RedoxRefused: Organization.New: Redox answered HTTP 500",
        "  in step: Then the directory accepts the record (features/1_organization.feature:11)",
    ]
    harness_bug, _ = told(KeyError("x"), item=item)
    assert harness_bug == "pytest's traceback"  # no step line added to pytest's own


def test_a_new_attempt_of_a_scenario_forgets_the_step_an_earlier_one_failed_in() -> None:
    item = SimpleNamespace(
        stash=pytest.Stash(),
        config=SimpleNamespace(stash=pytest.Stash()),
        nodeid="steps/test_validation.py::test_x",
        get_closest_marker=lambda name: None,
    )
    item.stash[FAILED_STEP] = "Then the directory accepts the record (x.feature:11)"
    setup = pytest_plugin.pytest_runtest_setup(item)  # type: ignore[arg-type]
    next(setup)  # up to pytest's own setup
    assert FAILED_STEP not in item.stash
    setup.close()
