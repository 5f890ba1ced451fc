"""The commands over a reports folder: report (the HTML), merge (shards), bundle (the
evidence zip) and baseline (known failures)."""

from __future__ import annotations

import argparse
from pathlib import Path

from techval.cli.common import existing_reports, exit_of, fail
from techval.core.config import load_settings
from techval.core.errors import CouldNotRun
from techval.core.paths import project_root
from techval.harness.evidence import baseline_command, baseline_file, bundle, console, html, verdict
from techval.harness.evidence.inputs import Inputs
from techval.harness.merge import merge
from techval.harness.run import redactor_for
from techval.harness.staging import unwritable


def command_report(args: argparse.Namespace) -> int:
    reports = existing_reports(args)
    result = verdict.read(reports / "verdict.json") or {}
    name = str(result.get("environment", {}).get("environment", "techval"))
    outcome = html.write_report(reports, name)
    print(f"techval: {outcome.message}")
    return 0 if outcome.written else 2


def command_merge(args: argparse.Namespace) -> int:
    reports = Path(args.reports)
    try:
        existing_reports(args)
        inputs = Inputs(baseline=baseline_file.check(args.baseline))
        result = merge([Path(folder) for folder in args.folders], reports, inputs)
    except (CouldNotRun, baseline_file.BaselineError) as exc:
        return fail(str(exc))
    except OSError as exc:  # --reports a file, read-only, full: the merge is not written
        return fail(str(unwritable(reports, exc)))
    print(console.table(result, reports))
    if not args.no_html:
        name = str(result.get("environment", {}).get("environment", "techval"))
        print(f"techval: {html.write_report(reports, name).message}")
    print(f"techval: merged {len(args.folders)} reports folders into {reports}")
    if result.get("interrupted"):
        return fail("interrupted: a run merged here did not finish (its reports end early)", 130)
    return exit_of(result)


def command_bundle(args: argparse.Namespace) -> int:
    reports = existing_reports(args)
    try:
        env = args.env or (None if args.config else _verdict_environment(reports))
        settings = load_settings(env, args.config)
        target = bundle.make(reports, redactor_for(settings))
    except bundle.LeakFound as exc:
        return fail(str(exc), 1)
    except CouldNotRun as exc:
        return fail(str(exc))
    print(f"techval: evidence bundle {target}")
    return 0


def command_baseline(args: argparse.Namespace) -> int:
    try:
        line = baseline_command.write(existing_reports(args), args.baseline, days=args.days)
    except (CouldNotRun, baseline_file.BaselineError) as exc:
        return fail(str(exc))
    print(f"techval: {line}")
    return 0


def _verdict_environment(reports: Path) -> str | None:
    """The environment the last run used, when it is a named one in environments/."""
    result = verdict.read(reports / "verdict.json") or {}
    name = result.get("environment", {}).get("environment")
    known = project_root() / "environments" / f"{name}.yaml"
    return str(name) if name and known.is_file() else None
