"""The organization record's lifecycle in the Carequality directory, the same through either
Redox API: create (adopting the record a re-run finds there), update, deactivate, read back.

What differs between the APIs is a `DirectoryApi`: how each request is made, where the record
sits in an answer and what shape it has (validation.organization for the Data Model,
validation.fhir.organization for FHIR). This module holds the flow and the checks, and imports
neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from techval.core.client import RedoxClient
from techval.core.config import OrganizationProfile
from techval.core.errors import NotFound, ReadbackMismatch
from techval.core.exchange import Exchange
from techval.core.verifies import verifies
from techval.validation import readback
from techval.validation.checks import refused_with, succeeded

ALREADY_EXISTS = "already exists."  # the directory's 403 for a create of a known OID


@dataclass(frozen=True)
class Read:
    """One answer of a read-back, and why the record may be where the read did not reach
    (a search that stopped with pages remaining); "" when the read saw all there was."""

    exchange: Exchange
    stopped: str = ""


class DirectoryApi(Protocol):
    def create(self, client: RedoxClient, profile: OrganizationProfile) -> Exchange:
        """Send the record as new."""

    def update(
        self, client: RedoxClient, profile: OrganizationProfile, *, active: bool
    ) -> Exchange:
        """Send the record as it should now be (active: false deactivates it)."""

    def accepted(self, exchange: Exchange) -> None:
        """The write's answer says the directory took it; CheckFailed naming why not."""

    def reads(self, client: RedoxClient, profile: OrganizationProfile) -> list[Read]:
        """Read the record back, in each way the API offers (by OID, by name...)."""

    def found(self, exchange: Exchange, oid: str) -> dict[str, Any] | None:
        """The record with `oid` in an answer of `reads`, in the API's shape."""

    def expected(self, profile: OrganizationProfile, *, active: bool) -> dict[str, Any]:
        """The record the directory should hold, in the shape `found` returns."""

    @property
    def where(self) -> str:
        """Where a record sits in an answer, for naming differences ("Organizations[]")."""


@dataclass
class Write:
    """The exchanges of one change to the directory (two when an existing record was adopted)."""

    exchanges: list[Exchange]

    @property
    def final(self) -> Exchange:
        return self.exchanges[-1]


@verifies("ORG-02")
def create_or_adopt(api: DirectoryApi, client: RedoxClient, profile: OrganizationProfile) -> Write:
    """Send the record as new; when the directory already holds the OID (a re-run), adopt the
    record and bring it to the configured state with an update instead of failing."""
    created = api.create(client, profile)
    if not refused_with(created, 403, ALREADY_EXISTS):
        return Write([created])
    return Write([created, api.update(client, profile, active=True)])


def accepted(api: DirectoryApi, write: Write) -> None:
    """The directory took the change: its last answer, as the API answers a write."""
    api.accepted(write.final)


def update(
    api: DirectoryApi, client: RedoxClient, profile: OrganizationProfile, *, active: bool = True
) -> Write:
    return Write([api.update(client, profile, active=active)])


@verifies("ORG-03")
def read_back(
    api: DirectoryApi, client: RedoxClient, profile: OrganizationProfile
) -> list[dict[str, Any]]:
    """The record as each read of the API returns it; CheckFailed naming what went wrong."""
    records = []
    for read in api.reads(client, profile):
        exchange = read.exchange
        succeeded(exchange)
        found = api.found(exchange, profile.oid)
        if found is None:
            stopped = f": {read.stopped}" if read.stopped else ""
            raise NotFound(
                f"{exchange.label}: the directory returned no record with OID {profile.oid}"
                + stopped
            )
        records.append(found)
    return records


@verifies("ORG-03", "ORG-04", "ORG-05")
def expect_record(
    api: DirectoryApi,
    records: list[dict[str, Any]],
    profile: OrganizationProfile,
    *,
    active: bool,
) -> None:
    """Every read-back record holds what was sent (readback.differences: with Redox's
    tolerance for nulls, order and added fields), each difference named by its path."""
    expected = api.expected(profile, active=active)
    for found in records:
        problems = readback.differences(expected, found, api.where)
        if problems:
            raise ReadbackMismatch(
                f"the directory does not reflect the record for {profile.oid}: "
                + readback.describe(problems)
            )
