"""Repository-level pytest setup: the torch backend's doctests need the torch extra."""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("torch") is None:
    collect_ignore = ["hambox_torch"]
