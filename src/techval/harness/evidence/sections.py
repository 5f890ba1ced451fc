"""What a run's evidence holds besides its scenarios: each section (known failures, response
drift, requirements, reproduction scripts) looks at the assembled events and the verdict,
adds its own key to the verdict, may write its own files under reports/, and says what the
summary, the console and the report show of it.

A section is a module-level object with the `Section` methods, listed in `SECTIONS` in the
order they apply (an earlier one's verdict key is there for a later one). The same sections
apply after a run, and after `techval merge` to the merged events.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from techval.harness.evidence import baseline, drift, selection
from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.inputs import Inputs
from techval.harness.evidence.reproduce import REPRODUCTION
from techval.harness.evidence.requirements_section import SECTION as REQUIREMENTS
from techval.harness.evidence.section import Attachment, Section

SECTIONS: list[Section] = [
    selection.SECTION,
    baseline.SECTION,
    drift.SECTION,
    REQUIREMENTS,
    REPRODUCTION,
]


def apply_all(result: dict[str, Any], found: Assembled, reports: Path, inputs: Inputs) -> None:
    for section in SECTIONS:
        section.apply(result, found, reports, inputs)


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    return [line for section in SECTIONS for line in section.summary(result)]


def console_lines(result: Mapping[str, Any], reports: Path = Path("reports")) -> list[str]:
    return [line for section in SECTIONS for line in section.console(result, reports)]


def attachments(result: Mapping[str, Any]) -> list[Attachment]:
    return [item for section in SECTIONS for item in section.attachments(result)]
