"""Response drift: the shape of every kind of answer (its field paths and JSON types, never a
value), compared with the last green run. Fields Redox added, removed or retyped are listed
as warnings (verdict.json `drift`, the summary, the console, the report); they fail nothing.
Green here means a run that exited 0 and was not interrupted (passed, or incomplete, e.g.
with --tags or data not applicable, or with only known failures: decided before the
verdict, decide.py).

The shape is taken where the exchange is recorded (harness.run), from the answer as it came
back: redaction changes types (a masked number is a string). An answer kind is the exchange's
kind (Exchange.kind: every page of a search is of its first page's kind, "Patient search" for
"Patient search, page 2"; else its label) with its HTTP class, and "error" for an answer
checked against the error schema (Meta.Errors), so errors never mix with successes. Over a run,
the shapes of one kind are merged (every path seen, every type seen at it); reports/shapes.json
holds them, and a green run keeps them in reports/history/last-green-shapes.json, where kinds
this run did not see keep their earlier shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from techval.core.exchange import Exchange
from techval.core.schemas import ERROR_SCHEMA
from techval.harness.evidence import history
from techval.harness.evidence.decide import Decided
from techval.harness.evidence.section import Attachment
from techval.harness.evidence.verdict import Verdict

HISTORY = "history"
LAST_GREEN = "last-green-shapes.json"
SHAPES = "shapes.json"
KEY = "drift"
MAX_DEPTH = 32  # deeper than any Redox answer; a pathological one is cut, not walked
MAX_PATHS = 2000  # per answer
SHOWN = 20  # drift lines in the console before "and N more"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")

Shape = dict[str, str]  # JSON path ("$.Patients[].Identifiers[].ID") -> type ("string")


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def shape(body: Any, mask: Callable[[str], str] = lambda text: text) -> Shape:
    """Every field path of `body` with its JSON type; list items share the path `[]` and
    their shapes are merged (a path whose items differ in type gets "null|string"). Each key
    goes through `mask` before it is cut short, so no part of a masked value remains."""
    types: dict[str, set[str]] = {}
    pending: list[tuple[str, Any, int]] = [("$", body, 0)]
    while pending and len(types) < MAX_PATHS:
        path, value, depth = pending.pop()
        types.setdefault(path, set()).add(type_name(value))
        if depth >= MAX_DEPTH:
            continue
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                name = mask(str(key))[:80]
                step = f".{name}" if NAME.match(name) else f"[{json.dumps(name)}]"
                pending.append((path + step, item, depth + 1))
        elif isinstance(value, list):
            pending.extend((f"{path}[]", item, depth + 1) for item in reversed(value))
    return {path: "|".join(sorted(found)) for path, found in types.items()}


def answer_kind(exchange: Exchange) -> str:
    """e.g. "PatientSearch.Query HTTP 2xx", "Clinical Summary.DocumentQuery HTTP 2xx error";
    the pages of a search are one kind, their first page's ("Patient search HTTP 2xx")."""
    error = " error" if exchange.schema == ERROR_SCHEMA else ""
    return f"{exchange.kind or exchange.label} HTTP {(exchange.status or 0) // 100}xx{error}"


def shape_of(
    exchange: Exchange, mask: Callable[[str], str] = lambda text: text
) -> dict[str, Any] | None:
    """What the exchange event records of the answer: its kind and shape; None without a
    JSON answer. Field names only: no value of the answer (and `mask` over each path, for an
    answer whose keys are values)."""
    if exchange.status is None or exchange.response_body is None:
        return None
    return {"answer": answer_kind(exchange), "fields": shape(exchange.response_body, mask)}


def merged(shapes: Iterable[Mapping[str, Any]]) -> dict[str, Shape]:
    """The run's shapes by answer kind, merged over its exchanges."""
    kinds: dict[str, dict[str, set[str]]] = {}
    for item in shapes:
        fields = item.get("fields")
        if not isinstance(fields, dict):
            continue
        paths = kinds.setdefault(str(item.get("answer")), {})
        for path, types in fields.items():
            paths.setdefault(str(path), set()).update(str(types).split("|"))
    return {
        kind: {path: "|".join(sorted(types)) for path, types in sorted(paths.items())}
        for kind, paths in sorted(kinds.items())
    }


