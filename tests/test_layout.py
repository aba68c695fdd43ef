"""The package graph follows the data: no import circles, and no stage imports one above it.

Every ``import`` in ``assistant/`` counts, the ones inside functions too (a lazy import is
still a dependency; three of the four circles this test was written against were lazy).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"
# lowest first: a module may import its own layer and those before it, never one after it
LAYERS = (
    {"assistant", "config", "terms", "dates", "locks", "schema"},
    {"library"},
    {"store"},
    {"answer"},
    {"service", "retrieval"},
    {"web", "cli", "learn", "__main__"},
)


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """The package's modules that the module at ``path`` imports."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            subs = {f"{base}.{alias.name}" for alias in node.names} & known
            found.update(subs or {base})
    return {m for m in found if m in known and m != name}


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(parts + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    names = module_names()
    return {name: imports_of(path, name, set(names)) for name, path in names.items()}


def stage_of(module: str) -> str:
    """``assistant.store.indexer`` -> ``store``; top-level modules are their own stage."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "assistant"


def layer_of(module: str) -> int | None:
    stage = stage_of(module)
    return next((i for i, layer in enumerate(LAYERS) if stage in layer), None)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as a path of modules, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``a -> b`` for each import of a module into a later layer than its own."""
    bad = []
    for module, targets in graph.items():
        for target in targets:
            mine, theirs = layer_of(module), layer_of(target)
            if mine is not None and theirs is not None and theirs > mine:
                bad.append(f"{module} -> {target}")
    return sorted(bad)


def test_every_module_belongs_to_a_layer():
    unplaced = [m for m in import_graph() if m != "assistant" and layer_of(m) is None]
    assert not unplaced, f"modules outside every layer (add them to LAYERS): {unplaced}"


def test_the_package_has_no_import_circle():
    assert find_cycle(import_graph()) is None


def test_no_stage_imports_one_above_it():
    assert upward_imports(import_graph()) == []


@pytest.mark.parametrize("stage", ["answer", "store"])
def test_answering_and_storing_never_import_training_ui_or_cli(stage):
    graph = import_graph()
    reached = {t for m, ts in graph.items() if stage_of(m) == stage for t in ts}
    assert not {t for t in reached if stage_of(t) in {"learn", "web", "cli"}}


def test_the_checks_see_circles_and_upward_imports():
    # the checks themselves: a circle and an upward edge planted in a copy of the graph
    graph = import_graph()
    graph["assistant.store.chunking"] = graph["assistant.store.chunking"] | {
        "assistant.answer.retrieval"
    }
    assert "assistant.store.chunking -> assistant.answer.retrieval" in upward_imports(graph)
    assert find_cycle(graph) is not None


def test_the_graph_reads_relative_and_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from . import x\n\ndef f():\n    from ..b import y\n")
    known = {"pkg.sub.x", "pkg.b", "pkg.b.y"}
    assert imports_of(module, "pkg.sub.m", known) == {"pkg.sub.x", "pkg.b.y"}


def test_the_old_retriever_import_path_still_works():
    from assistant.answer.retrieval import HybridRetriever
    from assistant.retrieval import HybridRetriever as FromOldPath

    assert FromOldPath is HybridRetriever
