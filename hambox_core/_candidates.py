"""Finding the boxes that can overlap a given box enough, without a dense IoU matrix.

Three enumerators fill the same pair of caller-owned buffers (box indices, float32 overlaps;
as long as the box set, since a query yields each box at most once) with every box
whose overlap with a query box passes a threshold:

* :func:`grid_candidates` — anchors laid out on feature-map grids (``AnchorGenerator``), found
  by arithmetic on the grid: O(number of anchors near the query) per query.
* :func:`index_candidates` — arbitrary boxes (predicted boxes, user anchors) through a spatial
  index built by :func:`build_box_index` in O(N): boxes are bucketed by area class and centre
  cell; a query visits the buckets that can hold a box with IoU above the threshold.
* :func:`dense_candidates` — every box, O(N) per query; the fallback when a threshold is so low
  that no bound prunes anything.

Pruning is conservative: windows are derived from exact bounds with the threshold lowered by
a relative 1e-5 and a small absolute slack, and every candidate is then tested with the exact
float32 overlap, so the result equals a dense scan.

Bounds used (``t`` a threshold, ``a`` a box, ``f`` the query):

* IoU(a, f) >= t  implies  inter >= t / (1 + t) * (area_a + area_f), and since
  ``inter <= ix * min(h_a, h_f)`` the x-overlap ``ix`` must reach ``need / min(h_a, h_f)``;
  ``ix <= (w_a + w_f) / 2 - |dx|`` then bounds the centre offset ``dx`` (same for y).
* IoU(a, f) >= t  also implies ``t * area_f <= area_a <= area_f / t`` and
  ``|dx| <= w_f * (1 / t + 1 - 2 t) / 2`` (from ``ix >= t w_f`` and ``w_a <= w_f / t``), which
  is what the spatial index uses since it does not know ``a`` in advance.
* IoA(a, r) >= t  implies ``ix >= t * area_a / min(h_a, h_r)``.
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import njit, njit_inline
from ._overlap import box_area_f32, ioa_rows, iou_rows

#: Relative amount by which thresholds are lowered before deriving search windows.
REL_SLACK = 1e-5
#: Thresholds at or below this cannot prune; the enumerators fall back to a full scan.
MIN_PRUNE_THR = 1e-6
#: Cells per axis of the spatial index, per area class (at most).
INDEX_CELLS = 128


@njit
def passes(v, t32, strict):
    """``v > t32`` if ``strict`` else ``v >= t32`` (both float32)."""
    if strict:
        return v > t32
    return v >= t32


@njit
def axis_range(centre, half_extent, stride, n):
    """Cells ``j`` in ``[0, n)`` with ``|(j + 0.5) * stride - centre| <= half_extent``."""
    if half_extent < 0.0 or n <= 0:
        return 0, -1
    lo_f = (centre - half_extent) / stride - 0.5
    hi_f = (centre + half_extent) / stride - 0.5
    if hi_f < 0.0 or lo_f > n - 1:
        return 0, -1
    lo = 0 if lo_f <= 0.0 else int(math.ceil(lo_f))
    hi = n - 1 if hi_f >= n - 1 else int(math.floor(hi_f))
    return lo, hi


@njit
def iou_window(wa, ha, wf, hf, t, slack):
    """Largest centre offsets (dx, dy) at which boxes of these sizes can reach IoU >= t.

    Returns negative values when no offset can. ``t <= 0`` gives the window of any overlap.
    """
    if t <= 0.0:
        return (wa + wf) * 0.5 + slack, (ha + hf) * 0.5 + slack
    mw = min(wa, wf)
    mh = min(ha, hf)
    if mw <= 0.0 or mh <= 0.0:
        return -1.0, -1.0
    tq = t * (1.0 - REL_SLACK)
    need = tq / (1.0 + tq) * (wa * ha + wf * hf)
    rx = need / mh
    ry = need / mw
    if rx > mw * (1.0 + REL_SLACK) + slack or ry > mh * (1.0 + REL_SLACK) + slack:
        return -1.0, -1.0
    return (wa + wf) * 0.5 - rx + slack, (ha + hf) * 0.5 - ry + slack


@njit
def ioa_window(wa, ha, wr, hr, t, slack):
    """Largest centre offsets at which a box (wa, ha) can have IoA >= t with a region (wr, hr)."""
    if t <= 0.0:
        return (wa + wr) * 0.5 + slack, (ha + hr) * 0.5 + slack
    mw = min(wa, wr)
    mh = min(ha, hr)
    if mw <= 0.0 or mh <= 0.0:
        return -1.0, -1.0
    tq = t * (1.0 - REL_SLACK)
    rx = tq * wa * ha / mh
    ry = tq * wa * ha / mw
    if rx > mw * (1.0 + REL_SLACK) + slack or ry > mh * (1.0 + REL_SLACK) + slack:
        return -1.0, -1.0
    return (wa + wr) * 0.5 - rx + slack, (ha + hr) * 0.5 - ry + slack


@njit
def _query_geometry(boxes, b):
    x0 = np.float64(boxes[b, 0])
    y0 = np.float64(boxes[b, 1])
    x1 = np.float64(boxes[b, 2])
    y1 = np.float64(boxes[b, 3])
    return (x0 + x1) * 0.5, (y0 + y1) * 0.5, x1 - x0, y1 - y0


@njit_inline
def record(boxes, i, queries, b, area_b, t32, strict, ioa, idx_buf, val_buf, n):
    """Append ``i`` and its overlap with ``queries[b]`` if it passes; returns the new count."""
    area_a = box_area_f32(boxes, i)
    if ioa:
        v = ioa_rows(boxes, i, area_a, queries, b)
    else:
        v = iou_rows(boxes, i, area_a, queries, b, area_b)
    if passes(v, t32, strict):
        idx_buf[n] = i
        val_buf[n] = v
        n += 1
    return n


@njit_inline
def group_window(groups, k, bcx, bcy, bw, bh, t, ioa):
    """Rows ``r0..r1`` and columns ``c0..c1`` of group ``k`` whose anchors can pass ``t``.

    Row/column ranges are empty (``r1 < r0``) when no anchor of the group can.
    """
    fh = int(groups[k, 1])
    fw = int(groups[k, 2])
    stride = groups[k, 5]
    wa = groups[k, 6]
    ha = groups[k, 7]
    slack = 1e-5 * (abs(bcx) + abs(bcy) + wa + ha + bw + bh + stride) + 1e-6
    if ioa:
        dx, dy = ioa_window(wa, ha, bw, bh, t, slack)
    else:
        dx, dy = iou_window(wa, ha, bw, bh, t, slack)
    c0, c1 = axis_range(bcx, dx, stride, fw)
    r0, r1 = axis_range(bcy, dy, stride, fh)
    return r0, r1, c0, c1


@njit_inline
def group_anchor(groups, k, r, c):
    """Index of the anchor of group ``k`` at feature-map row ``r``, column ``c``."""
    nshape = int(groups[k, 3])
    return int(groups[k, 0]) + (r * int(groups[k, 2]) + c) * nshape + int(groups[k, 4])


@njit
def grid_candidates(anchors, groups, queries, b, t, strict, ioa, idx_buf, val_buf):
    """Anchors whose IoU (or IoA, if ``ioa``) with ``queries[b]`` passes ``t``.

    Complexity: O(L + number of anchors in the windows), independent of the total anchor count.

    Parameters
    ----------
    anchors : float32 (A, 4) grid anchors; groups : float64 (K, 8) their layout table.
    queries : float32 (Q, 4); b : row of the query box.
    t : float threshold; strict : compare with ``>`` instead of ``>=``.
    ioa : measure intersection over the anchor's area instead of IoU.
    idx_buf, val_buf : int64 and float32 buffers to fill, at least as long as ``anchors``
        (a query yields each anchor at most once).

    Returns
    -------
    n : int
        Entries filled.
    """
    t32 = np.float32(t)
    full = t <= 0.0 and not strict
    bcx, bcy, bw, bh = _query_geometry(queries, b)
    area_b = box_area_f32(queries, b)
    # IoU <= min(area) / max(area): levels whose anchors are far too small or too large for
    # the query are skipped before any window arithmetic.
    area_lo = bw * bh * t * (1.0 - 2 * REL_SLACK)
    area_hi = bw * bh / t * (1.0 + 2 * REL_SLACK) if t > 0.0 else np.inf
    n = 0
    for k in range(groups.shape[0]):
        if (
            not ioa
            and not full
            and t > 0.0
            and not area_lo <= groups[k, 6] * groups[k, 7] <= area_hi
        ):
            continue
        if full:
            r0, r1, c0, c1 = 0, int(groups[k, 1]) - 1, 0, int(groups[k, 2]) - 1
        else:
            r0, r1, c0, c1 = group_window(groups, k, bcx, bcy, bw, bh, t, ioa)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                i = group_anchor(groups, k, r, c)
                n = record(anchors, i, queries, b, area_b, t32, strict, ioa, idx_buf, val_buf, n)
    return n


@njit
def grid_best_anchor(anchors, groups, queries, b):
    """The anchor with the highest IoU with ``queries[b]`` (lowest index on ties).

    Levels are visited in decreasing order of their best possible IoU (centres coinciding);
    each is searched only where an anchor can still reach the best IoU found so far, and the
    search stops when no remaining level can. Returns ``(-1, 0)`` when no anchor overlaps.
    """
    bcx, bcy, bw, bh = _query_geometry(queries, b)
    best_i = -1
    best_v = np.float32(0.0)
    if bw <= 0.0 or bh <= 0.0:
        return best_i, best_v
    area_b = box_area_f32(queries, b)
    ngroups = groups.shape[0]
    bound = np.empty(ngroups)
    for k in range(ngroups):
        wa = groups[k, 6]
        ha = groups[k, 7]
        inter0 = min(wa, bw) * min(ha, bh)
        union0 = wa * ha + bw * bh - inter0
        bound[k] = inter0 / union0 if union0 > 0.0 else 0.0
    for k in np.argsort(-bound, kind="mergesort"):
        if bound[k] * (1.0 + 10 * REL_SLACK) + 1e-7 < best_v:
            break
        r0, r1, c0, c1 = group_window(groups, k, bcx, bcy, bw, bh, np.float64(best_v), False)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                i = group_anchor(groups, k, r, c)
                v = iou_rows(anchors, i, box_area_f32(anchors, i), queries, b, area_b)
                if v > best_v or (v == best_v and v > 0.0 and i < best_i):
                    best_v = v
                    best_i = i
    return best_i, best_v


@njit
def dense_candidates(boxes, queries, b, t, strict, ioa, idx_buf, val_buf):
    """Every row of ``boxes`` whose IoU (or IoA) with ``queries[b]`` passes ``t``. O(N)."""
    t32 = np.float32(t)
    area_b = box_area_f32(queries, b)
    n = 0
    for i in range(boxes.shape[0]):
        n = record(boxes, i, queries, b, area_b, t32, strict, ioa, idx_buf, val_buf, n)
    return n


@njit
def dense_best(boxes, queries, b):
    """Row of ``boxes`` with the highest IoU with ``queries[b]`` (lowest on ties); O(N)."""
    best_i = -1
    best_v = np.float32(0.0)
    area_b = box_area_f32(queries, b)
    for i in range(boxes.shape[0]):
        v = iou_rows(boxes, i, box_area_f32(boxes, i), queries, b, area_b)
        if v > best_v:
            best_v = v
            best_i = i
    return best_i, best_v


@njit
def _reach(t):
    """Centre-offset bound in units of the query's side: (1 / t + 1 - 2 t) / 2."""
    return (1.0 / t + 1.0 - 2.0 * t) * 0.5


