"""The client and the checks on answers: each nonconforming answer fails with its cause."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from techval.core.client import no_rules
from techval.core.clock import ScenarioClock
from techval.core.config import Settings
from techval.core.errors import (
    BreaksRedoxRule,
    BreaksRequestSchema,
    CheckFailed,
    InvalidMessage,
    ScenarioTimeout,
    TransportError,
)
from techval.core.exchange import Exchange
from techval.core.redaction import Redactor
from techval.core.reporting import Reporter
from techval.core.retries import RetryPolicy
from techval.core.schemas import ERROR_SCHEMA, SchemaRegistry
from techval.harness.evidence import har, reproduce
from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.outcomes import ScenarioOutcome
from techval.simulator import Simulator, faults, provision
from techval.simulator.responses import Reply
from techval.validation import checks, organization, recommendations
from tests.helpers import (
    CLIENT_SECRET,
    REDOX_GATEWAY,
    ROOT,
    RecordingClient,
    applied,
    in_process_client,
    settings_for,
)


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


def test_a_data_model_message_is_still_json_to_the_endpoint(test_settings: Settings) -> None:
    exchange = send_query(test_settings)
    assert (exchange.method, exchange.url) == ("POST", "http://simulator.test/endpoint")
    headers = {k.lower(): v for k, v in exchange.request_headers.items()}
    assert (headers["content-type"], headers["accept"]) == ("application/json",) * 2
    assert exchange.request_form is None and "form" not in exchange.as_document()["request"]


# --- any request of a REST API: Redox's FHIR API (issue 18) ------------------------------

FHIR_BASE = "http://fhir.test"
ORGS = "/fhir/R4/ceq-orgs/Development"
TRACE = "6c1f0e7a-trace-0001"
# Stand-ins for the schemas of schemas/fhir/ (written in another branch): enough to tell
# which schema an answer was checked against.
TEST_SCHEMAS = {
    "OperationOutcome": {
        "type": "object",
        "required": ["resourceType", "issue"],
        "properties": {"resourceType": {"const": "OperationOutcome"}},
    },
    "Organization": {
        "type": "object",
        "required": ["resourceType", "id"],
        "properties": {"resourceType": {"const": "Organization"}},
    },
}
ORGANIZATION_RESOURCE = {"resourceType": "Organization", "id": "1.2.3", "active": True}
OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "fatal", "code": "not-found", "details": {"text": "Unknown slug"}}],
}


@pytest.fixture
def registry(tmp_path: Path) -> SchemaRegistry:
    """The project's schemas, with test stand-ins under fhir/."""
    folder = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", folder, ignore=shutil.ignore_patterns("fhir"))
    (folder / "fhir").mkdir()
    for name, schema in TEST_SCHEMAS.items():
        document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
        (folder / "fhir" / f"{name}.json").write_text(json.dumps(document))
    return SchemaRegistry(folder)


@dataclass
class FhirStub:
    """A tiny FHIR server behind httpx.MockTransport: grants tokens, records each request, and
    answers from `replies` (in turn; the last one again) or 200 with an Organization."""

    replies: list[httpx.Response] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)  # tokens answered 401

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        if request.url.path == "/v2/auth/token":
            self.tokens.append(f"token-{len(self.tokens) + 1}-{'x' * 16}")
            return httpx.Response(200, json={"access_token": self.tokens[-1], "expires_in": 300})
        self.requests.append(request)
        if request.headers.get("authorization", "").removeprefix("Bearer ") in self.refused:
            return httpx.Response(401)
        if self.replies:
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        headers = {"Content-Type": "application/fhir+json", "Redox-Trace-Id": TRACE}
        return httpx.Response(200, json=ORGANIZATION_RESOURCE, headers=headers)


def fhir_client(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub, *patients: str
) -> RecordingClient:
    settings = settings_for(tmp_path, api="fhir").with_base_url(FHIR_BASE)
    redactor = Redactor(settings.auth.secret_values(), patients)
    client = RecordingClient(
        settings, registry, redactor, transport=httpx.MockTransport(stub), outgoing=no_rules
    )
    return client


@pytest.fixture
def stub() -> FhirStub:
    return FhirStub()


def sent_headers(exchange: Exchange) -> dict[str, str]:
    return {k.lower(): v for k, v in exchange.request_headers.items()}


