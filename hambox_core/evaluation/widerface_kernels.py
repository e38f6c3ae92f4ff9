"""numba kernels of the WIDER FACE protocol, and MATLAB's int32 arithmetic they need.

:mod:`hambox_core.evaluation.widerface` documents the protocol; this module holds its three
kernels and the scalar helpers that reproduce MATLAB's integer arithmetic:

* :func:`matlab_round` — MATLAB's ``round``: half away from zero (``round(2.5) = 3``,
  ``round(-2.5) = -3``), exact for every double.
* :func:`to_int32` — MATLAB's conversion of a double to ``int32``: :func:`matlab_round`, then
  saturation at ``[-2**31, 2**31 - 1]``; NaN becomes 0.
* :func:`saturate_int32` — an exact integer result brought into the int32 range, which is
  what MATLAB returns for ``int32 + int32``, ``int32 - int32`` and ``int32 .* int32``.

MATLAB evaluates an operation that mixes ``int32`` and ``double`` in double precision and
converts the result with :func:`to_int32`; between two ``int32`` values it rounds the exact
result (so ``int32 ./ int32`` rounds the quotient, ``x / 0`` saturates and ``0 / 0`` is 0).
The kernels keep ``int32`` values in int64 variables, where sums, differences and products of
two int32 values are exact, and saturate after every operation, as MATLAB does.

The kernels are private to the protocol's implementation and take flat arrays; use
:func:`hambox_core.evaluation.widerface.pr_curves`.
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import njit, njit_inline

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "matlab_round",
    "pr_histograms",
    "saturate_int32",
    "sort_and_match",
    "threshold_bins",
    "to_int32",
]

#: Largest ``int32`` (``intmax('int32')``).
INT32_MAX = 2147483647
#: Smallest ``int32`` (``intmin('int32')``).
INT32_MIN = -2147483648


@njit_inline
def matlab_round(x):
    """MATLAB's ``round`` of a double: the nearest integer, halves away from zero.

    ``floor(|x|)`` and ``|x| - floor(|x|)`` are exact in binary floating point, so no double
    rounding can occur (``floor(x + 0.5)`` gets 0.49999999999999994 wrong). Infinities are
    returned as they are.
    """
    a = abs(x)
    r = np.floor(a)  # a float (numba's math.floor returns an int64, which overflows)
    if a - r >= 0.5:
        r += 1.0
    return math.copysign(r, x)


@njit_inline
def to_int32(x):
    """MATLAB's ``int32(x)`` of a double ``x``, as an int64 value: round, saturate, NaN -> 0."""
    if x != x:
        return np.int64(0)
    r = matlab_round(x)
    if r >= 2147483647.0:
        return np.int64(INT32_MAX)
    if r <= -2147483648.0:
        return np.int64(INT32_MIN)
    return np.int64(r)


@njit_inline
def saturate_int32(v):
    """An exact integer result (int64) clamped to the int32 range, as MATLAB saturates."""
    if v > INT32_MAX:
        return np.int64(INT32_MAX)
    if v < INT32_MIN:
        return np.int64(INT32_MIN)
    return v


@njit_inline
def _overlap_official(gx1, gy1, gx2, gy2, garea, bx1, by1, bx2, by2, barea):
    """``boxoverlap(gt_bbx, pred)`` for one face in MATLAB int32 arithmetic (an int64 value).

    Face corners and area are int32 values; ``b*`` are the detection's corners already
    converted to int32 (what ``max(int32, double)`` and ``min`` use), ``barea`` its double
    area.
    """
    x1 = max(gx1, bx1)
    y1 = max(gy1, by1)
    x2 = min(gx2, bx2)
    y2 = min(gy2, by2)
    w = saturate_int32(saturate_int32(x2 - x1) + 1)
    h = saturate_int32(saturate_int32(y2 - y1) + 1)
    if w <= 0 or h <= 0:
        return np.int64(0)
    inter = saturate_int32(w * h)
    union = saturate_int32(to_int32(float(garea) + barea) - inter)
    # int32 ./ int32: the rounded quotient; inter > 0 here, so union 0 gives +inf -> intmax
    return to_int32(float(inter) / float(union))


