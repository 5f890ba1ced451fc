"""Glue for features/1_organization.feature; the logic is in techval.validation.organization."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import given, then, when

from techval.core.client import RedoxClient
from techval.core.config import OrganizationProfile, Settings
from techval.core.reporting import Reporter
from techval.validation import checks, organization, recommendations


@pytest.fixture
def restore_directory(
    client: RedoxClient,
    settings: Settings,
    organization_profile: OrganizationProfile,
    reporter: Reporter,
) -> Iterator[list[str]]:
    """Steps that change the record say so here; teardown puts the configured record back."""
    changes: list[str] = []
    yield changes
    if changes:
        with reporter.step("Restore the configured organization record"):
            exchange = client.send(organization.update_message(settings, organization_profile))
            checks.succeeded(exchange)


@given("the organization record is in the directory")
def record_in_directory(client, settings, organization_profile):
    write = organization.create_or_adopt(client, settings, organization_profile)
    checks.succeeded(write.final)


@when("the organization record is sent to the directory as new", target_fixture="write")
def send_new_record(client, settings, organization_profile, reporter):
    recommendations.parent_organization(settings, organization_profile, reporter)
    return organization.create_or_adopt(client, settings, organization_profile)


@when("the address and contacts of the organization record are changed", target_fixture="write")
def change_address_and_contacts(client, settings, organization_profile, restore_directory):
    restore_directory.append("address and contacts")
    changed = organization.updated(organization_profile)
    return organization.Write([client.send(organization.update_message(settings, changed))])


@when("the organization record is deactivated", target_fixture="write")
def deactivate(client, settings, organization_profile, restore_directory):
    restore_directory.append("active")
    message = organization.update_message(settings, organization_profile, active=False)
    return organization.Write([client.send(message)])


@then("the directory accepts the record")
def directory_accepts(write):
    checks.succeeded(write.final)


@then("querying the directory by its OID returns the record as configured")
def reads_back_as_configured(client, settings, organization_profile):
    _, found = organization.read_back(client, settings, organization_profile.oid)
    organization.expect_record(found, organization_profile, active=True)


@then("querying the directory by its OID returns the changed address and contacts")
def reads_back_changed(client, settings, organization_profile):
    _, found = organization.read_back(client, settings, organization_profile.oid)
    organization.expect_record(found, organization.updated(organization_profile), active=True)


@then("querying the directory by its OID returns the record as inactive")
def reads_back_inactive(client, settings, organization_profile):
    _, found = organization.read_back(client, settings, organization_profile.oid)
    organization.expect_record(found, organization_profile, active=False)
