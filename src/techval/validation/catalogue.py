"""The four tech-validation steps that the features prove, and the Redox pages they follow.

A feature names its step by tag (@organization, ...). Everything the evidence says per step
(report labels, verdict, summary, console table) comes from this one table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

EPIC = "Carequality tech validation (Redox onramp)"


@dataclass(frozen=True)
class ValidationStep:
    key: str  # the feature tag
    number: int
    title: str
    messages: str  # the Redox data models it exercises
    doc_url: str
    severity: str = "critical"  # the default Allure severity of its scenarios

    @property
    def label(self) -> str:
        return f"{self.number}. {self.title}"


STEPS: tuple[ValidationStep, ...] = (
    ValidationStep(
        "organization",
        1,
        "Organization record",
        "Organization.New / Update / Query",
        "https://docs.redoxengine.com/how-to-use-redox/interact-with-clinical-networks/"
        "create-and-maintain-an-organization-record",
        severity="blocker",
    ),
    ValidationStep(
        "patient_search",
        2,
        "Patient search",
        "PatientSearch.Query / LocationQuery",
        "https://docs.redoxengine.com/how-to-use-redox/interact-with-clinical-networks/"
        "search-for-patient-records/",
    ),
    ValidationStep(
        "document_query",
        3,
        "Document query",
        "ClinicalSummary.DocumentQuery / DocumentGet / PatientQuery",
        "https://developer.redoxengine.com/how-to-use-redox/interact-with-clinical-networks/"
        "onramp-to-carequality/request-patient-documents/",
    ),
    ValidationStep(
        "data_on_demand",
        4,
        "Data-on-demand push",
        "PatientAdmin.NewPatient / PatientUpdate / PatientMerge, ClinicalSummary.VisitPush",
        "https://docs.redoxengine.com/how-to-use-redox/interact-with-clinical-networks/"
        "maintain-your-redox-repository",
    ),
)
BY_KEY = {step.key: step for step in STEPS}


def step_for(tags: Iterable[str]) -> ValidationStep | None:
    """The validation step a scenario proves, from its (feature's) tags."""
    return next((BY_KEY[tag] for tag in tags if tag in BY_KEY), None)
