"""Sphinx glue of the hambox docs: re-export aliases and figures drawn at build time.

Two jobs:

1. **Aliases.** :mod:`hambox_core` re-exports its main names (``hambox_core.HAMBoxMatcher`` is
   ``hambox_core.matching.HAMBoxMatcher``). Each object is documented once, on its module's
   page; a reference to the re-exported spelling (in a docstring or a summary table) is
   resolved here to that page instead of being left dangling.
2. **Figures.** On ``builder-inited`` every ``docs/scripts/fig_*.py`` is run in-process and
   writes its PNG into ``docs/_generated/`` (git-ignored), so each build draws the figures from
   the code as it is now. No image is committed. What cannot be computed within a docs build
   (a trained detector's detections, PR curves and Fig. 2; Fig. 1 on the official WIDER FACE
   ``.mat`` files, which are not in the repository) is committed as numbers in
   ``docs/data/*.json``, each file naming the command that measured it
   (``docs/scripts/make_demo_data.py`` for the demo detector's).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

PACKAGES = ("hambox_core", "hambox_torch")


def _canonical(target: str) -> str | None:
    """``package[.subpackage].Name[.attr]`` -> ``module.Name[.attr]`` where ``Name`` is defined.

    Works for any package of ours that re-exports names (``hambox_core.HAMBoxMatcher``,
    ``hambox_torch.models.HAMBoxDetector``, ...).
    """
    parts = target.split(".")
    if parts[0] not in PACKAGES or len(parts) < 2:
        return None
    for split in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:split])
        try:
            obj = getattr(importlib.import_module(head), parts[split])
        except (ImportError, AttributeError):
            continue
        module = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if not module or not qualname:
            # A constant (dict, tuple, ...): the submodule of ``head`` that holds the object.
            module, qualname = _holder(head, parts[split], obj), parts[split]
        if not module or module == head:
            return None
        return ".".join([module, qualname, *parts[split + 1 :]])
    return None


def _holder(package: str, name: str, obj) -> str | None:
    """The loaded submodule of ``package`` whose ``name`` is ``obj``: one that lists it in its
    ``__all__`` (it defines it; others merely import it), else the most specific."""
    found = [
        modname
        for modname, mod in list(sys.modules.items())
        if modname.startswith(package + ".") and getattr(mod, name, None) is obj
    ]
    owners = [m for m in found if name in getattr(sys.modules[m], "__all__", ())]
    return max(owners or found, key=len) if found else None


def resolve_alias(app, env, node, contnode):
    """``missing-reference`` handler: retry a re-exported name under its defining module."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    canonical = _canonical(target)
    if canonical is None and node.get("py:module"):
        # A short name in a docstring, relative to the module (or package) it is written in.
        canonical = _canonical(f"{node['py:module']}.{target}")
        if canonical is None and node.get("py:class"):
            canonical = _canonical(f"{node['py:module']}.{node['py:class']}.{target}")
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
