"""The real import graph of hambox's two packages, read from the source (no import is run).

Used twice, so that the picture and the rule cannot drift apart: the architecture page's
diagram is drawn from it at docs build time (``docs/scripts/fig_layers.py``), and
``tests/test_layers.py`` checks it (no cycle, imports pointing down the layers of
:data:`LAYERS`, no private name taken from another module).

Every ``import`` and ``from ... import`` statement counts, at module level or inside a function:
a function-level import is still a dependency, only a later one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hambox_core", "hambox_torch")

#: hambox_torch's layers, bottom first: module prefix -> layer. A module belongs to the longest
#: prefix that matches; it may import modules of its own layer and of the layers below.
LAYERS: dict[str, int] = {
    "hambox_torch": 0,  # the package itself re-exports the operations
    "hambox_torch.boxes": 0,
    "hambox_torch.anchors": 0,
    "hambox_torch.matching": 0,
    "hambox_torch.losses": 0,
    "hambox_torch.postprocess": 0,
    "hambox_torch.progress": 0,
    "hambox_torch.models": 1,
    "hambox_torch.data": 1,
    "hambox_torch.recipe": 2,
    "hambox_torch.pipeline": 3,
    "hambox_torch.inference": 4,
    "hambox_torch.export": 4,
    "hambox_torch.analysis": 4,
    "hambox_torch.integrations": 4,
    "hambox_torch.engine": 5,
    "hambox_torch.cli": 6,
}

#: Name of each layer, for the diagram and for messages.
LAYER_NAMES = (
    "operations",
    "models, data",
    "recipe",
    "pipeline",
    "inference, export, analysis, integrations",
    "engine (training loop)",
    "cli",
)


@dataclass(frozen=True)
class Import:
    """One import statement's target inside our packages."""

    source: str  # importing module
    target: str  # imported module (a package means its __init__)
    names: tuple[str, ...]  # names taken with ``from target import ...`` ("" for ``import``)
    line: int
    in_function: bool


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Module name -> file of every module of both packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _function_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lines.add(inner.lineno)
    return lines


def imports(root: Path = ROOT) -> list[Import]:
    """Every import of one of our modules by one of our modules."""
    known = modules(root)
    out: list[Import] = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        in_function = _function_lines(tree)
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in PACKAGES:
                        out.append(
                            Import(
                                module, alias.name, ("",), node.lineno, node.lineno in in_function
                            )
                        )
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, is_package, node)
                if target.split(".")[0] not in PACKAGES:
                    continue
                plain = []
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in known:  # ``from package import submodule``
                        out.append(
                            Import(module, sub, ("",), node.lineno, node.lineno in in_function)
                        )
                    else:
                        plain.append(alias.name)
                if plain:
                    out.append(
                        Import(
                            module, target, tuple(plain), node.lineno, node.lineno in in_function
                        )
                    )
    return out


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules it imports (ours only, itself excluded)."""
    g: dict[str, set[str]] = {m: set() for m in modules(root)}
    for imp in imports(root):
        if imp.target != imp.source and imp.target in g:
            g[imp.source].add(imp.target)
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(found)


def layer_of(module: str) -> int | None:
    """The layer of a hambox_torch module (longest matching prefix of :data:`LAYERS`)."""
    best = None
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    return None if best is None else best[1]


def upward_imports(root: Path = ROOT) -> list[Import]:
    """hambox_torch imports that point to a higher layer than their module's."""
    bad = []
    for imp in imports(root):
        src, dst = layer_of(imp.source), layer_of(imp.target)
        if src is not None and dst is not None and dst > src:
            bad.append(imp)
    return bad


def private_imports(root: Path = ROOT) -> list[Import]:
    """Imports of a private name (``_x``) from another module, or of a private module of the
    other package (``hambox_torch`` taking ``hambox_core._x``)."""
    bad = []
    for imp in imports(root):
        if imp.target == imp.source:
            continue
        if any(n.startswith("_") and not n.startswith("__") for n in imp.names):
            bad.append(imp)
            continue
        same_package = imp.source.split(".")[0] == imp.target.split(".")[0]
        if not same_package and any(p.startswith("_") for p in imp.target.split(".")):
            bad.append(imp)
    return bad


def layer_edges(root: Path = ROOT) -> dict[tuple[int, int], int]:
    """(from layer, to layer) -> number of module-to-module imports, across layers only."""
    counts: dict[tuple[int, int], int] = {}
    g = graph(root)
    for source, targets in g.items():
        for target in targets:
            a, b = layer_of(source), layer_of(target)
            if a is not None and b is not None and a != b:
                counts[(a, b)] = counts.get((a, b), 0) + 1
    return counts
