"""The leak scan: read every file under reports/ (inside zips and inside the single-file
HTML report's embedded data too) for configured secret values, token shapes, private keys
and, when patient data is masked, the test patients' identifying values, each in any of the
spellings the Redactor masks (spellings.py); and, in JSON (a file, or a JSON text inside one:
the HAR's bodies), any value the Redactor masks by its place left unmasked: a FHIR Patient's
or a Data Model patient's values, a patient's id in a `fullUrl`, a reference or a URL, the
patient parameters of a search (the HAR's `params` and `queryString` too). That finds a
patient other than the test patients (an organization's own identifiers, Patient ids), whose
values the scan cannot know; such a value that only a free text echoes (an OperationOutcome's
diagnostics) is found by the run's own redactor, which learned it, not by the scan.

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
from typing import Any

from techval.core.exchange import parse_json
from techval.core.redaction import MASK, PATIENT_MASK, SECRET_KEYS, Redactor

# Secrets by shape: bearer tokens that are not masked, JWTs, PEM private keys.
SHAPES = {
    "bearer token": re.compile(r"Bearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
# Allure 3 single-file reports embed their data as d("name", "<base64>").
EMBEDDED = re.compile(r'd\("([^"]+)",\s*"([A-Za-z0-9+/=]+)"\)')
UNMASKED = "patient value left unmasked where patient data is masked by its place"


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
    if masked and unmasked_in_place(text, redactor):
        kinds.add(UNMASKED)
    return kinds


def unmasked_in_place(text: str, redactor: Redactor) -> bool:
    """Whether a JSON text (or JSON Lines: the events) holds a value the redactor masks by
    its place, unmasked: masking it (or a JSON text inside it) again changes more than masking
    its texts does. Masking is idempotent (a shape's shape is itself), so a report written by
    the redactor changes not."""
    if not text.lstrip().startswith(("{", "[")):
        return False
    return any(
        redactor.data(part) != _only_texts(part, redactor)
        for document in _json(text)
        for part in _documents(document)
    )


def _json(text: str) -> Iterator[Any]:
    """The JSON document of `text`, or of each of its lines; none that is not JSON or is
    nested too deep to walk."""
    try:
        yield parse_json(text)
        return
    except ValueError:
        pass
    for line in text.splitlines():
        if line.lstrip().startswith(("{", "[")):
            try:
                yield parse_json(line)
            except ValueError:
                continue


def _documents(document: Any) -> Iterator[Any]:
    """The document, the JSON texts inside it (a HAR's bodies), and each HAR request's URL with
    its form or query parameters as a recorded form (`{"url", "form"}`), which the redactor
    masks as it masks a search: each as the redactor saw it when the report was written."""
    roots = [document]
    while roots:
        root = roots.pop()
        yield root
        pending = [root]
        while pending:  # a loop, not recursion: a document may nest deep
            value = pending.pop()
            if isinstance(value, dict):
                if isinstance(value.get("url"), str):
                    roots.extend(_searches(value))
                children: Iterable[Any] = value.values()
            else:
                children = value if isinstance(value, list) else ()
            for child in children:
                if isinstance(child, dict | list):
                    pending.append(child)
                elif isinstance(child, str) and child.lstrip().startswith(("{", "[")):
                    try:
                        roots.append(parse_json(child))
                    except ValueError:
                        continue


def _searches(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    post = request.get("postData")
    params = post.get("params") if isinstance(post, dict) else None
    for listed in (params, request.get("queryString")):
        if isinstance(listed, list) and listed:
            form: dict[str, list[str]] = {}
            for pair in (p for p in listed if isinstance(p, dict)):
                name = str(pair.get("name", ""))
                if name.lower() not in SECRET_KEYS:  # a secret's: the secret scan's
                    form.setdefault(name, []).append(str(pair.get("value", "")))
            yield {"url": request["url"], "form": form}


def _only_texts(value: Any, redactor: Redactor) -> Any:
    """`value` with only its texts masked (and a secret's name masking its value), as the
    redactor masks what it does not know the place of."""
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, list):
        return [_only_texts(v, redactor) for v in value]
    if isinstance(value, dict):
        return {
            str(k): MASK if str(k).lower() in SECRET_KEYS and v else _only_texts(v, redactor)
            for k, v in value.items()
        }
    return value


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
