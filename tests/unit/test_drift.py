"""Response drift: every answer kind's shape (field paths and JSON types, no values) is
compared with the last green run; added, removed and retyped fields are warnings that fail
nothing."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from techval.core.exchange import Exchange
from techval.core.redaction import Redactor
from techval.core.schemas import ERROR_SCHEMA
from techval.harness.events import records
from techval.harness.evidence import console, drift, verdict
from techval.harness.evidence.assemble import Assembled, assemble
from techval.harness.evidence.bundle import summary
from techval.harness.evidence.decide import Decided
from techval.harness.evidence.outcomes import ScenarioOutcome
from techval.simulator import RunningSimulator
from techval.simulator.faults import named
from techval.validation.fhir import paging
from tests.helpers import (
    applied,
    in_process_client,
    run_techval,
    settings_for,
    write_environment,
)

STAMP = "2026-11-21T10:00:00.000Z"
SEARCH = "PatientSearch.Query HTTP 2xx"
STEPS = ["organization", "patient_search", "document_query", "data_on_demand"]


def test_a_shape_is_field_paths_and_types_with_list_items_merged() -> None:
    body = {
        "Meta": {"DataModel": "PatientSearch", "Test": True, "Logs": [{"ID": "1"}]},
        "Patients": [
            {"Identifiers": [{"ID": "x", "IDType": None}], "Age": 3},
            {"Identifiers": [{"ID": "y", "IDType": "MR"}], "Age": 3.5, "Extra": []},
        ],
        "odd key": {"a.b": 1},
    }
    assert drift.shape(body) == {
        "$": "object",
        "$.Meta": "object",
        "$.Meta.DataModel": "string",
        "$.Meta.Test": "boolean",
        "$.Meta.Logs": "array",
        "$.Meta.Logs[]": "object",
        "$.Meta.Logs[].ID": "string",
        "$.Patients": "array",
        "$.Patients[]": "object",
        "$.Patients[].Identifiers": "array",
        "$.Patients[].Identifiers[]": "object",
        "$.Patients[].Identifiers[].ID": "string",
        "$.Patients[].Identifiers[].IDType": "null|string",
        "$.Patients[].Age": "number",
        "$.Patients[].Extra": "array",
        '$["odd key"]': "object",
        '$["odd key"]["a.b"]': "number",
    }


def test_a_long_key_is_masked_before_it_is_cut_short() -> None:
    secret = "S3cr3tValue" * 8
    masker = Redactor([secret])
    found = drift.shape({"note " + "p" * 40 + " " + secret: 1}, masker.text)
    assert not any("S3cr3t" in path for path in found), found


def test_a_shape_holds_no_value() -> None:
    found = drift.shape({"Patient": {"Name": "Timothy", "DOB": "2008-01-06", "Ids": [12345]}})
    assert set(found.values()) <= {"object", "array", "string", "number"}
    assert "Timothy" not in json.dumps(found) and "12345" not in json.dumps(found)


def test_a_pathological_answer_is_cut_not_walked() -> None:
    deep: Any = "bottom"
    for _ in range(50_000):  # deeper than Python's recursion limit
        deep = [deep]
    found = drift.shape(deep)
    assert len(found) == drift.MAX_DEPTH + 1
    wide = {f"key{n}": n for n in range(10_000)}
    assert len(drift.shape(wide)) == drift.MAX_PATHS


def exchange(**changes: Any) -> Exchange:
    fields: dict[str, Any] = {
        "label": "PatientSearch.Query",
        "method": "POST",
        "url": "https://api.redoxengine.com/endpoint",
        "request_headers": {},
        "request_body": {},
        "started_at": STAMP,
        "status": 200,
        "response_body": {"Meta": {}, "Patient": {}},
        "schema": "PatientSearch.Query.response",
    }
    return Exchange(**(fields | changes))


def test_the_answer_kind_keeps_errors_apart_from_successes() -> None:
    assert drift.shape_of(exchange())["answer"] == SEARCH  # type: ignore[index]
    error = exchange(status=200, schema=ERROR_SCHEMA)
    assert drift.shape_of(error)["answer"] == "PatientSearch.Query HTTP 2xx error"  # type: ignore[index]
    refused = exchange(status=400, schema=ERROR_SCHEMA)
    assert drift.shape_of(refused)["answer"] == "PatientSearch.Query HTTP 4xx error"  # type: ignore[index]
    assert drift.shape_of(exchange(response_body=None, status=502)) is None  # not JSON
    assert drift.shape_of(exchange(status=None, response_body=None)) is None  # no answer


def test_the_assembled_events_carry_the_shapes() -> None:
    shape = {"answer": SEARCH, "fields": {"$": "object"}}
    events: list[dict[str, Any]] = [
        {"event": "exchange", "scenario": "a", "entry": {}, "log_ids": [], "shape": shape},
        {"event": "exchange", "scenario": "a", "entry": {}, "log_ids": []},  # before shapes
        {"event": "run_finished"},
    ]
    assert assemble(records(events)).shapes == [shape]


def fields(**paths: str) -> dict[str, str]:
    return {"$": "object", **{f"$.{k}": v for k, v in paths.items()}}


def test_shapes_of_one_kind_are_merged_and_compared_with_the_earlier_ones() -> None:
    current = drift.merged(
        [
            {"answer": SEARCH, "fields": fields(Meta="object", Patient="object")},
            {"answer": SEARCH, "fields": fields(Meta="object", Extra="string", Count="null")},
            {"answer": "token HTTP 2xx", "fields": fields(access_token="string")},
            {"answer": "broken"},  # no fields: passed over
        ]
    )
    assert current[SEARCH] == fields(Count="null", Extra="string", Meta="object", Patient="object")
    earlier = {
        "finished_at": "2026-11-20T10:00:00.000Z",
        "git_revision": "abc1234",
        "answers": {
            SEARCH: fields(Meta="object", Patient="object", Gone="array", Count="number"),
            "Organization.Query HTTP 2xx": fields(Organizations="array"),  # not seen now
        },
    }
    found = drift.compare(current, earlier)
    assert found["against"] == {
        "finished_at": "2026-11-20T10:00:00.000Z",
        "git_revision": "abc1234",
    }
    assert found["compared"] == 1  # the token was not in the earlier run: nothing to compare
    assert found["added"] == [{"answer": SEARCH, "path": "$.Extra", "type": "string"}]
    assert found["removed"] == [{"answer": SEARCH, "path": "$.Gone", "type": "array"}]
    assert found["changed"] == [
        {"answer": SEARCH, "path": "$.Count", "was": "number", "now": "null"}
    ]
    assert drift.compare(current, None) == {
        "against": None,
        "compared": 0,
        "added": [],
        "removed": [],
        "changed": [],
    }


def test_the_pages_of_a_search_are_one_kind_and_drift_is_compared_across_them(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, api="fhir", fhir={"page_limit": 1})
    client = in_process_client(settings)
    first = client.request(
        "Organization search",
        "POST",
        settings.fhir.path(settings.fhir.organizations_slug, "Organization/_search"),
        form={"limit": ["1"]},
        response_schema=paging.SEARCHSET,
    )
    pages = paging.pages(client, first, settings.fhir, {}).pages
    assert [p.label for p in pages][:2] == ["Organization search", "Organization search, page 2"]
    shapes = [drift.shape_of(page) for page in pages]
    assert {s["answer"] for s in shapes if s} == {"Organization search HTTP 2xx"}
    earlier = {"answers": drift.merged(s for s in shapes if s)}
    assert set(earlier["answers"]) == {"Organization search HTTP 2xx"}
    # the next run: only its second page carries a new field
    body = dict(pages[1].response_body, meta={"lastUpdated": STAMP})
    again = [pages[0], replace(pages[1], response_body=body), *pages[2:]]
    found = drift.compare(drift.merged(s for s in map(drift.shape_of, again) if s), earlier)
    assert found["compared"] == 1
    assert found["added"] == [
        {"answer": "Organization search HTTP 2xx", "path": "$.meta", "type": "object"},
        {"answer": "Organization search HTTP 2xx", "path": "$.meta.lastUpdated", "type": "string"},
    ]


def result_of(*statuses: str) -> Assembled:
    """A run whose scenarios, one per step, ended so."""
    outcomes = []
    for step, status in zip(STEPS, statuses, strict=False):
        found = ScenarioOutcome(f"id::{step}", f"{step} scenario", "feature", step)
        found.status = status
        found.kind = "conformance" if status == "failed" else None
        outcomes.append(found)
    return Assembled(
        outcomes=outcomes,
        environment={"environment": "dev", "git_revision": "abc1234"},
        started_at=STAMP,
        finished_at=STAMP,
    )


def drifted(found: Assembled, reports: Path, *shapes: dict[str, Any]) -> dict[str, Any]:
    """The verdict document of the run `found` with these answer shapes, drift applied."""
    found = dataclasses.replace(found, shapes=list(shapes))
    result = verdict.from_decided(Decided(found)).as_document()
    return applied(drift.SECTION, result, found, reports)


def test_the_last_green_run_keeps_its_shapes_and_drift_is_a_warning(tmp_path: Path) -> None:
    green = {"answer": SEARCH, "fields": fields(Meta="object")}
    token = {"answer": "token HTTP 2xx", "fields": fields(access_token="string")}
    first = drifted(result_of(*["passed"] * 4), tmp_path, green, token)
    assert first["drift"]["against"] is None
    assert drift.SECTION.console(first, Path("reports")) == drift.SECTION.summary(first) == []
    assert drift.SECTION.attachments(first) == []
    history = json.loads((tmp_path / "history" / drift.LAST_GREEN).read_text())
    assert history["answers"][SEARCH] == fields(Meta="object")
    assert json.loads((tmp_path / drift.SHAPES).read_text())["answers"][SEARCH] == fields(
        Meta="object"
    )

    changed = {"answer": SEARCH, "fields": fields(Meta="object", Trace="object")}
    red = drifted(result_of("passed", "failed"), tmp_path, changed)
    assert red["drift"]["added"] == [{"answer": SEARCH, "path": "$.Trace", "type": "object"}]
    # not green: the last green shapes stay
    assert json.loads((tmp_path / "history" / drift.LAST_GREEN).read_text()) == history

    incomplete = drifted(result_of("passed", "passed"), tmp_path, changed)  # e.g. --tags
    assert verdict.exit_code(incomplete) == 0
    lines = drift.SECTION.console(incomplete, Path("reports"))
    assert lines == [
        f"Response drift since the last green run ({STAMP}, abc1234): 1 added, 0 removed, "
        "0 type changed (warnings, not failures)",
        f"  + {SEARCH}: $.Trace (object)",
    ]
    assert lines[0] in console.table(incomplete)
    markdown = summary(incomplete)
    assert "## Response drift" in markdown and f"- `+ {SEARCH}: $.Trace (object)`" in markdown
    (attachment,) = drift.SECTION.attachments(incomplete)
    assert attachment.name == "Response drift" and "$.Trace" in attachment.text
    # it exited 0: its shapes are the last green ones now, the token's kept from before
    history = json.loads((tmp_path / "history" / drift.LAST_GREEN).read_text())
    assert history["answers"][SEARCH] == fields(Meta="object", Trace="object")
    assert "token HTTP 2xx" in history["answers"]
    again = drifted(result_of("passed", "passed"), tmp_path, changed)
    assert drift.SECTION.console(again, Path("reports")) == []


def test_an_interrupted_run_does_not_move_the_shapes_on(tmp_path: Path) -> None:
    drifted(result_of(*["passed"] * 4), tmp_path, {"answer": SEARCH, "fields": fields()})
    interrupted = dataclasses.replace(result_of(*["passed"] * 4), interrupted=True)
    drifted(interrupted, tmp_path, {"answer": SEARCH, "fields": fields(New="string")})
    history = json.loads((tmp_path / "history" / drift.LAST_GREEN).read_text())
    assert history["answers"][SEARCH] == fields()


def test_many_drifted_fields_are_cut_short_in_the_console(tmp_path: Path) -> None:
    drifted(result_of(*["passed"] * 4), tmp_path, {"answer": SEARCH, "fields": fields()})
    many = fields(**{f"F{n:02}": "string" for n in range(30)})
    result = drifted(result_of(*["passed"] * 4), tmp_path, {"answer": SEARCH, "fields": many})
    lines = drift.SECTION.console(result, Path("reports"))
    assert len(lines) == 1 + drift.SHOWN + 1
    assert lines[-1] == "  ... and 10 more in verdict.json"


# --- whole runs ----------------------------------------------------------------------------


@pytest.mark.whole_run
def test_an_answer_that_gained_a_field_passes_and_is_listed_under_drift(
    server: RunningSimulator, tmp_path: Path
) -> None:
    config = write_environment(tmp_path, simulator=None, base_url=server.url)
    args = ["--config", str(config), "--tags", "patient_search"]
    reports = tmp_path / "reports"
    first = run_techval(args, reports)
    assert first.code == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert json.loads((reports / "verdict.json").read_text())["drift"]["against"] is None
    events = (reports / "events" / "main.jsonl").read_text().splitlines()
    shapes = [json.loads(line).get("shape") for line in events if '"exchange"' in line]
    assert any(s and s["answer"] == SEARCH for s in shapes)

    server.simulator.faults.append(named("extra_field"))
    second = run_techval(args, reports)
    assert second.code == 0, second.stdout[-2000:] + second.stderr[-2000:]
    result = json.loads((reports / "verdict.json").read_text())
    assert result["drift"]["added"] == [
        {"answer": SEARCH, "path": "$.Meta.Trace", "type": "object"},
        {"answer": SEARCH, "path": "$.Meta.Trace.Region", "type": "string"},
    ]
    assert result["drift"]["removed"] == result["drift"]["changed"] == []
    assert "Response drift since the last green run" in second.stdout
    assert f"+ {SEARCH}: $.Meta.Trace.Region (string)" in second.stdout
    assert "## Response drift" in summary(result)
