"""The organization record through Redox's FHIR API, slug `ceq-orgs`: create with
`POST Organization` (a bare Organization whose `id` is the OID of its `identifier`), update and
deactivate (`active: false`) with `fhir.update_verb` (PUT Organization/{oid}, or POST with the
id: INFERRED), read back by `GET Organization/{oid}` and by `Organization/_search` on its name
(paged by next links and by `index`/`limit`: paging.py). An Organization whose `id` is not
the OID of its identifier (system `fhir.oid_system`) is not sent (`id_is_oid`). What a write
answers is `fhir.write_answer` (INFERRED, 4.3): the read-back is the proof that it took
effect. Sources: docs/redox-facts.md, FHIR 4.x."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import (
    Address,
    AlreadyExists,
    Contact,
    FhirSettings,
    OrganizationProfile,
    Settings,
)
from techval.core.errors import BreaksRedoxRule, RedoxRefused, SchemaMismatch
from techval.core.exchange import Exchange, outcome_errors
from techval.core.reporting import Reporter
from techval.core.verifies import verifies
from techval.validation.checks import succeeded
from techval.validation.directory import Read
from techval.validation.fhir import paging

DEFAULTS = FhirSettings()
PHONE_USES = {"office": "work", "work": "work", "mobile": "mobile", "home": "home"}
RESOURCE = "fhir/Organization"
CREATE, UPDATE = "Organization create", "Organization update"  # the requests' labels


@dataclass(frozen=True)
class WriteAnswer:
    """What a write answers under one `fhir.write_answer` mode."""

    schema: str
    what: str  # for a failure's message
    kinds: frozenset[str]  # the resourceTypes it may have


WRITE_ANSWERS = {
    "resource": WriteAnswer(RESOURCE, "the Organization", frozenset({"Organization"})),
    "outcome": WriteAnswer(
        "fhir/OperationOutcome", "an OperationOutcome", frozenset({"OperationOutcome"})
    ),
    "any": WriteAnswer(
        "fhir/Organization.write",
        "an Organization, an OperationOutcome, a Bundle or nothing",
        frozenset({"Organization", "OperationOutcome", "Bundle"}),
    ),
}


def _address(address: Address) -> dict[str, Any]:
    fields = {
        "line": [address.street] if address.street else None,
        "city": address.city,
        "district": address.county,
        "state": address.state,
        "postalCode": address.zip,
        "country": address.country,
    }
    return {key: value for key, value in fields.items() if value}


def _contact(contact: Contact) -> dict[str, Any]:
    telecom = [{"system": "email", "value": email} for email in contact.emails]
    telecom += [
        {"system": "phone", "use": PHONE_USES.get(kind.lower(), "work"), "value": number}
        for kind, number in contact.phone.items()
    ]
    found: dict[str, Any] = {"name": {"text": contact.name}}
    if contact.purpose:
        found["purpose"] = {"text": contact.purpose}
    if telecom:
        found["telecom"] = telecom
    return found


@verifies("FHIR-05")
def resource(
    profile: OrganizationProfile, *, active: bool = True, fhir: FhirSettings = DEFAULTS
) -> dict[str, Any]:
    """The Organization resource of a profile, as Redox's create example shapes it (the OID's
    identifier system and the type's coding system as `fhir` says)."""
    oid_system = fhir.oid_system
    organization: dict[str, Any] = {
        "resourceType": "Organization",
        "id": profile.oid,
        "identifier": [{"use": "official", "system": oid_system, "value": profile.oid}],
        "active": active,
        "name": profile.name,
    }
    if profile.aliases:
        organization["alias"] = list(profile.aliases)
    if profile.type:
        system = fhir.organization_type_system
        organization["type"] = [{"coding": [{"system": system, "code": profile.type}]}]
    if profile.part_of:
        organization["partOf"] = {"identifier": {"system": oid_system, "value": profile.part_of}}
    address = _address(profile.address)
    if address:
        organization["address"] = [address]
    if profile.contacts:
        organization["contact"] = [_contact(c) for c in profile.contacts]
    return organization


