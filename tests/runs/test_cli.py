"""The techval command: one clear line and exit 2 for what stops a run; `validate`."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from techval import cli
from techval.core.config import Settings
from techval.validation import organization
from tests.helpers import ROOT, run_techval, write_environment

pytestmark = pytest.mark.whole_run  # runs techval commands as a whole: not in make test-fast


def test_unknown_environment_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run_techval(["--env", "qa"], tmp_path)
    assert result.code == 2
    assert result.stderr.startswith("techval: could not run: unknown environment 'qa'")
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "junit.xml").exists()


def test_every_missing_variable_in_one_line_exit_2(tmp_path: Path) -> None:
    result = run_techval(["--env", "dev"], tmp_path)
    assert result.code == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert line.startswith(
        "techval: could not run: environments/dev.yaml: 15 environment variables are not set "
        "(in the environment or .env): REDOX_CLIENT_ID (auth.client_id), "
    )
    for name in re.findall(r"\$\{([A-Z_]+)\}", (ROOT / "environments/dev.yaml").read_text()):
        assert name in line


def test_bad_config_value_is_one_line_exit_2(tmp_path: Path) -> None:
    config = write_environment(tmp_path, production="yes")
    result = run_techval(["--config", str(config)], tmp_path / "reports")
    assert result.code == 2 and "production: 'yes' is not of type 'boolean'" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_needs_allow_production(tmp_path: Path) -> None:
    config = write_environment(
        tmp_path, production=True, simulator=None, base_url="http://127.0.0.1:9", destinations={}
    )
    result = run_techval(["--config", str(config)], tmp_path / "reports")
    assert (
        result.code == 2
        and "refusing to send test data without --allow-production" in result.stderr
    )
    allowed = run_techval(["--config", str(config), "--allow-production"], tmp_path / "reports")
    assert "cannot reach the token endpoint" in allowed.stderr  # the guard let it through


def test_unknown_tag_is_refused(tmp_path: Path) -> None:
    result = run_techval(["--tags", "organisation"], tmp_path)
    assert result.code == 2 and "unknown tag 'organisation'" in result.stderr


def test_tags_select_scenarios(tmp_path: Path) -> None:
    result = run_techval(["--tags", "organization"], tmp_path)
    assert result.code == 0, result.stdout[-2000:]
    assert len(result.cases()) == 6  # three scenarios for each of the two organizations


@pytest.fixture
def message_files(tmp_path: Path, test_settings: Settings) -> tuple[Path, Path]:
    good = organization.new_message(test_settings, test_settings.organizations[0])
    bad = json.loads(json.dumps(good))
    bad["Organizations"][0]["Active"] = "true"
    del bad["Directory"]
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    return tmp_path / "good.json", tmp_path / "bad.json"


def test_validate_accepts_a_valid_message(message_files, capsys) -> None:
    good, _ = message_files
    assert cli.main(["validate", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: valid request\n"


def test_validate_lists_each_violation_with_its_path(message_files, capsys) -> None:
    good, bad = message_files
    assert cli.main(["validate", str(good), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"{bad}: $.Directory: required field missing" in out
    assert f"{bad}: $.Organizations[0].Active: expected boolean, got string" in out


def test_validate_picks_the_response_schema(tmp_path: Path, capsys) -> None:
    response = {
        "Meta": {"DataModel": "Organization", "EventType": "Query"},
        "Directory": "Carequality",
    }
    path = tmp_path / "response.json"
    path.write_text(json.dumps(response))
    assert cli.main(["validate", "--response", str(path)]) == 1
    assert "$.Organizations: required field missing" in capsys.readouterr().out


def test_validate_reports_unreadable_files(tmp_path: Path, capsys) -> None:
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "unknown.json").write_text('{"Meta": {"DataModel": "Foo", "EventType": "Bar"}}')
    code = cli.main(
        [
            "validate",
            str(tmp_path / "broken.json"),
            str(tmp_path / "unknown.json"),
            str(tmp_path / "absent.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "broken.json: not JSON" in out and "no request schema for Foo.Bar" in out
    assert "absent.json: cannot read" in out


def test_a_tag_expression_that_selects_nothing_is_a_clear_error(tmp_path: Path) -> None:
    result = run_techval(["--tags", "organization and data_on_demand"], tmp_path)
    assert result.code == 2
    assert result.stderr.strip() == (
        "techval: no scenario matches --tags 'organization and data_on_demand'; "
        f"the reports in {tmp_path} are left as they were"
    )


def test_a_features_folder_with_an_undefined_step_is_a_clear_error(tmp_path: Path) -> None:
    features = tmp_path / "features"
    features.mkdir()
    source = (ROOT / "features/2_patient_search.feature").read_text()
    (features / "search.feature").write_text(
        source.replace(
            "    Then the search finds the patient with a network patient ID\n",
            "    Then the moon is blue\n",
        )
    )
    result = run_techval(["--features", str(features)], tmp_path / "reports")
    assert result.code == 2, result.stdout[-2000:]
    assert re.fullmatch(
        r"techval: could not run: no step definition matches "
        r"features/search\.feature:\d+: Then the moon is blue",
        result.stderr.strip(),
    )
    assert "Traceback" not in result.stderr
    assert (tmp_path / "reports/verdict.json").is_file()  # the reports are still written
    failures = ET.parse(tmp_path / "reports/junit.xml").iter("failure")
    undefined = [f.text or "" for f in failures if "StepDefinitionNotFoundError" in (f.text or "")]
    assert len(undefined) == 1  # its message, then the step (harness/failure_text.py)
    assert re.search(
        r"\n  in step: Then the moon is blue \(features/search\.feature:\d+\)$", undefined[0]
    )


def test_an_empty_features_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = run_techval(["--features", str(tmp_path)], tmp_path / "reports")
    assert result.code == 2
    assert (
        result.stderr.strip()
        == f"techval: could not run: --features: no .feature files in {tmp_path}"
    )


def test_a_malformed_tag_expression_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    result = run_techval(["--tags", "organization and ("], tmp_path / "reports")
    assert result.code == 2 and not (tmp_path / "reports" / "verdict.json").exists()
    assert result.stderr.startswith(
        "techval: could not run: --tags 'organization and (': not a tag expression ("
    )
    assert len(result.stderr.strip().splitlines()) == 1


WARNING_PLUGIN = """
import warnings


def pytest_bdd_before_step(request, feature, scenario, step, step_func):
    warnings.warn("a library's deprecation", DeprecationWarning, stacklevel=1)
"""


def test_a_library_warning_fails_no_scenario_of_a_run(tmp_path: Path) -> None:
    """The harness's own tests make warnings errors (pyproject); a run's pytest must not."""
    (tmp_path / "library_warns.py").write_text(WARNING_PLUGIN)
    result = run_techval(
        ["--tags", "organization", "--", "-p", "library_warns"],
        tmp_path / "reports",
        process=True,  # the plugin is found through PYTHONPATH: a fresh interpreter
        PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    )
    assert result.code == 0, result.stdout[-2000:]
    assert len(result.cases()) == 6 and not any(result.cases().values())
