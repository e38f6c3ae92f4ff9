"""Compile, or load from numba's on-disk cache, every numba kernel once.

The test suite calls :func:`warm_up` in a session fixture so that no test pays the first-call
latency; services can call it at start-up for the same reason.
"""

from __future__ import annotations

__all__ = ["warm_up"]


def warm_up() -> None:
    """Run each numba kernel of :mod:`hambox_core` once on tiny inputs."""
    import numpy as np

    from .anchors import AnchorGenerator
    from .matching import HAMBoxMatcher
    from .postprocess import batched_nms, nms

    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 1]], dtype=np.float32)
    nms(boxes, np.array([1.0, 0.5]), 0.5)
    batched_nms(boxes, np.array([1.0, 0.5]), np.array([0, 1]), 0.5)
    anchors = AnchorGenerator().grid_anchors((32, 32))
    face = np.array([[4, 4, 20, 20]], dtype=np.float32)
    HAMBoxMatcher()(anchors, face, anchors)  # one signature serves every strategy and path

    from .evaluation.widerface import WiderGroundTruth, pr_curves

    tiny = WiderGroundTruth.from_images([("e", "i")], [[[0, 0, 10, 10]]], {"hard": [[True]]})
    pr_curves({("e", "i"): [[0, 0, 10, 10, 0.9], [50, 50, 5, 5, 0.1]]}, tiny)
