"""The baseline file's format: baseline.yaml, one list of known failures per environment name,
each entry a scenario (its name and parameters as verdict.json shows them), its failure kind,
a reason and an expiry date. Where the file is, reading and checking it (BaselineError names
the file, the entry and the key), and the text `techval baseline` writes. What the entries do
to a run is baseline_match.py; the command, baseline_command.py; the section, baseline.py.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from techval.core import yamlfile
from techval.core.errors import CONFORMANCE, HARNESS_ERROR
from techval.core.paths import project_root

FILE = "baseline.yaml"
CHOOSE = "TECHVAL_BASELINE"  # the file a run uses, when not the project's (--baseline PATH)
KINDS = (CONFORMANCE, HARNESS_ERROR)  # could-not-run is never known: the environment is down
ENTRY_KEYS = ("scenario", "parameters", "kind", "reason", "expires")
HEADER = """\
# Known failures (techval baseline): a run whose only failures are listed here, unexpired and
# of the same kind, exits 0 and says "N known failures (baseline)". Written by
# `techval baseline` from reports/verdict.json; review it like code. Entries by environment;
# a scenario is its name and parameters as verdict.json shows them.
"""


class BaselineError(ValueError):
    """The baseline file is not what `techval baseline` writes: names the file, entry, key."""


Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Entry:
    scenario: str
    kind: str
    reason: str
    expires: date
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return key_of(self.scenario, self.parameters)

    @property
    def title(self) -> str:
        return title_of(self.scenario, self.parameters)

    def as_yaml(self) -> dict[str, Any]:
        document: dict[str, Any] = {"scenario": self.scenario}
        if self.parameters:
            document["parameters"] = dict(self.parameters)
        return document | {"kind": self.kind, "reason": self.reason, "expires": self.expires}

    def as_document(self) -> dict[str, Any]:
        return self.as_yaml() | {"parameters": dict(self.parameters), "expires": str(self.expires)}


def key_of(name: str, parameters: Mapping[str, Any]) -> Key:
    return name, tuple(sorted((str(k), str(v)) for k, v in parameters.items()))


def title_of(name: str, parameters: Mapping[str, Any]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in parameters.items())
    return name + (f" [{params}]" if params else "")


def path_of(chosen: str | Path | None = None) -> Path:
    """The baseline file: `chosen`, else TECHVAL_BASELINE, else baseline.yaml at the root."""
    chosen = chosen or os.environ.get(CHOOSE)
    return Path(chosen) if chosen else project_root() / FILE


def shown(path: Path) -> str:
    """The file as the evidence names it: relative to the project, never a machine path."""
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(project_root().resolve()).as_posix()
    return path.name


def load(path: Path, name: str | None = None) -> dict[str, list[Entry]]:
    """The entries by environment name; {} when there is no file. BaselineError (naming the
    file as `name`, by default its path) otherwise: a FIFO or a device too, refused unread."""
    if not path.exists():
        return {}
    try:
        return _load(path)
    except BaselineError as exc:
        raise BaselineError(f"{name or path}: {exc}") from None


class _NoAliases(yaml.SafeDumper):
    """Each entry's expiry written out: with aliases, editing one date would change all."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _load(path: Path) -> dict[str, list[Entry]]:
    try:
        document = yamlfile.read(path)
    except yamlfile.Unreadable as exc:
        raise BaselineError(str(exc)) from None
    if document is None:
        return {}
    if not isinstance(document, dict) or set(document) - {"environments"}:
        raise BaselineError("expected one key, environments (by environment name)")
    environments = document.get("environments") or {}
    if not isinstance(environments, dict):
        raise BaselineError("environments: expected entries by environment name")
    return {
        str(name): _entries(f"environments.{name}", entries)
        for name, entries in environments.items()
    }


def check(chosen: str | Path | None = None) -> Path:
    """Before a run or a merge: the baseline file, read; BaselineError when it is bad."""
    path = path_of(chosen)
    load(path)
    return path


def _entries(where: str, entries: Any) -> list[Entry]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise BaselineError(f"{where}: expected a list of entries")
    found: list[Entry] = []
    seen: set[Key] = set()
    for number, item in enumerate(entries):
        entry = _entry(f"{where}[{number}]", item)
        if entry.key in seen:
            raise BaselineError(f"{where}[{number}] ({entry.title}): listed twice")
        seen.add(entry.key)
        found.append(entry)
    return found


def _entry(where: str, item: Any) -> Entry:
    if not isinstance(item, dict):
        raise BaselineError(f"{where}: expected a mapping with {', '.join(ENTRY_KEYS)}")
    name = item.get("scenario")
    label = f"{where} ({name})" if isinstance(name, str) and name else where

    def bad(key: str, problem: str) -> BaselineError:
        return BaselineError(f"{label}: {key}: {problem}")

    for key in item:
        if key not in ENTRY_KEYS:
            raise bad(str(key), f"unknown key (an entry has {', '.join(ENTRY_KEYS)})")
    for key in ("scenario", "kind", "reason", "expires"):
        if item.get(key) in (None, ""):
            raise bad(key, "missing")
    if not isinstance(name, str):
        raise bad("scenario", "expected the scenario's name as verdict.json shows it")
    parameters = item.get("parameters") or {}
    if not isinstance(parameters, dict) or any(
        isinstance(v, dict | list) for v in parameters.values()
    ):
        raise bad("parameters", "expected a mapping of parameter names to values")
    if item["kind"] not in KINDS:
        raise bad("kind", f"{item['kind']!r}: expected one of {', '.join(KINDS)}")
    if not isinstance(item["reason"], str):
        raise bad("reason", "expected a line of text")
    return Entry(
        name,
        item["kind"],
        item["reason"],
        _date(item["expires"], bad),
        {str(k): str(v) for k, v in parameters.items()},
    )


def _date(value: Any, bad: Callable[[str, str], BaselineError]) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise bad("expires", f"{value!r}: expected a date, YYYY-MM-DD")


def dump(environments: Mapping[str, list[Entry]]) -> str:
    """The file's text for these entries by environment, as `techval baseline` writes it."""
    document = {
        "environments": {
            name: [entry.as_yaml() for entry in listed] for name, listed in environments.items()
        }
    }
    return HEADER + yaml.dump(
        document, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=100
    )
