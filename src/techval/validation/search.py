"""Patient search on Carequality: broad (record locator) and within one organization."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import Settings
from techval.core.errors import NotFound, RedoxRefused, TestDataMismatch, WrongContent
from techval.core.exchange import Exchange
from techval.core.redox import ACTIVE, ERROR, SUCCESS, TASK_STATUS
from techval.core.reporting import Reporter
from techval.core.verifies import verifies
from techval.validation import rules
from techval.validation.checks import succeeded
from techval.validation.located import Located, Location, Searched
from techval.validation.messages import carequality_extensions, envelope
from techval.validation.patients import TestPatient
from techval.validation.waiting import poll_reported

# What a demographic search sends: enough to match, nothing the network does not use.
SEARCH_FIELDS = ("FirstName", "MiddleName", "LastName", "DOB", "Sex", "Address", "PhoneNumber")

# The record locator answers LocationQuery asynchronously (redox-api.md 10.1, INFERRED from a
# client of Redox's): re-send while Meta.Extensions.task-status.string is Active.
NOT_ON_NETWORK = (
    "the test-patients file says they are on this network, but a development network may not "
    "hold them: check their Demographics against your Carequality test data"
)


@verifies("PS-05")
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


@verifies("PS-01", "PS-02")
def matched(exchange: Exchange, patient: TestPatient | None = None) -> dict[str, Any] | None:
    """The matched patient of a PatientSearch answer, None for a well-formed "no match".

    A match must carry identifiers: without them no later step can use it. Potential matches
    and no single patient is a well-formed answer: for a test patient, their demographics do
    not identify one person on this network (a test-data mismatch).
    """
    succeeded(exchange)
    body = exchange.response_body
    match = body.get("Patient") or {}
    if not match and body.get("PotentialMatches"):
        count = len(body["PotentialMatches"])
        if patient is not None:
            raise TestDataMismatch(
                patient.alias,
                "Demographics",
                f"{exchange.label} answered {count} potential matches: several people on this "
                "network share these demographics",
            )
        raise NotFound(
            f"{exchange.label}: {count} potential matches and no single "
            "patient; the test patient's demographics do not identify one person"
        )
    if not match:
        return None
    identifiers = [i for i in match.get("Identifiers") or [] if i.get("ID") and i.get("IDType")]
    if not identifiers:
        raise WrongContent(
            f"{exchange.label}: the matched patient has no identifiers (ID and IDType)"
        )
    return dict(match, Identifiers=identifiers)


@verifies("PS-04")
def task_status(exchange: Exchange) -> str | None:
    """Meta.Extensions.task-status of an answer; None when it carries none (a complete answer)."""
    extensions = exchange.meta.get("Extensions")
    status = extensions.get(TASK_STATUS) if isinstance(extensions, dict) else None
    if status is None:
        return None
    value = status.get("string") if isinstance(status, dict) else None
    if value not in (ACTIVE, SUCCESS, ERROR):
        raise WrongContent(
            f"{exchange.label}: $.Meta.Extensions.{TASK_STATUS}: not one of "
            f"{ACTIVE}, {SUCCESS}, {ERROR}"
        )
    return str(value)


@verifies("PS-04")
def still_working(exchange: Exchange) -> bool:
    """True for an answer the record locator is still working on (task-status Active).

    Such an answer may lack Patients (the schema requires it of the final answer); anything
    else wrong with it (HTTP status, Meta.Errors, other schema violations) fails as usual.
    """
    status = task_status(exchange)
    if status == ERROR:
        errors = "; ".join(exchange.redox_errors)
        raise RedoxRefused(
            f"{exchange.label}: the record locator answered task-status {ERROR}"
            + (f": {errors}" if errors else ""),
            status=exchange.status,
            errors=exchange.redox_errors,
        )
    if status != ACTIVE:
        return False
    succeeded(
        replace(exchange, violations=[v for v in exchange.violations if v.path != "$.Patients"])
    )
    return True


@verifies("PS-03")
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
            raise WrongContent(f"{where}.Organization: no identifier with IDType OID")
        identifiers = tuple((i["ID"], i["IDType"]) for i in entry.get("Identifiers") or [])
        if not identifiers:
            raise WrongContent(f"{where}.Identifiers: the patient has no identifier there")
        found.append(Location(oid, str(organization.get("Name") or oid), identifiers))
    return found


@verifies("PS-03")
def network_id(patient: dict[str, Any]) -> dict[str, str]:
    """The network patient ID of a broad-search match: its first identifier (redox-api.md 4.2.2)."""
    first = patient["Identifiers"][0]
    return {"ID": first["ID"], "IDType": first["IDType"]}


@verifies("PS-01")
def found(exchange: Exchange, patient: TestPatient) -> dict[str, Any]:
    """The match of a search for a test patient who must be found."""
    match = matched(exchange, patient)
    if match is None:
        raise NotFound(
            f"{exchange.label}: no match for {patient.alias!r}, who should be found "
            f"({NOT_ON_NETWORK})"
        )
    return match


@verifies("PS-04")
def location_answer(
    client: RedoxClient, settings: Settings, reporter: Reporter, network_patient: dict[str, str]
) -> Exchange:
    """The record locator's complete answer: the LocationQuery re-sent while it is Active."""
    message = location_query(settings, network_patient)

    def probe() -> Exchange | None:
        answer = client.send(message)
        return None if still_working(answer) else answer

    what = f"the record locator's answer (task-status {SUCCESS})"
    return poll_reported(reporter, what, settings.location_query, probe)