@verifies("FHIR-05")
def id_is_oid(
    label: str, organization: dict[str, Any], oid_system: str = DEFAULTS.oid_system
) -> None:
    """Redox's rule for an Organization sent to ceq-orgs: `id` is required and equals the OID
    its `identifier` gives (system `fhir.oid_system`, in Redox's example http://www.hl7.org/oid/):
    BreaksRedoxRule, not sent, when it does not. Source:
    https://docs.redoxengine.com/how-to-use-redox/interact-with-clinical-networks/onramp-to-carequality/create-an-organization-record-with-fhir
    """
    listed = organization.get("identifier")
    oids = [
        i.get("value")
        for i in (listed if isinstance(listed, list) else [])
        if isinstance(i, dict) and i.get("system") == oid_system and i.get("value")
    ]
    rule = "Redox requires the id to be the OID of the identifier"
    if not oids:
        raise BreaksRedoxRule(
            f"{label}: not sent: $.identifier: no OID identifier (system {oid_system}): {rule}"
        )
    if organization.get("id") not in oids:
        raise BreaksRedoxRule(
            f"{label}: not sent: $.id: not the OID of $.identifier (system {oid_system}): {rule}"
        )


def holds(organization: Any, oid: str) -> bool:
    """Whether an Organization resource is the record of `oid` (by id or OID identifier)."""
    if not isinstance(organization, dict) or organization.get("resourceType") != "Organization":
        return False
    if organization.get("id") == oid:
        return True
    identifiers = organization.get("identifier")
    listed = identifiers if isinstance(identifiers, list) else []
    return any(isinstance(i, dict) and i.get("value") in (oid, f"urn:oid:{oid}") for i in listed)


def _adoption_hint(exchange: Exchange, known: AlreadyExists) -> str:
    """For a create refused with a 4xx: which refusal a re-run adopts, and the key."""
    status = exchange.status
    if exchange.label != CREATE or status is None or not 400 <= status < 500:
        return ""
    return (
        f" (a create of a known OID is adopted when refused with {known.describe()}; if Redox "
        f"refuses a known OID so, set {known.key} in the environment file)"
    )


class FhirDirectory:
    """The directory through the FHIR API (validation.directory holds the flow)."""

    where = "Organization"

    def __init__(self, settings: Settings, reporter: Reporter | None = None) -> None:
        self.settings = settings
        self.fhir = settings.fhir
        self.reporter = reporter

    @property
    def already_exists(self) -> AlreadyExists:
        return self.fhir.already_exists

    def _path(self, tail: str) -> str:
        return self.fhir.path(self.fhir.organizations_slug, tail)

    def _headers(self) -> dict[str, str]:
        return self.settings.carequality_headers() if self.fhir.headers_on_directory else {}

    def create(self, client: RedoxClient, profile: OrganizationProfile) -> Exchange:
        body = resource(profile, fhir=self.fhir)
        id_is_oid(CREATE, body, self.fhir.oid_system)
        return client.request(
            CREATE,
            "POST",
            self._path("Organization"),
            json_body=body,
            headers=self._headers(),
            request_schema=RESOURCE,
            response_schema=self._answer_schema(),
        )

    @verifies("ORG-04", "ORG-05")
    def update(
        self, client: RedoxClient, profile: OrganizationProfile, *, active: bool
    ) -> Exchange:
        put = self.fhir.update_verb == "PUT"
        body = resource(profile, active=active, fhir=self.fhir)
        id_is_oid(UPDATE, body, self.fhir.oid_system)
        return client.request(
            UPDATE,
            self.fhir.update_verb,
            self._path(f"Organization/{profile.oid}" if put else "Organization"),
            json_body=body,
            headers=self._headers(),
            request_schema=RESOURCE,
            response_schema=self._answer_schema(),
        )

    def _answer_schema(self) -> str:
        return WRITE_ANSWERS[self.fhir.write_answer].schema

    @verifies("FHIR-06")
    def accepted(self, exchange: Exchange) -> None:
        """A write's answer: 2xx, no error in it (an OperationOutcome's issue of severity error
        or fatal, also inside a Bundle, fails with its text; so does a Bundle entry answered
        other than 2xx), and the answer `fhir.write_answer` says; with `any`, an empty body
        too. Whether the write took effect is for the read-back to show."""
        mode = self.fhir.write_answer
        status = exchange.status
        two_hundred = status is not None and 200 <= status < 300
        if mode == "any" and two_hundred and _empty(exchange):
            return  # nothing to read: the read-back is the proof
        try:
            succeeded(exchange)
        except SchemaMismatch as exc:
            cause = _other_kind(exchange, mode) or str(exc)
            raise SchemaMismatch(f"{cause}{_hint(exchange, mode)}") from None
        except RedoxRefused as exc:
            hint = _adoption_hint(exchange, self.fhir.already_exists)
            raise RedoxRefused(f"{exc}{hint}", status=exc.status, errors=exc.errors) from None
        refused = _entries_refused(exchange.response_body)
        if refused:
            raise RedoxRefused(
                f"{exchange.label}: Redox answered HTTP {status} with a Bundle whose "
                + "; ".join(refused)
            )

    @verifies("FHIR-03", "ORG-03")
    def reads(self, client: RedoxClient, profile: OrganizationProfile) -> list[Read]:
        by_id = client.request(
            "Organization read",
            "GET",
            self._path(f"Organization/{profile.oid}"),
            headers=self._headers(),
            response_schema=RESOURCE,
        )
        form = {"name": [profile.name], "limit": [str(self.fhir.page_limit)]}
        first = client.request(
            "Organization search",
            "POST",
            self._path("Organization/_search"),
            form=form,
            headers=self._headers(),
            response_schema=paging.SEARCHSET,
        )
        # the page that lists the record (names that contain its name may come first)
        walk = paging.pages(
            client,
            first,
            self.fhir,
            self._headers(),
            until=self._lists(profile),
            form=form,
            reporter=self.reporter,
        )
        return [Read(by_id), Read(walk.pages[-1], walk.stopped())]

    def _lists(self, profile: OrganizationProfile) -> Callable[[Exchange], bool]:
        return lambda page: self.found(page, profile.oid) is not None

    def found(self, exchange: Exchange, oid: str) -> dict[str, Any] | None:
        body = exchange.response_body
        if holds(body, oid):
            return body  # type: ignore[no-any-return]
        return next((r for r in paging.entries(body) if holds(r, oid)), None)

    def expected(self, profile: OrganizationProfile, *, active: bool) -> dict[str, Any]:
        return resource(profile, active=active, fhir=self.fhir)


