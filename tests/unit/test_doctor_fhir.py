"""`techval doctor` under `api: fhir`: each answer to the harmless per-slug requests judged by its
status and fields (never the words of its text), each refusal's advice naming the key of the
environment file to change, and the test patients located as a FHIR run locates them. The
whole command is tested through the CLI in test_doctor.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from techval.core.config import Settings
from techval.core.errors import RedoxRefused
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.harness import doctor_fhir
from techval.harness.doctor_finding import FAIL, OK, SKIP, WARN
from techval.simulator import provision
from techval.validation.fhir import preflight
from techval.validation.fhir.preflight import (
    Forbidden,
    HeadersRefused,
    NotFhirApi,
    SlugRefused,
    UnknownSlug,
)
from techval.validation.patients import TestPatient
from tests.helpers import ROOT, RecordingClient, in_process_client, settings_for

FHIR_JSON = "application/fhir+json"
URL = "http://simulator.test/fhir/R4/ceq-xcpd:2.16.840.1.113883.3.6147.458.99999.1.1.1.1/Development/Patient/_search"


def outcome(code: str, text: str, message_id: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"text": text}
    if message_id:
        details["coding"] = [{"code": message_id}]
    issue = {"severity": "error", "code": code, "details": details}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def answer(status: int, body: Any = None, content_type: str = FHIR_JSON) -> Exchange:
    text = "" if body is None else body if isinstance(body, str) else json.dumps(body)
    return Exchange(
        label="Patient search",
        method="POST",
        url=URL,
        request_headers={},
        request_body=None,
        started_at="2025-01-01T00:00:00Z",
        status=status,
        response_headers={"content-type": content_type} if text else {},
        response_text=text,
        response_body=body if isinstance(body, dict) else None,
    )


UNKNOWN_SLUG = outcome("not-found", "Unknown slug ceq-xcpd:1.2", "MSG_NO_MODULE")


@pytest.mark.parametrize(
    ("exchange", "kind"),
    [
        (answer(401, outcome("security", "Unauthorized")), HeadersRefused),
        (answer(401, "Unauthorized", "text/plain"), HeadersRefused),
        (answer(403, outcome("forbidden", "Forbidden")), Forbidden),
        (answer(404, UNKNOWN_SLUG), UnknownSlug),
        (answer(404, outcome("processing", "the patient is here")), UnknownSlug),
        (answer(404, "Not Found", "text/plain"), NotFhirApi),
        (answer(404), NotFhirApi),  # Redox's empty 404 for a path without an interaction (8.6)
    ],
)
def test_a_refusal_of_the_request_itself_is_told_by_status_and_fields(
    exchange: Exchange, kind: type[SlugRefused]
) -> None:
    refused = preflight.refusal(exchange)
    assert type(refused) is kind and refused.status == exchange.status
    with pytest.raises(kind):
        preflight.reached(exchange)


def test_the_words_of_an_answer_never_decide_its_class() -> None:
    """A not-found OperationOutcome is the destination answering, whatever its text says; a
    400 that says "Unknown slug" is a refusal of its content, not of the path."""
    said_unknown = answer(404, outcome("not-found", "Unknown slug ceq-xcpd:1.2"))
    assert preflight.refusal(said_unknown) is None and preflight.reached(said_unknown) is False
    worded = answer(400, outcome("invalid", "Unknown slug; 401 Unauthorized; 403 Forbidden"))
    assert preflight.refusal(worded) is None
    with pytest.raises(RedoxRefused) as raised:
        preflight.reached(worded)
    assert not isinstance(raised.value, SlugRefused)
    empty = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    assert preflight.reached(answer(200, empty)) is True


def test_the_slug_of_a_request_is_told_by_its_url(tmp_path: Path) -> None:
    fhir = settings_for(tmp_path, api="fhir").fhir
    base = "https://api.redoxengine.com/fhir/R4"
    assert preflight.kind_of(fhir, URL) == "patients"
    assert preflight.kind_of(fhir, f"{base}/ceq-orgs/Development/Organization") == "organizations"
    assert preflight.kind_of(fhir, f"{base}/ceq-xca:1.2/Development/x") == "documents"
    assert preflight.kind_of(fhir, f"{base}/ceq-orgs-b/Development/x") is None


def test_each_refusal_names_the_key_to_change(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, api="fhir", fhir={"headers": {"user_id": "x-requester"}})
    headers = doctor_fhir.advice(HeadersRefused("", 401), "patients", settings)
    for key, name in settings.fhir.headers.items():
        assert f"fhir.headers.{key}: {name}" in headers
    assert "fhir.headers.user_id: x-requester" in headers and str(settings.source) in headers
    directory = doctor_fhir.advice(HeadersRefused("", 401), "organizations", settings)
    assert "fhir.headers_on_directory: true" in directory and "fhir.headers." not in directory
    on_directory = settings_for(tmp_path, api="fhir", fhir={"headers_on_directory": True})
    assert "fhir.headers.user_id" in doctor_fhir.advice(
        HeadersRefused("", 401), "organizations", on_directory
    )
    unknown = doctor_fhir.advice(UnknownSlug("", 404), "documents", settings)
    assert "fhir.environment (Development)" in unknown
    assert "fhir.slugs.documents (ceq-xca:{oid})" in unknown
    assert "fhir.base_path (/fhir/R4)" in doctor_fhir.advice(
        NotFhirApi("", 404), "patients", settings
    )
    assert "forbidden" in doctor_fhir.advice(Forbidden("", 403), "patients", settings)


def against_simulator(settings: Settings, simulated: Settings | None = None) -> RecordingClient:
    """A client with `settings` to a simulator set up as `simulated` says (the same settings
    unless given: then the two disagree as a misconfigured environment file would)."""
    return in_process_client(settings, provision(simulated or settings))


def test_each_slug_gets_one_harmless_request(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, api="fhir")
    client = against_simulator(settings)
    found = doctor_fhir.slugs(client, settings, guarded=False)
    own = settings.carequality.sender.oid
    assert [(f.check, f.result) for f in found] == [
        ("ceq-orgs", OK),
        (f"ceq-xcpd:{own}", OK),
        (f"ceq-xca:{own}", OK),
    ]
    assert "is not in the directory yet (validation step 1 creates it)" in found[0].detail
    sent = [e for e in client.exchanges if e.label != "token"]
    assert [(e.method, e.url.split("/Development/")[1], e.status) for e in sent] == [
        ("GET", f"Organization/{own}", 404),
        ("POST", "Patient/_search", 200),
        ("POST", "DocumentReference/_search", 200),
    ]
    assert [len(e.response_body.get("entry") or []) for e in sent[1:]] == [0, 0]
    carried = [settings.fhir.headers["user_id"] in e.request_headers for e in sent]
    assert carried == [False, True, True]  # ceq-orgs without them (fhir.headers_on_directory)


def test_production_without_permission_reads_the_organization_record_only(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, api="fhir")
    client = against_simulator(settings)
    found = doctor_fhir.slugs(client, settings, guarded=True)
    assert [f.result for f in found] == [OK, SKIP, SKIP]
    assert [e.method for e in client.exchanges if e.label != "token"] == ["GET"]


def test_a_wrong_environment_segment_is_named_on_every_slug(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, api="fhir", fhir={"environment": "Staging"})
    client = against_simulator(settings, settings_for(tmp_path, api="fhir"))
    found = doctor_fhir.slugs(client, settings, guarded=False)
    assert [(f.result, f.code) for f in found] == [(FAIL, 1)] * 3
    for finding, kind in zip(found, preflight.KINDS, strict=True):
        assert "Redox answered HTTP 404" in finding.detail
        assert "fhir.environment (Staging)" in finding.advice
        assert f"fhir.slugs.{kind}" in finding.advice


def test_missing_data_on_demand_destination_is_named_under_fhir(tmp_path: Path) -> None:
    lacking = doctor_fhir.destinations(settings_for(tmp_path, api="fhir", destinations=None))
    assert (lacking.result, lacking.code) == (FAIL, 2)
    assert "destinations.data_on_demand" in lacking.detail + lacking.advice
    there = doctor_fhir.destinations(settings_for(tmp_path, api="fhir"))
    assert there.result == OK and "FHIR uses slugs, not destination IDs" in there.detail


def test_test_patients_are_located_as_a_fhir_run_locates_them(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, api="fhir")
    client = against_simulator(settings)
    reporter = Reporter(client.redactor)

    def finding(alias: str, demographics: dict[str, Any]) -> Any:
        person = TestPatient(alias, demographics)
        located = {"test patient 1", "someone"}  # the aliases some scenario locates
        return doctor_fhir.patient_finding(client, reporter, settings, alias, person, located)

    bixby = {
        "FirstName": "Timothy",
        "LastName": "Bixby",
        "DOB": "2008-01-06",
        "Sex": "Male",
        "Address": {"ZIP": "53566"},
    }
    assert finding("test patient 1", bixby).result == OK
    nobody = finding("someone", {**bixby, "FirstName": "Nobody"})
    assert (nobody.result, nobody.code) == (FAIL, 1)
    assert "change 'Demographics' of 'someone'" in nobody.advice
    no_zip = finding("someone", {k: v for k, v in bixby.items() if k != "Address"})
    assert no_zip.result == WARN and "change 'Demographics' of 'someone'" in no_zip.detail
    assert finding("unknown patient", {}).result == SKIP  # expected nowhere
    assert finding("test patient 2", bixby).result == SKIP  # only pushed: no scenario locates it
    assert client.hooks == [client.exchanges.append]  # the doctor's own hook removed


def test_the_patients_a_fhir_doctor_locates_are_those_a_scenario_locates() -> None:
    located = doctor_fhir.located_in(ROOT / "features")
    assert located == {"test patient 1", "test patient without documents"}
    pushes = (ROOT / "features/4_data_on_demand.feature").read_text()
    assert '"test patient 2"' in pushes and "test patient 2" not in located
