"""The simulator's routing table: (destination purpose, DataModel, EventType) -> handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from techval.simulator.responses import Reply

if TYPE_CHECKING:
    from techval.simulator.app import Simulator

Handler = Callable[["Simulator", dict[str, Any], str], Reply]
HANDLERS: dict[tuple[str, str, str], Handler] = {}
DESTINATION_NAMES = {
    "organization": "Carequality Organization Directory",
    "patient_search": "Carequality Record Locator (Patient Search)",
    "organization_patient_search": "Carequality Patient Search (XCPD)",
    "clinical_summary": "Carequality Clinical Summary (XCA)",
    "data_on_demand": "Redox Data On Demand Repository",
}


def handles(purpose: str, data_model: str, *event_types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            HANDLERS[(purpose, data_model, event_type)] = handler
        return handler

    return register
