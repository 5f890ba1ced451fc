"""The `techval` command: run the validation suite, validate message files, serve the simulator.

Exit codes of `run`: 0 every scenario passed, 1 a validation check failed, 2 the run could
not go on; the reason is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from techval import __version__
from techval.core import inputfiles
from techval.core.config import Settings, load_settings
from techval.core.errors import COULD_NOT_RUN, CouldNotRun
from techval.core.paths import find_project_root, project_root
from techval.core.redox import MAX_MESSAGE_BYTES
from techval.core.schemas import SchemaRegistry, UnknownMessage
from techval.harness import doctor, listing
from techval.harness.evidence import baseline_command, baseline_file, bundle, console, html, verdict
from techval.harness.evidence.inputs import Inputs
from techval.harness.groups import parse_shard
from techval.harness.merge import merge
from techval.harness.pytest_plugin import provide_run
from techval.harness.run import Run, redactor_for, start_run
from techval.harness.staging import Staging, unwritable
from techval.validation import rules

TAG = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")
TAG_WORDS = {"and", "or", "not"}
NO_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
BASELINE = f"{baseline_file.FILE} at the project root, or $TECHVAL_BASELINE"
MAX_WORKERS_PER_CORE = 4
SHOWN_PROBLEMS = 20  # per file, then "... and N more"
# A message file may be pretty-printed: twice Redox's 40 MB limit is read; rules.size then
# measures the message as it would be sent.
MAX_MESSAGE_FILE_BYTES = 2 * MAX_MESSAGE_BYTES


def fail(message: str, code: int = 2) -> int:
    print(f"techval: {message}", file=sys.stderr)
    return code


def known_tags(features: Path) -> set[str]:
    tags: set[str] = set()
    for feature in features.rglob("*.feature"):
        tags.update(TAG.findall(feature.read_text(encoding="utf-8")))
    return tags


def check_tags(expression: str, features: Path) -> None:
    from _pytest.mark.expression import Expression  # pytest's own -m grammar

    try:
        Expression.compile(expression)
    except SyntaxError as exc:  # what pytest raises for a malformed expression
        raise CouldNotRun(f"--tags {expression!r}: not a tag expression ({exc.msg})") from None
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expression)) - TAG_WORDS
    unknown = sorted(words - known_tags(features))
    if unknown:
        known = ", ".join(sorted(known_tags(features)))
        raise CouldNotRun(f"--tags: unknown tag {unknown[0]!r}; the features use: {known}")


class _Handoff:
    """A pytest plugin object giving the already started run to techval's plugin."""

    def __init__(self, run: Run) -> None:
        self.run = run

    @pytest.hookimpl(tryfirst=True)  # before the evidence plugin subscribes to its stream
    def pytest_configure(self, config: pytest.Config) -> None:
        provide_run(config, self.run)


def command_run(args: argparse.Namespace) -> int:
    with _terminable() as term:
        try:
            return _run(args, term)
        except KeyboardInterrupt:  # before pytest took over: the first token, the simulator
            kept = f"the reports in {args.reports} are left as they were"
            what = "terminated (SIGTERM)" if term.received else "interrupted"
            return fail(f"{what} before any scenario ran; {kept}", 143 if term.received else 130)


def _run(args: argparse.Namespace, term: _Terminated) -> int:
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
        args.workers = _capped(args.workers)
        if args.shard:
            parse_shard(args.shard)
        baseline_file.check(args.baseline)  # a bad baseline file stops the run before it starts
        settings = load_settings(args.env, args.config, root=root)
        if args.list:
            return _list(args, root, settings)
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
        try:
            with _only_the_plugins_a_run_needs():
                code = pytest.main(
                    _pytest_args(args, root, run, staging.stage), plugins=[_Handoff(run)]
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
        result = _finish_reports(reports, settings.name, html_report=html_report)
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
        return _exit(result)
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


def untagged(expression: str) -> str:
    """A tag expression as cucumber users write it (@organization) in pytest's -m words."""
    return TAG.sub(r"\1", expression)


def _capped(workers: int) -> int:
    """At most MAX_WORKERS_PER_CORE workers a core: each is a Python process waiting on the
    network; past that, starting them costs more than they give."""
    limit = MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)
    if workers > limit:
        print(
            f"techval: --workers {workers}: using {limit} ({MAX_WORKERS_PER_CORE} per CPU core; "
            "more only adds start-up time)",
            file=sys.stderr,
        )
    return min(workers, limit)


