"""The message schemas: strict where Redox is strict, tolerant where it is tolerant."""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from techval.core.config import Settings
from techval.core.schemas import (
    DRAFT_2020_12,
    ERROR_SCHEMA,
    PYTHON_WHITESPACE,
    NotPortable,
    SchemaRegistry,
    UnknownMessage,
    Violation,
    describe,
    rust_pattern,
    schema_name,
)
from techval.validation import organization, search
from techval.validation.patients import load_patients
from tests.helpers import REDOX_GATEWAY, ROOT, in_process_client, settings_for

REGISTRY = SchemaRegistry(ROOT / "schemas")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def query_response() -> dict[str, Any]:
    return {
        "Meta": {
            "DataModel": "Organization",
            "EventType": "Query",
            "Logs": [{"ID": 1234567890}],
            "Message": {"ID": 41962259},
        },
        "Directory": "Carequality",
        "Organizations": [
            {
                "Active": True,
                "Name": "Redox",
                "Identifiers": [{"ID": "2.16.840.1.113883.3.6147.458.2", "IDType": "OID"}],
                "Address": {"StreetAddress": None, "City": "Madison"},
                "ManagingOrg": None,
                "SomethingNewer": {"x": 1},
            }
        ],
        "Paging": {"Count": 1, "Index": 0},
    }


@pytest.mark.parametrize("path", sorted((ROOT / "schemas").rglob("*.json")), ids=lambda p: p.name)
def test_every_schema_is_valid_draft_2020_12_with_its_own_id(path: Path) -> None:
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(path.relative_to(ROOT / "schemas").as_posix())


def test_schema_names_follow_the_convention() -> None:
    assert schema_name("Clinical Summary", "DocumentQuery") == "ClinicalSummary.DocumentQuery"
    assert schema_name("Organization", "Query", response=True) == "Organization.Query.response"


def test_built_messages_conform(test_settings: Settings) -> None:
    profile = test_settings.organizations[0]
    for message in (
        organization.new_message(test_settings, profile),
        organization.update_message(test_settings, profile, active=False),
        organization.query_message(test_settings, profile.oid),
    ):
        assert REGISTRY.validate_message(message) == []


def mutate(message: dict[str, Any], path: list[Any], value: Any = ...) -> dict[str, Any]:
    changed = copy.deepcopy(message)
    target = changed
    for part in path[:-1]:
        target = target[part]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["Organizations", 0, "Name"], ..., "$.Organizations[0].Name: required field missing"),
        (["Organizations", 0, "Active"], "yes", "$.Organizations[0].Active: expected boolean"),
        (["Organizations", 0, "Identifiers", 0, "ID"], "2.16.840.01", "is not an ISO OID"),
        (
            ["Organizations", 0, "Identifiers"],
            [],
            "$.Organizations[0].Identifiers: must not be empty",
        ),
        (["Directory"], "CommonWell", "$.Directory: must be one of ['Carequality']"),
        (["Meta", "Destinations"], ..., "$.Meta.Destinations: required field missing"),
        (
            ["Meta", "Destinations", 0, "ID"],
            "destination-1",
            "$.Meta.Destinations[0].ID: is not a UUID",
        ),
        (["Meta", "EventType"], "Update", "$.Meta.EventType: must be 'New'"),
    ],
)
def test_nonconforming_requests_name_the_field(
    test_settings: Settings, path: list[Any], value: Any, expected: str
) -> None:
    message = organization.new_message(test_settings, test_settings.organizations[0])
    violations = REGISTRY.validate("Organization.New", mutate(message, path, value))
    assert any(expected in str(v) for v in violations), violations


def test_update_requires_action(test_settings: Settings) -> None:
    message = organization.update_message(test_settings, test_settings.organizations[0])
    violations = REGISTRY.validate("Organization.Update", mutate(message, ["Action"]))
    assert [str(v) for v in violations] == ["$.Action: required field missing"]


