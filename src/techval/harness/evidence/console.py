"""What a person reads in the terminal: one line per scenario as it ends, then a table of
the validation steps with their verdicts, what regressed, and where the evidence is."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from techval.harness.evidence.outcomes import ScenarioOutcome
from techval.harness.evidence.sections import console_lines
from techval.validation.catalogue import BY_KEY

MARKS = {"passed": "PASS", "failed": "FAIL", "broken": "ERROR", "skipped": "SKIP"}


def progress_line(outcome: ScenarioOutcome, done: int, total: int) -> str:
    step = BY_KEY.get(outcome.step or "")
    where = f"{step.label} > " if step else ""
    mark = (
        "N/A"
        if outcome.not_applicable
        else "N/O"
        if outcome.not_offered
        else MARKS.get(outcome.status or "", "SKIP")
    )
    line = f"[{done:>{len(str(total))}}/{total}] {mark:<5} "
    line += f"{where}{outcome.title} ({outcome.duration_s:.1f} s)"
    if outcome.message:
        line += f"\n{' ' * (len(str(total)) * 2 + 4)}{outcome.message}"
    return line


def table(verdict: Mapping[str, Any], reports: Path = Path("reports")) -> str:
    """The steps' verdicts and what the sections add (`reports`: where the files are)."""
    columns = ("Validation step", "Verdict", "Passed", "Failed", "Not applicable")
    left_out = verdict["counts"].get("not_selected", 0)  # a subset: one column more
    not_offered = verdict["counts"].get("not_offered", 0)  # what the API does not offer: too
    extra = ["Not offered"] if not_offered else []
    extra += ["Not selected"] if left_out else []
    rows = [(*columns, "Could not run", "Skipped", *extra)]
    for step in verdict["steps"]:
        counts = step["counts"]
        not_applicable = counts.get("not_applicable", 0)
        cannot = counts.get("could_not_run", 0)
        cannot_failed = counts.get("could_not_run_failed", 0)
        rows.append(
            (
                f"{step['number']}. {step['title']}",
                step["verdict"].replace("_", " ").upper(),
                f"{counts['passed']}/{counts['total']}",
                str(counts["failed"] + counts["broken"] - cannot_failed),
                str(not_applicable),
                str(cannot),
                str(
                    counts["skipped"]
                    - not_applicable
                    - (cannot - cannot_failed)
                    - counts.get("not_offered", 0)
                ),
                *([str(counts.get("not_offered", 0))] if not_offered else []),
                *([str(counts.get("not_selected", 0))] if left_out else []),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    counts = verdict["counts"]
    overall = verdict["verdict"].upper() + (" (interrupted)" if verdict["interrupted"] else "")
    lines.append(f"Overall: {overall}: {counts['passed']} of {counts['total']} scenarios passed")
    if not_offered:
        lines.append(
            f"{not_offered} scenario(s) not offered by this API (each names what): they neither "
            "fail nor keep a step from passing"
        )
    if counts.get("not_applicable"):
        lines.append(
            f"{counts['not_applicable']} scenario(s) not applicable with this test data: "
            "each says which test patient and key to change"
        )
    lines += console_lines(verdict, reports)
    for label, key in (
        ("the last green run", "since_last_green"),
        ("the previous run", "since_previous"),
    ):
        comparison = verdict.get(key) or {}
        if comparison.get("regressed"):
            against = comparison["against"] or {}
            lines.append(
                f"Regressed since {label} ({against.get('finished_at')}, "
                f"{against.get('git_revision')}): {', '.join(comparison['regressed'])}"
            )
            break
    return "\n".join(lines)
