"""The evidence flows one way: events -> outcomes (decided once, the baseline included) ->
verdict -> sections -> files. A section reads only what the verdict or an earlier section
holds, adds only the keys it declares, and changes nothing it reads; the order is checked by
the code, not written in a docstring."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest
import yaml

from techval.core.errors import CONFORMANCE
from techval.core.exchange import Exchange
from techval.harness import events
from techval.harness.evidence import baseline, drift, sections, verdict
from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.decide import Decided, decide
from techval.harness.evidence.inputs import Inputs
from techval.harness.evidence.outcomes import ScenarioOutcome
from techval.harness.evidence.section import Attachment, Section
from techval.harness.evidence.verdict import Verdict

STAMP = "2026-11-21T10:00:00.000Z"
SEARCH = "Search within one organization"


class Made:
    """A section for these tests: reads and adds what it is told, returns `part`."""

    def __init__(
        self,
        reads: tuple[str, ...] = (),
        adds: tuple[str, ...] = (),
        part: dict[str, Any] | None = None,
        change: str = "",
    ) -> None:
        self.reads, self.adds, self.part, self.change = reads, adds, part or {}, change

    def apply(
        self, verdict: Verdict, earlier: Mapping[str, Any], decided: Decided, reports: Path
    ) -> dict[str, Any]:
        if self.change == "verdict":
            verdict.verdict = "passed"  # type: ignore[misc]
        elif self.change == "earlier":
            earlier["drift"] = {}  # type: ignore[index]
        return self.part

    def summary(self, result: Mapping[str, Any]) -> list[str]:
        return []

    def console(self, result: Mapping[str, Any], reports: Path) -> list[str]:
        return []

    def attachments(self, result: Mapping[str, Any]) -> list[Attachment]:
        return []


def a_run(status: str = "failed") -> Assembled:
    outcome = ScenarioOutcome("id::search", SEARCH, "feature", "patient_search")
    outcome.status, outcome.kind = status, CONFORMANCE if status == "failed" else None
    return Assembled(
        outcomes=[outcome],
        environment={"environment": "dev", "git_revision": "abc1234"},
        started_at=STAMP,
        finished_at=STAMP,
        shapes=[{"answer": "PatientSearch.Query HTTP 2xx", "fields": {"$": "object"}}],
    )


def test_the_verdict_document_has_the_keys_of_before_in_their_order() -> None:
    built = verdict.from_decided(Decided(a_run()))
    written = [*built.as_document(), "since_previous", "since_last_green"]  # verdict.write's
    assert written == list(verdict.VERDICT_KEYS)
    step = built.as_document()["steps"][1]
    assert list(step) == [
        *["key", "number", "title", "verdict", "counts", "doc_url", "scenarios"],
        "not_selected",
    ]
    assert built.exit_code() == verdict.exit_code(built.as_document()) == 1


def test_the_sections_order_holds() -> None:
    sections.check_order(sections.SECTIONS)  # also run by each apply_all


def test_a_section_reading_what_a_later_one_adds_is_refused_naming_section_and_key() -> None:
    reader = Made(reads=("drift",))
    with pytest.raises(sections.SectionOrder, match=r"^test_evidence_flow reads drift: added"):
        sections.check_order([reader, drift.SECTION])
    sections.check_order([drift.SECTION, reader])  # after it: fine


def test_a_section_adding_a_key_twice_or_undeclared_is_refused(tmp_path: Path) -> None:
    with pytest.raises(sections.SectionOrder, match="adds verdict: already there"):
        sections.check_order([Made(adds=("verdict",))])  # verdict.json's own
    with pytest.raises(sections.SectionOrder, match="adds drift: already there"):
        sections.check_order([drift.SECTION, Made(adds=("drift",))])
    decided = Decided(a_run())
    with pytest.raises(sections.SectionOrder, match="added surprise undeclared"):
        sections.apply_all(
            verdict.from_decided(decided), decided, tmp_path, [Made(part={"surprise": 1})]
        )


@pytest.mark.parametrize("change", ["verdict", "earlier"])
def test_a_section_cannot_change_what_it_reads(tmp_path: Path, change: str) -> None:
    decided = Decided(a_run())
    built = verdict.from_decided(decided)
    with pytest.raises((FrozenInstanceError, TypeError)):
        sections.apply_all(built, decided, tmp_path, [drift.SECTION, Made(change=change)])
    assert built.verdict == "failed"


def _known(tmp_path: Path) -> Inputs:
    path = tmp_path / "baseline.yaml"
    entry = {"scenario": SEARCH, "kind": CONFORMANCE, "reason": "ticket 1", "expires": "2027-01-01"}
    path.write_text(yaml.safe_dump({"environments": {"dev": [entry]}}), encoding="utf-8")
    return Inputs(baseline=path)


def test_the_baseline_is_decided_before_the_verdict_and_any_section(tmp_path: Path) -> None:
    decided = decide(a_run(), _known(tmp_path))
    (outcome,) = decided.found.outcomes
    assert outcome.baseline == "known"
    result = verdict.from_decided(decided)  # no section applied yet
    assert result.as_document()["steps"][1]["scenarios"][0]["baseline"] == "known"
    assert result.exit_code() == verdict.exit_code(result.as_document()) == 0
    assert [e["scenario"] for e in decided.baseline.states["known"]] == [SEARCH]
    # without the file the same run fails
    assert verdict.from_decided(decide(a_run(), Inputs(tmp_path / "x"))).exit_code() == 1


@pytest.mark.parametrize("order", [[baseline.SECTION, drift.SECTION], [drift.SECTION]])
def test_drift_sees_a_run_of_known_failures_as_green_whatever_comes_before_it(
    tmp_path: Path, order: list[Section]
) -> None:
    last_green = tmp_path / drift.HISTORY / drift.LAST_GREEN
    decided = decide(a_run(), Inputs(tmp_path / "none.yaml"))
    sections.apply_all(verdict.from_decided(decided), decided, tmp_path, order)
    assert not last_green.exists()  # a failed run is not green
    decided = decide(a_run(), _known(tmp_path))
    sections.apply_all(verdict.from_decided(decided), decided, tmp_path, order)
    assert last_green.is_file()  # its only failure is known: green


# --- the events: typed records, JSON only at the file boundary ------------------------------


def test_every_kind_of_record_is_written_and_read_back_as_itself(tmp_path: Path) -> None:
    written: list[events.Record] = [
        events.RunStarted(process="main", environment={"environment": "dev"}),
        events.ScenarioCollected(
            scenario="a", name="n", parameters={"p": "1"}, position=2, group=None, step="x"
        ),
        events.ScenarioNotSelected(
            scenario="b", name="m", parameters={}, position=3, group="g", reason="shard"
        ),
        events.ScenarioStarted(scenario="a"),
        events.ExchangeRecorded(scenario="a", entry={"request": {}}, log_ids=["l1"], shape=None),
        events.ScenarioFinished(scenario="a", status="failed", kind="conformance", duration_s=1.5),
        events.UndefinedStep(where="f.feature:3: Given x"),
        events.RunStopped(reason="unreachable"),
        events.Finding(scenario=None, requirement="CQ-06", message="thin"),
        events.RunFinished(interrupted=True),
    ]
    assert {type(record) for record in written} == set(events.KINDS.values())
    file = events.EventFile(tmp_path, "main")
    for record in written:
        file(record)
    file.close()
    first = json.loads((tmp_path / "events" / "main.jsonl").read_text().splitlines()[0])
    assert list(first)[:3] == ["event", "at", "process"]  # the line format of before
    assert list(events.read([tmp_path])) == written


def test_the_live_exchange_is_never_written(tmp_path: Path) -> None:
    live = Exchange("PatientSearch.Query", "POST", "https://x", {}, None, "t")
    record = events.ExchangeRecorded(scenario=None, entry={}, log_ids=[], exchange=live)
    assert "exchange" not in events.as_json(record)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"event": "scenario_finished", "scenario": "a", "status": None, "duration_s": "slow"},
         "scenario_finished: duration_s is missing or wrong"),
        ({"event": "scenario_collected", "scenario": "s", "name": "x", "parameters": {},
          "position": True, "group": None}, "scenario_collected: position is missing or wrong"),
        ({"event": "scenario_collected", "scenario": "s", "name": "x", "parameters": {"a": 1},
          "position": 0, "group": None}, "scenario_collected: parameters is missing or wrong"),
        ({"event": "run_finished", "interrupted": "yes"},
         "run_finished: interrupted is missing or wrong"),
        ({"event": "finding", "scenario": None, "message": "m"},
         "finding: requirement is missing or wrong"),
    ],
)  # fmt: skip
def test_a_record_whose_field_is_not_of_its_type_is_refused_naming_kind_and_field(
    document: dict[str, Any], problem: str
) -> None:
    with pytest.raises(events.BadEvents) as caught:
        list(events.records([document], "line"))
    assert str(caught.value) == f"line 1: {problem}"


def test_a_record_of_a_kind_this_version_does_not_know_is_passed_over() -> None:
    read = list(events.records([{"event": "from_the_future", "x": 1}, {"event": "run_finished"}]))
    assert read == [events.RunFinished(at="", interrupted=False)]  # no time: not the reading's


def test_every_kind_of_record_is_registered_for_reading_and_writing() -> None:
    found: set[type[events.Record]] = set()
    pending = [events.Record]
    while pending:
        for kind in pending.pop().__subclasses__():
            pending.append(kind)
            if "KIND" in vars(kind):
                found.add(kind)
    assert found == set(events.KINDS.values())
    assert all(events.KINDS[kind.KIND] is kind for kind in found)  # no kind named twice
