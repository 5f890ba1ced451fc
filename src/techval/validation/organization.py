"""Organization records in the Carequality directory: messages and the read-back."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import Address, Contact, OrganizationProfile, Settings
from techval.core.errors import NotFound, ReadbackMismatch
from techval.core.exchange import Exchange
from techval.validation import readback
from techval.validation.checks import refused_with, succeeded
from techval.validation.messages import envelope

DIRECTORY = "Carequality"
ALREADY_EXISTS = "already exists."


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


def new_message(settings: Settings, profile: OrganizationProfile) -> dict[str, Any]:
    message = envelope(settings, "Organization", "New", "organization")
    message.update(Directory=DIRECTORY, Organizations=[record(profile)])
    return message


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


@dataclass
class Write:
    """The exchanges of one change to the directory (two when an existing record was adopted)."""

    exchanges: list[Exchange]

    @property
    def final(self) -> Exchange:
        return self.exchanges[-1]


def create_or_adopt(client: RedoxClient, settings: Settings, profile: OrganizationProfile) -> Write:
    """Organization.New; when the directory already holds the OID (a re-run), adopt the record
    and bring it to the configured state with Organization.Update instead of failing."""
    created = client.send(new_message(settings, profile))
    if not refused_with(created, 403, ALREADY_EXISTS):
        return Write([created])
    synced = client.send(update_message(settings, profile))
    return Write([created, synced])


def read_back(client: RedoxClient, settings: Settings, oid: str) -> tuple[Exchange, dict[str, Any]]:
    """Query the directory by OID; the record found, or CheckFailed naming what went wrong."""
    exchange = client.send(query_message(settings, oid))
    succeeded(exchange)
    found = find(exchange.response_body.get("Organizations"), oid)
    if found is None:
        raise NotFound(f"Organization.Query: the directory returned no record with OID {oid}")
    return exchange, found


def expect_record(found: dict[str, Any], profile: OrganizationProfile, *, active: bool) -> None:
    """The directory's record holds what was sent (readback.differences: with Redox's tolerance
    for nulls, order and added fields), each difference named by its path."""
    expected = record(profile, active=active)
    expected.pop("DestinationID")  # the directory may keep this one to itself
    problems = readback.differences(expected, found, "Organizations[]")
    if problems:
        raise ReadbackMismatch(
            f"the directory does not reflect the record for {profile.oid}: "
            + readback.describe(problems)
        )
