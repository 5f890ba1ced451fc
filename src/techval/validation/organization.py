"""Organization records in the Carequality directory through the Data Model API: the messages,
and the DataModelDirectory the lifecycle in validation.directory runs on."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import Address, Contact, OrganizationProfile, Settings
from techval.core.exchange import Exchange
from techval.core.verifies import verifies
from techval.validation.checks import succeeded
from techval.validation.directory import Read
from techval.validation.messages import envelope

DIRECTORY = "Carequality"


def address_fields(address: Address) -> dict[str, str | None]:
    return {
        "StreetAddress": address.street,
        "City": address.city,
        "State": address.state,
        "ZIP": address.zip,
        "County": address.county,
        "Country": address.country,
    }


def contact_fields(contact: Contact) -> dict[str, Any]:
    phone = {key.capitalize(): value for key, value in contact.phone.items()}
    return {
        "Purpose": contact.purpose,
        "Name": contact.name,
        "EmailAddresses": list(contact.emails),
        "PhoneNumber": phone,
    }


def record(profile: OrganizationProfile, *, active: bool = True) -> dict[str, Any]:
    """The Organizations[] entry for a profile, in Redox's field names."""
    return {
        "Name": profile.name,
        "Active": active,
        "Aliases": list(profile.aliases),
        "Identifiers": [{"ID": profile.oid, "IDType": "OID"}],
        "Type": {"System": None, "Value": profile.type},
        "PartOf": {"Identifier": {"Type": None, "System": None, "Value": profile.part_of}},
        "Contacts": [contact_fields(c) for c in profile.contacts],
        "Address": address_fields(profile.address),
        "DestinationID": profile.destination_id,
    }


def updated(profile: OrganizationProfile) -> OrganizationProfile:
    """The profile as the update check changes it: its update address and contacts."""
    return replace(profile, address=profile.update_address, contacts=profile.update_contacts)


@verifies("ORG-01")
def new_message(settings: Settings, profile: OrganizationProfile) -> dict[str, Any]:
    message = envelope(settings, "Organization", "New", "organization")
    message.update(Directory=DIRECTORY, Organizations=[record(profile)])
    return message


@verifies("ORG-04", "ORG-05")
def update_message(
    settings: Settings, profile: OrganizationProfile, *, active: bool = True
) -> dict[str, Any]:
    message = envelope(settings, "Organization", "Update", "organization")
    message.update(
        Directory=DIRECTORY, Action="Update", Organizations=[record(profile, active=active)]
    )
    return message


def query_message(settings: Settings, oid: str) -> dict[str, Any]:
    message = envelope(settings, "Organization", "Query", "organization")
    message.update(Directory=DIRECTORY, Identifier={"ID": oid, "IDType": "OID"})
    return message


def find(organizations: Any, oid: str) -> dict[str, Any] | None:
    """The record carrying `oid` as an OID identifier in a QueryResponse's Organizations."""
    for org in organizations if isinstance(organizations, list) else []:
        if not isinstance(org, dict):
            continue
        for identifier in org.get("Identifiers") or []:
            if isinstance(identifier, dict) and identifier.get("ID") == oid:
                return org
    return None


class DataModelDirectory:
    """The directory through the Data Model API: Organization.New, .Update and .Query messages
    to the organization destination (validation.directory holds the flow)."""

    where = "Organizations[]"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def create(self, client: RedoxClient, profile: OrganizationProfile) -> Exchange:
        return client.send(new_message(self.settings, profile))

    def update(
        self, client: RedoxClient, profile: OrganizationProfile, *, active: bool
    ) -> Exchange:
        return client.send(update_message(self.settings, profile, active=active))

    def accepted(self, exchange: Exchange) -> None:
        succeeded(exchange)

    def reads(self, client: RedoxClient, profile: OrganizationProfile) -> list[Read]:
        return [Read(client.send(query_message(self.settings, profile.oid)))]

    def found(self, exchange: Exchange, oid: str) -> dict[str, Any] | None:
        body = exchange.response_body
        return find(body.get("Organizations") if isinstance(body, dict) else None, oid)

    def expected(self, profile: OrganizationProfile, *, active: bool) -> dict[str, Any]:
        expected = record(profile, active=active)
        expected.pop("DestinationID")  # the directory may keep this one to itself
        return expected