@njit
def build_box_index(boxes, gt, t_min):
    """Bucket ``boxes`` so that IoU >= ``t_min`` queries with faces ``gt`` visit few of them.

    Boxes are grouped by area class (power-of-two bins of the area), and each class by the
    cell of its centre on a uniform grid over the region the faces can reach. A class's grid
    has about one cell per two boxes of that class (at most ``INDEX_CELLS`` per axis, and no
    cell smaller than the class's box side), so a query visits O(1) boxes per cell.

    Complexity: O(N) time and memory (three passes over the boxes; at most N / 2 + C cells).

    Returns
    -------
    order : int64 (M,) indices of the indexed boxes, grouped by bucket.
    start : int64 (B + 1,) bucket offsets into ``order``.
    meta : float64 (5,) ``x0, y0, e_lo, e_hi, valid``; valid 0 means nothing can match.
    cls : float64 (C, 4) per area class: cell size, cells in x, cells in y, first bucket.
    packed : float32 (M, 4) the indexed boxes, in ``order``.
    """
    tq = t_min * (1.0 - REL_SLACK)
    reach = _reach(tq)
    x_lo = np.inf
    y_lo = np.inf
    x_hi = -np.inf
    y_hi = -np.inf
    a_lo = np.inf
    a_hi = 0.0
    for g in range(gt.shape[0]):
        fcx, fcy, fw, fh = _query_geometry(gt, g)
        area = fw * fh
        if area <= 0.0:
            continue
        slack = 1e-5 * (abs(fcx) + abs(fcy) + (fw + fh) * (1.0 + reach)) + 1e-6
        x_lo = min(x_lo, fcx - fw * reach - slack)
        x_hi = max(x_hi, fcx + fw * reach + slack)
        y_lo = min(y_lo, fcy - fh * reach - slack)
        y_hi = max(y_hi, fcy + fh * reach + slack)
        a_lo = min(a_lo, area)
        a_hi = max(a_hi, area)
    meta = np.zeros(5)
    if a_hi <= 0.0:
        return (
            np.empty(0, np.int64),
            np.zeros(1, np.int64),
            meta,
            np.zeros((0, 4)),
            np.empty((0, 4), np.float32),
        )
    e_lo = math.frexp(a_lo * tq * (1.0 - REL_SLACK))[1]
    e_hi = math.frexp(a_hi / tq * (1.0 + REL_SLACK))[1]
    ncls = e_hi - e_lo + 1
    width = x_hi - x_lo
    height = y_hi - y_lo

    # Pass 1: area class of every box (from the float32 exponent bits; math.frexp is slow),
    # -1 for boxes that cannot reach any face; centres kept for pass 2.
    n = boxes.shape[0]
    areas = np.empty(n, np.float32)
    for i in range(n):
        areas[i] = box_area_f32(boxes, i)
    bits = areas.view(np.int32)
    key = np.empty(n, np.int64)
    cxs = np.empty(n, np.float32)
    cys = np.empty(n, np.float32)
    per_class = np.zeros(ncls, np.int64)
    x_lo32 = np.float32(x_lo)
    x_hi32 = np.float32(x_hi)
    y_lo32 = np.float32(y_lo)
    y_hi32 = np.float32(y_hi)
    half = np.float32(0.5)
    for i in range(n):
        c = -1
        cx = (boxes[i, 0] + boxes[i, 2]) * half
        cy = (boxes[i, 1] + boxes[i, 3]) * half
        if areas[i] > 0:
            biased = (bits[i] >> 23) & 0xFF
            e = biased - 126 if biased > 0 else math.frexp(np.float64(areas[i]))[1]
            # The domain's slack exceeds float32 rounding of the centres by far.
            if e_lo <= e <= e_hi and x_lo32 <= cx <= x_hi32 and y_lo32 <= cy <= y_hi32:
                c = e - e_lo
                per_class[c] += 1
        key[i] = c
        cxs[i] = cx
        cys[i] = cy

    # Each class's grid: about two boxes per cell, cells no smaller than the boxes.
    cls = np.empty((ncls, 4))
    inv_cell = np.empty(ncls, np.float32)
    nxs = np.empty(ncls, np.int64)
    nys = np.empty(ncls, np.int64)
    bases = np.empty(ncls, np.int64)
    nbuckets = 0
    for c in range(ncls):
        side = math.sqrt(math.ldexp(1.0, e_lo + c - 1))
        per_axis = max(1, min(INDEX_CELLS, int(math.sqrt(per_class[c] * 0.5))))
        cell = max(side, max(width, height) / per_axis)
        nx = max(1, min(INDEX_CELLS, int(math.ceil(width / cell))))
        ny = max(1, min(INDEX_CELLS, int(math.ceil(height / cell))))
        cell = max(cell, width / nx, height / ny)
        cls[c, 0] = cell
        cls[c, 1] = nx
        cls[c, 2] = ny
        cls[c, 3] = nbuckets
        inv_cell[c] = np.float32(1.0 / cell)
        nxs[c] = nx
        nys[c] = ny
        bases[c] = nbuckets
        nbuckets += nx * ny

    # Pass 2: bucket of every box and bucket sizes. A centre rounded into a neighbouring cell is
    # still found: query windows carry a slack far larger than float32 rounding.
    start = np.zeros(nbuckets + 1, np.int64)
    for i in range(n):
        c = key[i]
        if c < 0:
            continue
        ix = min(int((cxs[i] - x_lo32) * inv_cell[c]), nxs[c] - 1)
        iy = min(int((cys[i] - y_lo32) * inv_cell[c]), nys[c] - 1)
        k = bases[c] + max(iy, 0) * nxs[c] + max(ix, 0)
        key[i] = k
        start[k + 1] += 1
    for k in range(nbuckets):
        start[k + 1] += start[k]

    # Pass 3: the box indices, and copies of the boxes, in bucket order, so that a query reads
    # its candidates sequentially instead of jumping around the (A, 4) array.
    fill = start[:-1].copy()
    order = np.empty(start[nbuckets], np.int64)
    packed = np.empty((start[nbuckets], 4), np.float32)
    for i in range(n):
        k = key[i]
        if k >= 0:
            q = fill[k]
            order[q] = i
            packed[q, 0] = boxes[i, 0]
            packed[q, 1] = boxes[i, 1]
            packed[q, 2] = boxes[i, 2]
            packed[q, 3] = boxes[i, 3]
            fill[k] += 1
    meta[0] = x_lo
    meta[1] = y_lo
    meta[2] = e_lo
    meta[3] = e_hi
    meta[4] = 1.0
    return order, start, meta, cls, packed


