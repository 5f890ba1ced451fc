"""The message schemas: strict where Redox is strict, tolerant where it is tolerant."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from techval import organization
from techval.config import Settings
from techval.schemas import SchemaRegistry, UnknownMessage, schema_name
from tests.helpers import ROOT

REGISTRY = SchemaRegistry(ROOT / "schemas")


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
