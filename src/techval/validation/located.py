"""Where a located test patient's records are: the organizations holding them and the patient's
identifiers there. The same data whichever Redox API found them (the record locator of the Data
Model, or the directory and a patient search at each organization through FHIR)."""

from __future__ import annotations

from dataclasses import dataclass

from techval.core.errors import TestDataMismatch
from techval.core.exchange import Exchange
from techval.core.verifies import verifies
from techval.validation.patients import TestPatient


@dataclass(frozen=True)
class Location:
    """An organization holding records of the patient, with the patient's identifiers there."""

    organization_oid: str
    organization_name: str
    identifiers: tuple[tuple[str, str], ...]
    patient_id: str | None = None  # the patient's resource id there (FHIR), for later requests

    @property
    @verifies("DQ-01")
    def patient_identifiers(self) -> list[dict[str, str]]:
        """The patient's identifier at this organization, as Redox's clients pick it (10.1):
        the one whose IDType is the organization's OID; else every identifier listed."""
        own = [(i, t) for i, t in self.identifiers if t == self.organization_oid]
        return [{"ID": i, "IDType": t} for i, t in own or self.identifiers]


@dataclass(frozen=True)
class Located:
    """A test patient located on the network, and where records of them are held."""

    patient: TestPatient
    network_id: dict[str, str]
    locations: tuple[Location, ...]

    @property
    def chosen(self) -> Location:
        """The organization the test patient's scenarios use: the one the test-patients file
        names (`organization:`), else the first the record locator lists."""
        wanted = self.patient.organization
        if wanted is None:
            return self.locations[0]
        for location in self.locations:
            if location.organization_oid == wanted:
                return location
        raise TestDataMismatch(
            self.patient.alias,
            "organization",
            f"the record locator lists {len(self.locations)} organization(s) holding records "
            "of this patient, and not the one the test-patients file names",
        )


@dataclass(frozen=True)
class Searched:
    """A search for a test patient across the network, and its answers: the record locator's
    one (Data Model), or one per organization of the directory searched (FHIR)."""

    patient: TestPatient
    answers: tuple[Exchange, ...]
    # what the search did not read ("" when it read all): a directory walk cut short (FHIR)
    unread: str = ""

    @property
    def answer(self) -> Exchange:
        return self.answers[0]
