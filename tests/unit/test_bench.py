"""`make bench` (bench/bench.py) is not a test, but what it checks twice must pass twice."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from techval.core.config import load_settings
from techval.validation import dod
from techval.validation.patients import TestPatient
from tests.helpers import ROOT

PERSON = TestPatient("bench person", {"FirstName": "Bench", "LastName": "Person", "Sex": "Female"})


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_script", ROOT / "bench" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_big_visit_push_is_checked_twice_with_one_document_id() -> None:
    """Timed once, then again for its peak memory: the same message, as in two runs."""
    settings = load_settings("simulator")
    push = dod.visit_push(settings, PERSON, [dod.identifier(settings, PERSON)])
    figures = bench().big_visit_push(push, title_bytes=1000)
    assert figures["visitpush_bytes"] > 1000 and figures["visitpush_peak_memory_x"] > 0
