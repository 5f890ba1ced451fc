"""The simulated Redox-hosted data-on-demand repository of the user's own organizations.

Pushes (PatientAdmin.NewPatient / PatientUpdate / PatientMerge, ClinicalSummary.VisitPush) are
acknowledged at once and applied after `delay` seconds, as Redox processes them asynchronously.
Searches and document queries addressed to the user's organizations are then answered from
what was pushed, through the same interface as the simulated network.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from techval.core import redox
from techval.core.paths import project_root
from techval.simulator.clinical_documents import filled_template, with_narratives
from techval.simulator.network import Holding, Network, NetworkPatient
from techval.simulator.shapes import reordered

DOCUMENT_TYPE_CODESET = "http://hl7.org/fhir/ValueSet/c80-doc-typecodes"  # Redox example, 10.4
TEMPLATE = Path("documents/visit-summary-template.xml")
_acknowledge_only: ContextVar[bool] = ContextVar("acknowledge_only", default=False)


@contextmanager
def pushes_not_applied() -> Iterator[None]:
    """Pushes handled inside are acknowledged as usual and never applied (a fault)."""
    token = _acknowledge_only.set(True)
    try:
        yield
    finally:
        _acknowledge_only.reset(token)


@dataclass
class _Pending:
    apply_at: float
    change: Callable[[], None]


@dataclass
class _Record:
    identifiers: list[dict[str, str]]
    demographics: dict[str, Any]
    documents: list[dict[str, Any]] = field(default_factory=list)


def _cda_time(value: Any) -> str:
    """A pushed ISO 8601 time as the CDA writes it; empty for one that is not a time."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    return redox.cda_time(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _keys(identifiers: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(str(i.get("ID")), str(i.get("IDType"))) for i in identifiers or []}


