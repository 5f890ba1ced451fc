"""Known failures: baseline.yaml lists failures that are known and reported (to Redox, say),
each until an expiry date, so that the gate stays green for them and red for anything new.

The file lives at the project root beside environments/ (committed and reviewed like code;
`--baseline PATH` or TECHVAL_BASELINE choose another), one list of entries per environment
name. A scenario is named as the verdict shows it: its name with its parameters, never a
pytest node ID. `techval baseline` writes the current failures of reports/verdict.json into
it, each with its failure kind, a short reason and an expiry date (30 days unless --days).

After a run every entry of the run's environment is matched to the verdict's scenarios:
known (failed as baselined, unexpired: not counted in the exit code, still failed in its
step), expired or changed (a different failure kind: both counted as today), stale (the
scenario now passes: the entry can go). Scenarios that did not run leave their entry alone.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from techval.core import yamlfile
from techval.core.errors import CONFORMANCE, COULD_NOT_RUN, HARNESS_ERROR, CouldNotRun
from techval.core.paths import project_root
from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.inputs import Inputs
from techval.harness.evidence.outcomes import BROKEN, FAILED, PASSED, first_line
from techval.harness.evidence.section import Attachment
from techval.harness.evidence.verdict import KNOWN_FAILURE
from techval.harness.evidence.verdict import read as read_verdict

FILE = "baseline.yaml"
CHOOSE = "TECHVAL_BASELINE"  # the file a run uses, when not the project's (--baseline PATH)
DEFAULT_DAYS = 30
KINDS = (CONFORMANCE, HARNESS_ERROR)  # could-not-run is never known: the environment is down
REASON_LIMIT = 160
STATES = ("known", "expired", "changed", "stale")
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


def run_date(result: Mapping[str, Any]) -> date:
    """The day the run finished (UTC), against which expiry dates are read."""
    with contextlib.suppress(ValueError, TypeError):
        return date.fromisoformat(str(result.get("finished_at", ""))[:10])
    return datetime.now(UTC).date()


def _scenarios(result: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for step in result.get("steps", []):
        yield from step.get("scenarios", [])


def _failed(scenario: Mapping[str, Any]) -> bool:
    return scenario.get("status") in (FAILED, BROKEN) and scenario.get("kind") != COULD_NOT_RUN


def match(result: dict[str, Any], entries: list[Entry], today: date) -> dict[str, list[Any]]:
    """Each entry against the verdict's scenarios, by state; marks each matched scenario's
    `baseline` (verdict.exit_code leaves out the known ones)."""
    states: dict[str, list[Any]] = {state: [] for state in STATES}
    by_key: dict[Key, list[dict[str, Any]]] = {}
    for scenario in _scenarios(result):
        by_key.setdefault(key_of(scenario["name"], scenario["parameters"]), []).append(scenario)
    for entry in entries:
        for scenario in by_key.get(entry.key, []):
            state = None
            if _failed(scenario):
                state = (
                    "changed"
                    if scenario.get("kind") != entry.kind
                    else "expired"
                    if entry.expires < today
                    else KNOWN_FAILURE
                )
            elif scenario.get("status") == PASSED:
                state = "stale"
            if state is None:  # not run, not applicable or could not run: nothing to say
                continue
            scenario["baseline"] = state
            item = entry.as_document()
            if state == "changed":
                item |= {"now": scenario.get("kind"), "message": scenario.get("message", "")}
            states[state].append(item)
    return states


class KnownFailures:
    """The section: `baseline` in the verdict, its lines in the console and the summary."""

    def apply(
        self, result: dict[str, Any], found: Assembled, reports: Path, inputs: Inputs
    ) -> None:
        path = inputs.baseline
        environment = str(result.get("environment", {}).get("environment", ""))
        state: dict[str, Any] = {"file": shown(path), "environment": environment, "entries": 0}
        try:
            entries = load(path, shown(path)).get(environment, [])
        except BaselineError as exc:  # checked before the run; changed since
            result["baseline"] = state | {"error": str(exc)} | {s: [] for s in STATES}
            return
        state["entries"] = len(entries)
        result["baseline"] = state | match(result, entries, run_date(result))

    def summary(self, result: Mapping[str, Any]) -> list[str]:
        state = result.get("baseline") or {}
        if state.get("error"):
            return ["", f"Baseline not applied: {state['error']}"]
        if not any(state.get(s) for s in STATES):
            return []
        return ["", "## Known failures (baseline)", "", *_table(state)]

    def console(self, result: Mapping[str, Any], reports: Path) -> list[str]:
        state = result.get("baseline") or {}
        if state.get("error"):
            return [f"Baseline not applied: {state['error']}"]
        lines = []
        known, expired = state.get("known") or [], state.get("expired") or []
        changed, stale = state.get("changed") or [], state.get("stale") or []
        if known:
            listed = "; ".join(f"{_title(e)} ({e['kind']}, until {e['expires']})" for e in known)
            lines.append(f"{_count(len(known), 'known failure')} (baseline): {listed}")
        if expired:
            listed = "; ".join(f"{_title(e)} (expired {e['expires']})" for e in expired)
            lines.append(
                f"{_count(len(expired), 'baseline entry', 'baseline entries')} expired, counted "
                f"as failing: {listed}; renew with `techval baseline` or fix"
            )
        if changed:
            listed = "; ".join(
                f"{_title(e)} (baseline {e['kind']}, now {e['now']})" for e in changed
            )
            lines.append(
                f"{_count(len(changed), 'baselined failure')} changed kind, counted: {listed}"
            )
        if stale:
            listed = "; ".join(_title(e) for e in stale)
            lines.append(
                f"{_count(len(stale), 'baselined scenario')} now passing: {listed}; remove "
                f"{'its entry' if len(stale) == 1 else 'their entries'} from {state['file']} "
                "(`techval baseline` rewrites it)"
            )
        return lines

    def attachments(self, result: Mapping[str, Any]) -> list[Attachment]:
        state = result.get("baseline") or {}
        if not any(state.get(s) for s in STATES):
            return []
        text = "\n".join(["# Known failures (baseline)", "", *_table(state)]) + "\n"
        return [Attachment("Known failures (baseline)", text)]


SECTION = KnownFailures()

MEANING = {
    "known": "known: not counted",
    "expired": "expired: counted",
    "changed": "kind changed: counted",
    "stale": "now passes: remove the entry",
}


def _table(state: Mapping[str, Any]) -> list[str]:
    lines = [
        f"`{state['file']}`, environment {state['environment']}: "
        + ", ".join(f"{len(state.get(s) or [])} {s}" for s in STATES),
        "",
        "| Scenario | State | Kind | Reason | Expires |",
        "|---|---|---|---|---|",
    ]
    for name in STATES:
        for entry in state.get(name) or []:
            kind = entry["kind"] + (f" (now {entry['now']})" if entry.get("now") else "")
            lines.append(
                f"| {_cell(_title(entry))} | {MEANING[name]} | {kind} | {_cell(entry['reason'])} "
                f"| {entry['expires']} |"
            )
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _title(entry: Mapping[str, Any]) -> str:
    return title_of(entry["scenario"], entry.get("parameters") or {})


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def write(
    reports: Path,
    chosen: str | Path | None = None,
    *,
    days: int = DEFAULT_DAYS,
    today: date | None = None,
) -> str:
    """`techval baseline`: the failures of reports/verdict.json become the entries of its
    environment, each until today + `days`; entries of scenarios that did not run (or did not
    end passed or failed) are kept, and an entry that stays keeps its reason (a ticket
    reference, say). The line to print; CouldNotRun or BaselineError when it cannot."""
    if days < 1:
        raise CouldNotRun(f"--days {days}: give 1 or more")
    path = path_of(chosen)
    environments = load(path)
    result = read_verdict(reports / "verdict.json")
    if result is None:
        raise CouldNotRun(f"no {reports / 'verdict.json'}: run `techval run` first")
    if result.get("interrupted"):
        raise CouldNotRun(
            f"{reports / 'verdict.json'}: the run was interrupted: run the suite to its end first"
        )
    environment = str(result.get("environment", {}).get("environment", ""))
    before = {entry.key: entry for entry in environments.get(environment, [])}
    expires = (today or datetime.now(UTC).date()) + timedelta(days=days)
    entries: list[Entry] = []
    decided: set[Key] = set()  # scenarios that ended passed or failed in this run
    for scenario in _scenarios(result):
        key = key_of(scenario["name"], scenario["parameters"])
        if scenario.get("status") == PASSED or _failed(scenario):
            decided.add(key)
        kind = str(scenario.get("kind"))
        if not _failed(scenario) or kind not in KINDS or any(e.key == key for e in entries):
            continue
        earlier = before.get(key)
        reason = (
            earlier.reason
            if earlier is not None and earlier.kind == kind
            else first_line(str(scenario.get("message") or kind), REASON_LIMIT)
        )
        parameters = {str(k): str(v) for k, v in scenario["parameters"].items()}
        entries.append(Entry(str(scenario["name"]), kind, reason, expires, parameters))
    written = len(entries)
    entries += [entry for key, entry in before.items() if key not in decided]
    environments[environment] = entries
    document = {
        "environments": {
            name: [entry.as_yaml() for entry in listed] for name, listed in environments.items()
        }
    }
    text = HEADER + yaml.dump(
        document, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=100
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    kept = len(entries) - written
    line = f"{path}: {_count(written, 'known failure')} of {environment}"
    line += f", until {expires}" if written else ""
    line += f"; {kept} entr{'y' if kept == 1 else 'ies'} of scenarios not run kept" if kept else ""
    return line + "; review and commit it"
