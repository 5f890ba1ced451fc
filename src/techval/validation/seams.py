"""What each API's patient search, document query and repository finder offer the steps: the
seam the features run on, whichever API a run speaks (validation.apis picks the objects).
mypy checks that both APIs' objects have these methods with these types; an API's own
answer (a Data Model Exchange, or FHIR pages: a Walk) travels between its own methods only.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from techval.core.client import RedoxClient
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.validation.located import Located, Location, Searched
from techval.validation.patients import TestPatient

Answer = TypeVar("Answer")  # one API's answer to a search: an Exchange, or its pages (Walk)


class PatientSearchApi(Protocol[Answer]):
    """Validation step 2: the patient across the network, then within one organization."""

    def locate(self, client: RedoxClient, reporter: Reporter, patient: TestPatient, /) -> Located:
        """Where the patient's records are (NotFound, TestDataMismatch naming why not)."""

    def across_network(self, client: RedoxClient, patient: TestPatient, /) -> Searched: ...

    def network_match(self, searched: Searched, /) -> dict[str, Any]: ...

    def holders(
        self,
        client: RedoxClient,
        reporter: Reporter,
        match: dict[str, Any],
        searched: Searched,
        /,
    ) -> None: ...

    def no_match(self, searched: Searched, /) -> None: ...

    def narrow(self, client: RedoxClient, located: Located, /) -> Answer:
        """The search within the organization that holds the records."""

    def matched_at(self, found: Answer, located: Located, /) -> dict[str, Any]: ...

    def carried_metadata(self, exchanges: list[Exchange], /) -> None:
        """Every Carequality request carried the environment's metadata."""


class DocumentsApi(Protocol[Answer]):
    """Validation step 3: list, retrieve and summarize a patient's documents."""

    def search(self, client: RedoxClient, location: Location, /) -> Answer: ...

    def listed(self, found: Answer, /) -> list[str]: ...

    def retrieve(self, client: RedoxClient, location: Location, document_id: str, /) -> Exchange:
        """One listed document."""

    def retrieved(self, exchange: Exchange, requested_id: str, /) -> str:
        """The retrieved document's text (the one requested)."""

    def check_cda(self, exchange: Exchange, text: str, /) -> None: ...

    def expect_no_documents(self, found: Answer, patient: TestPatient, /) -> None: ...

    def summary_of(self, client: RedoxClient, location: Location, /) -> Exchange: ...

    def summary(self, exchange: Exchange, location: Location, /) -> dict[str, Any]: ...


class FinderApi(Protocol):
    """Validation step 4: what was pushed, found again in your organization's repository."""

    def patient(
        self,
        patient: TestPatient,
        ids: list[dict[str, str]] | None = None,
        expect: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    def gone(self, patient: TestPatient, ids: list[dict[str, str]], /) -> None: ...

    def document(self, ids: list[dict[str, str]], sent: dict[str, Any], /) -> dict[str, Any]: ...
