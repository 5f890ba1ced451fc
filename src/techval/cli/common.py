"""What every command shares: the one-line failure, the reports folder it reads, and the
exit code of a verdict."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from techval.core.errors import COULD_NOT_RUN, CouldNotRun
from techval.harness.evidence import verdict
from techval.harness.evidence.outcomes import SKIPPED


def fail(message: str, code: int = 2) -> int:
    print(f"techval: {message}", file=sys.stderr)
    return code


def existing_reports(args: argparse.Namespace) -> Path:
    """The reports folder a command reads (report, bundle, baseline): CouldNotRun when the
    path is there but is no folder, before anything reads inside it."""
    reports = Path(args.reports)
    if reports.exists() and not reports.is_dir():
        raise CouldNotRun(f"--reports {reports}: not a folder")
    return reports


def exit_of(result: dict[str, Any]) -> int:
    """The exit code of a run (or a merge) from its verdict; when the environment stopped
    answering, one line says why, in whichever process it was seen."""
    code = verdict.exit_code(result)
    reasons = result.get("stopped") or []
    for reason in reasons[:1]:  # one line, from whichever process saw it
        what = "could not run" if code == 2 else "the environment stopped answering"
        fail(f"{what}: {reason}; {not_run(result)}", code)
    if code == 2 and not reasons:  # e.g. a merge missing a shard's scenarios
        scenarios = verdict.scenarios_of(result)
        cannot = sum(1 for s in scenarios if s.get("kind") == COULD_NOT_RUN)
        fail(f"could not run: {cannot} of {len(scenarios)} scenarios (the reports say why)", code)
    return code


def not_run(result: dict[str, Any] | None) -> str:
    scenarios = verdict.scenarios_of(result)
    # not attempted: skipped as could-not-run (errors.NotRun, or never reached), by fields
    count = sum(
        1 for s in scenarios if s.get("status") == SKIPPED and s.get("kind") == COULD_NOT_RUN
    )
    return f"{count} of {len(scenarios)} scenarios not attempted (the reports list them)"
