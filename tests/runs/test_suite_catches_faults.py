"""The whole suite, pointed through a config file at a server that answers wrongly, fails the
right scenarios with a message that names the cause. A correct server passes everything."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from techval.harness.evidence.leaks import embedded
from techval.harness.evidence.plugin import WORKER_DIED
from techval.simulator import RunningSimulator
from techval.simulator.faults import named
from tests.helpers import (
    CLIENT_SECRET,
    ROOT,
    RunResult,
    assert_evidence_agrees,
    run_techval,
    write_environment,
)

pytestmark = pytest.mark.whole_run  # runs techval commands as a whole: not in make test-fast

CREATE = "test_create_the_organization_record"
UPDATE = "test_update_the_address_and_contacts_of_the_organization_record"
DEACTIVATE = "test_deactivate_the_organization_record"
BROAD = "test_broad_search_finds_the_patient"
NARROW = "test_search_within_one_organization"
NO_MATCH = "test_a_search_for_a_patient_who_does_not_exist"
LIST = "test_list_the_patients_documents"
RETRIEVE = "test_retrieve_a_listed_document"
SUMMARY = "test_summarize_the_patient"
NO_DOCUMENTS = "test_a_patient_without_documents"
PUSH = "test_push_a_new_patient_and_a_visit_summary"
CONTACT = "test_update_the_contact_details_of_a_patient"
MERGE = "test_merge_two_records_of_a_patient"
OUTPATIENT = "test_push_the_visit_summary_of_an_kind_visit[outpatient]"
INPATIENT = "test_push_the_visit_summary_of_an_kind_visit[inpatient]"
ORGANIZATION = [CREATE, UPDATE, DEACTIVATE]
LOCATED = [NARROW, LIST, RETRIEVE, SUMMARY, NO_DOCUMENTS]  # scenarios that start by locating
DATA_ON_DEMAND = [PUSH, CONTACT, MERGE, OUTPATIENT, INPATIENT]
EVERY = [*ORGANIZATION, BROAD, NO_MATCH, *LOCATED, *DATA_ON_DEMAND]


def run_against(
    server: RunningSimulator, tmp_path: Path, *faults: str, html: bool = False, **changes: Any
):
    server.simulator.faults.extend(named(name) for name in faults)
    config = write_environment(tmp_path, simulator=None, base_url=server.url, **changes)
    return run_techval(["--config", str(config)], tmp_path / "reports", html=html)


def scenarios_of(result: RunResult) -> list[dict[str, Any]]:
    """The verdict's scenarios in the order they ran."""
    verdict = json.loads((result.reports / "verdict.json").read_text())
    return [s for step in verdict["steps"] for s in step["scenarios"]]


def outcome(result, scenario: str) -> str:
    (message,) = [m for name, m in result.cases().items() if name.startswith(scenario)]
    return message


def test_conforming_server_passes_every_scenario(server: RunningSimulator, tmp_path: Path) -> None:
    result = run_against(server, tmp_path)
    assert result.code == 0, result.stdout[-2000:]
    assert set(result.cases().values()) == {""} and len(result.cases()) == len(EVERY)
    passed = [r["name"] for r in result.allure_results() if r["status"] == "passed"]
    assert len(passed) == len(EVERY)
    assert assert_evidence_agrees(result.reports)["verdict"] == "passed"