def _other_kind(exchange: Exchange, mode: str) -> str | None:
    """What the answer is when it is a resource of another type than `mode` takes ("<label>:
    the answer is a Bundle, not the Organization"): its schema's violations only follow."""
    body = exchange.response_body
    kind = body.get("resourceType") if isinstance(body, dict) else None
    expected = WRITE_ANSWERS[mode]
    if not isinstance(kind, str) or not kind or kind in expected.kinds:
        return None
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    return f"{exchange.label}: the answer is {article} {kind}, not {expected.what}"


def _empty(exchange: Exchange) -> bool:
    """An answer with no body at all (blank), read to its end."""
    return not exchange.oversized and not exchange.response_text.strip()


def _hint(exchange: Exchange, mode: str) -> str:
    """The mode, and the modes that take an answer of this kind (an empty one: `any`)."""
    body = exchange.response_body
    kind = body.get("resourceType") if isinstance(body, dict) else None
    takers = [
        other
        for other, answer in WRITE_ANSWERS.items()
        if other != mode and (kind in answer.kinds or (_empty(exchange) and other == "any"))
    ]
    if not takers:
        return f" (fhir.write_answer: {mode})"
    return (
        f" (fhir.write_answer: {mode}; if Redox answers its writes so, set it to "
        f"{' or '.join(takers)} in the environment file)"
    )


def _entries_refused(body: Any) -> list[str]:
    """What a Bundle's entries say went wrong (a transaction-response, 7.8): each
    `entry[i].response.status` other than 2xx, and the error texts of an
    `entry[i].response.outcome` (FHIR R4 Bundle)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return []
    listed = body.get("entry")
    found = []
    for index, entry in enumerate(listed if isinstance(listed, list) else []):
        answer = entry.get("response") if isinstance(entry, dict) else None
        if not isinstance(answer, dict):
            continue
        status = str(answer.get("status") or "").strip()
        if status and not status.startswith("2"):
            found.append(f"$.entry[{index}].response.status: {status}")
        found += [
            f"$.entry[{index}].response.outcome: {text}"
            for text in outcome_errors(answer.get("outcome"))
        ]
    return found
