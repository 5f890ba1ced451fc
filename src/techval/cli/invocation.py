"""How `techval run` calls pytest: the arguments, the plugins it loads, the handoff of the
started run to techval's plugin, and `--list`."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from techval.cli.common import fail
from techval.core.config import Settings
from techval.harness import listing
from techval.harness.evidence import baseline_file
from techval.harness.pytest_plugin import provide_run
from techval.harness.run import Run

NO_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


class Handoff:
    """A pytest plugin object giving the already started run to techval's plugin."""

    def __init__(self, run: Run) -> None:
        self.run = run

    @pytest.hookimpl(tryfirst=True)  # before the evidence plugin subscribes to its stream
    def pytest_configure(self, config: pytest.Config) -> None:
        provide_run(config, self.run)


@contextlib.contextmanager
def only_the_plugins_a_run_needs() -> Iterator[None]:
    """No pytest plugin loaded by entry point (Hypothesis, xdist, anyio: the harness's own test
    tools would cost a second or more per run); `pytest_args` names the ones a run uses."""
    before = os.environ.get(NO_AUTOLOAD)
    os.environ[NO_AUTOLOAD] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[NO_AUTOLOAD]
        else:
            os.environ[NO_AUTOLOAD] = before


def pytest_args(args: argparse.Namespace, root: Path, run: Run, reports: Path) -> list[str]:
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
    return selection_args(args, root) + pytest_args + list(args.pytest_args)


def selection_args(args: argparse.Namespace, root: Path) -> list[str]:
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


def list_scenarios(args: argparse.Namespace, root: Path, settings: Settings) -> int:
    """`techval run --list`: the scenarios the selection would run; nothing runs."""
    with only_the_plugins_a_run_needs():
        names, left_out, code = listing.scenarios(
            settings, selection_args(args, root) + list(args.pytest_args)
        )
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        return fail(f"could not list the scenarios: pytest ended with exit code {code}")
    for name in names:
        print(name)
    print(f"techval: {len(names)} scenarios selected, {left_out} not selected; nothing was run")
    return 0 if names else fail("no scenario matches the selection")
