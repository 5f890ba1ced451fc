"""No import cycle anywhere under src/techval: every import counts, at module level or inside
a function (a lazy import hides a cycle, it does not remove it), except those under
`if TYPE_CHECKING:` (never run). import-linter has no "no cycles" contract; this is it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import ROOT

SOURCE = ROOT / "src"


def _module_of(path: Path, source: Path) -> str:
    parts = list(path.relative_to(source).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            yield from (i for child in node.orelse for i in _imports_in(child))
            continue
        yield from _imports_in(node)


def _imports_in(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def _targets(node: ast.Import | ast.ImportFrom, module: str, known: set[str]) -> set[str]:
    """The techval modules an import statement loads: `from a import b` is a.b when that is a
    module, else a."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    base = node.module or ""
    if node.level:  # relative: from the importing module's package
        package = module.split(".")[: -node.level]
        base = ".".join([*package, base] if base else package)
    found = set()
    for alias in node.names:
        name = f"{base}.{alias.name}"
        found.add(name if name in known else base)
    return found & known


def graph(source: Path) -> dict[str, set[str]]:
    modules = {_module_of(path, source): path for path in source.rglob("*.py")}
    known = set(modules)
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets = {t for node in _imports(tree) for t in _targets(node, module, known)}
        edges[module] = targets - {module}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_under_src_techval() -> None:
    assert cycles(graph(SOURCE)) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_a_lazy_import_back_is_a_cycle_and_is_named(tmp_path: Path) -> None:
    source = _package(
        tmp_path,
        {
            "__init__.py": "",
            "registry.py": "from pkg import part\n",
            "part.py": "def f():\n    from pkg.registry import X\n    return X\n",
        },
    )
    assert cycles(graph(source)) == [["pkg.part", "pkg.registry"]]


def test_an_import_for_type_hints_only_is_not_a_cycle(tmp_path: Path) -> None:
    source = _package(
        tmp_path,
        {
            "__init__.py": "",
            "registry.py": "from . import part\n",
            "part.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.registry import X\n"
                "else:\n    import os\n"
            ),
        },
    )
    assert graph(source)["pkg.registry"] == {"pkg.part"}
    assert cycles(graph(source)) == []
