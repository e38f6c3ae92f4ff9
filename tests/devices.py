"""Devices a cross-backend test runs on: the CPU always, CUDA when torch sees a GPU."""

from __future__ import annotations

import pytest

try:
    import torch
except ImportError:  # the torch extra is optional; conformance tests skip without it
    torch = None

HAS_CUDA = torch is not None and torch.cuda.is_available()

#: Use as ``@pytest.mark.parametrize("device", DEVICES)``.
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not HAS_CUDA, reason="no CUDA"))]
