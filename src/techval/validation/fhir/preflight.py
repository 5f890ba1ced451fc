"""One harmless request per Carequality slug of Redox's FHIR API, for `techval doctor`: your
organization record read on `ceq-orgs` (`GET Organization/{your sender OID}`), and at your own
organization a `Patient/_search` on `ceq-xcpd:{oid}` and a `DocumentReference/_search` on
`ceq-xca:{oid}` by identifiers that cannot exist (nothing is found, nothing is written), with
the Carequality headers.

An answer is judged by its status and fields, never by the words of its text: 401 with a fresh
token (the client renewed it once) is the Carequality headers refused (3.7); 403 forbidden;
a 404 OperationOutcome whose code is Redox's "no module" (MSG_NO_MODULE, 8.4: "Unknown slug")
or that is not a `not-found` issue, no destination at that path; a 404 that is no
OperationOutcome at all, no FHIR API at that path (8.6: an empty 404 is Redox's answer to a
path it has no interaction for). A `not-found` OperationOutcome is the module answering that
what was asked is not there: reached (your organization record before validation step 1, a
document that does not exist, 6.12). Sources: docs/redox-facts.md, FHIR 3.7, 6.12, 8.1, 8.4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from techval.core.client import RedoxClient
from techval.core.config import FhirSettings, Settings
from techval.core.errors import RedoxRefused
from techval.core.exchange import Exchange
from techval.validation.checks import answered, succeeded
from techval.validation.fhir.paging import SEARCHSET

NO_MODULE = "MSG_NO_MODULE"  # Redox's code for a path it has no module for (8.4)
NOWHERE = "techval-doctor-no-such-{what}"  # an identifier value nobody holds
KINDS = ("organizations", "patients", "documents")  # the keys under fhir.slugs


class SlugRefused(RedoxRefused):
    """The request itself was refused (not what it asked for): `status` as answered."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class HeadersRefused(SlugRefused):
    """401 with a fresh token: the Carequality headers missing or not accepted."""


class Forbidden(SlugRefused):
    """403: this client may not use the slug."""


class UnknownSlug(SlugRefused):
    """A 404 OperationOutcome that says Redox has no destination at the path (slug, environment
    or interaction unknown)."""


class NotFhirApi(SlugRefused):
    """A 404 that is no OperationOutcome: nothing at that path answers as Redox's FHIR API."""


@dataclass(frozen=True)
class Probe:
    kind: str  # organizations | patients | documents (the key under fhir.slugs)
    slug: str  # as sent
    queries: bool  # asks a Carequality organization: not in production without permission
    send: Callable[[RedoxClient], Exchange]


def probes(settings: Settings) -> list[Probe]:
    fhir, own = settings.fhir, settings.carequality.sender.oid
    carequality = settings.carequality_headers()
    directory = carequality if fhir.headers_on_directory else {}
    orgs = fhir.organizations_slug
    patients = fhir.patients_slug.format(oid=own)
    documents = fhir.documents_slug.format(oid=own)

    def read_organization(client: RedoxClient) -> Exchange:
        return client.request(
            "Organization read",
            "GET",
            fhir.path(orgs, f"Organization/{quote(own, safe='')}"),
            headers=directory,
            response_schema="fhir/Organization",
        )

    def search(
        label: str, slug: str, resource: str, oid: str, what: str
    ) -> Callable[[RedoxClient], Exchange]:
        def send(client: RedoxClient) -> Exchange:
            return client.request(
                label,
                "POST",
                fhir.path(slug, f"{resource}/_search"),
                form={"identifier": [f"urn:oid:{oid}|{NOWHERE.format(what=what)}"]},
                headers=carequality,
                response_schema=SEARCHSET,
            )

        return send

    return [
        Probe("organizations", orgs, False, read_organization),
        Probe(
            "patients",
            patients,
            True,
            search("Patient search", patients, "Patient", settings.oids.patient, "patient"),
        ),
        Probe(
            "documents",
            documents,
            True,
            search(
                "DocumentReference search",
                documents,
                "DocumentReference",
                settings.oids.document,
                "document",
            ),
        ),
    ]


def refusal(exchange: Exchange) -> SlugRefused | None:
    """The refusal of the request itself an answer is, by its status and fields; None for any
    other answer."""
    status = exchange.status
    said = f"{exchange.label}: Redox answered HTTP {status}: " + (
        "; ".join(exchange.redox_errors) or "no error text in the body"
    )
    if status == 401:
        return HeadersRefused(said, status)
    if status == 403:
        return Forbidden(said, status)
    if status != 404:
        return None
    issues = _issues(exchange.response_body)
    if issues is None:
        shown = exchange.response_headers.get("content-type") or "no content-type"
        body = "an empty body" if not exchange.response_text.strip() else shown
        return NotFhirApi(
            f"{exchange.label}: Redox answered HTTP 404 with {body}, no OperationOutcome", status
        )
    if not _not_found(issues):
        return UnknownSlug(said, status)
    return None


def reached(exchange: Exchange) -> bool:
    """Whether the slug's destination answered: True with what was asked, False for a
    `not-found` OperationOutcome. Raises a SlugRefused, or the CheckFailed of any other
    answer that is not a success matching its schema."""
    refused = refusal(exchange)
    if refused is not None:
        raise refused
    if exchange.status == 404:
        answered(exchange)  # an OperationOutcome, checked against its schema
        return False
    succeeded(exchange)
    return True


def kind_of(fhir: FhirSettings, url: str) -> str | None:
    """Which slug (key under fhir.slugs) a request's URL went to, by the slugs' text up to the
    organization's OID."""
    path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
    for kind, slug in zip(
        KINDS, (fhir.organizations_slug, fhir.patients_slug, fhir.documents_slug), strict=True
    ):
        before, marker, _ = slug.partition("{oid}")
        if path.startswith(f"{fhir.base_path}/{before}{'' if marker else '/'}"):
            return kind
    return None


def _issues(body: Any) -> list[dict[str, Any]] | None:
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    listed = body.get("issue")
    return [i for i in listed if isinstance(i, dict)] if isinstance(listed, list) else []


def _not_found(issues: list[dict[str, Any]]) -> bool:
    """Every issue is `not-found`, and none carries Redox's no-module code."""
    if not issues:
        return False
    for issue in issues:
        details = issue.get("details")
        codings = details.get("coding") if isinstance(details, dict) else None
        codes = {c.get("code") for c in codings or [] if isinstance(c, dict)}
        if issue.get("code") != "not-found" or NO_MODULE in codes:
            return False
    return True
