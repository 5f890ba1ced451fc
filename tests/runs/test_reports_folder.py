"""The reports folder under hostile conditions: the file system says no (a file, /dev/null, a
read-only or full file system, /proc), the simulator's port is taken, a selection selects
nothing: one line, exit 2, and the previous run's evidence is never replaced by nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from techval.cli import selection
from tests import hostile
from tests.helpers import ROOT, run_techval, write_environment

pytestmark = pytest.mark.whole_run


@contextlib.contextmanager
def tmpfs(where: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """A small file system of its own at `where` (root only), unmounted whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def fingerprint(reports: Path) -> dict[str, bytes]:
    names = ("verdict.json", "junit.xml", "exchanges.har", "history/latest.json")
    return {name: (reports / name).read_bytes() for name in names}


@pytest.mark.parametrize("target", ["file", "/dev/null"])
def test_reports_that_are_not_a_folder_are_one_line(tmp_path: Path, target: str) -> None:
    reports = tmp_path / "a-file" if target == "file" else Path(target)
    if target == "file":
        reports.write_text("not a folder")
    result = run_techval(["--tags", "organization"], reports)
    assert result.code == 2
    assert one_line(result.stderr) == f"techval: could not run: --reports {reports}: not a folder"


def test_reports_under_proc_are_one_line(tmp_path: Path) -> None:
    result = run_techval(["--tags", "organization"], Path("/proc/techval-x"))
    assert result.code == 2
    line = one_line(result.stderr)
    assert line.startswith("techval: could not run: --reports /proc/techval-x: cannot write")


def test_a_read_only_reports_folder_is_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as folder:
        result = run_techval(["--tags", "organization"], folder / "reports")
    assert result.code == 2
    assert one_line(result.stderr) == (
        f"techval: could not run: --reports {tmp_path / 'ro' / 'reports'}: cannot write the "
        "reports there (Read-only file system)"
    )


def test_a_disk_that_fills_up_during_the_run_is_one_line_and_keeps_the_old_reports(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "small", "1m") as folder:
        reports = folder / "reports"
        first = run_techval(["--tags", "patient_search"], reports)
        assert first.code == 0, first.stderr
        before = fingerprint(reports)
        disk = os.statvfs(folder)
        free = disk.f_bavail * disk.f_frsize
        # room for the stage and its first files, not for a whole run's evidence
        (folder / "filler").write_bytes(b"\0" * max(0, free - 120 * 1024))
        result = run_techval([], reports)
        after = fingerprint(reports)
        leftovers = sorted(p.name for p in reports.iterdir())
    assert result.code == 2, result.stdout[-2000:]
    assert one_line(result.stderr).endswith(
        "cannot write the reports there (No space left on device); "
        f"the reports in {reports} are left as they were"
    )
    assert after == before
    assert ".incoming" not in leftovers


def test_the_simulator_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_environment(tmp_path, simulator={"start": True, "port": port})
        result = run_techval(["--config", str(config)], tmp_path / "reports")
    assert result.code == 2
    assert one_line(result.stderr) == (
        f"techval: could not run: simulator.port {port}: the simulator cannot listen there "
        "(Address already in use)"
    )
    assert not (tmp_path / "reports" / ".incoming").exists()


@pytest.mark.parametrize(
    "selection",
    [["--tags", "organization and not organization"], ["--", "--collect-only"]],
    ids=["empty-selection", "collect-only"],
)
def test_a_run_that_runs_nothing_replaces_nothing(tmp_path: Path, selection: list[str]) -> None:
    reports = tmp_path / "reports"
    first = run_techval(["--tags", "organization"], reports)
    assert first.code == 0, first.stderr
    before = fingerprint(reports)
    result = run_techval(selection, reports)
    assert result.code == 2
    assert one_line(result.stderr).endswith(f"the reports in {reports} are left as they were")
    assert fingerprint(reports) == before
    assert not (reports / ".incoming").exists()