def compare(current: Mapping[str, Shape], earlier: Mapping[str, Any] | None) -> dict[str, Any]:
    """Added, removed and retyped fields of the answer kinds both runs saw."""
    drift: dict[str, Any] = {
        "against": None,
        "compared": 0,
        "added": [],
        "removed": [],
        "changed": [],
    }
    answers = (earlier or {}).get("answers")
    if not isinstance(answers, dict):
        return drift
    drift["against"] = {
        "finished_at": (earlier or {}).get("finished_at"),
        "git_revision": (earlier or {}).get("git_revision"),
    }
    for kind, now in current.items():
        then = answers.get(kind)
        if not isinstance(then, dict):
            continue
        drift["compared"] += 1
        for path, type_ in now.items():
            if path not in then:
                drift["added"].append({"answer": kind, "path": path, "type": type_})
            elif then[path] != type_:
                drift["changed"].append(
                    {"answer": kind, "path": path, "was": then[path], "now": type_}
                )
        drift["removed"] += [
            {"answer": kind, "path": path, "type": type_}
            for path, type_ in then.items()
            if path not in now
        ]
    return drift


def wrong_shape(document: dict[str, Any]) -> str | None:
    """What makes `document` not the shapes of a green run (answer kind -> path -> type)."""
    answers = document.get("answers")
    if not isinstance(answers, dict):
        return "answers is not an object"
    for kind, fields in answers.items():
        if not isinstance(fields, dict) or not all(isinstance(t, str) for t in fields.values()):
            return f"answers[{json.dumps(kind)[:80]}] is not an object of field types"
    return None


def lines_of(drift: Mapping[str, Any]) -> list[str]:
    """One line per drifted field: `+` added, `-` removed, `~` type changed."""
    return (
        [f"+ {d['answer']}: {d['path']} ({d['type']})" for d in drift.get("added", [])]
        + [f"- {d['answer']}: {d['path']} ({d['type']})" for d in drift.get("removed", [])]
        + [
            f"~ {d['answer']}: {d['path']} ({d['was']} -> {d['now']})"
            for d in drift.get("changed", [])
        ]
    )


def headline(drift: Mapping[str, Any]) -> str:
    against = drift.get("against") or {}
    counts = [
        f"{len(drift.get('added', []))} added",
        f"{len(drift.get('removed', []))} removed",
        f"{len(drift.get('changed', []))} type changed",
    ]
    return (
        f"Response drift since the last green run ({against.get('finished_at')}, "
        f"{against.get('git_revision')}): {', '.join(counts)} (warnings, not failures)"
    )


class ResponseDrift:
    """The section: `drift` in the verdict; the shapes in shapes.json and the history."""

    reads: tuple[str, ...] = ()
    adds = (KEY,)

    def apply(
        self, verdict: Verdict, earlier: Mapping[str, Any], decided: Decided, reports: Path
    ) -> dict[str, Any]:
        current = merged(decided.found.shapes)
        folder = reports / HISTORY
        green_before = history.read(folder / LAST_GREEN, wrong_shape)  # before this run replaces it
        part = {KEY: compare(current, green_before)}
        reports.mkdir(parents=True, exist_ok=True)
        (reports / SHAPES).write_text(
            json.dumps({"answers": current}, indent=1, ensure_ascii=False) + "\n", "utf-8"
        )
        if verdict.exit_code() != 0 or verdict.interrupted:
            return part
        kept = (green_before or {}).get("answers")
        green = {
            "finished_at": verdict.finished_at,
            "git_revision": verdict.environment.get("git_revision"),
            "answers": (kept if isinstance(kept, dict) else {}) | current,
        }
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(green, indent=1, ensure_ascii=False) + "\n"
        history.write(folder / LAST_GREEN, text)
        return part

    def summary(self, result: Mapping[str, Any]) -> list[str]:
        drift = result.get(KEY) or {}
        found = lines_of(drift)
        if not found:
            return []
        return [
            "",
            "## Response drift",
            "",
            headline(drift),
            "",
            *(f"- `{line}`" for line in found),
        ]

    def console(self, result: Mapping[str, Any], reports: Path) -> list[str]:
        drift = result.get(KEY) or {}
        found = lines_of(drift)
        if not found:
            return []
        more = (
            [f"  ... and {len(found) - SHOWN} more in verdict.json"] if len(found) > SHOWN else []
        )
        return [headline(drift), *(f"  {line}" for line in found[:SHOWN]), *more]

    def attachments(self, result: Mapping[str, Any]) -> list[Attachment]:
        drift = result.get(KEY) or {}
        found = lines_of(drift)
        if not found:
            return []
        text = "\n".join(["# Response drift", "", headline(drift), "", "```", *found, "```"])
        return [Attachment("Response drift", text + "\n")]


SECTION = ResponseDrift()