def test_query_response_tolerates_nulls_extra_fields_and_legacy_meta() -> None:
    assert REGISTRY.validate("Organization.Query.response", query_response()) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["Organizations"], ..., "$.Organizations: required field missing"),
        (["Directory"], ..., "$.Directory: required field missing"),
        (
            ["Organizations", 0, "Active"],
            "true",
            "$.Organizations[0].Active: expected boolean, got string",
        ),
        (["Organizations", 0, "Name"], None, "$.Organizations[0].Name: expected string, got null"),
        (["Paging", "Count"], "one", "$.Paging.Count: expected"),
        (["Meta"], ..., "$.Meta: required field missing"),
    ],
)
def test_nonconforming_responses_name_the_field(path: list[Any], value: Any, expected: str) -> None:
    violations = REGISTRY.validate(
        "Organization.Query.response", mutate(query_response(), path, value)
    )
    assert any(expected in str(v) for v in violations), violations


def test_response_event_type_is_not_asserted() -> None:
    for event_type in ("Query", "QueryResponse"):
        response = mutate(query_response(), ["Meta", "EventType"], event_type)
        assert REGISTRY.validate("Organization.Query.response", response) == []


def test_violations_never_quote_the_value() -> None:
    secret_value = "Bixby-Timothy-0000000001"
    response = mutate(query_response(), ["Organizations", 0, "Active"], secret_value)
    text = " ".join(str(v) for v in REGISTRY.validate("Organization.Query.response", response))
    assert secret_value not in text


def test_message_without_meta_or_schema_is_unknown() -> None:
    with pytest.raises(UnknownMessage, match=r"\$\.Meta: required"):
        REGISTRY.schema_for({"Directory": "Carequality"})
    with pytest.raises(UnknownMessage, match="no request schema for Organization.Delete"):
        REGISTRY.schema_for({"Meta": {"DataModel": "Organization", "EventType": "Delete"}})


def test_error_schema_accepts_sparse_redox_errors() -> None:
    sparse = {
        "Meta": {
            "Errors": [
                {
                    "ID": 531806,
                    "Text": "Could not find any documents.",
                    "Type": "query",
                    "Module": "Send",
                }
            ]
        }
    }
    assert REGISTRY.validate("common/error.response", sparse) == []
    assert REGISTRY.validate("common/error.response", {"Meta": {"Errors": []}}) != []


# The fast path: jsonschema-rs says "valid"; jsonschema explains an invalid message.

TRICKY_STRINGS = [
    "",
    "2.16.840.1.113883.3.6147.458.2\n",  # Python's $ matches before a final newline
    "2.16.840.1.113883.3.6147.458.2\n\n",
    "5e8b3f0a-2c1d-4e6f-9a7b-0c1d2e3f4a5b\n",
    "2008-01-06\n",
    "https://clinic.example/fhir\x1c",  # whitespace to Python's \s, not to Rust's
    "https://clinic.example/\x85x",
    "https://clinic.example/\ufeffx",  # whitespace to Rust's \s, not to Python's
    "/documents/\u3000",
    "\ud800",  # a lone surrogate: not UTF-8, Rust cannot read it
    "١٢٣",  # Arabic-Indic digits
]


def jsonschema_only(registry: SchemaRegistry, name: str, document: Any) -> list[Violation]:
    """The Violations as the registry made them before jsonschema-rs: jsonschema alone."""
    found = {describe(e) for e in registry.validator(name).iter_errors(document)}
    return sorted(found, key=lambda v: (v.path, v.message))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Any]]:
    """Schema names and documents: messages the harness builds and the simulator's answers."""
    settings = settings_for(tmp_path_factory.mktemp("corpus"))
    client = in_process_client(settings)
    profile = settings.organizations[0]
    patient = next(iter(load_patients(settings.test_patients).values()))
    for message in (
        organization.query_message(settings, REDOX_GATEWAY),
        organization.new_message(settings, profile),
        organization.update_message(settings, profile, active=False),
        search.demographics_query(settings, patient),
    ):
        client.send(message)
    sent = [e for e in client.exchanges if e.label != "token"]
    documents = [(REGISTRY.schema_for(e.request_body), e.request_body) for e in sent]
    documents += [(e.schema, e.response_body) for e in sent if e.schema]
    documents.append(("Organization.Query.response", query_response()))
    assert all(REGISTRY.validate(name, document) == [] for name, document in documents)
    return documents


