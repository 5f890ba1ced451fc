"""Which Redox API a run speaks (`api:` in the environment file), as the objects the neutral
validation flows run on. The only module that knows both APIs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import Settings
from techval.core.errors import NotOffered
from techval.core.reporting import Reporter
from techval.validation.directory import DirectoryApi
from techval.validation.documents import DataModelDocuments
from techval.validation.dod import Finder
from techval.validation.fhir.documents import FhirDocuments
from techval.validation.fhir.organization import FhirDirectory
from techval.validation.fhir.repository import FhirFinder
from techval.validation.fhir.search import FhirPatientSearch
from techval.validation.organization import DataModelDirectory
from techval.validation.seams import DocumentsApi, FinderApi, PatientSearchApi
from techval.validation.search import DataModelPatientSearch

DATA_MODEL, FHIR = "data_model", "fhir"


@dataclass(frozen=True)
class Api:
    """What each validation step's requests are made of, for one API. The directory's flow is
    neutral (validation.directory); patient search, documents and the repository finder are
    each API's own object behind the seam's protocols (validation.seams)."""

    name: str
    settings: Settings
    directory: DirectoryApi
    patients: PatientSearchApi[Any]
    documents: DocumentsApi[Any]

    def finder(self, client: RedoxClient, reporter: Reporter) -> FinderApi:
        """Searches of your own organization until what was pushed shows up (the pushes are
        Data Model messages under either API: the only documented repository writes)."""
        if self.name == FHIR:
            return FhirFinder(client, self.settings, reporter)
        return Finder(client, self.settings, reporter)


def for_settings(settings: Settings, reporter: Reporter | None = None) -> Api:
    """The run's API; `reporter`: told of what a check that passed did not read (a FHIR
    search that stopped with pages remaining)."""
    if settings.api == FHIR:
        return Api(
            FHIR,
            settings,
            FhirDirectory(settings, reporter),
            FhirPatientSearch(settings, reporter),
            FhirDocuments(settings, reporter),
        )
    return Api(
        DATA_MODEL,
        settings,
        DataModelDirectory(settings),
        DataModelPatientSearch(settings),
        DataModelDocuments(settings),
    )


# What a scenario needs that an API does not offer, by the scenario's tag (features/).
NOT_OFFERED: dict[str, dict[str, str]] = {
    FHIR: {
        "record_locator": "the record locator (broad search and location query)",
        "summary_query": "the latest summary of a patient (ClinicalSummary.PatientQuery)",
    }
}


def require_offered(api: Api, tags: set[str]) -> None:
    """NotOffered, before any of its steps, for a scenario needing what the API lacks."""
    for tag in sorted(tags):
        what = NOT_OFFERED.get(api.name, {}).get(tag)
        if what is not None:
            raise NotOffered(what, "FHIR API" if api.name == FHIR else "Data Model API")
