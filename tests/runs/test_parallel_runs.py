"""One stream of evidence for the whole run: `techval run --workers N`, `--shard K/N` and
`techval merge` give the same evidence as one serial run of the suite."""

from __future__ import annotations

import functools
import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from techval.harness import events
from techval.harness.evidence.assemble import UNFINISHED, assemble
from techval.harness.groups import parse_shard, shard_of
from techval.simulator import RunningSimulator
from techval.simulator.faults import named
from tests.helpers import (
    ROOT,
    RunResult,
    assert_evidence_agrees,
    run_techval,
    shared_run,
    write_environment,
)


def scenarios(reports: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(name, parameters) -> what the verdict says of the scenario, without its timing."""
    result = json.loads((reports / "verdict.json").read_text())
    found = {}
    for step in result["steps"]:
        for scenario in step["scenarios"]:
            key = (scenario["name"], json.dumps(scenario["parameters"], sort_keys=True))
            found[key] = {
                k: scenario[k] for k in ("status", "kind", "message", "group", "feature_file")
            } | {"step": step["key"], "log_ids": bool(scenario["redox_log_ids"])}
            # (how many: the record locator answers a patient's first location query
            # "Active", so two scenarios searching at once may each ask twice)
    return found


def junit(reports: Path) -> dict[str, str]:
    outcome = {}
    for case in ET.parse(reports / "junit.xml").iter("testcase"):
        problem = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "")
        outcome[case.get("name", "")] = problem
    return outcome


def allure(reports: Path) -> list[tuple[str, str]]:
    results = (reports / "allure-results").glob("*-result.json")
    documents = [json.loads(path.read_text()) for path in results]
    return sorted((d["name"] + str(d.get("parameters")), d["status"]) for d in documents)


def table(result: RunResult) -> str:
    return result.stdout[result.stdout.index("Validation step") :].split("techval:")[0]


# The runs below are made once for the session, whichever worker asks first (helpers.shared_run);
# the tests only read them.
@pytest.fixture(scope="session")
def serial(serial_run: RunResult) -> RunResult:
    return serial_run  # tests/conftest.py: shared with the other tests reading a clean run


@pytest.fixture(scope="session")
def parallel(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The suite on four workers."""
    return shared_run(
        tmp_path_factory,
        "parallel",
        lambda folder: run_techval(["--workers", "4"], folder / "reports"),
    )


def shard(k: int, folder: Path) -> RunResult:
    return run_techval(["--shard", f"{k}/2"], folder / "reports")


@pytest.fixture(scope="session")
def shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, RunResult]:
    """The suite in two shards, each a run of its own."""
    first, second = (
        shared_run(tmp_path_factory, f"shard-{k}", functools.partial(shard, k)) for k in (1, 2)
    )
    assert first.code == second.code == 0, first.stderr + second.stderr
    return first, second


@pytest.mark.waits
@pytest.mark.whole_run
def test_four_workers_give_the_evidence_of_a_serial_run(
    serial: RunResult, parallel: RunResult
) -> None:
    assert parallel.code == serial.code == 0, parallel.stderr
    assert len(list((parallel.reports / "events").glob("gw*.jsonl"))) == 4
    assert scenarios(parallel.reports) == scenarios(serial.reports)
    assert junit(parallel.reports) == junit(serial.reports)
    assert allure(parallel.reports) == allure(serial.reports)
    assert table(parallel) == table(serial)
    har = json.loads((parallel.reports / "exchanges.har").read_text())["log"]
    assert len(har["pages"]) == len(scenarios(serial.reports))  # every scenario sent something
    pages = {page["id"] for page in har["pages"]}
    assert {e["pageref"] for e in har["entries"] if "pageref" in e} == pages
    tokens = [e for e in har["entries"] if "pageref" not in e]
    assert len(tokens) == 5  # the controller's first token, then one per worker


@pytest.mark.whole_run
def test_lifecycle_groups_stay_on_one_worker(parallel: RunResult) -> None:
    result = parallel
    assert result.code == 0, result.stderr
    where: dict[str, set[str]] = {}
    for path in (result.reports / "events").glob("gw*.jsonl"):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event["event"] == "scenario_started":
                where.setdefault(event["scenario"], set()).add(path.stem)
    groups: dict[str, set[str]] = {}
    for event in events.read([result.reports]):
        if isinstance(event, events.ScenarioCollected) and event.group:
            groups.setdefault(event.group, set()).update(where[event.scenario])
    assert {"organization:techval-sample-clinic", "patient:test patient 2"} <= set(groups)
    assert all(len(workers) == 1 for workers in groups.values()), groups
    # ... and the work is spread: xdist's own loadscope would put the one module on one worker
    assert len({worker for workers in where.values() for worker in workers}) >= 2, where


