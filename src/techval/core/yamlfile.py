"""YAML data files read with libyaml when PyYAML has it (several times faster than the pure
Python parser; the fixtures are read on every run), the pure Python loader otherwise.

`load` is for the project's own fixtures. `read` is for files a person hands in (the
environment file, test patients, the baseline, the requirements catalogue): a regular file of
at most inputfiles.MAX_SETTINGS_BYTES, without aliases. A 3 KB file of nested aliases
("billion laughs") stands for billions of values once anything walks it; no file of ours
needs an alias, so any alias is refused before the document is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from techval.core import inputfiles

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(path: Path) -> Any:
    """The YAML document in `path`; yaml.YAMLError when it is not YAML, OSError when unreadable."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)  # noqa: S506 - a safe loader


class Unreadable(Exception):
    """Why a YAML file could not be read, in a few words ("not YAML (line 3)")."""


def read(path: Path, limit: int = inputfiles.MAX_SETTINGS_BYTES) -> Any:
    """The YAML document of a file a person wrote, with every way it fails as one Unreadable
    naming the line when known: unreadable, not a regular file, too large, not UTF-8, not YAML,
    an alias, a value YAML cannot build."""
    try:
        text = inputfiles.read_text(path, limit)
    except inputfiles.Refused as exc:
        raise Unreadable(str(exc)) from None
    except OSError as exc:
        raise Unreadable(f"cannot be read ({exc.strerror})") from None
    loader = LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_aliases(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise Unreadable(f"not YAML{line}") from None
    except ValueError as exc:  # a value PyYAML cannot build, e.g. the date 2026-02-30
        raise Unreadable(f"a value YAML cannot read: {exc}") from None
    except RecursionError:
        raise Unreadable("nested too deeply") from None
    finally:
        loader.dispose()


def _refuse_aliases(root: yaml.nodes.Node) -> None:
    """Unreadable when a node is reached twice: an alias (*name) repeats its anchor's node.
    The walk stops there, so it is as long as the file, never as long as the expansion."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            line = node.start_mark.line + 1 if node.start_mark is not None else "?"
            raise Unreadable(
                f"uses a YAML alias of the value anchored at line {line}: "
                "techval reads no aliases (*name) in this file; write the value out"
            )
        seen.add(id(node))
        if isinstance(node, yaml.nodes.MappingNode):
            pending.extend(item for pair in node.value for item in pair)
        elif isinstance(node, yaml.nodes.SequenceNode):
            pending.extend(node.value)
