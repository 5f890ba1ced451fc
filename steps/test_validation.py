"""The one binding module: every scenario under features/ becomes a test."""

from __future__ import annotations

import pytest
from pytest_bdd import scenarios

pytestmark = [pytest.mark.techval_scenario]

scenarios(".")
