"""Where the project's data folders (schemas/, environments/, fixtures/, features/) live."""

from __future__ import annotations

import functools
from pathlib import Path

from techval.core.errors import ConfigError

DATA_FOLDERS = ("schemas", "environments", "fixtures")


def _holds_the_data(folder: Path) -> bool:
    return all((folder / name).is_dir() for name in DATA_FOLDERS)


@functools.cache
def _checkout() -> Path | None:
    """The checkout this package runs from (src/techval/core/paths.py: three folders up), found
    by looking, not by counting: the nearest folder above this file holding the data."""
    return next((p for p in Path(__file__).resolve().parents if _holds_the_data(p)), None)


def find_project_root() -> Path | None:
    """The project's folder, or None when neither this package's checkout nor the working
    directory holds schemas/, environments/ and fixtures/."""
    checkout = _checkout()
    if checkout is not None:
        return checkout
    cwd = Path.cwd()
    return cwd if _holds_the_data(cwd) else None  # a non-editable install, run in a checkout


def project_root() -> Path:
    """The folder holding schemas/, environments/ and fixtures/: the checkout this package
    was installed from (editable), else the working directory; ConfigError when neither."""
    root = find_project_root()
    if root is None:
        raise ConfigError(
            f"cannot find the project's data folders ({', '.join(DATA_FOLDERS)}) above "
            f"{Path(__file__).parent} or in {Path.cwd()}: install techval editable from its "
            "checkout (pip install -e .), or run it in the checkout"
        )
    return root
