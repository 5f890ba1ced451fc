"""What Redox's pages leave open about the organization record through FHIR, as keys of the
environment file: what a create or update answers (`fhir.write_answer`: the Organization, an
OperationOutcome, or anything including nothing, the read-back being the proof either way),
and the OID's identifier system (`fhir.oid_system`), against the simulator's FHIR routes and
hand-built answers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from techval.core.config import Settings
from techval.core.errors import (
    BreaksRedoxRule,
    ConfigError,
    ReadbackMismatch,
    RedoxRefused,
    SchemaMismatch,
)
from techval.core.exchange import Exchange
from techval.core.schemas import SchemaRegistry
from techval.simulator import provision
from techval.simulator.faults import named
from techval.validation import directory, organization
from techval.validation.fhir.organization import WRITE_ANSWERS, FhirDirectory, id_is_oid, resource
from techval.validation.fhir.search import FhirPatientSearch, _organization_oid
from techval.validation.patients import load_patients
from tests.helpers import RecordingClient, in_process_client, settings_for

REGISTRY = SchemaRegistry()
SAVED = "The organization record could not be saved"  # the simulator's error fault's text


def lifecycle(
    tmp_path: Path, *faults: str, **fhir: Any
) -> tuple[FhirDirectory, RecordingClient, Settings]:
    settings = settings_for(tmp_path, api="fhir", fhir=fhir or None)
    simulator = provision(settings)
    simulator.faults.extend(named(fault) for fault in faults)
    return FhirDirectory(settings), in_process_client(settings, simulator), settings


def write_all(api: FhirDirectory, client: RecordingClient, settings: Settings) -> None:
    """Create, change, deactivate: each write accepted, each read back as sent."""
    profile = settings.organizations[0]
    directory.accepted(api, directory.create_or_adopt(api, client, profile))
    directory.expect_record(api, directory.read_back(api, client, profile), profile, active=True)
    changed = organization.updated(profile)
    directory.accepted(api, directory.update(api, client, changed))
    directory.expect_record(api, directory.read_back(api, client, changed), changed, active=True)
    directory.accepted(api, directory.update(api, client, profile, active=False))
    directory.expect_record(api, directory.read_back(api, client, profile), profile, active=False)


@pytest.mark.parametrize(
    ("mode", "fault"),
    [
        ("resource", None),
        ("outcome", "fhir_write_answers_outcome"),
        ("any", None),
        ("any", "fhir_write_answers_outcome"),
        ("any", "fhir_write_answers_bundle"),
        ("any", "fhir_write_answers_empty"),
    ],
)
def test_each_write_answer_mode_accepts_its_answers_and_the_read_back_is_the_proof(
    tmp_path: Path, mode: str, fault: str | None
) -> None:
    api, client, settings = lifecycle(tmp_path, *([fault] if fault else []), write_answer=mode)
    assert settings.fhir.write_answer == mode
    write_all(api, client, settings)
    writes = [
        e for e in client.exchanges if e.label in ("Organization create", "Organization update")
    ]
    assert writes and all(e.schema in (WRITE_ANSWERS[mode].schema, None) for e in writes)


@pytest.mark.parametrize(
    ("mode", "fault", "said"),
    [
        (
            "resource",
            "fhir_write_answers_outcome",
            "the answer is an OperationOutcome, not the Organization (fhir.write_answer: "
            "resource; if Redox answers its writes so, set it to outcome or any in the "
            "environment file)",
        ),
        (
            "resource",
            "fhir_write_answers_empty",
            "the response is not JSON (HTTP 201, no content-type): '' (fhir.write_answer: "
            "resource; if Redox answers its writes so, set it to any in the environment file)",
        ),
        (
            "resource",
            "fhir_write_answers_bundle",
            "the answer is a Bundle, not the Organization (fhir.write_answer: resource; if "
            "Redox answers its writes so, set it to any in the environment file)",
        ),
        (
            "outcome",
            None,
            "the answer is an Organization, not an OperationOutcome (fhir.write_answer: "
            "outcome; if Redox answers its writes so, set it to resource or any in the "
            "environment file)",
        ),
        (
            "outcome",
            "fhir_write_answers_empty",
            "the response is not JSON (HTTP 201, no content-type): '' (fhir.write_answer: "
            "outcome; if Redox answers its writes so, set it to any in the environment file)",
        ),
    ],
)
def test_an_answer_the_mode_does_not_take_fails_naming_it_and_the_key(
    tmp_path: Path, mode: str, fault: str | None, said: str
) -> None:
    api, client, settings = lifecycle(tmp_path, *([fault] if fault else []), write_answer=mode)
    write = directory.create_or_adopt(api, client, settings.organizations[0])
    with pytest.raises(SchemaMismatch) as failure:
        directory.accepted(api, write)
    assert str(failure.value) == f"Organization create: {said}"


@pytest.mark.parametrize("mode", ["resource", "outcome", "any"])
def test_an_error_outcome_inside_a_2xx_fails_in_every_mode_naming_its_text(
    tmp_path: Path, mode: str
) -> None:
    api, client, settings = lifecycle(tmp_path, "fhir_write_answers_error", write_answer=mode)
    write = directory.create_or_adopt(api, client, settings.organizations[0])
    assert write.final.status == 201
    with pytest.raises(RedoxRefused, match=rf"HTTP 201 with an OperationOutcome: {SAVED}$"):
        directory.accepted(api, write)


def test_an_empty_answer_does_not_hide_a_write_that_did_not_take_effect(tmp_path: Path) -> None:
    api, client, settings = lifecycle(
        tmp_path, "fhir_update_not_stored", "fhir_write_answers_empty", write_answer="any"
    )
    profile = settings.organizations[0]
    directory.accepted(api, directory.create_or_adopt(api, client, profile))
    changed = organization.updated(profile)
    update = directory.update(api, client, changed)
    assert update.final.response_text == ""
    directory.accepted(api, update)  # acknowledged with nothing to read...
    with pytest.raises(ReadbackMismatch, match="does not reflect the record"):  # ... not stored
        directory.expect_record(
            api, directory.read_back(api, client, changed), changed, active=True
        )


def answer(mode: str, body: Any, *, status: int = 200, text: str | None = None) -> Exchange:
    """A write's answer as the client records it: checked against the mode's schema."""
    schema = WRITE_ANSWERS[mode].schema if body is not None else None
    return Exchange(
        label="Organization update",
        method="PUT",
        url="http://x/fhir/R4/ceq-orgs/Development/Organization/1.2.3",
        request_headers={},
        request_body=None,
        started_at="",
        status=status,
        response_text=json.dumps(body) if text is None else text,
        response_body=body,
        schema=schema,
        violations=REGISTRY.validate(schema, body) if schema else [],
    )


def bundle(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": list(entries)}


@pytest.mark.parametrize(
    ("exchange", "error", "said"),
    [
        (
            answer("any", bundle({"response": {"status": "400 Bad Request"}})),
            RedoxRefused,
            r"HTTP 200 with a Bundle whose \$\.entry\[0\]\.response\.status: 400 Bad Request$",
        ),
        (
            answer(
                "any",
                bundle(
                    {"response": {"status": "201 Created"}},
                    {
                        "response": {
                            "status": "200 OK",
                            "outcome": {
                                "resourceType": "OperationOutcome",
                                "issue": [
                                    {"severity": "fatal", "code": "x", "details": {"text": "no"}}
                                ],
                            },
                        }
                    },
                ),
            ),
            RedoxRefused,
            r"with a Bundle whose \$\.entry\[1\]\.response\.outcome: no$",
        ),
        (
            answer("any", bundle({"response": {"status": "created"}})),
            SchemaMismatch,
            r"\$\.entry\[0\]\.response\.status: is not a 3-digit HTTP status code first",
        ),
        (
            answer("any", {"resourceType": "Patient", "id": "p"}),
            SchemaMismatch,
            r"the answer is a Patient, not an Organization, an OperationOutcome, a Bundle or "
            r"nothing \(fhir\.write_answer: any\)$",
        ),
        (
            answer("any", {"resourceType": "Organization", "name": "No id", "active": True}),
            SchemaMismatch,
            r"\$\.id: required field missing",
        ),
        (
            answer("any", None, text="OK"),
            SchemaMismatch,
            r"the response is not JSON \(HTTP 200, no content-type\): 'OK' "
            r"\(fhir\.write_answer: any\)$",
        ),
        (
            answer("outcome", {"resourceType": "OperationOutcome", "issue": []}),
            SchemaMismatch,
            r"\$\.issue: must not be empty",
        ),
        (
            answer("any", None, status=500, text=""),
            RedoxRefused,
            r"Redox answered HTTP 500: no error text in the body",
        ),
    ],
)
def test_a_nonconforming_write_answer_fails_naming_the_cause(
    tmp_path: Path, exchange: Exchange, error: type[Exception], said: str
) -> None:
    mode = "outcome" if exchange.schema == "fhir/OperationOutcome" else "any"
    api = FhirDirectory(settings_for(tmp_path, api="fhir", fhir={"write_answer": mode}))
    with pytest.raises(error, match=rf"^Organization update: .*{said}"):
        api.accepted(exchange)


def test_the_write_answer_mode_is_checked_when_the_environment_loads(tmp_path: Path) -> None:
    assert settings_for(tmp_path, api="fhir").fhir.write_answer == "resource"  # the default
    with pytest.raises(ConfigError, match=r"fhir\.write_answer"):
        settings_for(tmp_path, api="fhir", fhir={"write_answer": "bundle"})
    with pytest.raises(ConfigError, match=r"fhir\.oid_system"):
        settings_for(tmp_path, api="fhir", fhir={"oid_system": "urn:has space"})


# -- fhir.oid_system --------------------------------------------------------------------------
OTHER = "urn:example:oid"


def test_the_oid_system_is_the_environment_files_in_what_is_sent_and_checked(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, api="fhir", fhir={"oid_system": OTHER})
    assert settings_for(tmp_path, api="fhir").fhir.oid_system == "http://www.hl7.org/oid/"
    profile = settings.organizations[0]
    sent = resource(profile, fhir=settings.fhir)
    assert sent["identifier"][0]["system"] == OTHER
    assert sent["partOf"]["identifier"]["system"] == OTHER
    id_is_oid("Organization create", sent, OTHER)  # conforming under the setting
    with pytest.raises(BreaksRedoxRule, match=r"no OID identifier \(system http://www\.hl7"):
        id_is_oid("Organization create", sent)  # the documented system is not in it
    documented = resource(profile)
    with pytest.raises(BreaksRedoxRule, match=rf"no OID identifier \(system {OTHER}\)"):
        id_is_oid("Organization create", documented, OTHER)
    # the directory's organizations are read by it too (their id aside)
    listed = {"id": "local-7", "identifier": [{"system": OTHER, "value": "1.2.3"}]}
    assert _organization_oid(listed, OTHER) == "1.2.3"
    assert _organization_oid(listed, "http://www.hl7.org/oid/") == "local-7"


def test_the_simulator_keeps_the_documented_oid_system_unless_told_otherwise(
    tmp_path: Path,
) -> None:
    """The harness's setting is not the simulator's: an environment with another system is
    refused by the simulator as Redox's docs would; given the same as its own option, the
    whole lifecycle and the directory search work with it."""
    api, client, settings = lifecycle(tmp_path, oid_system=OTHER)
    refused = api.create(client, settings.organizations[0])
    assert refused.status == 403
    assert refused.request_body["identifier"][0]["system"] == OTHER

    other = tmp_path / "other"
    other.mkdir()
    settings = settings_for(other, api="fhir", fhir={"oid_system": OTHER})
    simulator = provision(settings)
    assert simulator.fhir.options.oid_system == "http://www.hl7.org/oid/"
    simulator.fhir.options = replace(simulator.fhir.options, oid_system=OTHER)
    client = in_process_client(settings, simulator)
    write_all(FhirDirectory(settings), client, settings)
    person = load_patients(settings.test_patients)["test patient 1"]
    FhirPatientSearch(settings).organizations(client, person)
    listed = [e for e in client.exchanges if e.label == "Organization search"]
    entries = [e["resource"] for x in listed for e in x.response_body.get("entry", [])]
    assert entries and all(r["identifier"][0]["system"] == OTHER for r in entries)