@pytest.mark.parametrize(
    ("fault", "failing", "expected"),
    [
        (
            "missing_required_field",
            [*ORGANIZATION, BROAD, *LOCATED, *DATA_ON_DEMAND],
            r"does not match (Organization|PatientAdmin).* required field missing"
            r"|no match for .*should be found",
        ),
        (
            "wrong_type",
            ORGANIZATION,
            r"\$\.Organizations\[0\]\.Active: expected boolean, got string",
        ),
        (
            "meta_errors_on_success",
            EVERY,
            "Redox answered HTTP 200 with Meta.Errors: Something went wrong",
        ),
        ("malformed_json", EVERY, "the response is not JSON"),
        ("server_error", EVERY, "Redox answered HTTP 500"),
        (
            "oversized_response",
            [RETRIEVE],
            "DocumentGet: the response is over the 40,000,000 byte limit of a Redox message",
        ),
        ("ignores_updates", [UPDATE, DEACTIVATE], "the directory does not reflect the record"),
        (
            "patient_without_identifiers",
            [BROAD, *LOCATED, *DATA_ON_DEMAND],
            "PatientSearch.Query: the matched patient has no identifiers",
        ),
        (
            "no_locations",
            [BROAD, *LOCATED],
            "PatientSearch.LocationQuery: no organization holds records",
        ),
        (
            "document_without_id",
            [LIST, RETRIEVE, PUSH, OUTPATIENT, INPATIENT],
            r"\$\.Documents\[0\]\.ID: required field missing",
        ),
        ("wrong_document", [RETRIEVE], r"\$\.Document\.ID: another document came back"),
        ("cda_not_xml", [RETRIEVE], r"\$\.Data: the document is not well-formed XML \(line 1"),
        (
            "drops_patient_updates",
            [CONTACT],
            r"'test patient 2' in your organization Harness Test Clinic: found on every attempt "
            r"\(4\), but Demographics\.PhoneNumber\.Mobile differs",
        ),
        (
            "drops_merges",
            [MERGE],
            r"the merged-away record of 'test patient 2' to disappear: not found",
        ),
        (
            "drops_pushes",
            DATA_ON_DEMAND,
            r"in your organization Harness Test Clinic: not found after 4 attempts in [0-9.]+ s",
        ),
        ("location_query_error", [BROAD, *LOCATED], r"task-status Error"),
        ("ignores_patient_updates", [CONTACT], r"Demographics\.PhoneNumber\.Mobile"),
    ],
)
def test_each_fault_fails_the_right_scenarios_naming_the_cause(
    server: RunningSimulator, tmp_path: Path, fault: str, failing: list[str], expected: str
) -> None:
    result = run_against(server, tmp_path, fault)
    assert result.code == 1, result.stdout[-3000:] + result.stderr[-2000:]
    for scenario in EVERY:
        message = outcome(result, scenario)
        if scenario in failing:
            assert re.search(expected, message), (scenario, message)
        else:
            assert message == "", (scenario, message)
    assert "Traceback" not in result.stderr
    assert assert_evidence_agrees(result.reports)["verdict"] == "failed"
    # a check's failure is its message and its step, not the harness's frames (failure_text.py)
    for failure in ET.parse(result.reports / "junit.xml").iter("failure"):
        text = failure.get("message", "")
        _, _, step = text.rpartition("\n")
        assert failure.text == text and text.startswith("techval.core.errors.")
        keyword = r"(Given|When|Then|And|But|\*)"
        assert re.fullmatch(rf"  in step: {keyword} .+ \(features/\S+\.feature:\d+\)", step)


def test_ignored_update_names_the_fields(server: RunningSimulator, tmp_path: Path) -> None:
    result = run_against(server, tmp_path, "ignores_updates")
    message = outcome(result, UPDATE)
    assert "Organizations[].Address.StreetAddress differs" in message
    assert "1 Test Way" not in message  # field paths, never values
    assert "Organizations[].Active differs" in outcome(result, DEACTIVATE)


def test_refused_token_stops_the_run_with_exit_2(server: RunningSimulator, tmp_path: Path) -> None:
    result = run_against(server, tmp_path, "token_refused")
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        f"techval: could not run: the token endpoint {server.url}/v2/auth/token refused the "
        f"credentials: HTTP 401 invalid_client client refused; {len(EVERY)} of {len(EVERY)} "
        "scenarios not attempted (the reports list them)"
    ]
    verdict = assert_evidence_agrees(result.reports)
    assert verdict["counts"]["skipped"] == len(EVERY)  # every scenario accounted for


def test_unreachable_server_stops_the_run_with_exit_2(tmp_path: Path) -> None:
    config = write_environment(tmp_path, simulator=None, base_url="http://127.0.0.1:9")
    result = run_techval(["--config", str(config)], tmp_path / "reports")
    assert result.code == 2
    assert result.stderr.strip() == (
        "techval: could not run: cannot reach the token endpoint "
        f"http://127.0.0.1:9/v2/auth/token: ConnectError; {len(EVERY)} of {len(EVERY)} "
        "scenarios not attempted (the reports list them)"
    )


