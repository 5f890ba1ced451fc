"""The scenario's time budget (timeouts.scenario): started by the harness around each
scenario, read by the client to cut waits and reads short. Holds a time, nothing else."""

from __future__ import annotations

import time


class ScenarioClock:
    def __init__(self) -> None:
        self._deadline: float | None = None  # time.monotonic() by which the scenario must end

    def start(self, seconds: float) -> None:
        self._deadline = time.monotonic() + seconds

    def stop(self) -> None:
        self._deadline = None

    def remaining(self) -> float | None:
        """Seconds left, None when no scenario is timed (the first token, plain tests)."""
        return None if self._deadline is None else self._deadline - time.monotonic()
