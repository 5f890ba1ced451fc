"""Patient search on Carequality: broad (record locator) and within one organization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from techval.checks import succeeded
from techval.client import RedoxClient
from techval.config import Settings
from techval.errors import CheckFailed
from techval.exchange import Exchange
from techval.messages import envelope
from techval.patients import TestPatient

# What a demographic search sends: enough to match, nothing the network does not use.
SEARCH_FIELDS = ("FirstName", "MiddleName", "LastName", "DOB", "Sex", "Address", "PhoneNumber")


def demographics_query(
    settings: Settings, patient: TestPatient, *, organization_oid: str | None = None
) -> dict[str, Any]:
    """PatientSearch.Query by demographics: to the record locator, or to one organization."""
    purpose = "organization_patient_search" if organization_oid else "patient_search"
    message = envelope(settings, "PatientSearch", "Query", purpose, facility=organization_oid)
    demographics = {k: v for k, v in patient.demographics.items() if k in SEARCH_FIELDS}
    message["Patient"] = {"Demographics": demographics}
    return message


def location_query(settings: Settings, network_id: dict[str, str]) -> dict[str, Any]:
    message = envelope(settings, "PatientSearch", "LocationQuery", "patient_search")
    message["Patient"] = {"Identifiers": [network_id]}
    return message


def matched(exchange: Exchange) -> dict[str, Any] | None:
    """The matched patient of a PatientSearch answer, None for a well-formed "no match".

    A match must carry identifiers: without them no later step can use it.
    """
    succeeded(exchange)
    body = exchange.response_body
    patient = body.get("Patient") or {}
    if not patient and body.get("PotentialMatches"):
        raise CheckFailed(
            f"{exchange.label}: {len(body['PotentialMatches'])} potential matches and no single "
            "patient; the test patient's demographics do not identify one person"
        )
    if not patient:
        return None
    identifiers = [i for i in patient.get("Identifiers") or [] if i.get("ID") and i.get("IDType")]
    if not identifiers:
        raise CheckFailed(
            f"{exchange.label}: the matched patient has no identifiers (ID and IDType)"
        )
    return dict(patient, Identifiers=identifiers)


@dataclass(frozen=True)
class Location:
    """An organization holding records of the patient, with the patient's identifiers there."""

    organization_oid: str
    organization_name: str
    identifiers: tuple[tuple[str, str], ...]

    @property
    def patient_identifiers(self) -> list[dict[str, str]]:
        return [{"ID": i, "IDType": t} for i, t in self.identifiers]


def locations(exchange: Exchange) -> list[Location]:
    """The organizations of a LocationQuery answer; each must be usable for the next step."""
    succeeded(exchange)
    found = []
    for index, entry in enumerate(exchange.response_body.get("Patients") or []):
        where = f"{exchange.label}: $.Patients[{index}]"
        organization = entry.get("Organization") or {}
        oid = next(
            (
                i.get("ID")
                for i in organization.get("Identifiers") or []
                if i.get("IDType") == "OID"
            ),
            None,
        )
        if not oid:
            raise CheckFailed(f"{where}.Organization: no identifier with IDType OID")
        identifiers = tuple((i["ID"], i["IDType"]) for i in entry.get("Identifiers") or [])
        if not identifiers:
            raise CheckFailed(f"{where}.Identifiers: the patient has no identifier there")
        found.append(Location(oid, str(organization.get("Name") or oid), identifiers))
    return found


def network_id(patient: dict[str, Any]) -> dict[str, str]:
    """The network patient ID of a broad-search match: its first identifier (redox-api.md 4.2.2)."""
    first = patient["Identifiers"][0]
    return {"ID": first["ID"], "IDType": first["IDType"]}


@dataclass(frozen=True)
class Located:
    """A test patient found by the record locator, and where records of them are held."""

    patient: TestPatient
    network_id: dict[str, str]
    locations: tuple[Location, ...]

    @property
    def first(self) -> Location:
        return self.locations[0]


@dataclass(frozen=True)
class Searched:
    """A demographic search for a test patient, and the answer."""

    patient: TestPatient
    answer: Exchange


def found(exchange: Exchange, patient: TestPatient) -> dict[str, Any]:
    """The match of a search for a test patient who must be found."""
    match = matched(exchange)
    if match is None:
        raise CheckFailed(f"{exchange.label}: no match for {patient.alias!r}, who should be found")
    return match


def holders(
    client: RedoxClient, settings: Settings, match: dict[str, Any], patient: TestPatient
) -> list[Location]:
    """The location query for a match: at least one organization must hold records."""
    answer = client.send(location_query(settings, network_id(match)))
    listed = locations(answer)
    if not listed:
        raise CheckFailed(f"{answer.label}: no organization holds records of {patient.alias!r}")
    return listed


def locate(client: RedoxClient, settings: Settings, patient: TestPatient) -> Located:
    """Broad search, then the location query: CheckFailed naming the step that did not deliver."""
    match = found(client.send(demographics_query(settings, patient)), patient)
    return Located(patient, network_id(match), tuple(holders(client, settings, match, patient)))


def same_identifiers(match: dict[str, Any], location: Location) -> bool:
    """Whether a match carries at least one of the identifiers the record locator listed."""
    got = {(i.get("ID"), i.get("IDType")) for i in match.get("Identifiers") or []}
    return bool(got & set(location.identifiers))


def no_match(exchange: Exchange) -> None:
    """A search for someone who does not exist must answer a well-formed "no match"."""
    if matched(exchange) is not None:
        raise CheckFailed(f"{exchange.label}: a patient matched who does not exist")


def matched_at(exchange: Exchange, location: Location) -> dict[str, Any]:
    """The match of a search within `location`, carrying identifiers the record locator listed."""
    match = matched(exchange)
    if match is None:
        raise CheckFailed(f"{exchange.label}: no match within the organization that holds records")
    if not same_identifiers(match, location):
        raise CheckFailed(
            f"{exchange.label}: $.Patient.Identifiers: none of the identifiers the record "
            "locator listed for this organization"
        )
    return match
