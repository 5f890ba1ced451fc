"""Requirement traceability: the catalogue (fixtures/requirements.yaml) against the features and
the code, the SHOULD findings, and the requirements section of the evidence."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from techval.core.exchange import Exchange
from techval.core.redaction import Redactor
from techval.core.reporting import Reporter
from techval.core.verifies import declared
from techval.harness import events
from techval.harness.evidence import bundle, sections, verdict
from techval.harness.evidence.assemble import Assembled, assemble
from techval.harness.evidence.outcomes import ScenarioOutcome
from techval.harness.evidence.requirements_section import COLUMNS, SECTION, evaluate
from techval.simulator import RunningSimulator
from techval.simulator.faults import named
from techval.validation import apis, recommendations, requirements
from techval.validation.requirements import (
    BOTH,
    DATA_MODEL,
    FHIR,
    SCOPES,
    SHOULD,
    CatalogueError,
    Requirement,
    parse,
)
from tests.helpers import ROOT, RunResult, applied, run_techval, settings_for, write_environment

SCENARIO = re.compile(r"^\s*Scenario(?: Outline)?:\s*(.+?)\s*$")
FINDING = re.compile(r"""\.finding\(\s*["']([A-Z]+-[0-9]+)["']""")


def feature_scenarios() -> list[str]:
    return [
        match.group(1)
        for path in sorted((ROOT / "features").glob("*.feature"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if (match := SCENARIO.match(line))
    ]


CATALOGUE = requirements.load()


# ── the catalogue ─────────────────────────────────────────────────────────────────────────


def test_every_scenario_named_exists_in_the_features() -> None:
    known = set(feature_scenarios())
    for requirement in CATALOGUE:
        own = () if requirement.every_scenario else requirement.scenarios
        named = (*own, *requirement.fhir_scenarios)
        unknown = [name for name in named if name not in known]
        assert not unknown, f"{requirement.id}: no such scenario in features/: {unknown}"


def test_every_check_resolves_to_a_real_attribute() -> None:
    for requirement in CATALOGUE:
        for name in requirement.checks:
            assert requirements.resolve(name) is not None, f"{requirement.id}: {name}"


def test_every_scenario_of_the_features_is_linked_to_a_requirement_by_name() -> None:
    linked = {name for r in CATALOGUE if not r.every_scenario for name in r.scenarios}
    unlinked = [name for name in feature_scenarios() if name not in linked]
    assert not unlinked, f"scenarios no requirement names: {unlinked}"


def test_catalogue_ids_levels_and_sources() -> None:
    ids = [r.id for r in CATALOGUE]
    assert len(ids) == len(set(ids))
    prefixes = {i.split("-")[0] for i in ids}
    assert prefixes == {"API", "CQ", "FHIR", "ORG", "PS", "DQ", "DOD"}
    assert {r.level for r in CATALOGUE} == {"SHALL", "SHOULD"}
    pages = ("https://docs.redoxengine.com/", "https://developer.redoxengine.com/")
    for requirement in CATALOGUE:
        assert requirement.source.startswith((*pages, "docs/redox-facts.md")), requirement.id


def test_every_finding_names_a_should_requirement_that_lists_its_observation() -> None:
    """A finding in the code is for a SHOULD requirement of the catalogue, and each SHOULD
    requirement names an observation in techval.validation.recommendations."""
    levels = {r.id: r.level for r in CATALOGUE}
    used = {
        found
        for path in (ROOT / "src/techval").rglob("*.py")
        for found in FINDING.findall(path.read_text(encoding="utf-8"))
    }
    assert used, "no finding is recorded anywhere"
    assert {levels.get(i) for i in used} == {SHOULD}, used
    for requirement in CATALOGUE:
        if requirement.level == SHOULD:
            assert requirement.id in used, f"{requirement.id}: nothing records its finding"
            assert any(
                c.startswith("techval.validation.recommendations.") for c in requirement.checks
            )


def test_an_outline_is_named_as_in_its_feature_and_covers_each_example() -> None:
    push = next(r for r in CATALOGUE if r.id == "DOD-11")
    assert push.covers("Push the visit summary of an inpatient visit", {"kind": "inpatient"})
    assert push.covers("Push a new patient and a visit summary, then find both")
    assert not push.covers("Merge two records of a patient")
    everything = next(r for r in CATALOGUE if r.every_scenario)
    assert everything.covers("anything at all", {})


GOOD = {
    "id": "ORG-99",
    "requirement": "A record is created",
    "source": "https://docs.redoxengine.com/x",
    "level": "SHALL",
    "scenarios": ["Create the organization record"],
    "checks": ["techval.validation.organization.new_message"],
}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"level": "MUST"}, "requirements.yaml: ORG-99: level: must be one of SHALL, SHOULD"),
        ({"id": "org 1"}, "requirements.yaml: requirements[0]: id: must look like ORG-01"),
        ({"scenarios": []}, "requirements.yaml: ORG-99: scenarios: must be a non-empty list"),
        ({"scenarios": "some"}, "ORG-99: scenarios: must be a non-empty list (or 'all')"),
        ({"checks": ["not dotted"]}, "ORG-99: checks[0]: 'not dotted' is not a dotted name"),
        ({"requirement": "two\nlines"}, "ORG-99: requirement: must be one line"),
        ({"source": ""}, "ORG-99: source: must be a non-empty string"),
        ({"verified": True}, "ORG-99: verified: not a key of a requirement"),
        ({"checks": None}, "ORG-99: checks: must be a non-empty list"),
        ({"api": "hl7"}, "ORG-99: api: must be one of both, data_model, fhir"),
        ({"api": ["fhir"]}, "ORG-99: api: must be one of both, data_model, fhir"),
    ],
)
def test_a_broken_entry_is_one_line_naming_the_entry_and_key(
    change: dict[str, Any], error: str
) -> None:
    entry = {**GOOD, **change}
    with pytest.raises(CatalogueError) as raised:
        parse({"requirements": [entry]}, "requirements.yaml")
    assert error in str(raised.value) and "\n" not in str(raised.value)


