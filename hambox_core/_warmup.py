"""Compile or load every numba kernel once (tests call this in a session fixture)."""

from __future__ import annotations

__all__ = ["warm_up"]


def warm_up() -> None:
    """Run each numba kernel of :mod:`hambox_core` once on tiny inputs."""
    import numpy as np

    from .postprocess import nms

    nms(np.array([[0, 0, 1, 1], [0, 0, 1, 1]], dtype=np.float32), np.array([1.0, 0.5]), 0.5)
