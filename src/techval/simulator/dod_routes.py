"""Routes of the data-on-demand destination: pushes into the user's Redox-hosted repository.

Redox acknowledges a push on receipt (HTTP 200 with Meta.Logs) and processes it later; what was
pushed becomes searchable after the repository's delay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from techval.simulator.responses import Reply, echo_meta, json_reply
from techval.simulator.routes import Routes

if TYPE_CHECKING:
    from techval.simulator.app import Simulator

PUSHES = {
    ("PatientAdmin", "NewPatient"): "new_patient",
    ("PatientAdmin", "PatientUpdate"): "new_patient",  # an update replaces the demographics
    ("PatientAdmin", "PatientMerge"): "merge",
    ("Clinical Summary", "VisitPush"): "visit_push",
}


def _acknowledge(message: dict[str, Any], name: str) -> Reply:
    return json_reply(200, {"Meta": echo_meta(message["Meta"], name)})


ROUTES = Routes()  # this module's routes (app.py merges them)


@ROUTES.handles("data_on_demand", "PatientAdmin", "NewPatient", "PatientUpdate", "PatientMerge")
@ROUTES.handles("data_on_demand", "Clinical Summary", "VisitPush")
def push(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    meta = message["Meta"]
    getattr(sim.repository, PUSHES[(meta["DataModel"], meta["EventType"])])(message)
    return _acknowledge(message, name)
