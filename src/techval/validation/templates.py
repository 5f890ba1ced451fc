"""Message bodies from YAML templates in fixtures/templates/, filled with values.

A string that is exactly "{name}" becomes the value itself (a list, an object); "{name}" inside a
longer string is replaced by its text. A name with no value is an error naming the template.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from techval.core import yamlfile
from techval.core.errors import ConfigError
from techval.core.paths import project_root

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def load(name: str) -> Any:
    path = project_root() / "fixtures" / "templates" / f"{name}.yaml"
    try:
        return yamlfile.load(path)
    except OSError as exc:
        raise ConfigError(f"template {path}: {exc.strerror}") from None


def fill(template: Any, values: Mapping[str, Any], name: str = "template") -> Any:
    if isinstance(template, dict):
        return {k: fill(v, values, name) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values, name) for v in template]
    if not isinstance(template, str):
        return template
    whole = PLACEHOLDER.fullmatch(template)
    if whole:
        return copy.deepcopy(_value(values, whole.group(1), name))
    return PLACEHOLDER.sub(lambda m: str(_value(values, m.group(1), name)), template)


def _value(values: Mapping[str, Any], key: str, name: str) -> Any:
    try:
        return values[key]
    except KeyError:
        raise ConfigError(f"template {name}: no value for {{{key}}}") from None


def render(name: str, values: Mapping[str, Any]) -> Any:
    return fill(load(name), values, name)
