"""The leak scan: read every file under reports/ (inside zips and inside the single-file
HTML report's embedded data too) for configured secret values, token shapes, private keys
and, when patient data is masked, the test patients' identifying values, each in any of the
spellings the Redactor masks (spellings.py).

A finding names the file and what kind of value it is, never the value itself.
"""

from __future__ import annotations

import base64
import binascii
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from techval.core.redaction import PATIENT_MASK, Redactor

# Secrets by shape: bearer tokens that are not masked, JWTs, PEM private keys.
SHAPES = {
    "bearer token": re.compile(r"Bearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
# Allure 3 single-file reports embed their data as d("name", "<base64>").
EMBEDDED = re.compile(r'd\("([^"]+)",\s*"([A-Za-z0-9+/=]+)"\)')


@dataclass(frozen=True)
class Leak:
    where: str
    kind: str

    def __str__(self) -> str:
        return f"{self.where}: contains a {self.kind}"


def scan(folder: Path, redactor: Redactor) -> list[Leak]:
    """Every leak found under `folder`, one per file and kind."""
    leaks: list[Leak] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        for where, text, viewer in _texts(path, folder):
            leaks.extend(Leak(where, kind) for kind in sorted(_kinds(text, redactor, viewer)))
    return leaks


def _kinds(text: str, redactor: Redactor, viewer: bool) -> set[str]:
    """What leaks in `text`; `viewer` is the report viewer's own code, where common words
    that happen to be a test patient's name are not patient data."""
    kinds = {kind for kind, pattern in SHAPES.items() if pattern.search(text)}
    if redactor.holds_secret(text):
        kinds.add("configured secret value")
    masked = redactor.mask_patient_data and not viewer
    if masked and redactor.text(text).count(PATIENT_MASK) > text.count(PATIENT_MASK):
        kinds.add("test patient's identifying value")
    return kinds


def _texts(path: Path, root: Path) -> Iterator[tuple[str, str, bool]]:
    shown = path.relative_to(root).as_posix()
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    data = archive.read(name)
                    yield from _decoded(f"{shown}!{name}", name, data)
        except zipfile.BadZipFile:
            yield shown, path.read_bytes().decode("utf-8", errors="replace"), False
        return
    yield from _decoded(shown, path.name, path.read_bytes())


def embedded(page: str) -> dict[str, str]:
    """The data files embedded in a single-file Allure 3 report, decoded, by name."""
    return {key: _b64(value) for key, value in EMBEDDED.findall(page)}


def _decoded(where: str, name: str, data: bytes) -> Iterable[tuple[str, str, bool]]:
    text = data.decode("utf-8", errors="replace")
    if not name.endswith(".html"):
        return [(where, text, False)]
    found = [(f"{where} (embedded {key})", value, False) for key, value in embedded(text).items()]
    # The page itself, without the embedded data, is the report viewer's code.
    return [(where, EMBEDDED.sub("", text), True), *found]


def _b64(value: str) -> str:
    try:
        return base64.b64decode(value).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return value
