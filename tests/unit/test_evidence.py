"""The evidence modules, each fed what a run can produce, wrong inputs included."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from allure_commons import model2 as allure_model

from techval.core.errors import CheckFailed, InvalidMessage, TransportError
from techval.core.exchange import Exchange
from techval.core.redaction import Redactor
from techval.core.schemas import Violation
from techval.harness import events
from techval.harness.evidence import console, har, html, leaks, verdict
from techval.harness.evidence.allure_files import (
    RedactingFileLogger,
    mark_category,
    raised_class,
    write_environment,
)
from techval.harness.evidence.bundle import LeakFound, make, summary
from techval.harness.evidence.outcomes import ScenarioOutcome
from techval.harness.evidence.run_info import masked_id
from techval.validation.checks import answered, succeeded

SECRET = "configured-secret-0123456789"  # a test value
STAMP = "2026-11-21T10:00:00Z"


def masker() -> Redactor:
    return Redactor([SECRET], ["Timothy", "Bixby"])


def outcome(step: str | None, status: str | None, name: str = "a scenario") -> ScenarioOutcome:
    return ScenarioOutcome(f"id::{name}", name, "feature", step, status=status)


def result_of(outcomes: list[ScenarioOutcome], **kwargs: Any) -> dict[str, Any]:
    return verdict.build(
        outcomes, {"environment": "dev"}, started_at=STAMP, finished_at=STAMP, **kwargs
    ).as_document()


# --- the Allure results writer -------------------------------------------------------


def test_results_are_redacted_before_they_are_written(tmp_path: Path) -> None:
    refused: list[OSError] = []
    logger = RedactingFileLogger(tmp_path, masker, on_error=refused.append)
    step = allure_model.TestStepResult(
        name='When "test patient 1" is searched',
        parameters=[
            allure_model.Parameter(name="alias", value="test patient 1"),
            allure_model.Parameter(name="client", value="<RedoxClient at 0x7f>"),
        ],
    )
    logger.report_result(
        allure_model.TestResult(
            uuid="u1",
            name="Search Timothy",
            status=allure_model.Status.FAILED,
            statusDetails=allure_model.StatusDetails(
                message=f"refused {SECRET} for Bixby", trace="Bearer x1234567890"
            ),
            steps=[step],
        )
    )
    logger.report_attached_data(f'{{"token": "{SECRET}", "name": "Timothy"}}', "a-attachment.json")
    logger.report_attached_data(b"\xff\xfe binary", "b-attachment.bin")
    (written,) = [
        json.loads(p.read_text()) for p in tmp_path.glob("*.json") if "attachment" not in p.name
    ]
    assert written["name"] == "Search [patient]"
    assert written["statusDetails"] == {
        "message": "refused *** for [patient]",
        "trace": "Bearer ***",
    }
    assert written["steps"][0]["parameters"] == [{"name": "alias", "value": "test patient 1"}]
    assert (tmp_path / "a-attachment.json").read_text() == '{"token": "***", "name": "[patient]"}'
    assert (tmp_path / "b-attachment.bin").read_text() == ""


def test_environment_block_is_one_line_per_entry(tmp_path: Path) -> None:
    write_environment(tmp_path, {"environment": "dev", "base_url": "https://x\nnext"})
    assert (tmp_path / "environment.properties").read_text() == (
        "environment=dev\nbase_url=https://x next\n"
    )


def test_ids_are_masked_but_recognisable() -> None:
    assert masked_id("techval-simulator-client") == "tech***ient"
    assert masked_id("short") == "***" and masked_id("") == ""


# --- verdict ---------------------------------------------------------------------------


def test_step_verdicts_from_scenario_statuses() -> None:
    result = result_of(
        [
            outcome("organization", "passed"),
            outcome("organization", "passed"),
            outcome("patient_search", "passed"),
            outcome("patient_search", "broken"),
            outcome("document_query", "skipped"),
        ]
    )
    by_key = {s["key"]: s["verdict"] for s in result["steps"]}
    assert by_key == {
        "organization": "passed",
        "patient_search": "failed",
        "document_query": "skipped",
        "data_on_demand": "skipped",
    }
    assert result["verdict"] == "failed"
    assert result["counts"] == {
        "passed": 3,
        "failed": 0,
        "broken": 1,
        "skipped": 1,
        "total": 5,
        "not_selected": 0,
        "not_applicable": 0,
        "not_offered": 0,
        "could_not_run": 0,
        "could_not_run_failed": 0,
    }


def test_a_scenario_that_could_not_run_leaves_its_step_incomplete_not_failed() -> None:
    timed_out = outcome("patient_search", "broken")
    timed_out.kind = "could_not_run"
    not_run = outcome("patient_search", "skipped")
    not_run.kind = "could_not_run"
    result = result_of([outcome("patient_search", "passed"), timed_out, not_run])
    step = next(s for s in result["steps"] if s["key"] == "patient_search")
    assert step["verdict"] == "incomplete" and result["verdict"] == "incomplete"
    assert step["counts"]["could_not_run"] == 2 and step["counts"]["could_not_run_failed"] == 1
    assert verdict.exit_code(result) == 2


def test_a_scenario_not_applicable_with_the_test_data_makes_its_step_incomplete() -> None:
    mismatch = outcome("document_query", "skipped", "no documents")
    mismatch.kind = "test_data"
    plain_skip = outcome("patient_search", "skipped")
    result = result_of([outcome("document_query", "passed"), mismatch, plain_skip])
    by_key = {s["key"]: s for s in result["steps"]}
    assert by_key["document_query"]["verdict"] == "incomplete"
    assert by_key["document_query"]["counts"]["not_applicable"] == 1
    assert by_key["patient_search"]["verdict"] == "skipped"  # nothing of it ran
    assert result["verdict"] == "incomplete"
    only_mismatch = result_of([mismatch])
    assert {s["key"]: s["verdict"] for s in only_mismatch["steps"]}["document_query"] == (
        "incomplete"
    )
    table = console.table(result)
    assert "INCOMPLETE" in table and "1 scenario(s) not applicable with this test data" in table
    mismatch.status = "failed"  # a failure is never hidden behind a mismatch
    assert {s["key"]: s["verdict"] for s in result_of([mismatch])["steps"]}["document_query"] == (
        "failed"
    )


def test_only_every_step_passing_is_a_green_run() -> None:
    steps = ["organization", "patient_search", "document_query", "data_on_demand"]
    assert result_of([outcome(s, "passed") for s in steps])["verdict"] == "passed"
    assert result_of([outcome(s, "passed") for s in steps[:3]])["verdict"] == "incomplete"


def test_history_names_what_regressed_since_the_last_green_run(tmp_path: Path) -> None:
    steps = ["organization", "patient_search", "document_query", "data_on_demand"]
    green = verdict.write(tmp_path, result_of([outcome(s, "passed") for s in steps]))
    assert green["since_last_green"] == {"against": None, "regressed": [], "recovered": []}
    broken = [outcome(s, "failed" if s == "patient_search" else "passed") for s in steps]
    red = verdict.write(tmp_path, result_of(broken))
    assert red["since_last_green"]["regressed"] == ["2. Patient search"]
    assert red["since_previous"]["regressed"] == ["2. Patient search"]
    again = verdict.write(tmp_path, result_of(broken))
    assert again["since_previous"]["regressed"] == []  # already red last time
    assert again["since_last_green"]["regressed"] == ["2. Patient search"]
    assert "Regressed since the last green run" in console.table(again)
    interrupted = verdict.write(tmp_path, result_of([], interrupted=True))
    assert interrupted["interrupted"]
    assert verdict.read(tmp_path / "history/latest.json") == again  # not moved on by it


def test_unreadable_history_is_a_first_run(tmp_path: Path) -> None:
    (tmp_path / "history").mkdir()
    (tmp_path / "history/last-green.json").write_text("{not json")
    written = verdict.write(tmp_path, result_of([]))
    assert written["since_last_green"]["against"] is None


def test_console_table_lists_each_step() -> None:
    text = console.table(result_of([outcome("organization", "failed")]))
    assert re.search(r"1\. Organization record\s+FAILED\s+0/1\s+1\s+0", text)
    assert "Overall: FAILED: 0 of 1 scenarios passed" in text


def test_progress_line_names_step_scenario_and_cause() -> None:
    failed = outcome("patient_search", "failed", "Broad search")
    failed.message, failed.parameters = "PatientSearch.Query: Redox answered HTTP 500", {"o": "A"}
    line = console.progress_line(failed, 3, 18)
    assert line.startswith("[ 3/18] FAIL  2. Patient search > Broad search [A] (0.0 s)")
    assert line.endswith("PatientSearch.Query: Redox answered HTTP 500")


# --- HAR -------------------------------------------------------------------------------


def exchange(**changes: Any) -> Exchange:
    values: dict[str, Any] = {
        "label": "PatientSearch.Query",
        "method": "POST",
        "url": "https://api.example/endpoint",
        "request_headers": {"Authorization": "Bearer ***"},
        "request_body": {"Patient": {"Demographics": {"FirstName": "Timothy"}}},
        "started_at": STAMP,
        "status": 200,
        "response_headers": {"content-type": "application/json", "set-cookie": SECRET},
        "response_body": {"Meta": {"Logs": [{"ID": "log-1"}]}, "Data": "<xml>Bixby</xml>"},
    }
    values.update(changes)
    return Exchange(**values)


def test_har_pages_per_scenario_and_redacted_entries() -> None:
    exchanges = [exchange(), exchange(status=None, response_body=None, transport_error="timed out")]
    token = exchange(
        label="token",
        started_at="2026-01-01T00:00:00.000Z",
        request_headers={"Content-Type": "application/x-www-form-urlencoded"},
        request_body={"grant_type": "client_credentials", "client_assertion": SECRET},
    )
    scenarios = [outcome(None, None, "Broad search"), outcome(None, None, "empty")]
    entries: list[tuple[str | None, dict[str, Any]]] = [(None, har.entry(token, masker()))]
    entries += [(scenarios[0].nodeid, har.entry(e, masker())) for e in exchanges]
    log = har.archive(scenarios, entries)["log"]
    assert [p["title"] for p in log["pages"]] == ["Broad search"]
    form, first, second = log["entries"]
    assert "pageref" not in form  # the first token belongs to the run, not to a scenario
    assert form["request"]["postData"]["mimeType"] == "application/x-www-form-urlencoded"
    assert {"name": "client_assertion", "value": "***"} in form["request"]["postData"]["params"]
    assert form["request"]["postData"]["text"] == (
        "grant_type=client_credentials&client_assertion=***"
    )
    assert first["pageref"] == second["pageref"] == "scenario_1"
    assert first["request"]["postData"]["mimeType"] == "application/json"
    assert {"name": "Authorization", "value": "Bearer ***"} in first["request"]["headers"]
    assert json.loads(first["request"]["postData"]["text"]) == {
        "Patient": {"Demographics": {"FirstName": "Xxxxxxx"}}
    }
    assert "Bixby" not in first["response"]["content"]["text"]
    assert {"name": "set-cookie", "value": "***"} in first["response"]["headers"]
    assert first["_redoxLogIds"] == ["log-1"]
    assert second["response"]["status"] == 0 and second["response"]["statusText"] == "timed out"


# --- leak scan and bundle --------------------------------------------------------------


def test_leak_scan_reads_inside_the_single_file_report(tmp_path: Path) -> None:
    hidden = base64.b64encode(f'{{"name": "Timothy", "key": "{SECRET}"}}'.encode()).decode()
    (tmp_path / "index.html").write_text(f'<script>d("data/x.json","{hidden}")</script>')
    found = {str(leak) for leak in leaks.scan(tmp_path, masker())}
    assert found == {
        "index.html (embedded data/x.json): contains a configured secret value",
        "index.html (embedded data/x.json): contains a test patient's identifying value",
    }


def test_leak_scan_finds_keys_and_jwts_and_passes_clean_files(tmp_path: Path) -> None:
    (tmp_path / "clean.json").write_text('{"Authorization": "Bearer ***", "name": "[patient]"}')
    assert leaks.scan(tmp_path, masker()) == []
    (tmp_path / "key.txt").write_text("-----BEGIN PRIVATE KEY-----\nMIIE")
    (tmp_path / "jwt.txt").write_text("eyJhbGciOiJSUzM4NCJ9.eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJl")
    assert {str(leak) for leak in leaks.scan(tmp_path, masker())} == {
        "key.txt: contains a private key",
        "jwt.txt: contains a JWT",
    }


def test_bundle_refuses_to_pack_a_leak_and_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(f"<failure message='{SECRET}'/>")
    with pytest.raises(
        LeakFound, match=r"junit\.xml: contains a configured secret value"
    ) as caught:
        make(tmp_path, masker())
    assert SECRET not in str(caught.value)


def test_bundle_says_what_is_missing(tmp_path: Path) -> None:
    verdict.write(tmp_path, result_of([]))
    with pytest.raises(Exception, match=r"allure-report/index\.html is missing \(`techval report`"):
        make(tmp_path, masker())


def test_summary_lists_each_step_with_log_ids() -> None:
    passed = outcome("organization", "passed", "Create")
    passed.log_ids = ["log-1", "log-2"]
    text = summary(result_of([passed, outcome("patient_search", "failed", "Search")]))
    assert "| 1. Organization record | ✅ passed | 1/1 | 2 |" in text
    assert "| 2. Patient search | ❌ failed | 0/1 | 0 |" in text
    assert "Redox log IDs: log-1, log-2" in text
    assert "- no scenario of this step ran" in text


# --- the HTML report -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "hint"),
    [(None, "Node.js is missing"), ("/usr/bin/node", "Allure 3 is not installed in node_modules")],
)
def test_without_allure_3_the_report_is_skipped_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, node: str | None, hint: str
) -> None:
    results = tmp_path / "allure-results"
    results.mkdir()
    (results / "x-result.json").write_text("{}")
    monkeypatch.setattr(html, "allure3", lambda: None)
    monkeypatch.setattr("shutil.which", lambda name: node if name == "node" else None)
    outcome = html.generate(results, tmp_path / "allure-report", name="r")
    assert outcome.written is None
    assert hint in outcome.message and "techval report" in outcome.message


def test_allure_2_writes_where_the_relative_paths_point_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Allure runs in the project folder; relative paths are the working directory's."""
    fake = tmp_path / "bin" / "allure"  # writes -o DIR/index.html, as allure 2 does
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nmkdir -p "$5" && echo "<html>" > "$5/index.html"\n')
    fake.chmod(0o755)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "x-result.json").write_text("{}")
    monkeypatch.setattr(html, "allure3", lambda: None)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    outcome = html.generate(Path("results"), Path("out"), name="r")
    assert outcome.written == (tmp_path / "out" / "index.html").resolve(), outcome.message