@njit_inline
def _overlap_float(gx1, gy1, gx2, gy2, garea, px1, py1, px2, py2, parea):
    """``boxoverlap(gt_bbx, pred)`` for one face in float64 (double ground truth)."""
    iw = (min(gx2, px2) - max(gx1, px1)) + 1.0
    ih = (min(gy2, py2) - max(gy1, py1)) + 1.0
    if iw > 0.0 and ih > 0.0:
        inter = iw * ih
        return inter / ((garea + parea) - inter)
    return 0.0


@njit
def _match_official(pred, rows, faces, g0, iou_thr, best):
    """One image in int32 arithmetic: ``best[k]`` for the detection ``pred[rows[k]]``."""
    ng = faces.shape[0]
    ix1 = np.empty(ng, np.int64)
    iy1 = np.empty(ng, np.int64)
    ix2 = np.empty(ng, np.int64)
    iy2 = np.empty(ng, np.int64)
    iarea = np.empty(ng, np.int64)
    for g in range(ng):
        ix1[g] = np.int64(faces[g, 0])
        iy1[g] = np.int64(faces[g, 1])
        ix2[g] = saturate_int32(ix1[g] + np.int64(faces[g, 2]))  # gt_bbx(:,3) = x + w, int32
        iy2[g] = saturate_int32(iy1[g] + np.int64(faces[g, 3]))
        iw = saturate_int32(saturate_int32(ix2[g] - ix1[g]) + 1)
        ih = saturate_int32(saturate_int32(iy2[g] - iy1[g]) + 1)
        iarea[g] = saturate_int32(iw * ih)
    for k in range(rows.shape[0]):
        r = rows[k]
        px1 = pred[r, 0]
        py1 = pred[r, 1]
        px2 = px1 + pred[r, 2]  # pred_info(:,3) = x + w, double
        py2 = py1 + pred[r, 3]
        barea = ((px2 - px1) + 1.0) * ((py2 - py1) + 1.0)
        bx1 = to_int32(px1)
        by1 = to_int32(py1)
        bx2 = to_int32(px2)
        by2 = to_int32(py2)
        top = np.int64(INT32_MIN) - 1
        arg = 0
        for g in range(ng):
            o = _overlap_official(
                ix1[g], iy1[g], ix2[g], iy2[g], iarea[g], bx1, by1, bx2, by2, barea
            )
            if o > top:  # strict: the first face of the largest overlap, as MATLAB's max
                top = o
                arg = g
        best[k] = g0 + arg if float(top) >= iou_thr else -1


@njit
def _match_float(pred, rows, faces, g0, iou_thr, best):
    """One image in float64: ``best[k]`` for the detection ``pred[rows[k]]``."""
    ng = faces.shape[0]
    fx1 = faces[:, 0].copy()
    fy1 = faces[:, 1].copy()
    fx2 = fx1 + faces[:, 2]
    fy2 = fy1 + faces[:, 3]
    farea = ((fx2 - fx1) + 1.0) * ((fy2 - fy1) + 1.0)
    for k in range(rows.shape[0]):
        r = rows[k]
        px1 = pred[r, 0]
        py1 = pred[r, 1]
        px2 = px1 + pred[r, 2]
        py2 = py1 + pred[r, 3]
        parea = ((px2 - px1) + 1.0) * ((py2 - py1) + 1.0)
        top = -math.inf
        arg = 0
        for g in range(ng):
            o = _overlap_float(fx1[g], fy1[g], fx2[g], fy2[g], farea[g], px1, py1, px2, py2, parea)
            if o > top:
                top = o
                arg = g
        best[k] = g0 + arg if top >= iou_thr else -1


