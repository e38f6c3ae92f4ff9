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

__all__ = [
    "box_arrays",
    "coords",
    "predictions_for",
    "sizes",
    "threshold_on_edge",
    "wider_cases",
]

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


@st.composite
def wider_cases(draw, max_images: int = 4, max_faces: int = 8, max_preds: int = 12):
    """``(gt, preds)`` for the WIDER FACE protocol, drawn to sit on its int32 rounding edges.

    Faces are integer ``x y w h`` (int32 values, as in the official ``.mat`` files) with
    negative and zero sizes now and then, the ``0 0 0 0`` dummy, and coordinates near the int32
    limits; detections are copies of faces moved and resized by quarter pixels (IoUs close to
    0.5, corners at .5 that MATLAB rounds away from zero), with scores from a small set (ties)
    or anywhere; images without faces and without predictions occur.
    """
    from hambox_core.evaluation.widerface import WiderGroundTruth

    n_img = draw(st.integers(1, max_images))
    far = draw(st.sampled_from([0, 0, 0, 2**31 - 200, -(2**31) + 200]))
    keys, boxes, keeps, preds = [], [], {"easy": [], "hard": []}, {}
    quarter = st.integers(-12, 12).map(lambda k: k / 4)
    for i in range(n_img):
        n = draw(st.integers(0, max_faces))
        faces = []
        for _ in range(n):
            kind = draw(st.integers(0, 9))
            if kind == 0:
                faces.append([0, 0, 0, 0])
                continue
            if kind <= 3 and faces:
                # a neighbour of an earlier face: one detection can reach IoU 0.5 with both
                x, y, w, h = faces[draw(st.integers(0, len(faces) - 1))]
                shift = st.integers(-3, 3)
                faces.append([x + draw(shift), y + draw(shift), w + draw(shift), h + draw(shift)])
                continue
            x = far + draw(st.integers(-20, 120))
            y = draw(st.integers(-20, 120))
            w = draw(st.integers(-3, 60))
            h = draw(st.one_of(st.just(w), st.integers(-3, 60)))
            faces.append([x, y, w, h])
        keys.append(("0--Event", f"img{i}"))
        boxes.append(np.asarray(faces, dtype=np.float64).reshape(-1, 4))
        hard = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        keeps["hard"].append(hard)
        keeps["easy"].append([k and draw(st.booleans()) for k in hard])
        if draw(st.integers(0, 5)) == 0:
            continue  # no prediction for this image
        rows = []
        for _ in range(draw(st.integers(0, max_preds))):
            if faces and draw(st.booleans()):
                x, y, w, h = faces[draw(st.integers(0, len(faces) - 1))]
                rows.append(
                    [x + draw(quarter), y + draw(quarter), w + draw(quarter), h + draw(quarter)]
                )
            else:
                rows.append(
                    [
                        far + draw(st.integers(-80, 480)) / 4,
                        draw(st.integers(-80, 480)) / 4,
                        draw(st.integers(-4, 240)) / 4,
                        draw(st.integers(-4, 240)) / 4,
                    ]
                )
            rows[-1].append(
                draw(
                    st.one_of(
                        st.sampled_from([0.0, 0.25, 0.5, 1.0]),
                        st.floats(-50, 50, allow_nan=False, width=32),
                    )
                )
            )
        preds[keys[-1]] = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    gt = WiderGroundTruth.from_images(keys, boxes, keeps)
    return gt, preds
