"""JSON Schemas of the Redox messages: find the right one for a message and validate.

Schemas live in schemas/<DataModel>.<EventType>[.response].json, with shared pieces in
schemas/common/. Validators are compiled once per schema. Violation texts never quote the
offending value: a value may be patient data or a secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from techval.paths import project_root

ERROR_SCHEMA = "common/error.response"


@dataclass(frozen=True)
class Violation:
    path: str  # JSONPath of the offending place, e.g. $.Organizations[0].Active
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class UnknownMessage(LookupError):
    """No schema exists for this DataModel/EventType."""


def schema_name(data_model: str, event_type: str, *, response: bool = False) -> str:
    """File stem of a message's schema; "Clinical Summary" is written ClinicalSummary."""
    stem = f"{data_model.replace(' ', '')}.{event_type}"
    return f"{stem}.response" if response else stem


def json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _type_name(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return names.get(type(value), type(value).__name__)


def describe(error: jsonschema.ValidationError) -> Violation:
    """A Violation for one jsonschema error, phrased without the instance value."""
    path = list(error.absolute_path)
    kind = error.validator
    schema: Any = error.schema
    if kind == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else "?"
        return Violation(json_path([*path, missing]), "required field missing")
    if kind == "type":
        return Violation(
            json_path(path), f"expected {schema['type']}, got {_type_name(error.instance)}"
        )
    if kind == "pattern":
        what = schema.get("description") if isinstance(schema, dict) else None
        return Violation(json_path(path), f"is not {what}" if what else "has the wrong format")
    if kind == "enum":
        return Violation(json_path(path), f"must be one of {error.validator_value}")
    if kind == "const":
        return Violation(json_path(path), f"must be {error.validator_value!r}")
    if kind in {"minItems", "minLength"}:
        return Violation(json_path(path), f"must not be empty ({kind} {error.validator_value})")
    if kind == "contains":
        return Violation(json_path(path), "has no entry of the required kind (see the schema)")
    if kind in {"oneOf", "anyOf"} and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return describe(best)
    return Violation(json_path(path), f"breaks the schema rule '{kind}'")


class SchemaRegistry:
    """All message schemas of one schemas/ folder, compiled on first use."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or project_root() / "schemas"
        self._validators: dict[str, jsonschema.protocols.Validator] = {}

    @cached_property
    def _documents(self) -> dict[str, dict[str, Any]]:
        documents = {}
        for path in sorted(self.folder.rglob("*.json")):
            stem = path.relative_to(self.folder).with_suffix("").as_posix()
            documents[stem] = json.loads(path.read_text(encoding="utf-8"))
        return documents

    @cached_property
    def _registry(self) -> Registry:
        resources = [
            (doc["$id"], Resource.from_contents(doc))
            for doc in self._documents.values()
            if "$id" in doc
        ]
        return Registry().with_resources(resources)

    def names(self) -> list[str]:
        return [n for n in self._documents if "/" not in n]

    def validator(self, name: str) -> jsonschema.protocols.Validator:
        if name not in self._validators:
            try:
                schema = self._documents[name]
            except KeyError:
                raise UnknownMessage(f"no schema {name}.json in {self.folder}") from None
            self._validators[name] = jsonschema.Draft202012Validator(
                schema, registry=self._registry
            )
        return self._validators[name]

    def validate(self, name: str, document: Any) -> list[Violation]:
        try:
            violations = {describe(e) for e in self.validator(name).iter_errors(document)}
        except RecursionError:  # a hostile or broken body: report it, do not crash on it
            return [Violation("$", "nested too deeply to check")]
        return sorted(violations, key=lambda v: (v.path, v.message))

    def schema_for(self, message: Any, *, response: bool = False) -> str:
        """The schema name picked from a message's Meta.DataModel and Meta.EventType."""
        meta = message.get("Meta") if isinstance(message, dict) else None
        if not isinstance(meta, dict):
            raise UnknownMessage(
                "$.Meta: required field missing, cannot tell which message this is"
            )
        data_model, event_type = meta.get("DataModel"), meta.get("EventType")
        if not isinstance(data_model, str) or not isinstance(event_type, str):
            raise UnknownMessage(
                "$.Meta.DataModel and $.Meta.EventType must be strings to pick a schema"
            )
        name = schema_name(data_model, event_type, response=response)
        if name not in self._documents:
            kind = "response" if response else "request"
            raise UnknownMessage(f"no {kind} schema for {data_model}.{event_type} ({name}.json)")
        return name

    def validate_message(self, message: Any, *, response: bool = False) -> list[Violation]:
        """Validate a whole message against the schema its own Meta names."""
        return self.validate(self.schema_for(message, response=response), message)
