"""reports/exchanges.har: every exchange of the run as an HTTP archive (HAR 1.2), redacted,
one page per scenario, so any HAR viewer replays what was sent and what came back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from techval import __version__
from techval.core.exchange import Exchange
from techval.core.redaction import Redactor


@dataclass(frozen=True)
class Page:
    title: str
    first: int  # index of its first exchange
    last: int  # one past its last exchange


def archive(
    exchanges: Sequence[Exchange], pages: Iterable[Page], redactor: Redactor
) -> dict[str, Any]:
    page_list = [p for p in pages if p.last > p.first]
    owner: dict[int, str] = {}
    har_pages = []
    for number, page in enumerate(page_list, start=1):
        page_id = f"scenario_{number}"
        har_pages.append(
            {
                "id": page_id,
                "title": redactor.text(page.title),
                "startedDateTime": exchanges[page.first].started_at,
                "pageTimings": {},
            }
        )
        owner.update(dict.fromkeys(range(page.first, page.last), page_id))
    entries = [_entry(ex, owner.get(i), redactor) for i, ex in enumerate(exchanges)]
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "techval", "version": __version__},
            "pages": har_pages,
            "entries": entries,
        }
    }


def _entry(exchange: Exchange, page: str | None, redactor: Redactor) -> dict[str, Any]:
    body = json.dumps(redactor.data(exchange.request_body), ensure_ascii=False)
    if exchange.is_json:
        text = json.dumps(redactor.data(exchange.response_body), ensure_ascii=False)
    else:
        text = redactor.text(exchange.response_text)
    entry: dict[str, Any] = {
        "startedDateTime": exchange.started_at,
        "time": round(exchange.duration_ms, 1),
        "request": {
            "method": exchange.method,
            "url": exchange.url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _pairs(redactor.headers(exchange.request_headers.items())),
            "queryString": [],
            "postData": {"mimeType": "application/json", "text": body},
            "headersSize": -1,
            "bodySize": len(body.encode()),
        },
        "response": {
            "status": exchange.status or 0,  # 0: no answer (HAR's convention)
            "statusText": exchange.transport_error or "",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _pairs(redactor.headers(exchange.response_headers.items())),
            "content": {
                "size": len(text.encode()),
                "mimeType": exchange.response_headers.get("content-type", ""),
                "text": text,
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": round(exchange.duration_ms, 1), "receive": 0},
        "comment": redactor.text(exchange.summary()),
        "_redoxLogIds": exchange.log_ids,
        "_violations": [str(v) for v in exchange.violations],
    }
    if page:
        entry["pageref"] = page
    return entry


def _pairs(headers: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.items()]
