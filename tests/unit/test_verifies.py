"""A check declares the requirements it verifies (core/verifies.py); the catalogue's `checks:`
and the declarations agree both ways, and a failure names the innermost declared check's."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest

import techval
from techval.core.errors import CheckFailed, InvalidMessage, TransportError
from techval.core.verifies import declared, requirements_of, verifies
from techval.validation import requirements

CATALOGUE = requirements.load()


def declared_by(obj: Any) -> tuple[str, ...]:
    return declared(obj.fget if isinstance(obj, property) else obj)


def everything_declared() -> dict[int, tuple[str, tuple[str, ...]]]:
    """Every declared function, method, property and class under techval: id -> (name, IDs)."""
    found: dict[int, tuple[str, tuple[str, ...]]] = {}
    for module_info in pkgutil.walk_packages(techval.__path__, "techval."):
        if module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for name, member in vars(module).items():
            if getattr(member, "__module__", None) != module.__name__:
                continue  # imported here, declared where it is defined
            candidates = [(name, member)]
            if inspect.isclass(member):
                candidates += [(f"{name}.{n}", m) for n, m in vars(member).items()]
            for shown, candidate in candidates:
                target = candidate.fget if isinstance(candidate, property) else candidate
                ids = declared(target)
                if ids:
                    found[id(target)] = (f"{module.__name__}.{shown}", ids)
    return found


def test_every_check_the_catalogue_names_declares_that_requirement() -> None:
    for requirement in CATALOGUE:
        for name in requirement.checks:
            ids = declared_by(requirements.resolve(name))
            assert requirement.id in ids, f"{name} does not declare @verifies({requirement.id!r})"


def test_every_declaration_is_in_the_catalogue() -> None:
    listed: dict[int, set[str]] = {}
    for requirement in CATALOGUE:
        for name in requirement.checks:
            obj = requirements.resolve(name)
            target = obj.fget if isinstance(obj, property) else obj
            listed.setdefault(id(target), set()).add(requirement.id)
    for key, (name, ids) in everything_declared().items():
        missing = set(ids) - listed.get(key, set())
        assert not missing, f"{name} declares {sorted(missing)}, whose checks do not list it"


def test_the_innermost_declared_check_names_the_failure() -> None:
    @verifies("API-05")
    def inner() -> None:
        raise CheckFailed("the answer is not JSON")

    @verifies("ORG-02", "ORG-03")
    def outer() -> None:
        inner()

    @verifies("ORG-02")
    def refusing() -> None:
        raise InvalidMessage("not sent")

    with pytest.raises(CheckFailed) as failed:
        outer()
    assert requirements_of(failed.value) == ("API-05",)
    with pytest.raises(InvalidMessage) as invalid:
        refusing()
    assert requirements_of(invalid.value) == ("ORG-02",)


def test_an_error_that_is_no_conformance_failure_names_no_requirement() -> None:
    @verifies("API-01")
    def unreachable() -> None:
        raise TransportError("cannot reach the server")

    with pytest.raises(TransportError) as error:
        unreachable()
    assert requirements_of(error.value) == ()
    assert requirements_of(None) == ()


def test_a_declaration_names_at_least_one_requirement() -> None:
    with pytest.raises(ValueError, match="name at least one requirement ID"):
        verifies()
