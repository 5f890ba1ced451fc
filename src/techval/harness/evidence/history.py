"""Files an earlier run wrote and this one reads back: reports/history/ (the previous verdict,
the last green one, the last green answer shapes) and reports/verdict.json.

The history travels in the CI cache from night to night, so it may hold anything by now: a
file cut short, another tool's JSON, JSON nested a hundred thousand deep, a FIFO. Such a file
counts as absent (that comparison is left out), with one warning line on stderr naming the
file and what is wrong with it; no later run stops on it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from techval.core import inputfiles
from techval.harness.staging import shown

# A verdict holds outcomes and messages, never bodies: some 1 KB a scenario. 50 MB is a suite
# of tens of thousands of scenarios; more is not a file techval wrote.
MAX_BYTES = 50_000_000

NAMES: dict[type, str] = {str: "a string", list: "a list", dict: "an object"}
Shape = Callable[[dict[str, Any]], str | None]  # what is wrong with a document; None: nothing


def read(path: Path, wrong: Shape) -> dict[str, Any] | None:
    """The JSON object in `path`; None when there is none, or (with a warning) when it cannot
    be read, is not a JSON object, or `wrong` finds fault with it."""
    try:
        document = inputfiles.read_json(path, MAX_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        problem: str | None = f"cannot be read ({exc.strerror})"
    except inputfiles.Refused as exc:
        problem = str(exc)
    else:
        problem = wrong(document) if isinstance(document, dict) else "not a JSON object"
        if problem is None:
            return document  # type: ignore[no-any-return]
    warn(f"{shown(path)}: {problem}; read as absent")
    return None


def write(path: Path, text: str) -> None:
    """Keep `text` in `path`; a history entry that cannot be written (a folder in its place)
    is a warning: the run's own evidence is written all the same."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        warn(f"{shown(path)}: cannot be written ({exc.strerror})")


def warn(text: str) -> None:
    # a note the run goes on after, from inside pytest or a merge: straight to the user
    print(f"techval: warning: {text}", file=sys.stderr)  # noqa: T201


def listed(value: Any, what: str, keys: Mapping[str, type]) -> str | None:
    """What is wrong with `value` as a list of objects whose `keys` have those types."""
    if not isinstance(value, list):
        return f"{what} is not a list"
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            return f"{what}[{index}] is not an object"
        for key, types in keys.items():
            if not isinstance(item.get(key), types):
                return f"{what}[{index}].{key} is missing or not {NAMES[types]}"
    return None
