"""The CLI imports the harness with the cyclic collector paused, and leaves it as it was."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from techval.cli.loading import load


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("techval_probe_gc", "techval_probe_broken"):
        sys.modules.pop(name, None)


def test_a_module_loads_with_the_collector_paused_then_running_again(modules: Path) -> None:
    (modules / "techval_probe_gc.py").write_text("import gc\nCOLLECTING = gc.isenabled()\n")
    assert gc.isenabled()
    assert load("techval_probe_gc").COLLECTING is False
    assert gc.isenabled()


def test_a_module_that_fails_to_load_leaves_the_collector_running(modules: Path) -> None:
    (modules / "techval_probe_broken.py").write_text("raise ImportError('broken on purpose')\n")
    with pytest.raises(ImportError, match="broken on purpose"):
        load("techval_probe_broken")
    assert gc.isenabled()


def test_a_collector_paused_by_the_caller_stays_paused(modules: Path) -> None:
    (modules / "techval_probe_gc.py").write_text("import gc\nCOLLECTING = gc.isenabled()\n")
    gc.disable()
    try:
        assert load("techval_probe_gc").COLLECTING is False
        assert not gc.isenabled()
    finally:
        gc.enable()
