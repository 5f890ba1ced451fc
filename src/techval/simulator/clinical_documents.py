"""C-CDA for the simulator: the document Redox would generate from a pushed visit summary, and
the section narratives of Redox's parsed view (ClinicalSummary.PatientQuery answers).

The simulator's own reading of the documents; it shares only the template file
(fixtures/simulator/documents/visit-summary-template.xml) with the harness.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape

from techval.core import redox, yamlfile
from techval.core.paths import project_root

V3 = redox.HL7_V3
NAMESPACES = {
    "": V3,
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "sdtc": "urn:hl7-org:sdtc",
}


@functools.cache
def narrative_keys() -> dict[str, str]:
    """Section LOINC code -> the key of its narrative in Redox's Clinical Summary model (4.3.2,
    4.3.6): shared data (fixtures/cda_sections.yaml), read on the simulator's own account on
    first use."""
    sections = yamlfile.load(project_root() / "fixtures/cda_sections.yaml")
    return {str(code): str(key) for code, key in sections.items()}


for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)


def filled_template(template: Path, values: Mapping[str, str]) -> str:
    """The template with each {{NAME}} replaced by its XML-escaped value."""
    text = template.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", escape(value, {'"': "&quot;"}))
    return text


def _sections(root: ET.Element) -> list[tuple[str, ET.Element]]:
    found = []
    for section in root.iter(f"{{{V3}}}section"):
        code = section.find(f"{{{V3}}}code")
        key = narrative_keys().get(code.get("code", "") if code is not None else "")
        if key:
            found.append((key, section))
    return found


def with_narratives(document: str, narratives: Mapping[str, object]) -> str:
    """The document with each section's narrative replaced by the pushed one of its key."""
    root = ET.fromstring(document)  # noqa: S314 - the simulator's own template
    for key, section in _sections(root):
        narrative = narratives.get(key)
        if not isinstance(narrative, str) or not narrative.strip():
            continue
        text = section.find(f"{{{V3}}}text")
        if text is None:
            text = ET.SubElement(section, f"{{{V3}}}text")
        text.clear()
        ET.SubElement(text, f"{{{V3}}}paragraph").text = narrative
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def narratives(document: str) -> dict[str, str]:
    """Each known section's narrative as plain text, keyed as in Redox's parsed view."""
    root = ET.fromstring(document)  # noqa: S314 - documents the simulator holds
    found: dict[str, str] = {}
    for key, section in _sections(root):
        text = section.find(f"{{{V3}}}text")
        if text is not None:
            found[key] = " ".join(" ".join(text.itertext()).split())
    return found
