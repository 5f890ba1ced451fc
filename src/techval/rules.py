"""Documented Redox/Carequality rules on outgoing messages, beyond what a schema can say.

Each rule returns Violations; the client refuses to send a message that breaks one.
"""

from __future__ import annotations

import re
from typing import Any

from techval.messages import CAREQUALITY_PURPOSES
from techval.schemas import Violation

OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
SNOMED = re.compile(r"^[1-9][0-9]{5,17}$")
TREATMENT = "TREATMENT"


def _value(extensions: dict[str, Any], key: str, kind: str) -> Any:
    entry = extensions.get(key)
    if not isinstance(entry, dict):
        return None
    value = entry.get(kind)
    return value.get("code") if kind == "coding" and isinstance(value, dict) else value


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
    if not isinstance(role, str) or not SNOMED.match(role):
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


def outgoing(message: dict[str, Any], purpose: str | None) -> list[Violation]:
    """Every rule that applies to a message bound for the destination of `purpose`."""
    return carequality_metadata(message) if purpose in CAREQUALITY_PURPOSES else []
