"""Sphinx configuration of the hambox documentation.

Build (what ``make docs`` and ``make test`` run)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Nothing here needs the network, neither to build nor to read the pages: no intersphinx,
MathJax from the ``sphinx-mathjax-offline`` package (copied next to the pages), and every
figure drawn at build time from this project's own code and committed numbers (see
``_ext/hambox_docs.py``, ``scripts/`` and ``data/``). Generated files go to ``_generated/``
and ``api/_generated/``, both git-ignored.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import hambox_core  # noqa: E402  (after the path set-up, like every Sphinx conf.py)

# -- Project -----------------------------------------------------------------------------------

project = "hambox"
author = "the hambox authors"
copyright = "the hambox authors, Apache-2.0"
release = hambox_core.__version__
version = release

# -- General -----------------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 shipped by a package (copied into _static/mathjax): equations render with no
    # network; sphinx.ext.mathjax alone loads MathJax from a CDN.
    "sphinx-mathjax-offline",
    "numpydoc",
    "hambox_docs",  # docs/_ext: re-export aliases and the build-time figures
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "py:obj"
nitpicky = True
# Types named in signatures and docstrings that are not part of this project: numpy, the
# standard library and numba have no inventory here (intersphinx would need the network).
nitpick_ignore_regex = [
    (r"py:.*", r"(np|numpy|numba|scipy|collections|typing|weakref)(\..*)?"),
    # torch, torchvision, Pillow and the standard library modules the torch side names.
    (r"py:.*", r"(torch|torchvision|PIL|os|argparse|pathlib|dataclasses|functools|tqdm)(\..*)?"),
    (r"py:.*", r"(skimage|tv_tensors|DataLoader|DistributedSampler)(\..*)?"),
    (r"py:.*", r"(int|float|bool|str|tuple|list|dict|None|object|callable|optional)"),
]

# -- autodoc / autosummary / numpydoc ------------------------------------------------------------

autosummary_generate = True
autosummary_ignore_module_all = False  # every page lists exactly a module's ``__all__``
autodoc_typehints = "none"  # the numpydoc "Parameters" types are the reference
autodoc_preserve_defaults = True  # show "beta=1.0 / 9.0", not 0.1111111111111111
autodoc_member_order = "bysource"
autodoc_default_options = {
    "members": True,
    # The matchers' __call__ lives on their private base class; torch.nn.Module's own members
    # (hundreds, with docstrings Sphinx cannot resolve) are left out, and so are dict's (the
    # WIDER FACE AP table is a dict).
    "inherited-members": "Module,dict",
    "special-members": "__call__",
}
numpydoc_show_class_members = False  # autodoc documents the members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- HTML --------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"hambox {release}"
html_static_path = ["_static"]
html_css_files = ["hambox.css"]  # code blocks scroll or wrap instead of being cut off
mathjax_path = "mathjax/tex-chtml.js"  # relative to _static: the copy sphinx-mathjax-offline ships
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
