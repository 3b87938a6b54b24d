"""The import graph of ``corrrelax_lib``'s subpackages, read statically with ``ast``, has no cycle.

Dependencies point one way (STYLE.md): config/paths at the bottom, then io → data/preprocess →
models/training → windows/attribution → metrics → pipeline → viz/widgets → book/cli. Every
``import``/``from … import`` counts, at module level or inside a function: a lazy import hides a
cycle, it does not remove it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import corrrelax_lib

PACKAGE_ROOT = Path(corrrelax_lib.__file__).parent
SUBPACKAGES = ("io", "data", "preprocess", "models", "training", "windows", "attribution", "metrics", "pipeline",
               "viz", "widgets", "book", "cli", "config", "paths", "distributed", "testing", "environment")

#: ``(importer, imported) -> the files that import``, between different subpackages.
Graph = dict[tuple[str, str], list[str]]


def _module_name(path: Path) -> str:
    """``corrrelax_lib/data/vindr.py`` → ``corrrelax_lib.data.vindr``; a package's ``__init__`` → the package."""
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports (relative imports resolved)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                node_module = ".".join([*base, node.module] if node.module else base)
            else:
                node_module = node.module or ""
            names.add(node_module)
            # `from corrrelax_lib import data` imports the subpackage `data`.
            names.update(f"{node_module}.{alias.name}" for alias in node.names)
    return names


def _subpackage(module: str) -> str | None:
    """``corrrelax_lib.data.vindr`` → ``data``; ``None`` outside the library or for ``corrrelax_lib`` itself."""
    parts = module.split(".")
    return parts[1] if parts[0] == "corrrelax_lib" and len(parts) > 1 and parts[1] in SUBPACKAGES else None


def subpackage_graph() -> Graph:
    """The edges between subpackages, each with the files that make it."""
    edges: Graph = defaultdict(list)
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        source = _subpackage(_module_name(path))
        if source is None:
            continue
        for target in {_subpackage(name) for name in _imported_modules(path)} - {None, source}:
            edges[source, target].append(path.relative_to(PACKAGE_ROOT.parent).as_posix())
    return dict(edges)


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one subpackage (Tarjan), each sorted."""
    successors: dict[str, set[str]] = defaultdict(set)
    for source, target in graph:
        successors[source].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in successors[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted({n for edge in graph for n in edge}):
        if node not in index:
            visit(node)
    return components


def test_every_listed_subpackage_exists():
    present = {p.name for p in PACKAGE_ROOT.iterdir() if (p / "__init__.py").is_file()}
    present |= {p.stem for p in PACKAGE_ROOT.glob("*.py") if p.stem != "__init__"}
    assert present == set(SUBPACKAGES)


def test_the_cycle_finder_finds_a_cycle():
    graph = {("data", "preprocess"): ["a.py"], ("preprocess", "data"): ["b.py"], ("data", "io"): ["a.py"]}
    assert cycles(graph) == [["data", "preprocess"]]


def test_the_subpackages_import_each_other_without_a_cycle():
    graph = subpackage_graph()
    found = cycles(graph)
    details = [f"{s} → {t}: {', '.join(files)}" for component in found for (s, t), files in sorted(graph.items())
               if s in component and t in component]
    assert not found, "import cycles between subpackages:\n" + "\n".join(details)
