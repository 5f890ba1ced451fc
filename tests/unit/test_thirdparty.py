"""The private internals of pytest-bdd, pytest-xdist and allure-pytest-bdd techval relies on
(harness/thirdparty.py) are in the installed versions; when one moves, this says which."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
from allure_commons.logger import AllureFileLogger
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

from techval import UNUSED_EXTRAS
from techval.harness import thirdparty

ROOT = Path(__file__).resolve().parents[2]
UNUSED_EXTRAS_IMPORTERS = [(extra, importer) for extra, (_, importer) in UNUSED_EXTRAS.items()]


def test_the_installed_versions_have_every_internal_techval_uses() -> None:
    gone = thirdparty.missing()
    assert not gone, "pin these packages below the version that moved them: " + "; ".join(gone)


def test_a_scheduler_method_gone_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(LoadScopeScheduling, "_split_scope")
    gone = thirdparty.missing()
    assert len(gone) == 1
    assert re.fullmatch(r"pytest-xdist \S+: no LoadScopeScheduling\._split_scope", gone[0])


def test_the_scenario_registry_gone_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("pytest_bdd.scenario")
    monkeypatch.delattr(module, "scenario_wrapper_template_registry")
    assert any("scenario_wrapper_template_registry" in line for line in thirdparty.missing())


def test_the_logger_folder_gone_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def moved(self: AllureFileLogger, report_dir: str, clean: bool = False) -> None:
        self.folder = report_dir  # type: ignore[attr-defined]

    monkeypatch.setattr(AllureFileLogger, "__init__", moved)
    assert thirdparty.missing() == [
        f"allure-pytest-bdd {thirdparty.versions()['allure-pytest-bdd']}: "
        "no AllureFileLogger._report_dir"
    ]


def test_an_example_row_is_read_and_anything_else_is_not() -> None:
    row = {thirdparty.BDD_EXAMPLE: {"alias": "A", "n": 1}, "other": {"x": "y"}}
    assert thirdparty.example_values(row) == {"alias": "A", "n": "1"}
    assert thirdparty.example_values({thirdparty.BDD_EXAMPLE: "not a row"}) == {}


def test_the_three_packages_are_bounded_below_their_next_major() -> None:
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    for package, bound in (
        ("pytest-bdd", "<10"),
        ("pytest-xdist", "<4"),
        ("allure-pytest-bdd", "<3"),
    ):
        found = re.search(rf'"{package}>=[^",]+,(<[^"]+)"', text)
        assert found is not None and found.group(1) == bound, f"{package}: no upper bound {bound}"


def test_the_tag_grammar_gone_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from _pytest.mark.expression import Expression

    monkeypatch.delattr(Expression, "compile")
    assert any(line.endswith(": no Expression.compile") for line in thirdparty.missing())


def test_a_tag_expression_is_judged_by_pytests_grammar() -> None:
    assert thirdparty.tag_expression_error("organization and not record_locator") is None
    assert thirdparty.tag_expression_error("organization and") is not None


@pytest.mark.parametrize(("extra", "importer"), list(UNUSED_EXTRAS_IMPORTERS))
def test_a_library_that_no_longer_goes_without_its_extra_is_named(
    monkeypatch: pytest.MonkeyPatch, extra: str, importer: str
) -> None:
    module = importlib.import_module(importer)
    real = inspect.getsource(module)
    monkeypatch.setattr(
        inspect,
        "getsource",
        lambda obj: real.replace("except ImportError", "except KeyError") if obj is module else "",
    )
    package = UNUSED_EXTRAS[extra][0]
    assert thirdparty.goes_without(extra, importer) is False
    expected = f"{package} {thirdparty.versions()[package]}: no fallback in {importer} when {extra}"
    assert f"{expected} cannot be imported" in thirdparty.missing()
