"""Recognising anchor grids from the anchors' values, so that any detector's anchors match fast.

Detectors lay their anchors out on feature-map grids: a *level* is ``fh x fw`` locations with
``n`` anchor shapes each, stored location-major (row ``r``, column ``c``) and shape fastest, so
anchor ``start + (r * fw + c) * n + k`` is the ``k``-th shape moved by ``(c * sx, r * sy)``
(steps of either sign)::

    box(r, c, k) = box(0, 0, k) + (c * sx, r * sy, c * sx, r * sy)

hambox's :class:`~hambox_core.AnchorGenerator` (centred cells, one shape), torchvision's
``AnchorGenerator`` (corner-centred cells, rounded sizes, several sizes x ratios per location),
levels concatenated in any order, all have that form. :func:`find_grids` recovers it from the
values alone, on every call: no registry, no object identity, nothing cached, so a writable
array, a tensor's ``.numpy()`` or an array rebuilt every step is recognised the same, and an
array changed in place is recognised as it now is.

How a level is found, starting at anchor ``s``: the first later anchor (within
:data:`MAX_SHAPES`) of the same size lying to the right of it (same row) or below it (a
one-column level) gives ``n`` and a first step; searching along the row and then down the first
column (exponential then binary search, O(log fw + log fh) anchors read) gives ``fw``, ``fh``
and the steps ``sx = (cx_last - cx_first) / (fw - 1)`` (likewise ``sy``). Then **every
coordinate of every anchor of the level** is compared with the formula above in float32; rows
are accepted while all their coordinates lie within ``tol = (M + 1) * 2**-16`` of it (``M`` the
largest coordinate magnitude of the level, so ``tol`` is a few hundred float32 ulps: anchors a
user computed in float32 or float64 pass). A row that fails goes to the *rest*, and
recognition continues after it; an anchor where no level starts (a level with a single
location, a box on no grid) goes to the rest too (after :data:`MAX_FAILED_STARTS` such anchors
in a row, all remaining ones do, so random boxes cost little). Coordinates that are NaN or
infinite never pass, and a level whose shapes are not wider and taller than ``4 tol`` is not
accepted, so the anchors on a grid are valid boxes: the matchers check only the rest.

Exactness does not rest on the formula: the matchers search a group (one level, one shape) in
the window of cells that can hold a passing anchor, widened by the group's bound ``dev`` on how
far an anchor's corners may lie from the formula, and they compute every IoU from the anchor's
actual coordinates. An anchor one ulp (or anything up to ``tol``) off its grid is therefore
matched exactly as a dense computation would match it; anchors further off are matched, with
the rest, through a spatial index built per call.

HAMBox's predicted boxes are searched on the same grids: a predicted box whose corners lie
within half its anchor's size of the anchor's corners, and which keeps at least half its
anchor's width and height, is *tethered* to its anchor, so the boxes near a face are found by
arithmetic on the anchors' grid; the others go through the spatial index.

Cost: one vectorised read of the ``(A, 4)`` array (the verification) plus O(n + log(fw fh)) per
level for the search. The result is a *group table*, one row per (level, shape), whose columns
are :data:`GROUP_COLUMNS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._numba import njit
from ._overlap import box_geometry
from .validation import box_array

__all__ = [
    "GROUP_COLUMNS",
    "MAX_FAILED_STARTS",
    "MAX_SHAPES",
    "AnchorGrids",
    "find_grids",
    "find_grids_kernel",
]

#: Columns of the group table (float64), one row per (level, anchor shape): index of the level's
#: first anchor; feature-map rows and columns; shapes per location; this group's shape; centre of
#: its anchor at cell (0, 0); steps between columns and rows; width and height of that anchor;
#: bound on the distance of any corner of the group's anchors from the grid formula.
GROUP_COLUMNS = ("start", "fh", "fw", "nshape", "shape", "cx", "cy", "sx", "sy", "w", "h", "dev")
START, FH, FW, NSHAPE, SHAPE, CX, CY, SX, SY, W, H, DEV = range(len(GROUP_COLUMNS))

#: Most anchor shapes per location the recogniser looks for (torchvision's RetinaNet has 9).
MAX_SHAPES = 64
#: Consecutive anchors with no level starting at them after which recognition stops.
MAX_FAILED_STARTS = 256
#: Verification tolerance: ``tol = (M + 1) * REL_TOL``, ``M`` the level's largest coordinate.
REL_TOL = 2.0**-16


@njit
def _near(a, i, cx, cy, w, h, tol_c, tol_x, tol_y):
    """Whether anchor ``i`` has size ``(w, h)`` within ``tol_c`` and centre within the bounds."""
    ci, di, wi, hi = box_geometry(a, i)
    return (
        abs(wi - w) <= tol_c
        and abs(hi - h) <= tol_c
        and abs(ci - cx) <= tol_x
        and abs(di - cy) <= tol_y
    )


@njit
def _on_line(a, s, stride, m, cx, cy, w, h, tol_c, ex, ey):
    """Whether anchor ``s + m * stride`` has the size ``(w, h)`` and lies ``m`` steps of
    ``(ex, ey)`` from ``(cx, cy)`` (within a quarter step)."""
    return _near(
        a,
        s + m * stride,
        cx + m * ex,
        cy + m * ey,
        w,
        h,
        tol_c,
        0.25 * abs(ex) + tol_c,
        0.25 * abs(ey) + tol_c,
    )


@njit
def _count_on_line(a, s, stride, count_max, cx, cy, w, h, tol_c, ex, ey):
    """Number of anchors ``s, s + stride, ...`` (at most ``count_max``) on the line through
    anchor ``s`` with per-step offsets ``(ex, ey)`` and its size; anchor ``s + stride`` must be
    on it.

    Exponential then binary search over the step count, so O(log count) anchors are read; the
    offsets are re-estimated from every anchor the exponential phase finds on the line. A line
    with a gap may be cut short; the caller's verification decides.
    """
    lo = 1  # anchors 0..lo are on the line
    hi = count_max  # anchor hi is not (or is past the end)
    m = 2
    while m < hi:
        if not _on_line(a, s, stride, m, cx, cy, w, h, tol_c, ex, ey):
            hi = m
            break
        lo = m
        cm, dm, _, _ = box_geometry(a, s + m * stride)
        ex = (cm - cx) / m if ex != 0.0 else 0.0
        ey = (dm - cy) / m if ey != 0.0 else 0.0
        m *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _on_line(a, s, stride, mid, cx, cy, w, h, tol_c, ex, ey):
            lo = mid
        else:
            hi = mid
    return min(hi, count_max)


@njit
def _detect_level(a, s):
    """Layout ``(n, fw, fh, sx, sy)`` of a level that starts at anchor ``s``; ``n = 0`` if none.

    Only the first row, the first column and the first location are read; the caller verifies
    the whole level.
    """
    num = a.shape[0]
    cx, cy, w, h = box_geometry(a, s)
    if not (w > 0.0 and h > 0.0):  # also rejects NaN
        return 0, 0, 0, 1.0, 1.0
    tol_c = 1e-4 * (abs(cx) + abs(cy) + w + h) + 1e-6
    n = 0
    row = False
    dx = 0.0
    dy = 0.0
    for m in range(1, min(MAX_SHAPES, num - 1 - s) + 1):
        cb, db, wb, hb = box_geometry(a, s + m)
        if not (abs(wb - w) <= tol_c and abs(hb - h) <= tol_c):
            continue
        dx = cb - cx
        dy = db - cy
        if abs(dy) <= tol_c and abs(dx) > tol_c:
            n = m
            row = True
            break
        if abs(dx) <= tol_c and abs(dy) > tol_c:
            n = m
            break
    if n == 0:
        return 0, 0, 0, 1.0, 1.0
    fw = 1
    sx = 1.0
    if row:
        fw = _count_on_line(a, s, n, (num - s) // n, cx, cy, w, h, tol_c, dx, 0.0)
        if fw < 2:  # the second location is cut off by the end of the array
            return 0, 0, 0, 1.0, 1.0
        sx = (box_geometry(a, s + (fw - 1) * n)[0] - cx) / (fw - 1)
    step = fw * n
    fh = 1
    sy = 1.0
    if s + step < num:
        cb, db, wb, hb = box_geometry(a, s + step)
        dy = db - cy
        if abs(dy) > tol_c and _near(a, s + step, cx, db, w, h, tol_c, 0.25 * abs(sx) + tol_c, 0.0):
            fh = _count_on_line(a, s, step, (num - s) // step, cx, cy, w, h, tol_c, 0.0, dy)
    if fh > 1:
        sy = (box_geometry(a, s + (fh - 1) * step)[1] - cy) / (fh - 1)
    return n, fw, fh, sx, sy


@njit
def _verify_rows(flat, a, s, n, fw, fh, sx, sy):
    """Leading rows of the level at ``s`` whose every coordinate fits the grid formula.

    Returns ``(rows, dev)``: ``rows`` in ``0..fh``, and ``dev``, a bound on the distance of any
    coordinate of those rows from the formula (in exact arithmetic).
    """
    mag = 0.0
    for k in range(n):
        for q in range(4):
            mag = max(mag, abs(np.float64(a[s + k, q])))
    mag += (fw - 1) * abs(sx) + (fh - 1) * abs(sy)
    tol = (mag + 1.0) * REL_TOL
    for k in range(n):
        if not (
            np.float64(a[s + k, 2]) - a[s + k, 0] > 4.0 * tol
            and np.float64(a[s + k, 3]) - a[s + k, 1] > 4.0 * tol
        ):
            return 0, 0.0
    # Row 0's formula, and which coordinates move with the row (y).
    m = fw * n * 4
    model = np.empty(m, np.float32)
    moves = np.empty(m, np.float32)
    for c in range(fw):
        for k in range(n):
            j = (c * n + k) * 4
            model[j] = np.float32(a[s + k, 0] + c * sx)
            model[j + 1] = a[s + k, 1]
            model[j + 2] = np.float32(a[s + k, 2] + c * sx)
            model[j + 3] = a[s + k, 3]
            moves[j] = 0.0
            moves[j + 1] = 1.0
            moves[j + 2] = 0.0
            moves[j + 3] = 1.0
    tol32 = np.float32(tol)
    for r in range(fh):
        ry = np.float32(r * sy)
        row = flat[(s * 4 + r * m) : (s * 4 + (r + 1) * m)]
        bad = False
        # Written for the vectoriser: no early exit inside a row; NaN fails the comparison.
        for j in range(m):
            if not abs(row[j] - (model[j] + ry * moves[j])) <= tol32:
                bad = True
        if bad:
            fh = r
            break
    # The formula was evaluated in float32 (a few ulps of ``mag``, far below tol / 16).
    return fh, tol * (1.0 + 2.0**-4)


@njit
def _append_range(rest, nrest, lo, hi):
    """Append ``lo..hi-1`` to the growable ``rest`` holding ``nrest`` entries."""
    if nrest + hi - lo > rest.shape[0]:
        grown = np.empty(max(2 * rest.shape[0], nrest + hi - lo), np.int64)
        grown[:nrest] = rest[:nrest]
        rest = grown
    for i in range(lo, hi):
        rest[nrest] = i
        nrest += 1
    return rest, nrest


@njit
def find_grids_kernel(anchors, flat):
    """Group table and rest of ``anchors`` (float32 (A, 4), C-contiguous; ``flat`` its (4A,) view).

    Returns
    -------
    groups : float64 (K, 12), columns :data:`GROUP_COLUMNS`.
    rest : int64 (R,), increasing indices of the anchors on no recognised grid.
    """
    num = anchors.shape[0]
    groups = np.empty((16, len(GROUP_COLUMNS)))
    ngroups = 0
    rest = np.empty(16, np.int64)
    nrest = 0
    failed = 0
    s = 0
    while s < num:
        if failed >= MAX_FAILED_STARTS:
            rest, nrest = _append_range(rest, nrest, s, num)
            break
        n, fw, fh, sx, sy = _detect_level(anchors, s)
        if n == 0:
            rest, nrest = _append_range(rest, nrest, s, s + 1)
            s += 1
            failed += 1
            continue
        failed = 0
        rows, dev = _verify_rows(flat, anchors, s, n, fw, fh, sx, sy)
        if rows > 0:
            if ngroups + n > groups.shape[0]:
                grown = np.empty((2 * (ngroups + n), groups.shape[1]))
                grown[:ngroups] = groups[:ngroups]
                groups = grown
            for k in range(n):
                cx, cy, w, h = box_geometry(anchors, s + k)
                g = groups[ngroups]
                g[START] = s
                g[FH] = rows
                g[FW] = fw
                g[NSHAPE] = n
                g[SHAPE] = k
                g[CX] = cx
                g[CY] = cy
                g[SX] = sx
                g[SY] = sy
                g[W] = w
                g[H] = h
                g[DEV] = dev
                ngroups += 1
            s += rows * fw * n
        if rows < fh:
            # The first row that does not fit: its anchors are matched as arbitrary boxes.
            rest, nrest = _append_range(rest, nrest, s, s + fw * n)
            s += fw * n
    return groups[:ngroups].copy(), rest[:nrest].copy()


@dataclass(frozen=True, eq=False)
class AnchorGrids:
    """The grid layout :func:`find_grids` recognised in an anchor array.

    Attributes
    ----------
    groups : ndarray of shape (K, 12), float64
        One row per (level, anchor shape); columns :data:`GROUP_COLUMNS`.
    rest : ndarray of shape (R,), int64
        Increasing indices of the anchors on no recognised grid.
    """

    groups: np.ndarray
    rest: np.ndarray

    @property
    def num_on_grids(self) -> int:
        """Number of anchors on the recognised grids."""
        return int(np.sum(self.groups[:, FH] * self.groups[:, FW]))


def find_grids(anchors: np.ndarray) -> AnchorGrids:
    """Recognise the feature-map grids in an anchor array from its values.

    Parameters
    ----------
    anchors : array_like of shape (A, 4)
        xyxy anchors, converted to float32 like the matchers do. Values are not trusted: rows
        that are not valid boxes end up in ``rest``.

    Returns
    -------
    AnchorGrids

    Examples
    --------
    >>> from hambox_core import AnchorGenerator
    >>> grids = find_grids(AnchorGenerator().grid_anchors((640, 640)))
    >>> len(grids.groups), grids.num_on_grids, len(grids.rest)
    (6, 34125, 0)
    >>> grids.groups[1, [1, 2, 7, 8, 9]].round(2)  # P3: 80 x 80 cells, steps 8, side 21.76
    array([80.  , 80.  ,  8.  ,  8.  , 21.76])
    """
    anchors = box_array(anchors, "anchors")
    groups, rest = find_grids_kernel(anchors, anchors.reshape(-1))
    return AnchorGrids(groups, rest)
