"""Cross-backend conformance: the torch backend against the core, on identical inputs."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the torch extra is not installed")
