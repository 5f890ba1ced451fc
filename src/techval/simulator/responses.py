"""Answers shaped like Redox's: the Meta echo, Meta.Errors bodies, plain-text refusals."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

# "Deprecated. Slated for removal on or after Nov. 1, 2022. Use Meta.Logs[].ID" (10.3)
DEPRECATED_META = ("Message", "Transmission")
SOURCE = {"ID": "7f0c1c63-9d0e-4c8a-9a51-3b2f6a7c1e01", "Name": "techval simulator source"}


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, document: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    return Reply(
        status,
        body,
        {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


def text_reply(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Reply:
    return Reply(status, text.encode("utf-8"), {"Content-Type": content_type})


def echo_meta(request_meta: dict[str, Any], destination_name: str | None) -> dict[str, Any]:
    """Meta as Redox returns it: the request's, with Logs, Source and Destinations[].Name filled
    and no deprecated Message or Transmission."""
    meta = copy.deepcopy(request_meta) if isinstance(request_meta, dict) else {}
    for deprecated in DEPRECATED_META:
        meta.pop(deprecated, None)
    meta["Logs"] = [{"ID": str(uuid.uuid4()), "AttemptID": str(uuid.uuid4())}]
    meta["Source"] = dict(SOURCE)
    destinations = meta.get("Destinations")
    if isinstance(destinations, list):
        for destination in destinations:
            if isinstance(destination, dict) and destination_name:
                destination["Name"] = destination_name
    return meta


_error_ids = iter(range(531000, 10**9))


def error(text: str, *, kind: str = "message", module: str = "DataModels") -> dict[str, Any]:
    return {"ID": next(_error_ids), "Text": text, "Type": kind, "Module": module}


def errors_reply(
    status: int,
    request_meta: Any,
    errors: list[dict[str, Any]],
    destination_name: str | None = None,
) -> Reply:
    meta = echo_meta(request_meta if isinstance(request_meta, dict) else {}, destination_name)
    meta["Errors"] = errors
    return json_reply(status, {"Meta": meta})
