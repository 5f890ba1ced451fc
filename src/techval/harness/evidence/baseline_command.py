"""`techval baseline`: the failures of reports/verdict.json become the known failures of its
environment in the baseline file (baseline_file.py), each until an expiry date (30 days
unless --days)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from techval.core.errors import CouldNotRun
from techval.harness.evidence.baseline_file import KINDS, Entry, Key, dump, key_of, load, path_of
from techval.harness.evidence.baseline_match import failed
from techval.harness.evidence.outcomes import PASSED, counted, first_line
from techval.harness.evidence.verdict import read as read_verdict
from techval.harness.evidence.verdict import scenarios_of

DEFAULT_DAYS = 30
REASON_LIMIT = 160


def _read(reports: Path) -> dict[str, Any]:
    result = read_verdict(reports / "verdict.json")
    if result is None:
        raise CouldNotRun(f"no {reports / 'verdict.json'}: run `techval run` first")
    if result.get("interrupted"):
        raise CouldNotRun(
            f"{reports / 'verdict.json'}: the run was interrupted: run the suite to its end first"
        )
    return result


def write(
    reports: Path,
    chosen: str | Path | None = None,
    *,
    days: int = DEFAULT_DAYS,
    today: date | None = None,
) -> str:
    """Entries of scenarios that did not run (or did not end passed or failed) are kept, and
    an entry that stays keeps its reason (a ticket reference, say). The line to print;
    CouldNotRun or BaselineError when it cannot."""
    if days < 1:
        raise CouldNotRun(f"--days {days}: give 1 or more")
    path = path_of(chosen)
    environments = load(path)
    result = _read(reports)
    environment = str(result.get("environment", {}).get("environment", ""))
    before = {entry.key: entry for entry in environments.get(environment, [])}
    expires = (today or datetime.now(UTC).date()) + timedelta(days=days)
    entries: list[Entry] = []
    decided: set[Key] = set()  # scenarios that ended passed or failed in this run
    for scenario in scenarios_of(result):
        key = key_of(scenario["name"], scenario["parameters"])
        status, kind = scenario.get("status"), str(scenario.get("kind"))
        if status == PASSED or failed(status, kind):
            decided.add(key)
        if not failed(status, kind) or kind not in KINDS or any(e.key == key for e in entries):
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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(environments), encoding="utf-8")
    kept = len(entries) - written
    line = f"{path}: {counted(written, 'known failure')} of {environment}"
    line += f", until {expires}" if written else ""
    line += f"; {kept} entr{'y' if kept == 1 else 'ies'} of scenarios not run kept" if kept else ""
    return line + "; review and commit it"