def test_api_is_optional_and_names_the_api_a_requirement_is_a_rule_of() -> None:
    (anywhere,) = parse({"requirements": [GOOD]}, "c")
    (fhir_only,) = parse({"requirements": [{**GOOD, "api": "fhir"}]}, "c")
    assert anywhere.api == BOTH and anywhere.applies_to(FHIR) and anywhere.applies_to(DATA_MODEL)
    assert fhir_only.applies_to(FHIR) and not fhir_only.applies_to(DATA_MODEL)
    # the scopes are the values of `api:` of an environment file, or both
    assert set(SCOPES) == {BOTH, apis.DATA_MODEL, apis.FHIR}


def test_a_missing_key_a_repeated_id_and_no_list_are_refused() -> None:
    entry = {k: v for k, v in GOOD.items() if k != "source"}
    with pytest.raises(CatalogueError, match=r"^c: ORG-99: source: missing$"):
        parse({"requirements": [entry]}, "c")
    with pytest.raises(CatalogueError, match=r"^c: ORG-99: id: used by another entry$"):
        parse({"requirements": [GOOD, GOOD]}, "c")
    with pytest.raises(CatalogueError, match=r"^c: requirements: must be a non-empty list$"):
        parse({"requirement": []}, "c")


def test_a_check_that_does_not_import_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="techval.validation.rules has no 'nothing_here'"):
        requirements.resolve("techval.validation.rules.nothing_here")
    with pytest.raises(CatalogueError, match="no module of that name imports"):
        requirements.resolve("nowhere.at_all")
    broken = tmp_path / "requirements.yaml"
    broken.write_text("requirements: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"^requirements.yaml: not YAML \(line \d+\)$"):
        requirements.load(broken)


# ── the two APIs in the catalogue ─────────────────────────────────────────────────────────

# Scenarios tagged with what FHIR does not offer (validation.apis.NOT_OFFERED): under FHIR
# they are "not offered by this API" before any step and show nothing.
NOT_OFFERED_UNDER_FHIR = {
    "Broad search finds the patient and the organizations that hold records",
    "Summarize the patient",
}
DATA_MODEL_CODE = tuple(
    f"techval.validation.{name}."
    for name in ("organization", "search", "documents", "dod", "messages", "rules")
)


def by_id(identifier: str) -> Requirement:
    return next(r for r in CATALOGUE if r.id == identifier)


def test_the_fhir_rules_are_in_the_catalogue_with_the_code_that_checks_them() -> None:
    fhir = {r.id: r for r in CATALOGUE if r.api == FHIR}
    assert fhir and all(r.level == "SHALL" for r in fhir.values())
    checks = {c for r in fhir.values() for c in r.checks}
    for check in (
        "techval.validation.fhir.organization.id_is_oid",  # id = OID
        "techval.validation.fhir.search.FhirPatientSearch.carried_metadata",  # the headers
        "techval.core.config._check_fhir",  # OAuth only
        "techval.core.exchange.outcome_errors",  # OperationOutcome errors
        "techval.validation.fhir.documents.FhirDocuments.search",  # form-encoded searches
    ):
        assert check in checks, check
    for requirement in fhir.values():
        assert requirement.source.startswith("https://"), requirement.id  # a Redox page
        assert not any(c.startswith(DATA_MODEL_CODE) for c in requirement.checks)


def test_what_fhir_does_not_offer_is_data_model_only_and_both_apis_rows_are_checked_by_both() -> (
    None
):
    """A requirement only not-offered scenarios verify is a Data Model rule; a requirement of
    both APIs checked by Data Model code names the FHIR side's code too, and the reverse."""
    for requirement in CATALOGUE:
        if not requirement.every_scenario and set(requirement.scenarios) <= NOT_OFFERED_UNDER_FHIR:
            assert requirement.api == DATA_MODEL, requirement.id
        if requirement.api == DATA_MODEL:
            assert not any(c.startswith("techval.validation.fhir.") for c in requirement.checks)
    for identifier in ("API-01", "API-06", "CQ-01", "ORG-01", "PS-01", "PS-03", "DQ-05"):
        assert by_id(identifier).api == DATA_MODEL, identifier
    for identifier in ("ORG-02", "ORG-03", "ORG-05", "PS-05", "DQ-04", "DOD-01", "DOD-06"):
        requirement = by_id(identifier)
        assert requirement.api == BOTH, identifier
        if any(c.startswith(DATA_MODEL_CODE) for c in requirement.checks):
            assert any(c.startswith("techval.validation.fhir.") for c in requirement.checks)


def every_scenario_passed(api: str | None) -> Assembled:
    """A run in which every scenario of the features passed (each with a log ID), its
    environment block naming `api` (None: a run recorded before it was named)."""
    names = feature_scenarios()
    outcomes = [
        outcome(
            f"n{i}",
            name.replace("<kind>", "inpatient"),
            "passed",
            parameters={"kind": "inpatient"} if "<kind>" in name else {},
        )
        for i, name in enumerate(names)
    ]
    return Assembled(outcomes=outcomes, environment={"api": api} if api else {})


@pytest.mark.parametrize(("api", "other"), [(FHIR, DATA_MODEL), (DATA_MODEL, FHIR), (None, FHIR)])
def test_a_requirement_of_the_other_api_is_not_applicable_never_passed(
    api: str | None, other: str, tmp_path: Path
) -> None:
    result: dict[str, Any] = {"steps": []}
    applied(SECTION, result, every_scenario_passed(api), tmp_path)
    rows = {row["id"]: row for row in result["requirements"]}
    foreign = {r.id for r in CATALOGUE if not r.applies_to(api or DATA_MODEL)}
    assert foreign and foreign <= {r.id for r in CATALOGUE if r.api == other}
    for identifier, row in rows.items():
        if identifier in foreign:
            assert row["verdict"] == "not_applicable", identifier
            assert row["ran"] == [] and row["redox_log_ids"] == [], identifier
        else:
            assert row["verdict"] == "passed", identifier
            assert row["redox_log_ids"], identifier
    with (tmp_path / "requirements.csv").open(encoding="utf-8", newline="") as file:
        table = {line["id"]: line for line in csv.DictReader(file)}
    for identifier in foreign:
        assert table[identifier]["verdict"] == "not_applicable"
        assert table[identifier]["scenarios"] == table[identifier]["redox_log_ids"] == ""
    passed = len(CATALOGUE) - len(foreign)
    assert SECTION.console(result, Path("reports")) == [
        f"Requirements: {passed} passed, 0 failed, 0 warnings, 0 not checked in this run, "
        f"{len(foreign)} not applicable to this API (requirements.csv)"
    ]
    table_lines = [line for line in SECTION.summary(result) if line.startswith("| ")]
    shown = [
        line for line in table_lines if "⊘ not_applicable (does not apply to this API)" in line
    ]
    assert sorted(line.split(":")[0][2:] for line in shown) == sorted(foreign)
    assert "does not apply to this API" in SECTION.attachments(result)[0].text


def test_a_failure_pinned_to_a_check_of_the_other_api_fails_every_shall_of_its_scenario() -> None:
    """Under FHIR a push's refusal raised by a Data Model check that no requirement of the run
    keeps for a push (CQ-05's, a rule of the Data Model's queries) is pinned to no requirement:
    every SHALL of the scenario fails; a FHIR check pins its own requirement."""
    push = outcome(
        "a", "Merge two records of a patient", "failed", "conformance",
        raised_at="techval.validation.rules.carried_metadata",
    )  # fmt: skip
    create = outcome(
        "b", "Create the organization record", "failed", "conformance",
        raised_at="techval.validation.fhir.organization.id_is_oid",
    )  # fmt: skip
    found = Assembled(outcomes=[push, create], environment={"api": FHIR})
    rows = {row["id"]: row["verdict"] for row in evaluate(CATALOGUE, found)[0]}
    assert rows["CQ-05"] == "not_applicable"
    assert rows["API-06"] == rows["API-07"] == "failed"  # the push's envelope rules apply
    assert rows["DOD-01"] == rows["DOD-04"] == rows["DOD-09"] == "failed"
    assert rows["FHIR-05"] == "failed"
    assert rows["ORG-02"] == rows["ORG-03"] == "incomplete"  # not disproven by id = OID
    assert rows["ORG-01"] == "not_applicable"


def test_under_fhir_the_envelope_rules_apply_to_the_data_model_pushes_only() -> None:
    """Step 4's pushes stay Data Model messages under `api: fhir`: API-01, -06, -07, -08, -09
    are checked by those scenarios (a push refused by the envelope check fails API-06 alone),
    and by no FHIR request's scenario; CQ-03/CQ-04 by the searches that send the headers."""
    push = outcome(
        "a", "Merge two records of a patient", "failed", "conformance",
        raised_at="techval.core.client.RedoxClient.check_request",
    )  # fmt: skip
    create = outcome("b", "Create the organization record", "passed")
    search = outcome(
        "c", "Search within one organization finds the patient with that organization's "
        "identifiers", "failed", "conformance",
        raised_at="techval.validation.fhir.headers.HeaderRules.__call__",
    )  # fmt: skip
    found = Assembled(outcomes=[push, create, search], environment={"api": FHIR})
    rows = {row["id"]: row for row in evaluate(CATALOGUE, found)[0]}
    assert rows["API-06"]["verdict"] == "failed"  # pinned: its check raised
    assert [r["scenario"] for r in rows["API-06"]["ran"]] == ["Merge two records of a patient"]
    assert rows["API-06"]["scenarios"] == list(by_id("API-06").fhir_scenarios)
    assert rows["API-07"]["verdict"] == "incomplete"  # the push failed on another's check
    assert rows["DOD-01"]["verdict"] == "incomplete"
    assert rows["CQ-03"]["verdict"] == rows["CQ-04"]["verdict"] == "failed"
    assert rows["CQ-02"]["verdict"] == "incomplete"  # pinned to CQ-03/CQ-04's check
    assert rows["CQ-01"]["verdict"] == rows["PS-01"]["verdict"] == "not_applicable"
    for identifier in ("API-01", "API-06", "API-07", "API-08", "API-09"):
        requirement = by_id(identifier)
        assert requirement.api == DATA_MODEL and requirement.applies_to(FHIR), identifier
        assert not requirement.covers("Create the organization record", api=FHIR)
        assert requirement.covers("Create the organization record", api=DATA_MODEL)
        assert requirement.covers("Push the visit summary of an <kind> visit", api=FHIR)
    still = {r.id for r in CATALOGUE if r.api == DATA_MODEL and r.applies_to(FHIR)}
    assert still == {"API-01", "API-06", "API-07", "API-08", "API-09"}
    assert by_id("CQ-03").api == by_id("CQ-04").api == BOTH


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"fhir_scenarios": ["x"]}, "ORG-99: fhir_scenarios: only for api: data_model"),
        ({"api": "data_model", "fhir_scenarios": "all"}, "ORG-99: fhir_scenarios: must be a"),
        ({"api": "data_model", "fhir_scenarios": ["x", "all"]}, "must name scenarios, not 'all'"),
    ],
)
def test_fhir_scenarios_are_only_for_a_data_model_rule(changes: dict[str, Any], said: str) -> None:
    with pytest.raises(CatalogueError, match=re.escape(said)):
        parse({"requirements": [{**GOOD, **changes}]}, "c")


