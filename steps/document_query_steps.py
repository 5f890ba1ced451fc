"""Glue for features/3_document_query.feature; the logic is in techval.validation.documents
(Data Model) and techval.validation.fhir.documents, picked by the run's API."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_bdd import given, then, when

from techval.core.exchange import Exchange


@dataclass(frozen=True)
class Retrieval:
    requested_id: str
    answer: Exchange


@given(
    "the patient's documents were listed at the organization that holds their records",
    target_fixture="document_list",
)
@when(
    "the patient's documents are listed at the organization that holds their records",
    target_fixture="document_list",
)
def list_documents(located, client, api):
    return api.documents.search(client, located.chosen)


@then("every listed document has an ID and a type")
def listed_with_id_and_type(document_list, api):
    api.documents.listed(document_list)


@when("the first listed document is retrieved", target_fixture="retrieval")
def retrieve_first(document_list, located, client, api):
    first = api.documents.listed(document_list)[0]
    return Retrieval(first, api.documents.retrieve(client, located.chosen, first))


@then("the document that was asked for comes back")
def same_document(retrieval, api):
    api.documents.retrieved(retrieval.answer, retrieval.requested_id)


@then("a CDA document is well-formed XML")
def well_formed_cda(retrieval, api):
    content = api.documents.retrieved(retrieval.answer, retrieval.requested_id)
    api.documents.check_cda(retrieval.answer, content)


@when(
    "the latest summary of the patient is requested from the organization that holds their records",
    target_fixture="summary_answer",
)
def request_summary(located, client, api):
    return api.documents.summary_of(client, located.chosen)


@then("the summary names its document and is of the same patient")
def summary_of_patient(summary_answer, located, api):
    api.documents.summary(summary_answer, located.chosen)


@then("Redox answers that the organization holds no documents for the patient")
def no_documents(document_list, located, api):
    api.documents.expect_no_documents(document_list, located.patient)
