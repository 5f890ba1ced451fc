"""Fixtures of the harness's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from techval.core.config import Settings
from techval.simulator import Simulator, provision
from tests.helpers import settings_for


@pytest.fixture
def test_settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
def simulator(test_settings: Settings) -> Simulator:
    return provision(test_settings)
