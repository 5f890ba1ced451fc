"""Requirement traceability: each requirement of the catalogue (fixtures/requirements.yaml)
with its verdict in this run and the Redox log IDs of the exchanges that showed it.

Per requirement, from the scenarios linked to it that ran (a scenario not applicable with the
test data ran but showed nothing):

* failed (SHALL): a linked scenario failed or broke with a conformance kind;
* warning (SHOULD): a finding was recorded for it (`Reporter.finding`); never a failure;
* passed: every linked scenario that ran passed (and, for SHOULD, no finding);
* incomplete: linked scenarios ran, but not all passed and none failed a conformance check
  (could not run, harness error, not applicable; or a SHOULD whose scenario failed);
* not_run: no linked scenario ran in this run (e.g. `--tags`): an empty row in the CSV;
* not_applicable: a rule of the other Redox API than the run's (its `api` in the catalogue;
  the run's API is the environment block's `api`): never passed nor failed.

A failed scenario fails the SHALL requirements its failing check declares (`@verifies`, carried
by the error as `requirements`), or every SHALL linked to it when that check declares none of
the run's API; its message (in
the verdict and the report) says which check. Writes reports/requirements.csv; puts
`requirements` and `warnings` into the verdict; the exit code still follows only the
scenarios' kinds.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from techval.core.errors import CONFORMANCE, TEST_DATA
from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.decide import Decided
from techval.harness.evidence.outcomes import BROKEN, FAILED, PASSED, ScenarioOutcome
from techval.harness.evidence.section import Attachment
from techval.harness.evidence.verdict import Verdict
from techval.validation import requirements
from techval.validation.requirements import DATA_MODEL, SHOULD, CatalogueError, Requirement

CSV_FILE = "requirements.csv"
COLUMNS = ("id", "level", "requirement", "source", "verdict", "scenarios", "redox_log_ids")
WARNING, INCOMPLETE, NOT_RUN = "warning", "incomplete", "not_run"
# a rule of the other API ("does not apply to this API"); its value is the CSV's and the
# verdict's, where it has always been written so; NOT_APPLICABLE (verdict.py) is a scenario
# skipped because the test data does not fit
OTHER_API = "not_applicable"
ICONS = {
    PASSED: "✅",
    FAILED: "❌",
    WARNING: "⚠️",
    INCOMPLETE: "❔",
    NOT_RUN: "",
    OTHER_API: "⊘",
}
SHOWN = {OTHER_API: f"{OTHER_API} (does not apply to this API)"}
SHOWN_LOG_IDS = 3  # per row in the Markdown table; the CSV lists every one


def _ran(outcome: ScenarioOutcome) -> bool:
    return outcome.status in (PASSED, FAILED, BROKEN) or outcome.kind == TEST_DATA


def _verdict(
    requirement: Requirement,
    ran: Sequence[ScenarioOutcome],
    findings: int,
    pinned: Callable[[ScenarioOutcome], bool],
) -> str:
    """A failed scenario fails the requirement whose check raised it; when the raising check
    belongs to no requirement (or is unknown), every SHALL the scenario verifies fails."""
    if requirement.level == SHOULD and findings:
        return WARNING
    if not ran:
        return NOT_RUN
    failed = [o for o in ran if o.status in (FAILED, BROKEN) and o.kind == CONFORMANCE]
    mine = [o for o in failed if not pinned(o) or requirement.id in o.requirements]
    if mine and requirement.level != SHOULD:
        return FAILED
    return PASSED if all(o.status == PASSED for o in ran) else INCOMPLETE


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def run_api(found: Assembled) -> str:
    """The Redox API the run spoke, as its environment block names it; the Data Model for a
    run recorded before the block named one."""
    return found.environment.get("api") or DATA_MODEL


def evaluate(
    catalogue: Sequence[Requirement], found: Assembled
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of the requirements table, and the warnings (every finding), in the verdict's
    words: scenarios by their titles. A requirement of the other API than the run's is
    not applicable, whatever its scenarios did."""
    api = run_api(found)
    applicable = [r for r in catalogue if r.applies_to(api)]
    by_node = {o.nodeid: o for o in found.outcomes}
    warnings: list[dict[str, Any]] = []
    for event in found.findings:
        outcome = by_node.get(str(event.scenario))
        warnings.append(
            {
                "requirement": event.requirement,
                "scenario": outcome.title if outcome else None,
                "message": event.message,
            }
        )
    levels = {r.id: r.level for r in catalogue}
    for warning in warnings:
        warning["level"] = levels.get(warning["requirement"])

    def pinned(outcome: ScenarioOutcome) -> bool:
        """Whether the check that failed `outcome` declares a requirement the scenario
        verifies (core.verifies): then only that requirement fails."""
        return any(
            r.id in outcome.requirements and r.covers(outcome.name, outcome.parameters)
            for r in applicable
        )

    rows = []
    for requirement in catalogue:
        mine = [w for w in warnings if w["requirement"] == requirement.id]
        if requirement.applies_to(api):
            linked = [o for o in found.outcomes if requirement.covers(o.name, o.parameters)]
            ran = [o for o in linked if _ran(o)]
            verdict = _verdict(requirement, ran, len(mine), pinned)
            left_out = any(requirement.covers(o.name, o.parameters) for o in found.not_selected)
            if verdict == PASSED and left_out:  # a scenario verifying it was not selected
                verdict = INCOMPLETE
        else:  # its scenarios ran, but they showed nothing of another API's rule
            ran, verdict = [], OTHER_API
        rows.append(
            {
                "id": requirement.id,
                "level": requirement.level,
                "api": requirement.api,
                "requirement": requirement.requirement,
                "source": requirement.source,
                "verdict": verdict,
                "scenarios": list(requirement.scenarios),
                "ran": [{"scenario": o.title, "status": o.status, "kind": o.kind} for o in ran],
                "redox_log_ids": _unique([i for o in ran for i in o.log_ids]),
                "findings": [w["message"] for w in mine],
            }
        )
    return rows, warnings


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """One line per requirement; one not checked in this run has no verdict, scenarios run or
    log IDs (an empty row), so the file always lists the whole catalogue."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row in rows:
            checked = row["verdict"] != NOT_RUN
            writer.writerow(
                [
                    row["id"],
                    row["level"],
                    row["requirement"],
                    row["source"],
                    row["verdict"] if checked else "",
                    "; ".join(r["scenario"] for r in row["ran"]) if checked else "",
                    " ".join(row["redox_log_ids"]),
                ]
            )


def counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    found = dict.fromkeys((PASSED, FAILED, WARNING, INCOMPLETE, NOT_RUN, OTHER_API), 0)
    for row in rows:
        found[row["verdict"]] = found.get(row["verdict"], 0) + 1
    return found


def _cell(text: str) -> str:
    """Text in a Markdown table cell: one line, no column break, no HTML tag (`<token>`)."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _log_ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:SHOWN_LOG_IDS])
    more = len(ids) - SHOWN_LOG_IDS
    return shown + (f" (+{more} more)" if more > 0 else "")


