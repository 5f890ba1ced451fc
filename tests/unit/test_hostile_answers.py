"""Bounded in time and memory whatever the server does: answers dripping a byte at a time, gzip
bombs, malformed HTTP and JSON nested too deep, from /endpoint and from the token endpoint, each
ending with one line naming what was observed (tests/hostile.py is the server)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from techval.core.errors import (
    AuthError,
    MalformedResponse,
    ScenarioTimeout,
    SchemaMismatch,
    TransportError,
)
from techval.core.exchange import MAX_DEPTH
from techval.core.redaction import Redactor
from techval.core.redox import MAX_MESSAGE_BYTES
from techval.core.schemas import SchemaRegistry
from techval.harness.evidence import drift, har
from techval.validation import checks, organization
from tests import hostile
from tests.helpers import (
    REDOX_GATEWAY,
    ROOT,
    RecordingClient,
    RunResult,
    settings_for,
    write_environment,
)

TOKEN_PATH = "/v2/auth/token"  # the test environment's token_url
BOMB = 4 << 30  # 4 GiB of zeros, about 4 MB on the wire
QUICK = {"connect": 1, "read": 1, "token": 1}


def client_for(tmp_path: Path, url: str, **timeouts: float) -> RecordingClient:
    settings = settings_for(tmp_path, simulator=None, base_url=url, timeouts={**QUICK, **timeouts})
    return RecordingClient(settings, SchemaRegistry(), Redactor(settings.auth.secret_values()))


def query(client: RecordingClient) -> Any:
    return client.send(organization.query_message(client.settings, REDOX_GATEWAY))


Script = hostile.Answer | list[hostile.Answer]


def answering(
    endpoint: Script, token: Script | None = None
) -> AbstractContextManager[hostile.HostileServer]:
    """A hostile server answering /endpoint and the token endpoint (a token by default)."""
    return hostile.hostile_server(
        {TOKEN_PATH: token or hostile.token_grant(), "/endpoint": endpoint}
    )


def test_the_bomb_inflates_to_exactly_what_it_says() -> None:
    assert gzip.decompress(hostile.bomb(8 << 20)) == bytes(8 << 20)
    assert gzip.decompress(hostile.bomb(3 << 20)) == bytes(3 << 20)  # its CRC checked too
    assert len(hostile.bomb(BOMB)) < 5_000_000


def test_crcs_joined_are_the_crc_of_the_bytes_end_to_end() -> None:
    first, second = b"Carequality", bytes(1000) + b"Redox"
    joined = hostile.crc32_joined(zlib.crc32(first), zlib.crc32(second), len(second))
    assert joined == zlib.crc32(first + second)
    assert hostile.zeros_crc32(5, zlib.crc32(bytes(7)), 7) == zlib.crc32(bytes(35))


@pytest.mark.parametrize(
    "answer",
    [hostile.drip(b"x" * 1000, every=0.1), hostile.drip_headers(every=0.1)],
    ids=["body", "headers"],
)
def test_an_answer_dripping_a_byte_at_a_time_ends_at_the_read_timeout_as_a_whole(
    tmp_path: Path, answer: hostile.Answer
) -> None:
    with answering(answer) as server:
        client = client_for(tmp_path, server.url, read=1)
        started = time.monotonic()
        with pytest.raises(TransportError, match=r"timed out \(no complete answer within 1 s\)"):
            query(client)
        assert time.monotonic() - started < 1.8
    assert client.health.failures == 1  # no answer: it counts toward fail fast


def test_a_drip_is_cut_at_the_scenarios_deadline_which_says_nothing_of_the_environment(
    tmp_path: Path,
) -> None:
    with answering(hostile.drip(b"x" * 1000, every=0.1)) as server:
        client = client_for(tmp_path, server.url, read=30)
        client.auth.token()
        client.clock.start(1.0)
        started = time.monotonic()
        with pytest.raises(ScenarioTimeout, match=r"the scenario's deadline \(\S+ s\) passed"):
            query(client)
        assert time.monotonic() - started < 1.8
    assert client.exchanges[-1].cut_short and client.health.failures == 0


def test_a_dripping_token_answer_ends_at_the_token_timeout(tmp_path: Path) -> None:
    with answering(hostile.token_grant(), token=hostile.drip(b"x" * 1000, every=0.1)) as server:
        client = client_for(tmp_path, server.url, read=30)
        started = time.monotonic()
        with pytest.raises(AuthError, match=r"cannot reach the token endpoint .*: timed out"):
            client.auth.token()
        assert time.monotonic() - started < 1.8


def test_a_token_renewal_is_cut_at_the_scenarios_deadline_without_stopping_the_run(
    tmp_path: Path,
) -> None:
    token = [hostile.token_grant(), hostile.drip(b"x" * 1000, every=0.1)]
    with answering(hostile.json_answer({}), token=token) as server:
        client = client_for(tmp_path, server.url, token=30)
        client.auth.token()
        client.auth.invalidate()
        client.clock.start(1.0)
        with pytest.raises(ScenarioTimeout):
            query(client)
    assert client.health.unreachable is None and client.health.failures == 0


def test_a_gzip_encoded_answer_is_read(tmp_path: Path) -> None:
    with answering(hostile.gzip_json({"Meta": {"DataModel": "Organization"}})) as server:
        exchange = query(client_for(tmp_path, server.url))
    assert exchange.status == 200 and exchange.response_body == {
        "Meta": {"DataModel": "Organization"}
    }
    assert exchange.response_headers["content-encoding"] == "gzip"  # as it came


def oversized_plain() -> hostile.Answer:
    body = b'{"Data": "' + b" " * MAX_MESSAGE_BYTES + b'"}'
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return hostile.raw(head.encode() + body)


def gzip_bomb() -> hostile.Answer:
    return hostile.gzip_bomb(BOMB)


# answers built by the test that uses them, not while every test is collected
@pytest.mark.parametrize("answer", [gzip_bomb, oversized_plain], ids=["gzip-bomb", "plain"])
def test_an_answer_over_the_limit_once_decoded_is_not_read_further(
    tmp_path: Path, answer: Callable[[], hostile.Answer]
) -> None:
    with answering(answer()) as server:
        client = client_for(tmp_path, server.url)
        tracemalloc.start()
        try:
            exchange = query(client)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert exchange.oversized and exchange.status == 200
    assert peak < 4 * MAX_MESSAGE_BYTES, peak  # the limit, and a chunk or two beyond it
    with pytest.raises(SchemaMismatch, match=f"over the {MAX_MESSAGE_BYTES:,} byte limit"):
        checks.succeeded(exchange)


def test_a_gzip_bomb_from_the_token_endpoint_is_one_line(tmp_path: Path) -> None:
    with answering(hostile.token_grant(), token=gzip_bomb()) as server:
        client = client_for(tmp_path, server.url)
        with pytest.raises(AuthError) as caught:
            client.auth.token()
    assert str(caught.value).endswith(
        f"answered HTTP 200 with a body over the {MAX_MESSAGE_BYTES:,} byte limit "
        "(not read further)"
    )


@pytest.mark.parametrize(
    ("answer", "observed"),
    [
        (hostile.malformed_header(), "RemoteProtocolError: illegal header line"),
        (hostile.closed_mid_body(), "RemoteProtocolError: peer closed connection without"),
        (hostile.bad_gzip(), "DecodingError: the gzip body does not decode"),
    ],
    ids=["bad-header", "closed-mid-body", "bad-gzip"],
)
def test_a_malformed_http_answer_is_named_so(
    tmp_path: Path, answer: hostile.Answer, observed: str
) -> None:
    with answering(answer, token=answer) as server:
        client = client_for(tmp_path, server.url)
        with pytest.raises(AuthError) as token_error:
            client.auth.token()
    with answering(answer) as server:
        client = client_for(tmp_path, server.url)
        with pytest.raises(MalformedResponse) as caught:
            query(client)
    assert f"answered with a malformed HTTP response ({observed}" in str(token_error.value)
    assert f"/endpoint: answered with a malformed HTTP response ({observed}" in str(caught.value)
    assert client.health.failures == 1  # no answer to judge: counts toward fail fast


def test_a_server_hanging_up_without_answering_cannot_be_reached(tmp_path: Path) -> None:
    with (
        answering(hostile.hang_up()) as server,
        pytest.raises(TransportError, match=r"cannot reach \(RemoteProtocolError\)$"),
    ):
        query(client_for(tmp_path, server.url))


@pytest.mark.parametrize("depth", [100_000, 600, MAX_DEPTH + 1])
def test_an_answer_nested_too_deep_fails_its_check_and_the_evidence_survives_it(
    tmp_path: Path, depth: int
) -> None:
    with answering(hostile.deep_json(depth)) as server:
        client = client_for(tmp_path, server.url)
        exchange = query(client)
    assert exchange.too_deep and exchange.response_body is None
    with pytest.raises(SchemaMismatch, match=f"JSON nested more than {MAX_DEPTH} levels deep"):
        checks.succeeded(exchange)
    json.dumps(har.entry(exchange, client.redactor))
    assert drift.shape_of(exchange) is None
    assert exchange.to_json()


def test_an_answer_as_deep_as_allowed_is_read(tmp_path: Path) -> None:
    with answering(hostile.deep_json(MAX_DEPTH)) as server:
        client = client_for(tmp_path, server.url)
        exchange = query(client)
    assert not exchange.too_deep and exchange.response_body is not None
    json.dumps(har.entry(exchange, client.redactor))
    json.dumps(drift.shape_of(exchange))
    assert exchange.to_json()


def test_a_token_answer_nested_too_deep_is_one_line(tmp_path: Path) -> None:
    with answering(hostile.token_grant(), token=hostile.deep_json()) as server:
        client = client_for(tmp_path, server.url)
        with pytest.raises(AuthError) as caught:
            client.auth.token()
    assert str(caught.value).endswith(
        f"answered HTTP 200 with JSON nested more than {MAX_DEPTH} levels deep"
    )


@pytest.mark.parametrize("expires_in", [10**400, float("inf"), float("nan")])
def test_any_token_lifetime_is_taken_without_breaking(tmp_path: Path, expires_in: Any) -> None:
    text = json.dumps({"access_token": "t-0123456789", "expires_in": expires_in})
    body = text.encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with answering(hostile.json_answer({}), token=hostile.raw(head.encode() + body)) as server:
        client = client_for(tmp_path, server.url)
        assert client.auth.token() == "t-0123456789"
        assert client.auth.token() == "t-0123456789"


# Whole runs through the CLI, against the hostile server (the simulator is not started).


def run_measured(config: Path, reports: Path, timeout: float = 120) -> tuple[RunResult, int]:
    """`techval run` as a user starts it, and the peak memory (bytes) of its process."""
    peak = reports.parent / "peak-rss"
    wrapper = (  # ru_maxrss of the children: the techval process, waited for by this one
        "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
        "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))"
        "; sys.exit(code)"
    )
    command = [sys.executable, "-m", "techval.cli", "run", "--reports", str(reports), "--no-html"]
    completed = subprocess.run(
        [sys.executable, "-c", wrapper, str(peak), *command, "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = RunResult(completed.returncode, completed.stdout, completed.stderr, reports)
    return result, int(peak.read_text()) * 1024  # Linux counts kilobytes


def scenarios(result: RunResult) -> list[dict[str, Any]]:
    verdict = json.loads((result.reports / "verdict.json").read_text())
    return [s for step in verdict["steps"] for s in step["scenarios"]]


def complete(result: RunResult) -> None:
    assert "Traceback" not in result.stderr + result.stdout
    for part in ("verdict.json", "junit.xml", "exchanges.har"):
        assert (result.reports / part).is_file(), part
    assert len(scenarios(result)) == 15  # the test environment has one organization


@pytest.fixture
def environment(tmp_path: Path) -> Iterator[Any]:
    """An environment file for a hostile server's URL: call it with the URL and timeouts."""

    def write(url: str, **timeouts: float) -> Path:
        return write_environment(tmp_path, simulator=None, base_url=url, timeouts=timeouts)

    yield write
