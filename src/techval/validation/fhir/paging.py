"""Searchset Bundles as Redox pages them: each page's `next` link (9.1) followed with
`fhir.next_verb` (GET, or POST with an empty form: how is undocumented, 9.2) and the same
headers; a directory search (`Organization/_search` on ceq-orgs) also by its own `index` and
`limit` (9.3): a full page without a next link is followed by the same form with `index`
advanced. At most `fhir.max_pages` pages in all: a walk that limit ends while more remained
says so (`Walk.stopped`, a note in the report), so that nothing passes or fails as not found
on pages never read. A next link elsewhere than base_url is Redox's answer being wrong: not
followed (the token goes to base_url only)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import FhirSettings
from techval.core.errors import WrongContent
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.core.verifies import verifies
from techval.validation.checks import succeeded

SEARCHSET = "fhir/Bundle.searchset"
MAX_PAGES = "fhir.max_pages"


@dataclass(frozen=True)
class Walk:
    """The pages of one search as read, and whether `fhir.max_pages` ended the walk while the
    last page pointed to more."""

    pages: list[Exchange]
    more: bool = False

    def stopped(self) -> str:
        """Why what the pages lack may be on pages not read; "" when the walk read them all."""
        if not self.more:
            return ""
        return (
            f"stopped after {len(self.pages)} page(s) with more remaining (raise {MAX_PAGES} "
            "to read further)"
        )


def entries(bundle: Any) -> list[Any]:
    """The resources of a searchset Bundle's entries (none for anything else)."""
    listed = bundle.get("entry") if isinstance(bundle, dict) else None
    if not isinstance(listed, list):
        return []
    return [entry.get("resource") for entry in listed if isinstance(entry, dict)]


@verifies("FHIR-06")
def next_link(bundle: Any) -> str | None:
    links = bundle.get("link") if isinstance(bundle, dict) else None
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def matches(bundle: Any) -> int:
    """How many results a page holds (an OperationOutcome entry is none)."""
    return sum(
        1
        for r in entries(bundle)
        if not (isinstance(r, dict) and r.get("resourceType") == "OperationOutcome")
    )


@dataclass(frozen=True)
class _Onward:
    """The request for the page after one."""

    method: str
    url: str
    form: dict[str, list[str]] | None


def _limit(form: Mapping[str, Sequence[str]] | None) -> int | None:
    values = list((form or {}).get("limit") or [])
    return int(values[0]) if values and str(values[0]).isdigit() else None


def _onward(
    client: RedoxClient,
    first: Exchange,
    last: Exchange,
    fhir: FhirSettings,
    form: Mapping[str, Sequence[str]] | None,
    read: int,
) -> _Onward | None:
    """How the page after `last` is asked for (`read`: the results of the pages so far); None
    when there is none. WrongContent for a next link elsewhere than base_url."""
    if last.status != 200:
        return None  # not a good searchset: the checks on it say why
    body = last.response_body
    link = next_link(body)
    if link is not None:
        problem = client.elsewhere(link)
        if problem is not None:
            raise WrongContent(
                f"{last.label}: $.link[next].url: {problem}: Redox's next link is not followed"
            )
        return _Onward(fhir.next_verb, link, {} if fhir.next_verb == "POST" else None)
    limit = _limit(form)
    if form is None or limit is None or limit < 1 or matches(body) < limit:
        return None
    total = body.get("total") if isinstance(body, dict) else None
    if isinstance(total, int) and not isinstance(total, bool) and total <= read:
        return None  # a full last page: the total says so
    sent = {str(k): [str(v) for v in vs] for k, vs in form.items()}
    return _Onward("POST", first.url, sent | {"index": [str(read)]})


def pages(
    client: RedoxClient,
    first: Exchange,
    fhir: FhirSettings,
    headers: dict[str, str],
    *,
    until: Callable[[Exchange], bool] | None = None,
    form: Mapping[str, Sequence[str]] | None = None,
    reporter: Reporter | None = None,
) -> Walk:
    """`first` and the pages after it (until a page `until` accepts, when given); a page that
    is not a good searchset ends the walk (the checks on it say why). `form`: the form of a
    search that also pages by `index` and `limit` (9.3), its `limit` the page size. A walk
    that `fhir.max_pages` ends with more remaining is told to `reporter` as a note."""
    found = [first]
    read = matches(first.response_body) if first.status == 200 else 0
    while True:
        last = found[-1]
        if until is not None and until(last):
            return Walk(found)
        onward = _onward(client, first, last, fhir, form, read)
        if onward is None:
            return Walk(found)
        if len(found) >= fhir.max_pages:
            walk = Walk(found, more=True)
            if reporter is not None:
                reporter.note(f"{first.label}: {walk.stopped()}")
            return walk
        page = client.request(
            f"{first.label}, page {len(found) + 1}",
            onward.method,
            onward.url,
            form=onward.form,
            headers=headers,
            response_schema=SEARCHSET,
            kind=first.kind or first.label,
        )
        found.append(page)
        read += matches(page.response_body) if page.status == 200 else 0


def resources(found: Sequence[Exchange], kind: str) -> list[dict[str, Any]]:
    """The resources of `kind` on every page, each page checked as an answer first."""
    return [resource for _, resource in placed(found, kind)]


def placed(found: Sequence[Exchange], kind: str) -> list[tuple[str, dict[str, Any]]]:
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
