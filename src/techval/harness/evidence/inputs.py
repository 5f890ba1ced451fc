"""What the evidence sections read besides the events: the run's options, handed to them as
an argument (by the plugin from its pytest options, by `techval merge` from its own), never
read from process state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Inputs:
    baseline: Path  # the known-failures file the verdict applies (it may not exist)
