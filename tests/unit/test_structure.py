"""The shape of scripts/gitops, read from its source with `ast`: one folder per concern, imports
that only point down the layers, no cycles, no hidden repository root, small modules."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest
from support.checkout import ROOT

PACKAGE = ROOT / "scripts" / "gitops"
# Lower layers first. A module may import its own area and the areas of lower layers, never a
# sibling of its own layer or anything above it (tasks -> domain -> core, as DESIGN.md says).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("manifests", "secrets", "images"),
    ("cluster", "delivery", "stack"),
    ("verify",),
    ("lifecycle",),
    ("tasks",),
)
RANK = {area: rank for rank, areas in enumerate(LAYERS) for area in areas}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p))
            for p in sorted(PACKAGE.rglob("*.py"))}


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def resolve(name: str, known: set[str]) -> str | None:
    """The gitops module an import names (`from gitops.core import run` names gitops.core.run)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(tree: ast.Module, known: set[str], *, top_level_only: bool) -> set[str]:
    """gitops modules imported by tree, at module level only or anywhere."""
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        for name in names:
            if name.startswith("gitops") and (target := resolve(name, known)) and target != "gitops":
                found.add(target)
    return found


def graph(*, top_level_only: bool) -> dict[str, set[str]]:
    known = set(modules())
    return {name: imports(tree, known, top_level_only=top_level_only) - {name}
            for name, tree in modules().items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_every_area_is_a_known_layer_with_a_docstring() -> None:
    areas = {area(m) for m in modules() if area(m)}
    assert areas == set(RANK), f"areas on disk {sorted(areas)} differ from the layer table"
    for name in RANK:
        doc = ast.get_docstring(modules()[f"gitops.{name}"])
        assert doc and len(doc.split()) >= 5, f"gitops/{name}/__init__.py must say its one job"


def test_module_level_imports_have_no_cycle() -> None:
    assert find_cycle(graph(top_level_only=True)) is None


def test_imports_only_point_down_the_layers() -> None:
    wrong = [f"{source} imports {target}"
             for source, targets in graph(top_level_only=False).items() if area(source)
             for target in targets
             if area(target) != area(source) and RANK[area(target)] >= RANK[area(source)]]
    assert wrong == []


def test_function_local_imports_only_in_the_task_layer() -> None:
    """Heavy libraries load where their adapter module is imported, not halfway through a call."""
    local = []
    for name, tree in modules().items():
        if area(name) == "tasks":
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                local += [f"{name}:{sub.lineno}" for sub in ast.walk(node)
                          if isinstance(sub, (ast.Import, ast.ImportFrom))]
    assert local == []


def test_only_core_knows_where_the_repository_is() -> None:
    """No __file__ arithmetic and no module-level Repo outside core: a Repo is passed down."""
    offenders = []
    for name, tree in modules().items():
        if area(name) == "core":
            continue
        if any(isinstance(n, ast.Name) and n.id == "__file__" for n in ast.walk(tree)):
            offenders.append(f"{name} uses __file__")
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if any(isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "Repo"
                   for n in ast.walk(stmt)):
                offenders.append(f"{name}:{stmt.lineno} makes a Repo at import time")
    assert offenders == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_too_long_to_hold_one_job(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
