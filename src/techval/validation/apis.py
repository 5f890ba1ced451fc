"""Which Redox API a run speaks (`api:` in the environment file), as the objects the neutral
validation flows run on. The only module that knows both APIs."""

from __future__ import annotations

from dataclasses import dataclass

from techval.core.config import Settings
from techval.core.errors import CouldNotRun, NotOffered
from techval.validation.directory import DirectoryApi
from techval.validation.documents import DataModelDocuments
from techval.validation.fhir.documents import FhirDocuments
from techval.validation.fhir.organization import FhirDirectory
from techval.validation.fhir.search import FhirPatientSearch
from techval.validation.organization import DataModelDirectory
from techval.validation.search import DataModelPatientSearch

DATA_MODEL, FHIR = "data_model", "fhir"


@dataclass(frozen=True)
class Api:
    """What each validation step's requests are made of, for one API. The directory's flow is
    neutral (validation.directory); patient search and documents are each API's own object
    with the same methods (locate, narrow, matched_at, carried_metadata; search, listed,
    retrieve, retrieved, check_cda, expect_no_documents)."""

    name: str
    directory: DirectoryApi
    patients: DataModelPatientSearch | FhirPatientSearch
    documents: DataModelDocuments | FhirDocuments


def for_settings(settings: Settings) -> Api:
    if settings.api == FHIR:
        return Api(
            FHIR, FhirDirectory(settings), FhirPatientSearch(settings), FhirDocuments(settings)
        )
    return Api(
        DATA_MODEL,
        DataModelDirectory(settings),
        DataModelPatientSearch(settings),
        DataModelDocuments(settings),
    )


class NotBuiltForApi(CouldNotRun):
    """A validation step the run's API offers but this version of techval does not yet run
    through it (issue 18 builds the FHIR API step by step): could not run, never a pass."""


def data_model_only(api: Api, what: str) -> None:
    """NotOffered under FHIR for what Redox documents through the Data Model only (the record
    locator's broad search and location query, the latest-summary query)."""
    if api.name == FHIR:
        raise NotOffered(what, "FHIR API")


def built_for(api: Api, what: str) -> None:
    """NotBuiltForApi for a step not yet built through the run's API."""
    if api.name == FHIR:
        raise NotBuiltForApi(
            f"{what} through Redox's FHIR API is not built in this version of techval yet; "
            "run it with `api: data_model`"
        )