@pytest.mark.waits
@pytest.mark.whole_run
def test_two_shards_merged_are_the_whole_suite(
    serial: RunResult, shards: tuple[RunResult, RunResult], tmp_path: Path
) -> None:
    first, second = shards
    one, two = scenarios(first.reports), scenarios(second.reports)
    assert one and two and not set(one) & set(two)
    groups_one = {s["group"] for s in one.values() if s["group"]}
    groups_two = {s["group"] for s in two.values() if s["group"]}
    assert not groups_one & groups_two  # no lifecycle group split between shards
    merged = run_techval(
        [str(first.reports), str(second.reports)], tmp_path / "merged", command="merge"
    )
    assert merged.code == 0, merged.stderr
    assert scenarios(merged.reports) == scenarios(serial.reports)
    assert junit(merged.reports) == junit(serial.reports)
    assert allure(merged.reports) == allure(serial.reports)
    assert table(merged) == table(serial)
    assert (merged.reports / "allure-report/index.html").is_file()
    har = json.loads((merged.reports / "exchanges.har").read_text())["log"]
    assert len(har["pages"]) == len(one) + len(two)
    twice = run_techval(
        [str(first.reports), str(first.reports)], tmp_path / "twice", command="merge"
    )
    assert (
        twice.code == 2 and "both hold" in twice.stderr and "the same shard twice" in twice.stderr
    )
    bundled = run_techval([], merged.reports, command="bundle")
    assert bundled.code == 0, bundled.stderr
    assert "evidence bundle" in bundled.stdout
    # each shard alone is a subset of the suite, never a passed validation
    for shard, other in ((first, two), (second, one)):
        alone = json.loads((shard.reports / "verdict.json").read_text())
        assert alone["verdict"] == "incomplete" and alone["counts"]["not_selected"] == len(other)


@pytest.mark.whole_run
def test_a_merge_missing_a_shards_events_reports_its_scenarios_as_not_run(
    shards: tuple[RunResult, RunResult], tmp_path: Path
) -> None:
    first, shared = shards
    # a copy of the second shard whose events are lost (its JUnit and Allure results are kept)
    second = RunResult(shared.code, shared.stdout, shared.stderr, tmp_path / "shard-2")
    shutil.copytree(shared.reports, second.reports)
    (second.reports / "events" / "main.jsonl").write_text("")
    merged = run_techval(
        [str(first.reports), str(second.reports)], tmp_path / "merged", command="merge"
    )
    assert merged.code == 2, merged.stdout + merged.stderr
    held, lost = scenarios(first.reports), scenarios(second.reports)
    found = scenarios(merged.reports)
    assert set(found) == set(held) | set(lost)  # the whole suite
    for key in lost:
        assert found[key]["kind"] == "could_not_run"
        assert found[key]["message"].startswith("not run: none of the merged reports folders")
    verdict = assert_evidence_agrees(merged.reports)
    assert verdict["verdict"] != "passed"
    assert verdict["counts"]["could_not_run"] == len(lost)
    assert "Could not run" in merged.stdout
    assert merged.stderr.strip() == (
        f"techval: could not run: {len(lost)} of {len(found)} scenarios (the reports say why)"
    )


@pytest.mark.whole_run
def test_merge_refuses_what_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_techval([str(tmp_path / "empty")], tmp_path / "out", command="merge")
    assert result.code == 2
    assert result.stderr.strip() == (
        f"techval: merge: {tmp_path / 'empty'}: no events/*.jsonl: not the reports of a run"
    )


@pytest.mark.whole_run
def test_evidence_holds_no_path_of_this_machine(serial: RunResult) -> None:
    for name in ("verdict.json", "exchanges.har", "junit.xml"):
        assert str(ROOT) not in (serial.reports / name).read_text(), name
    for path in (serial.reports / "allure-results").iterdir():
        assert str(ROOT) not in path.read_text(errors="replace"), path.name


@pytest.mark.whole_run
def test_the_har_records_what_really_went_out(serial: RunResult) -> None:
    entries = json.loads((serial.reports / "exchanges.har").read_text())["log"]["entries"]
    token = next(e for e in entries if e["request"]["url"].endswith("/auth/token"))
    headers = {h["name"].lower(): h["value"] for h in token["request"]["headers"]}
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert token["request"]["postData"]["mimeType"] == "application/x-www-form-urlencoded"
    assert "client_assertion=***" in token["request"]["postData"]["text"]
    message = next(e for e in entries if e["request"]["url"].endswith("/endpoint"))
    sent = {h["name"]: h["value"] for h in message["request"]["headers"]}
    assert sent["Authorization"] == "Bearer ***" and sent["Content-Type"] == "application/json"
    assert sent["User-Agent"].startswith("techval/")