class _Terminated:
    received = False


@contextlib.contextmanager
def _terminable() -> Iterator[_Terminated]:
    """SIGTERM (a cancelled CI job, `docker stop`, `timeout`) ends the run as Ctrl-C does:
    pytest stops, the reports of what ran are written, marked interrupted. A second SIGTERM
    ends the process at once."""
    term = _Terminated()

    def on_term(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        term.received = True
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, on_term)
    try:
        yield term
    finally:
        signal.signal(signal.SIGTERM, before)


def _exit(result: dict[str, Any]) -> int:
    """The exit code of a run (or a merge) from its verdict; when the environment stopped
    answering, one line says why, in whichever process it was seen."""
    code = verdict.exit_code(result)
    reasons = result.get("stopped") or []
    for reason in reasons[:1]:  # one line, from whichever process saw it
        what = "could not run" if code == 2 else "the environment stopped answering"
        fail(f"{what}: {reason}; {_not_run(result)}", code)
    if code == 2 and not reasons:  # e.g. a merge missing a shard's scenarios
        scenarios = [s for step in result.get("steps", []) for s in step["scenarios"]]
        cannot = sum(1 for s in scenarios if s.get("kind") == COULD_NOT_RUN)
        fail(f"could not run: {cannot} of {len(scenarios)} scenarios (the reports say why)", code)
    return code


def _not_run(result: dict[str, Any] | None) -> str:
    scenarios = [s for step in (result or {}).get("steps", []) for s in step["scenarios"]]
    count = sum(1 for s in scenarios if str(s.get("message", "")).startswith("not run:"))
    return f"{count} of {len(scenarios)} scenarios not attempted (the reports list them)"


@contextlib.contextmanager
def _only_the_plugins_a_run_needs() -> Iterator[None]:
    """No pytest plugin loaded by entry point (Hypothesis, xdist, anyio: the harness's own test
    tools would cost a second or more per run); `_pytest_args` names the ones a run uses."""
    before = os.environ.get(NO_AUTOLOAD)
    os.environ[NO_AUTOLOAD] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[NO_AUTOLOAD]
        else:
            os.environ[NO_AUTOLOAD] = before


def _finish_reports(
    reports: Path, environment: str, *, html_report: bool = True
) -> dict[str, Any] | None:
    """After a run: the HTML report, then the verdict table and where the evidence is."""
    result = verdict.read(reports / "verdict.json")
    print()
    if result is not None:
        print(console.table(result, reports))
    folder = "" if reports == Path("reports") else f" --reports {shlex.quote(str(reports))}"
    if html_report:
        outcome = html.generate(
            reports / "allure-results",
            reports / "allure-report",
            name=html.report_name(environment),
        )
        print(f"techval: {outcome.message}")
    else:
        print(f"techval: no HTML report; `techval report{folder}` writes it from the results")
    print(
        f"techval: verdict {reports / 'verdict.json'}, JUnit {reports / 'junit.xml'}, "
        f"HAR {reports / 'exchanges.har'}; `techval bundle{folder}` zips them for the "
        "validation request"
    )
    return result


