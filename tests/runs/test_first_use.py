"""First use: every command works from any folder; the package finds its own data, relative
paths on the command line are the working directory's."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_techval, techval_process, write_environment

pytestmark = pytest.mark.whole_run  # runs techval commands as a whole: not in make test-fast


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["run", "--help"]])
def test_version_and_help_work_from_another_folder(tmp_path: Path, args: list[str]) -> None:
    done = techval_process(*args, cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert (
        done.stdout.startswith("techval 0.") if args == ["--version"] else "usage:" in done.stdout
    )


def test_help_says_where_paths_are_read_from(tmp_path: Path) -> None:
    top = " ".join(techval_process("--help", cwd=tmp_path).stdout.split())
    run = " ".join(techval_process("run", "--help", cwd=tmp_path).stdout.split())
    assert f"{ROOT / 'environments'}/NAME.yaml" in top
    assert "relative to the working directory" in top
    assert "--reports DIR folder for the reports, relative to the working directory" in run
    assert "(default: ./reports)" in run


def test_doctor_from_another_folder_reads_a_relative_config(tmp_path: Path) -> None:
    write_environment(tmp_path)
    done = techval_process("doctor", "--config", "environment.yaml", cwd=tmp_path)
    assert done.returncode == 0 and not done.stderr, done.stdout + done.stderr
    assert re.search(r"^environment file\s+ok\s+environment.yaml: harness-test$", done.stdout, re.M)


def test_doctor_from_another_folder_finds_the_named_environment(tmp_path: Path) -> None:
    done = techval_process("doctor", cwd=tmp_path)
    assert done.returncode == 0 and not done.stderr, done.stdout + done.stderr
    assert "techval doctor: ready to run" in done.stdout


def test_a_run_from_another_folder_writes_its_reports_there(tmp_path: Path) -> None:
    result = run_techval(["--tags", "organization"], Path("out"), cwd=tmp_path)
    assert result.code == 0, result.stdout[-2000:] + result.stderr[-2000:]
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    assert verdict["counts"]["passed"] == verdict["counts"]["total"] == 6


REFUSE_DATA_AT_IMPORT = """
import builtins, importlib, io, pkgutil, sys
from pathlib import Path
root, source = Path(sys.argv[1]), Path(sys.argv[1]) / "src"
libraries = Path(sys.prefix).resolve()  # the venv may sit in the checkout: its files are no data
real_open = io.open

def guarded(file, *args, **kwargs):
    path = Path(str(file)).resolve() if isinstance(file, str | Path) else None
    ours = path and path.is_relative_to(root) and not path.is_relative_to(libraries)
    if ours and not path.is_relative_to(source):
        raise SystemExit(f"read at import: {path}")
    return real_open(file, *args, **kwargs)

io.open = builtins.open = guarded
import techval, techval.core.paths as paths

def refused():
    raise SystemExit("project_root() called at import")

paths.project_root = refused
names = [m.name for m in pkgutil.walk_packages(techval.__path__, "techval.")]
for name in names:
    importlib.import_module(name)
print(len(names), "modules")
"""


def test_no_module_reads_the_projects_data_when_imported(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", REFUSE_DATA_AT_IMPORT, str(ROOT)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[0]) > 50


def test_a_copy_of_the_package_without_the_project_says_so_in_one_line(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "src" / "techval", tmp_path / "site" / "techval")
    done = subprocess.run(
        [sys.executable, "-m", "techval.cli", "doctor"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.startswith("techval: cannot find the project's data folders (schemas, ")
    assert done.stderr.count("\n") == 1
