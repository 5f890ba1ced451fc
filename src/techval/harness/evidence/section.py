"""What every evidence section shares, and what the registry (sections.py) lists: the
`Section` protocol and the `Attachment` a section shows in the report. The section modules
import this one, never the registry, so no import runs back.

A section reads the decided run (decide.py: every outcome final) and the typed verdict built
from it, both frozen, and returns its own part of verdict.json: the keys it `adds`, no other.
It names the keys of the earlier sections' parts it `reads`; sections.py checks that an
earlier section adds each of them, so the order is the code's. What it shows (summary,
console, attachments) it reads from the verdict document, as verdict.json holds it: the
console and `techval bundle` read that file back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from techval.harness.evidence.decide import Decided
from techval.harness.evidence.verdict import Verdict


@dataclass(frozen=True)
class Attachment:
    """A text the report shows for the whole run (Allure 3's global attachments)."""

    name: str
    text: str
    mime_type: str = "text/markdown"
    extension: str = "md"


class Section(Protocol):
    @property
    def reads(self) -> tuple[str, ...]:
        """The earlier sections' keys it reads in `apply`."""

    @property
    def adds(self) -> tuple[str, ...]:
        """The keys of its part of the verdict."""

    def apply(
        self, verdict: Verdict, earlier: Mapping[str, Any], decided: Decided, reports: Path
    ) -> dict[str, Any]:
        """This section's part of verdict.json (keys of `adds`); it may write its own files
        under `reports`. `earlier`: the earlier sections' parts, read-only."""

    def summary(self, result: Mapping[str, Any]) -> list[str]:
        """Markdown lines for summary.md (and the CI job summary); [] for nothing."""

    def console(self, result: Mapping[str, Any], reports: Path) -> list[str]:
        """Lines under the console table (`reports`: the folder as the user named it); []
        for nothing."""

    def attachments(self, result: Mapping[str, Any]) -> list[Attachment]:
        """What the report shows of it for the whole run."""
