"""The Meta envelope every outgoing message starts from."""

from __future__ import annotations

from typing import Any

from techval.auth import now_iso
from techval.config import Settings


def envelope(settings: Settings, data_model: str, event_type: str, purpose: str) -> dict[str, Any]:
    """A message with its Meta filled for this environment and the destination of `purpose`.

    Meta.Test is true everywhere but production ("Remove in production", Redox docs).
    """
    meta: dict[str, Any] = {
        "DataModel": data_model,
        "EventType": event_type,
        "EventDateTime": now_iso(),
        "Test": not settings.production,
        "Destinations": [{"ID": settings.destination(purpose)}],
    }
    if settings.auth.source_id:
        meta["Source"] = {"ID": settings.auth.source_id}
    return {"Meta": meta}
