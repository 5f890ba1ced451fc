"""Redox facts that more than one module relies on, each written down once (docs/redox-facts.md
says where each comes from and what to change when Redox answers otherwise).

Data only: the harness and the simulator both read these tables, each deciding with its own code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_MESSAGE_BYTES = 40_000_000  # Redox: 40 MB for API and Network Onramp traffic (5.8)


# -- timestamps -----------------------------------------------------------------------------
def timestamp(moment: datetime | None = None) -> str:
    """`moment` (timezone-aware), or now, as Redox writes times: ISO 8601 in UTC with
    milliseconds and a Z ("2026-01-01T15:00:00.000Z"). Every timestamp techval writes
    (Meta.EventDateTime, visit times, exchanges, HAR, verdict) and the simulator's answers use
    this one format."""
    moment = datetime.now(UTC) if moment is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


CDA_TIME_FORMAT = "%Y%m%d%H%M%S+0000"  # HL7 v3 TS, in UTC (a CDA's effectiveTime, author time)


def cda_time(moment: datetime) -> str:
    """`moment` (timezone-aware) as a CDA writes a point in time: 20260101150000+0000."""
    return moment.astimezone(UTC).strftime(CDA_TIME_FORMAT)


# -- Carequality metadata (redox-api.md 3.2) ------------------------------------------------
EXTENSION_URL = "https://api.redoxengine.com/extensions/"  # + the key: Meta.Extensions.*.url
CAREQUALITY_EXTENSIONS = (  # the five keys every Carequality step carries
    "organization-name",
    "sender-organization-id",
    "user-id",
    "user-role",
    "purpose-of-use",
)
TREATMENT = "TREATMENT"  # purpose-of-use
SNOMED_CT_CODE = re.compile(r"[1-9][0-9]{5,17}")  # a user role: a SNOMED CT concept ID (fullmatch)

# The record locator's LocationQuery is asynchronous (redox-api.md 10.1): Meta.Extensions key
# and its values.
TASK_STATUS = "task-status"
ACTIVE, SUCCESS, ERROR = "Active", "Success", "Error"


# -- documents: codes and CDA (redox-api.md 4.3.6; HL7 C-CDA) --------------------------------
LOINC = "2.16.840.1.113883.6.1"  # the LOINC code system: document and section codes
HL7_V3 = "urn:hl7-org:v3"  # the XML namespace of a CDA (its root: ClinicalDocument)
UUID_OID_ROOT = "2.25"  # OID root of a UUID: a CDA id whose document ID is a bare GUID
ADMINISTRATIVE_GENDER = {"Male": "M", "Female": "F"}  # Redox Sex -> HL7 AdministrativeGender
UNKNOWN_GENDER = "UN"  # HL7 AdministrativeGender for any other Sex


@dataclass(frozen=True)
class DocumentType:
    """A LOINC document type Redox expects on a pushed visit summary."""

    code: str
    name: str  # LOINC's display name (TypeCode.Name)
    title: str  # the document's title


CCD = DocumentType("34133-9", "Summarization of Episode Note", "Continuity of Care Document")
PROGRESS_NOTE = DocumentType("11506-3", "Progress note", "Progress Note")
DISCHARGE_SUMMARY = DocumentType("18842-5", "Discharge summary", "Discharge Summary")
DOCUMENT_TYPES: Mapping[str, DocumentType] = {
    t.code: t for t in (CCD, PROGRESS_NOTE, DISCHARGE_SUMMARY)
}


@dataclass(frozen=True)
class VisitKind:
    """A kind of visit: the HL7 ActCode encounter classes that say it, and its own document type.
    The CCD fits every kind of visit; the other document types only their own."""

    encounter_classes: Mapping[str, str]  # code -> display name; techval sends the first
    document: DocumentType

    @property
    def encounter_class(self) -> str:
        return next(iter(self.encounter_classes))

    @property
    def document_types(self) -> frozenset[str]:
        """The LOINC codes of the document types that fit this kind of visit."""
        return frozenset({CCD.code, self.document.code})


# The one table of visit kinds and the document types that fit them (redox-api.md 4.3.6: the
# document type fits the encounter class). Read by the harness's rule and its pushes.
VISIT_KINDS: Mapping[str, VisitKind] = {
    "outpatient": VisitKind({"AMB": "ambulatory", "EMER": "emergency"}, PROGRESS_NOTE),
    "inpatient": VisitKind(
        {"IMP": "inpatient encounter", "ACUTE": "inpatient acute", "NONAC": "inpatient non-acute"},
        DISCHARGE_SUMMARY,
    ),
}


def visit_kind(encounter_class: str) -> str | None:
    """The kind of visit an HL7 ActCode encounter class says; None for a class not in the table."""
    return next((k for k, v in VISIT_KINDS.items() if encounter_class in v.encounter_classes), None)