def _pytest_args(args: argparse.Namespace, root: Path, run: Run, reports: Path) -> list[str]:
    """pytest's arguments for the run, writing into `reports` (the stage)."""
    pytest_args = [
        "--no-header",
        "--techval-progress",
        "--tb=short",  # the check's message names the cause; no argument values in reports
        "-rN",  # the progress lines already list the failures
        f"--techval-reports={reports}",
        f"--techval-baseline={baseline_file.path_of(args.baseline)}",
        "-p",
        "allure_pytest_bdd.plugin",
        # no --clean-alluredir: the stage is new, and a worker that xdist starts again to
        # replace a dead one would wipe the results of every scenario before it
        f"--alluredir={reports / 'allure-results'}",
        f"--junitxml={reports / 'junit.xml'}",
    ]
    pytest_args += ["--allow-production"] if args.allow_production else []
    if args.workers > 1 and not run.client.health.unreachable:
        # Lifecycle groups stay on one worker (harness.parallel); the workers share the
        # simulator this process started, as they would share one Redox environment.
        pytest_args += ["-p", "xdist.plugin", "-p", "techval.harness.parallel"]
        pytest_args += [f"--numprocesses={args.workers}", "--dist=loadscope"]
        if run.simulator is not None:
            pytest_args += [f"--techval-simulator-url={run.settings.base_url}"]
    return _selection_args(args, root) + pytest_args + list(args.pytest_args)


def _selection_args(args: argparse.Namespace, root: Path) -> list[str]:
    """What decides which scenarios of which suite run, and against what."""
    selection = [
        str(root / "steps"),
        "-q",
        # allure-pytest-bdd needs the features under the rootdir
        f"--rootdir={os.path.commonpath([root, Path(args.features or root).resolve()])}",
        f"--config-file={root / 'pyproject.toml'}",
        # The harness's own tests make warnings errors (pyproject); a library's warning must
        # never fail a scenario of a run: after the file's filters, so it wins.
        "-Wignore",
        # Checks raise CheckFailed with their own messages: no assertion rewriting, which would
        # recompile every plugin module on each run where bytecode is not cached.
        "--assert=plain",
        "-p",
        "pytest_bdd.plugin",
    ]
    # One token per option: pytest's early parse would take a separate value for a test path.
    selection += [f"--env={args.env}"] if args.env else []
    selection += [f"--env-file={args.config}"] if args.config else []
    selection += [f"-m={args.tags}"] if args.tags else []
    if args.features:
        selection += ["-o", f"bdd_features_base_dir={Path(args.features).resolve()}"]
    selection += [f"--techval-shard={args.shard}"] if args.shard else []
    return selection


def _list(args: argparse.Namespace, root: Path, settings: Settings) -> int:
    """`techval run --list`: the scenarios the selection would run; nothing runs."""
    with _only_the_plugins_a_run_needs():
        names, left_out, code = listing.scenarios(
            settings, _selection_args(args, root) + list(args.pytest_args)
        )
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        return fail(f"could not list the scenarios: pytest ended with exit code {code}")
    for name in names:
        print(name)
    print(f"techval: {len(names)} scenarios selected, {left_out} not selected; nothing was run")
    return 0 if names else fail("no scenario matches the selection")


def _existing_reports(args: argparse.Namespace) -> Path:
    """The reports folder a command reads (report, bundle, baseline): CouldNotRun when the
    path is there but is no folder, before anything reads inside it."""
    reports = Path(args.reports)
    if reports.exists() and not reports.is_dir():
        raise CouldNotRun(f"--reports {reports}: not a folder")
    return reports


def command_report(args: argparse.Namespace) -> int:
    reports = _existing_reports(args)
    result = verdict.read(reports / "verdict.json") or {}
    name = str(result.get("environment", {}).get("environment", "techval"))
    outcome = html.generate(
        reports / "allure-results", reports / "allure-report", name=html.report_name(name)
    )
    print(f"techval: {outcome.message}")
    return 0 if outcome.written else 2


def command_merge(args: argparse.Namespace) -> int:
    reports = Path(args.reports)
    try:
        _existing_reports(args)
        inputs = Inputs(baseline=baseline_file.check(args.baseline))
        result = merge([Path(folder) for folder in args.folders], reports, inputs)
    except (CouldNotRun, baseline_file.BaselineError) as exc:
        return fail(str(exc))
    except OSError as exc:  # --reports a file, read-only, full: the merge is not written
        return fail(str(unwritable(reports, exc)))
    print(console.table(result, reports))
    if not args.no_html:
        name = str(result.get("environment", {}).get("environment", "techval"))
        outcome = html.generate(
            reports / "allure-results", reports / "allure-report", name=html.report_name(name)
        )
        print(f"techval: {outcome.message}")
    print(f"techval: merged {len(args.folders)} reports folders into {reports}")
    if result.get("interrupted"):
        return fail("interrupted: a run merged here did not finish (its reports end early)", 130)
    return _exit(result)


