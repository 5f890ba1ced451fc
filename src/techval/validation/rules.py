"""Documented Redox/Carequality rules on outgoing messages, beyond what a schema can say.

Each rule returns Violations; the client refuses to send a message that breaks one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from techval.core.config import Oids, Settings
from techval.core.errors import CheckFailed
from techval.core.exchange import Exchange
from techval.core.redox import (
    DOCUMENT_TYPES,
    LOINC,
    MAX_MESSAGE_BYTES,
    SNOMED_CT_CODE,
    TREATMENT,
    VISIT_KINDS,
    visit_kind,
)
from techval.core.schemas import Violation
from techval.core.verifies import verifies
from techval.validation.messages import CAREQUALITY_PURPOSES

OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
REDOX_ARC = "2.16.840.1.113883.3.6147.458"


def _value(extensions: dict[str, Any], key: str, kind: str) -> Any:
    entry = extensions.get(key)
    if not isinstance(entry, dict):
        return None
    value = entry.get(kind)
    return value.get("code") if kind == "coding" and isinstance(value, dict) else value


@verifies("CQ-01", "CQ-02", "CQ-03", "CQ-04")
def carequality_metadata(message: dict[str, Any]) -> list[Violation]:
    """The five Carequality metadata extensions, present and well-formed (redox-api.md 3.2).

    Missing ones make the network answer 401 or XDSMissingHomeCommunityId.
    """
    meta = message.get("Meta") or {}
    raw = meta.get("Extensions")
    extensions: dict[str, Any] = raw if isinstance(raw, dict) else {}
    base = "$.Meta.Extensions"
    found = [
        Violation(f"{base}.{key}.string", "Carequality metadata missing")
        for key in ("organization-name", "user-id")
        if not isinstance(_value(extensions, key, "string"), str)
        or not _value(extensions, key, "string")
    ]
    sender = _value(extensions, "sender-organization-id", "string")
    if not isinstance(sender, str) or not OID.match(sender):
        found.append(
            Violation(
                f"{base}.sender-organization-id.string",
                "Carequality metadata missing or not an OID",
            )
        )
    role = _value(extensions, "user-role", "coding")
    if not isinstance(role, str) or not SNOMED_CT_CODE.fullmatch(role):
        found.append(
            Violation(
                f"{base}.user-role.coding.code",
                "Carequality metadata missing or not a SNOMED CT code",
            )
        )
    if _value(extensions, "purpose-of-use", "coding") != TREATMENT:
        found.append(
            Violation(
                f"{base}.purpose-of-use.coding.code",
                "Carequality metadata missing or not TREATMENT",
            )
        )
    return found


@verifies("API-07")
def test_flag(message: dict[str, Any], production: bool) -> list[Violation]:
    """Meta.Test is true outside production, and not true in production (Redox examples)."""
    test = (message.get("Meta") or {}).get("Test")
    if not production and test is not True:
        return [Violation("$.Meta.Test", "must be true outside production")]
    if production and test is True:
        return [Violation("$.Meta.Test", "must not be true in production")]
    return []


@verifies("API-05")
def size(message: dict[str, Any], limit: int = MAX_MESSAGE_BYTES) -> list[Violation]:
    """Redox refuses messages over 40 MB (redox-api.md 5.8; `limits.message_bytes`)."""
    length = len(json.dumps(message, ensure_ascii=False).encode("utf-8"))
    if length > limit:
        return [
            Violation(
                "$",
                f"the message is {length / 1_000_000:.1f} MB; Redox accepts at most "
                f"{limit / 1_000_000:g} MB (limits.message_bytes)",
            )
        ]
    return []


@verifies("DOD-04")
def with_patient_oid(identifiers: Any, patient_oid: str, path: str) -> list[Violation]:
    """An identifier typed with your patient OID is among them."""
    if any(isinstance(i, dict) and i.get("IDType") == patient_oid for i in identifiers or []):
        return []
    return [Violation(path, f"no identifier has your patient OID {patient_oid} as IDType")]


@verifies("DOD-05")
def oid_types(identifiers: Any, arc: str, path: str) -> list[Violation]:
    """Identifier types that are OIDs must be well-formed; Redox-arc ones must be yours."""
    found = []
    for index, identifier in enumerate(identifiers or []):
        kind = str((identifier or {}).get("IDType", ""))
        if kind[:1].isdigit() and not OID.match(kind):
            found.append(Violation(f"{path}[{index}].IDType", "is not a valid OID"))
        elif kind.startswith(REDOX_ARC + ".") and not kind.startswith(arc + "."):
            found.append(
                Violation(f"{path}[{index}].IDType", f"is not under your organization arc {arc}")
            )
    return found


@verifies("DOD-02")
def document_id(value: Any, oids: Oids, pushed: set[str]) -> list[Violation]:
    """A GUID, or your document OID ^ an ID; never one already pushed (redox-api.md 4.3.6)."""
    path = "$.Header.Document.ID"
    text = str(value or "")
    root, caret, extension = text.partition("^")
    if not GUID.match(text) and not (caret and extension):
        return [Violation(path, "is neither a GUID nor an ID prefixed with your document OID")]
    if caret and not OID.match(root):
        return [Violation(path, "the prefix is not a valid OID")]
    if caret and root != oids.document:
        return [Violation(path, f"the prefix is not your document OID {oids.document}")]
    if text in pushed:
        return [
            Violation(path, "was already pushed in this run: document IDs must be globally unique")
        ]
    return []


@verifies("DOD-03")
def document_type(document: dict[str, Any], encounters: Any) -> list[Violation]:
    """A LOINC document type that fits the kind of visit (redox-api.md 4.3.6)."""
    type_code = document.get("TypeCode") or {}
    code, path = type_code.get("Code"), "$.Header.Document.TypeCode"
    if code not in DOCUMENT_TYPES:
        return [
            Violation(
                f"{path}.Code",
                "is not a document type Redox expects: "
                + ", ".join(f"{c} {t.name}" for c, t in DOCUMENT_TYPES.items()),
            )
        ]
    found = []
    system = type_code.get("CodeSystem") or type_code.get("CodeSystemName")
    if system not in {LOINC, "LOINC"}:
        found.append(Violation(f"{path}.CodeSystem", "must be LOINC"))
    first = (encounters or [{}])[0] or {}
    encounter_class = str((first.get("Type") or {}).get("Code") or "")
    kind = visit_kind(encounter_class)
    if kind and code not in VISIT_KINDS[kind].document_types:
        found.append(
            Violation(
                f"{path}.Code",
                f"{code} ({DOCUMENT_TYPES[str(code)].name}) does not fit an {kind} visit "
                f"(Encounters[0].Type.Code {encounter_class})",
            )
        )
    return found


@verifies("DOD-04", "DOD-05")
def data_on_demand(message: dict[str, Any], oids: Oids, pushed: set[str]) -> list[Violation]:
    """What a push to the data-on-demand repository must get right (redox-api.md 4.3.6, 4.4)."""
    meta = message.get("Meta") or {}
    if meta.get("DataModel") == "PatientAdmin":
        patient = message.get("Patient") or {}
        found = with_patient_oid(patient.get("Identifiers"), oids.patient, "$.Patient.Identifiers")
        found += oid_types(patient.get("Identifiers"), oids.arc, "$.Patient.Identifiers")
        if "PreviousIdentifiers" in patient:
            found += with_patient_oid(
                patient["PreviousIdentifiers"], oids.patient, "$.Patient.PreviousIdentifiers"
            )
        return found
    header = message.get("Header") or {}
    identifiers = (header.get("Patient") or {}).get("Identifiers")
    document = header.get("Document") or {}
    return [
        *document_id(document.get("ID"), oids, pushed),
        *document_type(document, message.get("Encounters")),
        *with_patient_oid(identifiers, oids.patient, "$.Header.Patient.Identifiers"),
        *oid_types(identifiers, oids.arc, "$.Header.Patient.Identifiers"),
    ]


@verifies("CQ-01")
def outgoing(
    message: dict[str, Any], purpose: str | None, settings: Settings, pushed: set[str]
) -> list[Violation]:
    """Every rule that applies to a message bound for the destination of `purpose`."""
    found = test_flag(message, settings.production) + size(message, settings.message_limit_bytes)
    if purpose in CAREQUALITY_PURPOSES:
        found += carequality_metadata(message)
    if purpose == "data_on_demand":
        found += data_on_demand(message, settings.oids, pushed)
    return found


# Request kinds that go to a Carequality destination (messages.CAREQUALITY_PURPOSES) in every
# environment: patient searches, and Clinical Summary queries and gets.
CAREQUALITY_REQUESTS = frozenset(
    {
        "PatientSearch.Query",
        "PatientSearch.LocationQuery",
        "ClinicalSummary.PatientQuery",
        "ClinicalSummary.DocumentQuery",
        "ClinicalSummary.DocumentGet",
    }
)


def without_environment(message: dict[str, Any], name: str) -> list[Violation]:
    """The documented rules a request of schema `name` must keep whatever the environment
    (`techval validate`): the 40 MB limit, and the Carequality metadata on a Carequality
    request. Meta.Test, the destinations and the data-on-demand OIDs depend on the
    environment: `run` checks them too."""
    found = size(message)
    if name in CAREQUALITY_REQUESTS:
        found += carequality_metadata(message)
    return found


@verifies("DOD-02")
class OutgoingRules:
    """The rules for one run's messages, handed to the client; it remembers the VisitPush
    document IDs that passed, so that a repeat in the same run is refused."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pushed: set[str] = set()

    def __call__(self, message: dict[str, Any], purpose: str | None) -> list[Violation]:
        found = outgoing(message, purpose, self.settings, self.pushed)
        if not found and (message.get("Meta") or {}).get("EventType") == "VisitPush":
            self.pushed.add(str(message["Header"]["Document"]["ID"]))
        return found


@verifies("CQ-02", "CQ-05")
def carried_metadata(exchanges: list[Exchange], expected: dict[str, Any]) -> None:
    """Every Carequality request that was sent carried exactly the environment's metadata."""
    sent = [e for e in exchanges if e.label.startswith(("PatientSearch.", "ClinicalSummary."))]
    if not sent:
        raise CheckFailed("no Carequality request was sent in this scenario")
    for exchange in sent:
        if (exchange.request_body.get("Meta") or {}).get("Extensions") != expected:
            raise CheckFailed(
                f"{exchange.label}: $.Meta.Extensions: not the environment's metadata"
            )