def test_nothing_to_report_without_results(tmp_path: Path) -> None:
    outcome = html.generate(tmp_path / "none", tmp_path / "out", name="r")
    assert outcome.written is None and "no Allure results" in outcome.message


def category(error: BaseException) -> list[str]:
    """The report categories matching a result that ended with `error`, as the writer marks it
    (allure-pytest-bdd's message is pytest's exconly(): "module.Class: text")."""
    kind = type(error)
    message = f"{kind.__module__}.{kind.__qualname__}: {error}"
    result = allure_model.TestResult(statusDetails=allure_model.StatusDetails(message=message))
    mark_category(result, raised_class(result))
    trace = result.statusDetails.trace or ""
    return [c["name"] for c in html.CATEGORIES if re.fullmatch(c["traceRegex"], trace)]


def test_categories_tell_the_four_kinds_of_failure_apart() -> None:
    refused = exchange(status=500, response_body={"Meta": {"Errors": [{"Text": "boom"}]}})
    with pytest.raises(CheckFailed) as redox_error:
        succeeded(refused)
    mismatch = exchange(violations=[Violation("$.Meta", "required field missing")])
    with pytest.raises(CheckFailed) as schema_error:
        answered(mismatch)
    invalid = InvalidMessage("PatientSearch.Query: the message breaks its request schema, not sent")
    timeout = TransportError("PatientSearch.Query: https://x/endpoint: timed out (ReadTimeout)")
    assert category(redox_error.value) == ["Redox answered with an error"]
    assert category(schema_error.value) == ["Response did not match schema"]
    assert category(invalid) == ["Your message is invalid (not sent)"]
    assert category(timeout) == ["Could not connect / timed out"]


def test_a_write_the_file_system_refuses_goes_to_the_run_not_into_a_traceback(
    tmp_path: Path,
) -> None:
    refused: list[OSError] = []
    logger = RedactingFileLogger(tmp_path / "results", masker, on_error=refused.append)
    (tmp_path / "results").rmdir()  # gone: every write into it fails
    logger.report_attached_data("text", "a-attachment.txt")
    logger.report_result(allure_model.TestResult(name="n", status="passed"))
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "main.jsonl").symlink_to("/dev/full")  # ENOSPC on each flush
    events_file = events.EventFile(tmp_path, "main", on_error=refused.append)
    events_file(events.RunFinished())
    assert len(refused) == 3 and all(isinstance(e, OSError) for e in refused)
    events_file(events.RunFinished())  # the file is closed: nothing more to refuse
    assert len(refused) == 3
