"""Redox's size limit (`limits.message_bytes`): 40 MB on its quotas page, 10 MB on its error
page (fact 8.2), so the environment file says which one the harness holds messages and
answers to."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from techval.core.errors import ConfigError, SchemaMismatch
from techval.core.redox import MAX_MESSAGE_BYTES
from techval.validation import checks, rules, search
from techval.validation.patients import load_patients
from tests.helpers import in_process_client, settings_for

SMALL = 1_700


def test_the_limit_is_forty_megabytes_unless_the_environment_says_otherwise(
    tmp_path: Path,
) -> None:
    assert settings_for(tmp_path).message_limit_bytes == MAX_MESSAGE_BYTES == 40_000_000
    ten = settings_for(tmp_path, limits={"message_bytes": 10_000_000})
    assert ten.message_limit_bytes == 10_000_000


@pytest.mark.parametrize(
    ("limits", "named"),
    [
        ({"message_bytes": 5}, "limits.message_bytes: 5 is less than the minimum of 1000"),
        ({"bytes": 10}, "limits: unknown key"),
    ],
)
def test_a_bad_limit_is_refused_naming_the_key(
    tmp_path: Path, limits: dict[str, int], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        settings_for(tmp_path, limits=limits)


def test_a_message_over_the_configured_limit_is_not_sent_naming_it(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, limits={"message_bytes": 10_000_000})
    message = {"Meta": {}, "Note": "x" * 12_000_000}
    (violation,) = rules.size(message, settings.message_limit_bytes)
    assert violation.message == (
        "the message is 12.0 MB; Redox accepts at most 10 MB (limits.message_bytes)"
    )
    assert rules.size(message) == []  # under the documented 40 MB


def test_an_answer_over_the_configured_limit_is_not_read_and_fails_naming_it(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    client = in_process_client(settings)
    # the limit a small environment sets, under this answer's size but over the message's
    client.settings = replace(client.settings, message_limit_bytes=SMALL)
    patient = load_patients(settings.test_patients)["test patient 1"]
    message = search.demographics_query(settings, patient)
    assert len(json.dumps(message)) < SMALL
    exchange = client.send(message)
    assert exchange.oversized and exchange.read_limit == SMALL
    with pytest.raises(SchemaMismatch, match=r"over the 1,700 byte limit of a Redox message"):
        checks.answered(exchange)