@njit
def sort_and_match(pred, offsets, gt, gt_offsets, iou_thr, official):
    """Sort each image's detections and find the face each one matches.

    Parameters
    ----------
    pred : ndarray of shape (P, 5), float64
        ``x y w h score`` rows, image after image as ``offsets`` says.
    offsets : ndarray of shape (I + 1,), int64
    gt : ndarray of shape (F, 4), float64
        Faces ``x y w h``; with ``official`` they hold int32 values (checked by the caller).
    gt_offsets : ndarray of shape (I + 1,), int64
    iou_thr : float
        ``IoU_thresh``: a detection matches when its best overlap is ``>= iou_thr``.
    official : bool
        True: ``boxoverlap`` in MATLAB int32 arithmetic (the official ``.mat`` files hold
        int32 boxes); False: in float64.

    Returns
    -------
    order : ndarray of shape (P,), int64
        Rows of ``pred``, each image's segment sorted by decreasing score, stable (MATLAB's
        ``sort(..., 'descend')``).
    best : ndarray of shape (P,), int64
        Aligned with ``order``: the global index of the face ``max(overlap_list)`` picks (the
        first face of largest overlap) when that overlap is ``>= iou_thr``; -1 when it is
        lower; -2 when the image has no face (the protocol skips such images).

    Notes
    -----
    ``image_evaluation`` turns both box lists into corners: ``x2 = x + w`` (double for the
    detection; int32, saturating, for the face). With ``official``, ``boxoverlap`` then takes
    ``max``/``min`` of an int32 face corner and a double detection corner, which is the
    detection's corner rounded to int32; the widths, heights, intersection and face area are
    int32; the detection's area stays double until ``aarea + barea`` rounds the sum to int32;
    the IoU ``inter ./ union`` is an int32 quotient, rounded (0 or 1 for ordinary boxes, so the
    first face whose rounded IoU is 1 wins). Without ``official`` everything is float64 and the
    union is positive whenever both sides of the intersection are.
    """
    n_img = offsets.shape[0] - 1
    order = np.empty(pred.shape[0], np.int64)
    best = np.empty(pred.shape[0], np.int64)
    for i in range(n_img):
        p0 = offsets[i]
        p1 = offsets[i + 1]
        if p1 == p0:
            continue
        neg = np.empty(p1 - p0, np.float64)
        for k in range(p1 - p0):
            neg[k] = -pred[p0 + k, 4]
        local = np.argsort(neg, kind="mergesort")
        for k in range(p1 - p0):
            order[p0 + k] = p0 + local[k]
        g0 = gt_offsets[i]
        ng = gt_offsets[i + 1] - g0
        if ng == 0:
            best[p0:p1] = -2
        elif official:
            _match_official(pred, order[p0:p1], gt[g0 : g0 + ng], g0, iou_thr, best[p0:p1])
        else:
            _match_float(pred, order[p0:p1], gt[g0 : g0 + ng], g0, iou_thr, best[p0:p1])
    return order, best


@njit
def threshold_bins(norm, thresholds):
    """Index of the first threshold each normalised score passes (``thresholds[j] <= s``).

    Parameters
    ----------
    norm : ndarray of shape (P,), float64
        Normalised scores; NaN (the official 0/0 when every score is equal) passes none.
    thresholds : ndarray of shape (T,), float64
        Decreasing.

    Returns
    -------
    ndarray of shape (P,), int64
        The bin of each score; ``T`` for a score that passes no threshold. An arithmetic guess
        is corrected by comparisons with the actual thresholds, so the result is the same as
        comparing with every threshold in turn.
    """
    t = thresholds.shape[0]
    out = np.empty(norm.shape[0], np.int64)
    for k in range(norm.shape[0]):
        s = norm[k]
        if s != s:
            out[k] = t
            continue
        g = int(math.ceil(t * (1.0 - min(max(s, -1.0), 2.0)))) - 1
        g = min(max(g, 0), t)
        while g > 0 and thresholds[g - 1] <= s:
            g -= 1
        while g < t and thresholds[g] > s:
            g += 1
        out[k] = g
    return out


@njit
def pr_histograms(best, bins, keep, num_bins):
    """Per-threshold-bin counts of proposals and of newly recalled kept faces.

    Parameters
    ----------
    best : ndarray of shape (P,), int64
        From :func:`sort_and_match`, in sorted order.
    bins : ndarray of shape (P,), int64
        From :func:`threshold_bins` (``num_bins`` for a detection that passes no threshold).
    keep : ndarray of shape (F,), bool
        The faces that count; a detection matching another face is not a proposal.
    num_bins : int

    Returns
    -------
    proposals, hits : ndarray of shape (num_bins + 1,), int64
        Walking the detections in order and carrying each face's "recalled" state exactly like
        ``image_evaluation`` (a face belongs to one image, so no reset is needed between
        images); the last bin collects the detections that pass no threshold.
    """
    recalled = np.zeros(keep.shape[0], np.bool_)
    proposals = np.zeros(num_bins + 1, np.int64)
    hits = np.zeros(num_bins + 1, np.int64)
    for k in range(best.shape[0]):
        g = best[k]
        if g == -2:
            continue
        b = bins[k]
        if g >= 0:
            if not keep[g]:
                continue
            if not recalled[g]:
                recalled[g] = True
                hits[b] += 1
        proposals[b] += 1
    return proposals, hits
