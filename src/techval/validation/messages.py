"""The Meta envelope every outgoing message starts from."""

from __future__ import annotations

from typing import Any

from techval.core.config import Settings
from techval.core.redox import EXTENSION_URL, timestamp
from techval.core.verifies import verifies

# Destinations that reach the Carequality network: every step to them carries the metadata.
CAREQUALITY_PURPOSES = frozenset(
    {"patient_search", "organization_patient_search", "clinical_summary"}
)


@verifies("CQ-05")
def carequality_extensions(settings: Settings) -> dict[str, Any]:
    """Meta.Extensions that Redox requires on every Carequality step (redox-api.md 3.2)."""
    cq = settings.carequality

    def extension(key: str, **value: Any) -> dict[str, Any]:
        return {"url": EXTENSION_URL + key, **value}

    return {
        "organization-name": extension("organization-name", string=cq.sender.name),
        "sender-organization-id": extension("sender-organization-id", string=cq.sender.oid),
        "user-id": extension("user-id", string=cq.user_id),
        "user-role": extension(
            "user-role", coding={"code": cq.user_role_code, "display": cq.user_role_display}
        ),
        "purpose-of-use": extension(
            "purpose-of-use", coding={"code": cq.purpose_code, "display": cq.purpose_display}
        ),
    }


@verifies("API-07")
def envelope(
    settings: Settings,
    data_model: str,
    event_type: str,
    purpose: str,
    *,
    facility: str | None = None,
) -> dict[str, Any]:
    """A message with its Meta filled for this environment and the destination of `purpose`.

    Meta.Test is true everywhere but production ("Remove in production", Redox docs).
    `facility` is the OID of the queried organization (Meta.FacilityCode).
    """
    meta: dict[str, Any] = {
        "DataModel": data_model,
        "EventType": event_type,
        "EventDateTime": timestamp(),
        "Test": not settings.production,
        "Destinations": [{"ID": settings.destination(purpose)}],
    }
    if facility:
        meta["FacilityCode"] = facility
    if purpose in CAREQUALITY_PURPOSES:
        meta["Extensions"] = carequality_extensions(settings)
    if settings.auth.source_id:
        meta["Source"] = {"ID": settings.auth.source_id}
    return {"Meta": meta}
