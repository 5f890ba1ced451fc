"""The selection section: a run of part of the suite (--tags, -k, --shard) says so in the
console, the summary and the report, so that no one reads a subset as a passed validation
(its step verdicts are already incomplete or not_selected: verdict.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from techval.harness.evidence.decide import Decided
from techval.harness.evidence.section import Attachment
from techval.harness.evidence.verdict import Verdict


def not_selected_line(result: Mapping[str, Any]) -> str:
    counts = result["counts"]
    suite = counts["total"] + counts["not_selected"]
    return (
        f"{counts['not_selected']} of the suite's {suite} scenarios were not selected "
        "(--tags, -k or --shard): a subset is not a passed validation"
    )


class Selection:
    reads: tuple[str, ...] = ()
    adds: tuple[str, ...] = ()

    def apply(
        self, verdict: Verdict, earlier: Mapping[str, Any], decided: Decided, reports: Path
    ) -> dict[str, Any]:
        """Nothing to add: the verdict counts and lists what was not selected."""
        return {}

    def summary(self, result: Mapping[str, Any]) -> list[str]:
        return ["", f"**Subset.** {not_selected_line(result)}."] if _subset(result) else []

    def console(self, result: Mapping[str, Any], reports: Path) -> list[str]:
        return [not_selected_line(result)] if _subset(result) else []

    def attachments(self, result: Mapping[str, Any]) -> list[Attachment]:
        if not _subset(result):
            return []
        left = [f"- {name}" for step in result["steps"] for name in step["not_selected"]]
        text = "\n".join([f"# Subset: {not_selected_line(result)}", "", *left]) + "\n"
        return [Attachment("Scenarios not selected", text)]


def _subset(result: Mapping[str, Any]) -> bool:
    return bool((result.get("counts") or {}).get("not_selected"))


SECTION = Selection()
