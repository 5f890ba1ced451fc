"""SIGTERM during a run: handled as Ctrl-C is, so the reports of what ran are written."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class Terminated:
    received = False


@contextlib.contextmanager
def terminable() -> Iterator[Terminated]:
    """SIGTERM (a cancelled CI job, `docker stop`, `timeout`) ends the run as Ctrl-C does:
    pytest stops, the reports of what ran are written, marked interrupted. A second SIGTERM
    ends the process at once."""
    term = Terminated()

    def on_term(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        term.received = True
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, on_term)
    try:
        yield term
    finally:
        signal.signal(signal.SIGTERM, before)