def command_bundle(args: argparse.Namespace) -> int:
    reports = _existing_reports(args)
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
        line = baseline_command.write(_existing_reports(args), args.baseline, days=args.days)
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


def command_validate(args: argparse.Namespace) -> int:
    registry = SchemaRegistry()
    kind = "response" if args.response else "request"
    failures = 0
    for name in args.files:
        problems = _validate_file(registry, Path(name), response=args.response)
        if problems:
            failures += 1
            for problem in problems[:SHOWN_PROBLEMS]:
                print(f"{name}: {problem}")
            if len(problems) > SHOWN_PROBLEMS:
                print(f"{name}: ... and {len(problems) - SHOWN_PROBLEMS} more")
        else:
            print(f"{name}: valid {kind}")
    return 1 if failures else 0


def _validate_file(registry: SchemaRegistry, path: Path, *, response: bool) -> list[str]:
    """The schema's violations, then (for a request) those of the documented rules that hold
    in every environment: Carequality metadata on Carequality requests, the 40 MB limit."""
    try:
        message: Any = inputfiles.read_json(path, MAX_MESSAGE_FILE_BYTES)
    except OSError as exc:
        return [f"cannot read: {exc.strerror}"]
    except inputfiles.Refused as exc:
        return [str(exc)]
    try:
        name = registry.schema_for(message, response=response)
    except UnknownMessage as exc:
        return [str(exc)]
    found = registry.validate(name, message)
    if not response and isinstance(message, dict):
        found += rules.without_environment(message, name)
    return [str(v) for v in found]


