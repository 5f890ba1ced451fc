"""The catalogue of the Redox and Carequality requirements the harness checks
(fixtures/requirements.yaml): each with its ID, the requirement in one line, its source page,
its level (SHALL fails, SHOULD warns), the scenarios that verify it and the code that checks it,
and (optional key `api`) the Redox API it is a rule of: `both` (the default), `data_model` or
`fhir`; in a run of the other API it does not apply. A Data Model rule may still apply to some
scenarios of a FHIR run (optional key `fhir_scenarios`: step 4's pushes stay Data Model
messages under `api: fhir`); there those scenarios verify it, and no others.

`load` reads and checks the catalogue's shape; a mistake is one line naming the entry and the
key. `Requirement.covers` tells whether a scenario that ran (its name as the verdict has it,
and its parameters) is one of the requirement's: a Scenario Outline is named as in the
feature (`Push the visit summary of an <kind> visit`) and covers each of its examples.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from techval.core import yamlfile
from techval.core.paths import project_root

CATALOGUE = Path("fixtures/requirements.yaml")
SHALL, SHOULD = "SHALL", "SHOULD"
LEVELS = (SHALL, SHOULD)
ALL = "all"  # `scenarios: all`: every scenario verifies it
KEYS = ("id", "requirement", "source", "level", "scenarios", "checks")
OPTIONAL = ("api", "fhir_scenarios")
# The API a requirement is a rule of: the values of `api:` in an environment file, or both.
BOTH, DATA_MODEL, FHIR = "both", "data_model", "fhir"
SCOPES = (BOTH, DATA_MODEL, FHIR)
ID = re.compile(r"^[A-Z]{2,4}-[0-9]{2}$")
DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class CatalogueError(ValueError):
    """The catalogue is not what the loader expects: one line naming the entry and the key."""


@dataclass(frozen=True)
class Requirement:
    id: str
    requirement: str
    source: str
    level: str
    scenarios: tuple[str, ...]  # names as in features/*.feature; (ALL,) for every scenario
    checks: tuple[str, ...]  # dotted names of the functions and classes that check it
    api: str = BOTH  # the API it is a rule of (SCOPES)
    # A Data Model rule's scenarios that still verify it in a FHIR run (the pushes of step 4)
    fhir_scenarios: tuple[str, ...] = ()

    def applies_to(self, api: str) -> bool:
        """Whether it is checked in a run of the API a run speaks (`data_model` or `fhir`): a
        rule of that API, or a Data Model rule that some scenarios of a FHIR run still keep."""
        return self.api in (BOTH, api) or (api == FHIR and bool(self.fhir_scenarios))

    def scenarios_for(self, api: str | None) -> tuple[str, ...]:
        """The scenarios that verify it in a run of `api` (None: its own API's)."""
        if api is None or self.api in (BOTH, api):
            return self.scenarios
        return self.fhir_scenarios if api == FHIR else ()

    @property
    def every_scenario(self) -> bool:
        return self.scenarios == (ALL,)

    def covers(
        self, name: str, parameters: Mapping[str, str] | None = None, api: str | None = None
    ) -> bool:
        """Whether the scenario `name` (with the values of its outline's `parameters`) is one
        that verifies this requirement (in a run of `api`: scenarios_for)."""
        scenarios = self.scenarios_for(api)
        if scenarios == (ALL,):
            return True
        for wanted in scenarios:
            for key, value in (parameters or {}).items():
                wanted = wanted.replace(f"<{key}>", str(value))
            if wanted == name:
                return True
        return False


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{where}: {key}: must be a non-empty string")
    if "\n" in value.strip():
        raise CatalogueError(f"{where}: {key}: must be one line")
    return value.strip()


def _names(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key)
    if key == "scenarios" and value == ALL:
        return (ALL,)
    if not isinstance(value, list) or not value:
        hint = f" (or {ALL!r})" if key == "scenarios" else ""
        raise CatalogueError(f"{where}: {key}: must be a non-empty list{hint}")
    names = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise CatalogueError(f"{where}: {key}[{index}]: must be a non-empty string")
        if key == "checks" and not DOTTED.match(item):
            raise CatalogueError(f"{where}: {key}[{index}]: {item!r} is not a dotted name")
        names.append(item.strip())
    if len(set(names)) != len(names):
        raise CatalogueError(f"{where}: {key}: lists a name twice")
    return tuple(names)


def _requirement(entry: Any, index: int, seen: set[str], origin: str) -> Requirement:
    where = f"{origin}: requirements[{index}]"
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where}: must be a mapping with keys {', '.join(KEYS)}")
    identifier = entry.get("id")
    if not isinstance(identifier, str) or not ID.match(identifier):
        raise CatalogueError(f"{where}: id: must look like ORG-01 (letters, '-', two digits)")
    where = f"{origin}: {identifier}"
    if identifier in seen:
        raise CatalogueError(f"{where}: id: used by another entry")
    seen.add(identifier)
    unknown = sorted(set(entry) - set(KEYS) - set(OPTIONAL))
    if unknown:
        raise CatalogueError(f"{where}: {unknown[0]}: not a key of a requirement")
    missing = [key for key in KEYS if key not in entry]
    if missing:
        raise CatalogueError(f"{where}: {missing[0]}: missing")
    level = entry["level"]
    if level not in LEVELS:
        raise CatalogueError(f"{where}: level: must be one of {', '.join(LEVELS)}")
    api = entry.get("api", BOTH)
    if api not in SCOPES:
        raise CatalogueError(f"{where}: api: must be one of {', '.join(SCOPES)}")
    fhir_scenarios: tuple[str, ...] = ()
    if "fhir_scenarios" in entry:
        if api != DATA_MODEL:
            raise CatalogueError(f"{where}: fhir_scenarios: only for api: {DATA_MODEL}")
        fhir_scenarios = _names(entry, "fhir_scenarios", where)
        if fhir_scenarios == (ALL,) or ALL in fhir_scenarios:
            raise CatalogueError(f"{where}: fhir_scenarios: must name scenarios, not {ALL!r}")
    return Requirement(
        id=identifier,
        requirement=_text(entry, "requirement", where),
        source=_text(entry, "source", where),
        level=level,
        scenarios=_names(entry, "scenarios", where),
        checks=_names(entry, "checks", where),
        api=api,
        fhir_scenarios=fhir_scenarios,
    )


def parse(document: Any, origin: str = str(CATALOGUE)) -> tuple[Requirement, ...]:
    """The requirements of a catalogue document; CatalogueError naming the entry and key."""
    entries = document.get("requirements") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{origin}: requirements: must be a non-empty list")
    seen: set[str] = set()
    return tuple(_requirement(entry, i, seen, origin) for i, entry in enumerate(entries))


def load(path: Path | None = None) -> tuple[Requirement, ...]:
    """The project's catalogue (or the one at `path`); CatalogueError when it is broken."""
    return _load(path or project_root() / CATALOGUE)


@functools.cache
def _load(path: Path) -> tuple[Requirement, ...]:
    try:
        document = yamlfile.read(path)
    except yamlfile.Unreadable as exc:
        raise CatalogueError(f"{path.name}: {exc}") from None
    return parse(document, path.name)


def resolve(dotted: str) -> Any:
    """The object a check's dotted name stands for: the longest importable module, then its
    attributes; CatalogueError when nothing answers to the name."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                raise CatalogueError(f"{dotted}: {'.'.join(parts[:cut])} has no {attribute!r}")
            found = getattr(found, attribute)
        return found
    raise CatalogueError(f"{dotted}: no module of that name imports")
