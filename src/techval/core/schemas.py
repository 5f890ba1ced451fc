"""JSON Schemas of the Redox messages: find the right one for a message and validate.

Schemas live in schemas/<DataModel>.<EventType>[.response].json, with shared pieces in
schemas/common/; FHIR resources' in schemas/fhir/<Resource>.json (named "fhir/Patient",
"fhir/Bundle.searchset", ...), picked by the caller, not by `schema_for`. Validators are
compiled once per schema. Violation texts never quote the offending value: a value may be
patient data or a secret.

Two validators per schema: jsonschema-rs (compiled Rust, some 100 times faster) says whether a
message is valid; only an invalid one goes through jsonschema, whose errors make the
Violations, so every text stays jsonschema's. jsonschema-rs is used only where it cannot judge
differently: its copy of a schema has every $ref inlined and every pattern rewritten to mean
what Python's re makes of it (`rust_pattern`); any other schema is left to jsonschema alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin

import jsonschema_rs

from techval.core.paths import project_root
from techval.core.verifies import verifies

if TYPE_CHECKING:  # jsonschema is imported when a message breaks its schema (a run rarely)
    import jsonschema
    from referencing import Registry

ERROR_SCHEMA = "common/error.response"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class Violation:
    path: str  # JSONPath of the offending place, e.g. $.Organizations[0].Active
    message: str
    # the requirements the rule that found it verifies, and that rule ("module.qualname"):
    # set by @verifies on a rule that returns its violations (verifies.py), not compared
    requirements: tuple[str, ...] = field(default=(), compare=False)
    check: str | None = field(default=None, compare=False)

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
        from jsonschema.exceptions import best_match

        best = best_match(error.context)
        return describe(best)
    return Violation(json_path(path), f"breaks the schema rule '{kind}'")


# Python's \s in a str pattern: the characters str.isspace() accepts (a test compares them).
# Rust's \s is another set: no U+001C-U+001F or U+0085, but U+FEFF.
PYTHON_WHITESPACE = r"\t-\r\x1C-\x20\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
# Escaped, these are the same literal in both engines.
_ESCAPED_LITERALS = frozenset(r".^$*+?()[]{}|\/-")
_PART = re.compile(r"\\.?|\[\^?\]?|\{[0-9]+(,[0-9]*)?\}\+?|[*+?]\+|&&|--|~~|\(\?:?|.", re.DOTALL)
# Keywords whose value is a schema, a list of schemas, or names (or patterns) to schemas.
_SUBSCHEMA = frozenset(
    {"additionalProperties", "propertyNames", "items", "contains", "not", "if", "then", "else"}
    | {"unevaluatedItems", "unevaluatedProperties"}
)
_SUBSCHEMA_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_MAP = frozenset({"properties", "dependentSchemas"})
# Not followed by the inlining, or not asserted alike by the two (multipleOf: jsonschema's
# float division refuses 0.07 as a multiple of 0.01, jsonschema-rs accepts it).
_NOT_PORTED = frozenset(
    {"$dynamicRef", "$recursiveRef", "contentEncoding", "contentMediaType", "multipleOf"}
)


class NotPortable(ValueError):
    """jsonschema-rs could judge this schema or pattern differently from jsonschema."""


def rust_pattern(pattern: str) -> str:
    """`pattern` for jsonschema-rs, matching what Python's re.search matches. NotPortable for
    syntax beyond the plain subset the schemas use: literals, classes, groups, alternation,
    greedy and lazy quantifiers, escaped punctuation, \\s, ., ^ and a final $."""
    parts = [m.group() for m in _PART.finditer(pattern)]
    out: list[str] = []
    in_class = False
    for index, part in enumerate(parts):
        if part.startswith("\\"):
            if part == r"\s":
                part = PYTHON_WHITESPACE if in_class else f"[{PYTHON_WHITESPACE}]"
            elif part[1:] not in _ESCAPED_LITERALS:
                raise NotPortable(pattern)
        elif in_class:
            # Rust reads [ inside a class as a nested class, && -- ~~ as set operations.
            if part.startswith("[") or part in {"&&", "--", "~~"}:
                raise NotPortable(pattern)
            in_class = part != "]"
        elif part.startswith("["):
            if part.endswith("]"):
                raise NotPortable(pattern)  # a leading ] is a literal in Python only
            in_class = True
        elif part == "$":
            if index != len(parts) - 1:
                raise NotPortable(pattern)
            part = r"\n?\z"  # Python's $ also matches just before a final newline
        elif part == ".":
            part = r"[^\n]"
        elif part in {"(?", "{", "}"} or (len(part) > 1 and part.endswith("+")):
            raise NotPortable(pattern)  # lookarounds and flags; a bare brace; possessive
        out.append(part)
    if in_class:
        raise NotPortable(pattern)
    return "".join(out)


class RustSchemas:
    """Copies of the schemas of one folder for jsonschema-rs: every $ref inlined, as an allOf
    entry so that its siblings still apply, every pattern rewritten by `rust_pattern`.
    NotPortable where jsonschema-rs could judge differently: a recursive $ref (Rust would
    overflow its stack on a deep message where jsonschema raises RecursionError), a keyword in
    _NOT_PORTED, a pattern `rust_pattern` refuses."""

    def __init__(self, resources: Mapping[str, Any]) -> None:
        self.resources = resources  # documents by $id
        self._inlined: dict[str, Any] = {}  # by absolute $ref: each is ported once

    def port(self, schema: Any, base: str, within: frozenset[str] = frozenset()) -> Any:
        """A copy of `schema`, read at URI `base`, inside the $refs `within` being inlined."""
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, dict):
            raise NotPortable(f"not a 2020-12 schema: {type(schema).__name__}")

        def port(value: Any) -> Any:
            return self.port(value, base, within)

        ported: dict[str, Any] = {}
        for key, value in schema.items():
            if (
                key in _NOT_PORTED
                or (key == "$id" and urljoin(base, value) != base)  # a nested resource
                or (key == "$schema" and value != DRAFT_2020_12)
            ):
                raise NotPortable(key)
            if key == "$ref":
                ported["allOf"] = [
                    *ported.get("allOf", []),
                    self._ref(urljoin(base, value), within),
                ]
            elif key == "pattern":
                ported[key] = rust_pattern(value)
            elif key == "patternProperties":
                ported[key] = {rust_pattern(k): port(v) for k, v in value.items()}
            elif key in _SUBSCHEMA_MAP:
                ported[key] = {k: port(v) for k, v in value.items()}
            elif key in _SUBSCHEMA_LIST:
                ported[key] = [*ported.get(key, []), *(port(v) for v in value)]
            elif key in _SUBSCHEMA:
                ported[key] = port(value)
            elif key not in {"$id", "$schema", "$defs"}:  # every use of $defs is inlined
                ported[key] = value
        return ported

    def _ref(self, uri: str, within: frozenset[str]) -> Any:
        if uri in within:
            raise NotPortable(f"recursive $ref {uri}")
        if uri not in self._inlined:  # ported without a cycle once: without one everywhere
            document, _, pointer = uri.partition("#")
            target = _resolve(self.resources, document, pointer)
            self._inlined[uri] = self.port(target, document, within | {uri})
        return self._inlined[uri]


def _resolve(resources: Mapping[str, Any], document: str, pointer: str) -> Any:
    """The subschema at a JSON Pointer fragment of a document; NotPortable when absent (an
    anchor, a document outside the folder)."""
    if pointer and not pointer.startswith("/"):
        raise NotPortable(f"anchor {pointer}")
    try:
        node = resources[document]
        for token in pointer.split("/")[1:] if pointer else []:
            token = unquote(token).replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
    except (KeyError, IndexError, ValueError, TypeError):
        raise NotPortable(f"cannot resolve {document}#{pointer}") from None
    return node


# The jsonschema-rs validators compiled in this process, by the content of their folder and
# their name: each schema is compiled once a process, however many registries read its folder
# (a run has one; the harness's tests, the bench and a long-lived caller have many).
_COMPILED: dict[tuple[bytes, str], jsonschema_rs.Validator | None] = {}
MAX_COMPILED = 1000  # validators kept, at most (then they are compiled anew)
_NOT_COMPILED: Any = object()


def compiled_validator(
    key: tuple[bytes, str], ported: Callable[[], Any]
) -> jsonschema_rs.Validator | None:
    """The jsonschema-rs validator kept for `key` (a digest of the schemas it is built from,
    and a name), else compiled from `ported()` (RustSchemas.port) and kept; None where the
    schema cannot be ported or Rust cannot compile a pattern (jsonschema judges alone)."""
    compiled = _COMPILED.get(key, _NOT_COMPILED)  # one lookup: another thread may clear
    if compiled is _NOT_COMPILED:
        try:
            compiled = jsonschema_rs.Draft202012Validator(
                ported(), validate_formats=False, offline=True
            )
        except ValueError:  # NotPortable, or a pattern Rust cannot compile
            compiled = None
        if len(_COMPILED) >= MAX_COMPILED:
            _COMPILED.clear()
        _COMPILED[key] = compiled
    return compiled  # type: ignore[no-any-return]


@verifies("API-06", "API-08", "FHIR-01")
class SchemaRegistry:
    """All message schemas of one schemas/ folder, compiled on first use."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or project_root() / "schemas"
        self._validators: dict[str, jsonschema.protocols.Validator] = {}
        self._fast: dict[str, jsonschema_rs.Validator | None] = {}
        self._content = b""  # a digest of every file of the folder, as read

    @cached_property
    def _documents(self) -> dict[str, dict[str, Any]]:
        documents = {}
        digest = hashlib.blake2b(digest_size=16)
        for path in sorted(self.folder.rglob("*.json")):
            stem = path.relative_to(self.folder).with_suffix("").as_posix()
            text = path.read_bytes()
            digest.update(f"{stem}\0{len(text)}\0".encode())
            digest.update(text)
            documents[stem] = json.loads(text.decode("utf-8"))
        self._content = digest.digest()
        return documents

    @cached_property
    def _registry(self) -> Registry:
        from referencing import Registry, Resource

        resources = [
            (doc["$id"], Resource.from_contents(doc))
            for doc in self._documents.values()
            if "$id" in doc
        ]
        return Registry().with_resources(resources)

    @cached_property
    def _rust(self) -> RustSchemas:
        return RustSchemas({doc["$id"]: doc for doc in self._documents.values() if "$id" in doc})

    def names(self) -> list[str]:
        return [n for n in self._documents if "/" not in n]

    def validator(self, name: str) -> jsonschema.protocols.Validator:
        if name not in self._validators:
            from jsonschema import Draft202012Validator

            self._validators[name] = Draft202012Validator(
                self._schema(name), registry=self._registry
            )
        return self._validators[name]

    def _schema(self, name: str) -> dict[str, Any]:
        try:
            return self._documents[name]
        except KeyError:
            raise UnknownMessage(f"no schema {name}.json in {self.folder}") from None

    def fast_validator(self, name: str) -> jsonschema_rs.Validator | None:
        """The jsonschema-rs validator of a schema; None where it could judge differently
        from jsonschema (see `RustSchemas`)."""
        if name not in self._fast:
            schema = self._schema(name)
            compiled = compiled_validator(
                (self._content, name), lambda: self._rust.port(schema, schema.get("$id", ""))
            )
            self._fast[name] = compiled
        return self._fast[name]

    def validate(self, name: str, document: Any) -> list[Violation]:
        fast = self.fast_validator(name)
        try:
            if fast is not None and fast.is_valid(document):
                return []
        except ValueError:  # not JSON to Rust (a lone surrogate, a key not a string)
            pass
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
