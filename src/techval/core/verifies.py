"""Which requirements a check verifies, declared on the check (as Inferno kits declare
`verifies_requirements`): `@verifies("ORG-02")` on a function or method (on a class: only
declared, as where the rule lives). A conformance error
raised inside it names those requirements (`requirements`), unless a check it called named
its own first: the innermost declared check is the one that failed. A rule that returns the
Violations it found (rules.py) has each of them named so, innermost first as well; the
client's refusal of a message names the requirements of the rules it broke. The evidence ties a
failure to its requirement by this field, never by walking a traceback; the catalogue
(fixtures/requirements.yaml, `checks:`) lists the same checks and a test keeps both in step."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import is_dataclass, replace
from typing import Any, TypeVar, cast

from techval.core.errors import CheckFailed, InvalidMessage

F = TypeVar("F", bound=Callable[..., Any])
DECLARED = "__verifies__"  # the attribute a declared check carries: its requirement IDs


def verifies(*requirement_ids: str) -> Callable[[F], F]:
    if not requirement_ids:
        raise ValueError("verifies: name at least one requirement ID")

    def declare(check: F) -> F:
        if isinstance(check, type):  # where a rule lives; its declared methods raise
            setattr(check, DECLARED, requirement_ids)
            return check

        name = f"{check.__module__}.{check.__qualname__}"

        @functools.wraps(check)
        def checked(*args: Any, **kwargs: Any) -> Any:
            try:
                found = check(*args, **kwargs)
            except (CheckFailed, InvalidMessage) as exc:
                if not exc.requirements:
                    exc.requirements = requirement_ids
                    exc.check = name
                raise
            if type(found) is list and found and _is_violation(found[0]):
                return [  # a rule that returns what it found: each names it, innermost first
                    v if v.requirements else replace(v, requirements=requirement_ids, check=name)
                    for v in found
                ]
            return found

        setattr(checked, DECLARED, requirement_ids)
        return cast(F, checked)

    return declare


def _is_violation(value: object) -> bool:
    """A schemas.Violation (by its fields: core.schemas imports this module)."""
    return is_dataclass(value) and hasattr(value, "requirements") and hasattr(value, "check")


def declared(check: Any) -> tuple[str, ...]:
    """The requirement IDs `check` declares ((): none)."""
    found = getattr(check, DECLARED, ())
    return tuple(found) if isinstance(found, tuple) else ()


def requirements_of(error: BaseException | None) -> tuple[str, ...]:
    """The requirements the innermost declared check a conformance error came from verifies."""
    found = getattr(error, "requirements", ())
    return tuple(found) if isinstance(found, tuple) else ()


def check_of(error: BaseException | None) -> str | None:
    """The innermost declared check a conformance error came from ("module.qualname")."""
    found = getattr(error, "check", None)
    return found if isinstance(found, str) else None
