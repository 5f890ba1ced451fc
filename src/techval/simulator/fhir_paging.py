"""Searchset Bundles and their pages, as Redox's FHIR API pages them (redox-fhir.md 9.1, 9.2).

A search answers its first page; when more results remain, `link` carries a `next` URL of
Redox's observed form `{base}/{slug}/{env}/page/{Resource}/search/{uuid}.next` (none for a
directory set to page by `index` and `limit` only, 9.3), followed with GET unless the
environment's `fhir.next_verb` says POST (INFERRED, 9.2). Each page link holds a snapshot of
the results: it expires after `lifetime` seconds and at most `capacity` links are kept
(INFERRED: Redox documents neither).
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

PAGE_LIFETIME = 300.0  # seconds
PAGE_CAPACITY = 256
_one_per_page: ContextVar[bool] = ContextVar("one_per_page", default=False)


@contextmanager
def one_per_page() -> Iterator[None]:
    """Searches answered inside page one result at a time, whatever was asked (a fault)."""
    token = _one_per_page.set(True)
    try:
        yield
    finally:
        _one_per_page.reset(token)


@dataclass(frozen=True)
class Where:
    """The address of a search: `origin` (scheme://host:port, or "" for relative links) and
    `base` (`{base_path}/{slug}/{env}`)."""

    origin: str
    base: str
    resource: str

    def url(self, tail: str) -> str:
        return f"{self.origin}{self.base}/{tail}"


@dataclass
class _Cursor:
    where: Where
    entries: list[dict[str, Any]]
    start: int
    size: int
    expires: float


class Pager:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lifetime = PAGE_LIFETIME
        self.capacity = PAGE_CAPACITY
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()

    def first(
        self,
        where: Where,
        entries: list[dict[str, Any]],
        start: int = 0,
        size: int = 50,
        *,
        links: bool = True,
    ) -> dict[str, Any]:
        """The searchset's page from `start` (`size` entries at most); `links`: False for a
        page without a next link (the rest asked for by index)."""
        size = 1 if _one_per_page.get() else max(size, 1)
        cursor = _Cursor(where, entries, max(start, 0), size, 0.0)
        return self._page(cursor, where.url(f"{where.resource}/_search"), links=links)

    def follow(self, where: Where, key: str) -> dict[str, Any] | None:
        """The page a `next` link names, or None when it is unknown, expired or elsewhere."""
        self._expire()
        cursor = self._cursors.get(key)
        if cursor is None or cursor.where.base != where.base:
            return None
        if cursor.where.resource != where.resource:
            return None
        return self._page(cursor, where.url(f"page/{where.resource}/search/{key}.next"))

    def _expire(self) -> None:
        now = self.clock()
        for key in [k for k, c in self._cursors.items() if c.expires <= now]:
            del self._cursors[key]

    def _page(self, cursor: _Cursor, self_url: str, *, links: bool = True) -> dict[str, Any]:
        where, start, size = cursor.where, cursor.start, cursor.size
        shown = cursor.entries[start : start + size]
        listed = [{"relation": "self", "url": self_url}]
        if links and start + size < len(cursor.entries):
            key = uuid.uuid4().hex
            self._cursors[key] = _Cursor(
                where, cursor.entries, start + size, size, self.clock() + self.lifetime
            )
            while len(self._cursors) > self.capacity:
                self._cursors.popitem(last=False)
            listed.append(
                {"relation": "next", "url": where.url(f"page/{where.resource}/search/{key}.next")}
            )
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": "searchset",
            "total": len(cursor.entries),
            "link": listed,
        }
        if shown:  # FHIR has no empty lists: no match is a Bundle without `entry` (5.6)
            bundle["entry"] = [
                {
                    "fullUrl": where.url(f"{resource['resourceType']}/{resource['id']}"),
                    "resource": resource,
                    "search": {"mode": "match"},
                }
                for resource in shown
            ]
        return bundle
