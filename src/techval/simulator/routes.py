"""The simulator's routing table: (destination purpose, DataModel, EventType) -> handler."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from techval.simulator.responses import Reply

if TYPE_CHECKING:
    from techval.simulator.app import Simulator

Handler = Callable[["Simulator", dict[str, Any], str], Reply]
Key = tuple[str, str, str]  # (destination purpose, DataModel, EventType)
DESTINATION_NAMES = {
    "organization": "Carequality Organization Directory",
    "patient_search": "Carequality Record Locator (Patient Search)",
    "organization_patient_search": "Carequality Patient Search (XCPD)",
    "clinical_summary": "Carequality Clinical Summary (XCA)",
    "data_on_demand": "Redox Data On Demand Repository",
}


K = TypeVar("K", bound=Hashable)
H = TypeVar("H")


class Table(Generic[K, H]):
    """One module's routes, key -> handler; the simulator merges the modules' tables
    (app.py), so nothing registers itself anywhere by being imported."""

    def __init__(self) -> None:
        self.table: dict[K, H] = {}


def merged(*modules: Table[K, H]) -> dict[K, H]:
    """The routes of every module; a key two modules claim is a programming error."""
    table: dict[K, H] = {}
    for routes in modules:
        clash = table.keys() & routes.table.keys()
        if clash:
            raise ValueError(f"simulator routes claimed twice: {sorted(map(str, clash))}")
        table |= routes.table
    return table


class Routes(Table[Key, Handler]):
    """The Data Model routes of one module."""

    def handles(
        self, purpose: str, data_model: str, *event_types: str
    ) -> Callable[[Handler], Handler]:
        def add(handler: Handler) -> Handler:
            for event_type in event_types:
                self.table[(purpose, data_model, event_type)] = handler
            return handler

        return add
