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


class Unreadable(Exception):
    """Why a YAML file could not be read, in a few words ("not YAML (line 3)")."""


def read(path: Path) -> Any:
    """`load`, with the two ways it fails as one Unreadable naming the line when known."""
    try:
        return load(path)
    except OSError as exc:
        raise Unreadable(f"cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise Unreadable(f"not YAML{line}") from None
    except ValueError as exc:  # a value PyYAML cannot build, e.g. the date 2026-02-30
        raise Unreadable(f"a value YAML cannot read: {exc}") from None