def test_list_names_the_selected_scenarios_and_runs_nothing(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_techval(["--list", "--tags", "@patient_search"], reports)
    assert result.code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "techval: 3 scenarios selected, 15 not selected; nothing was run"
    assert all(line.startswith("2. Patient search > ") for line in lines[:-1])
    assert len(lines) == 4 and not reports.exists()


def test_cucumber_tags_and_the_closing_hints_name_the_reports_folder(tmp_path: Path) -> None:
    reports = tmp_path / "my reports"
    result = run_techval(["--tags", "@organization and not @data_on_demand"], reports)
    assert result.code == 0, result.stderr
    assert f"`techval report --reports '{reports}'`" in result.stdout
    assert f"`techval bundle --reports '{reports}'`" in result.stdout


def test_workers_are_capped_at_what_can_help(capsys: pytest.CaptureFixture[str]) -> None:
    per_core = selection.MAX_WORKERS_PER_CORE
    limit = per_core * (os.cpu_count() or 1)
    assert selection.capped(3) == 3
    assert selection.capped(999) == limit
    assert capsys.readouterr().err.strip() == (
        f"techval: --workers 999: using {limit} ({per_core} per CPU core; more "
        "only adds start-up time)"
    )


@pytest.mark.parametrize(
    ("out", "said"), [("/dev/null", "not a folder"), ("/proc/x", "cannot write")]
)
def test_a_merge_into_a_folder_that_cannot_be_written_is_one_line(
    tmp_path: Path, out: str, said: str
) -> None:
    shard = run_techval(["--shard", "1/4"], tmp_path / "shard")
    assert shard.code == 0, shard.stderr
    result = run_techval([str(shard.reports), "--no-html"], Path(out), command="merge")
    assert result.code == 2
    assert one_line(result.stderr).startswith(f"techval: --reports {out}: {said}")


def test_a_green_run_leaves_no_earlier_runs_files_behind(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "reproduce").mkdir(parents=True)  # as a failed run leaves them
    (reports / "reproduce" / "01-old.sh").write_text("curl ...")
    (reports / "requirements.csv").write_text("id\n")
    (reports / "techval-evidence-old.zip").write_bytes(b"PK")  # not a run's: a bundle
    result = run_techval(["--tags", "patient_search"], reports)
    assert result.code == 0, result.stderr
    assert not (reports / "reproduce").exists()
    assert (reports / "requirements.csv").read_text() != "id\n"
    assert (reports / "techval-evidence-old.zip").is_file()


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero", "folder"])
def test_a_history_entry_that_is_no_regular_file_is_left_out_with_a_warning(
    tmp_path: Path, kind: str
) -> None:
    reports = tmp_path / "reports"
    first = run_techval(["--tags", "patient_search"], reports)
    assert first.code == 0, first.stderr
    odd = reports / "history" / "latest.json"
    odd.unlink()
    if kind == "fifo":
        os.mkfifo(odd)
    elif kind == "folder":
        odd.mkdir()
    else:
        odd.symlink_to("/dev/zero")
    result = run_techval(["--tags", "patient_search"], reports)
    assert result.code == 0, result.stderr
    assert result.stderr.strip() == (
        f"techval: warning: {odd}: not a regular file; left out of the history"
    )
    assert (reports / "history" / "latest.json").is_file()  # the new run's, in its place
    assert (reports / "history" / "last-green-shapes.json").is_file()  # the rest carried on


def test_ctrl_c_while_the_first_token_is_awaited_is_one_line(tmp_path: Path) -> None:
    with hostile.hostile_server({"/v2/auth/token": hostile.silent(30)}) as server:
        config = write_environment(
            tmp_path, simulator=None, base_url=server.url, timeouts={"token": 30}
        )
        reports = tmp_path / "reports"
        command = [sys.executable, "-m", "techval.cli", "run", "--config", str(config)]
        with subprocess.Popen(
            [*command, "--reports", str(reports), "--no-html"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            deadline = time.monotonic() + 30
            while not server.requests and time.monotonic() < deadline:  # the token request
                time.sleep(0.05)
            assert server.requests, "the run never asked for a token"
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert one_line(stderr) == (
        f"techval: interrupted before any scenario ran; the reports in {reports} are left as "
        "they were"
    )
    assert not (reports / ".incoming").exists()


@pytest.mark.parametrize("command", ["report", "bundle", "baseline"])
def test_commands_reading_the_reports_name_a_file_given_as_the_folder(
    tmp_path: Path, command: str
) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")
    result = run_techval([], not_a_folder, command=command)
    assert result.code == 2
    assert one_line(result.stderr) == f"techval: --reports {not_a_folder}: not a folder"
