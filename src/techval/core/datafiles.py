"""A user's data file (an environment file, a test-patients file) checked against its JSON
Schema: the one most specific problem, as one line naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from techval.core.errors import ConfigError

MAX_DETAIL = 300  # characters of a schema error's text in the one line that names it


def check(data: Any, schema: Path, path: Path, *, values: bool = True) -> None:
    """ConfigError "<path>: <field>: <problem>" when `data` breaks `schema`; `values=False`
    for patient data: the problem names the schema's rule, never the value that broke it."""
    document = json.loads(schema.read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft202012Validator(document).iter_errors(data))
    if not errors:
        return
    # The deepest error is the most specific: a wrong value beats the branch it knocks out.
    error = max(errors, key=lambda e: (len(e.absolute_path), e.validator != "required"))
    detail = (
        describe(error) if values else f"{error.validator} rule broken ({error.validator_value})"
    )
    if len(detail) > MAX_DETAIL:  # jsonschema quotes the whole wrong value
        detail = detail[:MAX_DETAIL] + " ... (cut short)"
    raise ConfigError(f"{path}: {dotted(list(error.absolute_path))}: {detail}")


def dotted(at: tuple[str, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in at) or "(top level)"


def describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return f"unknown key ({error.message})"
    if error.validator == "pattern":
        return f"{error.instance!r} is not in the expected format"
    return str(error.message)
