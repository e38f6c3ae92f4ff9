"""The matching kernel: step one, ignore regions, and the four strategies' second steps.

One numba entry point, :func:`match_kernel`, runs a whole image so that a matcher call costs one
dispatch. Anchor candidates come from the grid enumerators for the anchors on the grids that
:mod:`hambox_core.grids` recognised, and from a per-call spatial index (or a scan, when they
are few) for the rest (see :mod:`hambox_core._candidates`).

Complexity per image with grid anchors: O(A) to initialise the outputs plus O(sum over faces of
the anchors near each face); the HAMBox step adds O(A) to index the predicted boxes plus the
boxes near each face. No (A, G) matrix is ever formed.
"""

from __future__ import annotations

import numpy as np

from ._candidates import (
    INDEX_MIN_BOXES,
    MIN_PRUNE_THR,
    SCAN,
    build_box_index,
    dense_best,
    dense_candidates,
    empty_index,
    grid_best_anchor,
    grid_candidates,
    index_candidates,
    tether_boxes,
    tethered_candidates,
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
def _candidates(
    boxes, groups, rest, subset, index, use_index, queries, b, t, strict, ioa, idx_buf, val_buf
):
    """Boxes whose overlap with ``queries[b]`` passes ``t``: the grid groups' through the grid
    enumerator, the others (the rows ``rest`` if ``subset``, else every row) through the index
    or a scan. Fills the buffers and returns the count."""
    n = 0
    if groups.shape[0] > 0:
        n = grid_candidates(boxes, groups, queries, b, t, strict, ioa, idx_buf, val_buf, n)
    if (rest.shape[0] if subset else boxes.shape[0]) > 0:
        if use_index and not ioa and t > MIN_PRUNE_THR:
            n = index_candidates(index, queries, b, t, strict, idx_buf, val_buf, n)
        else:
            n = dense_candidates(
                boxes, rest, subset, queries, b, t, strict, ioa, idx_buf, val_buf, n
            )
    return n


@njit
def best_anchor(anchors, groups, rest, queries, b):
    """The anchor with the highest IoU with ``queries[b]`` (lowest index on ties) among the grid
    groups and the rows ``rest``; ``(-1, 0)`` when none overlaps."""
    best_i = -1
    best_v = np.float32(0.0)
    if groups.shape[0] > 0:
        best_i, best_v = grid_best_anchor(anchors, groups, queries, b)
    if rest.shape[0] > 0:
        i, v = dense_best(anchors, rest, True, queries, b)
        if i >= 0 and (v > best_v or (v == best_v and i < best_i)):
            best_i = i
            best_v = v
    return best_i, best_v


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
    rest,
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
    anchors : float32 (A, 4); groups : float64 (K, 12) the grid groups (:mod:`.grids`);
    rest : int64 (R,) the anchors on no grid (``groups`` and ``rest`` cover every anchor once).
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

    # A spatial index over the anchors on no grid, unless they are few.
    t_index = t_lo
    if strategy == NAMS:
        t_index = min(t_index, second_thr)
    use_index = rest.shape[0] >= INDEX_MIN_BOXES and num_gt > 0 and t_index > MIN_PRUNE_THR
    if use_index:
        index = build_box_index(anchors, rest, True, gt, t_index)
        use_index = index[2][4] != SCAN
    else:
        index = empty_index()

    # Any query yields each anchor (or predicted box) at most once, so buffers of length A
    # always suffice.
    idx_buf = np.empty(num_anchors, np.int64)
    val_buf = np.empty(num_anchors, np.float32)
    touched = np.empty(num_anchors, np.int64)
    num_touched = 0

    # Step one: each anchor takes its best face (faces ascending, so ties keep the lower index).
    for g in range(num_gt):
        n = _candidates(
            anchors,
            groups,
            rest,
            True,
            index,
            use_index,
            gt,
            g,
            t_lo,
            False,
            False,
            idx_buf,
            val_buf,
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
            anchors,
            groups,
            rest,
            True,
            index,
            False,
            regions,
            r,
            ioa_thr,
            False,
            True,
            idx_buf,
            val_buf,
        )
        for p in range(n):
            i = idx_buf[p]
            if labels[i] != 1:
                labels[i] = -1

    if strategy == DMS:
        for g in range(num_gt):
            if num_matched[g] > 0:
                continue
            i, v = best_anchor(anchors, groups, rest, gt, g)
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
                anchors,
                groups,
                rest,
                True,
                index,
                use_index,
                gt,
                g,
                second_thr,
                True,
                False,
                idx_buf,
                val_buf,
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
        # Predicted boxes that stay near their grid anchor are searched on the grid; the others
        # (loose) through an index of their own, or a scan. With no threshold to prune, all
        # are scanned.
        t_pred = min(second_thr, hq_thr)
        strict = second_thr < hq_thr
        prune = num_gt > 0 and t_pred > MIN_PRUNE_THR
        on_grid = prune and groups.shape[0] > 0
        if on_grid:
            tethered, loose = tether_boxes(anchors, pred, groups, rest)
        else:  # every box is loose
            tethered = np.zeros(0, np.bool_)
            loose = rest[:0]
        num_loose = loose.shape[0] if on_grid else num_anchors
        use_pred_index = prune and num_loose >= INDEX_MIN_BOXES
        if use_pred_index:
            pred_index = build_box_index(pred, loose, on_grid, gt, t_pred)
            use_pred_index = pred_index[2][4] != SCAN
        else:
            pred_index = index
        # Quality of step-one positives: IoU of their predicted box with their face.
        for p in range(num_touched):
            i = touched[p]
            if labels[i] == 1:
                g = matched[i]
                quality[i] = iou_rows(pred, i, box_area_f32(pred, i), gt, g, box_area_f32(gt, g))
        online32 = np.float32(second_thr)
        hq32 = np.float32(hq_thr)
        high_quality = np.zeros(num_anchors, np.bool_)
        for g in range(num_gt):
            n = 0
            if on_grid:
                n = tethered_candidates(
                    pred, tethered, groups, gt, g, t_pred, strict, idx_buf, val_buf, n
                )
            if use_pred_index:
                n = index_candidates(pred_index, gt, g, t_pred, strict, idx_buf, val_buf, n)
            else:
                n = dense_candidates(
                    pred, loose, on_grid, gt, g, t_pred, strict, False, idx_buf, val_buf, n
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
