"""`techval run --list`: the scenarios a selection would run, named as the reports name them,
without running them, starting a run or touching the reports."""

from __future__ import annotations

import contextlib
import io

import pytest

from techval.core.config import Settings
from techval.harness.evidence.plugin import outcome_for
from techval.harness.pytest_plugin import SCENARIO_MARK
from techval.harness.run import redactor_for
from techval.validation.catalogue import BY_KEY


class _Listing:
    def __init__(self, settings: Settings) -> None:
        self.redactor = redactor_for(settings)
        self.lines: list[str] = []
        self.left_out = 0

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.left_out += sum(1 for item in items if item.get_closest_marker(SCENARIO_MARK))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            if item.get_closest_marker(SCENARIO_MARK):
                outcome = outcome_for(item, self.redactor)
                step = BY_KEY.get(outcome.step or "")
                self.lines.append(f"{step.label} > {outcome.title}" if step else outcome.title)


def scenarios(settings: Settings, pytest_args: list[str]) -> tuple[list[str], int, int]:
    """The titles of the scenarios selected, how many of the suite's were left out, and
    pytest's exit code (its own output is not shown: the list is)."""
    listing = _Listing(settings)
    with contextlib.redirect_stdout(io.StringIO()):
        code = pytest.main([*pytest_args, "--collect-only", "-q"], plugins=[listing])
    return listing.lines, listing.left_out, int(code)
