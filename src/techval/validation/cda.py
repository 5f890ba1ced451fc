"""C-CDA documents: render the visit summary template, and read section narratives."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from xml.sax.saxutils import escape

from techval.core import redox, yamlfile
from techval.core.paths import project_root
from techval.core.verifies import verifies

HL7 = f"{{{redox.HL7_V3}}}"
TEMPLATE = "fixtures/simulator/documents/visit-summary-template.xml"
SECTIONS = "fixtures/cda_sections.yaml"


@functools.cache
def section_keys() -> dict[str, str]:
    """CDA section LOINC code -> the key of its narrative in Redox's Clinical Summary model
    (read on first use, never at import)."""
    return {str(code): str(key) for code, key in yamlfile.load(project_root() / SECTIONS).items()}


def render_visit_summary(values: Mapping[str, str]) -> str:
    """The visit summary CDA with {{NAME}} placeholders replaced by XML-escaped values."""
    text = (project_root() / TEMPLATE).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", escape(value, {'"': "&quot;"}))  # attributes too
    return text


def section_texts(document: str) -> dict[str, str]:
    """The narrative of each known section, keyed as in Redox's Clinical Summary model."""
    sections: dict[str, str] = {}
    root = ET.fromstring(document)  # noqa: S314 - the project's own documents
    for section in root.iter(f"{HL7}section"):
        code = section.find(f"{HL7}code")
        key = section_keys().get(code.get("code", "") if code is not None else "")
        narrative = section.find(f"{HL7}text")
        if key and narrative is not None:
            sections[key] = " ".join(" ".join(narrative.itertext()).split())
    return sections


@verifies("DQ-04")
def malformed(text: str) -> str | None:
    """Why a CDA is not one (not well-formed XML, naming line and column; not an HL7 v3
    ClinicalDocument root); None when it is. The same check through either API."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - a document from the system under test
    except ET.ParseError as exc:
        line, column = exc.position
        return f"the document is not well-formed XML (line {line}, column {column})"
    if root.tag != f"{HL7}ClinicalDocument":
        return "the XML root is not an HL7 v3 ClinicalDocument"
    return None
