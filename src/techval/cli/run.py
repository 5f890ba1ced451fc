"""`techval run`: check the options, start the run, call pytest, promote the staged reports,
say the verdict. Exit codes: 0 every scenario passed, 1 a validation check failed, 2 the run
could not go on; 130 interrupted, 143 terminated."""

from __future__ import annotations

import argparse
import gc
import shlex
from pathlib import Path
from typing import Any

import pytest

from techval.cli.common import exit_of, fail
from techval.cli.invocation import (
    Handoff,
    list_scenarios,
    only_the_plugins_a_run_needs,
    pytest_args,
)
from techval.cli.selection import capped, check_tags, untagged
from techval.cli.signals import Terminated, terminable
from techval.core.config import load_settings
from techval.core.errors import CouldNotRun
from techval.core.paths import project_root
from techval.harness.evidence import baseline_file, console, html, verdict
from techval.harness.groups import parse_shard
from techval.harness.run import start_run
from techval.harness.staging import Staging, unwritable


def command_run(args: argparse.Namespace) -> int:
    with terminable() as term:
        try:
            return _run(args, term)
        except KeyboardInterrupt:  # before pytest took over: the first token, the simulator
            kept = f"the reports in {args.reports} are left as they were"
            what = "terminated (SIGTERM)" if term.received else "interrupted"
            return fail(f"{what} before any scenario ran; {kept}", 143 if term.received else 130)


def _run(args: argparse.Namespace, term: Terminated) -> int:
    root = project_root()
    reports = Path(args.reports)
    staging = Staging(reports)
    try:
        features = Path(args.features).resolve() if args.features else root / "features"
        if not features.is_dir() or not any(features.rglob("*.feature")):
            raise CouldNotRun(f"--features: no .feature files in {args.features or features}")
        args.tags = args.tags and untagged(args.tags)
        if args.tags:
            check_tags(args.tags, features)
        if args.workers < 1:
            raise CouldNotRun(f"--workers {args.workers}: give 1 or more")
        args.workers = capped(args.workers)
        if args.shard:
            parse_shard(args.shard)
        baseline_file.check(args.baseline)  # a bad baseline file stops the run before it starts
        settings = load_settings(args.env, args.config, root=root)
        if args.list:
            return list_scenarios(args, root, settings)
    except CouldNotRun as exc:
        return fail(f"could not run: {exc}")
    except ValueError as exc:
        return fail(str(exc))
    promoted = False
    try:  # from here on, the stage goes unless it replaced the reports
        try:
            staging.prepare()  # the previous reports stay until this run has a verdict
            run = start_run(settings, allow_production=args.allow_production)
        except CouldNotRun as exc:
            return fail(f"could not run: {exc}")
        # What is loaded by now lives as long as the run: the collector need not walk it again
        # (a short run spent a tenth of its time in the collector, pytest's own included).
        gc.freeze()
        try:
            with only_the_plugins_a_run_needs():
                code = pytest.main(
                    pytest_args(args, root, run, staging.stage), plugins=[Handoff(run)]
                )
        finally:
            run.close()
        if run.write_error is not None:
            kept = f"the reports in {reports} are left as they were"
            return fail(f"could not run: {unwritable(reports, run.write_error)}; {kept}")
        if not staging.ready():
            return _no_verdict(args, code)
        staging.promote()
        promoted = True
        html_report = not (args.no_html or term.received)
        result = finish_reports(reports, settings.name, html_report=html_report)
    except CouldNotRun as exc:
        return fail(f"could not run: {exc}")
    finally:
        if not promoted:
            staging.discard()
    undefined = (result or {}).get("undefined_steps") or []
    if undefined:
        return fail(f"could not run: no step definition matches {'; '.join(undefined[:5])}")
    if term.received:
        return fail("terminated (SIGTERM): the reports hold what ran until then", 143)
    if (result or {}).get("interrupted"):
        return fail("interrupted: the reports hold what ran until then", 130)
    if code in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, 2) and result is not None:
        return exit_of(result)
    return fail(f"could not run: pytest ended with exit code {int(code)}")


def _no_verdict(args: argparse.Namespace, code: int | pytest.ExitCode) -> int:
    """A run that wrote no verdict: nothing of the previous run's reports was replaced."""
    kept = f"the reports in {args.reports} are left as they were"
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        selection = f"--tags {args.tags!r}" if args.tags else "the selection"
        return fail(f"no scenario matches {selection}; {kept}")
    if code == pytest.ExitCode.INTERRUPTED:
        return fail(f"interrupted before any scenario ran; {kept}", 130)
    if code == pytest.ExitCode.OK:  # e.g. -- --collect-only
        return fail(f"no scenario ran; {kept}")
    return fail(f"could not run: pytest ended with exit code {int(code)}; {kept}")


def finish_reports(
    reports: Path, environment: str, *, html_report: bool = True
) -> dict[str, Any] | None:
    """After a run: the HTML report, then the verdict table and where the evidence is."""
    result = verdict.read(reports / "verdict.json")
    print()
    if result is not None:
        print(console.table(result, reports))
    folder = "" if reports == Path("reports") else f" --reports {shlex.quote(str(reports))}"
    if html_report:
        print(f"techval: {html.write_report(reports, environment).message}")
    else:
        print(f"techval: no HTML report; `techval report{folder}` writes it from the results")
    print(
        f"techval: verdict {reports / 'verdict.json'}, JUnit {reports / 'junit.xml'}, "
        f"HAR {reports / 'exchanges.har'}; `techval bundle{folder}` zips them for the "
        "validation request"
    )
    return result
