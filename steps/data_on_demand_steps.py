"""Glue for features/4_data_on_demand.feature; the logic is in techval.validation.dod."""

from __future__ import annotations

import pytest
from pytest_bdd import given, parsers, then, when

from techval.core.errors import CheckFailed
from techval.validation import checks, dod, recommendations
from techval.validation.patients import patient


@pytest.fixture
def finder(client, reporter, api):
    return api.finder(client, reporter)


def push_new(client, settings, person, ids):
    exchange = client.send(dod.new_patient(settings, person, ids))
    checks.succeeded(exchange)
    return exchange


@when(
    parsers.parse('"{alias}" is pushed to the repository with a visit summary'),
    target_fixture="pushed",
)
def push_patient_and_visit(alias, client, settings, test_patients):
    person = patient(test_patients, alias)
    ids = [dod.identifier(settings, person)]
    visit = dod.visit_push(settings, person, ids)
    exchanges = [client.send(dod.new_patient(settings, person, ids)), client.send(visit)]
    return dod.Pushed(person, ids, exchanges, document=visit["Header"]["Document"])


@given(parsers.parse('"{alias}" is in the repository'), target_fixture="pushed")
def in_repository(alias, client, settings, test_patients, finder):
    person = patient(test_patients, alias)
    ids = [dod.identifier(settings, person)]
    push_new(client, settings, person, ids)
    finder.patient(person, ids)
    return dod.Pushed(person, ids)


@given(parsers.parse('two records of "{alias}" are in the repository'), target_fixture="pushed")
def two_records(alias, client, settings, test_patients, finder):
    person = patient(test_patients, alias)
    first, second = dod.identifier(settings, person, "a"), dod.identifier(settings, person, "b")
    for ids in ([first], [second]):
        push_new(client, settings, person, ids)
        finder.patient(person, ids)
    return dod.Pushed(person, [first], previous=[second])


@when("the contact details of the patient are updated", target_fixture="pushed")
def update_contact_details(pushed, client, settings):
    demographics = dod.changed_contact_details(pushed.patient)
    exchange = client.send(dod.patient_update(settings, pushed.identifiers, demographics))
    return dod.Pushed(pushed.patient, pushed.identifiers, [exchange], demographics=demographics)


@when("the second record is merged into the first", target_fixture="pushed")
def merge(pushed, client, settings):
    message = dod.patient_merge(settings, pushed.patient, pushed.identifiers, pushed.previous)
    return dod.Pushed(
        pushed.patient, pushed.identifiers, [client.send(message)], previous=pushed.previous
    )


@when(
    parsers.parse("the summary of an {kind} visit of the patient is pushed"),
    target_fixture="pushed",
)
def push_visit(kind, pushed, client, settings):
    visit = dod.visit_push(settings, pushed.patient, pushed.identifiers, kind)
    return dod.Pushed(
        pushed.patient,
        pushed.identifiers,
        [client.send(visit)],
        document=visit["Header"]["Document"],
    )


@then("Redox acknowledges every push")
def acknowledged(pushed, reporter):
    for exchange in pushed.exchanges:
        checks.succeeded(exchange)
    if not pushed.exchanges:
        raise CheckFailed("nothing was pushed in this scenario")
    recommendations.pushes(pushed.exchanges, reporter)


@then("searching your own organization finds the patient under your patient OID")
def finds_patient(pushed, finder):
    finder.patient(pushed.patient, expect={"Identifiers": pushed.identifiers})


@then("your own organization's documents include the pushed visit summary")
def finds_document(pushed, finder):
    finder.document(pushed.identifiers, pushed.document)


@then("searching your own organization finds the updated contact details")
def finds_update(pushed, finder):
    expected = dod.contact_details(pushed.demographics)
    finder.patient(pushed.patient, pushed.identifiers, expect=expected)


@then("searching your own organization finds the patient under the first record only")
def merged(pushed, finder):
    finder.gone(pushed.patient, pushed.previous)
    surviving = {"Identifiers": pushed.identifiers, "Demographics": pushed.patient.demographics}
    finder.patient(pushed.patient, pushed.identifiers, expect=surviving)
