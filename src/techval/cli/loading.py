"""Importing the harness with the cyclic garbage collector paused.

Loading techval and its libraries makes objects that live as long as the command; the
collector would walk them again and again while they load (about 40 ms of a short run's start;
run.py freezes them out of its walks before the suite runs)."""

from __future__ import annotations

import gc
import importlib
from types import ModuleType


def load(module: str) -> ModuleType:
    """`module`, imported with the collector paused (as it was after)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(module)
    finally:
        if collecting:
            gc.enable()
