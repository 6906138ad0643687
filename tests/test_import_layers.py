"""The packages' dependencies point one way (docs/architecture.md): no import circle between files, the
emulator stands alone, and each emulator layer imports only the layers below it.

Imports are read from the source with ``ast`` (module level, inside functions, and under
``TYPE_CHECKING`` alike: a circle the type checker has to follow is a circle), and importing
``a.b.c`` counts as importing the packages ``a`` and ``a.b`` too, since Python runs their ``__init__``
(except the importer's own packages: they ran before it did).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Emulator layers, lowest first: a module may import its own layer and those before it.
EMULATOR_LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "spcs_emulator.errors",
        "spcs_emulator.results",
        "spcs_emulator.paths",
        "spcs_emulator.stage_digests",
        "spcs_emulator.sql",
        "spcs_emulator.waits",
        "spcs_emulator.control_client",  # standard library only: a client may import nothing else
    ),
    ("spcs_emulator.protocol",),
    ("spcs_emulator.account",),
    ("spcs_emulator.spcs",),
    ("spcs_emulator.control_api", "spcs_emulator.emulator", "spcs_emulator.__main__"),
)


def _modules(root: Path) -> dict[str, Path]:
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The longest module of ours that ``name`` names (``a.b.func`` -> ``a.b``), if any."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _with_parents(name: str, modules: dict[str, Path], importer: str) -> set[str]:
    """``name`` and the packages above it, less the importer's own packages (already run)."""
    parts = name.split(".")
    packages = {".".join(parts[:i]) for i in range(1, len(parts))}
    own = {".".join(importer.split(".")[:i]) for i in range(1, len(importer.split(".")))}
    return ({name} | packages - own) & modules.keys()


@functools.cache
def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{alias.name}" for alias in node.names]
            for name in names:
                found = _known(name, modules)
                if found:
                    targets |= _with_parents(found, modules, module)
        graph[module] = targets - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def _layer(module: str) -> int | None:
    for level, prefixes in enumerate(EMULATOR_LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    return None


def test_the_cycle_check_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_reads_relative_imports_and_counts_parent_packages(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("from pkg import top\n")
    (tmp_path / "pkg" / "sub" / "leaf.py").write_text("from ..top import thing\n")
    (tmp_path / "pkg" / "top.py").write_text("def f():\n    from pkg.sub.leaf import x\n")
    graph = import_graph(tmp_path)
    assert graph["pkg.sub.leaf"] == {"pkg.top"}  # its own packages ran before it
    assert "pkg.sub" in graph["pkg.top"]
    assert cycles(graph) == [["pkg.sub", "pkg.sub.leaf", "pkg.top"]]


def test_no_import_circle_between_files() -> None:
    assert cycles(import_graph()) == []


def test_the_emulator_imports_nothing_of_the_harness() -> None:
    graph = import_graph()
    reaching = {
        module: sorted(t for t in targets if t.split(".")[0] != "spcs_emulator")
        for module, targets in graph.items()
        if module.startswith("spcs_emulator")
    }
    assert {m: t for m, t in reaching.items() if t} == {}


@pytest.mark.parametrize("module", sorted(m for m in import_graph() if m.startswith("spcs_emulator.")))
def test_emulator_layers_point_down(module: str) -> None:
    own = _layer(module)
    assert own is not None, f"{module} is in no layer of EMULATOR_LAYERS"
    upward = sorted(t for t in import_graph()[module] if (_layer(t) or 0) > own)
    assert upward == [], f"{module} (layer {own}) imports a higher layer: {upward}"
