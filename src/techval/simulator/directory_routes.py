"""Routes of the organization destination: the Carequality directory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from techval.simulator.responses import Reply, echo_meta, json_reply
from techval.simulator.routes import Routes
from techval.simulator.shapes import DIRECTORY_RECORD, filled, reordered

if TYPE_CHECKING:
    from techval.simulator.app import Simulator


ROUTES = Routes()  # this module's routes (app.py merges them)


@ROUTES.handles("organization", "Organization", "New")
def organization_new(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    sim.directory.new(message["Organizations"])
    return json_reply(200, {"Meta": echo_meta(message["Meta"], name)})


@ROUTES.handles("organization", "Organization", "Update")
def organization_update(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    sim.directory.update(message["Organizations"], str(message.get("Action") or "Update"))
    return json_reply(200, {"Meta": echo_meta(message["Meta"], name)})


def as_answered(record: dict[str, Any]) -> dict[str, Any]:
    """A directory record as the directory answers it: every field of the model (nulls for
    the absent), identifiers, contacts and their e-mail addresses not in the order sent."""
    answered: dict[str, Any] = filled(DIRECTORY_RECORD, record)
    answered["Identifiers"] = reordered(answered["Identifiers"])
    answered["Contacts"] = reordered(answered["Contacts"])
    for contact in answered["Contacts"]:
        contact["EmailAddresses"] = reordered(contact["EmailAddresses"])
    return answered


@ROUTES.handles("organization", "Organization", "Query")
def organization_query(sim: Simulator, message: dict[str, Any], name: str) -> Reply:
    organizations, paging = sim.directory.query(message)
    return json_reply(
        200,
        {
            "Meta": echo_meta(message["Meta"], name),
            "Directory": message.get("Directory", "Carequality"),
            "Organizations": [as_answered(o) for o in organizations],
            "Paging": paging,
        },
    )