class Repository(Network):
    """Answers for the user's organizations: `organizations` maps OID -> organization entry."""

    def __init__(
        self,
        delay: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        folder: Path | None = None,
    ) -> None:
        super().__init__([], [], folder or project_root() / "fixtures" / "simulator")
        self.delay = delay
        self.clock = clock
        self.records: list[_Record] = []
        self._pending: list[_Pending] = []
        self._rendered: dict[str, str] = {}

    def serve(self, oid: str, name: str, patient_oid: str) -> None:
        self.organizations[oid] = {"oid": oid, "name": name, "patient_id_type": patient_oid}

    # -- pushes ---------------------------------------------------------------------------
    def _later(self, change: Callable[[], None]) -> None:
        if _acknowledge_only.get():
            return
        self._pending.append(_Pending(self.clock() + self.delay, change))

    def _settle(self) -> None:
        now = self.clock()
        due = [p for p in self._pending if p.apply_at <= now]
        self._pending = [p for p in self._pending if p.apply_at > now]
        for pending in due:
            pending.change()

    def _find(self, identifiers: list[dict[str, Any]]) -> _Record | None:
        wanted = _keys(identifiers)
        return next((r for r in self.records if _keys(r.identifiers) & wanted), None)

    def _upsert(self, patient: dict[str, Any]) -> _Record:
        record = self._find(patient["Identifiers"])
        if record is None:
            record = _Record(copy.deepcopy(patient["Identifiers"]), {})
            self.records.append(record)
        record.demographics = copy.deepcopy(patient.get("Demographics") or record.demographics)
        return record

    def new_patient(self, message: dict[str, Any]) -> None:
        def apply() -> None:
            self._upsert(message["Patient"])

        self._later(apply)

    def merge(self, message: dict[str, Any]) -> None:
        """The previous record joins the surviving one, whose identifiers replace the old ones."""

        def apply() -> None:
            patient = message["Patient"]
            previous = self._find(patient["PreviousIdentifiers"])
            surviving = self._upsert(patient)
            if previous is not None and previous is not surviving:
                surviving.documents += previous.documents
                self.records.remove(previous)

        self._later(apply)

    def visit_push(self, message: dict[str, Any]) -> None:
        def apply() -> None:
            header = message["Header"]
            record = self._upsert(header["Patient"])
            document = header["Document"]
            type_code = document.get("TypeCode") or {}
            record.documents.append(
                {
                    "id": document["ID"],
                    "title": document.get("Title"),
                    "datetime": document.get("DateTime"),
                    "type": {
                        "Code": type_code.get("Code"),
                        "Codeset": DOCUMENT_TYPE_CODESET,
                        "Name": type_code.get("Name"),
                    },
                    "push": copy.deepcopy(message),
                }
            )

        self._later(apply)

    # -- the Network interface, over what has been applied --------------------------------
    @property
    def patients(self) -> list[NetworkPatient]:
        self._settle()
        found = []
        for index, record in enumerate(self.records):
            holdings = [
                Holding(org, self._local_id(record, org), record.documents)
                for org in self.organizations.values()
                if self._local_id(record, org)
            ]
            found.append(
                NetworkPatient(
                    f"pushed patient {index + 1}",
                    record.demographics,
                    dict(record.identifiers[0]),
                    holdings,
                    copy.deepcopy(record.identifiers),
                )
            )
        return found

    @staticmethod
    def _local_id(record: _Record, organization: dict[str, Any]) -> str:
        return next(
            (
                i["ID"]
                for i in record.identifiers
                if i.get("IDType") == organization["patient_id_type"]
            ),
            "",
        )

    def identifiers_at(self, patient: NetworkPatient, holding: Holding) -> list[dict[str, str]]:
        """The identifiers pushed for the patient, not in the order they were pushed."""
        return reordered(patient.identifiers or [holding.identifier])

    def document_text(self, document: dict[str, Any]) -> str:
        """The CDA Redox would generate from the pushed visit summary: its header, and the
        pushed section narratives."""
        if document["id"] not in self._rendered:
            push = document["push"]
            header = push["Header"]
            patient = header.get("Patient") or {}
            demographics = patient.get("Demographics") or {}
            identifier = self._patient_identifier(patient.get("Identifiers") or [])
            root, _, extension = str(document["id"]).partition("^")
            organization_oid, organization = next(iter(self.organizations.items()), ("", {}))
            encounters = push.get("Encounters") or [{}]
            encounter = (encounters[0] or {}).get("Type") or {}
            text = filled_template(
                self.folder / TEMPLATE,
                {
                    "DOCUMENT_ROOT": root if extension else redox.UUID_OID_ROOT,
                    "DOCUMENT_EXTENSION": extension or root,
                    "EFFECTIVE_TIME": _cda_time(document.get("datetime")),
                    "PATIENT_ID_ROOT": str(identifier.get("IDType", "")),
                    "PATIENT_ID": str(identifier.get("ID", "")),
                    "GIVEN": str(demographics.get("FirstName", "")),
                    "FAMILY": str(demographics.get("LastName", "")),
                    "GENDER_CODE": redox.ADMINISTRATIVE_GENDER.get(
                        str(demographics.get("Sex")), redox.UNKNOWN_GENDER
                    ),
                    "BIRTH_TIME": str(demographics.get("DOB", "")).replace("-", ""),
                    "ORG_OID": organization_oid,
                    "ORG_NAME": str(organization.get("name", "")),
                    "TYPE_CODE": str(document["type"]["Code"]),
                    "TYPE_NAME": str(document["type"]["Name"]),
                    "TITLE": str(document.get("title") or ""),
                    "ENCOUNTER_CLASS": str(encounter.get("Code") or ""),
                    "ENCOUNTER_CLASS_NAME": str(encounter.get("Name") or ""),
                },
            )
            self._rendered[document["id"]] = with_narratives(text, push)
        return self._rendered[document["id"]]

    def _patient_identifier(self, identifiers: list[dict[str, Any]]) -> dict[str, Any]:
        """The pushed identifier under one of the repository's patient OIDs (else the first)."""
        oids = {str(o["patient_id_type"]) for o in self.organizations.values()}
        return next(
            (i for i in identifiers if str(i.get("IDType")) in oids),
            identifiers[0] if identifiers else {},
        )
