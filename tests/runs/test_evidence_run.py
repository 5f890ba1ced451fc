"""The evidence of a whole run on the simulator: nothing secret or personal under reports/,
the bundle and its manifest, the leak scan, and the HTML report as a browser shows it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.browser import Browser
from tests.helpers import (
    ROOT,
    RunResult,
    assert_evidence_agrees,
    every_text,
    run_techval,
    shared_run,
    write_environment,
)

pytestmark = pytest.mark.whole_run  # runs techval commands as a whole: not in make test-fast

PLANTED_SECRET = "planted-secret-7d1e0c52a9b84f36"  # a test value
PLANTED_NAME, PLANTED_SURNAME = "Zenobia", "Quartermaine"
BROWSER = shutil.which("chromium") or shutil.which("google-chrome")
PUSH_SCENARIO = "Push a new patient and a visit summary, then find both"


def planted_patients(folder: Path) -> Path:
    """The sample test patients, with test patient 1 renamed to the planted name."""
    patients = yaml.safe_load((ROOT / "fixtures/test_patients.yaml").read_text())
    patients["test patient 1"]["Demographics"] |= {
        "FirstName": PLANTED_NAME,
        "LastName": PLANTED_SURNAME,
    }
    path = folder / "planted_patients.yaml"
    path.write_text(yaml.safe_dump(patients), encoding="utf-8")
    return path


# Session-scoped: made once by each test worker that runs a test reading it (the tests add
# bundles to its reports, so each worker has its own).
@pytest.fixture(scope="session")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    """The suite on the simulator with a legacy API secret (sent in the token request) and a
    test patient whose name is sent in searches and comes back in answers and documents, made
    once for the session (`shared_run`: the tests read it; a bundle is made of a copy).
    Returns the run and the environment file."""

    def make(folder: Path) -> RunResult:
        config = write_environment(
            folder,
            auth={"method": "legacy", "api_key": "planted-api-key-0001", "secret": PLANTED_SECRET},
            test_patients=str(planted_patients(folder)),
        )
        return run_techval(["--config", str(config)], folder / "reports", html=True)

    result = shared_run(tmp_path_factory, "planted", make)
    assert result.code == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result, result.reports.parent / "environment.yaml"


def bundle(reports: Path, config: Path) -> RunResult:
    return run_techval(["--config", str(config)], reports, command="bundle")


def copied(result: RunResult, folder: Path) -> Path:
    """A copy of the run's reports (shared by the session's tests), to bundle or plant
    leaks into."""
    reports = folder / "reports"
    shutil.copytree(result.reports, reports)
    for old in reports.glob("*.zip"):
        old.unlink()
    return reports


def test_planted_secret_and_patient_name_appear_nowhere_in_the_reports(
    planted: tuple[RunResult, Path], tmp_path: Path
) -> None:
    result, config = planted
    reports = copied(result, tmp_path)
    bundled = bundle(reports, config)
    assert bundled.code == 0, bundled.stderr
    texts = every_text(reports)
    assert any(name.endswith(".zip!report.html") for name in texts)
    assert any("PatientSearch.Query" in text for name, text in texts.items() if "#data" in name)
    for needle in (PLANTED_SECRET, PLANTED_NAME, PLANTED_SURNAME):
        assert [name for name, text in texts.items() if needle in text] == [], needle
        assert needle not in result.stdout + result.stderr + bundled.stdout
    # the structure stays readable: the masked name keeps its shape
    har = json.loads((result.reports / "exchanges.har").read_text())
    sent = [e["request"]["postData"]["text"] for e in har["log"]["entries"]]
    assert any('"FirstName": "Xxxxxxx"' in text for text in sent)


def test_each_exchange_is_attached_inside_the_step_that_sent_it(
    planted: tuple[RunResult, Path],
) -> None:
    """The evidence is built after the request, at the step's end: each exchange of a
    scenario is still attached inside a step, none at the scenario's level, none lost (the
    HAR holds the same ones); each attempt of a poll (a search or a document query), a step
    of its own that sends one request, holds that request's exchange and no other."""
    result, _ = planted
    in_steps: list[str] = []
    at_top: list[str] = []
    attempts: list[list[str]] = []

    def walk(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            names = [a["name"] for a in step.get("attachments", [])]
            in_steps.extend(names)
            if re.search(r": attempt \d+ of \d+$", step["name"]):
                attempts.append(names)
            walk(step.get("steps", []))

    for document in result.allure_results():
        at_top.extend(a["name"] for a in document.get("attachments", []))
        walk(document.get("steps", []))
    exchanges = [name for name in in_steps if re.match(r"[\w.]+: HTTP \d+", name)]
    assert [name for name in at_top if ": HTTP " in name] == []
    har = json.loads((result.reports / "exchanges.har").read_text())["log"]["entries"]
    assert len(exchanges) == len([e for e in har if "pageref" in e]) > 20
    assert len(attempts) > 5
    for names in attempts:  # a retry or a token renewal would be an exchange of its own
        sent = [n for n in names if not n.startswith("token") and "attempt " not in n]
        assert len(sent) == 1, names
        assert re.match(r"(PatientSearch|ClinicalSummary)\.\w+: HTTP 200", sent[0]), names


def test_bundle_holds_the_evidence_with_a_manifest_that_verifies(
    planted: tuple[RunResult, Path], tmp_path: Path
) -> None:
    result, config = planted
    bundled = bundle(copied(result, tmp_path), config)
    (target,) = re.findall(r"evidence bundle (\S+\.zip)", bundled.stdout)
    with zipfile.ZipFile(target) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    assert set(files) == {
        "report.html",
        "summary.md",
        "verdict.json",
        "junit.xml",
        "exchanges.har",
        "requirements.csv",
        "SHA256SUMS",
    }
    assert files["requirements.csv"] == (result.reports / "requirements.csv").read_bytes()
    for line in files["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(files[name]).hexdigest() == digest, name
    summary = files["summary.md"].decode()
    verdict = assert_evidence_agrees(result.reports)
    for step in verdict["steps"]:
        assert f"| {step['number']}. {step['title']} | ✅ passed |" in summary
        for scenario in step["scenarios"]:
            assert all(log_id in summary for log_id in scenario["redox_log_ids"])
    assert verdict["environment"]["environment"] in summary


def test_leak_scan_fails_the_bundle_when_a_secret_is_planted_in_a_results_file(
    planted: tuple[RunResult, Path], tmp_path: Path
) -> None:
    result, config = planted
    reports = copied(result, tmp_path)
    victim = next((reports / "allure-results").glob("*-attachment.json"))
    victim.write_text(victim.read_text() + f'{{"secret": "{PLANTED_SECRET}"}}')
    failed = bundle(reports, config)
    assert failed.code == 1
    assert f"allure-results/{victim.name}: contains a configured secret value" in failed.stderr
    assert PLANTED_SECRET not in failed.stderr
    assert not list(reports.glob("*.zip"))


def test_leak_scan_finds_a_patient_name_and_a_token_shape(
    planted: tuple[RunResult, Path], tmp_path: Path
) -> None:
    result, config = planted
    reports = copied(result, tmp_path)
    (reports / "notes.txt").write_text(
        f"{PLANTED_NAME} {PLANTED_SURNAME}; Authorization: Bearer abcdefghijklmnop1234"
    )
    failed = bundle(reports, config)
    assert failed.code == 1
    assert "notes.txt: contains a bearer token" in failed.stderr
    assert "notes.txt: contains a test patient's identifying value" in failed.stderr


def test_the_report_is_one_offline_file(planted: tuple[RunResult, Path]) -> None:
    result, _ = planted
    page = (result.reports / "allure-report/index.html").read_text()
    assert "googletagmanager" not in page
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", page)
    assert not re.search(r"""fetch\(["']https?://""", page)


def distinct_bytes(png: Path) -> int:
    """How varied the decoded pixels of a PNG are (a blank page has a handful of values)."""
    data, chunks = png.read_bytes()[8:], []
    while data:
        length = int.from_bytes(data[:4], "big")
        if data[4:8] == b"IDAT":
            chunks.append(data[8 : 8 + length])
        data = data[12 + length :]
    return len(set(zlib.decompress(b"".join(chunks))))


@pytest.mark.skipif(
    BROWSER is None and not os.environ.get("TECHVAL_REQUIRE_BROWSER"),
    reason="no Chromium on this machine (.ci/run installs it)",
)
def test_the_report_renders_steps_and_attachments_in_headless_chromium(
    planted: tuple[RunResult, Path], tmp_path: Path
) -> None:
    assert BROWSER, "TECHVAL_REQUIRE_BROWSER is set but Chromium is not installed"
    result, _ = planted
    page = result.reports / "allure-report/index.html"
    ids = json.loads((page.parent / "test-results.json").read_text())["byId"]
    (push,) = [key for key, test in ids.items() if test["name"] == PUSH_SCENARIO]
    url = page.resolve().as_uri()

    total = json.loads((result.reports / "verdict.json").read_text())["counts"]["total"]
    with Browser(BROWSER, tmp_path / "profile") as browser:
        browser.open(url)
        title = "Carequality tech validation (Redox onramp): harness-test"
        overview = browser.text_with(title, f"Passed {total}")
        assert title in overview
        assert f"Passed {total}" in overview and "environment harness-test" in overview
        browser.go(f"{url}#{push}")
        pushed = '"test patient 1" is pushed to the repository with a visit summary'
        scenario = browser.text_with(pushed, "Redox documentation", unlike=overview)
        assert pushed in scenario
        assert "4. Data-on-demand push" in scenario and "Redox documentation" in scenario
        shot = tmp_path / "scenario.png"
        browser.screenshot(shot)
        assert shot.is_file() and distinct_bytes(shot) > 50
        browser.go(f"{url}#{push}/attachments")
        attachments = browser.text_with("ClinicalSummary.VisitPush: HTTP 200", unlike=scenario)
        assert re.search(
            r"PatientAdmin\.NewPatient: HTTP 200 in \d+ ms, log [0-9a-f-]{36}", attachments
        )
        assert "ClinicalSummary.VisitPush: HTTP 200" in attachments


def test_without_node_the_run_still_passes_and_says_how_to_get_the_html(tmp_path: Path) -> None:
    config = write_environment(tmp_path)
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_techval(
        ["--config", str(config)], tmp_path / "reports", html=True, PATH=str(empty)
    )
    assert result.code == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "HTML report not generated: Node.js is missing" in result.stdout
    assert "`techval report`" in result.stdout
    assert (tmp_path / "reports/verdict.json").is_file()
    assert not (tmp_path / "reports/allure-report/index.html").exists()
