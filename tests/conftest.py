"""Fixtures of the harness's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from techval.core.config import Settings
from techval.simulator import RunningSimulator, Simulator, provision
from tests.helpers import settings_for


@pytest.fixture
def test_settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
def simulator(test_settings: Settings) -> Simulator:
    return provision(test_settings)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningSimulator]:
    """A simulator on a real port, provisioned for the test environment's credentials."""
    running = RunningSimulator(provision(settings_for(tmp_path))).start()
    yield running
    running.stop()
