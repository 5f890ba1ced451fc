"""A run whose secret is short renews its token and passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from techval.simulator import RunningSimulator
from tests.helpers import run_techval, write_environment
from tests.unit.test_auth import (
    SHORT_SECRET,
    short_secret_auth,
)


@pytest.mark.whole_run
def test_a_run_with_a_short_secret_renewing_its_token_passes(
    server: RunningSimulator, tmp_path: Path
) -> None:
    server.simulator.tokens.register_secret("harness-test-client", SHORT_SECRET)
    server.simulator.tokens.lifetime = 1  # inside the renewal margin: a new token every request
    config = write_environment(
        tmp_path, simulator=None, base_url=server.url, auth=short_secret_auth()
    )
    result = run_techval(["--config", str(config)], tmp_path / "reports", timeout=300)
    assert result.code == 0, result.stdout[-3000:] + result.stderr[-2000:]
    cases = result.cases()
    assert cases and not any(cases.values())
    tokens = [r for r in server.simulator.captured if r.path == "/v2/auth/token"]
    assert len(tokens) > len(cases)  # renewed inside the scenarios
