"""What a run's evidence holds besides its scenarios: each section (the selection, known
failures, response drift, requirements, reproduction scripts) reads the decided run and the
verdict, returns its own part of the verdict, may write its own files under reports/, and
says what the summary, the console and the report show of it (section.py: `Section`).

`SECTIONS` lists them in the order they apply; `apply_all` first checks that order
(`check_order`: no section reads a key no earlier section adds, or adds one verdict.json
already has), then refuses a part with a key the section did not declare. The same sections
apply after a run, and after `techval merge` to the merged events.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from techval.harness.evidence import baseline, drift, selection
from techval.harness.evidence.decide import Decided
from techval.harness.evidence.reproduce import REPRODUCTION
from techval.harness.evidence.requirements_section import SECTION as REQUIREMENTS
from techval.harness.evidence.section import Attachment, Section
from techval.harness.evidence.verdict import VERDICT_KEYS, Verdict

SECTIONS: list[Section] = [
    selection.SECTION,
    baseline.SECTION,
    drift.SECTION,
    REQUIREMENTS,
    REPRODUCTION,
]


class SectionOrder(RuntimeError):
    """A section reads what no one before it adds, or adds what it did not declare: a
    mistake in techval, named by the section and the key."""


def _name(section: Section) -> str:
    return type(section).__module__.rsplit(".", 1)[-1]


def check_order(sections: list[Section]) -> None:
    added: set[str] = set()
    for section in sections:
        missing = [key for key in section.reads if key not in added]
        if missing:
            listed = ", ".join(missing)
            raise SectionOrder(f"{_name(section)} reads {listed}: added by none before it")
        twice = [key for key in section.adds if key in added or key in VERDICT_KEYS]
        if twice:
            raise SectionOrder(f"{_name(section)} adds {', '.join(twice)}: already there")
        added.update(section.adds)


def apply_all(
    verdict: Verdict, decided: Decided, reports: Path, sections: list[Section] = SECTIONS
) -> dict[str, Any]:
    """Each section's part of verdict.json, in their order: what follows the verdict's own."""
    check_order(sections)
    parts: dict[str, Any] = {}
    for section in sections:
        part = section.apply(verdict, MappingProxyType(parts), decided, reports)
        undeclared = [key for key in part if key not in section.adds]
        if undeclared:
            raise SectionOrder(f"{_name(section)} added {', '.join(undeclared)} undeclared")
        parts.update(part)
    return parts


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    return [line for section in SECTIONS for line in section.summary(result)]


def console_lines(result: Mapping[str, Any], reports: Path = Path("reports")) -> list[str]:
    return [line for section in SECTIONS for line in section.console(result, reports)]


def attachments(result: Mapping[str, Any]) -> list[Attachment]:
    return [item for section in SECTIONS for item in section.attachments(result)]