def test_a_get_sends_no_body_and_asks_for_fhir_json(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub
) -> None:
    client = fhir_client(tmp_path, registry, stub)
    carequality = client.settings.carequality_headers()
    exchange = client.request(
        "Organization.read",
        "GET",
        f"{ORGS}/Organization/1.2.3",
        headers={**carequality, "authorization": "Bearer not-this", "Accept": "text/html"},
        response_schema="fhir/Organization",
    )
    (request,) = stub.requests
    assert (request.method, str(request.url)) == ("GET", f"{FHIR_BASE}{ORGS}/Organization/1.2.3")
    assert request.content == b"" and "content-type" not in request.headers
    assert request.headers["accept"] == "application/fhir+json"
    assert request.headers["authorization"] == f"Bearer {stub.tokens[0]}"
    assert {k: request.headers[k] for k in carequality} == carequality
    assert (exchange.status, exchange.schema, exchange.violations) == (200, "fhir/Organization", [])
    assert exchange.response_body == ORGANIZATION_RESOURCE
    assert sent_headers(exchange)["authorization"] == "Bearer ***"
    assert exchange.log_ids == [TRACE] and f"log {TRACE}" in exchange.summary()
    entry = har.entry(exchange, client.redactor)
    assert "postData" not in entry["request"] and entry["request"]["bodySize"] == 0
    assert entry["request"]["method"] == "GET" and entry["_redoxLogIds"] == [TRACE]


def test_a_put_sends_its_json_body_as_fhir_json(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub
) -> None:
    client = fhir_client(tmp_path, registry, stub)
    resource = {**ORGANIZATION_RESOURCE, "name": "Clinic ü"}
    exchange = client.request(
        "Organization.update",
        "PUT",
        f"{ORGS}/Organization/1.2.3",
        json_body=resource,
        request_schema="fhir/Organization",
        response_schema="fhir/Organization",
    )
    (request,) = stub.requests
    assert request.method == "PUT" and json.loads(request.content) == resource
    assert request.headers["content-type"] == "application/fhir+json"
    assert exchange.request_body == resource and exchange.request_form is None
    post = har.entry(exchange, client.redactor)["request"]["postData"]
    assert post["mimeType"] == "application/fhir+json" and json.loads(post["text"]) == resource


def test_a_form_post_sends_each_parameter_and_records_them_masked(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub
) -> None:
    client = fhir_client(tmp_path, registry, stub, "Timothy", "Bixby")
    form = {
        "given": ["Timothy"],
        "family": ["Bixby"],
        "identifier": ["urn:oid:1.2|0001", "urn:oid:1.3|0002"],
        "client_secret": [CLIENT_SECRET],  # a secret, wherever it turns up, is masked
    }
    exchange = client.request("Patient._search", "POST", "/fhir/R4/x/Patient/_search", form=form)
    (request,) = stub.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode(), strict_parsing=True) == form  # sent as they are
    assert exchange.request_body is None
    assert exchange.request_form == {  # a patient search's parameters masked by shape
        "given": ["Xxxxxxx"],
        "family": ["Xxxxx"],
        "identifier": ["urn:oid:1.2|9999", "urn:oid:1.3|9999"],
        "client_secret": ["***"],
    }
    assert exchange.as_document()["request"]["form"] == exchange.request_form
    post = har.entry(exchange, client.redactor)["request"]["postData"]
    assert post["mimeType"] == "application/x-www-form-urlencoded"
    assert post["params"] == [
        {"name": "given", "value": "Xxxxxxx"},
        {"name": "family", "value": "Xxxxx"},
        {"name": "identifier", "value": "urn:oid:1.2|9999"},
        {"name": "identifier", "value": "urn:oid:1.3|9999"},
        {"name": "client_secret", "value": "***"},
    ]
    assert parse_qs(post["text"]) == exchange.request_form
    assert "Timothy" not in json.dumps(har.entry(exchange, client.redactor))


