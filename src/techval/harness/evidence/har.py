"""reports/exchanges.har: every exchange of the run as an HTTP archive (HAR 1.2), redacted,
one page per scenario, so any HAR viewer replays what was sent and what came back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from techval import __version__
from techval.core.exchange import Exchange, masked_form
from techval.core.redaction import Redactor
from techval.harness.evidence.outcomes import ScenarioOutcome


def archive(
    outcomes: Sequence[ScenarioOutcome], entries: Iterable[tuple[str | None, dict[str, Any]]]
) -> dict[str, Any]:
    """The HAR of a run from its events: `entries` are (scenario node ID or None, entry) as
    the exchange events carry them, already redacted; one page per scenario that sent
    anything, in the suite's order; entries in the order they started."""
    entries = sorted(entries, key=lambda pair: str(pair[1].get("startedDateTime", "")))
    first: dict[str, str] = {}
    for scenario, item in entries:
        if scenario is not None:
            first.setdefault(scenario, str(item.get("startedDateTime", "")))
    page_of: dict[str, str] = {}
    pages: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.nodeid not in first:
            continue
        page_of[outcome.nodeid] = f"scenario_{len(pages) + 1}"
        pages.append(
            {
                "id": page_of[outcome.nodeid],
                "title": outcome.title,
                "startedDateTime": first[outcome.nodeid],
                "pageTimings": {},
            }
        )
    har_entries = []
    for scenario, item in entries:
        page = page_of.get(scenario or "")
        har_entries.append({**item, "pageref": page} if page else dict(item))
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "techval", "version": __version__},
            "pages": pages,
            "entries": har_entries,
        }
    }


def entry(exchange: Exchange, redactor: Redactor) -> dict[str, Any]:
    """One exchange as a HAR entry, redacted, with the headers and content type it was
    really sent with (the token request and FHIR searches are forms, the Redox messages JSON;
    a GET has no body). Built again when the redactor learned a patient's value from a part of
    it, so that the parts built before mask it too (an id the answer gives, the URL echoes)."""
    learned = redactor.learned
    built = _entry(exchange, redactor)
    return built if redactor.learned == learned else _entry(exchange, redactor)


def _entry(exchange: Exchange, redactor: Redactor) -> dict[str, Any]:
    post_data = _post_data(exchange, redactor)
    url = redactor.url(exchange.url)  # a patient's id or search parameters masked
    if exchange.is_json:
        text = json.dumps(redactor.data(exchange.response_body), ensure_ascii=False)
    else:
        text = redactor.text(exchange.response_text)
    har_entry: dict[str, Any] = {
        "startedDateTime": exchange.started_at,
        "time": round(exchange.duration_ms, 1),
        "request": {
            "method": exchange.method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _pairs(redactor.headers(exchange.request_headers.items())),
            "queryString": [
                {"name": k, "value": redactor.text(v)}
                for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
            ],
            **({"postData": post_data} if post_data is not None else {}),
            "headersSize": -1,
            "bodySize": len(post_data["text"].encode()) if post_data is not None else 0,
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
    return har_entry


def _header(headers: dict[str, str], name: str) -> str:
    return next((value for key, value in headers.items() if key.lower() == name), "")


def _post_data(exchange: Exchange, redactor: Redactor) -> dict[str, Any] | None:
    """The request body as HAR's postData, masked; None when nothing was sent (a GET)."""
    if exchange.request_form is None and exchange.request_body is None:
        return None
    mime_type = _header(exchange.request_headers, "content-type") or "application/json"
    if exchange.request_form is not None:  # a form: each parameter, masked in one place
        form = masked_form(exchange.request_form, redactor, exchange.url)
        pairs = [(name, value) for name, values in form.items() for value in values]
        return _params(pairs, mime_type)
    body = redactor.data(exchange.request_body)
    if mime_type.startswith("application/x-www-form-urlencoded") and isinstance(body, dict):
        return _params([(str(k), str(v)) for k, v in body.items()], mime_type)  # the token's
    return {"mimeType": mime_type, "text": json.dumps(body, ensure_ascii=False)}


def _params(pairs: list[tuple[str, str]], mime_type: str) -> dict[str, Any]:
    return {
        "mimeType": mime_type,
        "params": [{"name": k, "value": v} for k, v in pairs],
        "text": urlencode(pairs, safe="*"),
    }


def _pairs(headers: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.items()]
