"""The record locator's fan-out: PatientSearch.LocationQuery is asynchronous (redox-api.md 10.1).

The same query (the same patient identifier) is answered `Meta.Extensions.task-status` "Active"
with no or part of the organizations the first `active` times, then "Success" with all of them.
Its re-sends are the only handle on the task, so once it succeeded the same query keeps
answering "Success" [INFERRED].
"""

from __future__ import annotations

import threading
from typing import Any

from techval.core.redox import ACTIVE, EXTENSION_URL, SUCCESS, TASK_STATUS

TASK_STATUS_URL = EXTENSION_URL + TASK_STATUS


def task_status(status: str) -> dict[str, str]:
    return {"url": TASK_STATUS_URL, "string": status}


class FanOut:
    def __init__(self, active: int = 1) -> None:
        self.active = active
        self._asked: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def ask(self, identifier: Any) -> tuple[str, float]:
        """The status of this query now, and the share of organizations answered so far."""
        key = (
            (str(identifier.get("ID")), str(identifier.get("IDType")))
            if isinstance(identifier, dict)
            else ("", "")
        )
        with self._lock:
            asked = self._asked.get(key, 0)
            self._asked[key] = asked + 1
            if asked < self.active:
                return ACTIVE, asked / self.active
            return SUCCESS, 1.0
