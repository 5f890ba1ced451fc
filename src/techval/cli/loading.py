"""How the `techval` command imports the harness: with the cyclic garbage collector paused,
and without the libraries' extras it never uses.

Loading techval and its libraries makes objects that live as long as the command; the
collector would walk them again and again while they load (about 40 ms of a short run's start;
run.py freezes them out of its walks before the suite runs). An extra in
techval.UNUSED_EXTRAS is kept out by a None entry in sys.modules: its import raises
ImportError, which its library catches (~30 ms). A program that imports techval as a library
gets neither: no import of techval changes the process."""

from __future__ import annotations

import gc
import importlib
import sys
from types import ModuleType

from techval import UNUSED_EXTRAS


def load(module: str) -> ModuleType:
    """`module`, imported with the collector paused (as it was after) and the unused extras
    kept out."""
    for extra in UNUSED_EXTRAS:
        sys.modules.setdefault(extra, None)  # type: ignore[arg-type]
    collecting = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(module)
    finally:
        if collecting:
            gc.enable()
