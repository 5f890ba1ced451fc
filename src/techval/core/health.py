"""Whether the environment still answers (fail fast).

Every exchange the client records passes through `Health.observe`: requests in a row that got
no HTTP answer (refused connection, timeout, a malformed HTTP response) make the environment
unreachable, and the harness attempts no further scenario; so does a token refused after one
was granted (the client calls `stop` when the token provider finally gives up, after its own
renewal and fallbacks). A wait cut short by the scenario's own deadline says nothing about the
environment. After the first request without an answer, reads wait only `fail_fast.probe_read`
seconds until an answer comes, so a silent environment is recognised within about one read
timeout of the first failure.
"""

from __future__ import annotations

from techval.core.config import FailFast
from techval.core.exchange import Exchange


class Health:
    def __init__(self, fail_fast: FailFast) -> None:
        self.fail_fast = fail_fast
        self.failures = 0  # requests in a row without an HTTP answer
        self.unreachable: str | None = None  # why no further scenario is attempted

    def observe(self, exchange: Exchange) -> None:
        if exchange.cut_short:
            return
        if exchange.transport_error:
            self.failures += 1
            if self.failures >= self.fail_fast.after and self.unreachable is None:
                self.unreachable = (
                    f"{self.failures} requests in a row got no answer (the last: "
                    f"{exchange.label}: {exchange.transport_error})"
                )
            return
        self.failures = 0

    def stop(self, reason: str) -> None:
        """The environment is unreachable for a reason seen elsewhere (the first token)."""
        if self.unreachable is None:
            self.unreachable = reason

    def read_timeout(self, configured: float) -> float:
        return min(configured, self.fail_fast.probe_read) if self.failures else configured
