"""Files the harness reads that a person or another run wrote: the environment file, .env, test
patients, the baseline, message files for `techval validate`, the history of earlier runs.

Each is read only when it is a regular file (a FIFO or /dev/zero would never end: it is opened
without blocking and refused), up to a size limit, and JSON nested deeper than Python can
parse is a clear Refused, not a RecursionError.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

# Environment files, .env, test patients and baselines: 1 MB is some 40 times the largest
# YAML file the project ships (requirements.yaml, 22 KB), or a baseline of 3000 known
# failures; parsing that much takes well under a second.
MAX_SETTINGS_BYTES = 1_000_000

KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class Refused(Exception):
    """Why a file is not read, in a few words ("not a regular file (a FIFO)")."""


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading in binary. Refused when it is not a regular file; OSError when
    it cannot be opened (FileNotFoundError: there is none)."""
    # O_NONBLOCK: opening a FIFO with no writer returns at once, and fstat then refuses it
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(descriptor).st_mode
    except OSError:
        os.close(descriptor)
        raise
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise Refused(f"not a regular file ({KINDS.get(stat.S_IFMT(mode), 'special')})")
    return os.fdopen(descriptor, "rb")


def read_bytes(path: Path, limit: int) -> bytes:
    """The content of the regular file `path`; Refused when it is something else or holds
    more than `limit` bytes, OSError when it cannot be opened."""
    with open_regular(path) as file:
        data = file.read(limit + 1)  # not st_size: the file may grow while it is read
    if len(data) > limit:
        raise Refused(f"larger than {_size(limit)}, the most techval reads of such a file")
    return data


def read_text(path: Path, limit: int) -> str:
    """`read_bytes` as UTF-8 text; Refused when it is not UTF-8."""
    return decode(read_bytes(path, limit))


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(f"not UTF-8 text (byte {exc.start + 1})") from None


def parse_json(text: str) -> Any:
    """The JSON document in `text`; Refused when it is not JSON or nested too deeply to parse
    (json raises RecursionError there, at about a thousand levels)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Refused(f"not JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:  # a number json cannot build: over 4300 digits
        raise Refused(f"not JSON: {exc}") from None
    except RecursionError:
        raise Refused("JSON nested too deeply to read") from None


def read_json(path: Path, limit: int) -> Any:
    return parse_json(read_text(path, limit))


def _size(count: int) -> str:
    return f"{count / 1_000_000:g} MB" if count >= 1_000_000 else f"{count / 1000:g} KB"
