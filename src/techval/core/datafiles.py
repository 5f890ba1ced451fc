"""A user's data file (an environment file, a test-patients file) checked against its JSON
Schema: the one most specific problem, as one line naming the file and the field."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from techval.core.errors import ConfigError
from techval.core.schemas import RustSchemas, compiled_validator

if TYPE_CHECKING:  # imported when a file breaks its schema: a run need not load jsonschema
    import jsonschema

MAX_DETAIL = 300  # characters of a schema error's text in the one line that names it


def check(data: Any, schema: Path, path: Path, *, values: bool = True) -> None:
    """ConfigError "<path>: <field>: <problem>" when `data` breaks `schema`; `values=False`
    for patient data: the problem names the schema's rule, never the value that broke it."""
    text = schema.read_bytes()
    document = json.loads(text.decode("utf-8"))
    if _valid(document, data, hashlib.blake2b(text, digest_size=16).digest()):
        return
    from jsonschema import Draft202012Validator

    errors = list(Draft202012Validator(document).iter_errors(data))
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


def _valid(document: Any, data: Any, digest: bytes) -> bool:
    """jsonschema-rs's yes, where it judges as jsonschema does (schemas.RustSchemas), the
    schema compiled once a process (`digest`: of its text); False when it says no or cannot
    judge: jsonschema then finds the problem, or that there is none."""
    base = document.get("$id", "") if isinstance(document, dict) else ""
    validator = compiled_validator(
        (digest, "data file"),
        lambda: RustSchemas({base: document} if base else {}).port(document, base),
    )
    try:
        return validator is not None and bool(validator.is_valid(data))
    except ValueError:  # data Rust cannot read (a lone surrogate, a key not a string)
        return False


def dotted(at: tuple[str, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in at) or "(top level)"


def describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return f"unknown key ({error.message})"
    if error.validator == "pattern":
        return f"{error.instance!r} is not in the expected format"
    return str(error.message)
