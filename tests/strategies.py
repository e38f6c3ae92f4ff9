"""Hypothesis strategies for boxes, shared by every property test.

Boxes are built valid by construction: ``x0, y0`` first, then a width and height >= 0, so
``x1 >= x0`` always holds. Every coordinate is exactly representable in float32 (drawn on a
1/64-pixel lattice), so float32 conversion never moves a box and hand-built threshold cases stay
on their threshold. Empty arrays are always possible unless ``min_n`` says otherwise.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st

from hambox_core import AnchorGenerator
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


# --- anchors as other code builds them ---------------------------------------------------------


def torchvision_grid_anchors(image_hw, feature_hws, sizes, aspect_ratios) -> np.ndarray:
    """torchvision's ``AnchorGenerator`` output for one image, in numpy, operation for operation.

    Cell anchors ``round([-w, -h, w, h] / 2)`` in float32 (``w = size / sqrt(ratio)``,
    ``h = size * sqrt(ratio)``, ratio-major then size), shifted by ``(x * stride_w,
    y * stride_h)`` with ``stride = image // feature``; location-major, then cell anchor; levels
    in the order given. (tests/test_matching.py checks it against torchvision itself.)
    """
    parts = []
    for (gh, gw), level_sizes, ratios in zip(feature_hws, sizes, aspect_ratios, strict=True):
        scales = np.asarray(level_sizes, np.float32)
        h_ratios = np.sqrt(np.asarray(ratios, np.float32))
        w_ratios = np.float32(1) / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
        hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
        cell = np.round(np.stack([-ws, -hs, ws, hs], axis=1) / np.float32(2))
        stride_h, stride_w = image_hw[0] // gh, image_hw[1] // gw
        shift_y, shift_x = np.meshgrid(
            np.arange(gh) * stride_h, np.arange(gw) * stride_w, indexing="ij"
        )
        shifts = np.stack([shift_x, shift_y, shift_x, shift_y], axis=-1).reshape(-1, 1, 4)
        parts.append((shifts.astype(np.float32) + cell[None]).reshape(-1, 4))
    return np.concatenate(parts, axis=0) if parts else np.zeros((0, 4), np.float32)


_GENERATORS = (
    AnchorGenerator(),
    AnchorGenerator(scale=1.0),
    AnchorGenerator(strides=(4, 8, 16), base_sizes=(16, 32, 64), ratios=(1.0, 1.5)),
    AnchorGenerator(strides=(8, 16), base_sizes=(20, 44), scale=0.9, ratios=(0.5, 1.0, 2.0)),
)


@st.composite
def _torchvision_anchors(draw) -> np.ndarray:
    """A torchvision-style grid: 1-3 levels, several sizes x ratios per location."""
    hw = (draw(st.integers(8, 160)), draw(st.integers(8, 160)))
    levels = draw(st.integers(1, 3))
    feature_hws, sizes, ratios = [], [], []
    for level in range(levels):
        stride = 8 * 2**level
        feature_hws.append((max(1, -(-hw[0] // stride)), max(1, -(-hw[1] // stride))))
        base = 16 * 2**level
        sizes.append(draw(st.sampled_from([(base,), (base, round(base * 1.26)), (base, base * 2)])))
        ratios.append(draw(st.sampled_from([(1.0,), (0.5, 1.0, 2.0), (1.0, 1.5)])))
    return torchvision_grid_anchors(hw, feature_hws, sizes, ratios)


def _levels(anchors: np.ndarray, gen: AnchorGenerator, hw) -> list[np.ndarray]:
    bounds = np.cumsum([0, *gen.num_anchors_per_level(hw)])
    return [anchors[a:b] for a, b in itertools.pairwise(bounds)]


def _column_major(level: np.ndarray, fh: int, fw: int, n: int) -> np.ndarray:
    return level.reshape(fh, fw, n, 4).transpose(1, 0, 2, 3).reshape(-1, 4)


@st.composite
def _perturbed(draw, anchors: np.ndarray) -> np.ndarray:
    """``anchors`` with one anchor off its grid: by one float32 ulp, or moved by up to 40 px."""
    out = np.array(anchors, dtype=np.float32, copy=True)
    if len(out) == 0:
        return out
    i = draw(st.integers(0, len(out) - 1))
    how = draw(st.sampled_from(["ulp", "ulp", "shift", "resize"]))
    if how == "ulp":
        q = draw(st.integers(0, 3))
        toward = -np.inf if q < 2 else np.inf  # keeps x1 >= x0 and y1 >= y0
        out[i, q] = np.nextafter(out[i, q], np.float32(toward))
    elif how == "shift":
        d = np.float32(draw(st.integers(1, 40 * 64)) / 64.0)
        axis = draw(st.integers(0, 1))
        out[i, axis::2] += d
    else:
        out[i, 2:] += np.float32(draw(st.integers(1, 16 * 64)) / 64.0)
    return out


#: What :func:`anchor_arrays` can draw.
ANCHOR_KINDS = (
    "grid",
    "reversed",
    "float64",
    "torchvision",
    "shuffled",
    "column_major",
    "perturbed",
    "mixed",
    "view",
    "random",
)


@st.composite
def anchor_arrays(draw, kinds=None) -> np.ndarray:
    """Anchors as a detector's own code may build them, and boxes that are no grid at all.

    Kinds: ``grid`` (:meth:`AnchorGenerator.grid_anchors`), ``float64`` (the same values as
    float64), ``torchvision`` (:func:`torchvision_grid_anchors`), ``shuffled`` (levels in a random
    order), ``column_major`` (x outer, y inner within each level), ``perturbed`` (one anchor off
    its grid, by one ulp or more), ``mixed`` (a grid with random boxes inserted), ``view`` (a
    non-contiguous view: every other anchor), ``reversed`` (the whole array backwards: negative
    steps) and ``random`` (boxes on no grid).
    """
    kinds = kinds or ANCHOR_KINDS
    kind = draw(st.sampled_from(kinds))
    if kind == "random":
        return draw(box_arrays(min_n=0, max_n=300, lo=-20, hi=200, max_size=120))
    if kind == "torchvision":
        return draw(_torchvision_anchors())
    gen = draw(st.sampled_from(_GENERATORS))
    hw = (draw(st.integers(0, 160)), draw(st.integers(0, 160)))
    anchors = gen.grid_anchors(hw)
    if kind == "grid":
        return anchors
    if kind == "float64":
        return anchors.astype(np.float64)
    if kind == "view":
        return np.concatenate([anchors, anchors])[::2]
    if kind == "reversed":
        return anchors[::-1]
    if kind == "perturbed":
        return draw(_perturbed(anchors))
    if kind == "mixed":
        junk = draw(box_arrays(min_n=1, max_n=8, lo=-20, hi=200, max_size=120))
        rows = list(anchors)
        for box in junk:
            rows.insert(draw(st.integers(0, len(rows))), box)
        return np.asarray(rows, np.float32).reshape(-1, 4)
    levels = _levels(anchors, gen, hw)
    if kind == "column_major":
        n = gen.num_anchors_per_location
        levels = [
            _column_major(lv, fh, fw, n)
            for lv, (fh, fw) in zip(levels, gen.feature_shapes(hw), strict=True)
        ]
    else:  # shuffled
        levels = [levels[k] for k in draw(st.permutations(range(len(levels))))]
    return np.concatenate(levels, axis=0) if levels else anchors
