"""Scenes and where their faces and distractors go.

A scene is one of four (:data:`SCENES`), each its own event folder of the written set:
``crowd`` (up to ~100 faces of 6-20 px in rows that grow towards the bottom, as in WIDER
crowds), ``portrait`` (1-3 large faces), ``group`` (5-20 medium faces in 1-3 rows) and
``scenery`` (no face, only distractors). Every scene with faces also gets a few faces at sizes
log-uniform over the whole range. Face sizes ``sqrt(w * h)`` come from the ranges of
:class:`~hambox_torch.data.embedded.difficulty.Difficulty`, aspects ``h / w`` from its
``aspect``; a face overlaps no other by more than ``max_overlap`` of the smaller box. Then come
the distractors, at the sizes of the image's faces.

Boxes are integer ``(x0, y0, w, h)`` tuples inside the image.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> faces, distractors = layout_scene(rng, "portrait", 240, 320, Difficulty())
>>> all(0 <= x and 0 <= y and x + w <= 320 and y + h <= 240 for x, y, w, h in faces)
True
"""

from __future__ import annotations

import math

import numpy as np

from .difficulty import MIN_FACE, Difficulty
from .sampling import loguniform, randint, uniform

__all__ = ["SCENES", "draw_scene", "layout_scene"]

#: Scene types, in event-id order.
SCENES = ("crowd", "portrait", "group", "scenery")


def draw_scene(rng: np.random.Generator, diff: Difficulty) -> str:
    """One of :data:`SCENES`, drawn with the weights ``diff.scene_weights``."""
    weights = np.asarray(diff.scene_weights, dtype=np.float64)
    return SCENES[int(rng.choice(len(SCENES), p=weights / weights.sum()))]


def layout_scene(rng: np.random.Generator, scene: str, H: int, W: int, diff: Difficulty):
    """The face boxes and distractor boxes of a ``scene`` on an ``H x W`` image.

    Returns
    -------
    faces, distractors : list of (int, int, int, int)
        Integer ``(x0, y0, w, h)`` boxes, in the order they were placed.
    """
    faces: list = []
    dis: list = []
    lo_cap = 0.9 * min(H, W) / math.sqrt(diff.aspect[1])  # the largest box that fits
    if scene == "crowd":
        lo, hi = diff.crowd_size
        s_first = loguniform(rng, lo, min(hi, lo * 1.8))
        _rows(
            rng, H, W, randint(rng, diff.crowd_faces), s_first, hi, (1.05, 1.3),
            (1.1, 1.7), (1.25, 1.6), rng.uniform(0, 0.3) * H, diff, faces, dis,
        )  # fmt: skip
    elif scene == "group":
        lo, hi = diff.group_size
        s = min(loguniform(rng, lo, hi), lo_cap)
        n = randint(rng, diff.group_faces)
        _rows(
            rng, H, W, n, s, s * 1.25, (1.0, 1.12), (1.3, 2.2), (1.4, 2.0),
            rng.uniform(0.05, 0.5) * H, diff, faces, dis,
        )  # fmt: skip
    elif scene == "portrait":
        lo, hi = diff.portrait_size
        n = randint(rng, diff.portrait_faces)
        faces += _scatter(
            rng, H, W, n, lambda: loguniform(rng, lo, hi), diff, faces, [], diff.max_overlap
        )
    if scene != "scenery":
        lo, hi = diff.extra_size
        n = randint(rng, diff.extra_faces)
        faces += _scatter(
            rng, H, W, n, lambda: loguniform(rng, lo, hi), diff, faces, faces, diff.max_overlap
        )
    sizes = [math.sqrt(b[2] * b[3]) for b in faces]

    def distractor_size():
        if sizes:
            return sizes[int(rng.integers(len(sizes)))] * rng.uniform(0.8, 1.25)
        return loguniform(rng, *diff.extra_size)

    n_dis = randint(rng, diff.distractors) + int(round(diff.distractor_ratio * len(faces)))
    if scene == "scenery":
        n_dis += randint(rng, diff.distractors)
    dis += _scatter(rng, H, W, n_dis, distractor_size, diff, faces, faces + dis, 0.1)
    return faces, dis


def _box_from_size(rng, cx: float, cy: float, size: float, diff: Difficulty, W: int, H: int):
    """Integer ``(x0, y0, w, h)`` of a box of ``size = sqrt(w h)`` centred near ``(cx, cy)``."""
    a = uniform(rng, diff.aspect)
    size = max(size, MIN_FACE)
    w = max(int(round(size / math.sqrt(a))), 1)
    h = max(int(round(size * math.sqrt(a))), 1)
    if w * h < MIN_FACE**2:  # rounding must not take a face below the hard setting's floor
        h = -(-(MIN_FACE**2) // w)
    if w > W or h > H:
        return None
    x0 = int(round(min(max(cx - w / 2, 0), W - w)))
    y0 = int(round(min(max(cy - h / 2, 0), H - h)))
    return (x0, y0, w, h)


def _overlaps(box, boxes: list, limit: float) -> bool:
    """Whether ``box`` covers more than ``limit`` of the smaller of it and any of ``boxes``."""
    if not boxes:
        return False
    b = np.asarray(boxes, dtype=np.float64)
    x0, y0, w, h = box
    iw = np.minimum(x0 + w, b[:, 0] + b[:, 2]) - np.maximum(x0, b[:, 0])
    ih = np.minimum(y0 + h, b[:, 1] + b[:, 3]) - np.maximum(y0, b[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    smaller = np.minimum(w * h, b[:, 2] * b[:, 3])
    return bool((inter > limit * smaller).any())


def _rows(rng, H, W, n_target, s_first, s_last, growth, gap_x, gap_y, y_start, diff, faces, dis):
    """Fill rows of boxes from ``y_start`` downwards; sizes grow row by row towards ``s_last``."""
    s = s_first
    y = y_start
    placed = 0
    while placed < n_target:
        row_w = rng.uniform(0.5, 1.0) * W
        x_left = rng.uniform(0, W - row_w)
        step = s * rng.uniform(*gap_x)
        x = x_left + rng.uniform(0, step)
        h_row = s * 1.3
        if y + h_row > H:
            break
        while x + s < x_left + row_w and placed < n_target:
            size = s * rng.uniform(0.9, 1.1)
            cx = x + s / 2 + rng.uniform(-0.15, 0.15) * s
            cy = y + s / 2 + rng.uniform(-0.15, 0.15) * s
            box = _box_from_size(rng, cx, cy, size, diff, W, H)
            x += s * rng.uniform(*gap_x)
            if box is None or rng.random() < 0.1:  # an empty slot
                continue
            if rng.random() < diff.row_distractor:
                if not _overlaps(box, faces, diff.max_overlap):
                    dis.append(box)
                continue
            if not _overlaps(box, faces, diff.max_overlap):
                faces.append(box)
                placed += 1
        y += s * rng.uniform(*gap_y)
        s = min(s * rng.uniform(*growth), s_last)
    return placed


def _scatter(rng, H, W, n, size_of, diff, faces, avoid, limit):
    """Place ``n`` boxes uniformly at random, at most 20 tries each, avoiding ``avoid``."""
    out = []
    for _ in range(n):
        for _try in range(20):
            size = size_of()
            size = min(size, 0.9 * min(H, W) / math.sqrt(diff.aspect[1]))
            box = _box_from_size(rng, rng.uniform(0, W), rng.uniform(0, H), size, diff, W, H)
            if box is not None and not _overlaps(box, avoid + out, limit):
                out.append(box)
                break
    return out
