"""The simulated Carequality network: who holds records of which test patient, and documents.

Loaded from fixtures/simulator/network.yaml; demographics come from the test patients file,
so the simulator and the shipped test patients describe the same people.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from techval.patients import load_patients


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
        return {"ID": self.patient_id, "IDType": str(self.organization["patient_id_type"])}


@dataclass
class NetworkPatient:
    alias: str
    demographics: dict[str, Any]
    network_id: dict[str, str]
    holdings: list[Holding]

    def at(self, oid: str) -> Holding | None:
        return next((h for h in self.holdings if h.oid == oid), None)


def _same(a: Any, b: Any) -> bool:
    return (
        isinstance(a, str) and isinstance(b, str) and a.strip().casefold() == b.strip().casefold()
    )


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
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        people = load_patients(test_patients or folder.parent / "test_patients.yaml")
        organizations = raw["organizations"]
        by_oid = {str(o["oid"]): o for o in organizations}
        patients = [
            NetworkPatient(
                alias=entry["alias"],
                demographics=copy.deepcopy(people[entry["alias"]].demographics),
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
                "Contacts": [],
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

    def by_network_id(self, identifier: dict[str, Any]) -> NetworkPatient | None:
        return next((p for p in self.patients if p.network_id["ID"] == identifier.get("ID")), None)

    def holding(
        self, oid: str, identifiers: list[dict[str, Any]]
    ) -> tuple[NetworkPatient, Holding] | None:
        """The record an organization holds for any of these identifiers."""
        wanted = {(i.get("ID"), i.get("IDType")) for i in identifiers}
        for patient in self.patients:
            holding = patient.at(oid)
            if holding and (holding.identifier["ID"], holding.identifier["IDType"]) in wanted:
                return patient, holding
        return None

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
