"""Hypothesis strategies for boxes, shared by every property test.

Boxes are built valid by construction: ``x0, y0`` first, then a width and height >= 0, so
``x1 >= x0`` always holds. Every coordinate is exactly representable in float32 (drawn on a
1/64-pixel lattice), so float32 conversion never moves a box and hand-built threshold cases stay
on their threshold. Empty arrays are always possible unless ``min_n`` says otherwise.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from hambox_core.boxes import box_iou

__all__ = ["box_arrays", "coords", "predictions_for", "sizes", "threshold_on_edge"]

_STEP = 1.0 / 64.0


def coords(lo: float = -50.0, hi: float = 700.0) -> st.SearchStrategy[float]:
    """A float32-exact coordinate on the 1/64-pixel lattice in ``[lo, hi]``."""
    return st.integers(int(lo / _STEP), int(hi / _STEP)).map(lambda k: k * _STEP)


def sizes(lo: float = 0.0, hi: float = 400.0) -> st.SearchStrategy[float]:
    """A float32-exact box side on the 1/64-pixel lattice in ``[lo, hi]``, small ones likely."""
    lattice = st.integers(int(lo / _STEP), int(hi / _STEP)).map(lambda k: k * _STEP)
    small = st.integers(int(lo / _STEP), int(min(hi, 24.0) / _STEP)).map(lambda k: k * _STEP)
    return st.one_of(small, lattice)


@st.composite
def box_arrays(
    draw,
    min_n: int = 0,
    max_n: int = 30,
    lo: float = -50.0,
    hi: float = 700.0,
    min_size: float = 0.0,
    max_size: float = 400.0,
) -> np.ndarray:
    """An ``(N, 4)`` float32 array of valid xyxy boxes, ``min_n <= N <= max_n``.

    Duplicated boxes are drawn on purpose now and then, since matchers must handle them.
    """
    n = draw(st.integers(min_n, max_n))
    rows = []
    for _ in range(n):
        if rows and draw(st.integers(0, 9)) == 0:
            rows.append(rows[draw(st.integers(0, len(rows) - 1))])
            continue
        x0 = draw(coords(lo, hi))
        y0 = draw(coords(lo, hi))
        w = draw(sizes(min_size, max_size))
        h = draw(st.one_of(st.just(w), sizes(min_size, max_size)))
        rows.append((x0, y0, x0 + w, y0 + h))
    return np.asarray(rows, dtype=np.float32).reshape(n, 4)


@st.composite
def predictions_for(draw, anchors, faces):
    """Predicted boxes: jittered anchors, some snapped onto faces, a few anywhere."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pred = anchors.astype(np.float64).copy()
    if len(pred):
        size = np.maximum(pred[:, 2:] - pred[:, :2], 1.0)
        pred[:, :2] += rng.normal(0, 0.15, (len(pred), 2)) * size
        pred[:, 2:] = pred[:, :2] + size * np.exp(rng.normal(0, 0.2, (len(pred), 2)))
        if len(faces):
            snap = rng.random(len(pred)) < 0.05
            pick = rng.integers(0, len(faces), len(pred))
            pred[snap] = faces[pick[snap]] + rng.normal(0, 0.5, (snap.sum(), 4)) * (
                rng.random((snap.sum(), 1)) < 0.7
            )
        wild = rng.random(len(pred)) < 0.01
        pred[wild, :2] = rng.uniform(-500, 500, (wild.sum(), 2))
        pred[wild, 2:] = pred[wild, :2] + rng.uniform(0, 300, (wild.sum(), 2))
    pred[:, 2:] = np.maximum(pred[:, 2:], pred[:, :2])
    return pred.astype(np.float32)


def threshold_on_edge(draw, anchors, faces, default):
    """A threshold that equals an IoU some anchor actually has with some face (or the default)."""
    if len(anchors) == 0 or len(faces) == 0 or not draw(st.booleans()):
        return default
    iou = box_iou(anchors, faces)
    values = np.unique(iou[(iou > 0) & (iou < 1)])
    if values.size == 0:
        return default
    return float(values[draw(st.integers(0, values.size - 1))])
