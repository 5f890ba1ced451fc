"""The `techval` command: run the validation suite, validate message files, serve the simulator.

A thin dispatcher: each command has its module (run, reports, validate, serve, doctor);
arguments.py holds the command line. Exit codes of `run`: 0 every scenario passed, 1 a
validation check failed, 2 the run could not go on; the reason is one line on stderr, never
a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

from techval.cli.loading import load


def main(argv: Sequence[str] | None = None) -> int:
    parser = load("techval.cli.arguments").parser  # the harness, loaded here (cli/loading.py)
    from techval.cli.common import fail
    from techval.core.errors import CouldNotRun

    args = parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except CouldNotRun as exc:  # e.g. no project data: a copy of the package outside its checkout
        return fail(str(exc))
    except OSError as exc:  # the last word on a file system that says no: one line, never a trace
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{args.command}: {where}{exc.strerror or exc}")
    return code
