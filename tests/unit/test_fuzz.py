"""Bad input never crashes the harness: random, malformed, deeply nested, huge and wrongly
typed answers and environment files each end as a check that fails (or passes) or as one
ConfigError line; never another exception."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from techval.core.config import Settings, load_settings
from techval.core.errors import CheckFailed, ConfigError
from techval.simulator import Simulator, provision
from techval.simulator.faults import Message
from techval.simulator.responses import Reply
from techval.validation import checks, organization
from tests.helpers import (
    REDOX_GATEWAY,
    ROOT,
    RecordingClient,
    environment,
    in_process_client,
    settings_for,
)

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)
KEYS = st.sampled_from(["Meta", "Organizations", "Errors", "Logs", "DataModel", "Active", "Name"])
REDOX_SHAPED = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass
class Target:
    """One simulator and client for every example: only the planted answer changes."""

    settings: Settings
    simulator: Simulator
    client: RecordingClient


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Target:
    settings = settings_for(tmp_path_factory.mktemp("fuzz"))
    simulator = provision(settings)
    return Target(settings, simulator, in_process_client(settings, simulator))


def answer(target: Target, status: int, body: bytes) -> None:
    """Send an Organization.Query to a simulator answering `body`; check the answer."""

    def replace(message: Message, proceed: Any) -> Reply:
        return Reply(status, body, {"Content-Type": "application/json"}) if message else proceed()

    target.simulator.faults[:] = [replace]
    target.client.exchanges.clear()  # keep memory flat over hundreds of examples
    exchange = target.client.send(organization.query_message(target.settings, REDOX_GATEWAY))
    try:
        checks.succeeded(exchange)
    except CheckFailed as failure:
        assert str(failure).startswith("Organization.Query: ")
        assert "\n" not in str(failure)[:200]


@FUZZ
@given(body=JSON | REDOX_SHAPED, status=st.sampled_from([200, 400, 403, 500]))
def test_any_json_answer_is_checked_without_crashing(
    target: Target, body: Any, status: int
) -> None:
    answer(target, status, json.dumps(body).encode())


@FUZZ
@given(body=st.binary(max_size=2000))
@example(body=b'{"Meta": ')
@example(body=b"\xff\xfe\x00")
@example(body=b"[" * 100_000 + b"]" * 100_000)
@example(body=b'{"a":' * 50_000 + b"1" + b"}" * 50_000)
@example(body=json.dumps({"Meta": {"DataModel": "x" * 5_000_000}}).encode())
def test_malformed_deep_and_huge_bodies_are_checked_without_crashing(
    target: Target, body: bytes
) -> None:
    answer(target, 200, body)


def write(folder: Path, document: Any) -> Path:
    path = folder / "env.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def load_or_config_error(path: Path) -> None:
    try:
        load_settings(config_path=path, root=ROOT, environ={})
    except ConfigError as error:
        message = str(error)
        assert message.startswith(str(path)) or "environment variable" in message, message
        assert "\n" not in message


@FUZZ
@given(text=st.text(max_size=400))
@example(text="[" * 100_000)
@example(text="a: " + "{b: " * 20_000)
@example(text="name: " + "x" * 3_000_000)
@example(text="- !!python/object:os.system\n")
@example(text="\x00\x01")
def test_any_environment_file_text_is_loaded_or_refused_in_one_line(
    tmp_path: Path, text: str
) -> None:
    load_or_config_error(write(tmp_path, text))


@FUZZ
@given(key=st.sampled_from(sorted(environment())), value=JSON)
def test_any_value_under_any_key_is_loaded_or_refused_in_one_line(
    tmp_path: Path, key: str, value: Any
) -> None:
    document = environment()
    document[key] = value
    load_or_config_error(write(tmp_path, document))


@FUZZ
@given(
    path=st.lists(
        st.sampled_from(["auth", "organization", "oids", "carequality", "0", "name"]),
        min_size=1,
        max_size=3,
    ),
    value=JSON,
)
def test_wrong_types_deep_in_the_file_are_refused_in_one_line(
    tmp_path: Path, path: list[str], value: Any
) -> None:
    document: Any = environment()
    node = document
    for part in path[:-1]:
        child = (
            node[int(part)]
            if isinstance(node, list) and part.isdigit() and int(part) < len(node)
            else (node.get(part) if isinstance(node, dict) else None)
        )
        if not isinstance(child, (dict, list)):
            break
        node = child
    if isinstance(node, dict):
        node[path[-1]] = value
    load_or_config_error(write(tmp_path, document))
