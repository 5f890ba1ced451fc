"""Searchset Bundles as Redox pages them: the `next` link of each page followed with GET (the
same headers), at most `fhir.max_pages` pages in all; the resources of every page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import FhirSettings
from techval.core.exchange import Exchange
from techval.validation.checks import succeeded

SEARCHSET = "fhir/Bundle.searchset"


def entries(bundle: Any) -> list[Any]:
    """The resources of a searchset Bundle's entries (none for anything else)."""
    listed = bundle.get("entry") if isinstance(bundle, dict) else None
    if not isinstance(listed, list):
        return []
    return [entry.get("resource") for entry in listed if isinstance(entry, dict)]


def next_link(bundle: Any) -> str | None:
    links = bundle.get("link") if isinstance(bundle, dict) else None
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def pages(
    client: RedoxClient,
    first: Exchange,
    fhir: FhirSettings,
    headers: dict[str, str],
    *,
    until: Callable[[Exchange], bool] | None = None,
) -> list[Exchange]:
    """`first` and the pages after it (until a page `until` accepts, when given); a page that
    is not a good searchset ends the walk (the checks on it say why)."""
    found = [first]
    while len(found) < fhir.max_pages:
        last = found[-1]
        if until is not None and until(last):
            break
        link = next_link(last.response_body) if last.status == 200 else None
        if link is None:
            break
        found.append(
            client.request(
                f"{first.label}, page {len(found) + 1}",
                "GET",
                link,
                headers=headers,
                response_schema=SEARCHSET,
            )
        )
    return found


def resources(found: list[Exchange], kind: str) -> list[dict[str, Any]]:
    """The resources of `kind` on every page, each page checked as an answer first."""
    return [resource for _, resource in placed(found, kind)]


def placed(found: list[Exchange], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """The resources of `kind` on every page, each with where it is: the page's label and
    its entry (`Patient search, page 2: $.entry[3].resource`), each page checked first."""
    listed: list[tuple[str, dict[str, Any]]] = []
    for page in found:
        succeeded(page)
        body = page.response_body
        listed_entries = body.get("entry") if isinstance(body, dict) else None
        for index, entry in enumerate(listed_entries if isinstance(listed_entries, list) else []):
            r = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(r, dict) and r.get("resourceType") == kind:
                listed.append((f"{page.label}: $.entry[{index}].resource", r))
    return listed
