"""Searching your own organization until what was pushed to the data-on-demand repository shows
up, the same through either API: each API's finder says how one search is made (`_search`)
and how a document is found (`document`); the waiting and the read-back are here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from techval.core.client import RedoxClient
from techval.core.config import Settings
from techval.core.reporting import Reporter
from techval.core.verifies import verifies
from techval.validation import readback
from techval.validation.patients import TestPatient
from techval.validation.waiting import Miss, poll_reported


class OwnOrganizationFinder:
    """Searches of the user's own organization, repeated until what was pushed shows up."""

    def __init__(self, client: RedoxClient, settings: Settings, reporter: Reporter) -> None:
        self.client, self.settings, self.reporter = client, settings, reporter

    def _until(self, what: str, probe: Callable[[], Any]) -> Any:
        return poll_reported(self.reporter, what, self.settings.data_on_demand, probe)

    def _search(
        self, patient: TestPatient, ids: list[dict[str, str]] | None
    ) -> dict[str, Any] | None:
        """The patient's record (Identifiers with IDType, Demographics) as one search of your
        organization answers it, by `ids` when given; None for no match."""
        raise NotImplementedError

    @verifies("DOD-06", "DOD-08", "DOD-09")
    def patient(
        self,
        patient: TestPatient,
        ids: list[dict[str, str]] | None = None,
        expect: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The patient as your organization answers for them, once the match holds what
        `expect` says (readback.differences); found but different is said so, not "not found"."""
        what = f"{patient.alias!r} in your organization {self.settings.carequality.sender.name}"

        def probe() -> dict[str, Any] | Miss | None:
            match = self._search(patient, ids)
            problems = readback.differences(expect, match) if match is not None else []
            return Miss(readback.describe(problems)) if problems else match

        result: dict[str, Any] = self._until(what, probe)
        return result

    @verifies("DOD-09")
    def gone(self, patient: TestPatient, ids: list[dict[str, str]]) -> None:
        """Wait until no record answers to these identifiers any more."""
        what = f"the merged-away record of {patient.alias!r} to disappear"
        self._until(what, lambda: True if self._search(patient, ids) is None else None)
