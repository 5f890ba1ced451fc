"""The `.env` file at the project root: KEY=VALUE lines the environment files' ${VAR}
placeholders may read. Real environment variables win over it; an empty value counts as not
set (a copied .env.example says what is still missing)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from techval.core import inputfiles
from techval.core.errors import ConfigError

LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")
# A comment after a value starts with whitespace then #, as shells read it: `KEY=   # what it
# is` is empty (.env.example copied as it is), `KEY=#a` and `KEY=a#b` keep their #.
COMMENT = re.compile(r"\s#")


def read(path: Path) -> dict[str, str]:
    """The variables of a .env file; {} when there is none. ConfigError names a bad line."""
    try:
        text = inputfiles.read_text(path, inputfiles.MAX_SETTINGS_BYTES)
    except FileNotFoundError:
        return {}
    except inputfiles.Refused as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = LINE.match(line)
        if match is None:
            raise ConfigError(f"{path}:{number}: not a KEY=VALUE line")
        name, value = match.group(1), match.group(2)
        if value.lstrip()[:1] in ("'", '"'):
            value, rest = _quoted(value.lstrip(), f"{path}:{number}: {name}")
            if rest.strip() and not rest.lstrip().startswith("#"):
                raise ConfigError(f"{path}:{number}: {name}: text after the closing quote")
        else:
            value = COMMENT.split(value, maxsplit=1)[0].strip()
        if value:
            found[name] = value
    return found


def _quoted(value: str, where: str) -> tuple[str, str]:
    """A quoted value and what follows it. Single quotes are literal; in double quotes \\,
    \" and \n are escapes (as shells and docker compose read them)."""
    quote, index = value[0], 1
    text: list[str] = []
    while index < len(value):
        char = value[index]
        if char == quote:
            return "".join(text), value[index + 1 :]
        if quote == '"' and char == "\\" and index + 1 < len(value):
            following = value[index + 1]
            text.append({"n": "\n", '"': '"', "\\": "\\"}.get(following, "\\" + following))
            index += 2
            continue
        text.append(char)
        index += 1
    raise ConfigError(f"{where}: the quote is not closed")


def environ_with(root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process's environment over the project's .env: a real variable wins, unless it is
    empty (an unset CI secret expands to ""), which counts as not set."""
    real = os.environ if environ is None else environ
    return {**read(root / ".env"), **{name: value for name, value in real.items() if value}}
