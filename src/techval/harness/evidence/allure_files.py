"""The Allure results folder: every file goes through the redactor on its way to disk.

allure-pytest-bdd writes results with allure_commons' AllureFileLogger. `guard_results`
swaps it for a subclass that redacts each result (names, parameters, messages, traces) and
each attachment before writing, so nothing unmasked ever reaches reports/, whoever produced
it. Step parameters that are fixtures (the client, the settings...) are dropped: only values
parsed from the Gherkin text are the step's parameters.

It also files each result under its report category: allure-pytest-bdd writes pytest's
`excinfo.exconly()` as statusDetails.message, "package.module.Class: text" (Python's own
formatting of the exception's type); `raised_class` resolves that class, `category_of_class`
names its category (by the class's MRO), and `mark_category` ends statusDetails.trace with
`category_marker(category)`, the line the report's categories match (html.CATEGORIES).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import allure_commons
from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import StatusDetails, TestResult

from techval.core.errors import category_of_class
from techval.core.redaction import Redactor
from techval.harness.thirdparty import logger_folder

MARKER = "[techval category: {}]"
_MARKER_LINE = re.compile(r"\n?\[techval category: [^\]\n]*\]\s*$")
_TYPE_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?=:|$)")


WriteError = Callable[[OSError], None]


class RedactingFileLogger(AllureFileLogger):
    def __init__(
        self, report_dir: str | Path, redactor: Callable[[], Redactor], on_error: WriteError
    ) -> None:
        super().__init__(report_dir, clean=False)
        self._redactor = redactor
        self._on_error = on_error

    def _report_item(self, item: Any) -> None:
        try:
            self._write_item(item)
        except OSError as exc:  # a full disk: the run stops, techval run says why
            self._on_error(exc)

    def _write_item(self, item: Any) -> None:
        redactor = self._redactor()
        for step in _steps(item):
            step.parameters = [p for p in step.parameters if str(p.value) in (step.name or "")]
        raised = raised_class(item) if isinstance(item, TestResult) else None
        redact_strings(item, redactor)
        if raised is not None:
            mark_category(item, raised)
        super()._report_item(item)

    @allure_commons.hookimpl
    def report_attached_data(self, body: str | bytes, file_name: str) -> None:
        if isinstance(body, bytes):
            # techval attaches text only; what is not UTF-8 text is not written at all.
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError:
                body = ""
        try:
            super().report_attached_data(self._redactor().text(body), file_name)
        except OSError as exc:
            self._on_error(exc)

    @allure_commons.hookimpl
    def report_attached_file(self, source: str, file_name: str) -> None:
        text = Path(source).read_text(encoding="utf-8", errors="replace")
        self.report_attached_data(text, file_name)


def category_marker(category: str) -> str:
    """The last line of the trace of a result filed under `category` (what it matches on)."""
    return MARKER.format(category)


def raised_class(result: Any) -> type[BaseException] | None:
    """The exception class an Allure result's statusDetails.message starts with, looked up
    among the modules loaded (nothing is imported); None when there is none."""
    details = getattr(result, "statusDetails", None)
    message = getattr(details, "message", None)
    found = _TYPE_NAME.match(message.split("\n", 1)[0]) if isinstance(message, str) else None
    if found is None:
        return None
    parts = found.group().split(".")
    for split in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:split]))
        if module is None:
            continue
        value: Any = module
        for name in parts[split:]:
            value = getattr(value, name, None)
        if isinstance(value, type) and issubclass(value, BaseException):
            return value
    return None


def mark_category(result: Any, raised: BaseException | type[BaseException] | None) -> None:
    """End the result's statusDetails.trace with the marker of the category of the exception
    (or exception class) it ended with; a result without category is left unmarked."""
    kind = type(raised) if isinstance(raised, BaseException) else raised
    category = category_of_class(kind) if kind is not None else None
    if category is None:
        return
    if result.statusDetails is None:
        result.statusDetails = StatusDetails()
    trace = _MARKER_LINE.sub("", result.statusDetails.trace or "").rstrip("\n")
    marker = category_marker(category)
    result.statusDetails.trace = f"{trace}\n\n{marker}" if trace else marker


def _steps(item: Any) -> list[Any]:
    found: list[Any] = []
    for step in getattr(item, "steps", None) or []:
        found.append(step)
        found.extend(_steps(step))
    return found


def redact_strings(node: Any, redactor: Redactor, depth: int = 0) -> None:
    """Redact, in place, every string held by an object tree of Allure model objects or
    pytest failure representations (their attributes, lists and tuples of them)."""
    if depth > 12 or not hasattr(node, "__dict__"):
        return
    for name, value in vars(node).items():
        if isinstance(value, str):
            object.__setattr__(node, name, redactor.text(value))
        elif isinstance(value, list):
            value[:] = [_redacted(v, redactor, depth) for v in value]
        elif isinstance(value, tuple):
            object.__setattr__(node, name, tuple(_redacted(v, redactor, depth) for v in value))
        else:
            redact_strings(value, redactor, depth + 1)


def _redacted(value: Any, redactor: Redactor, depth: int) -> Any:
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, tuple):
        return tuple(_redacted(v, redactor, depth) for v in value)
    redact_strings(value, redactor, depth + 1)
    return value


def guard_results(redactor: Callable[[], Redactor], on_error: WriteError) -> Callable[[], None]:
    """Put the redacting logger in place of allure's; returns how to undo it (allure's own
    clean-up at exit expects its logger to be registered). A write the file system refuses
    goes to `on_error`."""
    manager = allure_commons.plugin_manager
    original = next((p for p in manager.get_plugins() if type(p) is AllureFileLogger), None)
    if original is None:
        return lambda: None
    name = manager.get_name(original)
    manager.unregister(original)
    guard = RedactingFileLogger(logger_folder(original), redactor, on_error)
    manager.register(guard)

    def restore() -> None:
        manager.unregister(guard)
        manager.register(original, name)

    return restore


def write_globals(folder: Path, attachments: Sequence[tuple[str, str, str, str]]) -> None:
    """techval-globals.json: texts the Allure 3 report shows for the whole run (its global
    attachments), given as (name, text, MIME type, file extension); already redacted."""
    listed = []
    for number, (name, text, mime_type, extension) in enumerate(attachments, start=1):
        source = f"techval-global-{number}-attachment.{extension}"
        (folder / source).write_text(text, encoding="utf-8")
        listed.append({"name": name, "source": source, "type": mime_type})
    target = folder / "techval-globals.json"
    if listed:
        target.write_text(json.dumps({"attachments": listed}, indent=2), encoding="utf-8")
    else:
        target.unlink(missing_ok=True)


def write_environment(folder: Path, entries: Mapping[str, str]) -> None:
    """environment.properties: the Environment / Metadata block of the report."""
    lines = [f"{key}={' '.join(value.split())}" for key, value in entries.items()]
    (folder / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_executor(folder: Path, environ: Mapping[str, str] = os.environ) -> None:
    """executor.json: who ran the suite (the CI build when there is one)."""
    executor: dict[str, Any] = {"name": "techval", "type": "local"}
    if environ.get("GITHUB_ACTIONS") == "true":
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        repository, run_id = environ.get("GITHUB_REPOSITORY", ""), environ.get("GITHUB_RUN_ID", "")
        workflow, number = (
            environ.get("GITHUB_WORKFLOW", "CI"),
            environ.get("GITHUB_RUN_NUMBER", ""),
        )
        url = f"{server}/{repository}/actions/runs/{run_id}"
        executor = {
            "name": "GitHub Actions",
            "type": "github",
            "buildName": f"{workflow} #{number}",
            "buildUrl": url,
            "reportName": "techval evidence",
        }
    (folder / "executor.json").write_text(json.dumps(executor, indent=2), encoding="utf-8")
