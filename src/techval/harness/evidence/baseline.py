"""Known failures: baseline.yaml lists failures that are known and reported (to Redox, say),
each until an expiry date, so that the gate stays green for them and red for anything new.

The file lives at the project root beside environments/ (committed and reviewed like code;
`--baseline PATH` or TECHVAL_BASELINE choose another), one list of entries per environment
name (baseline_file.py). `techval baseline` writes the current failures of
reports/verdict.json into it (baseline_command.py). Each scenario's baseline state (known,
expired, changed, stale: baseline_match.py) is decided with its outcome (decide.py), before
the verdict is built; this section shows it: `baseline` in the verdict, its lines in the
console and the summary, its attachment in the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from techval.harness.evidence.baseline_file import title_of
from techval.harness.evidence.baseline_match import STATES
from techval.harness.evidence.decide import Decided
from techval.harness.evidence.outcomes import counted
from techval.harness.evidence.section import Attachment
from techval.harness.evidence.verdict import Verdict

KEY = "baseline"


class KnownFailures:
    """The section: `baseline` in the verdict, its lines in the console and the summary."""

    reads: tuple[str, ...] = ()
    adds = (KEY,)

    def apply(
        self, verdict: Verdict, earlier: Mapping[str, Any], decided: Decided, reports: Path
    ) -> dict[str, Any]:
        """What decide.py matched: the scenarios' marks are already in the verdict."""
        return {KEY: decided.baseline.as_document()}

    def summary(self, result: Mapping[str, Any]) -> list[str]:
        state = result.get(KEY) or {}
        if state.get("error"):
            return ["", f"Baseline not applied: {state['error']}"]
        if not any(state.get(s) for s in STATES):
            return []
        return ["", "## Known failures (baseline)", "", *_table(state)]

    def console(self, result: Mapping[str, Any], reports: Path) -> list[str]:
        state = result.get(KEY) or {}
        if state.get("error"):
            return [f"Baseline not applied: {state['error']}"]
        lines = []
        known, expired = state.get("known") or [], state.get("expired") or []
        changed, stale = state.get("changed") or [], state.get("stale") or []
        if known:
            listed = "; ".join(f"{_title(e)} ({e['kind']}, until {e['expires']})" for e in known)
            lines.append(f"{counted(len(known), 'known failure')} (baseline): {listed}")
        if expired:
            listed = "; ".join(f"{_title(e)} (expired {e['expires']})" for e in expired)
            lines.append(
                f"{counted(len(expired), 'baseline entry', 'baseline entries')} expired, counted "
                f"as failing: {listed}; renew with `techval baseline` or fix"
            )
        if changed:
            listed = "; ".join(
                f"{_title(e)} (baseline {e['kind']}, now {e['now']})" for e in changed
            )
            lines.append(
                f"{counted(len(changed), 'baselined failure')} changed kind, counted: {listed}"
            )
        if stale:
            listed = "; ".join(_title(e) for e in stale)
            lines.append(
                f"{counted(len(stale), 'baselined scenario')} now passing: {listed}; remove "
                f"{'its entry' if len(stale) == 1 else 'their entries'} from {state['file']} "
                "(`techval baseline` rewrites it)"
            )
        return lines

    def attachments(self, result: Mapping[str, Any]) -> list[Attachment]:
        state = result.get(KEY) or {}
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
