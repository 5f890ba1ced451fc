"""C-CDA for the simulator: the document Redox would generate from a pushed visit summary, and
the section narratives of Redox's parsed view (ClinicalSummary.PatientQuery answers).

The simulator's own reading of the documents; it shares only the template file
(fixtures/simulator/documents/visit-summary-template.xml) with the harness.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape

V3 = "urn:hl7-org:v3"
NAMESPACES = {
    "": V3,
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "sdtc": "urn:hl7-org:sdtc",
}
# Section LOINC code -> the key of its narrative in Redox's Clinical Summary model (4.3.2, 4.3.6).
NARRATIVE_KEYS = {
    "48765-2": "AllergyText",
    "11450-4": "ProblemsText",
    "10160-0": "MedicationsText",
    "8716-3": "VitalSignsText",
    "18776-5": "PlanOfCareText",
    "51847-2": "AssessmentText",
    "47519-4": "ProceduresText",
    "30954-2": "ResultText",
    "29762-2": "SocialHistoryText",
    "11369-6": "ImmunizationText",
    "46240-8": "EncountersText",
    "42348-3": "AdvanceDirectivesText",
    "10157-6": "FamilyHistoryText",
    "46264-8": "MedicalEquipmentText",
    "48768-6": "InsurancesText",
}

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
        key = NARRATIVE_KEYS.get(code.get("code", "") if code is not None else "")
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