# ── findings: SHOULD observations, recorded and redacted, never failing ───────────────────


def recording_reporter(secret: str = "s3cret-value-for-the-test") -> tuple[Reporter, list[Any]]:
    found: list[tuple[str, str]] = []
    reporter = Reporter(Redactor([secret]), on_finding=lambda r, m: found.append((r, m)))
    return reporter, found


def test_a_finding_reaches_the_hook_redacted_and_raises_nothing() -> None:
    reporter, found = recording_reporter()
    reporter.finding("CQ-06", "user-id s3cret-value-for-the-test is not a name")
    assert found and found[0][0] == "CQ-06"
    assert "s3cret-value-for-the-test" not in found[0][1]
    Reporter(Redactor()).finding("CQ-06", "nobody listens: nothing happens")


def push(label: str, body: dict[str, Any], meta: dict[str, Any]) -> Exchange:
    return Exchange(
        label, "POST", "http://x/endpoint", {}, body, "2026-01-01T00:00:00.000Z",
        status=200, response_body={"Meta": meta},
    )  # fmt: skip


def test_observations_of_the_recommendations(tmp_path: Path) -> None:
    reporter, found = recording_reporter()
    oid = "2.16.840.1.113883.3.6147.458.99999.1.1.1.1"
    organization: dict[str, Any] = {
        "name": "Parent Clinic",
        "oid": oid,
        "type": "Connection",
        "part_of": "2.16.840.1.113883.3.6147.458.99999",
        "address": {"street": "1 Test Way", "city": "Madison", "state": "WI", "zip": "53703"},
        "contacts": [{"purpose": "Technical", "name": "Pat Tester", "emails": ["p@x.example"]}],
    }
    child = {**organization, "name": "Child", "oid": oid[:-1] + "2", "part_of": oid}
    settings = settings_for(tmp_path, organization=[organization, child])
    parent, kid = settings.organizations
    recommendations.parent_organization(settings, kid, reporter)
    assert not found  # a child points to its parent
    recommendations.parent_organization(settings, parent, reporter)
    assert [r for r, _ in found] == ["ORG-06"] and "2.16.840.1.113883.3.6147.458.2" in found[0][1]

    found.clear()
    for user_id, is_name in [("Doolittle, John", True), ("svc_techval", False), ("12345", False)]:
        assert recommendations.names_a_person(user_id) is is_name
    query = {"Meta": {"Extensions": {"user-id": {"string": "batch-job-7"}}}}
    sent = [push("PatientSearch.Query", query, {}), push("PatientSearch.Query", query, {})]
    recommendations.requesting_user(sent, reporter)
    assert [r for r, _ in found] == ["CQ-06"]  # once per user-id, not per request

    found.clear()  # under FHIR the user-id is the x-user-id header (its name: fhir.headers)
    search = push("Patient search", {}, {})
    search.request_headers = {"Authorization": "Bearer ***", "X-User-Id": "svc_techval"}
    recommendations.requesting_user([search], reporter)
    assert not found  # no header name given: the Data Model's Meta.Extensions only
    recommendations.requesting_user([search], reporter, "x-user-id")
    assert [r for r, _ in found] == ["CQ-06"] and "header x-user-id 'svc_techval'" in found[0][1]

    found.clear()
    logged = {"Logs": [{"ID": "5b1f1cde-0000-4000-8000-000000000001"}]}
    recommendations.pushes(
        [
            push("PatientAdmin.NewPatient", {}, logged),
            push("PatientAdmin.PatientUpdate", {}, {"Message": {"ID": 1234}}),
            push(
                "ClinicalSummary.VisitPush", {"Meta": {}, "Header": {}, "ProblemsText": ""}, logged
            ),
            push("ClinicalSummary.VisitPush", {"Header": {}, "ProblemsText": "Asthma"}, logged),
        ],
        reporter,
    )
    assert [r for r, _ in found] == ["DOD-10", "DOD-11"]
    assert "only the deprecated Meta.Message.ID" in found[0][1]


