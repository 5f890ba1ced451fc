"""JSON text of evidence: `indented(value)` is `json.dumps(value, indent=2, ensure_ascii=False)`
byte for byte, written by orjson (some ten times faster) where orjson spells the value alike.

json's indented output is Python code (its C encoder does no indent): 0.1-0.2 ms of every
exchange's attachment. orjson spells every string, integer and nesting as json does, and
floats too, save NaN and the infinities (orjson writes null) and some exponents (1e-05);
integers past 64 bits and lone surrogates it refuses. Those go to json.
"""

from __future__ import annotations

import json
import math
from typing import Any

try:
    import orjson
except ImportError:  # not installed: json alone, the same text
    orjson = None  # type: ignore[assignment]


def indented(value: Any) -> str:
    """`value` as json.dumps(value, indent=2, ensure_ascii=False) writes it."""
    if orjson is not None and _spelled_alike(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")
        except TypeError:  # orjson.JSONEncodeError: a big integer, a lone surrogate, a type
            pass
    return json.dumps(value, indent=2, ensure_ascii=False)


def line(value: Any) -> str:
    """`value` as one line of compact JSON (an event file's line): orjson where it can write
    the value, json otherwise (an integer past 64 bits, a lone surrogate: escaped, so the
    line is UTF-8). orjson writes NaN and the infinities as null: an event holds none."""
    if orjson is not None:
        try:
            return orjson.dumps(value).decode("utf-8")
        except TypeError:
            pass
    return json.dumps(value, separators=(",", ":"))


def _spelled_alike(value: Any) -> bool:
    """Whether no float in `value` is one orjson writes otherwise than json."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, float) and (not math.isfinite(item) or "e" in repr(item)):
            return False
    return True