def markdown(result: Mapping[str, Any]) -> list[str]:
    """The requirements table, then the warnings (SHOULD findings), as Markdown lines."""
    rows = result.get("requirements") or []
    lines = [
        "| Requirement | Level | Verdict | Scenarios run | Redox log IDs |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        verdict = row["verdict"]
        words = SHOWN.get(verdict, verdict)
        shown = f"{ICONS.get(verdict, '')} {words}".strip() if verdict != NOT_RUN else ""
        lines.append(
            f"| {row['id']}: {_cell(row['requirement'])} | {row['level']} | {shown} | "
            f"{len(row['ran']) or ''} | {_cell(_log_ids(row['redox_log_ids']))} |"
        )
    warnings = result.get("warnings") or []
    if warnings:
        lines += ["", "Warnings (SHOULD: recommendations not followed; they do not fail the run):"]
        lines.append("")
        for warning in warnings:
            where = f" ({warning['scenario']})" if warning.get("scenario") else ""
            lines.append(f"- ⚠️ {warning['requirement']}{where}: {_cell(warning['message'])}")
    return lines


def console_line(rows: Sequence[Mapping[str, Any]]) -> str:
    found = counts(rows)
    warnings = found[WARNING]
    line = (
        f"Requirements: {found[PASSED]} passed, {found[FAILED]} failed, "
        f"{warnings} warning{'' if warnings == 1 else 's'}, "
        f"{found[NOT_RUN]} not checked in this run"
    )
    if found[INCOMPLETE]:
        line += f", {found[INCOMPLETE]} incomplete"
    if found[OTHER_API]:
        line += f", {found[OTHER_API]} not applicable to this API"
    return line + f" ({CSV_FILE})"


class RequirementsSection:
    """The `Section` of requirement traceability (techval.harness.evidence.sections)."""

    reads: tuple[str, ...] = ()
    adds = ("requirements", "warnings", "requirements_error")

    def apply(
        self, verdict: Verdict, earlier: Mapping[str, Any], decided: Decided, reports: Path
    ) -> dict[str, Any]:
        try:
            catalogue = requirements.load()
        except CatalogueError as exc:  # the project's own data is broken: say so, once
            return {"requirements": [], "warnings": [], "requirements_error": str(exc)}
        rows, warnings = evaluate(catalogue, decided.found)
        write_csv(reports / CSV_FILE, rows)
        return {"requirements": rows, "warnings": warnings}

    def summary(self, result: Mapping[str, Any]) -> list[str]:
        if not result.get("requirements"):
            return []
        return ["", "## Requirements", "", *markdown(result)]

    def console(self, result: Mapping[str, Any], reports: Path) -> list[str]:
        if result.get("requirements_error"):
            return [f"Requirements: not evaluated: {result['requirements_error']}"]
        rows = result.get("requirements")
        return [console_line(rows)] if rows else []

    def attachments(self, result: Mapping[str, Any]) -> list[Attachment]:
        if not result.get("requirements"):
            return []
        text = "\n".join(["# Requirements", "", *markdown(result)]) + "\n"
        return [Attachment("Requirements", text)]


SECTION = RequirementsSection()
