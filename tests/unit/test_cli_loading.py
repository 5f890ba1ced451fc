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


def test_the_command_keeps_the_unused_extras_out_and_importing_techval_does_not() -> None:
    """A fresh interpreter: importing techval changes nothing in it; loading the harness as
    the `techval` command does keeps httpx's command line out (rich and click never load),
    and httpx still works, and Pygments still finds the lexers other packages register."""
    probe = (
        "import sys, techval;"
        "before = [e for e in techval.UNUSED_EXTRAS if e in sys.modules];"
        "from techval.cli.loading import load; load('techval.cli.run');"
        "import httpx, pygments.lexers;"
        "assert httpx.Client and pygments.lexers.get_lexer_for_filename('x.py');"
        "kept_out = [e for e in techval.UNUSED_EXTRAS if sys.modules.get(e, 0) is None];"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('rich', 'click')];"
        "print(before, kept_out, loaded)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "[] ['httpx._main'] []"), done.stderr