# ── the section, from hand-made events ────────────────────────────────────────────────────


def outcome(nodeid: str, name: str, status: str | None, kind: str | None = None, **extra: Any):
    """A finished scenario; `raised_at`: the declared check that failed it, whose
    requirements (its @verifies) the failure carries, as the plugin records them."""
    if "raised_at" in extra:
        extra["requirements"] = list(declared(requirements.resolve(extra["raised_at"])))
    found = ScenarioOutcome(nodeid, name, "feature", "data_on_demand", **extra)
    found.status, found.kind, found.log_ids = status, kind, [f"log-{nodeid}"]
    return found


def test_the_section_from_a_hand_made_run(tmp_path: Path) -> None:
    found = Assembled(
        outcomes=[
            outcome("a", "List the patient's documents", "passed"),
            outcome("b", "Retrieve a listed document", "failed", "conformance"),
            outcome(
                "c", "Push the visit summary of an outpatient visit", "passed",
                parameters={"kind": "outpatient"},
            ),
            outcome("d", "Push the visit summary of an inpatient visit", "passed",
                    parameters={"kind": "inpatient"}),
            outcome("e", "Summarize the patient", "broken", "could_not_run"),
        ],
        findings=[events.Finding(scenario="d", requirement="DOD-11", message="thin")],
    )  # fmt: skip
    result: dict[str, Any] = {"steps": []}
    applied(SECTION, result, found, tmp_path)
    rows = {row["id"]: row for row in result["requirements"]}
    assert len(rows) == len(CATALOGUE)
    assert rows["DQ-02"]["verdict"] == "passed"
    assert rows["DQ-02"]["redox_log_ids"] == ["log-a"]
    assert rows["DQ-03"]["verdict"] == rows["DQ-04"]["verdict"] == "failed"
    assert rows["DQ-05"]["verdict"] == "incomplete"  # could not run: nothing was shown
    assert rows["DQ-01"]["verdict"] == "failed"  # one of its scenarios failed a check
    assert rows["DOD-11"]["verdict"] == "warning" and rows["DOD-11"]["findings"] == ["thin"]
    assert rows["DOD-11"]["redox_log_ids"] == ["log-c", "log-d"]
    assert rows["DOD-10"]["verdict"] == "passed"  # a SHOULD without findings
    assert rows["ORG-01"]["verdict"] == "not_run"
    assert result["warnings"] == [
        {
            "requirement": "DOD-11",
            "level": "SHOULD",
            "scenario": "Push the visit summary of an inpatient visit [inpatient]",
            "message": "thin",
        }
    ]
    with (tmp_path / "requirements.csv").open(encoding="utf-8", newline="") as file:
        table = list(csv.reader(file))
    assert tuple(table[0]) == COLUMNS
    by_id = {line[0]: dict(zip(COLUMNS, line, strict=True)) for line in table[1:]}
    assert list(by_id) == [r.id for r in CATALOGUE]
    assert by_id["ORG-01"]["verdict"] == by_id["ORG-01"]["redox_log_ids"] == ""  # empty row
    assert by_id["ORG-01"]["requirement"] and by_id["ORG-01"]["source"]
    assert by_id["DOD-11"]["verdict"] == "warning"
    assert by_id["DOD-11"]["redox_log_ids"] == "log-c log-d"

    tally: dict[str, int] = {}
    for row in rows.values():
        tally[row["verdict"]] = tally.get(row["verdict"], 0) + 1
    assert tally["warning"] == tally["incomplete"] == 1 and tally["failed"] > 4
    assert tally["not_applicable"] == sum(1 for r in CATALOGUE if r.api == FHIR)  # no api named
    assert SECTION.console(result, Path("reports")) == [
        f"Requirements: {tally['passed']} passed, {tally['failed']} failed, 1 warning, "
        f"{tally['not_run']} not checked in this run, 1 incomplete, "
        f"{tally['not_applicable']} not applicable to this API (requirements.csv)"
    ]
    summary = SECTION.summary(result)
    assert "## Requirements" in summary
    assert "| Requirement | Level | Verdict | Scenarios run | Redox log IDs |" in summary
    assert any(line.startswith("| DOD-11: ") and "⚠️ warning" in line for line in summary)
    assert any(line.startswith("| ORG-01: ") and "| SHALL |  |" in line for line in summary)
    assert any("DOD-11 (Push the visit summary of an inpatient visit" in x for x in summary)
    (attachment,) = SECTION.attachments(result)
    assert attachment.name == "Requirements" and attachment.mime_type == "text/markdown"
    assert "| DQ-03: " in attachment.text
    # a SHOULD finding never changes the exit code: only the scenarios' kinds do
    passing = {"steps": [{"scenarios": [{"status": "passed", "kind": None}]}], **result}
    assert verdict.exit_code(passing) == 0


