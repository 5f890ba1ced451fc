"""The simulated Carequality network: who holds records of which test patient, and documents.

Loaded from fixtures/simulator/network.yaml; demographics come from the test patients file
(read here, as data), so the simulator and the shipped test patients describe the same people.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from techval.core import yamlfile


@dataclass
class Holding:
    """One organization's record of a patient."""

    organization: dict[str, Any]
    patient_id: str
    documents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def oid(self) -> str:
        return str(self.organization["oid"])

    @property
    def identifier(self) -> dict[str, str]:
        """The patient's ID under the organization's patient assigning authority (an MRN)."""
        return {"ID": self.patient_id, "IDType": str(self.organization["patient_id_type"])}

    @property
    def identifiers(self) -> list[dict[str, str]]:
        """What the record locator lists for this organization (redox-api.md 10.1): the MRN,
        then the ID typed by the organization OID, the one a client must pick; not first."""
        return [self.identifier, {"ID": self.patient_id, "IDType": self.oid}]


@dataclass
class NetworkPatient:
    alias: str
    demographics: dict[str, Any]
    network_id: dict[str, str]
    holdings: list[Holding]
    identifiers: list[dict[str, str]] | None = None  # as pushed; None: each holding's own

    def at(self, oid: str) -> Holding | None:
        return next((h for h in self.holdings if h.oid == oid), None)


def _same(a: Any, b: Any) -> bool:
    return (
        isinstance(a, str) and isinstance(b, str) and a.strip().casefold() == b.strip().casefold()
    )


def _keys(identifiers: Any) -> set[tuple[str, str]]:
    return {
        (str(i.get("ID")), str(i.get("IDType"))) for i in identifiers or [] if isinstance(i, dict)
    }


def read_test_patients(path: Path) -> dict[str, dict[str, Any]]:
    """Alias -> demographics of a test patients file (aliases without demographics skipped)."""
    raw = yamlfile.load(path) if path.is_file() else None
    if not isinstance(raw, dict):
        raise ValueError(f"simulator: {path} holds no test patients by alias")
    return {
        str(alias): dict(entry["Demographics"])
        for alias, entry in raw.items()
        if isinstance(entry, dict) and isinstance(entry.get("Demographics"), dict)
    }


class Network:
    def __init__(
        self, organizations: list[dict[str, Any]], patients: list[NetworkPatient], folder: Path
    ) -> None:
        self.organizations = {str(o["oid"]): o for o in organizations}
        self._patients = patients
        self.folder = folder
        self._documents: dict[str, str] = {}

    @property
    def patients(self) -> list[NetworkPatient]:
        return self._patients

    @classmethod
    def load(cls, folder: Path, test_patients: Path | None = None) -> Network:
        """The network of `folder`/network.yaml; its people are the environment's test
        patients (by alias), as Redox's development network holds the vendor's test patients."""
        path = folder / "network.yaml"
        if not path.is_file():
            return cls([], [], folder)
        raw = yamlfile.load(path)
        people = read_test_patients(test_patients or folder.parent / "test_patients.yaml")
        organizations = raw["organizations"]
        by_oid = {str(o["oid"]): o for o in organizations}
        patients = [
            NetworkPatient(
                alias=entry["alias"],
                demographics=copy.deepcopy(people[entry["alias"]]),
                network_id={"ID": entry["network_id"], "IDType": raw["record_locator_id_type"]},
                holdings=[
                    Holding(
                        by_oid[str(h["organization"])], str(h["id"]), list(h.get("documents", []))
                    )
                    for h in entry["held_at"]
                ],
            )
            for entry in raw["patients"]
            if entry["alias"] in people  # an alias the environment has no patient for
        ]
        return cls(organizations, patients, folder)

    def directory_records(self) -> list[dict[str, Any]]:
        """The network's organizations as Carequality directory records."""
        return [
            {
                "Name": o["name"],
                "Active": True,
                "Aliases": [],
                "Identifiers": [{"ID": str(o["oid"]), "IDType": "OID"}],
                "Type": {"System": None, "Value": o.get("type", "Connection")},
                "PartOf": {"Identifier": {"Type": None, "System": None, "Value": None}},
                "Contacts": o.get("contacts") or [],
                "Address": o.get("address"),
            }
            for o in self.organizations.values()
        ]

    def match(self, demographics: dict[str, Any], oid: str | None = None) -> list[NetworkPatient]:
        """Patients whose first name, last name and birth date match (and sex, when given)."""
        found = []
        for patient in self.patients:
            mine = patient.demographics
            if not all(_same(demographics.get(k), mine.get(k)) for k in ("FirstName", "LastName")):
                continue
            if demographics.get("DOB") != mine.get("DOB"):
                continue
            if demographics.get("Sex") and not _same(demographics["Sex"], mine.get("Sex")):
                continue
            if oid is None or patient.at(oid):
                found.append(patient)
        return found

    def by_network_id(self, identifiers: Any) -> NetworkPatient | None:
        """The patient whose network ID (ID and IDType) is among `identifiers`."""
        wanted = _keys(identifiers)
        return next(
            (p for p in self.patients if (p.network_id["ID"], p.network_id["IDType"]) in wanted),
            None,
        )

    def holding(
        self, oid: str, identifiers: list[dict[str, Any]]
    ) -> tuple[NetworkPatient, Holding] | None:
        """The record an organization holds for any of these identifiers (any it listed)."""
        wanted = _keys(identifiers)
        for patient in self.patients:
            holding = patient.at(oid)
            if holding and _keys(self.identifiers_at(patient, holding)) & wanted:
                return patient, holding
        return None

    def identifiers_at(self, patient: NetworkPatient, holding: Holding) -> list[dict[str, str]]:
        """The patient's identifiers as this organization answers them."""
        return holding.identifiers

    def document_text(self, document: dict[str, Any]) -> str:
        name = str(document["file"])
        if name not in self._documents:
            self._documents[name] = (self.folder / name).read_text(encoding="utf-8")
        return self._documents[name]

    def document(self, oid: str, document_id: str) -> dict[str, Any] | None:
        for patient in self.patients:
            holding = patient.at(oid)
            for document in holding.documents if holding else []:
                if document["id"] == document_id:
                    return document
        return None
