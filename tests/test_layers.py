"""No import loop between packages: the layers of docs/architecture.md hold at package level.

The import graph (grimp, the library behind ``lint-imports``) of every first-party module, each
module collapsed to the package it belongs to (a package's ``__init__`` and its modules are one
node); a loop among those nodes fails, printed as the chain of imports that closes it.
"""

from __future__ import annotations

from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
ROOTS = ("core", "edge", "sync", "provisioning", "bench")


def _package_of(module: str) -> str:
    # A package (a directory with __init__.py) is its own node; a module belongs to its package.
    if (ROOT / module.replace(".", "/") / "__init__.py").exists():
        return module
    return module.rpartition(".")[0]


def package_graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], tuple[str, str]]]:
    graph = grimp.build_graph(*ROOTS, include_external_packages=False)
    edges: dict[str, set[str]] = {}
    witness: dict[tuple[str, str], tuple[str, str]] = {}
    packages = {_package_of(m) for m in graph.modules}
    for module in graph.modules:
        source = _package_of(module)
        for imported in graph.find_modules_directly_imported_by(module):
            target = _package_of(imported)
            if target != source and target in packages:
                edges.setdefault(source, set()).add(target)
                witness.setdefault((source, target), (module, imported))
    return edges, witness


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One loop among the packages (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_find_cycle_finds_a_loop_and_only_a_loop() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_package_level_import_loop() -> None:
    edges, witness = package_graph()
    assert "edge.store" in edges and "edge.web" in edges  # the graph is the real one
    cycle = find_cycle(edges)
    if cycle is not None:
        chain = "\n".join(f"  {a} -> {b}   ({' imports '.join(witness[(a, b)])})" for a, b in zip(cycle, cycle[1:], strict=False))
        print(f"package-level import loop:\n{chain}")
        raise AssertionError(f"package-level import loop: {' -> '.join(cycle)}\n{chain}")