# -- the pieces, without a run -----------------------------------------------------------


def test_shards_are_deterministic_balanced_and_keep_groups() -> None:
    groups = ["org:a", "org:a", "org:a", None, None, "p:1", "p:1", None, "org:b", "org:b"]
    chosen = shard_of(groups, 3)
    assert chosen == shard_of(groups, 3)
    for group in {g for g in groups if g}:
        assert len({chosen[i] for i, g in enumerate(groups) if g == group}) == 1
    sizes = [chosen.count(s) for s in range(3)]
    assert max(sizes) - min(sizes) <= 1, sizes
    assert sorted(set(shard_of(groups, 1))) == [0]


@pytest.mark.parametrize(
    ("text", "problem"),
    [("3", "give K/N"), ("0/2", "between 1 and N"), ("3/2", "between 1 and N"), ("a/b", "K/N")],
)
def test_a_bad_shard_is_named(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_shard(text)


def test_a_scenario_whose_process_died_is_broken_and_a_torn_line_is_skipped(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    lines = [
        {"event": "run_started", "at": "2026-01-01T00:00:00.000Z", "environment": {"a": "b"}},
        {"event": "scenario_collected", "at": "t", "scenario": "s1", "name": "one", **PLACE},
        {"event": "scenario_collected", "at": "t", "scenario": "s2", "name": "two", **PLACE},
        {"event": "scenario_started", "at": "t", "scenario": "s1"},
        {"event": "run_finished", "at": "2026-01-01T00:00:09.000Z", "interrupted": False},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + '\n{"event": "exch'
    (folder / "main.jsonl").write_text(text)
    found = assemble(events.read([tmp_path]))
    first, second = found.outcomes
    assert (first.status, first.message) == ("broken", UNFINISHED)
    assert second.status is None  # never started: not run
    assert not found.interrupted and found.finished_at.endswith("09.000Z")


PLACE: dict[str, Any] = {"parameters": {}, "position": 0, "group": None}


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"event": "scenario_collected", "name": "x", "parameters": {}, "position": 0}, "scenario"),
        ({"event": "scenario_collected", "scenario": "s", "name": "x", "parameters": ["a"],
          "position": 0}, "parameters"),
        ({"event": "scenario_collected", "scenario": "s", "name": "x", "parameters": {},
          "position": "first"}, "position"),
        ({"event": "exchange", "scenario": None, "entry": "text", "log_ids": []}, "entry"),
        ([1, 2], None),
    ],
)  # fmt: skip
def test_an_event_file_techval_did_not_write_is_one_line_naming_file_and_line(
    tmp_path: Path, event: Any, problem: str | None
) -> None:
    (tmp_path / "events").mkdir()
    started = {"event": "run_started", "at": "t", "environment": {"environment": "x"}}
    lines = [json.dumps(started), json.dumps(event)]
    (tmp_path / "events" / "main.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(events.BadEvents) as caught:
        list(events.read([tmp_path]))
    where = f"{tmp_path / 'events' / 'main.jsonl'}:2: "
    expected = (
        f"{event['event']}: {problem} is missing or wrong" if problem else "not a techval event"
    )
    assert str(caught.value) == where + expected


def test_a_run_without_its_end_is_interrupted(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    started = {"event": "run_started", "at": "2026-01-01T00:00:00.000Z", "environment": {}}
    (tmp_path / "events" / "main.jsonl").write_text(json.dumps(started) + "\n")
    assert assemble(events.read([tmp_path])).interrupted


@pytest.mark.whole_run
def test_a_failed_runs_evidence_holds_no_path_of_this_machine(
    server: RunningSimulator, tmp_path: Path
) -> None:
    """Tracebacks name files (the Allure steps' traces of a step's error; a scenario's own
    trace is its message, harness/failure_text.py): the project's relative, Python's as
    <python>/."""
    server.simulator.faults += [named("server_error")]
    config = write_environment(tmp_path, simulator=None, base_url=server.url)
    result = run_techval(["--config", str(config)], tmp_path / "reports")
    assert result.code == 1
    machine = [str(ROOT), sys.prefix, sys.base_prefix, str(Path.home())]
    for path in result.reports.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [m for m in machine if m in text], path.relative_to(result.reports)
    traces = " ".join(p.read_text() for p in (result.reports / "allure-results").glob("*.json"))
    assert "<python>/" in traces  # the traces still name Python's files, as <python>/...