@njit
def index_candidates(order, start, meta, cls, packed, queries, b, t, strict, idx_buf, val_buf):
    """Boxes whose IoU with ``queries[b]`` passes ``t``, through a :func:`build_box_index` index.

    ``t`` must be at least the ``t_min`` the index was built for. Complexity: O(buckets in the
    query window + boxes in them).
    """
    t32 = np.float32(t)
    n = 0
    if meta[4] == 0.0:
        return n
    fcx, fcy, fw, fh = _query_geometry(queries, b)
    farea = fw * fh
    if farea <= 0.0:
        return n
    tq = t * (1.0 - REL_SLACK)
    reach = _reach(tq)
    slack = 1e-5 * (abs(fcx) + abs(fcy) + (fw + fh) * (1.0 + reach)) + 1e-6
    x_lo = meta[0]
    y_lo = meta[1]
    e_lo = int(meta[2])
    e_hi = int(meta[3])
    ea = max(e_lo, math.frexp(farea * tq * (1.0 - REL_SLACK))[1])
    eb = min(e_hi, math.frexp(farea / tq * (1.0 + REL_SLACK))[1])
    area_b = box_area_f32(queries, b)
    for e in range(ea, eb + 1):
        c = e - e_lo
        cell = cls[c, 0]
        nx = int(cls[c, 1])
        ny = int(cls[c, 2])
        base = int(cls[c, 3])
        gx0 = max(0, int(math.floor((fcx - fw * reach - slack - x_lo) / cell)))
        gx1 = min(nx - 1, int(math.floor((fcx + fw * reach + slack - x_lo) / cell)))
        gy0 = max(0, int(math.floor((fcy - fh * reach - slack - y_lo) / cell)))
        gy1 = min(ny - 1, int(math.floor((fcy + fh * reach + slack - y_lo) / cell)))
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
