"""The built-in simulator of the Redox API (token endpoints, /endpoint, Carequality directory)."""

from __future__ import annotations

from techval.simulator.app import Simulator
from techval.simulator.provision import provision
from techval.simulator.server import RunningSimulator

__all__ = ["RunningSimulator", "Simulator", "provision"]
