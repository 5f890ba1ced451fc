"""Data on demand: keep the Redox-hosted repository current, then prove Redox can answer for you.

Pushes are built from the templates in fixtures/templates/ with values from the environment and
the test patient. After a push, the user's own organization is searched (FacilityCode = its OID)
until what was pushed shows up: Redox processes pushes asynchronously, so this polls, bounded by
the environment's `data_on_demand` limits, each attempt a step of its own in the report.
"""

from __future__ import annotations

import copy
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from techval.core import redox
from techval.core.config import Settings
from techval.core.errors import ReadbackMismatch
from techval.core.exchange import Exchange
from techval.core.verifies import verifies
from techval.validation import cda, documents, readback, search, templates
from techval.validation.finding import OwnOrganizationFinder
from techval.validation.located import Location
from techval.validation.messages import envelope
from techval.validation.patients import TestPatient

CONTACT_DETAILS = ("PhoneNumber", "EmailAddresses", "Address")


@dataclass
class Pushed:
    """What a step pushed, for the steps that check it."""

    patient: TestPatient
    identifiers: list[dict[str, str]]
    exchanges: list[Exchange] = field(default_factory=list)
    document: dict[str, Any] | None = None  # the pushed Header.Document
    demographics: dict[str, Any] | None = None
    previous: list[dict[str, str]] = field(default_factory=list)


@verifies("DOD-04")
def identifier(settings: Settings, patient: TestPatient, record: str = "") -> dict[str, str]:
    """A stable repository identifier per test patient (and record), with your patient OID.

    Stable, so nightly runs update the same repository records instead of adding new ones.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", patient.alias.lower()).strip("-")
    return {
        "ID": f"techval-{slug}{'-' + record if record else ''}",
        "IDType": settings.oids.patient,
    }


@verifies("DOD-02")
def new_document_id(settings: Settings) -> str:
    """Globally unique and new on every run: your document OID ^ a UUID, or a bare UUID."""
    if settings.data_on_demand.document_ids == "uuid":
        return str(uuid.uuid4())
    return f"{settings.oids.document}^{uuid.uuid4().hex}"


def _patient_admin(settings: Settings, event_type: str, values: dict[str, Any]) -> dict[str, Any]:
    message = envelope(settings, "PatientAdmin", event_type, "data_on_demand")
    message.update(templates.render(f"PatientAdmin.{event_type}", values))
    return message


def new_patient(
    settings: Settings, patient: TestPatient, ids: list[dict[str, str]]
) -> dict[str, Any]:
    return _patient_admin(
        settings, "NewPatient", {"patient_identifiers": ids, "demographics": patient.demographics}
    )


@verifies("DOD-08")
def patient_update(
    settings: Settings, ids: list[dict[str, str]], demographics: dict[str, Any]
) -> dict[str, Any]:
    return _patient_admin(
        settings, "PatientUpdate", {"patient_identifiers": ids, "demographics": demographics}
    )


@verifies("DOD-09")
def patient_merge(
    settings: Settings,
    patient: TestPatient,
    surviving: list[dict[str, str]],
    previous: list[dict[str, str]],
) -> dict[str, Any]:
    return _patient_admin(
        settings,
        "PatientMerge",
        {
            "patient_identifiers": surviving,
            "previous_identifiers": previous,
            "demographics": patient.demographics,
        },
    )


def changed_contact_details(patient: TestPatient) -> dict[str, Any]:
    """The patient's demographics with a new mobile number (fictional 555 range), new each run."""
    demographics = copy.deepcopy(patient.demographics)
    phone = dict(demographics.get("PhoneNumber") or {})
    phone["Mobile"] = f"+1608555{secrets.randbelow(10_000):04d}"
    demographics["PhoneNumber"] = phone
    return demographics


def contact_details(demographics: dict[str, Any]) -> dict[str, Any]:
    """What a search must answer after a PatientUpdate of these demographics' contact details."""
    return {"Demographics": {k: demographics[k] for k in CONTACT_DETAILS if k in demographics}}


def visit_of(kind: str) -> tuple[str, redox.DocumentType]:
    """The kind of visit a push of `kind` is and its document type, from the one table
    (techval.core.redox.VISIT_KINDS): "summary" is the CCD of an outpatient visit, "outpatient"
    and "inpatient" the summary of their own kind of visit."""
    if kind == "summary":
        return "outpatient", redox.CCD
    return kind, redox.VISIT_KINDS[kind].document