def places(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a document, the document itself first."""
    found = [path]
    if isinstance(document, dict):
        for key, value in document.items():
            found += places(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += places(value, (*path, index))
    return found


def test_every_schema_has_a_fast_validator() -> None:
    # Without one a schema is still checked right, by jsonschema alone, some 100 times slower.
    assert [n for n in REGISTRY.names() if REGISTRY.fast_validator(n) is None] == []
    assert REGISTRY.fast_validator(ERROR_SCHEMA) is not None


def test_valid_messages_never_reach_jsonschema(
    corpus: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = SchemaRegistry(ROOT / "schemas")

    def refuse(name: str) -> None:
        raise AssertionError(f"{name}: a valid message went to jsonschema")

    monkeypatch.setattr(registry, "validator", refuse)
    for name, document in corpus:
        assert registry.validate(name, document) == []


@pytest.mark.parametrize("value", [..., None, 1.5, *TRICKY_STRINGS])
def test_broken_messages_get_jsonschemas_violations(
    corpus: list[tuple[str, Any]], value: Any
) -> None:
    """Each field deleted, or made null or a number, or (each string) an odd string: both
    validators agree on whether it is valid, and the Violations are jsonschema's."""
    for name, document in corpus:
        fast = REGISTRY.fast_validator(name)
        assert fast is not None
        for path in places(document)[1:]:
            if isinstance(value, str) and not isinstance(lookup(document, path), str):
                continue
            broken = mutate(document, list(path), value)
            expected = jsonschema_only(REGISTRY, name, broken)
            assert REGISTRY.validate(name, broken) == expected, (name, path)
            with contextlib.suppress(ValueError):  # a lone surrogate: Rust cannot read it
                assert fast.is_valid(broken) == (expected == []), (name, path, value)


def lookup(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_both_validators_agree_on_random_changes(
    corpus: list[tuple[str, Any]], data: st.DataObject
) -> None:
    name, document = data.draw(st.sampled_from(corpus))
    value = data.draw(st.sampled_from(TRICKY_STRINGS[:-2]) | JSON_VALUES | st.just(...))
    path = data.draw(st.sampled_from(places(document)[1:]))
    broken = mutate(document, list(path), value)
    fast = REGISTRY.fast_validator(name)
    assert fast is not None
    assert fast.is_valid(broken) == (jsonschema_only(REGISTRY, name, broken) == [])


def schema_patterns() -> list[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("pattern"), str):
                found.add(value["pattern"])
            found.update(value.get("patternProperties", {}))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in (ROOT / "schemas").rglob("*.json"):
        walk(json.loads(path.read_text()))
    return sorted(found)


@functools.cache
def pattern_checks(pattern: str) -> tuple[Any, st.SearchStrategy[str]]:
    """A pattern's validator and the texts to try on it, made once for all its examples."""
    rust = jsonschema_rs.Draft202012Validator({"pattern": rust_pattern(pattern)})
    return rust, st.from_regex(pattern) | st.text()


@pytest.mark.parametrize("pattern", schema_patterns())
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_schema_pattern_matches_as_in_python(pattern: str, data: st.DataObject) -> None:
    rust, texts = pattern_checks(pattern)
    text = data.draw(texts)
    where = data.draw(st.integers(0, len(text)))
    odd = data.draw(st.sampled_from(["", "\n", "\x1c", "\x85", "\ufeff", "\u3000", " ", "/"]))
    for candidate in (text, text[:where] + odd + text[where:]):
        assert rust.is_valid(candidate) == (re.search(pattern, candidate) is not None)


def test_python_whitespace_is_what_re_calls_whitespace() -> None:
    every = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, sys.maxunicode + 1)))
    spaces = re.findall(r"\s", every)
    assert re.findall(rf"[{PYTHON_WHITESPACE}]", every) == spaces
    rust = jsonschema_rs.Draft202012Validator({"pattern": rf"^[^{PYTHON_WHITESPACE}]*\z"})
    assert rust.is_valid(re.sub(r"\s", "", every))
    assert not any(rust.is_valid(space) for space in spaces)


@pytest.mark.parametrize(
    ("pattern", "rust"),
    [
        (r"^[0-9]+$", r"^[0-9]+\n?\z"),
        (r"^a\.b|c$", r"^a\.b|c\n?\z"),
        (r"^(?:x|y)+[^\s/]{2,5}?.$", rf"^(?:x|y)+[^{PYTHON_WHITESPACE}/]{{2,5}}?[^\n]\n?\z"),
        (r"\s", f"[{PYTHON_WHITESPACE}]"),
        (r"[$.(]", r"[$.(]"),
    ],
)
def test_rust_pattern_spells_out_pythons_meaning(pattern: str, rust: str) -> None:
    assert rust_pattern(pattern) == rust


