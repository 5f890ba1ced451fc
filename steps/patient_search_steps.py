"""Glue for features/patient_search.feature; the logic is in techval.search."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from techval import search
from techval.errors import CheckFailed
from techval.messages import CAREQUALITY_PURPOSES, carequality_extensions
from techval.patients import patient


@when(
    parsers.parse('"{alias}" is searched across the network by demographics'),
    target_fixture="search_answer",
)
def broad_search(alias, client, settings, test_patients):
    return client.send(search.demographics_query(settings, patient(test_patients, alias)))


@then("the search finds the patient with a network patient ID", target_fixture="match")
def finds_patient(search_answer):
    match = search.matched(search_answer)
    if match is None:
        raise CheckFailed("PatientSearch.Query: no match for a test patient who should be found")
    return match


@then(
    "the location query lists the organizations that hold records, with the patient's "
    "identifiers there"
)
def lists_locations(client, settings, match):
    answer = client.send(search.location_query(settings, search.network_id(match)))
    if not search.locations(answer):
        raise CheckFailed("PatientSearch.LocationQuery: no organization holds records")


@then("the search answers no match, which is not an error")
def no_match(search_answer):
    if search.matched(search_answer) is not None:
        raise CheckFailed("PatientSearch.Query: a patient matched who does not exist")


@given(parsers.parse('"{alias}" was located across the network'), target_fixture="located")
def located(alias, client, settings, test_patients):
    return search.locate(client, settings, patient(test_patients, alias))


@when(
    "the patient is searched within the first organization that holds records",
    target_fixture="search_answer",
)
def narrow_search(located, client, settings):
    message = search.demographics_query(
        settings, located.patient, organization_oid=located.first.organization_oid
    )
    return client.send(message)


@then("the search finds the patient with that organization's identifiers")
def finds_with_organization_identifiers(search_answer, located):
    match = search.matched(search_answer)
    if match is None:
        raise CheckFailed(
            "PatientSearch.Query: no match within the organization that holds records"
        )
    if not search.same_identifiers(match, located.first):
        raise CheckFailed(
            "PatientSearch.Query: $.Patient.Identifiers: none of the identifiers the record "
            "locator listed for this organization"
        )


@then("every request carried the Carequality metadata of the environment's organization")
def carried_metadata(client, settings, scenario_exchanges):
    expected = carequality_extensions(settings)
    sent = [
        e for e in scenario_exchanges if client.purpose_of(e.request_body) in CAREQUALITY_PURPOSES
    ]
    if not sent:
        raise CheckFailed("no Carequality request was sent in this scenario")
    for exchange in sent:
        if exchange.request_body["Meta"].get("Extensions") != expected:
            raise CheckFailed(
                f"{exchange.label}: $.Meta.Extensions: not the environment's metadata"
            )
