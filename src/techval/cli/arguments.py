"""The command line: every command, its options and its handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from techval import __version__
from techval.cli.loading import load
from techval.core.paths import find_project_root
from techval.harness.evidence import baseline_command, baseline_file

DESCRIPTION = (
    "The `techval` command: run the validation suite, validate message files, serve the simulator."
)


BASELINE = f"{baseline_file.FILE} at the project root, or $TECHVAL_BASELINE"


Handler = Callable[[argparse.Namespace], int]


def _command(module: str, name: str) -> Handler:
    """The handler `name` of techval.cli.`module`, imported when its command runs: a run does
    not pay for importing doctor, the simulator server or the report builders."""

    def handler(args: argparse.Namespace) -> int:
        command: Handler = getattr(load(f"techval.cli.{module}"), name)
        return command(args)

    handler.__name__ = name
    return handler


def paths_help() -> str:
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
        description=DESCRIPTION,
        epilog=paths_help(),
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
    run.set_defaults(handler=_command("run", "command_run"))

    fold = commands.add_parser(
        "merge", help="fold the reports of several runs (shards) into one reports folder"
    )
    fold.add_argument("folders", nargs="+", metavar="DIR", help="reports folders to merge")
    fold.add_argument(
        "--reports", default="reports", help="the merged reports folder (default: ./reports)"
    )
    fold.add_argument("--no-html", action="store_true", help="skip the HTML report")
    fold.add_argument("--baseline", metavar="PATH", help=f"known failures (default: {BASELINE})")
    fold.set_defaults(handler=_command("reports", "command_merge"))

    report = commands.add_parser("report", help="regenerate the HTML report from the results")
    report.add_argument(
        "--reports", default="reports", help="the reports folder (default: ./reports)"
    )
    report.set_defaults(handler=_command("reports", "command_report"))

    pack = commands.add_parser(
        "bundle", help="scan the reports for leaks and zip the evidence for the validation request"
    )
    environment(pack)
    pack.add_argument(
        "--reports", default="reports", help="the reports folder (default: ./reports)"
    )
    pack.set_defaults(handler=_command("reports", "command_bundle"))

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
    known.set_defaults(handler=_command("reports", "command_baseline"))

    preflight = commands.add_parser(
        "doctor", help="check an environment before a run: every problem at once, with advice"
    )
    environment(preflight)
    preflight.add_argument(
        "--allow-production",
        action="store_true",
        help="also search for the test patients in a production environment",
    )
    preflight.set_defaults(handler=_command("doctor", "command_doctor"))

    validate = commands.add_parser("validate", help="check JSON message files against the schemas")
    validate.add_argument("--response", action="store_true", help="check against response schemas")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(handler=_command("validate", "command_validate"))

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
    simulator.set_defaults(handler=_command("serve", "command_simulator"))
    return root
