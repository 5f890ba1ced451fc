"""Known failures (baseline.yaml): a run whose only failures are baselined, unexpired and of
the same kind exits 0 and says so; a new failure, a changed kind or an expired entry fails
as before; a baselined scenario that passes is reported stale; a bad file is one line."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from techval import cli
from techval.core.errors import CONFORMANCE, COULD_NOT_RUN, HARNESS_ERROR
from techval.harness.evidence import (
    baseline,
    baseline_command,
    console,
    sections,
    verdict,
)
from techval.harness.evidence import baseline_file as file_format
from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.bundle import summary
from techval.harness.evidence.decide import Decided, decide
from techval.harness.evidence.inputs import Inputs
from techval.harness.evidence.outcomes import ScenarioOutcome
from techval.simulator import RunningSimulator
from techval.simulator.faults import named
from tests.helpers import run_techval, write_environment

DAY = "2026-11-21"
STAMP = f"{DAY}T10:00:00.000Z"
TODAY = date.fromisoformat(DAY)
SEARCH = "Search within one organization"
VISIT = "Push the visit summary of an outpatient visit"
STEPS = ["organization", "patient_search", "document_query", "data_on_demand"]


def scenario(
    name: str,
    status: str,
    kind: str | None = None,
    step: str = "patient_search",
    parameters: dict[str, str] | None = None,
) -> ScenarioOutcome:
    parameters = parameters or {}
    found = ScenarioOutcome(f"id::{name}{parameters}", name, "feature", step, parameters)
    found.status, found.kind = status, kind
    found.message = f"{name}: it went wrong" if status in ("failed", "broken") else ""
    return found


def result_of(*outcomes: ScenarioOutcome, environment: str = "dev") -> Assembled:
    """A run that ended with `outcomes`, and a passing scenario in each step."""
    others = [scenario(f"{s} passes", "passed", step=s) for s in STEPS]
    return Assembled(
        outcomes=[*outcomes, *others],
        environment={"environment": environment, "git_revision": "abc1234"},
        started_at=STAMP,
        finished_at=STAMP,
    )


def unbaselined(found: Assembled) -> dict[str, Any]:
    """Its verdict without a known-failures file."""
    return verdict.from_decided(Decided(found)).as_document()


def entry(
    name: str = SEARCH, kind: str = CONFORMANCE, expires: date | str = "2026-12-01", **params: str
) -> dict[str, Any]:
    item: dict[str, Any] = {"scenario": name}
    if params:
        item["parameters"] = params
    return item | {"kind": kind, "reason": "reported to Redox as ticket 123", "expires": expires}


@pytest.fixture
def baseline_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "baseline.yaml"
    monkeypatch.setenv(file_format.CHOOSE, str(path))
    return path


def write(path: Path, environments: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump({"environments": environments}), encoding="utf-8")


def applied(found: Assembled, tmp_path: Path) -> dict[str, Any]:
    """Its verdict with tmp_path/baseline.yaml: the outcomes decided, then the section."""
    decided = decide(found, Inputs(baseline=tmp_path / "baseline.yaml"))
    built = verdict.from_decided(decided)
    return built.as_document() | sections.apply_all(built, decided, tmp_path, [baseline.SECTION])


# --- what a baseline does to a verdict -----------------------------------------------


def test_a_known_failure_is_not_counted_but_still_fails_its_step(
    baseline_file: Path, tmp_path: Path
) -> None:
    write(baseline_file, {"dev": [entry()]})
    found = result_of(scenario(SEARCH, "failed", CONFORMANCE))
    assert verdict.exit_code(unbaselined(found)) == 1  # without the baseline
    result = applied(found, tmp_path)
    assert verdict.exit_code(result) == 0
    assert result["verdict"] == "failed"  # honest: the step still failed
    assert result["steps"][1]["verdict"] == "failed"
    state = result["baseline"]
    assert state["file"] == "baseline.yaml" and state["environment"] == "dev"
    assert [e["scenario"] for e in state["known"]] == [SEARCH]
    assert state["expired"] == state["changed"] == state["stale"] == []
    assert result["steps"][1]["scenarios"][0]["baseline"] == "known"
    lines = baseline.SECTION.console(result, Path("reports"))
    assert lines == [
        f"1 known failure (baseline): {SEARCH} (conformance, until 2026-12-01)",
    ]
    assert lines[0] in console.table(result)
    markdown = summary(result)
    assert "## Known failures (baseline)" in markdown
    assert f"| {SEARCH} | known: not counted | conformance | reported to Redox" in markdown
    (attachment,) = baseline.SECTION.attachments(result)
    assert attachment.name == "Known failures (baseline)" and SEARCH in attachment.text


def test_two_known_failures_are_counted_in_the_plural(baseline_file: Path, tmp_path: Path) -> None:
    write(baseline_file, {"dev": [entry(), entry(VISIT, kind=HARNESS_ERROR)]})
    result = applied(
        result_of(
            scenario(SEARCH, "failed", CONFORMANCE),
            scenario(VISIT, "broken", HARNESS_ERROR, step="data_on_demand"),
        ),
        tmp_path,
    )
    assert verdict.exit_code(result) == 0
    assert baseline.SECTION.console(result, Path("reports"))[0].startswith(
        "2 known failures (baseline): "
    )


@pytest.mark.parametrize(
    ("listed", "state"),
    [
        (entry(expires="2026-11-20"), "expired"),  # the day before the run
        (entry(kind=HARNESS_ERROR), "changed"),  # it broke differently
    ],
)
def test_an_expired_entry_or_a_changed_kind_counts_as_before(
    baseline_file: Path, tmp_path: Path, listed: dict[str, Any], state: str
) -> None:
    write(baseline_file, {"dev": [listed]})
    result = applied(result_of(scenario(SEARCH, "failed", CONFORMANCE)), tmp_path)
    assert verdict.exit_code(result) == 1
    assert [e["scenario"] for e in result["baseline"][state]] == [SEARCH]
    assert result["baseline"]["known"] == []
    (line,) = baseline.SECTION.console(result, Path("reports"))
    if state == "expired":
        assert line.startswith("1 baseline entry expired, counted as failing: ")
        assert "(expired 2026-11-20)" in line
    else:
        assert result["baseline"]["changed"][0]["now"] == CONFORMANCE
        assert f"{SEARCH} (baseline harness_error, now conformance)" in line


def test_the_expiry_day_itself_still_counts_as_known(baseline_file: Path, tmp_path: Path) -> None:
    write(baseline_file, {"dev": [entry(expires=DAY)]})
    result = applied(result_of(scenario(SEARCH, "failed", CONFORMANCE)), tmp_path)
    assert verdict.exit_code(result) == 0


def test_a_new_failure_beside_a_known_one_fails_the_run(
    baseline_file: Path, tmp_path: Path
) -> None:
    write(baseline_file, {"dev": [entry()]})
    result = applied(
        result_of(
            scenario(SEARCH, "failed", CONFORMANCE),
            scenario("Broad search finds the patient", "failed", CONFORMANCE),
        ),
        tmp_path,
    )
    assert verdict.exit_code(result) == 1
    assert len(result["baseline"]["known"]) == 1


def test_a_baselined_scenario_that_passes_is_stale(baseline_file: Path, tmp_path: Path) -> None:
    write(baseline_file, {"dev": [entry(), entry("Not in this run")]})
    result = applied(result_of(scenario(SEARCH, "passed")), tmp_path)
    assert verdict.exit_code(result) == 0
    assert [e["scenario"] for e in result["baseline"]["stale"]] == [SEARCH]  # not the other
    assert result["steps"][1]["scenarios"][0]["baseline"] == "stale"
    assert baseline.SECTION.console(result, Path("reports")) == [
        f"1 baselined scenario now passing: {SEARCH}; remove its entry from baseline.yaml "
        "(`techval baseline` rewrites it)"
    ]
    assert "now passes: remove the entry" in summary(result)


def test_scenarios_are_told_apart_by_their_parameters(baseline_file: Path, tmp_path: Path) -> None:
    write(baseline_file, {"dev": [entry(organization="Clinic A")]})
    result = applied(
        result_of(
            scenario(SEARCH, "failed", CONFORMANCE, parameters={"organization": "Clinic A"}),
            scenario(SEARCH, "failed", CONFORMANCE, parameters={"organization": "Clinic B"}),
        ),
        tmp_path,
    )
    assert verdict.exit_code(result) == 1  # Clinic B is not baselined
    assert [e["parameters"] for e in result["baseline"]["known"]] == [{"organization": "Clinic A"}]
    assert (
        f"{SEARCH} [organization=Clinic A]" in baseline.SECTION.console(result, Path("reports"))[0]
    )


def test_a_baseline_is_per_environment(baseline_file: Path, tmp_path: Path) -> None:
    write(baseline_file, {"staging": [entry()]})
    result = applied(result_of(scenario(SEARCH, "failed", CONFORMANCE)), tmp_path)
    assert verdict.exit_code(result) == 1
    assert result["baseline"]["entries"] == 0
    assert (
        baseline.SECTION.console(result, Path("reports")) == baseline.SECTION.summary(result) == []
    )


def test_could_not_run_is_never_known(baseline_file: Path, tmp_path: Path) -> None:
    write(baseline_file, {"dev": [entry()]})
    result = applied(result_of(scenario(SEARCH, "broken", COULD_NOT_RUN)), tmp_path)
    assert verdict.exit_code(result) == 2
    assert result["baseline"]["known"] == result["baseline"]["changed"] == []


def test_without_a_baseline_file_nothing_changes(baseline_file: Path, tmp_path: Path) -> None:
    result = applied(result_of(scenario(SEARCH, "failed", CONFORMANCE)), tmp_path)
    assert verdict.exit_code(result) == 1
    assert result["baseline"]["entries"] == 0
    assert baseline.SECTION.attachments(result) == []


def test_the_project_file_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(file_format.CHOOSE, raising=False)
    path = file_format.path_of()
    assert path.name == "baseline.yaml" and (path.parent / "environments").is_dir()
    assert file_format.shown(path) == "baseline.yaml"  # never a path of the machine


# --- techval baseline ------------------------------------------------------------------


def reports_with(tmp_path: Path, result: dict[str, Any]) -> Path:
    reports = tmp_path / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "verdict.json").write_text(json.dumps(result), encoding="utf-8")
    return reports


def test_techval_baseline_writes_the_failures_with_kind_reason_and_expiry(
    tmp_path: Path, baseline_file: Path
) -> None:
    path = baseline_file
    write(
        path,
        {
            "staging": [entry("Elsewhere")],
            "dev": [
                entry(),  # fails again: keeps its reason, gets the new expiry
                entry("Broad search finds the patient"),  # passes now: dropped
                entry("Not in this run"),  # kept
            ],
        },
    )
    result = result_of(
        scenario(SEARCH, "failed", CONFORMANCE),
        scenario("Broad search finds the patient", "passed"),
        scenario(VISIT, "broken", HARNESS_ERROR, "data_on_demand", {"kind": "outpatient"}),
        scenario("Could not reach it", "broken", COULD_NOT_RUN),
        scenario("Not applicable", "skipped", "test_data"),
    )
    line = baseline_command.write(
        reports_with(tmp_path, unbaselined(result)), path, days=10, today=TODAY
    )
    assert line == (
        f"{path}: 2 known failures of dev, until 2026-12-01; 1 entry of scenarios not run kept; "
        "review and commit it"
    )
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Known failures (techval baseline)")
    written = file_format.load(path)
    assert [e.scenario for e in written["staging"]] == ["Elsewhere"]
    search, visit, kept = written["dev"]
    assert (search.scenario, search.kind, search.expires) == (
        SEARCH,
        CONFORMANCE,
        TODAY + timedelta(10),
    )
    assert search.reason == "reported to Redox as ticket 123"
    assert "&id" not in text and "*id" not in text  # each expiry its own: edit one, change one
    assert (visit.kind, visit.parameters) == (HARNESS_ERROR, {"kind": "outpatient"})
    assert visit.reason == f"{VISIT}: it went wrong"
    assert kept.scenario == "Not in this run" and kept.expires == date(2026, 12, 1)
    # the same run again, against the file it wrote: every failure is known
    again = applied(result, tmp_path)
    assert verdict.exit_code(again) == 2  # only the could-not-run one is left
    assert len(again["baseline"]["known"]) == 2


def test_techval_baseline_defaults_to_30_days(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yaml"
    result = result_of(scenario(SEARCH, "failed", CONFORMANCE))
    baseline_command.write(reports_with(tmp_path, unbaselined(result)), path, today=TODAY)
    assert file_format.load(path)["dev"][0].expires == TODAY + timedelta(days=30)


def test_techval_baseline_refuses_what_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "baseline.yaml"
    reports = tmp_path / "reports"
    assert cli.main(["baseline", "--reports", str(reports), "--baseline", str(path)]) == 2
    assert "run `techval run` first" in capsys.readouterr().err
    result = result_of(scenario(SEARCH, "failed", CONFORMANCE))
    reports_with(tmp_path, unbaselined(result) | {"interrupted": True})
    assert cli.main(["baseline", "--reports", str(reports), "--baseline", str(path)]) == 2
    assert "the run was interrupted" in capsys.readouterr().err
    reports_with(tmp_path, unbaselined(result))
    args = ["baseline", "--reports", str(reports), "--baseline", str(path)]
    assert cli.main([*args, "--days", "0"]) == 2
    assert capsys.readouterr().err == "techval: --days 0: give 1 or more\n"
    assert cli.main([*args, "--days", "7"]) == 0
    assert capsys.readouterr().out.startswith(f"techval: {path}: 1 known failure of dev, until ")


# --- bad baseline files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("environments: [1, 2\n", "not YAML (line 2)"),
        ("- a list\n", "expected one key, environments (by environment name)"),
        ("environments: {}\nextra: 1\n", "expected one key, environments"),
        ("environments: [dev]\n", "environments: expected entries by environment name"),
        ("environments: {dev: {scenario: x}}\n", "environments.dev: expected a list of entries"),
        ("environments: {dev: [x]}\n", "environments.dev[0]: expected a mapping with scenario"),
        (
            "environments: {dev: [{scenario: A, kind: conformance, reason: r}]}\n",
            "environments.dev[0] (A): expires: missing",
        ),
        (
            "environments: {dev: [{scenario: A, kind: conformance, reason: r, expires: soon}]}\n",
            "environments.dev[0] (A): expires: 'soon': expected a date, YYYY-MM-DD",
        ),
        (
            "environments: {dev: [{scenario: A, kind: flaky, reason: r, expires: 2027-01-01}]}\n",
            "environments.dev[0] (A): kind: 'flaky': expected one of conformance, harness_error",
        ),
        (
            "environments: {dev: [{scenario: A, kind: conformance, reason: r, expires: "
            "2027-01-01, until: 2027-02-01}]}\n",
            "environments.dev[0] (A): until: unknown key (an entry has scenario, parameters,",
        ),
        (
            "environments: {dev: [{scenario: A, parameters: [x], kind: conformance, reason: r, "
            "expires: 2027-01-01}]}\n",
            "environments.dev[0] (A): parameters: expected a mapping of parameter names",
        ),
        (
            "environments: {dev: [{scenario: A, kind: conformance, reason: r, expires: 2027-01-01},"
            " {scenario: A, kind: conformance, reason: s, expires: 2027-01-02}]}\n",
            "environments.dev[1] (A): listed twice",
        ),
    ],
)
def test_a_bad_baseline_file_is_one_line_naming_file_entry_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "baseline.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(file_format.BaselineError) as caught:
        file_format.load(path)
    assert str(caught.value).startswith(f"{path}: {expected}")
    for command in (
        ["run", "--no-html", "--reports", str(tmp_path / "r"), "--baseline", str(path)],
        ["merge", str(tmp_path), "--reports", str(tmp_path / "m"), "--baseline", str(path)],
        ["baseline", "--reports", str(tmp_path / "r"), "--baseline", str(path)],
    ):
        assert cli.main(command) == 2, command
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"techval: {path}: {expected}"), err


def test_a_file_broken_after_the_run_started_is_reported_not_applied(
    baseline_file: Path, tmp_path: Path
) -> None:
    baseline_file.write_text("environments: {dev: [x]}\n", encoding="utf-8")
    result = applied(result_of(scenario(SEARCH, "failed", CONFORMANCE)), tmp_path)
    assert verdict.exit_code(result) == 1
    error = "baseline.yaml: environments.dev[0]: expected a mapping with scenario"
    assert result["baseline"]["error"].startswith(error)  # the file's name, not its path
    assert baseline.SECTION.console(result, Path("reports"))[0].startswith(
        f"Baseline not applied: {error}"
    )


# --- whole runs ----------------------------------------------------------------------------


@pytest.mark.whole_run
def test_a_known_failure_passes_the_gate_until_it_expires(
    server: RunningSimulator, tmp_path: Path
) -> None:
    server.simulator.faults.append(named("wrong_document"))
    config = write_environment(tmp_path, simulator=None, base_url=server.url)
    path = tmp_path / "baseline.yaml"
    args = ["--config", str(config), "--tags", "document_query", "--baseline", str(path)]
    reports = tmp_path / "reports"

    first = run_techval(args, reports)
    assert first.code == 1, first.stdout[-2000:] + first.stderr[-2000:]
    written = run_techval(["--baseline", str(path)], reports, command="baseline")
    assert written.code == 0, written.stderr
    (listed,) = file_format.load(path)["harness-test"]
    assert listed.scenario == "Retrieve a listed document" and listed.kind == CONFORMANCE

    again = run_techval(args, reports)
    assert again.code == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "1 known failure (baseline): Retrieve a listed document" in again.stdout
    result = json.loads((reports / "verdict.json").read_text())
    assert result["verdict"] == "failed"  # still honest
    assert [e["scenario"] for e in result["baseline"]["known"]] == [listed.scenario]
    assert "## Known failures (baseline)" in summary(result)

    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(str(listed.expires), "2020-01-01"), encoding="utf-8")
    expired = run_techval(args, reports)
    assert expired.code == 1, expired.stdout[-2000:]
    assert "1 baseline entry expired, counted as failing" in expired.stdout

    server.simulator.faults.clear()
    fixed = run_techval(args, reports)
    assert fixed.code == 0
    assert "1 baselined scenario now passing: Retrieve a listed document" in fixed.stdout
