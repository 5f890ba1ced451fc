"""The simulated Carequality directory behind Organization.New / Update / Query.

Answers follow the documented ones (redox-api.md 4.1, 5.6): `[OID] already exists.` (403) for a
duplicate, `id: [ID] is not valid.` (403) for an update of an unknown OID, and `Failed to parse
request body as XML resource.` (403) for a record without an OID identifier or a type.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from techval.simulator.responses import error

NOT_PARSED = "Failed to parse request body as XML resource."
DEFAULT_LIMIT = 50


def oid_of(record: dict[str, Any]) -> str | None:
    for identifier in record.get("Identifiers") or []:
        if (
            isinstance(identifier, dict)
            and identifier.get("IDType") == "OID"
            and identifier.get("ID")
        ):
            return str(identifier["ID"])
    return None


class DirectoryError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.error = error(text, kind="message", module="Send")


class Directory:
    def __init__(self, seed: list[dict[str, Any]] | None = None) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.updated: dict[str, datetime] = {}
        for record in seed or []:
            oid = oid_of(record)
            if oid:
                self._store(oid, record)

    def _store(self, oid: str, record: dict[str, Any]) -> None:
        stored = copy.deepcopy(record)
        stored.setdefault("ManagingOrg", None)
        self.records[oid] = stored
        self.updated[oid] = datetime.now(UTC)

    @staticmethod
    def _checked(record: Any) -> str:
        """The record's OID, or the directory's parse refusal (documented 403)."""
        if not isinstance(record, dict):
            raise DirectoryError(403, NOT_PARSED)
        oid = oid_of(record)
        kind = (
            (record.get("Type") or {}).get("Value")
            if isinstance(record.get("Type"), dict)
            else None
        )
        if oid is None or not kind:
            raise DirectoryError(403, NOT_PARSED)
        if kind == "Implementer" and not record.get("Contacts"):
            raise DirectoryError(403, NOT_PARSED)
        return oid

    def new(self, records: list[Any]) -> None:
        checked = [(self._checked(r), r) for r in records]
        for oid, _ in checked:
            if oid in self.records:
                raise DirectoryError(403, f"{oid} already exists.")
        for oid, record in checked:
            self._store(oid, record)

    def update(self, records: list[Any], action: str) -> None:
        checked = [(self._checked(r), r) for r in records]
        for oid, _ in checked:
            if oid not in self.records:
                raise DirectoryError(403, f"id: {oid} is not valid.")
        for oid, record in checked:
            if action.lower() == "delete":
                del self.records[oid]
            else:
                self._store(oid, record)

    def query(self, message: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
        matches = [r for oid, r in self.records.items() if self._matches(oid, r, message)]
        start = _number(message.get("Index"), 0)
        limit = _number(message.get("Limit"), DEFAULT_LIMIT)
        page = matches[start : start + limit]
        return copy.deepcopy(page), {"Count": len(matches), "Index": start}

    def _matches(self, oid: str, record: dict[str, Any], message: dict[str, Any]) -> bool:
        identifier = message.get("Identifier") or {}
        if identifier.get("ID") and identifier["ID"] != oid:
            return False
        name = (message.get("NameSearch") or {}).get("Value")
        names = [record.get("Name") or "", *(record.get("Aliases") or [])]
        if name and not any(name.lower() in str(n).lower() for n in names):
            return False
        address = record.get("Address") or {}
        if message.get("State") and address.get("State") != message["State"]:
            return False
        zip_code = (message.get("RadiusSearch") or {}).get("ZipCode")
        # No geocoding here: a radius search matches records in the same 3-digit ZIP area.
        if zip_code and str(address.get("ZIP") or "")[:3] != str(zip_code)[:3]:
            return False
        since = message.get("LastUpdated")
        if since:
            try:
                moment = datetime.fromisoformat(str(since).replace("Z", "+00:00"))
            except ValueError:
                return True
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return self.updated[oid] >= moment
        return True


def _number(value: Any, default: int) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return default