def test_a_failure_is_pinned_only_to_a_requirement_its_scenario_verifies(tmp_path: Path) -> None:
    """A check that belongs to another step's requirement (here the patient search's) does
    not pin the failure: every SHALL the scenario verifies fails then, none is let off."""
    elsewhere = outcome(
        "a",
        "Retrieve a listed document",
        "failed",
        "conformance",
        raised_at="techval.validation.search.matched",
    )
    pinned = outcome(
        "b", "Summarize the patient", "failed", "conformance",
        raised_at="techval.validation.documents.summary",
    )  # fmt: skip
    result: dict[str, Any] = {"steps": []}
    applied(SECTION, result, Assembled(outcomes=[elsewhere, pinned]), tmp_path)
    rows = {row["id"]: row for row in result["requirements"]}
    assert rows["DQ-03"]["verdict"] == rows["DQ-04"]["verdict"] == "failed"
    assert rows["DQ-05"]["verdict"] == "failed"  # pinned: documents.summary is DQ-05's check


def test_finding_events_are_assembled() -> None:
    found = assemble(
        events.records(
            [
                {"event": "run_started", "at": "1", "environment": {"environment": "x"}},
                {"event": "finding", "scenario": None, "requirement": "CQ-06", "message": "m"},
                {"event": "run_finished", "at": "2"},
            ]
        )
    )
    assert [f.requirement for f in found.findings] == ["CQ-06"]


