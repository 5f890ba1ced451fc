"""YAML data files read with libyaml when PyYAML has it (several times faster than the pure
Python parser; the fixtures are read on every run), the pure Python loader otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(path: Path) -> Any:
    """The YAML document in `path`; yaml.YAMLError when it is not YAML, OSError when unreadable."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)  # noqa: S506 - a safe loader
