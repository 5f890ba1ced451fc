"""The client and the checks on answers: each nonconforming answer fails with its cause."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from techval.core.config import Settings
from techval.core.errors import CheckFailed, InvalidMessage, TransportError
from techval.core.exchange import Exchange
from techval.simulator import Simulator, faults, provision
from techval.simulator.responses import Reply
from techval.validation import checks, organization
from tests.helpers import in_process_client, settings_for

REDOX_GATEWAY = "2.16.840.1.113883.3.6147.458.2"


def send_query(settings: Settings, *extra_faults: faults.Fault) -> Exchange:
    simulator = provision(settings)
    simulator.faults.extend(extra_faults)
    client = in_process_client(settings, simulator)
    return client.send(organization.query_message(settings, REDOX_GATEWAY))  # seeded record


def test_good_answer_passes_and_records_log_ids(test_settings: Settings) -> None:
    exchange = send_query(test_settings)
    checks.succeeded(exchange)
    assert exchange.schema == "Organization.Query.response"
    assert len(exchange.log_ids) == 1 and exchange.summary().startswith(
        "Organization.Query: HTTP 200"
    )


def test_invalid_message_is_not_sent(test_settings: Settings) -> None:
    simulator = provision(test_settings)
    client = in_process_client(test_settings, simulator)
    message = organization.new_message(test_settings, test_settings.organizations[0])
    del message["Organizations"][0]["Name"]
    with pytest.raises(InvalidMessage, match=r"not sent: \$\.Organizations\[0\]\.Name: required"):
        client.send(message)
    assert [r.path for r in simulator.captured] == []


def test_authorization_is_masked_in_the_record(test_settings: Settings) -> None:
    exchange = send_query(test_settings)
    assert exchange.request_headers["Authorization"] == "Bearer ***"


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (faults.named("malformed_json"), "the response is not JSON (HTTP 200"),
        (faults.named("server_error"), "Redox answered HTTP 500"),
        (
            faults.named("meta_errors_on_success"),
            "Redox answered HTTP 200 with Meta.Errors: Something went wrong",
        ),
        (faults.named("missing_required_field"), "$.Organizations: required field missing"),
        (faults.named("wrong_type"), "$.Organizations[0].Active: expected boolean, got string"),
    ],
    ids=["non-json", "http-500", "200-with-meta-errors", "missing-field", "wrong-type"],
)
def test_nonconforming_answers_fail_naming_the_cause(
    test_settings: Settings, fault: faults.Fault, expected: str
) -> None:
    exchange = send_query(test_settings, fault)
    with pytest.raises(CheckFailed) as caught:
        checks.succeeded(exchange)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("Organization.Query:")


def test_401_renews_the_token_once(test_settings: Settings) -> None:
    simulator = provision(test_settings)
    client = in_process_client(test_settings, simulator)
    client.auth.token()
    simulator.tokens.revoke_all()  # the token dies before its time
    exchange = client.send(organization.query_message(test_settings, "1.2.3"))
    assert exchange.status == 200 and exchange.attempt == 2
    assert [r.path for r in simulator.captured].count("/v2/auth/token") == 2


def test_unreachable_server_is_a_transport_error(tmp_path: Any) -> None:
    settings = settings_for(tmp_path)
    client = in_process_client(settings)
    client.auth.token()
    client.settings = client.settings.with_base_url("http://127.0.0.1:9")
    client.http = type(client.http)(timeout=2)
    with pytest.raises(
        TransportError, match=r"http://127.0.0.1:9/endpoint: cannot reach \(ConnectError\)"
    ):
        client.send(organization.query_message(settings, "1.2.3"))
    assert client.exchanges[-1].transport_error == "ConnectError"


def test_refused_with_matches_status_and_text(test_settings: Settings) -> None:
    client = in_process_client(test_settings)
    profile = test_settings.organizations[0]
    client.send(organization.new_message(test_settings, profile))
    again = client.send(organization.new_message(test_settings, profile))
    assert checks.refused_with(again, 403, f"{profile.oid} already exists.")
    assert not checks.refused_with(again, 400, "already exists")


def answer(status: int, body: bytes) -> Callable[[Any, Any], Reply]:
    def fault(message: Any, proceed: Callable[[], Reply]) -> Reply:
        return Reply(status, body, {"Content-Type": "application/json"}) if message else proceed()

    return fault


def test_error_answer_is_checked_against_the_error_schema(test_settings: Settings) -> None:
    exchange = send_query(test_settings, answer(403, b'{"Meta": {"Errors": [{"ID": 1}]}}'))
    assert exchange.schema == "common/error.response"
    with pytest.raises(CheckFailed, match=r"Errors\[0\]\.Text: required field missing"):
        checks.answered(exchange)


def test_meta_errors_that_are_not_a_list_fail_the_check(test_settings: Settings) -> None:
    exchange = send_query(test_settings, answer(200, b'{"Meta": {"Errors": true}}'))
    assert exchange.redox_errors == ["True"] and exchange.schema == "common/error.response"
    with pytest.raises(CheckFailed, match=r"Redox answered HTTP 200 with Meta.Errors: True"):
        checks.succeeded(exchange)


def test_exchange_document_is_json_ready(simulator: Simulator, test_settings: Settings) -> None:
    exchange = send_query(test_settings)
    document = exchange.as_document()
    assert document["response"]["status"] == 200 and document["redox_log_ids"] == exchange.log_ids


def test_valid_messages_and_answers_are_checked_without_jsonschema(
    test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = in_process_client(test_settings)

    def refuse(name: str) -> None:
        raise AssertionError(f"{name}: a valid message went to jsonschema")

    monkeypatch.setattr(client.registry, "validator", refuse)
    exchange = client.send(organization.query_message(test_settings, REDOX_GATEWAY))
    assert exchange.schema == "Organization.Query.response" and exchange.violations == []
