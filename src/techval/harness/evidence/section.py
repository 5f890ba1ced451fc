"""What every evidence section shares, and what the registry (sections.py) lists: the
`Section` protocol and the `Attachment` a section shows in the report. The section modules
import this one, never the registry, so no import runs back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.inputs import Inputs


@dataclass(frozen=True)
class Attachment:
    """A text the report shows for the whole run (Allure 3's global attachments)."""

    name: str
    text: str
    mime_type: str = "text/markdown"
    extension: str = "md"


class Section(Protocol):
    def apply(
        self, result: dict[str, Any], found: Assembled, reports: Path, inputs: Inputs
    ) -> None:
        """Add this section's key to `result` (the verdict) and write its own files."""

    def summary(self, result: Mapping[str, Any]) -> list[str]:
        """Markdown lines for summary.md (and the CI job summary); [] for nothing."""

    def console(self, result: Mapping[str, Any], reports: Path) -> list[str]:
        """Lines under the console table (`reports`: the folder as the user named it); []
        for nothing."""

    def attachments(self, result: Mapping[str, Any]) -> list[Attachment]:
        """What the report shows of it for the whole run."""
