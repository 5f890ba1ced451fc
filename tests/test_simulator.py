"""The simulator answers as Redox documents, for good and bad input alike."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from techval import organization
from techval.config import Settings
from techval.simulator import RunningSimulator, Simulator, provision
from techval.simulator.app import NO_SUBSCRIPTION
from tests.helpers import in_process_client

HEALTH_SYSTEM, HARNESS = "Simulated Health System", "Harness Test Clinic"


def post(simulator: Simulator, body: Any, token: str | None = "valid") -> tuple[int, Any]:
    if token == "valid":
        token = simulator.tokens._issue(300)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = simulator.handle("POST", "/endpoint", headers, raw)
    try:
        return reply.status, json.loads(reply.body)
    except ValueError:
        return reply.status, reply.body.decode()


def errors(document: dict[str, Any]) -> list[str]:
    return [e["Text"] for e in document["Meta"]["Errors"]]


def test_endpoint_needs_a_valid_token(simulator: Simulator, test_settings: Settings) -> None:
    message = organization.query_message(test_settings, "1.2.3")
    assert post(simulator, message, token=None) == (401, "Unauthorized")
    assert post(simulator, message, token="forged")[0] == 401


def test_malformed_and_schema_breaking_messages_get_400(
    simulator: Simulator, test_settings: Settings
) -> None:
    status, body = post(simulator, b"{not json")
    assert status == 400 and errors(body) == ["Request body is not valid JSON"]
    message = organization.new_message(test_settings, test_settings.organizations[0])
    del message["Organizations"][0]["Name"]
    status, body = post(simulator, message)
    assert status == 400
    assert errors(body) == ["Required field missing - Organizations[0].Name in Organization:New"]


def test_unknown_destination_has_no_subscription(
    simulator: Simulator, test_settings: Settings
) -> None:
    message = organization.query_message(test_settings, "1.2.3")
    message["Meta"]["Destinations"] = [{"ID": "00000000-0000-4000-8000-000000000000"}]
    status, body = post(simulator, message)
    assert status == 400 and errors(body)[0].startswith(NO_SUBSCRIPTION)
    message["Meta"]["Destinations"] = [{"ID": test_settings.destinations["patient_search"]}]
    assert post(simulator, message)[0] == 400  # subscribed, but not to Organization.Query


def test_queries_take_one_destination(simulator: Simulator, test_settings: Settings) -> None:
    message = organization.query_message(test_settings, "1.2.3")
    message["Meta"]["Destinations"] *= 2
    status, body = post(simulator, message)
    assert status == 400 and "only support one destination" in errors(body)[0]


def test_directory_lifecycle_with_documented_answers(
    simulator: Simulator, test_settings: Settings
) -> None:
    profile = test_settings.organizations[0]
    new = organization.new_message(test_settings, profile)
    status, body = post(simulator, new)
    assert status == 200 and body["Meta"]["Logs"][0]["ID"]
    assert body["Meta"]["Destinations"][0]["Name"] == "Carequality Organization Directory"
    status, body = post(simulator, new)
    assert (status, errors(body)) == (403, [f"{profile.oid} already exists."])

    post(simulator, organization.update_message(test_settings, profile, active=False))
    status, body = post(simulator, organization.query_message(test_settings, profile.oid))
    assert status == 200 and body["Organizations"][0]["Active"] is False
    assert body["Meta"]["EventType"] == "Query"  # Redox echoes the request's event type
    assert body["Paging"] == {"Count": 1, "Index": 0}


def test_update_of_unknown_oid_is_not_valid(simulator: Simulator, test_settings: Settings) -> None:
    profile = test_settings.organizations[0]
    status, body = post(simulator, organization.update_message(test_settings, profile))
    assert (status, errors(body)) == (403, [f"id: {profile.oid} is not valid."])


def test_record_without_type_cannot_be_parsed(
    simulator: Simulator, test_settings: Settings
) -> None:
    message = organization.new_message(test_settings, test_settings.organizations[0])
    message["Organizations"][0]["Type"] = {"System": None, "Value": None}
    status, body = post(simulator, message)
    assert (status, errors(body)) == (403, ["Failed to parse request body as XML resource."])


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ({"NameSearch": {"Value": "redox"}}, ["Redox"]),
        ({"State": "WI"}, ["Redox", HEALTH_SYSTEM, "Simulated Pediatric Clinic", HARNESS]),
        ({"RadiusSearch": {"ZipCode": "53711", "Radius": "25"}}, ["Redox", HEALTH_SYSTEM, HARNESS]),
        ({"State": "CA"}, ["Simulated Senior Care"]),
        ({"State": "TX"}, []),
        ({"State": "WI", "Index": "1", "Limit": "1"}, [HEALTH_SYSTEM]),
    ],
)
def test_query_filters_and_pages(
    simulator: Simulator, test_settings: Settings, search: dict[str, Any], expected: list[str]
) -> None:
    post(simulator, organization.new_message(test_settings, test_settings.organizations[0]))
    message = organization.query_message(test_settings, "1.2.3")
    del message["Identifier"]
    message.update(search)
    status, body = post(simulator, message)
    assert status == 200 and [o["Name"] for o in body["Organizations"]] == expected


def test_token_endpoint_refusals(simulator: Simulator) -> None:
    reply = simulator.handle("POST", "/v2/auth/token", {}, b"grant_type=password")
    assert reply.status == 400 and json.loads(reply.body)["error"] == "invalid_request"
    form = (
        b"grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth"
        b"%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=not.a.jwt"
    )
    reply = simulator.handle("POST", "/v2/auth/token", {}, form)
    assert reply.status == 401 and json.loads(reply.body)["error"] == "invalid_client"


def test_replayed_assertion_is_refused(test_settings: Settings) -> None:
    client = in_process_client(test_settings)
    assertion = client.auth.client_assertion()  # type: ignore[attr-defined]
    simulator = provision(test_settings)
    form = (
        "grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:"
        f"client-assertion-type:jwt-bearer&client_assertion={assertion}"
    ).encode()
    assert simulator.handle("POST", "/v2/auth/token", {}, form).status == 200
    again = simulator.handle("POST", "/v2/auth/token", {}, form)
    assert again.status == 401 and b"jti was already used" in again.body


def test_real_server_answers_413_over_the_limit(test_settings: Settings) -> None:
    simulator = provision(test_settings)
    simulator.max_message_bytes = 2_000
    running = RunningSimulator(simulator).start()
    try:
        token = simulator.tokens._issue(300)
        response = httpx.post(
            f"{running.url}/endpoint",
            content=b"x" * 5_000,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 413
        assert "exceeds the size limit" in response.json()["Meta"]["Errors"][0]["Text"]
        assert httpx.get(f"{running.url}/endpoint").status_code == 404
    finally:
        running.stop()
