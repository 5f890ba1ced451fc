"""core/jsontext.py: evidence JSON byte for byte as json.dumps(indent=2) writes it, whichever
encoder wrote it."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from techval.core import jsontext

# Values orjson writes otherwise than json, or refuses: each must come out as json writes it.
UNLIKE = [
    float("nan"),
    float("inf"),
    -float("inf"),
    1e-05,  # orjson: 0.00001
    {"latitude": [1.5, 2.5e-07]},
    2**64,  # past orjson's integers
    "lone \ud800 surrogate",
    {"deep": [[{"x": float("nan")}]]},
]
ALIKE = [
    {},
    [],
    {"a": {}, "b": [], "c": [{}]},
    {"text": 'é \u2028 \x00 \x1f \x7f " \\ / \n\t', "n": -(2**63), "f": [0.0, -0.0, 12.5]},
    [1e16, 1e15, 123456789.123, True, None],
    ("a", "tuple"),
]


@pytest.mark.parametrize("value", UNLIKE + ALIKE, ids=repr)
def test_the_text_is_what_json_writes(value: Any) -> None:
    assert jsontext.indented(value) == json.dumps(value, indent=2, ensure_ascii=False)


MISSPELLED = [float("nan"), 1e-05, {"latitude": [1.5, 2.5e-07]}, {"deep": [[{"x": -float("inf")}]]}]


@pytest.mark.parametrize("value", MISSPELLED, ids=repr)
def test_a_float_orjson_writes_otherwise_goes_to_json(value: Any) -> None:
    orjson_text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    assert orjson_text != json.dumps(value, indent=2, ensure_ascii=False)  # why it is looked for
    assert not jsontext._spelled_alike(value)


def test_without_orjson_the_text_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsontext, "orjson", None)
    for value in ALIKE + UNLIKE:
        assert jsontext.indented(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_what_json_cannot_write_fails_as_json_fails() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsontext.indented({"when": object()})


@pytest.mark.parametrize("value", UNLIKE + ALIKE, ids=repr)
def test_a_line_reads_back_as_the_value_json_reads(value: Any) -> None:
    """An event file's line: one line whichever encoder wrote it (orjson, or json for what
    orjson refuses), read back as json reads json's own text."""
    line = jsontext.line(value)
    assert "\n" not in line
    expected = json.loads(json.dumps(value, ensure_ascii=False))
    if any(isinstance(v, float) and v != v for v in _floats(expected)):
        return  # NaN: not equal to itself; orjson writes null, json NaN (not JSON at all)
    got = json.loads(line)
    assert got == expected or (_floats(expected) != _floats(got) and None in _floats(got))


def _floats(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v)]
    return [value] if isinstance(value, float) or value is None else []
