"""Glue for features/1_organization.feature; the logic is in techval.validation.directory, the
requests in the run's API (techval.validation.apis)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import given, then, when

from techval.core.client import RedoxClient
from techval.core.config import OrganizationProfile
from techval.core.reporting import Reporter
from techval.validation import directory, organization, recommendations
from techval.validation.apis import Api


@pytest.fixture
def restore_directory(
    client: RedoxClient,
    api: Api,
    organization_profile: OrganizationProfile,
    reporter: Reporter,
) -> Iterator[list[str]]:
    """Steps that change the record say so here; teardown puts the configured record back."""
    changes: list[str] = []
    yield changes
    if changes:
        with reporter.step("Restore the configured organization record"):
            write = directory.update(api.directory, client, organization_profile)
            directory.accepted(api.directory, write)


@given("the organization record is in the directory")
def record_in_directory(client, api, organization_profile):
    write = directory.create_or_adopt(api.directory, client, organization_profile)
    directory.accepted(api.directory, write)


@when("the organization record is sent to the directory as new", target_fixture="write")
def send_new_record(client, api, settings, organization_profile, reporter):
    recommendations.parent_organization(settings, organization_profile, reporter)
    return directory.create_or_adopt(api.directory, client, organization_profile)


@when("the address and contacts of the organization record are changed", target_fixture="write")
def change_address_and_contacts(client, api, organization_profile, restore_directory):
    restore_directory.append("address and contacts")
    return directory.update(api.directory, client, organization.updated(organization_profile))


@when("the organization record is deactivated", target_fixture="write")
def deactivate(client, api, organization_profile, restore_directory):
    restore_directory.append("active")
    return directory.update(api.directory, client, organization_profile, active=False)


@then("the directory accepts the record")
def directory_accepts(write, api):
    directory.accepted(api.directory, write)


@then("querying the directory by its OID returns the record as configured")
def reads_back_as_configured(client, api, organization_profile):
    found = directory.read_back(api.directory, client, organization_profile)
    directory.expect_record(api.directory, found, organization_profile, active=True)


@then("querying the directory by its OID returns the changed address and contacts")
def reads_back_changed(client, api, organization_profile):
    changed = organization.updated(organization_profile)
    found = directory.read_back(api.directory, client, changed)
    directory.expect_record(api.directory, found, changed, active=True)


@then("querying the directory by its OID returns the record as inactive")
def reads_back_inactive(client, api, organization_profile):
    found = directory.read_back(api.directory, client, organization_profile)
    directory.expect_record(api.directory, found, organization_profile, active=False)
