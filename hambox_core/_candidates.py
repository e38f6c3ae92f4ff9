"""Finding the boxes that can overlap a given box enough, without a dense IoU matrix.

Three enumerators append, to the same pair of caller-owned buffers (box indices, float32
overlaps; as long as the box set, since a query yields each box at most once), every box whose
overlap with a query box passes a threshold:

* :func:`grid_candidates` — anchors on the feature-map grids recognised by
  :mod:`hambox_core.grids`, found by arithmetic on the grid: O(number of anchors near the query)
  per query.
* :func:`index_candidates` — arbitrary boxes (predicted boxes, anchors on no grid) through a
  spatial index built by :func:`build_box_index` in O(N): boxes are bucketed by area class and
  centre cell; a query visits the buckets that can hold a box with IoU above the threshold.
* :func:`dense_candidates` — every box, O(N) per query; the fallback when a threshold is so low
  that no bound prunes anything, or when there are too few boxes to index.

The arbitrary-box enumerators work on all rows of a box array or, with ``subset``, on the rows
listed in ``members``. Each enumerator takes the number of buffer entries already filled and
returns the new count, so a query can collect the grid anchors and the rest in one buffer.

Pruning is conservative: windows are derived from exact bounds with the threshold lowered by
a relative 1e-5 and a small absolute slack (plus, on grids, the group's measured distance from
its formula), and every candidate is then tested with the exact float32 overlap, so the result
equals a dense scan.

Bounds used (``t`` a threshold, ``a`` a box, ``f`` the query):

* IoU(a, f) >= t  implies  inter >= t / (1 + t) * (area_a + area_f), and since
  ``inter <= ix * min(h_a, h_f)`` the x-overlap ``ix`` must reach ``need / min(h_a, h_f)``;
  ``ix <= (w_a + w_f) / 2 - |dx|`` then bounds the centre offset ``dx`` (same for y). On a grid
  group the anchor sizes lie in a small range; the bound uses its ends where each is safe.
* IoU(a, f) >= t  also implies ``t * area_f <= area_a <= area_f / t`` and
  ``|dx| <= w_f * (1 / t + 1 - 2 t) / 2`` (from ``ix >= t w_f`` and ``w_a <= w_f / t``), which
  is what the spatial index uses since it does not know ``a`` in advance.
* IoA(a, r) >= t  implies ``ix >= t * area_a / min(h_a, h_r)``.
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import njit, njit_inline
from ._overlap import box_area_f32, box_geometry, ioa_rows, iou_rows
from .grids import CX, CY, DEV, FH, FW, NSHAPE, SHAPE, START, SX, SY, H, W

#: Relative amount by which thresholds are lowered before deriving search windows.
REL_SLACK = 1e-5
#: Thresholds at or below this cannot prune; the enumerators fall back to a full scan.
MIN_PRUNE_THR = 1e-6
#: Cells per axis of the spatial index, per area class (at most).
INDEX_CELLS = 32
#: A predicted box whose corners all lie within this fraction of its anchor's size (the larger
#: side) of the anchor's corners is searched on the anchors' grid (:func:`tether_boxes`).
TETHER = 0.5
#: ... and that is at least this fraction of its anchor's width and height.
TETHER_MIN_SIZE = 0.5
#: Interleaved histograms of the index's counting sort.
LANES = 4
#: ``meta[4]`` of an index that was not built: the boxes must be scanned.
SCAN = 2.0
#: Fewer boxes than this are scanned, not indexed.
INDEX_MIN_BOXES = 64


@njit
def passes(v, t32, strict):
    """``v > t32`` if ``strict`` else ``v >= t32`` (both float32)."""
    if strict:
        return v > t32
    return v >= t32


@njit
def axis_range(centre, half_extent, origin, step, n):
    """Cells ``j`` in ``[0, n)`` with ``|origin + j * step - centre| <= half_extent`` (``step``
    of either sign, not 0)."""
    if half_extent < 0.0 or n <= 0:
        return 0, -1
    lo_f = (centre - half_extent - origin) / step
    hi_f = (centre + half_extent - origin) / step
    if step < 0.0:
        lo_f, hi_f = hi_f, lo_f
    if hi_f < 0.0 or lo_f > n - 1:
        return 0, -1
    lo = 0 if lo_f <= 0.0 else int(math.ceil(lo_f))
    hi = n - 1 if hi_f >= n - 1 else int(math.floor(hi_f))
    return lo, hi


@njit
def iou_window(w_lo, w_hi, h_lo, h_hi, wf, hf, t, slack):
    """Largest centre offsets (dx, dy) at which a box with width in ``[w_lo, w_hi]`` and height
    in ``[h_lo, h_hi]`` can reach IoU >= t with a box of size ``(wf, hf)``.

    Returns negative values when no offset can. ``t <= 0`` gives the window of any overlap.
    """
    if t <= 0.0:
        return (w_hi + wf) * 0.5 + slack, (h_hi + hf) * 0.5 + slack
    mw = min(w_hi, wf)
    mh = min(h_hi, hf)
    if mw <= 0.0 or mh <= 0.0:
        return -1.0, -1.0
    tq = t * (1.0 - REL_SLACK)
    need = tq / (1.0 + tq) * (w_lo * h_lo + wf * hf)
    rx = need / mh
    ry = need / mw
    if rx > mw * (1.0 + REL_SLACK) + slack or ry > mh * (1.0 + REL_SLACK) + slack:
        return -1.0, -1.0
    return (w_hi + wf) * 0.5 - rx + slack, (h_hi + hf) * 0.5 - ry + slack


@njit
def ioa_window(w_lo, w_hi, h_lo, h_hi, wr, hr, t, slack):
    """Largest centre offsets at which a box (size ranges as in :func:`iou_window`) can have
    IoA >= t with a region (wr, hr)."""
    if t <= 0.0:
        return (w_hi + wr) * 0.5 + slack, (h_hi + hr) * 0.5 + slack
    mw = min(w_hi, wr)
    mh = min(h_hi, hr)
    if mw <= 0.0 or mh <= 0.0:
        return -1.0, -1.0
    tq = t * (1.0 - REL_SLACK)
    rx = tq * w_lo * h_lo / mh
    ry = tq * w_lo * h_lo / mw
    if rx > mw * (1.0 + REL_SLACK) + slack or ry > mh * (1.0 + REL_SLACK) + slack:
        return -1.0, -1.0
    return (w_hi + wr) * 0.5 - rx + slack, (h_hi + hr) * 0.5 - ry + slack


@njit
def overlap(boxes, i, queries, b, area_b, ioa):
    """IoU (or, if ``ioa``, IoA over ``boxes[i]``'s area) of ``boxes[i]`` with ``queries[b]``.

    The callers append passing boxes to their buffers themselves: a helper that also writes the
    buffers and returns the count makes the loops around it two to four times slower.
    """
    area_a = box_area_f32(boxes, i)
    if ioa:
        return ioa_rows(boxes, i, area_a, queries, b)
    return iou_rows(boxes, i, area_a, queries, b, area_b)


@njit_inline
def group_sizes(groups, k):
    """``(w_lo, w_hi, h_lo, h_hi)``: the range of the widths and heights of group ``k``."""
    dev2 = 2.0 * groups[k, DEV]
    return (
        max(groups[k, W] - dev2, 0.0),
        groups[k, W] + dev2,
        max(groups[k, H] - dev2, 0.0),
        groups[k, H] + dev2,
    )


@njit_inline
def group_window(groups, k, bcx, bcy, bw, bh, t, ioa):
    """Rows ``r0..r1`` and columns ``c0..c1`` of group ``k`` whose anchors can pass ``t``.

    Row/column ranges are empty (``r1 < r0``) when no anchor of the group can.
    """
    w_lo, w_hi, h_lo, h_hi = group_sizes(groups, k)
    sx = groups[k, SX]
    sy = groups[k, SY]
    slack = 1e-5 * (abs(bcx) + abs(bcy) + w_hi + h_hi + bw + bh + sx + sy) + 1e-6
    slack += groups[k, DEV]
    if ioa:
        dx, dy = ioa_window(w_lo, w_hi, h_lo, h_hi, bw, bh, t, slack)
    else:
        dx, dy = iou_window(w_lo, w_hi, h_lo, h_hi, bw, bh, t, slack)
    c0, c1 = axis_range(bcx, dx, groups[k, CX], sx, int(groups[k, FW]))
    r0, r1 = axis_range(bcy, dy, groups[k, CY], sy, int(groups[k, FH]))
    return r0, r1, c0, c1


@njit_inline
def group_layout(groups, k):
    """``(first, row_step, col_step)``: anchor ``first + r * row_step + c * col_step`` of group
    ``k`` is at feature-map row ``r``, column ``c``. Read once per group, outside the loops over
    cells (the table is float64; converting it per cell costs more than the IoU)."""
    nshape = int(groups[k, NSHAPE])
    return int(groups[k, START]) + int(groups[k, SHAPE]), int(groups[k, FW]) * nshape, nshape


@njit
def grid_candidates(anchors, groups, queries, b, t, strict, ioa, idx_buf, val_buf, n):
    """Grid anchors whose IoU (or IoA, if ``ioa``) with ``queries[b]`` passes ``t``.

    Complexity: O(K + number of anchors in the windows), independent of the total anchor count.

    Parameters
    ----------
    anchors : float32 (A, 4); groups : float64 (K, 12) their group table (:mod:`.grids`).
    queries : float32 (Q, 4); b : row of the query box.
    t : float threshold; strict : compare with ``>`` instead of ``>=``.
    ioa : measure intersection over the anchor's area instead of IoU.
    idx_buf, val_buf : int64 and float32 buffers to append to, at least as long as ``anchors``.
    n : entries already filled.

    Returns
    -------
    n : int
        Entries filled.
    """
    t32 = np.float32(t)
    full = t <= 0.0 and not strict
    bcx, bcy, bw, bh = box_geometry(queries, b)
    area_b = box_area_f32(queries, b)
    # IoU <= min(area) / max(area): groups whose anchors are far too small or too large for
    # the query are skipped before any window arithmetic.
    area_lo = bw * bh * t * (1.0 - 2 * REL_SLACK)
    area_hi = bw * bh / t * (1.0 + 2 * REL_SLACK) if t > 0.0 else np.inf
    for k in range(groups.shape[0]):
        if not ioa and not full and t > 0.0:
            w_lo, w_hi, h_lo, h_hi = group_sizes(groups, k)
            if w_hi * h_hi < area_lo or w_lo * h_lo > area_hi:
                continue
        if full:
            r0, r1, c0, c1 = 0, int(groups[k, FH]) - 1, 0, int(groups[k, FW]) - 1
        else:
            r0, r1, c0, c1 = group_window(groups, k, bcx, bcy, bw, bh, t, ioa)
        first, row_step, col_step = group_layout(groups, k)
        for r in range(r0, r1 + 1):
            row = first + r * row_step
            for c in range(c0, c1 + 1):
                i = row + c * col_step
                v = overlap(anchors, i, queries, b, area_b, ioa)
                if passes(v, t32, strict):
                    idx_buf[n] = i
                    val_buf[n] = v
                    n += 1
    return n


@njit
def grid_best_anchor(anchors, groups, queries, b):
    """The grid anchor with the highest IoU with ``queries[b]`` (lowest index on ties).

    Groups are visited in decreasing order of their best possible IoU (centres coinciding);
    each is searched only where an anchor can still reach the best IoU found so far, and the
    search stops when no remaining group can. Returns ``(-1, 0)`` when no anchor overlaps.
    """
    bcx, bcy, bw, bh = box_geometry(queries, b)
    best_i = -1
    best_v = np.float32(0.0)
    if bw <= 0.0 or bh <= 0.0:
        return best_i, best_v
    area_b = box_area_f32(queries, b)
    ngroups = groups.shape[0]
    bound = np.empty(ngroups)
    for k in range(ngroups):
        # IoU = I / (A + B - I) grows with I and falls with A: the largest intersection over
        # the smallest anchor bounds it.
        w_lo, w_hi, h_lo, h_hi = group_sizes(groups, k)
        inter_hi = min(w_hi, bw) * min(h_hi, bh)
        union_lo = w_lo * h_lo + bw * bh - inter_hi
        bound[k] = min(1.0, inter_hi / union_lo) if union_lo > 0.0 else 1.0
    for k in np.argsort(-bound, kind="mergesort"):
        if bound[k] * (1.0 + 10 * REL_SLACK) + 1e-7 < best_v:
            break
        r0, r1, c0, c1 = group_window(groups, k, bcx, bcy, bw, bh, np.float64(best_v), False)
        first, row_step, col_step = group_layout(groups, k)
        for r in range(r0, r1 + 1):
            row = first + r * row_step
            for c in range(c0, c1 + 1):
                i = row + c * col_step
                v = iou_rows(anchors, i, box_area_f32(anchors, i), queries, b, area_b)
                if v > best_v or (v == best_v and v > 0.0 and i < best_i):
                    best_v = v
                    best_i = i
    return best_i, best_v


@njit
def tether_bound(groups, k):
    """Bound on the distance of a tethered predicted box's corners from group ``k``'s formula,
    and lower bounds on its width and height."""
    tol = np.float32(TETHER * max(groups[k, W], groups[k, H]))
    bound = np.float64(tol) * (1.0 + 2.0**-20) + groups[k, DEV]
    w_min = np.float64(np.float32(TETHER_MIN_SIZE * groups[k, W])) * (1.0 - 2.0**-20)
    h_min = np.float64(np.float32(TETHER_MIN_SIZE * groups[k, H])) * (1.0 - 2.0**-20)
    return bound, w_min, h_min


@njit
def tether_boxes(anchors, pred, groups, rest):
    """Which predicted boxes stay near their grid anchor (are *tethered* to it).

    A predicted box is tethered when each of its corners lies within ``TETHER * max(w, h)`` of
    its anchor's corner and it is at least ``TETHER_MIN_SIZE`` times as wide and as tall as the
    anchor (``w, h`` the anchor group's size). The boxes of a group then lie within a known
    distance of the group's grid and have a known range of sizes, so
    :func:`tethered_candidates` finds them by arithmetic like the anchors; the others (and the
    boxes of anchors on no grid) are *loose*. One vectorised pass over the two arrays.

    Parameters
    ----------
    anchors, pred : float32 (A, 4) C-contiguous; groups, rest : the anchors' group table and
    the anchors on no grid.

    Returns
    -------
    tethered : bool (A,); loose : int64 (L,) the other rows (in no particular order).
    """
    num = anchors.shape[0]
    aflat = anchors.reshape(anchors.size)
    pflat = pred.reshape(pred.size)
    tethered = np.zeros(num, np.bool_)
    loose = np.empty(num, np.int64)
    nloose = 0
    for i in rest:
        loose[nloose] = i
        nloose += 1
    for k in range(groups.shape[0]):
        if groups[k, SHAPE] != 0:
            continue
        start = int(groups[k, START])
        fw = int(groups[k, FW])
        n = int(groups[k, NSHAPE])
        per_row = fw * n
        m = per_row * 4
        tol = np.empty(m, np.float32)
        min_size = np.empty(m, np.float32)  # at pair starts (x0, y0); -inf elsewhere
        for c in range(fw):
            for kk in range(n):
                t = np.float32(TETHER * max(groups[k + kk, W], groups[k + kk, H]))
                j = (c * n + kk) * 4
                tol[j : j + 4] = t
                min_size[j] = np.float32(TETHER_MIN_SIZE * groups[k + kk, W])
                min_size[j + 1] = np.float32(TETHER_MIN_SIZE * groups[k + kk, H])
                min_size[j + 2] = -np.inf
                min_size[j + 3] = -np.inf
        far = np.empty(m, np.uint8)
        far_any = far.view(np.uint32)  # one word per box: nonzero if any corner is far
        for r in range(int(groups[k, FH])):
            first = start + r * per_row
            a_row = aflat[first * 4 : first * 4 + m]
            p_row = pflat[first * 4 : first * 4 + m]
            for j in range(m):
                far[j] = np.uint8(not abs(p_row[j] - a_row[j]) <= tol[j])
            ahead = p_row[2:]
            for j in range(m - 2):  # the last two slots of a row are no pair starts
                far[j] |= np.uint8(not ahead[j] - p_row[j] >= min_size[j])
            for q in range(per_row):  # branch-free: always write, advance when loose
                near = far_any[q] == 0
                tethered[first + q] = near
                loose[nloose] = first + q
                nloose += not near
    return tethered, loose[:nloose].copy()


@njit
def tethered_candidates(pred, tethered, groups, queries, b, t, strict, idx_buf, val_buf, n):
    """Tethered predicted boxes (:func:`tether_boxes`) whose IoU with ``queries[b]`` passes ``t``.

    A tethered box of group ``k`` lies within ``e = w / 2 + bound`` (``h / 2 + bound``) of its
    anchor's formula centre and has a width in ``[max(w_min, w - 2 bound), w + 2 bound]``
    (:func:`tether_bound`; likewise the height). IoU >= t needs
    an x-overlap of at least ``t * w_f`` (inter >= t * area_f, and the y-overlap is at most
    ``h_f``), so the anchor's centre lies within ``w_f / 2 - t * w_f + e`` of the query's; the
    area bound prunes whole groups. ``t`` must be > 0. Appends to the buffers after the ``n``
    entries already filled and returns the new count.
    """
    t32 = np.float32(t)
    fcx, fcy, fw, fh = box_geometry(queries, b)
    if fw <= 0.0 or fh <= 0.0:
        return n
    area_b = box_area_f32(queries, b)
    farea = fw * fh
    area_lo = farea * t * (1.0 - 2 * REL_SLACK)
    area_hi = farea / t * (1.0 + 2 * REL_SLACK)
    tq = t * (1.0 - REL_SLACK)
    for k in range(groups.shape[0]):
        bound, w_min, h_min = tether_bound(groups, k)
        w = groups[k, W]
        h = groups[k, H]
        if (w + 2 * bound) * (h + 2 * bound) < area_lo:
            continue
        if max(w_min, w - 2 * bound) * max(h_min, h - 2 * bound) > area_hi:
            continue
        sx = groups[k, SX]
        sy = groups[k, SY]
        slack = 1e-5 * (abs(fcx) + abs(fcy) + w + h + fw + fh + sx + sy) + 1e-6
        half_x = fw * (0.5 - tq) + w * 0.5 + bound + slack
        half_y = fh * (0.5 - tq) + h * 0.5 + bound + slack
        c0, c1 = axis_range(fcx, half_x, groups[k, CX], sx, int(groups[k, FW]))
        r0, r1 = axis_range(fcy, half_y, groups[k, CY], sy, int(groups[k, FH]))
        first, row_step, col_step = group_layout(groups, k)
        for r in range(r0, r1 + 1):
            row = first + r * row_step
            for c in range(c0, c1 + 1):
                i = row + c * col_step
                if tethered[i]:
                    v = overlap(pred, i, queries, b, area_b, False)
                    if passes(v, t32, strict):
                        idx_buf[n] = i
                        val_buf[n] = v
                        n += 1
    return n


@njit
def dense_candidates(boxes, members, subset, queries, b, t, strict, ioa, idx_buf, val_buf, n):
    """Every box (every row, or with ``subset`` the rows ``members``) whose IoU (or IoA) with
    ``queries[b]`` passes ``t``. O(N)."""
    t32 = np.float32(t)
    area_b = box_area_f32(queries, b)
    count = members.shape[0] if subset else boxes.shape[0]
    for p in range(count):
        i = members[p] if subset else p
        v = overlap(boxes, i, queries, b, area_b, ioa)
        if passes(v, t32, strict):
            idx_buf[n] = i
            val_buf[n] = v
            n += 1
    return n


@njit
def dense_best(boxes, members, subset, queries, b):
    """Box (among all rows, or the rows ``members``) with the highest IoU with ``queries[b]``
    (lowest index on ties), and that IoU; ``(-1, 0)`` if none overlaps. O(N)."""
    best_i = -1
    best_v = np.float32(0.0)
    area_b = box_area_f32(queries, b)
    count = members.shape[0] if subset else boxes.shape[0]
    for p in range(count):
        i = members[p] if subset else p
        v = iou_rows(boxes, i, box_area_f32(boxes, i), queries, b, area_b)
        if v > best_v:
            best_v = v
            best_i = i
    return best_i, best_v


@njit
def reach(t):
    """Centre-offset bound in units of the query's side: (1 / t + 1 - 2 t) / 2."""
    return (1.0 / t + 1.0 - 2.0 * t) * 0.5


@njit
def empty_index():
    """An index that holds no box (``meta[4] == 0``)."""
    return (
        np.empty(0, np.int32),
        np.zeros(1, np.int32),
        np.zeros(5),
        np.zeros((0, 5)),
        np.empty((0, 4), np.float32),
    )


@njit
def build_box_index(boxes, members, subset, gt, t_min):
    """Bucket ``boxes`` so that IoU >= ``t_min`` queries with faces ``gt`` visit few of them.

    The boxes must be valid (finite, ``x1 >= x0``, ``y1 >= y0``; see
    :func:`hambox_core.validation.first_invalid_box`).

    Boxes are grouped by area class (power-of-two bins of the area), and each class by the
    cell of its centre on a grid over the region the faces can reach (cells no smaller than the
    class's box side, at most ``INDEX_CELLS`` and ``sqrt(N)`` per axis), so that a query visits
    the few cells near it.

    Complexity: O(N) time and memory: a counting sort by bucket (two passes over the boxes).

    Parameters
    ----------
    boxes : float32 (N, 4); members : int64 (M,) rows to index if ``subset`` (else all rows).
    gt : float32 (G, 4) the faces queries will come from; t_min : lowest query threshold.

    Returns
    -------
    order : int32 (P,) indices of the indexed boxes, grouped by bucket.
    start : int32 (B + 1,) bucket offsets into ``order``.
    meta : float64 (5,) ``x_lo, y_lo, e_lo, e_hi, state``: state 1 an index, 0 nothing can
        match (empty), 2 not indexed: the boxes must be scanned (:func:`dense_candidates`).
    cls : float64 (C, 5) per area class: cell width, cell height, cells in x, cells in y,
        first bucket.
    packed : float32 (P, 4) the indexed boxes, in ``order``.
    """
    count = members.shape[0] if subset else boxes.shape[0]
    tq = t_min * (1.0 - REL_SLACK)
    rch = reach(tq)
    x_lo = np.inf
    y_lo = np.inf
    x_hi = -np.inf
    y_hi = -np.inf
    a_lo = np.inf
    a_hi = 0.0
    for g in range(gt.shape[0]):
        fcx, fcy, fw, fh = box_geometry(gt, g)
        area = fw * fh
        if area <= 0.0:
            continue
        slack = 1e-5 * (abs(fcx) + abs(fcy) + (fw + fh) * (1.0 + rch)) + 1e-6
        x_lo = min(x_lo, fcx - fw * rch - slack)
        x_hi = max(x_hi, fcx + fw * rch + slack)
        y_lo = min(y_lo, fcy - fh * rch - slack)
        y_hi = max(y_hi, fcy + fh * rch + slack)
        a_lo = min(a_lo, area)
        a_hi = max(a_hi, area)
    if a_hi <= 0.0:
        return empty_index()
    # Area classes are frexp exponents. Boxes of normal float32 area have -125..129 (inf);
    # faces so small that a box of subnormal area could match are scanned, not indexed, and
    # faces too large for any float32 area to reach match nothing.
    e_lo = math.frexp(a_lo * tq * (1.0 - REL_SLACK))[1]
    e_hi = min(129, math.frexp(a_hi / tq * (1.0 + REL_SLACK))[1])
    if e_lo < -125:
        out = empty_index()
        out[2][4] = SCAN
        return out
    ncls = e_hi - e_lo + 1
    if ncls <= 0:
        return empty_index()
    width = x_hi - x_lo
    height = y_hi - y_lo

    # Each class's grid: cells no smaller than the class's boxes, at most INDEX_CELLS a side.
    cap = max(1, min(INDEX_CELLS, int(math.sqrt(count))))  # few boxes, few cells
    cls = np.empty((ncls, 5))
    inv_x = np.empty(ncls, np.float32)
    inv_y = np.empty(ncls, np.float32)
    nxs = np.empty(ncls, np.int64)
    nys = np.empty(ncls, np.int64)
    bases = np.empty(ncls, np.int64)
    nbuckets = 0
    for c in range(ncls):
        side = math.sqrt(math.ldexp(1.0, e_lo + c - 1))
        nx = max(1, min(cap, int(width / side)))
        ny = max(1, min(cap, int(height / side)))
        cls[c, 0] = width / nx
        cls[c, 1] = height / ny
        cls[c, 2] = nx
        cls[c, 3] = ny
        cls[c, 4] = nbuckets
        inv_x[c] = np.float32(nx / width)
        inv_y[c] = np.float32(ny / height)
        nxs[c] = nx
        nys[c] = ny
        bases[c] = nbuckets
        nbuckets += nx * ny

    # Pass 1: the bucket of every box (-1 if it cannot reach any face: area class from the
    # float32 exponent bits, since math.frexp is slow; centre inside the faces' domain), and
    # bucket sizes. Consecutive boxes often share a bucket; counting them in LANES interleaved
    # histograms keeps one increment from waiting on the previous one.
    key = np.empty(count, np.int32)
    counts = np.zeros((LANES, nbuckets), np.int32)
    x_lo32 = np.float32(x_lo)
    x_hi32 = np.float32(x_hi)
    y_lo32 = np.float32(y_lo)
    y_hi32 = np.float32(y_hi)
    half = np.float32(0.5)
    area_bits = np.empty(1, np.float32)
    bits = area_bits.view(np.int32)
    for p in range(count):
        i = members[p] if subset else p
        x0 = boxes[i, 0]
        y0 = boxes[i, 1]
        x1 = boxes[i, 2]
        y1 = boxes[i, 3]
        area_bits[0] = (x1 - x0) * (y1 - y0)
        cx = (x0 + x1) * half
        cy = (y0 + y1) * half
        # frexp's exponent of a normal float32; subnormal and zero areas get -126 < e_lo.
        e = ((bits[0] >> 23) & 0xFF) - 126
        # The domain's slack exceeds float32 rounding of the centres by far.
        inside = (area_bits[0] > 0) & (x_lo32 <= cx) & (cx <= x_hi32)
        inside &= (y_lo32 <= cy) & (cy <= y_hi32) & (e_lo <= e) & (e <= e_hi)
        k = -1
        if inside:
            c = e - e_lo
            ix = min(int((cx - x_lo32) * inv_x[c]), nxs[c] - 1)
            iy = min(int((cy - y_lo32) * inv_y[c]), nys[c] - 1)
            k = bases[c] + max(iy, 0) * nxs[c] + max(ix, 0)
            counts[p & (LANES - 1), k] += 1
        key[p] = k

    # Bucket offsets; within a bucket, each lane's boxes get their own run.
    start = np.empty(nbuckets + 1, np.int32)
    total = 0
    for b in range(nbuckets):
        start[b] = total
        for lane in range(LANES):
            size = counts[lane, b]
            counts[lane, b] = total
            total += size
    start[nbuckets] = total

    # Pass 2: the box indices, and copies of the boxes, in bucket order, so that a query reads
    # its candidates sequentially instead of jumping around the (N, 4) array.
    order = np.empty(total, np.int32)
    packed = np.empty((total, 4), np.float32)
    for p in range(count):
        k = key[p]
        if k >= 0:
            lane = p & (LANES - 1)
            q = counts[lane, k]
            counts[lane, k] = q + 1
            i = members[p] if subset else p
            order[q] = i
            packed[q, 0] = boxes[i, 0]
            packed[q, 1] = boxes[i, 1]
            packed[q, 2] = boxes[i, 2]
            packed[q, 3] = boxes[i, 3]
    meta = np.zeros(5)
    meta[0] = x_lo
    meta[1] = y_lo
    meta[2] = e_lo
    meta[3] = e_hi
    meta[4] = 1.0
    return order, start, meta, cls, packed


@njit
def index_candidates(index, queries, b, t, strict, idx_buf, val_buf, n):
    """Boxes whose IoU with ``queries[b]`` passes ``t``, through a :func:`build_box_index` index.

    ``t`` must be at least the ``t_min`` the index was built for. Appends to the buffers after
    the ``n`` entries already filled and returns the new count. Complexity: O(buckets in the
    query window + boxes in them).
    """
    order, start, meta, cls, packed = index
    t32 = np.float32(t)
    if meta[4] != 1.0:
        return n
    fcx, fcy, fw, fh = box_geometry(queries, b)
    farea = fw * fh
    if farea <= 0.0:
        return n
    tq = t * (1.0 - REL_SLACK)
    rch = reach(tq)
    slack = 1e-5 * (abs(fcx) + abs(fcy) + (fw + fh) * (1.0 + rch)) + 1e-6
    x_lo = meta[0]
    y_lo = meta[1]
    e_lo = int(meta[2])
    e_hi = int(meta[3])
    ea = max(e_lo, math.frexp(farea * tq * (1.0 - REL_SLACK))[1])
    eb = min(e_hi, math.frexp(farea / tq * (1.0 + REL_SLACK))[1])
    area_b = box_area_f32(queries, b)
    for e in range(ea, eb + 1):
        c = e - e_lo
        cell_x = cls[c, 0]
        cell_y = cls[c, 1]
        nx = int(cls[c, 2])
        ny = int(cls[c, 3])
        base = int(cls[c, 4])
        gx0 = max(0, int(math.floor((fcx - fw * rch - slack - x_lo) / cell_x)))
        gx1 = min(nx - 1, int(math.floor((fcx + fw * rch + slack - x_lo) / cell_x)))
        gy0 = max(0, int(math.floor((fcy - fh * rch - slack - y_lo) / cell_y)))
        gy1 = min(ny - 1, int(math.floor((fcy + fh * rch + slack - y_lo) / cell_y)))
        for gy in range(gy0, gy1 + 1):
            # Buckets of one row of cells are contiguous in ``packed``.
            p0 = start[base + gy * nx + gx0]
            p1 = start[base + gy * nx + gx1 + 1] if gx1 >= gx0 else p0
            for p in range(p0, p1):
                v = iou_rows(packed, p, box_area_f32(packed, p), queries, b, area_b)
                if passes(v, t32, strict):
                    idx_buf[n] = order[p]
                    val_buf[n] = v
                    n += 1
    return n
