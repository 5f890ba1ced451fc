"""Fixtures the whole-run tests share with the unit tests of the same subject."""

from tests.unit.test_hostile_answers import environment  # noqa: F401 (a fixture)
from tests.unit.test_input_files import fifo  # noqa: F401 (a fixture)
