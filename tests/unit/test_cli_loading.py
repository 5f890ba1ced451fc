"""The CLI imports the harness with the cyclic collector paused, and leaves it as it was."""

from __future__ import annotations

import gc
import subprocess
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


def test_importing_techval_changes_nothing_in_the_process_the_command_keeps_extras_out() -> None:
    """The extras are kept out by the command's loading, not by an import of the package."""
    probe = (
        "import sys, techval;"
        "before = [e for e in techval.UNUSED_EXTRAS if e in sys.modules];"
        "from techval.cli.loading import load; load('techval.cli.arguments');"
        "print(before, [e for e in techval.UNUSED_EXTRAS if sys.modules.get(e, 0) is None])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "[] ['httpx._main']"), done.stderr
