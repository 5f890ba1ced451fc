"""Files users hand in (environment, .env, test patients, baseline, message files) and files a
run reads back (the history, event files): whatever they hold, one line and the run goes on or
stops with exit 2, never a traceback, a hang or gigabytes of memory."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from techval.core import dotenv, inputfiles, yamlfile
from techval.core.config import MissingVariables, load_settings
from techval.core.errors import ConfigError
from techval.core.redox import MAX_MESSAGE_BYTES
from techval.harness import events
from techval.harness.evidence import baseline_file, drift, verdict
from techval.harness.evidence.assemble import Assembled
from techval.validation import rules
from techval.validation.patients import load_patients
from tests.helpers import ROOT, applied, environment

DEEP_JSON = "[" * 100_000 + "]" * 100_000


def alias_bomb() -> str:
    """Nine levels of nine aliases: 3.4 KB of YAML standing for 9**9 strings."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    return yaml.safe_dump(environment(), sort_keys=False) + "\n".join(lines) + "\n"


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """call()'s result, or its exception raised here; a failed test when it has not ended
    after `seconds` (a read blocked on a FIFO: the fifo fixture's cleanup ends it)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still reading after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    yield path
    # A reader still blocked on it sees its end once a writer opens and closes it; with no
    # reader the open fails (ENXIO): nothing is blocked.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


# --- YAML files a person hands in -------------------------------------------------------------


def test_a_yaml_alias_bomb_is_refused_in_one_line_before_it_expands(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    assert path.stat().st_size < 4000
    with pytest.raises(ConfigError) as caught:
        within(10, lambda: load_settings(config_path=path, root=ROOT, environ={}))
    a6 = len(yaml.safe_dump(environment()).splitlines()) + 7  # the first over a million
    assert str(caught.value) == (
        f"{path}: stands for more than 1,000,000 values once its aliases are expanded "
        f"(line {a6}): more than techval reads from such a file"
    )


def test_an_alias_that_stays_small_is_read(tmp_path: Path) -> None:
    """yaml.safe_dump writes an alias for a value used twice: such a file still loads."""
    patient = {"Demographics": {"FirstName": "Ann", "LastName": "Lee", "DOB": "1980-01-01"}}
    shared = {"Identifiers": [{"ID": "1", "IDType": "MR"}]}
    document = {"ann": {**patient, **shared}, "bob": {**patient, **shared}}
    path = tmp_path / "patients.yaml"
    path.write_text(yaml.safe_dump(document))
    assert "*id" in path.read_text()
    assert set(load_patients(path)) == {"ann", "bob"}


def test_an_alias_inside_the_value_it_names_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "patients.yaml"
    path.write_text("ann:\n  Demographics: &d {Parent: *d}\n")
    with pytest.raises(ConfigError, match=r"test_patients: .*: an alias holds the value it names"):
        load_patients(path)


def test_a_wrong_value_is_quoted_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "environment.yaml"
    path.write_text(yaml.safe_dump(environment(production=["x" * 100] * 1000)))
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, root=ROOT, environ={})
    assert str(caught.value).startswith(f"{path}: production: [")
    assert str(caught.value).endswith(" ... (cut short)") and len(str(caught.value)) < 500


def test_every_yaml_file_the_project_ships_reads_as_a_handed_in_file() -> None:
    shipped = [*ROOT.glob("environments/*.yaml"), *ROOT.glob("fixtures/**/*.yaml")]
    assert len(shipped) > 5
    for path in shipped:
        assert yamlfile.read(path) == yamlfile.load(path), path


def test_a_yaml_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "environment.yaml"
    path.write_text("name: " + "x" * inputfiles.MAX_SETTINGS_BYTES + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, root=ROOT, environ={})
    assert str(caught.value) == (f"{path}: larger than 1 MB, the most techval reads of such a file")


def read_environment(path: Path, folder: Path) -> Any:
    return load_settings(config_path=path, root=ROOT, environ={})


def read_patients(path: Path, folder: Path) -> Any:
    return load_patients(path)


def read_dot_env(path: Path, folder: Path) -> Any:
    (folder / ".env").symlink_to(path)
    return dotenv.environ_with(folder, {})


def read_baseline(path: Path, folder: Path) -> Any:
    return baseline_file.check(path)


READERS = {
    "environment": (read_environment, ConfigError),
    "test patients": (read_patients, ConfigError),
    ".env": (read_dot_env, ConfigError),
    "baseline": (read_baseline, baseline_file.BaselineError),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_fifo_handed_in_is_refused_without_blocking(
    reader: str, fifo: Path, tmp_path: Path
) -> None:
    read, error = READERS[reader]
    with pytest.raises(error, match=r": not a regular file \(a FIFO\)$"):
        within(10, lambda: read(fifo, tmp_path))


@pytest.mark.parametrize("reader", sorted(READERS))
def test_dev_zero_handed_in_is_refused_without_reading_it(reader: str, tmp_path: Path) -> None:
    read, error = READERS[reader]
    with pytest.raises(error, match=r": not a regular file \(a character device\)$"):
        within(10, lambda: read(Path("/dev/zero"), tmp_path))


# --- .env ----------------------------------------------------------------------------------


def test_dot_env_example_copied_unedited_sets_no_variable(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    assert dotenv.read(tmp_path / ".env") == {}
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    names = {match.group(1) for match in map(dotenv.LINE.match, lines) if match}
    with pytest.raises(MissingVariables) as caught:
        load_settings("dev", root=ROOT, environ=dotenv.environ_with(tmp_path, {}))
    assert set(caught.value.variables) == names and len(names) == 15


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("A=           # a comment", None),
        ("A=value   # a comment", "value"),
        ("A=value\t# a comment", "value"),
        ("A=#not-a-comment", "#not-a-comment"),
        ("A=a#b", "a#b"),
        ("A= 'quoted # kept'  # a comment", "quoted # kept"),
    ],
)
def test_a_comment_after_a_value_is_read_as_shells_read_it(
    tmp_path: Path, line: str, value: str | None
) -> None:
    (tmp_path / ".env").write_text(line + "\n")
    assert dotenv.read(tmp_path / ".env").get("A") == value


# --- the history a run reads back -------------------------------------------------------------

CORRUPT: dict[str, bytes] = {
    "steps not a list": b'{"steps": 5}',
    "nested 100000 deep": DEEP_JSON.encode(),
    "a list": b"[1, 2]",
    "a step not an object": b'{"steps": [5]}',
    "environment not an object": b'{"steps": [], "environment": 3}',
    "a scenario without its name": (
        b'{"steps": [{"key": "organization", "verdict": "passed", "scenarios": [{}]}]}'
    ),
    "not UTF-8": b'{"steps": [], "finished_at": "\xff"}',
    "cut short": b'{"steps": [{"key": "organiz',
}
PROBLEMS = {
    "steps not a list": "steps is not a list",
    "nested 100000 deep": "JSON nested too deeply to read",
    "a list": "not a JSON object",
    "a step not an object": "steps[0] is not an object",
    "environment not an object": "environment is not an object",
    "a scenario without its name": "steps[0].scenarios[0].name is missing or not a string",
    "not UTF-8": "not UTF-8 text (byte 31)",
    "cut short": "not JSON: Unterminated string starting at (line 1 column 20)",
}


def a_verdict() -> dict[str, Any]:
    return verdict.build([], {"environment": "dev"}, started_at="s", finished_at="f").as_document()


@pytest.mark.parametrize("case", sorted(CORRUPT))
@pytest.mark.parametrize("name", ["latest.json", "last-green.json"])
def test_a_corrupt_history_verdict_is_absent_with_one_warning_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, name: str
) -> None:
    (tmp_path / "history").mkdir()
    path = tmp_path / "history" / name
    path.write_bytes(CORRUPT[case])
    written = verdict.write(tmp_path, a_verdict())
    key = "since_previous" if name == "latest.json" else "since_last_green"
    assert written[key] == {"against": None, "regressed": [], "recovered": []}
    assert capsys.readouterr().err == (
        f"techval: warning: {path}: {PROBLEMS[case]}; read as absent\n"
    )
    assert verdict.read(tmp_path / "verdict.json") is not None


def test_a_fifo_in_the_history_is_absent_with_one_warning_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "history").mkdir()
    os.mkfifo(tmp_path / "history" / "last-green.json")
    written = within(10, lambda: verdict.write(tmp_path, a_verdict()))
    assert written["since_last_green"]["against"] is None
    assert capsys.readouterr().err == (
        f"techval: warning: {tmp_path / 'history' / 'last-green.json'}: not a regular file "
        "(a FIFO); read as absent\n"
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"answers": 5}', "answers is not an object"),
        (b'{"answers": {"A HTTP 2xx": {"$": 5}}}', 'answers["A HTTP 2xx"] is not an object'),
        (DEEP_JSON.encode(), "JSON nested too deeply to read"),
    ],
)
def test_corrupt_last_green_shapes_are_absent_with_one_warning_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, problem: str
) -> None:
    (tmp_path / "history").mkdir()
    path = tmp_path / "history" / drift.LAST_GREEN
    path.write_bytes(content)
    result = a_verdict()
    applied(drift.SECTION, result, Assembled(), tmp_path)
    assert result["drift"]["against"] is None
    assert capsys.readouterr().err.startswith(f"techval: warning: {path}: {problem}")
    assert json.loads(path.read_text())["answers"] == {}  # a green run starts it afresh


# --- event files -------------------------------------------------------------------------------

STARTED = json.dumps({"event": "run_started", "at": "t", "environment": {"environment": "x"}})


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (DEEP_JSON.encode(), "JSON nested too deeply to read"),
        (b'{"event": "finding", "message": "caf\xc3"}', "not UTF-8 text (byte 37)"),
        (b'{"event": "finding", "message": "\xff\xfe"}', "not UTF-8 text (byte 34)"),
        (b'{"event": "exch', "not JSON: Invalid control character at (line 1 column 16)"),
    ],
)
def test_a_broken_event_line_is_one_line_naming_file_and_line(
    tmp_path: Path, line: bytes, problem: str
) -> None:
    (tmp_path / "events").mkdir()
    path = tmp_path / "events" / "main.jsonl"
    path.write_bytes(STARTED.encode() + b"\n" + line + b"\n" + STARTED.encode() + b"\n")
    with pytest.raises(events.BadEvents) as caught:
        list(events.read([tmp_path]))
    assert str(caught.value) == f"{path}:2: {problem}"


def test_a_last_line_cut_inside_a_utf8_character_is_passed_over(tmp_path: Path) -> None:
    """What a process killed while writing leaves: a last line without its newline."""
    (tmp_path / "events").mkdir()
    torn = '{"event": "finding", "message": "café'.encode()[:-1]
    (tmp_path / "events" / "main.jsonl").write_bytes(STARTED.encode() + b"\n" + torn)
    assert [e.KIND for e in events.read([tmp_path])] == ["run_started"]


def test_an_event_file_that_is_a_fifo_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    os.mkfifo(tmp_path / "events" / "main.jsonl")
    with pytest.raises(events.BadEvents, match=r"main\.jsonl: cannot be read: not a regular"):
        within(10, lambda: list(events.read([tmp_path])))


# --- the rules `techval validate` applies ------------------------------------------------------


def test_a_carequality_request_without_its_metadata_breaks_the_rules() -> None:
    message = {"Meta": {"DataModel": "PatientSearch", "EventType": "Query"}}
    found = rules.without_environment(message, "PatientSearch.Query")
    assert {v.path for v in found} == {
        "$.Meta.Extensions.organization-name.string",
        "$.Meta.Extensions.user-id.string",
        "$.Meta.Extensions.sender-organization-id.string",
        "$.Meta.Extensions.user-role.coding.code",
        "$.Meta.Extensions.purpose-of-use.coding.code",
    }
    assert rules.without_environment(message, "ClinicalSummary.VisitPush") == []


def test_a_message_over_40_mb_breaks_the_rules() -> None:
    message = {"Meta": {}, "Note": "x" * MAX_MESSAGE_BYTES}
    (found,) = rules.without_environment(message, "ClinicalSummary.VisitPush")
    assert found.message == (
        "the message is 40.0 MB; Redox accepts at most 40 MB (limits.message_bytes)"
    )


# --- the commands, as a user starts them -----------------------------------------------------

MODEST_MEMORY = 1 << 30  # address space for a techval process that refuses its input