@verifies("PS-03")
def holders(
    client: RedoxClient,
    settings: Settings,
    reporter: Reporter,
    match: dict[str, Any],
    patient: TestPatient,
) -> list[Location]:
    """The location query for a match: at least one organization must hold records."""
    answer = location_answer(client, settings, reporter, network_id(match))
    listed = locations(answer)
    if not listed:
        raise NotFound(f"{answer.label}: no organization holds records of {patient.alias!r}")
    return listed


def locate(
    client: RedoxClient, settings: Settings, reporter: Reporter, patient: TestPatient
) -> Located:
    """Broad search, then the location query: CheckFailed naming the step that did not deliver."""
    match = found(client.send(demographics_query(settings, patient)), patient)
    listed = holders(client, settings, reporter, match, patient)
    return Located(patient, network_id(match), tuple(listed))


def same_identifiers(match: dict[str, Any], location: Location) -> bool:
    """Whether a match carries at least one of the identifiers the record locator listed."""
    got = {(i.get("ID"), i.get("IDType")) for i in match.get("Identifiers") or []}
    return bool(got & set(location.identifiers))


@verifies("PS-02")
def no_match(exchange: Exchange, patient: TestPatient) -> None:
    """A search for someone who does not exist must answer a well-formed "no match"."""
    if matched(exchange, patient) is not None:
        raise WrongContent(f"{exchange.label}: a patient matched who does not exist")


@verifies("PS-05")
def matched_at(exchange: Exchange, located: Located) -> dict[str, Any]:
    """The match of a search within the chosen organization, carrying identifiers the record
    locator listed for it."""
    location = located.chosen
    match = matched(exchange, located.patient)
    if match is None:
        raise NotFound(f"{exchange.label}: no match within the organization that holds records")
    if not same_identifiers(match, location):
        raise WrongContent(
            f"{exchange.label}: $.Patient.Identifiers: none of the identifiers the record "
            "locator listed for this organization"
        )
    return match


class DataModelPatientSearch:
    """Patient search through the Data Model API: the record locator (broad search, then
    LocationQuery), then PatientSearch.Query at one organization."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def locate(self, client: RedoxClient, reporter: Reporter, patient: TestPatient) -> Located:
        return locate(client, self.settings, reporter, patient)

    def across_network(self, client: RedoxClient, patient: TestPatient) -> Searched:
        """The broad search by demographics, to the record locator."""
        return Searched(patient, (client.send(demographics_query(self.settings, patient)),))

    def network_match(self, searched: Searched) -> dict[str, Any]:
        return found(searched.answer, searched.patient)

    def holders(
        self, client: RedoxClient, reporter: Reporter, match: dict[str, Any], searched: Searched
    ) -> None:
        holders(client, self.settings, reporter, match, searched.patient)

    def no_match(self, searched: Searched) -> None:
        no_match(searched.answer, searched.patient)

    def narrow(self, client: RedoxClient, located: Located) -> Exchange:
        oid = located.chosen.organization_oid
        return client.send(demographics_query(self.settings, located.patient, organization_oid=oid))

    def matched_at(self, exchange: Exchange, located: Located) -> dict[str, Any]:
        return matched_at(exchange, located)

    def carried_metadata(self, exchanges: list[Exchange]) -> None:
        rules.carried_metadata(exchanges, carequality_extensions(self.settings))
