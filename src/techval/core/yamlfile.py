"""YAML data files read with libyaml when PyYAML has it (several times faster than the pure
Python parser; the fixtures are read on every run), the pure Python loader otherwise.

`load` is for the project's own fixtures. `read` is for files a person hands in (the
environment file, test patients, the baseline, the requirements catalogue): a regular file of
at most inputfiles.MAX_SETTINGS_BYTES, standing for at most MAX_VALUES values once its aliases
are expanded. Aliases are fine (yaml.safe_dump writes them for a value used twice), but a 3 KB
file of nested aliases ("billion laughs") stands for billions of values once anything walks
it: the count is taken on the parsed nodes, before the document is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from techval.core import inputfiles

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# An alias-free file within the size limit stands for fewer (a value takes two bytes or more);
# the largest file we know of, test patients for a thousand people, some 30,000.
MAX_VALUES = 1_000_000


def load(path: Path) -> Any:
    """The YAML document in `path`; yaml.YAMLError when it is not YAML, OSError when unreadable."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)  # noqa: S506 - a safe loader


class Unreadable(Exception):
    """Why a YAML file could not be read, in a few words ("not YAML (line 3)")."""


def read(path: Path, limit: int = inputfiles.MAX_SETTINGS_BYTES) -> Any:
    """The YAML document of a file a person wrote, with every way it fails as one Unreadable
    naming the line when known: unreadable, not a regular file, too large, not UTF-8, not YAML,
    too many values with its aliases expanded, a value YAML cannot build."""
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
        _check_expansion(node)
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


def _check_expansion(root: yaml.nodes.Node) -> None:
    """Unreadable when the document, aliases expanded, holds more than MAX_VALUES values or
    holds itself. Each node is counted once (an alias repeats its anchor's node object), so
    this takes as long as the file, never as long as the expansion."""
    sizes: dict[int, int] = {}
    ancestors: set[int] = set()
    pending: list[tuple[yaml.nodes.Node, bool]] = [(root, False)]
    while pending:
        node, counted = pending.pop()
        if counted:
            ancestors.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[id(node)] > MAX_VALUES:
                raise Unreadable(
                    f"stands for more than {MAX_VALUES:,} values once its aliases are expanded "
                    f"(line {_line(node)}): more than techval reads from such a file"
                )
        elif id(node) in ancestors:
            raise Unreadable(f"an alias holds the value it names (line {_line(node)})")
        elif id(node) not in sizes:
            ancestors.add(id(node))
            pending.append((node, True))
            pending.extend((child, False) for child in _children(node))


def _children(node: yaml.nodes.Node) -> list[yaml.nodes.Node]:
    if isinstance(node, yaml.nodes.MappingNode):
        return [item for pair in node.value for item in pair]
    return list(node.value) if isinstance(node, yaml.nodes.SequenceNode) else []


def _line(node: yaml.nodes.Node) -> int | str:
    return node.start_mark.line + 1 if node.start_mark is not None else "?"
