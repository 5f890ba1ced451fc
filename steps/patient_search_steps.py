"""Glue for features/2_patient_search.feature; the logic is in techval.validation.search (Data
Model) and techval.validation.fhir.search, picked by the run's API (techval.validation.apis)."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from techval.validation import recommendations
from techval.validation.patients import patient


@when(
    parsers.parse('"{alias}" is searched across the network by demographics'),
    target_fixture="searched",
)
def broad_search(alias, client, test_patients, api):
    return api.patients.across_network(client, patient(test_patients, alias))


@then("the search finds the patient with a network patient ID", target_fixture="match")
def finds_patient(searched, api):
    return api.patients.network_match(searched)


@then(
    "the location query lists the organizations that hold records, with the patient's "
    "identifiers there"
)
def lists_locations(client, reporter, match, searched, api):
    api.patients.holders(client, reporter, match, searched)


@then("the search answers no match, which is not an error")
def no_match(searched, api):
    api.patients.no_match(searched)


@given(parsers.parse('"{alias}" was located across the network'), target_fixture="located")
def located(alias, client, reporter, test_patients, api):
    return api.patients.locate(client, reporter, patient(test_patients, alias))


@when(
    "the patient is searched within the organization that holds their records",
    target_fixture="search_answer",
)
def narrow_search(located, client, api):
    return api.patients.narrow(client, located)


@then("the search finds the patient with that organization's identifiers")
def finds_with_organization_identifiers(search_answer, located, api):
    api.patients.matched_at(search_answer, located)


@then("every request carried the Carequality metadata of the environment's organization")
def carried_metadata(scenario_exchanges, reporter, api):
    api.patients.carried_metadata(scenario_exchanges)
    user_id_header = api.settings.fhir.headers["user_id"]  # its header under FHIR
    recommendations.requesting_user(scenario_exchanges, reporter, user_id_header)