def test_the_section_is_registered_in_order() -> None:
    """baseline, drift, requirements, reproduction: those of them that are registered."""
    order = ["baseline", "drift", "requirements_section", "reproduce"]
    names = [type(s).__module__.rsplit(".", 1)[-1] for s in sections.SECTIONS]
    assert "requirements_section" in names
    present = [name for name in order if name in names]
    assert [name for name in names if name in order] == present


# ── whole runs ────────────────────────────────────────────────────────────────────────────


def read_csv(reports: Path) -> dict[str, dict[str, str]]:
    with (reports / "requirements.csv").open(encoding="utf-8", newline="") as file:
        return {row["id"]: row for row in csv.DictReader(file)}


@pytest.mark.whole_run
def test_a_whole_run_lists_every_requirement_with_a_verdict(serial_run: RunResult) -> None:
    result = serial_run
    assert result.code == 0, result.stderr
    rows = read_csv(result.reports)
    assert list(rows) == [r.id for r in CATALOGUE]
    fhir = {r.id for r in CATALOGUE if r.api == FHIR}
    assert {rows[i]["verdict"] for i in fhir} == {"not_applicable"}  # a Data Model run
    assert {row["verdict"] for i, row in rows.items() if i not in fhir} == {"passed"}
    assert all(row["redox_log_ids"] for i, row in rows.items() if i not in fhir)
    assert re.search(
        rf"^Requirements: {len(CATALOGUE) - len(fhir)} passed, 0 failed, 0 warnings, 0 not "
        rf"checked in this run, {len(fhir)} not applicable to this API \(requirements.csv\)$",
        result.stdout,
        re.MULTILINE,
    )
    document = json.loads((result.reports / "verdict.json").read_text())
    assert len(document["requirements"]) == len(CATALOGUE) and document["warnings"] == []
    summary = bundle.summary(document)  # what `techval bundle` writes as summary.md
    assert "## Requirements" in summary and "| DOD-07: " in summary
    results = result.reports / "allure-results"
    listed = json.loads((results / "techval-globals.json").read_text())["attachments"]
    mine = next(a for a in listed if a["name"] == "Requirements")
    assert mine["type"] == "text/markdown"
    assert "| ORG-01: " in (results / mine["source"]).read_text()