@pytest.mark.parametrize(
    "pattern",
    [
        *[r"^\d+$", r"\w", r"\bx", r"a(?=b)", r"(?i)a", r"(?P<n>a)", r"a$b", r"[[a]]"],
        *[r"[a--b]", r"[a&&b]", r"[]a]", r"a*+", r"a{2}+", r"a{,3}", r"a}", "[a", "a\\"],
    ],
)
def test_rust_pattern_refuses_what_it_cannot_promise(pattern: str) -> None:
    with pytest.raises(NotPortable):
        rust_pattern(pattern)


def write_schema(folder: Path, name: str, schema: dict[str, Any]) -> None:
    schema = {"$schema": DRAFT_2020_12, "$id": f"https://schemas.test/{name}.json", **schema}
    (folder / f"{name}.json").write_text(json.dumps(schema))


@pytest.mark.parametrize(
    ("schema", "valid", "invalid"),
    [
        ({"properties": {"N": {"pattern": r"^\d+$"}}}, {"N": "١٢٣"}, {"N": "x"}),  # \d: Unicode
        ({"properties": {"N": {"multipleOf": 0.01}}}, {"N": 0.5}, {"N": 0.07}),
    ],
    ids=["digits", "multiple-of"],
)
def test_a_schema_rust_could_judge_otherwise_is_left_to_jsonschema(
    tmp_path: Path, schema: dict[str, Any], valid: Any, invalid: Any
) -> None:
    write_schema(tmp_path, "Test.Odd", schema)
    registry = SchemaRegistry(tmp_path)
    assert registry.fast_validator("Test.Odd") is None
    assert registry.validate("Test.Odd", valid) == []
    assert registry.validate("Test.Odd", invalid) == jsonschema_only(registry, "Test.Odd", invalid)
    assert registry.validate("Test.Odd", invalid) != []


def test_a_recursive_schema_is_left_to_jsonschema_and_deep_documents_do_not_crash(
    tmp_path: Path,
) -> None:
    write_schema(
        tmp_path,
        "Test.Tree",
        {"$ref": "#/$defs/node", "$defs": {"node": {"type": "array", "items": {"$ref": "#"}}}},
    )
    registry = SchemaRegistry(tmp_path)
    assert registry.fast_validator("Test.Tree") is None
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    assert registry.validate("Test.Tree", deep) == [Violation("$", "nested too deeply to check")]


def test_a_ref_with_siblings_keeps_both(tmp_path: Path) -> None:
    write_schema(
        tmp_path,
        "Test.Siblings",
        {
            "$defs": {"list": {"type": "array", "items": {"type": "string"}}},
            "properties": {"L": {"$ref": "#/$defs/list", "minItems": 1}},
        },
    )
    registry = SchemaRegistry(tmp_path)
    fast = registry.fast_validator("Test.Siblings")
    assert fast is not None and fast.is_valid({"L": ["a"]})
    assert not fast.is_valid({"L": []}) and not fast.is_valid({"L": [1]})


def test_what_rust_cannot_read_is_checked_by_jsonschema() -> None:
    response = mutate(query_response(), ["Organizations", 0, "Name"], "\ud800")
    assert REGISTRY.validate("Organization.Query.response", response) == []
    response = mutate(query_response(), ["Organizations", 0, "Active"], "\ud800")
    assert [str(v) for v in REGISTRY.validate("Organization.Query.response", response)] == [
        "$.Organizations[0].Active: expected boolean, got string"
    ]


def test_a_schema_is_compiled_once_a_process_while_its_folder_is_the_same(tmp_path: Path) -> None:
    """Registries of folders alike share their compiled validators; a folder whose files
    differ, even one that a schema only refers to, does not share them."""
    folder = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", folder)
    name = "Organization.Query"
    first, second = SchemaRegistry(folder), SchemaRegistry(ROOT / "schemas")
    assert first.fast_validator(name) is second.fast_validator(name) is not None
    common = next(folder.glob("common/*.json"))
    common.write_text(common.read_text().replace("{", "{ ", 1))  # the same schema, respaced
    changed = SchemaRegistry(folder)
    assert changed.fast_validator(name) is not first.fast_validator(name)
