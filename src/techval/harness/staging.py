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
from pathlib import Path

from techval.core.errors import CouldNotRun

STAGE = ".incoming"
HISTORY = "history"
# Written from the results after the run, so stale once the stage replaces the results.
DERIVED = ("allure-report",)


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
            history = self.reports / HISTORY
            if history.is_dir():
                shutil.copytree(history, self.stage / HISTORY)
        except OSError as exc:
            raise unwritable(self.reports, exc) from None
        return self.stage

    def ready(self) -> bool:
        """Whether the run wrote a verdict: it has something to put in the reports' place."""
        return (self.stage / "verdict.json").is_file()

    def promote(self) -> None:
        """The stage's files replace the reports' (each entry whole); results written from
        the earlier ones (the HTML report) go with them."""
        try:
            for name in DERIVED:
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
