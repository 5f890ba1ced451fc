"""What the simulated Redox accepts, written from Redox's documentation, not from the harness.

* required fields per event type: the rows of redox-api.md section 4 marked "Required (schema)";
* the Carequality query metadata of section 3.2 (missing -> HTTP 401, section 5.6);
* the 40 MB message limit of section 5.8 (techval.core.redox.MAX_MESSAGE_BYTES, shared data;
  app.py and server.py refuse a larger body).

Refusal texts follow Redox's: "Required field missing - Device.ID in Device:New".
"""

from __future__ import annotations

import re
from typing import Any

from techval.core.redox import CAREQUALITY_EXTENSIONS

# A path is dot-separated keys; "[]" after a key means every item of that array.
_PATIENT_IDENTIFIERS = (
    ("Patient", "object"),
    ("Patient.Identifiers", "array"),
    ("Patient.Identifiers[].ID", "string"),
    ("Patient.Identifiers[].IDType", "string"),
)
_ORGANIZATIONS = (
    ("Directory", "string"),
    ("Organizations", "array"),
    ("Organizations[].Active", "boolean"),
    ("Organizations[].Name", "string"),
)
REQUIRED: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("Organization", "New"): _ORGANIZATIONS,  # 4.1.1
    ("Organization", "Update"): (*_ORGANIZATIONS, ("Action", "string")),  # 4.1.2
    ("Organization", "Query"): (("Directory", "string"),),  # 4.1.3
    ("PatientSearch", "Query"): (),  # 4.2.1: only Meta
    ("PatientSearch", "LocationQuery"): _PATIENT_IDENTIFIERS,  # 4.2.3
    ("Clinical Summary", "PatientQuery"): _PATIENT_IDENTIFIERS,  # 4.3.1
    ("Clinical Summary", "DocumentQuery"): _PATIENT_IDENTIFIERS,  # 4.3.3
    ("Clinical Summary", "DocumentGet"): (("Document", "object"), ("Document.ID", "string")),
    ("Clinical Summary", "VisitPush"): (),  # 4.3.6: only Meta
    ("PatientAdmin", "NewPatient"): _PATIENT_IDENTIFIERS,  # 4.4.1
    ("PatientAdmin", "PatientUpdate"): _PATIENT_IDENTIFIERS,  # 4.4.1
    ("PatientAdmin", "PatientMerge"): (  # 4.4.2
        *_PATIENT_IDENTIFIERS,
        ("Patient.PreviousIdentifiers", "array"),
        ("Patient.PreviousIdentifiers[].ID", "string"),
        ("Patient.PreviousIdentifiers[].IDType", "string"),
    ),
}
_KINDS: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
}


def _values(document: Any, path: str) -> list[tuple[str, Any, bool]]:
    """(concrete path, value, present) for `path` in `document`, one per array item."""
    found: list[tuple[str, Any, bool]] = [("", document, True)]
    for part in path.split("."):
        each = part.endswith("[]")
        key = part[:-2] if each else part
        step: list[tuple[str, Any, bool]] = []
        for where, value, present in found:
            if not present or not isinstance(value, dict):
                continue  # the parent's own problem is reported on its own path
            here = f"{where}.{key}" if where else key
            if key not in value:
                step.append((here, None, False))
            elif each and isinstance(value[key], list):
                step += [(f"{here}[{i}]", item, True) for i, item in enumerate(value[key])]
            else:
                step.append((here, value[key], True))
        found = step
    return found


def missing_fields(message: dict[str, Any], data_model: str, event_type: str) -> list[str]:
    """Redox's refusal texts for required fields that are absent, null or of the wrong type."""
    where = f"in {data_model}:{event_type}"
    texts = []
    for path, kind in REQUIRED.get((data_model, event_type), ()):
        for concrete, value, present in _values(message, path):
            if not present or value is None:
                texts.append(f"Required field missing - {concrete} {where}")
            elif not isinstance(value, _KINDS[kind]) or (kind == "string" and not value):
                texts.append(f"Invalid value - {concrete} must be a non-empty {kind} {where}")
    return texts


# The Carequality query metadata (redox-api.md 3.2; its keys: techval.core.redox, shared data):
# values are {"string": ...} or {"coding": {"code": ...}}; client libraries differ on which
# (10.7), so either is taken.
OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


def _extension_value(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    value = entry.get("string")
    coding = entry.get("coding")
    if not (isinstance(value, str) and value.strip()) and isinstance(coding, dict):
        value = coding.get("code")
    return value.strip() if isinstance(value, str) and value.strip() else None


def carequality_refusals(message: dict[str, Any]) -> list[str]:
    """Why the network would answer 401: each missing metadata extension, by name."""
    extensions = (message.get("Meta") or {}).get("Extensions")
    extensions = extensions if isinstance(extensions, dict) else {}
    texts = []
    for key in CAREQUALITY_EXTENSIONS:
        value = _extension_value(extensions.get(key))
        if value is None:
            texts.append(f"Unauthorized: Carequality metadata missing - Meta.Extensions.{key}")
        elif key == "sender-organization-id" and not OID.match(value):
            # "organizational OID to identify your organization as the one sending the request"
            texts.append(f"Unauthorized: Meta.Extensions.{key} is not an OID")
    return texts
