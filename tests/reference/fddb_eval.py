"""Plain reference of the FDDB evaluation (discrete and continuous ROC).

Follows ``evaluate.cpp`` / ``Matching.cpp`` / ``Results.cpp`` of the FDDB tool literally where
it can: every region is drawn into a full image-sized mask (a loop over every pixel of the
image), overlaps are pixel counts of ``mask_a & mask_d`` and ``mask_a | mask_d``, each image is
evaluated at each of its distinct scores by an exhaustive search for the maximum-weight
matching (all injections of faces into detections: small cases only, independent of scipy), and
the per-image results are merged with the original's ``Results::merge`` walk over ascending
thresholds. The pixel rule for ellipses is the library's documented choice (pixel centre inside
the ellipse with rounded centre, truncated axes and a whole-degree angle), re-implemented here
per pixel.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["fddb_reference"]


def _round_f32(v):
    return int(np.rint(np.float32(v)))


def ellipse_mask(ell, hw):
    ra, rb, theta, cx, cy = ell
    a, b = int(ra), int(rb)
    ccx, ccy = _round_f32(cx), _round_f32(cy)
    deg = round(180.0 - (math.pi - theta) * 180.0 / math.pi) % 360
    c = {0: 1.0, 90: 0.0, 180: -1.0, 270: 0.0}.get(deg, math.cos(math.radians(deg)))
    s = {0: 0.0, 90: 1.0, 180: 0.0, 270: -1.0}.get(deg, math.sin(math.radians(deg)))
    h, w = hw
    m = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            dx, dy = x - ccx, y - ccy
            u = dx * c + dy * s
            v = -dx * s + dy * c
            m[y, x] = (u * b) ** 2 + (v * a) ** 2 <= float(a * b) ** 2 * (1.0 + 1e-12)
    return m


def rect_mask(det, hw):
    x, y, w, h = det[:4]
    xa, ya, xb, yb = _round_f32(x), _round_f32(y), _round_f32(x + w), _round_f32(y + h)
    m = np.zeros(hw, bool)
    for yy in range(min(ya, yb), max(ya, yb) + 1):
        for xx in range(min(xa, xb), max(xa, xb) + 1):
            if 0 <= yy < hw[0] and 0 <= xx < hw[1]:
                m[yy, xx] = True
    return m


def _ratio(ma, md):
    inter = np.count_nonzero(ma & md)
    union = np.count_nonzero(ma | md)
    return inter / union if union else 0.0


def _best_matching(w):
    """Maximum total weight over all matchings (exhaustive); returns the matched weights."""
    g, d = w.shape
    best, best_pairs = -1.0, []
    for k in range(min(g, d), -1, -1):
        for faces in itertools.combinations(range(g), k):
            for dets in itertools.permutations(range(d), k):
                total = sum(w[f, e] for f, e in zip(faces, dets, strict=True))
                if total > best + 1e-12:
                    best = total
                    best_pairs = [w[f, e] for f, e in zip(faces, dets, strict=True)]
    return [p for p in best_pairs if p > 0]


def _image_results(ells, dets, hw):
    n_annot = len(ells)
    if len(dets) == 0:
        return [(math.inf, n_annot, 0.0, 0.0, 0)]
    a_masks = [ellipse_mask(e, hw) for e in ells]
    d_masks = [rect_mask(d, hw) for d in dets]
    ious = np.array([[_ratio(ma, md) for md in d_masks] for ma in a_masks]).reshape(
        n_annot, len(dets)
    )
    scores = np.array([d[4] for d in dets])
    out = []
    for thr in sorted(set(scores.tolist())):
        valid = scores >= thr
        pairs = _best_matching(ious[:, valid])
        tp_cont = sum(pairs)
        tp_disc = sum(1 for p in pairs if p > 0.5)
        out.append((thr, n_annot, tp_disc, tp_cont, int(valid.sum()) - tp_disc))
    return out


def _merge(rv1, rv2):
    """``Results::merge`` of the original (lists ascending by threshold)."""
    merged = []
    n1, n2 = len(rv1), len(rv2)
    if n1:
        n_annot1 = rv1[0][1]
        n_annot2 = rv2[0][1] if n2 else 0
        i1 = i2 = 0
        while i1 < n1:
            r1 = rv1[i1]
            if i2 < n2:
                r2 = rv2[i2]
                merged.append(
                    (min(r1[0], r2[0]), r1[1] + r2[1], r1[2] + r2[2], r1[3] + r2[3], r1[4] + r2[4])
                )
                if r1[0] < r2[0]:
                    i1 += 1
                elif r1[0] == r2[0]:
                    i1 += 1
                    i2 += 1
                else:
                    i2 += 1
            else:
                while i1 < n1:
                    r1 = rv1[i1]
                    merged.append((r1[0], r1[1] + n_annot2, r1[2], r1[3], r1[4]))
                    i1 += 1
        while i2 < n2:
            r2 = rv2[i2]
            merged.append((r2[0], r2[1] + n_annot1, r2[2], r2[3], r2[4]))
            i2 += 1
    else:
        merged = list(rv2)
    return merged


def fddb_reference(detections, annotations, image_sizes):
    """Rows ``(threshold, N, tp_disc, tp_cont, fp)`` by decreasing threshold, without the
    original's final ``DBL_MAX`` row (which the library leaves out, see its docstring)."""
    cum = []
    for name, ells in annotations.items():
        dets = [list(d) for d in np.asarray(detections.get(name, np.zeros((0, 5)))).reshape(-1, 5)]
        res = _image_results(
            [list(e) for e in np.asarray(ells).reshape(-1, 5)], dets, image_sizes[name]
        )
        cum = _merge(cum, res)
    return [r for r in cum[::-1] if r[0] != math.inf]
