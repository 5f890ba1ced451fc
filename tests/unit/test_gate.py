"""A gate that cannot be fooled: a subset of the suite is never a passed validation."""

from __future__ import annotations

from techval.harness import events
from techval.harness.evidence import verdict
from techval.harness.evidence.assemble import NOT_HELD, assemble
from techval.harness.evidence.outcomes import ScenarioOutcome


def outcome(nodeid: str, step: str, status: str | None = "passed") -> ScenarioOutcome:
    found = ScenarioOutcome(nodeid, nodeid, "feature", step)
    found.status = status
    return found


def test_a_step_with_scenarios_not_selected_is_not_passed() -> None:
    ran = [outcome("a", "organization"), outcome("b", "patient_search")]
    left = [outcome("c", "organization", None), outcome("d", "document_query", None)]
    built = verdict.build(ran, {}, started_at="", finished_at="", not_selected=left)
    result = built.as_document()
    steps = {step["key"]: step for step in result["steps"]}
    assert steps["organization"]["verdict"] == "incomplete"
    assert steps["organization"]["not_selected"] == ["c"]
    assert steps["patient_search"]["verdict"] == "passed"  # all of its scenarios ran
    assert steps["document_query"]["verdict"] == "not_selected"
    assert result["verdict"] == "incomplete"
    assert result["counts"]["not_selected"] == 2 and result["counts"]["total"] == 2
    assert verdict.exit_code(result) == 0  # what ran passed


def selection_events(reason: str) -> list[events.Record]:
    identity = {"name": "n", "parameters": {}, "position": 1, "group": None, "step": "organization"}
    return list(
        events.records(
            [
                {"event": "run_started", "at": "1", "environment": {"environment": "x"}},
                {"event": "scenario_collected", "scenario": "a", **identity},
                {"event": "scenario_not_selected", "scenario": "b", "reason": reason, **identity},
                {"event": "run_finished", "at": "2"},
            ]
        )
    )


def test_a_scenario_left_to_a_shard_that_no_folder_holds_is_not_run_in_a_merge() -> None:
    found = assemble(selection_events("shard"), merging=True)
    missing = [o for o in found.outcomes if o.nodeid == "b"]
    assert missing and missing[0].kind == "could_not_run" and missing[0].message == NOT_HELD
    assert not found.not_selected
    alone = assemble(selection_events("shard"))  # the shard's own run: another shard's
    assert [o.nodeid for o in alone.not_selected] == ["b"]
    chosen = assemble(selection_events("selection"), merging=True)  # -k in every shard
    assert [o.nodeid for o in chosen.not_selected] == ["b"]