def test_rerun_against_the_same_directory_adopts_the_record(
    server: RunningSimulator, tmp_path: Path
) -> None:
    first = run_against(server, tmp_path)
    records = len(server.simulator.directory.records)
    second = run_techval(["--config", str(tmp_path / "environment.yaml")], tmp_path / "again")
    assert first.code == second.code == 0
    assert len(server.simulator.directory.records) == records  # nothing new in the directory
    record = server.simulator.directory.records["2.16.840.1.113883.3.6147.458.99999.1.1.1.1"]
    assert record["Active"] is True and record["Address"]["StreetAddress"] == "1 Test Way"


def test_server_lost_after_the_token_is_exit_2_not_a_failed_check(
    server: RunningSimulator, tmp_path: Path
) -> None:
    """Every scenario fails to reach /endpoint: nothing was proven wrong, so exit 2."""
    auth = {
        "method": "jwt",
        "token_url": f"{server.url}/v2/auth/token",
        "client_id": "harness-test-client",
        "algorithm": "HS384",
        "client_secret": CLIENT_SECRET,
    }
    config = write_environment(tmp_path, simulator=None, base_url="http://127.0.0.1:9", auth=auth)
    result = run_techval(["--config", str(config)], tmp_path / "reports")
    assert result.code == 2, result.stdout[-2000:]
    assert "could not run: 3 requests in a row got no answer" in result.stderr  # fail fast
    messages = [s["message"] for s in scenarios_of(result)]
    reached = [m for m in messages if "cannot reach (ConnectError)" in m]
    assert len(reached) == 3  # fail_fast.after: then no further scenario is attempted
    assert all(m.startswith("not run: the environment stopped answering") for m in messages[3:])


@pytest.mark.parametrize(
    ("fault", "category"),
    [
        ("server_error", "Redox answered with an error"),
        ("wrong_type", "Response did not match schema"),
    ],
)
def test_the_report_files_failures_under_their_category(
    server: RunningSimulator, tmp_path: Path, fault: str, category: str
) -> None:
    result = run_against(server, tmp_path, fault, html=True)
    page = (result.reports / "allure-report/index.html").read_text()
    categories = json.loads(embedded(page)["widgets/categories.json"])
    names = {node["name"] for node in categories["nodes"].values() if node["type"] == "category"}
    assert names == {category}
    assert "=== FAILURES ===" not in result.stdout  # one line per failure, as it happened


def attachment_names(node: dict[str, Any]) -> list[str]:
    names = [a["name"] for a in node.get("attachments", [])]
    for step in node.get("steps", []):
        names += attachment_names(step)
    return names


@pytest.mark.waits
@pytest.mark.parametrize(
    ("fault", "retried"),
    [
        ("rate_limited_once", r"attempt 2, after HTTP 429, waited 1\.0 s"),
        ("dropped_once", r"attempt 2, after HTTP 502, waited 0\.\d s"),
        ("token_expires_early", r"attempt 2, after HTTP 401, with a new token"),
    ],
)
def test_transient_faults_pass_with_the_retry_recorded(
    server: RunningSimulator, tmp_path: Path, fault: str, retried: str
) -> None:
    result = run_against(server, tmp_path, fault)
    assert result.code == 0, result.stdout[-3000:]
    assert assert_evidence_agrees(result.reports)["verdict"] == "passed"
    names = [n for r in result.allure_results() for n in attachment_names(r)]
    assert [n for n in names if re.search(retried, n)], names
    har = json.loads((result.reports / "exchanges.har").read_text())
    statuses = [e["response"]["status"] for e in har["log"]["entries"]]
    first_failure = {"rate_limited_once": 429, "dropped_once": 502, "token_expires_early": 401}
    assert first_failure[fault] in statuses


@pytest.mark.waits
def test_slow_answers_are_timeouts_not_failed_checks(
    server: RunningSimulator, tmp_path: Path
) -> None:
    result = run_against(
        server, tmp_path, "slow:1.5", timeouts={"read": 0.3}, fail_fast={"after": len(EVERY)}
    )
    assert result.code == 2, result.stdout[-3000:]
    messages = set(result.cases().values())
    timed_out = r"/endpoint: timed out \(no complete answer within 0\.3 s\)"
    assert all(re.search(timed_out, m) for m in messages), messages
    verdict = assert_evidence_agrees(result.reports)
    assert verdict["counts"]["broken"] == len(EVERY)


