"""Where a run writes its evidence before it has any: reports/.incoming/.

A run writes everything (Allure results, JUnit, events, verdict, HAR, history) into the stage,
and the stage replaces the reports only once the run has a verdict to put in their place. A
selection that selects nothing, `--collect-only`, a usage error or a run that never started
leave the previous run's evidence as it was. The history (reports/history/: the previous and
the last green verdicts, the Allure trend) is copied into the stage first and moves on with it.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys
from pathlib import Path

from techval.core.errors import CouldNotRun

STAGE = ".incoming"
HISTORY = "history"
# What a run writes into the reports; one the new run did not write (reproduce/ after a green
# run) is an earlier run's and goes, so no bundle carries it beside the new verdict. The HTML
# report and its config are written from the results after the run: stale once replaced.
RUN_FILES = (
    "verdict.json",
    "junit.xml",
    "exchanges.har",
    "events",
    "allure-results",
    "reproduce",
    "requirements.csv",
    "shapes.json",
    "allure-report",
    "allurerc.json",
)
# The history travels in the CI cache: only regular files, none larger than this, are carried
# on (a link to /dev/zero or a FIFO there is left behind with a warning).
HISTORY_FILE_BYTES = 50_000_000


def shown(path: Path) -> Path:
    """Where the user knows a file read from the stage: a run reads reports/history/ from its
    stage's copy, and a warning about it names the file in reports/."""
    parts = path.parts
    return Path(*[part for part in parts if part != STAGE]) if STAGE in parts else path


class ReportsUnwritable(CouldNotRun):
    """The reports folder cannot be made or written: not a folder, read-only, full..."""


def unwritable(reports: Path, exc: OSError) -> ReportsUnwritable:
    """The one line for a reports folder that the file system refused."""
    cause = exc.strerror or os.strerror(exc.errno or errno.EIO)
    return ReportsUnwritable(f"--reports {reports}: cannot write the reports there ({cause})")


class Staging:
    def __init__(self, reports: Path) -> None:
        self.reports = reports
        self.stage = reports / STAGE

    def prepare(self) -> Path:
        """A fresh, empty stage holding a copy of the history; ReportsUnwritable when the
        reports folder is not a folder or cannot be written (checked by writing)."""
        if self.reports.exists() and not self.reports.is_dir():
            raise ReportsUnwritable(f"--reports {self.reports}: not a folder")
        try:
            self.reports.mkdir(parents=True, exist_ok=True)
            self.discard()
            self.stage.mkdir()
            (self.stage / "probe").write_bytes(b"techval")  # a full disk says so here
            (self.stage / "probe").unlink()
            self._carry_history()
        except OSError as exc:
            raise unwritable(self.reports, exc) from None
        return self.stage

    def _carry_history(self) -> None:
        """A copy of reports/history/ in the stage: the regular files only, each at most
        HISTORY_FILE_BYTES (what else is there is left out, with a warning)."""
        history = self.reports / HISTORY
        if not history.is_dir() or history.is_symlink():
            return
        (self.stage / HISTORY).mkdir()
        for path in sorted(history.iterdir()):
            facts = path.lstat()
            if not stat.S_ISREG(facts.st_mode):
                warn(f"{path}: not a regular file; left out of the history")
            elif facts.st_size > HISTORY_FILE_BYTES:
                warn(f"{path}: over {HISTORY_FILE_BYTES:,} bytes; left out of the history")
            else:
                shutil.copyfile(path, self.stage / HISTORY / path.name, follow_symlinks=False)

    def ready(self) -> bool:
        """Whether the run wrote a verdict: it has something to put in the reports' place."""
        return (self.stage / "verdict.json").is_file()

    def promote(self) -> None:
        """The stage's files replace the reports' (each entry whole); results written from
        the earlier ones (the HTML report) go with them."""
        try:
            for name in RUN_FILES:
                _remove(self.reports / name)
            for entry in sorted(self.stage.iterdir()):
                target = self.reports / entry.name
                _remove(target)
                os.replace(entry, target)
            self.stage.rmdir()
        except OSError as exc:
            raise unwritable(self.reports, exc) from None

    def discard(self) -> None:
        if self.stage.is_dir():
            shutil.rmtree(self.stage, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def warn(text: str) -> None:
    # a note the run goes on after, before pytest starts: straight to the user
    print(f"techval: warning: {text}", file=sys.stderr)  # noqa: T201
