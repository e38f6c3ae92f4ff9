"""The matching kernel: step one, ignore regions, and the four strategies' second steps.

One numba entry point, :func:`match_kernel`, runs a whole image so that a matcher call costs one
dispatch. Anchor candidates come from the grid enumerators when the anchors' layout is known
and from a per-call spatial index otherwise (see :mod:`hambox_core._candidates`).

Complexity per image with grid anchors: O(A) to initialise the outputs plus O(sum over faces of
the anchors near each face); the HAMBox step adds O(A) to index the predicted boxes plus the
boxes near each face. No (A, G) matrix is ever formed.
"""

from __future__ import annotations

import numpy as np

from ._candidates import (
    MIN_PRUNE_THR,
    build_box_index,
    dense_best,
    dense_candidates,
    grid_best_anchor,
    grid_candidates,
    index_candidates,
)
from ._numba import njit, njit_inline
from ._overlap import box_area_f32, iou_rows

SMS = 0
DMS = 1
NAMS = 2
HAMBOX = 3

# Temporary label of an anchor touched by step one before its final label is known.
_TOUCHED = 2


@njit_inline
def _candidates(boxes, groups, index, use_index, queries, b, t, strict, ioa, idx_buf, val_buf):
    """Dispatch to the grid, index or dense enumerator for ``boxes``; returns the count."""
    if groups.shape[0] > 0:
        return grid_candidates(boxes, groups, queries, b, t, strict, ioa, idx_buf, val_buf)
    if use_index and not ioa and t > MIN_PRUNE_THR:
        order, start, meta, cls, packed = index
        return index_candidates(
            order, start, meta, cls, packed, queries, b, t, strict, idx_buf, val_buf
        )
    return dense_candidates(boxes, queries, b, t, strict, ioa, idx_buf, val_buf)


@njit
def take_best(idx_buf, val_buf, n, thr32, need, g, labels, matched, compensated, quality):
    """Give face ``g`` up to ``need`` candidates with value > ``thr32`` that are not positive.

    Candidates are taken in decreasing value, ties by lower anchor index; each taken anchor
    becomes a compensated positive of ``g`` with its value as quality. O(need * n).
    """
    taken = 0
    while taken < need:
        best = -1
        for p in range(n):
            v = val_buf[p]
            if not v > thr32:
                continue
            i = idx_buf[p]
            if labels[i] == 1:
                continue
            if best < 0 or v > val_buf[best] or (v == val_buf[best] and i < idx_buf[best]):
                best = p
        if best < 0:
            break
        i = idx_buf[best]
        labels[i] = 1
        matched[i] = g
        compensated[i] = True
        quality[i] = val_buf[best]
        taken += 1
    return taken