def command_simulator(args: argparse.Namespace) -> int:
    from techval.simulator import RunningSimulator, provision
    from techval.simulator.faults import named

    try:
        faults = [named(name) for name in args.fault]
        settings = load_settings(args.env, args.config)
        simulator = provision(settings)
        simulator.faults.extend(faults)
        running = RunningSimulator(simulator, host=args.host, port=args.port)
    except (CouldNotRun, ValueError) as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
    print(f"techval simulator listening on {running.url} (Ctrl-C stops it)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        running.serve_forever()
    return 0


def command_doctor(args: argparse.Namespace) -> int:
    found = doctor.diagnose(
        args.env, args.config, allow_production=args.allow_production, root=project_root()
    )
    print(doctor.table(found))
    code = doctor.exit_code(found)
    verdicts = {0: "ready to run", 1: "a run would fail: see above", 2: "a run could not go on"}
    print(f"\ntechval doctor: {verdicts[code]}")
    return code


def _paths_help() -> str:
    root = find_project_root()
    where = f"{root}" if root else "the project (not found: install techval editable)"
    return (
        "paths:\n"
        f"  --env NAME reads {where}/environments/NAME.yaml. Paths inside an environment\n"
        "  file (private_key_file, test_patients) are relative to the project, as are its\n"
        "  .env and baseline.yaml. --config, --reports, --features, --baseline and FILE are\n"
        "  relative to the working directory; the reports go to ./reports there unless\n"
        "  --reports DIR says otherwise."
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="techval",
        description=__doc__.splitlines()[0],
        epilog=_paths_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"techval {__version__}")
    commands = root.add_subparsers(dest="command", required=True)

    def environment(sub: argparse.ArgumentParser) -> None:
        group = sub.add_mutually_exclusive_group()
        group.add_argument(
            "--env",
            metavar="NAME",
            help="environments/NAME.yaml of the project (default: simulator)",
        )
        group.add_argument(
            "--config",
            metavar="PATH",
            help="path of an environment file, relative to the working directory",
        )

    run = commands.add_parser("run", help="run the validation scenarios")
    environment(run)
    run.add_argument(
        "--tags", help="tag expression, e.g. 'organization or patient_search' (@ optional)"
    )
    run.add_argument("--features", help="folder of .feature files (default: features/)")
    run.add_argument(
        "--allow-production",
        action="store_true",
        help="allow sending test data to a production environment",
    )
    run.add_argument(
        "--reports",
        default="reports",
        metavar="DIR",
        help="folder for the reports, relative to the working directory (default: ./reports)",
    )
    run.add_argument(
        "--no-html",
        action="store_true",
        help="skip the HTML report (verdict, JUnit, HAR and Allure results are still written)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run scenarios in N processes; lifecycle groups stay together (default: 1)",
    )
    run.add_argument(
        "--shard",
        metavar="K/N",
        help="run slice K of N of the suite (for a CI matrix; `techval merge` folds them)",
    )
    run.add_argument("--baseline", metavar="PATH", help=f"known failures (default: {BASELINE})")
    run.add_argument(
        "--list",
        action="store_true",
        help="list the scenarios the selection would run, without running them",
    )
    run.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --")
    run.set_defaults(handler=command_run)

    fold = commands.add_parser(
        "merge", help="fold the reports of several runs (shards) into one reports folder"
    )
    fold.add_argument("folders", nargs="+", metavar="DIR", help="reports folders to merge")
    fold.add_argument(
        "--reports", default="reports", help="the merged reports folder (default: ./reports)"
    )
    fold.add_argument("--no-html", action="store_true", help="skip the HTML report")
    fold.add_argument("--baseline", metavar="PATH", help=f"known failures (default: {BASELINE})")
    fold.set_defaults(handler=command_merge)

    report = commands.add_parser("report", help="regenerate the HTML report from the results")
    report.add_argument(
        "--reports", default="reports", help="the reports folder (default: ./reports)"
    )
    report.set_defaults(handler=command_report)

    pack = commands.add_parser(
        "bundle", help="scan the reports for leaks and zip the evidence for the validation request"
    )
    environment(pack)
    pack.add_argument(
        "--reports", default="reports", help="the reports folder (default: ./reports)"
    )
    pack.set_defaults(handler=command_bundle)

    known = commands.add_parser(
        "baseline", help="write the last run's failures to the baseline as known failures"
    )
    known.add_argument(
        "--reports", default="reports", help="the reports folder of the run (default: ./reports)"
    )
    known.add_argument("--baseline", metavar="PATH", help=f"the file (default: {BASELINE})")
    known.add_argument(
        "--days",
        type=int,
        default=baseline_command.DEFAULT_DAYS,
        metavar="N",
        help=f"each entry expires after N days (default: {baseline_command.DEFAULT_DAYS})",
    )
    known.set_defaults(handler=command_baseline)

    preflight = commands.add_parser(
        "doctor", help="check an environment before a run: every problem at once, with advice"
    )
    environment(preflight)
    preflight.add_argument(
        "--allow-production",
        action="store_true",
        help="also search for the test patients in a production environment",
    )
    preflight.set_defaults(handler=command_doctor)

    validate = commands.add_parser("validate", help="check JSON message files against the schemas")
    validate.add_argument("--response", action="store_true", help="check against response schemas")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(handler=command_validate)

    simulator = commands.add_parser("simulator", help="serve the built-in Redox simulator")
    environment(simulator)
    simulator.add_argument("--host", default="127.0.0.1")
    simulator.add_argument("--port", type=int, default=8080)
    simulator.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="answer wrongly on purpose (repeatable), e.g. server_error",
    )
    simulator.set_defaults(handler=command_simulator)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except CouldNotRun as exc:  # e.g. no project data: a copy of the package outside its checkout
        return fail(str(exc))
    except OSError as exc:  # the last word on a file system that says no: one line, never a trace
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{args.command}: {where}{exc.strerror or exc}")
    return code


if __name__ == "__main__":
    sys.exit(main())
