"""FHIR R4 shapes of the simulator's state, as Redox's FHIR API answers them (redox-fhir.md).

The simulator keeps one state (the directory's records, the network's and the repository's
patients and documents, in Data Model terms); these functions show it as FHIR resources and
read a FHIR Organization into a directory record. Empty values are left out, as FHIR has no
nulls or empty lists.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from techval.simulator.acceptance import OID
from techval.simulator.network import Holding, NetworkPatient
from techval.simulator.responses import SOURCE, Reply, error

FHIR_JSON = "application/fhir+json; charset=utf-8"
OID_SYSTEM = "http://www.hl7.org/oid/"  # Organization.identifier system (4.1, 4.2)
# INFERRED (Gaps): Redox's example cuts off before the type's system; the Sequoia directory's.
ORGANIZATION_TYPE_SYSTEM = "https://sequoiaproject.org/fhir/sphd/CodeSystem/OrganizationType"
DOCUMENT_KIND = "urn:redox:document_kind"  # DocumentReference.category (6.5, 6.7)
CDA = "CDA"
LOINC_SYSTEM = "http://loinc.org"
CDA_CONTENT_TYPE = "text/xml"  # 6.7
URI_SYSTEM = "urn:ietf:rfc:3986"
OUTCOME_CODES = "http://terminology.hl7.org/CodeSystem/operation-outcome"
# Resource ids the simulator makes up for patients and documents: stable, opaque (a FHIR id
# allows no "^", and a medical record number is no id to show in a URL).
_IDS = uuid.UUID("6f1c3a2e-9b4d-5e7f-8a1b-2c3d4e5f6a7b")


def pruned(value: Any) -> Any:
    """`value` without None, "", [] and {} anywhere (FHIR has no empty elements)."""
    if isinstance(value, dict):
        kept = {k: pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        items = [pruned(v) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    return value


def fhir_reply(status: int, resource: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(resource, ensure_ascii=False).encode("utf-8")
    return Reply(status, body, {"Content-Type": FHIR_JSON, **(headers or {})})


def outcome(
    code: str, text: str, *, severity: str = "error", message_id: str | None = None
) -> dict[str, Any]:
    """An OperationOutcome of one issue (8.4: Redox's texts in `details.text`)."""
    details: dict[str, Any] = {"text": text}
    if message_id:
        details["coding"] = [{"system": OUTCOME_CODES, "code": message_id}]
    issue = {"severity": severity, "code": code, "details": details}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def outcome_reply(status: int, code: str, text: str, **kwargs: Any) -> Reply:
    return fhir_reply(status, outcome(code, text, **kwargs))


def unknown_slug(slug: str) -> Reply:
    """What Redox answers for a slug, resource or interaction it has no module for (8.4)."""
    return outcome_reply(
        404, "not-found", f"Unknown slug {slug}", severity="fatal", message_id="MSG_NO_MODULE"
    )


def data_model_error(environment: str) -> Reply:
    """The Data-Model-shaped refusal Redox sent on a FHIR path for an unknown operation (8.5)."""
    meta = {
        "Logs": [{"ID": str(uuid.uuid4()), "AttemptID": str(uuid.uuid4())}],
        "Source": {"ID": SOURCE["ID"], "Name": f"Redox Request Ingress ({environment})"},
        "Errors": [error("Invalid data model and/or event type.", module="Parser")],
    }
    body = json.dumps({"Meta": meta}).encode("utf-8")
    return Reply(400, body, {"Content-Type": "application/json; charset=utf-8"})


# -- organizations: directory record <-> FHIR Organization ---------------------------------
_PHONE_USES = {"Work": "work", "Home": "home", "Mobile": "mobile", "Office": "work"}


def organization_oid(resource: dict[str, Any], system: str = OID_SYSTEM) -> str | None:
    """The value of the identifier with the OID's system (4.1: http://www.hl7.org/oid/)."""
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == system:
            value = identifier.get("value")
            return str(value) if isinstance(value, str) and value else None
    return None


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(items: Any) -> dict[str, Any]:
    first = items[0] if isinstance(items, list) and items else {}
    return first if isinstance(first, dict) else {}


def _text(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    coding = _first(concept.get("coding"))
    found = concept.get("text") or coding.get("code") or coding.get("display")
    return str(found) if found else None


def _human_name(name: Any) -> str | None:
    if not isinstance(name, dict):
        return None
    if name.get("text"):
        return str(name["text"])
    parts = [*(name.get("given") or []), name.get("family")]
    return " ".join(str(p) for p in parts if p) or None


def _contact_record(contact: dict[str, Any]) -> dict[str, Any]:
    phones: dict[str, str] = {}
    emails = []
    for telecom in contact.get("telecom") or []:
        if not isinstance(telecom, dict) or not telecom.get("value"):
            continue
        if telecom.get("system") == "email":
            emails.append(str(telecom["value"]))
        elif telecom.get("system") == "phone":
            use = {"home": "Home", "mobile": "Mobile"}.get(str(telecom.get("use")), "Work")
            phones[use] = str(telecom["value"])
    return {
        "Purpose": _text(contact.get("purpose")),
        "Name": _human_name(contact.get("name")),
        "EmailAddresses": emails,
        "PhoneNumber": phones,
    }


def _address_record(address: dict[str, Any]) -> dict[str, Any]:
    lines = [str(line) for line in address.get("line") or [] if line]
    return {
        "StreetAddress": ", ".join(lines) or None,
        "City": address.get("city"),
        "State": address.get("state"),
        "ZIP": address.get("postalCode"),
        "County": address.get("district"),
        "Country": address.get("country"),
    }


def directory_record(resource: dict[str, Any], oid: str | None) -> dict[str, Any]:
    """A FHIR Organization as the directory's record (the Data Model's field names)."""
    coding = _first(_first(resource.get("type")).get("coding"))
    part_of = as_dict(resource.get("partOf"))
    parent = (part_of.get("identifier") or {}).get("value") or str(
        part_of.get("reference") or ""
    ).removeprefix("Organization/")
    return {
        "Name": resource.get("name"),
        "Active": resource.get("active"),
        "Aliases": [str(a) for a in resource.get("alias") or []],
        "Identifiers": [{"ID": oid, "IDType": "OID"}] if oid else [],
        "Type": {"System": coding.get("system"), "Value": coding.get("code")},
        "PartOf": {"Identifier": {"Type": None, "System": None, "Value": parent or None}},
        "Contacts": [
            _contact_record(c) for c in resource.get("contact") or [] if isinstance(c, dict)
        ],
        "Address": _address_record(_first(resource.get("address"))),
    }


def _telecom(phones: Any, emails: Any, uses: dict[str, str]) -> list[dict[str, Any]]:
    found = [
        {"system": "phone", "value": value, "use": uses.get(kind, "work")}
        for kind, value in (phones if isinstance(phones, dict) else {}).items()
        if value
    ]
    return found + [{"system": "email", "value": e} for e in emails or [] if e]


def _address(address: Any, use: str | None = None) -> list[dict[str, Any]]:
    if not isinstance(address, dict):
        return []
    return [
        {
            "use": use,
            "line": [address.get("StreetAddress")],
            "city": address.get("City"),
            "state": address.get("State"),
            "postalCode": address.get("ZIP"),
            "district": address.get("County"),
            "country": address.get("Country"),
        }
    ]


def organization(oid: str, record: dict[str, Any], system: str = OID_SYSTEM) -> dict[str, Any]:
    """A directory record as a FHIR Organization (id = OID, 4.1; `system`: the OID's)."""
    kind = as_dict(record.get("Type"))
    parent = ((record.get("PartOf") or {}).get("Identifier") or {}).get("Value")
    resource = {
        "resourceType": "Organization",
        "id": oid,
        "identifier": [{"use": "official", "system": system, "value": oid}],
        "active": record.get("Active"),
        "type": [
            {
                "coding": [
                    {
                        "system": kind.get("System") or ORGANIZATION_TYPE_SYSTEM,
                        "code": kind.get("Value"),
                    }
                ]
            }
        ],
        "name": record.get("Name"),
        "alias": list(record.get("Aliases") or []),
        "address": _address(record.get("Address")),
        "partOf": {"identifier": {"system": system, "value": parent}} if parent else None,
        "contact": [
            {
                "purpose": {"text": c.get("Purpose")},
                "name": {"text": c.get("Name")},
                "telecom": _telecom(c.get("PhoneNumber"), c.get("EmailAddresses"), _PHONE_USES),
            }
            for c in record.get("Contacts") or []
            if isinstance(c, dict)
        ],
    }
    answered: dict[str, Any] = pruned(resource)
    answered["active"] = bool(record.get("Active"))  # false is a value, not an empty one
    return answered


# -- patients and documents ------------------------------------------------------------------
def made_up_id(oid: str, local: str) -> str:
    return str(uuid.uuid5(_IDS, f"{oid}|{local}"))


def patient_id(holding: Holding) -> str:
    return made_up_id(holding.oid, f"patient|{holding.patient_id}")


def document_id(oid: str, document: dict[str, Any]) -> str:
    return made_up_id(oid, f"document|{document['id']}")


def identifier_system(id_type: str) -> str:
    """The FHIR system of a Data Model IDType. INFERRED (5.8, Gaps): an assigning authority
    OID as `urn:oid:{oid}`; an IDType that is a URI as it is; any other as a Redox URN."""
    if OID.fullmatch(id_type):
        return f"urn:oid:{id_type}"
    if ":" in id_type:
        return id_type
    return f"urn:redox:{id_type}"


_GENDERS = {"male": "male", "female": "female", "other": "other"}
_PATIENT_PHONES = {"Home": "home", "Mobile": "mobile", "Office": "work"}


def patient(
    patient: NetworkPatient, holding: Holding, identifiers: list[dict[str, str]]
) -> dict[str, Any]:
    """The organization's record of a patient as a FHIR Patient, with its identifiers."""
    person = patient.demographics
    given = [person.get("FirstName"), person.get("MiddleName")]
    resource = {
        "resourceType": "Patient",
        "id": patient_id(holding),
        "identifier": [
            {"system": identifier_system(str(i.get("IDType"))), "value": i.get("ID")}
            for i in identifiers
        ],
        "name": [{"use": "official", "family": person.get("LastName"), "given": given}],
        "gender": _GENDERS.get(str(person.get("Sex") or "").casefold(), "unknown"),
        "birthDate": person.get("DOB"),
        "address": _address(person.get("Address"), "home"),
        "telecom": _telecom(
            person.get("PhoneNumber"), person.get("EmailAddresses"), _PATIENT_PHONES
        ),
    }
    shaped: dict[str, Any] = pruned(resource)
    return shaped


def master_identifier(document_id_text: str) -> dict[str, str]:
    """A document's unique ID (INFERRED): `root^extension` as system urn:oid:root and the
    extension; a bare UUID as the URI urn:uuid:...; anything else as a value alone."""
    root, caret, extension = document_id_text.partition("^")
    if caret and OID.fullmatch(root):
        return {"system": f"urn:oid:{root}", "value": extension}
    try:
        return {"system": URI_SYSTEM, "value": uuid.UUID(document_id_text).urn}
    except ValueError:
        return {"value": document_id_text}


def document_reference(
    oid: str, holding: Holding, document: dict[str, Any], text: str
) -> dict[str, Any]:
    """A document an organization holds as Redox's DocumentReference: the CDA inline as base64
    (6.7, 6.8, 6.11)."""
    kind = document.get("type") or {}
    resource = {
        "resourceType": "DocumentReference",
        "id": document_id(oid, document),
        "masterIdentifier": master_identifier(str(document["id"])),
        "status": "current",
        "type": {
            "coding": [
                {"system": LOINC_SYSTEM, "code": kind.get("Code"), "display": kind.get("Name")}
            ]
        },
        "category": [{"coding": [{"system": DOCUMENT_KIND, "code": CDA}]}],
        "subject": {"reference": f"Patient/{patient_id(holding)}"},
        "date": document.get("datetime"),
        "description": document.get("title"),
        "content": [
            {
                "attachment": {
                    "contentType": CDA_CONTENT_TYPE,
                    "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                    "title": document.get("title"),
                }
            }
        ],
    }
    shaped: dict[str, Any] = pruned(resource)
    return shaped