@njit
def match_kernel(
    anchors,
    groups,
    gt,
    regions,
    pred,
    strategy,
    pos_thr,
    neg_thr,
    ioa_thr,
    top_k,
    second_thr,
    hq_thr,
):
    """Match one image. See :mod:`hambox_core.matching` for the semantics.

    Parameters
    ----------
    anchors : float32 (A, 4); groups : float64 (K, 8) grid layout, K = 0 if unknown.
    gt : float32 (G, 4); regions : float32 (R, 4) ignore regions.
    pred : float32 (A, 4) predicted boxes (HAMBox) or (0, 4).
    strategy : SMS, DMS, NAMS or HAMBOX.
    pos_thr, neg_thr, ioa_thr : step-one thresholds.
    top_k : NAMS's N or HAMBox's K. second_thr : NAMS's low IoU threshold or HAMBox's T.
    hq_thr : HAMBox's high-quality threshold of the ignore rule.

    Returns
    -------
    labels int8 (A,), matched_gt int64 (A,), compensated bool (A,), quality float32 (A,),
    num_matched int64 (G,).
    """
    num_anchors = anchors.shape[0]
    num_gt = gt.shape[0]
    labels = np.zeros(num_anchors, np.int8)
    matched = np.full(num_anchors, -1, np.int64)
    compensated = np.zeros(num_anchors, np.bool_)
    quality = np.zeros(num_anchors, np.float32)
    num_matched = np.zeros(num_gt, np.int64)
    if num_anchors == 0:
        return labels, matched, compensated, quality, num_matched

    pos32 = np.float32(pos_thr)
    neg32 = np.float32(neg_thr)
    # Step one needs every anchor whose best IoU reaches the lower of the two thresholds. With
    # neg_thr == 0 no anchor is background, so only positives need finding.
    t_lo = min(pos_thr, neg_thr) if neg32 > 0 else pos_thr

    # A spatial index over the anchors when their grid layout is unknown.
    use_index = False
    t_index = t_lo
    if strategy == NAMS:
        t_index = min(t_index, second_thr)
    if groups.shape[0] == 0 and num_gt > 0 and t_index > MIN_PRUNE_THR:
        index = build_box_index(anchors, gt, t_index)
        use_index = True
    else:
        index = (
            np.empty(0, np.int64),
            np.zeros(1, np.int64),
            np.zeros(5),
            np.zeros((0, 4)),
            np.empty((0, 4), np.float32),
        )

    # Any query yields each anchor (or predicted box) at most once, so buffers of length A
    # always suffice.
    idx_buf = np.empty(num_anchors, np.int64)
    val_buf = np.empty(num_anchors, np.float32)
    touched = np.empty(num_anchors, np.int64)
    num_touched = 0

    # Step one: each anchor takes its best face (faces ascending, so ties keep the lower index).
    for g in range(num_gt):
        n = _candidates(
            anchors, groups, index, use_index, gt, g, t_lo, False, False, idx_buf, val_buf
        )
        for p in range(n):
            i = idx_buf[p]
            v = val_buf[p]
            if labels[i] == 0:
                labels[i] = _TOUCHED
                touched[num_touched] = i
                num_touched += 1
                quality[i] = v
                matched[i] = g
            elif v > quality[i]:
                quality[i] = v
                matched[i] = g
    for p in range(num_touched):
        i = touched[p]
        v = quality[i]
        if v >= pos32:
            labels[i] = 1
            num_matched[matched[i]] += 1
        else:
            labels[i] = -1 if v >= neg32 else 0
            matched[i] = -1
            quality[i] = 0.0
    if neg32 <= 0 and num_gt > 0:
        for i in range(num_anchors):
            if labels[i] == 0:
                labels[i] = -1

    # Ignore regions: anchors mostly inside one are not background (positives stay positive).
    for r in range(regions.shape[0]):
        n = _candidates(
            anchors, groups, index, False, regions, r, ioa_thr, False, True, idx_buf, val_buf
        )
        for p in range(n):
            i = idx_buf[p]
            if labels[i] != 1:
                labels[i] = -1

    if strategy == DMS:
        for g in range(num_gt):
            if num_matched[g] > 0:
                continue
            if groups.shape[0] > 0:
                i, v = grid_best_anchor(anchors, groups, gt, g)
            else:
                i, v = dense_best(anchors, gt, g)
            if i >= 0 and v > 0:
                labels[i] = 1
                matched[i] = g
                compensated[i] = True
                quality[i] = v
    elif strategy == NAMS:
        low32 = np.float32(second_thr)
        for g in range(num_gt):
            if num_matched[g] >= top_k:
                continue
            n = _candidates(
                anchors, groups, index, use_index, gt, g, second_thr, True, False, idx_buf, val_buf
            )
            take_best(
                idx_buf,
                val_buf,
                n,
                low32,
                top_k - num_matched[g],
                g,
                labels,
                matched,
                compensated,
                quality,
            )
    elif strategy == HAMBOX:
        # Quality of step-one positives: IoU of their predicted box with their face.
        for p in range(num_touched):
            i = touched[p]
            if labels[i] == 1:
                g = matched[i]
                quality[i] = iou_rows(pred, i, box_area_f32(pred, i), gt, g, box_area_f32(gt, g))
        t_pred = min(second_thr, hq_thr)
        strict = second_thr < hq_thr
        use_pred_index = num_gt > 0 and t_pred > MIN_PRUNE_THR
        if use_pred_index:
            pred_index = build_box_index(pred, gt, t_pred)
        else:
            pred_index = index
        online32 = np.float32(second_thr)
        hq32 = np.float32(hq_thr)
        high_quality = np.zeros(num_anchors, np.bool_)
        for g in range(num_gt):
            n = _candidates(
                pred,
                groups[:0],
                pred_index,
                use_pred_index,
                gt,
                g,
                t_pred,
                strict,
                False,
                idx_buf,
                val_buf,
            )
            for p in range(n):
                if val_buf[p] >= hq32:
                    high_quality[idx_buf[p]] = True
            if num_matched[g] < top_k:
                take_best(
                    idx_buf,
                    val_buf,
                    n,
                    online32,
                    top_k - num_matched[g],
                    g,
                    labels,
                    matched,
                    compensated,
                    quality,
                )
        # Regression-aware ignore rule (paper 3.3): background whose prediction is already a
        # high-quality box of some face gets no classification loss.
        for i in range(num_anchors):
            if high_quality[i] and labels[i] == 0:
                labels[i] = -1
    return labels, matched, compensated, quality, num_matched
