"""What the run's Redox API does not offer (the record locator under FHIR) is listed as not
offered: never failed, never silently missing, and it keeps no step from passing."""

from __future__ import annotations

from pathlib import Path

import pytest

from techval.core.errors import NOT_OFFERED, NotOffered, category_of, failure_kind
from techval.harness.evidence import bundle, console, verdict
from techval.harness.evidence.outcomes import ScenarioOutcome


def outcome(nodeid: str, step: str, status: str, kind: str | None = None) -> ScenarioOutcome:
    found = ScenarioOutcome(nodeid, nodeid, "feature", step)
    found.status, found.kind = status, kind
    if kind == NOT_OFFERED:
        found.message = "not offered by this API: broad search is not offered by Redox's FHIR API"
    return found


def test_a_scenario_the_api_does_not_offer_is_its_own_kind_and_category() -> None:
    error = NotOffered("broad search through the record locator", "FHIR API")
    assert failure_kind(error) == NOT_OFFERED
    assert category_of(error) == "Not offered by this API"
    assert str(error.msg).startswith("not offered by this API: broad search through")


def test_not_offered_keeps_no_step_from_passing_and_is_listed_everywhere() -> None:
    outcomes = [
        outcome("broad", "patient_search", "skipped", NOT_OFFERED),
        outcome("narrow", "patient_search", "passed"),
        outcome("summary", "document_query", "skipped", NOT_OFFERED),
        outcome("create", "organization", "passed"),
        outcome("push", "data_on_demand", "passed"),
    ]
    result = verdict.build(
        outcomes, {"environment": "x"}, started_at="", finished_at=""
    ).as_document()
    steps = {step["key"]: step for step in result["steps"]}
    assert steps["patient_search"]["verdict"] == "passed"
    assert steps["document_query"]["verdict"] == "not_offered"  # nothing of it is offered
    assert result["counts"]["not_offered"] == 2
    assert verdict.exit_code(result) == 0
    table = console.table(result)
    assert "Not offered" in table.splitlines()[0]
    assert "2 scenario(s) not offered by this API" in table
    summary = bundle.summary(result)
    assert "not offered by this API: broad" in summary


def test_a_failure_beside_a_scenario_not_offered_still_fails_the_step() -> None:
    outcomes = [
        outcome("broad", "patient_search", "skipped", NOT_OFFERED),
        outcome("narrow", "patient_search", "failed", "conformance"),
    ]
    result = verdict.build(outcomes, {}, started_at="", finished_at="").as_document()
    step = next(s for s in result["steps"] if s["key"] == "patient_search")
    assert step["verdict"] == "failed" and verdict.exit_code(result) == 1


def test_the_fhir_documents_offer_no_summary(tmp_path: Path) -> None:
    from techval.validation.fhir.documents import FhirDocuments
    from techval.validation.located import Location
    from tests.helpers import in_process_client, settings_for

    settings = settings_for(tmp_path, api="fhir")
    client = in_process_client(settings)
    with pytest.raises(NotOffered, match="latest summary"):
        FhirDocuments(settings).summary_of(client, Location("1.2", "Org", ()))
    assert not client.exchanges  # nothing was sent for it
