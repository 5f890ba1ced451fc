"""Where the project's data folders (schemas/, environments/, fixtures/, features/) live."""

from __future__ import annotations

from pathlib import Path


def project_root() -> Path:
    """The folder holding schemas/ and environments/: the working directory if it has them,
    else the checkout this package was installed from (an editable install)."""
    cwd = Path.cwd()
    if (cwd / "schemas").is_dir() and (cwd / "environments").is_dir():
        return cwd
    return Path(__file__).resolve().parents[2]
