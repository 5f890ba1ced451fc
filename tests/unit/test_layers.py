"""The layers of ARCHITECTURE.md are import-linter contracts (pyproject.toml), run by make test;
here: they hold, and breaking one fails them naming the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"},
        capture_output=True,
        text=True,
        check=False,
    )


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "src", copy / "src", ignore=ignore)
    shutil.copytree(ROOT / "steps", copy / "steps", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_layers_hold() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "broken" not in done.stdout.replace("0 broken", "")


def _break(copy: Path, module: str, line: str) -> None:
    path = copy / "src" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("module", "line", "broken", "named"),
    [
        (
            "techval/validation/rules.py",
            "import techval.simulator.acceptance  # noqa",
            "only the harness and the cli start the simulator BROKEN",
            "techval.validation.rules -> techval.simulator.acceptance",
        ),
        (
            "techval/core/client.py",
            "import techval.harness.run  # noqa",
            "cli -> harness -> validation -> core BROKEN",
            "techval.core.client -> techval.harness.run",
        ),
        (
            "techval/simulator/app.py",
            "from techval.validation import checks  # noqa",
            "the simulator decides with its own code",
            "techval.simulator.app -> techval.validation.checks",
        ),
        (
            "techval/harness/evidence/section.py",
            "import techval.harness.evidence.drift  # noqa",
            "evidence flows one way: events -> outcomes -> verdict -> sections -> files BROKEN",
            "techval.harness.evidence.section -> techval.harness.evidence.drift",
        ),
        (
            "techval/validation/dod.py",
            "import techval.validation.fhir.paging  # noqa",
            "the Data Model side imports nothing of the FHIR side BROKEN",
            "techval.validation.dod -> techval.validation.fhir.paging",
        ),
        (
            "techval/validation/rules.py",
            "import techval.validation.fhir.organization  # noqa",
            "the Data Model side imports nothing of the FHIR side BROKEN",
            "techval.validation.rules -> techval.validation.fhir.organization",
        ),
        (
            "techval/validation/fhir/paging.py",
            "import techval.validation.templates  # noqa",
            "the FHIR side imports nothing of the Data Model side BROKEN",
            "techval.validation.fhir.paging -> techval.validation.templates",
        ),
    ],
)
def test_breaking_a_layer_fails_its_contract_naming_the_import(
    tmp_path: Path, module: str, line: str, broken: str, named: str
) -> None:
    copy = _copy(tmp_path)
    _break(copy, module, line)
    done = _lint(copy)
    assert done.returncode == 1
    assert broken in done.stdout and named in done.stdout
