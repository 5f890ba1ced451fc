"""The organization record through Redox's FHIR API, slug `ceq-orgs`: create with
`POST Organization` (a bare Organization whose `id` is the OID of its `identifier`), update and
deactivate (`active: false`) with `fhir.update_verb` (PUT Organization/{oid}, or POST with the
id: INFERRED), read back by `GET Organization/{oid}` and by `Organization/_search` on its name
(paged by next links and by `index`/`limit`: paging.py).
An Organization whose `id` is not the OID of its identifier is not sent (`id_is_oid`).
Sources: docs/redox-facts.md, FHIR 4.x."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import Address, Contact, OrganizationProfile, Settings
from techval.core.errors import BreaksRedoxRule
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.validation.directory import Read
from techval.validation.fhir import paging

OID_SYSTEM = "http://www.hl7.org/oid/"  # the identifier system of Redox's create example
# The default of fhir.organization_type_system (INFERRED: Redox's example is cut off there).
TYPE_SYSTEM = "https://sequoiaproject.org/fhir/sphd/CodeSystem/OrganizationType"
PHONE_USES = {"office": "work", "work": "work", "mobile": "mobile", "home": "home"}
RESOURCE = "fhir/Organization"


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


def resource(
    profile: OrganizationProfile, *, active: bool = True, type_system: str = TYPE_SYSTEM
) -> dict[str, Any]:
    """The Organization resource of a profile, as Redox's create example shapes it."""
    organization: dict[str, Any] = {
        "resourceType": "Organization",
        "id": profile.oid,
        "identifier": [{"use": "official", "system": OID_SYSTEM, "value": profile.oid}],
        "active": active,
        "name": profile.name,
    }
    if profile.aliases:
        organization["alias"] = list(profile.aliases)
    if profile.type:
        organization["type"] = [{"coding": [{"system": type_system, "code": profile.type}]}]
    if profile.part_of:
        organization["partOf"] = {"identifier": {"system": OID_SYSTEM, "value": profile.part_of}}
    address = _address(profile.address)
    if address:
        organization["address"] = [address]
    if profile.contacts:
        organization["contact"] = [_contact(c) for c in profile.contacts]
    return organization


def id_is_oid(label: str, organization: dict[str, Any]) -> None:
    """Redox's rule for an Organization sent to ceq-orgs: `id` is required and equals the OID
    its `identifier` gives (system http://www.hl7.org/oid/): BreaksRedoxRule, not sent, when
    it does not. Source:
    https://docs.redoxengine.com/how-to-use-redox/interact-with-clinical-networks/onramp-to-carequality/create-an-organization-record-with-fhir
    """
    listed = organization.get("identifier")
    oids = [
        i.get("value")
        for i in (listed if isinstance(listed, list) else [])
        if isinstance(i, dict) and i.get("system") == OID_SYSTEM and i.get("value")
    ]
    rule = "Redox requires the id to be the OID of the identifier"
    if not oids:
        raise BreaksRedoxRule(
            f"{label}: not sent: $.identifier: no OID identifier (system {OID_SYSTEM}): {rule}"
        )
    if organization.get("id") not in oids:
        raise BreaksRedoxRule(
            f"{label}: not sent: $.id: not the OID of $.identifier (system {OID_SYSTEM}): {rule}"
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


class FhirDirectory:
    """The directory through the FHIR API (validation.directory holds the flow)."""

    where = "Organization"

    def __init__(self, settings: Settings, reporter: Reporter | None = None) -> None:
        self.settings = settings
        self.fhir = settings.fhir
        self.reporter = reporter

    def _path(self, tail: str) -> str:
        return self.fhir.path(self.fhir.organizations_slug, tail)

    def _headers(self) -> dict[str, str]:
        return self.settings.carequality_headers() if self.fhir.headers_on_directory else {}

    def create(self, client: RedoxClient, profile: OrganizationProfile) -> Exchange:
        body = resource(profile, type_system=self.fhir.organization_type_system)
        id_is_oid("Organization create", body)
        return client.request(
            "Organization create",
            "POST",
            self._path("Organization"),
            json_body=body,
            headers=self._headers(),
            request_schema=RESOURCE,
            response_schema=RESOURCE,
        )

    def update(
        self, client: RedoxClient, profile: OrganizationProfile, *, active: bool
    ) -> Exchange:
        put = self.fhir.update_verb == "PUT"
        body = resource(profile, active=active, type_system=self.fhir.organization_type_system)
        id_is_oid("Organization update", body)
        return client.request(
            "Organization update",
            self.fhir.update_verb,
            self._path(f"Organization/{profile.oid}" if put else "Organization"),
            json_body=body,
            headers=self._headers(),
            request_schema=RESOURCE,
            response_schema=RESOURCE,
        )

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
        return resource(profile, active=active, type_system=self.fhir.organization_type_system)