@pytest.mark.whole_run
def test_a_tagged_run_shows_the_other_requirements_as_empty_rows(tmp_path: Path) -> None:
    result = run_techval(["--tags", "organization"], tmp_path / "reports")
    assert result.code == 0, result.stderr
    rows = read_csv(result.reports)
    assert list(rows) == [r.id for r in CATALOGUE]
    assert rows["ORG-03"]["verdict"] == "passed"  # all of its scenarios ran
    assert rows["API-01"]["verdict"] == "incomplete"  # verified by scenarios left out too
    for key in ("PS-01", "DQ-01", "DOD-01", "CQ-01"):
        assert rows[key]["verdict"] == rows[key]["scenarios"] == rows[key]["redox_log_ids"] == ""
        assert rows[key]["requirement"]


@pytest.mark.whole_run
def test_a_fhir_run_checks_the_fhir_rules_and_shows_data_model_rules_as_not_applicable(
    tmp_path: Path,
) -> None:
    result = run_techval(["--env", "simulator-fhir", "--tags", "organization"], tmp_path / "r")
    assert result.code == 0, result.stderr
    rows = read_csv(result.reports)
    assert list(rows) == [r.id for r in CATALOGUE]
    assert rows["FHIR-05"]["verdict"] == "passed"  # id = OID: only organization scenarios
    assert rows["FHIR-05"]["redox_log_ids"]
    assert "Create the organization record" in rows["FHIR-05"]["scenarios"]
    for key in ("FHIR-01", "FHIR-02", "FHIR-03", "FHIR-06"):  # other steps verify them too
        assert rows[key]["verdict"] == "incomplete", key
    assert rows["FHIR-04"]["verdict"] == ""  # the headers: no scenario of this run sends them
    assert rows["ORG-03"]["verdict"] == rows["ORG-05"]["verdict"] == "passed"  # both APIs
    data_model = [r.id for r in CATALOGUE if not r.applies_to(FHIR)]
    for key in data_model:  # ORG-01, CQ-01, PS-01 ...: whatever the tags
        assert rows[key]["verdict"] == "not_applicable", key
        assert rows[key]["scenarios"] == rows[key]["redox_log_ids"] == ""
    for key in ("API-01", "API-06", "API-07", "API-08", "API-09"):  # step 4's pushes only
        assert by_id(key).api == DATA_MODEL
        assert rows[key]["verdict"] == rows[key]["scenarios"] == "", key  # not in the tags
    assert f", {len(data_model)} not applicable to this API (requirements.csv)" in result.stdout
    document = json.loads((result.reports / "verdict.json").read_text())
    assert document["environment"]["api"] == "fhir"
    assert "⊘ not_applicable (does not apply to this API)" in bundle.summary(document)