def test_request_renews_the_token_once_and_retries_as_send_does(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub
) -> None:
    client = fhir_client(tmp_path, registry, stub)
    client.auth.token()
    stub.refused.add(stub.tokens[0])  # the token dies before its time
    renewed = client.request("Organization.read", "GET", f"{ORGS}/Organization/1.2.3")
    assert (renewed.status, renewed.attempt) == (200, 2) and len(stub.tokens) == 2
    assert renewed.retry_reason == "after HTTP 401, with a new token"

    stub.replies = [httpx.Response(503), httpx.Response(429, headers={"Retry-After": "0"})]
    stub.replies.append(httpx.Response(200, json=ORGANIZATION_RESOURCE))
    done = client.request("Organization.read", "GET", f"{ORGS}/Organization/1.2.3")
    assert (done.status, done.attempt) == (200, 3)
    assert [e.status for e in client.exchanges[-3:]] == [503, 429, 200]
    assert client.exchanges[-1].retry_reason == "after HTTP 429, waited 0.0 s"


def test_request_keeps_the_limits_of_send(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = fhir_client(tmp_path, registry, stub)
    client.settings = dataclasses.replace(client.settings, message_limit_bytes=20)
    big = client.request("Organization.read", "GET", "/x", response_schema="fhir/Organization")
    assert big.oversized and big.schema == "fhir/Organization"
    assert [str(v) for v in big.violations] == ["$: the response is over the 20 byte limit"]

    client.clock.start(0)  # the scenario's time is up: nothing more is sent
    sent = len(stub.requests)
    with pytest.raises(ScenarioTimeout, match=r"^Organization.read: timed out"):
        client.request("Organization.read", "GET", "/x")
    assert len(stub.requests) == sent
    client.clock.stop()

    def unreachable(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/auth/token":
            return stub(request)
        raise httpx.ConnectError("refused", request=request)

    client.http = httpx.Client(transport=httpx.MockTransport(unreachable))
    with pytest.raises(TransportError, match=r"http://fhir.test/x: cannot reach \(ConnectError"):
        client.request("Organization.read", "GET", "/x")
    assert client.health.failures == 1  # fail fast counts it


def test_a_next_link_on_the_same_origin_is_followed(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub
) -> None:
    client = fhir_client(tmp_path, registry, stub)
    link = f"{FHIR_BASE}{ORGS}/page/Organization/search/1f2e.next"
    assert client.request("next", "GET", link).url == link
    assert client.request("next", "GET", "http://FHIR.test:80/a").status == 200  # the same origin
    assert [str(r.url) for r in stub.requests] == [link, "http://fhir.test/a"]


@pytest.mark.parametrize(
    "where",
    [
        "http://elsewhere.test/fhir/R4/page/x.next",
        "https://fhir.test/fhir/R4/page/x.next",  # another scheme
        "http://fhir.test:8443/fhir/R4/page/x.next",  # another port
        "http://user@fhir.test/fhir/R4/page/x.next",  # credentials of someone's in it
        "Organization/1.2.3",  # relative to nothing
        "/fhir/R4/x/Patient/a\r\nHost: elsewhere.test",  # an ID no URL can carry
    ],
)
def test_a_url_elsewhere_is_refused_and_never_sent(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub, where: str
) -> None:
    client = fhir_client(tmp_path, registry, stub)
    with pytest.raises(BreaksRedoxRule, match=r"^next: not sent: "):
        client.request("next", "GET", where)
    assert stub.requests == [] and stub.tokens == [] and client.exchanges == []


@pytest.mark.parametrize(
    ("where", "said"),
    [
        ("http://u:pw@fhir.test/p/secret-path", "http://fhir.test (with user info) is not"),
        ("https://fhir.test/p/secret-path", "https://fhir.test is not"),
        ("Organization/1.2.3", "a relative URL is not"),
    ],
)
def test_a_url_elsewhere_is_named_by_its_origin_never_its_path_or_user(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub, where: str, said: str
) -> None:
    client = fhir_client(tmp_path, registry, stub)
    why = client.elsewhere(where)
    assert why is not None and why.startswith(said), why
    assert why.endswith("is not http://fhir.test, where the token goes"), why
    assert "secret-path" not in why and "pw" not in why and "u:" not in why


@pytest.mark.parametrize(
    ("reply", "schema", "violations"),
    [
        (httpx.Response(201, json=ORGANIZATION_RESOURCE), "fhir/Organization", []),
        (httpx.Response(200, json={"resourceType": "Bundle"}), "fhir/Organization", ["$.id"]),
        (httpx.Response(404, json=OUTCOME), "fhir/OperationOutcome", []),
        (
            httpx.Response(400, json={"Meta": {"Errors": [{"Text": "Invalid data model"}]}}),
            ERROR_SCHEMA,
            [],
        ),
        (httpx.Response(400, json={"Meta": {"Errors": [{"Type": "x"}]}}), ERROR_SCHEMA, ["$.Meta"]),
        (httpx.Response(500, json={"error": "x"}), "fhir/OperationOutcome", ["$.issue"]),
        (httpx.Response(404), None, []),  # an empty 404, as Redox was seen to answer
        (httpx.Response(502, text="<html>Bad gateway</html>"), None, []),
    ],
    ids=[
        "2xx",
        "2xx-wrong",
        "outcome",
        "data-model-errors",
        "data-model-wrong",
        "neither",
        "empty-404",
        "not-json",
    ],
)
def test_the_answer_is_checked_against_the_schema_of_its_shape(
    tmp_path: Path,
    registry: SchemaRegistry,
    stub: FhirStub,
    reply: httpx.Response,
    schema: str | None,
    violations: list[str],
) -> None:
    client = fhir_client(tmp_path, registry, stub)
    client.settings = replace(client.settings, retries=RetryPolicy(attempts=1))
    stub.replies = [reply]
    exchange = client.request("x", "POST", "/x", json_body={}, response_schema="fhir/Organization")
    assert exchange.schema == schema
    paths = [v.path for v in exchange.violations]
    assert bool(paths) == bool(violations)
    assert all(any(path.startswith(p) for path in paths) for p in violations), paths


def test_a_request_breaking_its_schema_or_naming_none_is_not_sent(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub
) -> None:
    client = fhir_client(tmp_path, registry, stub)
    with pytest.raises(BreaksRequestSchema, match=r"^create: .*fhir/Organization, not sent: \$.id"):
        client.request(
            "create",
            "POST",
            f"{ORGS}/Organization",
            json_body={"resourceType": "Organization"},
            request_schema="fhir/Organization",
        )
    with pytest.raises(BreaksRequestSchema, match=r"^read: not sent: no schema fhir/Nothing.json"):
        client.request("read", "GET", "/x", response_schema="fhir/Nothing")
    assert stub.requests == []


def test_log_ids_add_the_redox_trace_id_in_any_case() -> None:
    exchange = Exchange("x", "GET", "http://x", {}, None, "2026-01-01T00:00:00.000Z")
    exchange.response_headers = {"REDOX-TRACE-ID": " abc-1 "}
    assert exchange.log_ids == ["abc-1"] and exchange.trace_id == "abc-1"
    exchange.response_body = {"Meta": {"Logs": [{"ID": "log-1"}]}}
    assert exchange.log_ids == ["log-1", "abc-1"]
    exchange.response_headers = {"redox-trace-id": "log-1"}  # once, not twice
    assert exchange.log_ids == ["log-1"]


def test_a_trace_id_is_no_deprecated_message_id(test_settings: Settings) -> None:
    """DOD-10 names Meta.Message.ID only when the answer has one, not for a trace header."""
    found: list[str] = []
    reporter = Reporter(Redactor(), on_finding=lambda _, message: found.append(message))
    exchange = Exchange("PatientAdmin.NewPatient", "POST", "http://x", {}, {}, "2026")
    exchange.status, exchange.response_body = 200, {"Meta": {}}
    exchange.response_headers = {"redox-trace-id": "abc-1"}
    recommendations.acknowledged_with_log_id(exchange, reporter)
    assert found == [
        "PatientAdmin.NewPatient: the acknowledgement carries no Redox log ID in Meta.Logs[].ID"
    ]


# --- reproduction scripts of the three methods, replayed against a server ------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[Received]]]:
    """A loopback HTTP server that grants any token and records every other request."""
    received: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def handle_any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/v2/auth/token":
                answer = {"access_token": "recorded-token-0123456789", "expires_in": 300}
            else:
                headers = {k.lower(): v for k, v in self.headers.items()}
                received.append(Received(self.command, self.path, headers, body))
                answer = {"resourceType": "Bundle", "type": "searchset", "total": 0}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = handle_any

        def log_message(self, *args: Any) -> None:  # no noise on stderr
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_scripts_repeat_a_get_a_put_and_a_form_post_as_they_were_sent(
    tmp_path: Path, registry: SchemaRegistry, recorder: tuple[str, list[Received]]
) -> None:
    url, received = recorder
    settings = settings_for(tmp_path, api="fhir").with_base_url(url)
    client = RecordingClient(settings, registry, Redactor(settings.auth.secret_values()))
    carequality = settings.carequality_headers()
    # (a ZIP would be masked in the script as in every report: it may be a patient's)
    search = {"name": ["Clinic & Co"], "limit": ["50"], "x@y=z": ["1 + 1"]}
    with client:
        client.request("read", "GET", f"{ORGS}/Organization/1.2.3", headers=carequality)
        client.request("update", "PUT", f"{ORGS}/Organization/1.2.3", json_body={"a": "ü"})
        client.request("search", "POST", f"{ORGS}/Organization/_search", form=search)
    by_client = list(received)
    assert [r.method for r in by_client] == ["GET", "PUT", "POST"]

    found = Assembled(environment={"base_url": url, "auth": "jwt HS384"})
    found.outcomes.append(ScenarioOutcome("t::one", "One", "f", "organization", status="failed"))
    found.entries += [("t::one", har.entry(e, client.redactor)) for e in client.exchanges]
    result: dict[str, Any] = {}
    applied(reproduce.REPRODUCTION, result, found, tmp_path / "reports")
    scripts = [item["script"] for item in result["reproduction"]["scripts"]]
    assert len(scripts) == 3
    folder = tmp_path / "reports" / "reproduce"
    bodies = {p.name for p in folder.iterdir() if not p.name.endswith(".sh")} - {"README.txt"}
    assert bodies == {scripts[1].replace(".sh", ".json")}  # the PUT's; the form is in its script
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDOX_")}
    env["REDOX_TOKEN"] = "script-token"
    received.clear()
    for script in scripts:
        done = subprocess.run(
            ["sh", str(folder / script)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (done.returncode, done.stdout) == (0, "200\n"), done.stderr
    by_script = list(received)
    assert [(r.method, r.path) for r in by_script] == [(r.method, r.path) for r in by_client]
    for sent, repeated in zip(by_client, by_script, strict=True):
        assert repeated.headers["authorization"] == "Bearer script-token"
        for name in (*carequality, "content-type", "accept"):
            assert repeated.headers.get(name) == sent.headers.get(name), name
    get, put, post = by_script
    assert get.body == b"" and "content-type" not in get.headers
    assert json.loads(put.body) == {"a": "ü"}
    assert parse_qs(post.body.decode(), strict_parsing=True) == search
    assert post.body.decode().count("&") == 2


def test_the_evidence_held_back_is_written_before_a_retry_waits(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub
) -> None:
    """A run killed while waiting to send again has the answer it waits after in its events."""
    client = fhir_client(tmp_path, registry, stub)
    recorded_when_settled: list[list[int | None]] = []
    client.settle = lambda: recorded_when_settled.append([e.status for e in client.exchanges])
    stub.replies = [httpx.Response(429, headers={"Retry-After": "0"})]
    stub.replies.append(httpx.Response(200, json=ORGANIZATION_RESOURCE))
    client.request("Organization.read", "GET", f"{ORGS}/Organization/1.2.3")
    assert recorded_when_settled == [[200, 429]]  # the token's, then the 429, before the wait


class _Clock(ScenarioClock):
    """A scenario's clock whose time left is set by the test."""

    def __init__(self, left: float) -> None:
        super().__init__()
        self.left = left

    def remaining(self) -> float | None:
        return self.left


def test_the_time_the_evidence_takes_before_a_retry_counts_against_the_deadline(
    tmp_path: Path, registry: SchemaRegistry, stub: FhirStub
) -> None:
    """Settled first, then the wait is weighed against what is left of the scenario."""
    client = fhir_client(tmp_path, registry, stub)
    client.auth.token()
    client.clock = _Clock(left=5.0)

    def slow_settle() -> None:  # the evidence took the rest of the scenario's time
        client.clock.left = 0.2  # type: ignore[attr-defined]

    client.settle = slow_settle
    stub.replies = [httpx.Response(429, headers={"Retry-After": "1"})]
    with pytest.raises(ScenarioTimeout, match="deadline"):
        client.request("Organization.read", "GET", f"{ORGS}/Organization/1.2.3")
