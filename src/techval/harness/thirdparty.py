"""Every private internal of pytest-bdd, pytest-xdist and allure-pytest-bdd that techval uses,
behind this one module; `missing()` says which of them the installed versions no longer have.

pyproject.toml bounds the three below their next major release. A minor release can still
move an internal: tests/unit/test_thirdparty.py runs `missing()` and names what moved, so an
upgrade breaks one test with a clear message instead of every run with a traceback.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from techval import UNUSED_EXTRAS

# pytest-bdd parametrizes a Scenario Outline's examples as this fixture (pytest_bdd.scenario)
BDD_EXAMPLE = "_pytest_bdd_example"
# what parallel.GroupScheduling overrides or calls on xdist's LoadScopeScheduling
XDIST_SCHEDULER_NEEDS = ("_split_scope", "_reschedule", "_pending_of", "_assign_work_unit")
XDIST_SCHEDULER_STATE = ("assigned_work", "workqueue")


def scenario_template(item: pytest.Item) -> Any:
    """pytest-bdd's scenario template behind a test item (name, feature, steps), or None for
    a plain test."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    function = getattr(item, "obj", None)
    try:
        return scenario_wrapper_template_registry.get(function)  # type: ignore[arg-type]
    except TypeError:  # not weak-referenceable: not a scenario
        return None


def example_values(params: Mapping[str, Any]) -> dict[str, str]:
    """The values of a Scenario Outline's example row among a test's call parameters."""
    row = params.get(BDD_EXAMPLE)
    return {str(k): str(v) for k, v in row.items()} if isinstance(row, dict) else {}


def allure_results(config: pytest.Config) -> Path | None:
    """The folder allure-pytest-bdd writes results to (its --alluredir option's dest)."""
    chosen = getattr(config.option, "allure_report_dir", None)
    return Path(chosen) if chosen else None


def logger_folder(logger: Any) -> Path:
    """Where an allure_commons AllureFileLogger writes (it keeps it in _report_dir)."""
    return Path(logger._report_dir)


def tag_expression_error(expression: str) -> str | None:
    """Why `expression` is not a tag expression in pytest's own -m grammar (its private
    _pytest.mark.expression); None when it is one."""
    from _pytest.mark.expression import Expression

    try:
        Expression.compile(expression)
    except SyntaxError as exc:  # what pytest raises for a malformed expression
        return str(exc.msg)
    return None


def versions() -> dict[str, str]:
    found = {}
    extras = [package for package, _ in UNUSED_EXTRAS.values()]
    for name in ("pytest", "pytest-bdd", "pytest-xdist", "allure-pytest-bdd", *extras):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def missing() -> list[str]:
    """What techval needs that the installed pytest-bdd, pytest-xdist and allure-pytest-bdd
    do not have, one line each naming the package, its version and the internal."""
    installed = versions()
    gone: list[str] = []

    def lacks(package: str, what: str) -> None:
        gone.append(f"{package} {installed[package]}: no {what}")

    try:  # the module (pytest_bdd's `scenario` attribute is a function of that name)
        bdd_scenario = importlib.import_module("pytest_bdd.scenario")
    except ImportError:
        lacks("pytest-bdd", "module pytest_bdd.scenario")
    else:
        if not hasattr(bdd_scenario, "scenario_wrapper_template_registry"):
            lacks("pytest-bdd", "pytest_bdd.scenario.scenario_wrapper_template_registry")
        if BDD_EXAMPLE not in inspect.getsource(bdd_scenario):
            lacks("pytest-bdd", f"fixture {BDD_EXAMPLE} in pytest_bdd.scenario")
    try:
        from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]
    except ImportError:
        lacks("pytest-xdist", "xdist.scheduler.LoadScopeScheduling")
    else:
        source = inspect.getsource(LoadScopeScheduling.__init__)
        for name in XDIST_SCHEDULER_NEEDS:
            if not callable(getattr(LoadScopeScheduling, name, None)):
                lacks("pytest-xdist", f"LoadScopeScheduling.{name}")
        for name in XDIST_SCHEDULER_STATE:
            if f"self.{name}" not in source:
                lacks("pytest-xdist", f"self.{name} set by LoadScopeScheduling")
    try:
        from _pytest.mark.expression import Expression
    except ImportError:
        lacks("pytest", "_pytest.mark.expression.Expression")
    else:
        if not callable(getattr(Expression, "compile", None)):
            lacks("pytest", "Expression.compile")
    try:
        from allure_commons.logger import AllureFileLogger
    except ImportError:
        lacks("allure-pytest-bdd", "allure_commons.logger.AllureFileLogger")
    else:
        if "self._report_dir" not in inspect.getsource(AllureFileLogger.__init__):
            lacks("allure-pytest-bdd", "AllureFileLogger._report_dir")
    try:
        from allure_pytest_bdd import plugin as allure_plugin  # type: ignore[import-untyped]
    except ImportError:
        lacks("allure-pytest-bdd", "module allure_pytest_bdd.plugin")
    else:
        if 'dest="allure_report_dir"' not in inspect.getsource(allure_plugin):
            lacks("allure-pytest-bdd", "--alluredir option with dest allure_report_dir")
    for extra, (package, importer) in UNUSED_EXTRAS.items():
        if not goes_without(extra, importer):
            lacks(package, f"fallback in {importer} when {extra} cannot be imported")
    return gone


def goes_without(extra: str, importer: str) -> bool:
    """Whether `importer` still imports `extra` and catches ImportError (techval keeps the
    extra from loading: cli/loading.py). A first warning read from the source (by now the
    module has been imported, the extra kept out or not): a catch elsewhere in the file would
    pass it; tests/unit/test_thirdparty.py imports the library for real, in a new process."""
    try:
        source = inspect.getsource(importlib.import_module(importer))
    except (ImportError, OSError, TypeError):
        return False
    name = extra.rpartition(".")[2]
    return re.search(rf"\bimport\b.*\b{name}\b|\b{name}\b.*\bimport\b", source) is not None and (
        "except ImportError" in source
    )