@pytest.mark.whole_run
def test_should_findings_are_warnings_and_do_not_fail_the_run(tmp_path: Path) -> None:
    config = write_environment(tmp_path, carequality={"user_id": "svc_techval"})
    result = run_techval(["--config", str(config), "--tags", "patient_search"], tmp_path / "r")
    assert result.code == 0, result.stderr
    rows = read_csv(result.reports)
    assert rows["CQ-06"]["verdict"] == "warning" and rows["CQ-06"]["redox_log_ids"]
    assert rows["CQ-01"]["verdict"] == "incomplete"  # document query scenarios verify it too
    assert "1 warning," in result.stdout
    document = json.loads((result.reports / "verdict.json").read_text())
    step = next(s for s in document["steps"] if s["key"] == "patient_search")
    assert step["verdict"] == "passed"  # the other steps did not run (--tags): incomplete
    assert {w["requirement"] for w in document["warnings"]} == {"CQ-06"}
    assert "svc_techval" in document["warnings"][0]["message"]
    assert any(
        name.startswith("Warning (CQ-06, SHOULD): ")
        for scenario in result.allure_results()
        for name in step_names(scenario)
    )


def step_names(node: dict[str, Any]) -> list[str]:
    """The names of every step under an Allure result, nested ones included."""
    return [n for step in node.get("steps", []) for n in [step["name"], *step_names(step)]]


@pytest.mark.whole_run
def test_a_failed_check_fails_the_requirements_of_its_scenario(
    server: RunningSimulator, tmp_path: Path
) -> None:
    server.simulator.faults.append(named("cda_not_xml"))
    config = write_environment(tmp_path, simulator=None, base_url=server.url)
    result = run_techval(
        ["--config", str(config), "--tags", "document_query"], tmp_path / "reports"
    )
    assert result.code == 1, result.stdout[-2000:]
    rows = read_csv(result.reports)
    # The failure is pinned to the check that raised it: the CDA check (DQ-04) fails; the
    # other SHALL of the same scenario (DQ-03) is not disproven, only not shown to the end.
    assert rows["DQ-04"]["verdict"] == "failed"
    assert rows["DQ-03"]["verdict"] == "incomplete"
    verdict = json.loads((result.reports / "verdict.json").read_text())
    (retrieve,) = [
        s
        for step in verdict["steps"]
        for s in step["scenarios"]
        if s["name"] == "Retrieve a listed document"
    ]
    assert retrieve["raised_at"] == "techval.validation.documents.check_cda"
    assert retrieve["requirements"] == ["DQ-04"]  # what check_cda declares: no traceback walked
    assert rows["DQ-04"]["scenarios"] == "Retrieve a listed document"
    assert rows["DQ-02"]["verdict"] == rows["DQ-05"]["verdict"] == "passed"
    assert rows["ORG-01"]["verdict"] == ""
    line = next(x for x in result.stdout.splitlines() if x.startswith("Requirements: "))
    assert " 0 failed" not in line and "not checked in this run" in line