@pytest.mark.waits
def test_a_scenario_past_its_deadline_is_reported_as_timed_out(
    server: RunningSimulator, tmp_path: Path
) -> None:
    result = run_against(server, tmp_path, "slow:0.3", timeouts={"scenario": 0.5})
    assert result.code == 2, result.stdout[-3000:]
    timed_out = [m for m in result.cases().values() if "deadline (0.5 s) passed" in m]
    assert timed_out and all("timed out" in m for m in result.cases().values() if m)
    # the scenario's own deadline is not the environment falling silent: every one was tried
    assert not any(s["message"].startswith("not run:") for s in scenarios_of(result))


@contextlib.contextmanager
def slow_run(
    server: RunningSimulator, tmp_path: Path, *args: str, until: str
) -> Iterator[tuple[subprocess.Popen[str], list[str], Path]]:
    """`techval run` in a process against the simulator answering in 0.2 s, once its progress
    printed the line starting with `until` (the run goes on long after): the process, the lines
    seen, the reports folder."""
    server.simulator.faults.append(named("slow:0.2"))
    config = write_environment(tmp_path, simulator=None, base_url=server.url)
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "techval.cli", "run", "--config", str(config), *args]
    with subprocess.Popen(
        [*command, "--reports", str(reports)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith(until):
                break
        yield process, seen, reports


@pytest.mark.waits
@pytest.mark.parametrize(
    ("workers", "stop"),
    [(1, signal.SIGINT), (2, signal.SIGINT), (1, signal.SIGTERM), (2, signal.SIGTERM)],
)
def test_ctrl_c_or_sigterm_stops_the_run_and_the_reports_are_complete(
    server: RunningSimulator, tmp_path: Path, workers: int, stop: signal.Signals
) -> None:
    """SIGTERM (a cancelled CI job, docker stop, timeout) is handled as Ctrl-C is: the reports
    of what ran, marked interrupted; exit 143, and no HTML (`techval report` writes it)."""
    with slow_run(server, tmp_path, f"--workers={workers}", until="[ 2/") as (
        process,
        seen,
        reports,
    ):
        process.send_signal(stop)
        signalled = time.monotonic()
        rest, stderr = process.communicate(timeout=60)
    took = time.monotonic() - signalled
    code = {signal.SIGINT: 130, signal.SIGTERM: 143}[stop]
    assert process.returncode == code, "".join(seen) + rest + stderr
    assert took < 15, f"{took:.1f} s from the signal to the end"
    said = {signal.SIGINT: "interrupted:", signal.SIGTERM: "terminated (SIGTERM):"}[stop]
    assert stderr.strip() == f"techval: {said} the reports hold what ran until then"
    verdict = json.loads((reports / "verdict.json").read_text())
    assert verdict["interrupted"] is True and verdict["counts"]["passed"] >= 2
    parts = ["junit.xml", "exchanges.har", "allure-results"]
    parts += ["allure-report/index.html"] if stop == signal.SIGINT else []
    for part in parts:
        assert (reports / part).exists(), part
    agreed = assert_evidence_agrees(reports)  # JUnit and Allure list what was not reached too
    stopped = [s for step in agreed["steps"] for s in step["scenarios"] if s["status"] != "passed"]
    assert stopped and all(s["kind"] == "could_not_run" for s in stopped)
    assert all(
        s["message"].startswith(("not run: the run was stopped", "not finished:")) for s in stopped
    )
    assert not (reports / "history/latest.json").exists()  # an interrupted run is no baseline


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc: no ps needed)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def mid_scenario(workers: list[int], within: float = 30) -> tuple[int, Path]:
    """A worker (its pid) in the middle of a scenario, and its event file (the one it holds
    open, found through /proc): its last event is an exchange of a scenario it started and
    the controller has not heard finish. Polled until one is, for at most `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for pid in workers:
            path = _event_file_of(pid)
            if path is not None and _running(path) and _lines(path)[-1]["event"] == "exchange":
                return pid, path
        time.sleep(0.02)
    raise AssertionError(f"no worker was seen in the middle of a scenario in {within} s")


def _event_file_of(pid: int) -> Path | None:
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        with contextlib.suppress(OSError):
            target = Path(os.readlink(fd))
            if target.parent.name == "events" and target.suffix == ".jsonl":
                return target
    return None


def _lines(path: Path) -> list[dict[str, Any]]:
    """The complete lines of an event file (a last one may be cut, inside a character too)."""
    return [json.loads(line) for line in path.read_bytes().split(b"\n")[:-1]]


def _running(worker_file: Path) -> str | None:
    """The scenario the worker of this event file had last started, unless the controller
    (whose events beside it record each scenario's end) heard it finish; the end it records
    for a worker's death is no end."""
    started = [e["scenario"] for e in _lines(worker_file) if e["event"] == "scenario_started"]
    finished = {
        e["scenario"]
        for path in worker_file.parent.glob("*.jsonl")
        for e in _lines(path)
        if e["event"] == "scenario_finished" and e["message"] != WORKER_DIED
    }
    return started[-1] if started and started[-1] not in finished else None


@pytest.mark.waits
def test_a_worker_killed_mid_scenario_is_the_same_broken_scenario_everywhere(
    server: RunningSimulator, tmp_path: Path
) -> None:
    """The scenario broken is the one the worker's events show it in when it died (checked
    after its death: it may have gone on to the next between the look and the kill); killed
    in the instant between two, none is broken and the rest run on the other worker."""
    with slow_run(server, tmp_path, "--workers=2", "--no-html", until="[ 3/") as (
        process,
        _,
        reports,
    ):
        workers = children_of(process.pid)
        assert len(workers) == 2, workers
        worker, event_file = mid_scenario(workers)
        os.kill(worker, signal.SIGKILL)
        server.simulator.faults.clear()  # the rest of the run need not be slow
        rest, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr
    verdict = assert_evidence_agrees(reports)  # JUnit, verdict and Allure: the same story
    assert verdict["counts"]["total"] == 15  # each scenario once: the killed one is not rerun
    running = _running(reports / "events" / event_file.name)  # moved in from the staging
    broken = [s for step in verdict["steps"] for s in step["scenarios"] if s["status"] != "passed"]
    cases = ET.parse(reports / "junit.xml").iter("testcase")
    errors = [c.get("name") for c in cases if c.find("error") is not None]
    if running is None:  # between two scenarios
        assert process.returncode == 0 and broken == [] and errors == [], rest + stderr
        return
    assert process.returncode == 1, rest + stderr
    assert len(broken) == 1 and broken[0]["message"] == WORKER_DIED
    assert broken[0]["kind"] == "harness_error"
    assert errors == [running.rsplit("::", 1)[1]]  # the scenario it was in, and only that one
    assert "ERROR " in rest and "Overall: FAILED: 14 of 15 scenarios passed" in rest


def _step_names(steps: list[dict[str, Any]]) -> Iterator[str]:
    for step in steps:
        yield step["name"]
        yield from _step_names(step.get("steps") or [])


def test_location_query_active_twice_then_success_is_three_reported_attempts(
    server: RunningSimulator, tmp_path: Path
) -> None:
    server.simulator.location_query_active = 2
    config = write_environment(tmp_path, simulator=None, base_url=server.url)
    result = run_techval(
        ["--config", str(config), "--tags", "patient_search"], tmp_path / "reports"
    )
    assert result.code == 0, result.stdout[-3000:]
    (broad,) = [r for r in result.allure_results() if r["name"].startswith("Broad search")]
    attempts = [n for n in _step_names(broad["steps"]) if "task-status Success): attempt" in n]
    assert [a.rsplit(": ", 1)[1] for a in attempts] == [
        "attempt 1 of 6",
        "attempt 2 of 6",
        "attempt 3 of 6",
    ]
    har = json.loads((result.reports / "exchanges.har").read_text())
    statuses = [
        json.loads(e["response"]["content"]["text"])["Meta"]["Extensions"]["task-status"]["string"]
        for e in har["log"]["entries"]
        if "LocationQuery" in e["comment"]
    ]
    assert statuses[:3] == ["Active", "Active", "Success"]
