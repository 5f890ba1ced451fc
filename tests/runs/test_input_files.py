"""Runs and commands fed hostile input files: one line naming the file, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from techval.cli import validate
from techval.core.config import Settings
from techval.validation import organization, search
from techval.validation.patients import load_patients
from tests.helpers import run_techval, techval_process
from tests.unit.test_input_files import (
    DEEP_JSON,
    MODEST_MEMORY,
    STARTED,
    alias_bomb,
)


@pytest.fixture
def a_hundred_problems(tmp_path: Path, test_settings: Settings) -> Path:
    message = organization.new_message(test_settings, test_settings.organizations[0])
    message["Organizations"] = [
        dict(message["Organizations"][0], Active="true") for _ in range(100)
    ]
    path = tmp_path / "hundred.json"
    path.write_text(json.dumps(message))
    return path


@pytest.mark.whole_run
def test_run_with_an_alias_bomb_ends_at_once_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    done = techval_process("run", "--config", str(path), "--no-html", memory=MODEST_MEMORY)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"techval: could not run: {path}: stands for more than ")
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.whole_run
def test_a_run_after_a_corrupt_history_warns_once_per_file_and_writes_its_verdict(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports"
    (reports / "history").mkdir(parents=True)
    (reports / "history" / "latest.json").write_text('{"steps": 5}')
    (reports / "history" / "last-green.json").write_text(DEEP_JSON)
    result = run_techval(["--tags", "organization"], reports)
    assert result.code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"techval: warning: {reports / 'history/latest.json'}: steps is not a list; read as absent",
        f"techval: warning: {reports / 'history/last-green.json'}: JSON nested too deeply to "
        "read; read as absent",
    ]
    assert "Traceback" not in result.stderr + result.stdout
    written = json.loads((reports / "verdict.json").read_text())
    assert written["since_previous"]["against"] is None
    assert written["since_last_green"]["against"] is None
    assert written["steps"][0]["verdict"] == "passed"  # organization: the --tags step
    assert json.loads((reports / "history/latest.json").read_text()) == written


@pytest.mark.whole_run
def test_validate_reads_no_fifo_no_deep_json_and_caps_what_it_prints(
    tmp_path: Path, fifo: Path, a_hundred_problems: Path
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP_JSON)
    done = techval_process("validate", str(deep), str(fifo), "/dev/zero", str(a_hundred_problems))
    assert done.returncode == 1 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[:3] == [
        f"{deep}: JSON nested too deeply to read",
        f"{fifo}: not a regular file (a FIFO)",
        "/dev/zero: not a regular file (a character device)",
    ]
    hundred = lines[3:]
    assert len(hundred) == validate.SHOWN_PROBLEMS + 1
    assert all(line.startswith(f"{a_hundred_problems}: $.Organizations[") for line in hundred[:-1])
    assert hundred[-1] == f"{a_hundred_problems}: ... and 80 more"


@pytest.mark.whole_run
def test_validate_applies_the_carequality_metadata_rule(
    tmp_path: Path, test_settings: Settings
) -> None:
    patients = load_patients(test_settings.test_patients)
    message = search.demographics_query(test_settings, next(iter(patients.values())))
    del message["Meta"]["Extensions"]["user-id"]
    path = tmp_path / "search.json"
    path.write_text(json.dumps(message))
    done = techval_process("validate", str(path))
    assert done.returncode == 1
    missing = "$.Meta.Extensions.user-id.string: Carequality metadata missing"
    assert done.stdout == f"{path}: {missing}\n"


@pytest.mark.whole_run
def test_merge_with_a_broken_event_line_stops_in_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "shard" / "events").mkdir(parents=True)
    path = tmp_path / "shard" / "events" / "main.jsonl"
    path.write_text(STARTED + "\n" + DEEP_JSON + "\n")
    result = run_techval([str(tmp_path / "shard")], tmp_path / "merged", command="merge")
    assert result.code == 2
    assert result.stderr == f"techval: {path}:2: JSON nested too deeply to read\n"
