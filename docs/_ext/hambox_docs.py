"""Sphinx glue of the hambox docs: re-export aliases and figures drawn at build time.

Two jobs:

1. **Aliases.** :mod:`hambox_core` re-exports its main names (``hambox_core.HAMBoxMatcher`` is
   ``hambox_core.matching.HAMBoxMatcher``). Each object is documented once, on its module's
   page; a reference to the re-exported spelling (in a docstring or a summary table) is
   resolved here to that page instead of being left dangling.
2. **Figures.** On ``builder-inited`` every ``docs/scripts/fig_*.py`` is run in-process and
   writes its PNG into ``docs/_generated/`` (git-ignored), so each build draws the figures from
   the code as it is now.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

PACKAGES = ("hambox_core", "hambox_torch")


def _canonical(target: str) -> str | None:
    """``hambox_core.Name[.attr]`` -> ``module.Name[.attr]`` where ``Name`` is defined."""
    head, _, rest = target.partition(".")
    if head not in PACKAGES or not rest:
        return None
    name, _, attr = rest.partition(".")
    try:
        obj = getattr(importlib.import_module(head), name)
    except (ImportError, AttributeError):
        return None
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or module == head:
        return None
    return f"{module}.{qualname}" + (f".{attr}" if attr else "")


def resolve_alias(app, env, node, contnode):
    """``missing-reference`` handler: retry a re-exported name under its defining module."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    canonical = _canonical(target)
    if canonical is None:
        return None
    domain = env.get_domain("py")
    builder = app.builder
    for role in (node.get("reftype"), "obj"):
        ref = domain.resolve_xref(
            env, node.get("refdoc", ""), builder, role, canonical, node, contnode
        )
        if ref is not None:
            return ref
    return None


def draw_figures(app) -> None:
    """Run every ``scripts/fig_*.py`` (``main(out_dir)``) into ``_generated/``."""
    src = Path(app.srcdir)
    out = src / "_generated"
    out.mkdir(exist_ok=True)
    import matplotlib

    matplotlib.use("Agg", force=True)
    for script in sorted((src / "scripts").glob("fig_*.py")):
        t0 = time.perf_counter()
        spec = importlib.util.spec_from_file_location(f"_hambox_docs_{script.stem}", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        written = module.main(out)
        logger.info(
            "hambox_docs: %s -> %s (%.1f s)",
            script.name,
            ", ".join(p.name for p in written),
            time.perf_counter() - t0,
        )


def setup(app):
    app.connect("builder-inited", draw_figures)
    app.connect("missing-reference", resolve_alias)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
