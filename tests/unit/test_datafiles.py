"""core/datafiles.py: jsonschema-rs says yes only where it judges as jsonschema does; every
no, and every schema it cannot judge alike, goes to jsonschema for the one line that names
the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from techval.core import datafiles
from techval.core.errors import ConfigError

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://schemas.techval.dev/test/datafile.json",
    "type": "object",
    "properties": {
        "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
    },
    "additionalProperties": False,
}
SHARES: dict[str, Any] = {  # multipleOf: jsonschema-rs may judge it otherwise
    **SCHEMA,
    "properties": {"share": {"type": "number", "multipleOf": 0.01}},
}


def schema_file(tmp_path: Path, schema: dict[str, Any]) -> Path:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


def test_a_conforming_file_passes_without_jsonschema(tmp_path: Path) -> None:
    assert datafiles._valid(SCHEMA, {"zip": "53703"}, b"test: SCHEMA")
    datafiles.check({"zip": "53703"}, schema_file(tmp_path, SCHEMA), tmp_path / "env.yaml")


def test_a_zip_python_refuses_is_refused_though_rust_reads_dollar_otherwise(tmp_path: Path) -> None:
    """Python's $ also matches before a final newline: "53703\\n" passes jsonschema's pattern;
    the ported pattern must judge it so too, not refuse it, and the file passes."""
    assert jsonschema.Draft202012Validator(SCHEMA).is_valid({"zip": "53703\n"})
    assert datafiles._valid(SCHEMA, {"zip": "53703\n"}, b"test: SCHEMA")
    with pytest.raises(ConfigError, match=r"env.yaml: zip: '5370' is not in the expected format"):
        datafiles.check({"zip": "5370"}, schema_file(tmp_path, SCHEMA), tmp_path / "env.yaml")


def test_a_schema_rust_could_judge_otherwise_goes_to_jsonschema(tmp_path: Path) -> None:
    """multipleOf: jsonschema's float division refuses 0.07 as a multiple of 0.01."""
    assert not datafiles._valid(SHARES, {"share": 0.5}, b"test: SHARES")  # Rust does not judge
    datafiles.check({"share": 0.5}, schema_file(tmp_path, SHARES), tmp_path / "env.yaml")
    with pytest.raises(ConfigError, match=r"share: 0.07 is not a multiple of 0.01"):
        datafiles.check({"share": 0.07}, schema_file(tmp_path, SHARES), tmp_path / "env.yaml")


def test_an_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(top level\): unknown key"):
        datafiles.check({"zipp": "1"}, schema_file(tmp_path, SCHEMA), tmp_path / "env.yaml")
