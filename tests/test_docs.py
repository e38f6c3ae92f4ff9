"""The ``>>>`` examples of the user guide (``docs/**/*.rst``) run as doctests.

The docstrings' examples already run through ``--doctest-modules``; this covers the examples
written in the guide pages, so that a page cannot show output the library no longer gives. The
documentation build itself (``sphinx -W``) runs in ``make test`` and ``make docs``, not here.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(
    p
    for p in DOCS.rglob("*.rst")
    if "_build" not in p.parts and "_generated" not in p.parts and ">>>" in p.read_text()
)


def test_pages_with_examples_exist():
    assert PAGES, f"no .rst page with >>> examples under {DOCS}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples(page: Path):
    result = doctest.testfile(
        str(page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        report=True,
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {page}"