def visit_push(
    settings: Settings,
    patient: TestPatient,
    ids: list[dict[str, str]],
    kind: str = "summary",
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """ClinicalSummary.VisitPush of a visit that just ended, with a new document ID."""
    visit, document_type = visit_of(kind)
    code, name, title = document_type.code, document_type.name, document_type.title
    encounter_class = redox.VISIT_KINDS[visit].encounter_class
    class_name = redox.VISIT_KINDS[visit].encounter_classes[encounter_class]
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    start = end - (timedelta(days=2) if visit == "inpatient" else timedelta(hours=1))
    organization = settings.carequality.sender
    document_id = new_document_id(settings)
    demographics = patient.demographics
    root, _, extension = document_id.partition("^")
    document = cda.render_visit_summary(
        {
            "DOCUMENT_ROOT": root if extension else redox.UUID_OID_ROOT,
            "DOCUMENT_EXTENSION": extension or root,
            "EFFECTIVE_TIME": redox.cda_time(end),
            "PATIENT_ID_ROOT": ids[0]["IDType"],
            "PATIENT_ID": ids[0]["ID"],
            "GIVEN": str(demographics.get("FirstName", "")),
            "FAMILY": str(demographics.get("LastName", "")),
            "GENDER_CODE": redox.ADMINISTRATIVE_GENDER.get(
                str(demographics.get("Sex")), redox.UNKNOWN_GENDER
            ),
            "BIRTH_TIME": str(demographics.get("DOB", "")).replace("-", ""),
            "ORG_OID": organization.oid,
            "ORG_NAME": organization.name,
            "TYPE_CODE": code,
            "TYPE_NAME": name,
            "TITLE": title,
            "ENCOUNTER_CLASS": encounter_class,
            "ENCOUNTER_CLASS_NAME": class_name,
        }
    )
    sections = cda.section_texts(document)

    message = envelope(settings, "Clinical Summary", "VisitPush", "data_on_demand")
    message.update(
        templates.render(
            "ClinicalSummary.VisitPush",
            {
                "document_id": document_id,
                "title": title,
                "type_code": code,
                "type_name": name,
                "visit_number": f"techval-{uuid.uuid4().hex[:12]}",
                "visit_start": redox.timestamp(start),
                "visit_end": redox.timestamp(end),
                "organization_name": organization.name,
                "organization_oid": organization.oid,
                "patient_identifiers": ids,
                "demographics": demographics,
                "encounter_class": encounter_class,
                "encounter_class_name": class_name,
                "problems_text": sections.get("ProblemsText", ""),
                "plan_text": sections.get("PlanOfCareText", ""),
            },
        )
    )
    return message


def own_location(settings: Settings, ids: list[dict[str, str]]) -> Location:
    organization = settings.carequality.sender
    return Location(organization.oid, organization.name, tuple((i["ID"], i["IDType"]) for i in ids))


class Finder(OwnOrganizationFinder):
    """Your own organization searched through the Data Model (PatientSearch.Query with
    FacilityCode, ClinicalSummary.DocumentQuery)."""

    def _search(
        self, patient: TestPatient, ids: list[dict[str, str]] | None
    ) -> dict[str, Any] | None:
        organization = self.settings.carequality.sender.oid
        message = search.demographics_query(self.settings, patient, organization_oid=organization)
        if ids is not None:  # by identifier: unambiguous even when records share demographics
            message["Patient"] = {"Identifiers": ids}
        return search.matched(self.client.send(message))

    @verifies("DOD-07")
    def document(self, ids: list[dict[str, str]], sent: dict[str, Any]) -> dict[str, Any]:
        """The pushed document (`sent`: its Header.Document) in your organization's document
        list, by ID. The list entry must hold the sent title and type code where it has them:
        fields the list leaves out are fine, a present, different value fails at once (a
        document with a new ID does not change once listed)."""
        location = own_location(self.settings, ids)
        what = f"the pushed document {sent['ID']}"
        # INFERRED: the type's display name may come from Redox's own code table: not compared
        listed_as = {"Title": sent.get("Title"), "Type": {"Code": sent["TypeCode"]["Code"]}}

        def probe() -> dict[str, Any] | None:
            answer = self.client.send(documents.document_query(self.settings, location))
            if documents.reports_no_documents(answer):
                return None
            found = next((d for d in documents.listed(answer) if d["ID"] == sent["ID"]), None)
            if found is None:
                return None
            problems = [
                d
                for d in readback.differences(listed_as, found, "Documents[]")
                if d.kind != "missing"
            ]
            if problems:
                raise ReadbackMismatch(f"{what}: found, but {readback.describe(problems)}")
            return found

        result: dict[str, Any] = self._until(what, probe)
        return result
