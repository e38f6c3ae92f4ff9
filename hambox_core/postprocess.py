"""Post-processing of detector outputs: score filtering, box decoding and non-maximum suppression.

:func:`nms` and :func:`batched_nms` are greedy non-maximum suppression with torchvision's
semantics, bit for bit: candidates are visited in decreasing score order (ties: lower index
first), each box not yet suppressed is kept and suppresses every lower-ranked box whose IoU with
it is *strictly* greater than the threshold. The IoU is computed in float32 with the operation
order of :func:`hambox_core.boxes.box_iou`::

    iw = min(x1a, x1b) - max(x0a, x0b)          # likewise ih with the y coordinates
    inter = max(iw, 0) * max(ih, 0)
    union = (area_a + area_b) - inter           # area = (x1 - x0) * (y1 - y0), float32
    iou = inter / union                         # 0 when union == 0 (two empty boxes)

and compared exactly with the threshold (a float32 IoU against the threshold as a Python float,
like torchvision's C++ kernel, which compares ``float`` against ``double``). So with
``iou_thr=0.3`` a pair whose IoU is exactly 3/10 in real arithmetic *is* suppressed, because
float32 rounds 3/10 up to 0.30000001.

:func:`postprocess_detections` turns one image's raw head outputs into final detections:
sigmoid scores, a per-level score threshold and top-k, :func:`~hambox_core.boxes.decode`,
optional clipping to the image, NMS and a cap on the number of detections.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._numba import njit
from .boxes import DEFAULT_VARIANCES, clip_boxes, decode
from .validation import (
    as_boxes,
    as_int_vector,
    as_real_vector,
    check_count,
    check_finite,
    check_fraction,
    check_image_hw,
    check_length,
    check_non_negative,
    check_variances,
    decode_overflow_error,
)

__all__ = ["batched_nms", "nms", "postprocess_detections"]


# --------------------------------------------------------------------------------------------
# kernel
# --------------------------------------------------------------------------------------------


@njit
def _nms_kernel(boxes, order, bounds, min_iou):
    """Greedy NMS over the segments ``order[bounds[g]:bounds[g + 1]]``, each on its own.

    ``boxes`` (N, 4) float32 C-contiguous; ``order`` (M,) int64, the rows to visit, each
    segment in decreasing score order; ``bounds`` (G + 1,) int64, increasing, from 0 to M;
    ``min_iou`` float32, the least float32 that is greater than the IoU threshold, so that
    ``iou >= min_iou`` is exactly ``iou > iou_thr``. Returns the kept positions into ``order``
    (int64, increasing).

    The boxes are first gathered into visiting order as float32 structure-of-arrays, so that the
    inner loop over lower-ranked boxes reads contiguous memory. The inner loop has no branch:
    it computes the IoU with every later box of the segment, suppressed or not, and ORs the
    result into the suppressed flags; LLVM turns it into SIMD code. (It runs over slices that
    start at 0: a ``range(i + 1, n)`` loop defeats LLVM's vectoriser here.) A pair whose union
    is 0 gives ``0 / 0 = NaN`` (``error_model="numpy"``), and ``NaN >= min_iou`` is False, which
    is the same as IoU 0 because ``min_iou > 0``.
    """
    m = order.shape[0]
    x0 = np.empty(m, np.float32)
    y0 = np.empty(m, np.float32)
    x1 = np.empty(m, np.float32)
    y1 = np.empty(m, np.float32)
    area = np.empty(m, np.float32)
    for p in range(m):
        q = order[p]
        x0[p] = boxes[q, 0]
        y0[p] = boxes[q, 1]
        x1[p] = boxes[q, 2]
        y1[p] = boxes[q, 3]
        area[p] = (x1[p] - x0[p]) * (y1[p] - y0[p])
    suppressed = np.zeros(m, np.bool_)
    keep = np.empty(m, np.int64)
    k = 0
    zero = np.float32(0.0)
    for g in range(bounds.shape[0] - 1):
        stop = bounds[g + 1]
        for i in range(bounds[g], stop):
            if suppressed[i]:
                continue
            keep[k] = i
            k += 1
            ax0 = x0[i]
            ay0 = y0[i]
            ax1 = x1[i]
            ay1 = y1[i]
            aa = area[i]
            start = i + 1
            bx0 = x0[start:stop]
            by0 = y0[start:stop]
            bx1 = x1[start:stop]
            by1 = y1[start:stop]
            barea = area[start:stop]
            bsup = suppressed[start:stop]
            for j in range(bx0.shape[0]):
                iw = min(ax1, bx1[j]) - max(ax0, bx0[j])
                ih = min(ay1, by1[j]) - max(ay0, by0[j])
                inter = max(iw, zero) * max(ih, zero)
                union = (aa + barea[j]) - inter
                bsup[j] = bsup[j] | (inter / union >= min_iou)
    return keep[:k]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _min_iou(iou_thr: float) -> np.float32:
    """The least float32 strictly greater than ``iou_thr`` (a float in [0, 1]).

    For any float32 ``x``, ``x > iou_thr`` (compared exactly, as torchvision does) holds iff
    ``x >= _min_iou(iou_thr)``, which lets the kernel compare in float32.
    """
    f = np.float32(iou_thr)
    if float(f) > iou_thr:
        return f
    return np.nextafter(f, np.float32(np.inf))


def _score_order(scores: np.ndarray) -> np.ndarray:
    """Indices by decreasing score, ties by increasing index (int64)."""
    return np.argsort(-scores, kind="stable").astype(np.int64, copy=False)


def _nms_sorted(boxes: np.ndarray, order: np.ndarray, iou_thr: float) -> np.ndarray:
    """Kept rows of validated float32 boxes visited in ``order`` (one kernel call)."""
    bounds = np.array([0, order.shape[0]], dtype=np.int64)
    return order[_nms_kernel(boxes, order, bounds, _min_iou(iou_thr))]


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def nms(boxes, scores, iou_thr) -> np.ndarray:
    """Greedy non-maximum suppression (torchvision's ``ops.nms`` semantics).

    Boxes are visited by decreasing score, ties broken by lower index; each box that no
    higher-ranked kept box overlaps with IoU ``> iou_thr`` is kept. The IoU convention and the
    exact threshold comparison are described in the module docstring.

    Complexity: O(N log N + N K) time for N boxes and K kept ones (a sort, then one sweep over
    the lower-ranked boxes per kept box), O(N) memory.

    Parameters
    ----------
    boxes : array_like of shape (N, 4)
        xyxy boxes with ``x1 >= x0`` and ``y1 >= y0``, finite; computed in float32.
    scores : array_like of shape (N,)
        Finite real scores (float inputs are ranked in their own precision).
    iou_thr : float
        IoU threshold in [0, 1]; a box is suppressed when its IoU with a kept box is strictly
        greater. ``1`` suppresses nothing (not even duplicates); ``0`` suppresses every box that
        overlaps a kept box with positive area.

    Returns
    -------
    ndarray of shape (K,), int64
        Indices into ``boxes`` of the kept boxes, in decreasing score order.

    Raises
    ------
    ValueError
        If ``boxes`` is not (N, 4), holds NaN / inf or a box with ``x1 < x0`` or ``y1 < y0``;
        if ``scores`` is not (N,) or holds NaN / inf; if ``iou_thr`` is outside [0, 1].

    See Also
    --------
    batched_nms : the same, independently per category or image.

    Examples
    --------
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=np.float32)
    >>> nms(boxes, np.array([0.9, 0.8, 0.7]), iou_thr=0.5)
    array([0, 2])

    The second box's IoU with the first is 81 / 119 = 0.68; a threshold above that keeps it:

    >>> nms(boxes, np.array([0.9, 0.8, 0.7]), iou_thr=0.7)
    array([0, 1, 2])
    """
    b = as_boxes(boxes, "boxes")
    s = as_real_vector(scores, "scores", b.shape[0], "boxes", float64=False)
    check_finite(s, "scores")
    thr = check_fraction(iou_thr, "iou_thr")
    if b.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    return _nms_sorted(b, _score_order(s), thr)


def batched_nms(boxes, scores, idxs, iou_thr) -> np.ndarray:
    """Non-maximum suppression run independently for each value of ``idxs``.

    Boxes with different ``idxs`` (a category, or an image of a batch) never suppress each
    other; within one value this is exactly :func:`nms`. The groups are formed by a stable sort
    and each is swept on its own inside one kernel call, so the result is exact (torchvision's
    coordinate-offset trick is not: adding a large offset rounds float32 coordinates).

    Complexity: O(N log N + sum over groups of N_g K_g) time, O(N) memory.

    Parameters
    ----------
    boxes : array_like of shape (N, 4)
        xyxy boxes with ``x1 >= x0`` and ``y1 >= y0``, finite; computed in float32.
    scores : array_like of shape (N,)
        Finite real scores.
    idxs : array_like of shape (N,), integer
        Group of each box (any integers, need not be contiguous or sorted).
    iou_thr : float
        IoU threshold in [0, 1], as in :func:`nms`.

    Returns
    -------
    ndarray of shape (K,), int64
        Indices into ``boxes`` of the kept boxes of all groups together, in decreasing score
        order (ties: lower index first).

    Raises
    ------
    ValueError
        As :func:`nms`, and if ``idxs`` is not an integer array of shape (N,).

    Examples
    --------
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]], dtype=np.float32)
    >>> batched_nms(boxes, np.array([0.9, 0.8, 0.7]), np.array([0, 0, 1]), iou_thr=0.5)
    array([0, 2])
    """
    b = as_boxes(boxes, "boxes")
    n = b.shape[0]
    s = as_real_vector(scores, "scores", n, "boxes", float64=False)
    check_finite(s, "scores")
    g = as_int_vector(idxs, "idxs", n, "boxes")
    thr = check_fraction(iou_thr, "iou_thr")
    if n == 0:
        return np.empty(0, dtype=np.int64)
    order = _score_order(s)
    # Stable sort by group: within a group the boxes stay in score order.
    by_group = np.argsort(g[order], kind="stable")
    grouped = order[by_group]
    gs = g[grouped]
    bounds = np.concatenate(([0], np.flatnonzero(gs[1:] != gs[:-1]) + 1, [n])).astype(np.int64)
    kept = _nms_kernel(b, grouped, bounds, _min_iou(thr))
    # Back from group-major positions to global score ranks.
    return order[np.sort(by_group[kept])]


def postprocess_detections(
    cls_logits,
    box_deltas,
    anchors,
    num_anchors_per_level: Sequence[int],
    *,
    score_thr: float = 0.05,
    pre_nms_top_k: int | None = 1000,
    nms_iou_thr: float = 0.3,
    max_detections: int | None = 750,
    image_hw=None,
    variances=DEFAULT_VARIANCES,
    min_box_size: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Final detections of one image from the raw outputs of a single-class (face) head.

    Steps, in this order:

    1. ``scores = sigmoid(cls_logits)``, computed stably in float64 and rounded once to float32.
    2. Per pyramid level: keep the anchors with ``score > score_thr`` (compared in float32,
       as ``scores > score_thr`` does in numpy and torch), then that level's ``pre_nms_top_k``
       highest-scoring ones (ties: lower anchor index).
    3. Decode only the kept anchors with :func:`hambox_core.boxes.decode` and ``variances``.
    4. If ``image_hw`` is given, clip the boxes to the image (before NMS, as torchvision's
       detectors do).
    5. Drop the boxes narrower or shorter than ``min_box_size`` pixels (``x1 - x0`` and
       ``y1 - y0`` in float32 against ``float32(min_box_size)``): a box clipped to a sliver at
       the border, or regressed to nothing, is no detection (and would use up the cap).
    6. :func:`nms` over all levels together with ``nms_iou_thr`` (ties: lower anchor index).
    7. Keep the ``max_detections`` highest-scoring survivors.

    The defaults are the test-time settings of S3FD and PyramidBox, on which HAMBox's
    evaluation builds: score threshold 0.05, NMS IoU 0.3 and at most 750 detections per image;
    1000 candidates per level before NMS is the usual single-stage detector value (RetinaNet,
    torchvision).

    Parameters
    ----------
    cls_logits : array_like of shape (A,)
        Face logits, one per anchor, finite.
    box_deltas : array_like of shape (A, 4)
        ``(dx, dy, dw, dh)`` regression outputs, finite.
    anchors : array_like of shape (A, 4)
        xyxy anchors in the level-major order of :class:`hambox_core.AnchorGenerator`.
    num_anchors_per_level : sequence of int
        Number of anchors of each level, each >= 0, summing to A.
    score_thr : float, default 0.05
        Score threshold in [0, 1] (strict: ``score > score_thr`` survives).
    pre_nms_top_k : int or None, default 1000
        Candidates kept per level before NMS; None keeps all that pass ``score_thr``.
    nms_iou_thr : float, default 0.3
        IoU threshold of :func:`nms`, in [0, 1].
    max_detections : int or None, default 750
        Most detections returned; None returns all NMS survivors.
    image_hw : tuple of 2 numbers, optional
        ``(height, width)`` to clip the boxes to ``[0, W] x [0, H]``.
    variances : sequence of 4 floats, default (0.1, 0.1, 0.2, 0.2)
        Passed to :func:`~hambox_core.boxes.decode`.
    min_box_size : float, default 1.0
        Smallest width and height of a detection, in pixels, >= 0 (0 keeps every box).

    Returns
    -------
    boxes : ndarray of shape (D, 4), float32
        xyxy detections in decreasing score order.
    scores : ndarray of shape (D,), float32
        Their sigmoid scores.

    Raises
    ------
    ValueError
        Naming the argument: wrong shapes or lengths that disagree with A, NaN / inf values,
        anchors with ``x1 < x0``, level counts that are negative or do not sum to A, negative
        ``pre_nms_top_k`` or ``max_detections``, thresholds outside [0, 1], a bad ``image_hw``
        or ``variances``; also if ``box_deltas`` decode to infinite boxes.

    Examples
    --------
    >>> anchors = np.array([[0, 0, 16, 16], [4, 0, 20, 16], [32, 32, 64, 64]], dtype=np.float32)
    >>> logits = np.array([3.0, 2.0, 1.0])
    >>> boxes, scores = postprocess_detections(logits, np.zeros((3, 4)), anchors, [2, 1])
    >>> boxes
    array([[ 0.,  0., 16., 16.],
           [32., 32., 64., 64.]], dtype=float32)
    >>> scores
    array([0.95257413, 0.7310586 ], dtype=float32)
    """
    logits = as_real_vector(cls_logits, "cls_logits")
    a = logits.shape[0]
    check_finite(logits, "cls_logits")
    deltas = as_boxes(box_deltas, "box_deltas", allow_inverted=True)
    check_length(deltas, "box_deltas", a, "cls_logits")
    anc = as_boxes(anchors, "anchors")
    check_length(anc, "anchors", a, "cls_logits")
    try:
        levels = list(num_anchors_per_level)
    except TypeError:
        raise ValueError(
            f"num_anchors_per_level must be a sequence of ints, got {num_anchors_per_level!r}"
        ) from None
    counts = [check_count(c, "num_anchors_per_level") for c in levels]
    if sum(counts) != a:
        raise ValueError(
            f"num_anchors_per_level must sum to the number of anchors {a}, got {sum(counts)}"
        )
    thr = np.float32(check_fraction(score_thr, "score_thr"))
    top_k = check_count(pre_nms_top_k, "pre_nms_top_k", allow_none=True)
    iou_thr = check_fraction(nms_iou_thr, "nms_iou_thr")
    max_det = check_count(max_detections, "max_detections", allow_none=True)
    hw = None if image_hw is None else check_image_hw(image_hw)
    min_size = np.float32(check_non_negative(min_box_size, "min_box_size"))
    check_variances(variances)  # validated up front, even when nothing passes the threshold

    # Stable sigmoid in float64, rounded once: exp never overflows.
    x = logits
    e = np.exp(-np.abs(x))
    scores = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)

    chosen = []
    start = 0
    for c in counts:
        level = scores[start : start + c]
        idx = np.flatnonzero(level > thr)
        if top_k is not None and idx.shape[0] > top_k:
            best = np.argsort(-level[idx], kind="stable")[:top_k]
            idx = np.sort(idx[best])
        chosen.append(idx + start)
        start += c
    cand = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
    if cand.shape[0] == 0:
        return np.empty((0, 4), dtype=np.float32), np.empty(0, dtype=np.float32)

    with np.errstate(over="ignore", invalid="ignore"):  # reported below, by name
        boxes = decode(anc[cand], deltas[cand], variances)
    if not np.isfinite(boxes).all():
        raise decode_overflow_error()
    if hw is not None:
        boxes = clip_boxes(boxes, hw)
    cand_scores = scores[cand]
    if min_size > 0:
        big = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
        boxes, cand_scores = boxes[big], cand_scores[big]
    keep = _nms_sorted(boxes, _score_order(cand_scores), iou_thr)
    if max_det is not None:
        keep = keep[:max_det]
    return boxes[keep], cand_scores[keep]
