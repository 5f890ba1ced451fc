"""The HTML report: Allure 3 (npm, installed into the project by `make setup`) turns
reports/allure-results into one self-contained reports/allure-report/index.html that opens
from disk with no network. Allure 2 (`allure` on PATH, needs Java) is the fallback.

Allure 3 reads its configuration from a file; techval writes one per run into the results'
parent folder (categories, single-file, trend history under reports/history/). Allure 3.18
embeds Google Analytics unconditionally (allure3#476), so the snippet is removed afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from techval.core.errors import categories
from techval.core.paths import project_root
from techval.harness.evidence.allure_files import category_marker
from techval.validation.catalogue import EPIC


def _literal(text: str) -> str:
    """`text` as a regular expression that means the same in Python, JavaScript and Java."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", text)


# The kinds of not-passing a reader must tell apart, one per category an error class names
# (techval.core.errors). Each matches the marker the results writer ends the trace with
# (allure_files.mark_category), never the words of a message. Anchored and spanning the whole
# trace: Allure 2 matches the whole text, Allure 3 searches it (unanchored, a leading [\s\S]*
# would cost Allure 3 quadratic time on every long trace that does not match).
CATEGORIES: list[dict[str, Any]] = [
    {
        "name": name,
        "matchedStatuses": statuses,
        "traceRegex": rf"^[\s\S]*{_literal(category_marker(name))}[\s\S]*$",
    }
    for name, statuses in categories().items()
]
ANALYTICS = re.compile(
    r"<script[^>]*googletagmanager\.com[^>]*></script>\s*<script>[\s\S]*?gtag\([\s\S]*?</script>"
)
TIMEOUT_S = 300


@dataclass(frozen=True)
class Outcome:
    written: Path | None
    message: str  # what to tell the user: where the report is, or how to get one


def allure3() -> Path | None:
    binary = project_root() / "node_modules" / ".bin" / "allure"
    return binary if binary.is_file() and shutil.which("node") else None


def generate(results: Path, output: Path, *, name: str) -> Outcome:
    """Write output/index.html from `results`; never raises for a missing tool."""
    if not results.is_dir() or not any(results.glob("*-result.json")):
        return Outcome(None, f"no Allure results in {results}: nothing to report")
    if allure3():
        return _allure3(results, output, name)
    if shutil.which("allure") and shutil.which("java"):
        return _allure2(results, output)
    return Outcome(
        None,
        f"HTML report not generated: {_missing()}. Install Node.js 20+ and run "
        "`make setup`, then `techval report` (the results are in " + str(results) + ")",
    )


def _allure3(results: Path, output: Path, name: str) -> Outcome:
    history = results.parent / "history"
    history.mkdir(parents=True, exist_ok=True)
    config = {
        "name": name,
        "output": str(output.resolve()),
        "historyPath": str((history / "allure-history.jsonl").resolve()),
        "plugins": {
            "awesome": {
                "options": {
                    "singleFile": True,
                    "reportName": name,
                    "reportLanguage": "en",
                    "groupBy": ["epic", "feature", "story"],
                }
            }
        },
        "categories": CATEGORIES,
    }
    config_file = results.parent / "allurerc.json"
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
    binary = allure3()
    assert binary is not None
    return _finish(
        [str(binary), "generate", "-c", str(config_file.resolve()), str(results.resolve())],
        output,
    )


def _allure2(results: Path, output: Path) -> Outcome:
    # absolute: allure runs in the project folder, the paths are the working directory's
    output, results = output.resolve(), results.resolve()
    command = ["allure", "generate", "--clean", "--single-file", "-o", str(output), str(results)]
    return _finish(command, output, extra_env={"ALLURE_NO_ANALYTICS": "true"})


def _finish(command: list[str], output: Path, extra_env: dict[str, str] | None = None) -> Outcome:
    try:
        done = subprocess.run(
            command,
            cwd=project_root(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env={**os.environ, **(extra_env or {})},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Outcome(None, f"HTML report not generated: {command[0]}: {exc}")
    page = output / "index.html"
    if done.returncode != 0 or not page.is_file():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return Outcome(
            None, f"HTML report not generated: allure exited {done.returncode}: {last[0]}"
        )
    page.write_text(ANALYTICS.sub("", page.read_text(encoding="utf-8")), encoding="utf-8")
    return Outcome(page, f"report: {page}")


def _missing() -> str:
    if shutil.which("node"):
        return "Allure 3 is not installed in node_modules (Node.js is there)"
    return "Node.js is missing"


def write_report(reports: Path, environment: str) -> Outcome:
    """The HTML report of a reports folder (reports/allure-report, from its allure-results),
    titled after the run's `environment`."""
    return generate(
        reports / "allure-results", reports / "allure-report", name=f"{EPIC}: {environment}"
    )
