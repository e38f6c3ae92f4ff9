"""Plain reference of the FDDB evaluation (discrete and continuous ROC).

Follows ``evaluate.cpp`` / ``Matching.cpp`` / ``Results.cpp`` of the FDDB tool literally where
it can: every region is drawn into a full image-sized mask (OpenCV's ``cv2.ellipse`` on the
whole image for the official rasterisation, a loop over every pixel of the image for the exact
rule and for rectangles), overlaps are pixel counts of ``mask_a & mask_d`` and
``mask_a | mask_d``, each image is evaluated at each of its distinct scores, either by the
literal ``Matching::runHungarian`` construction (faces and detections without overlap left out,
transposed when there are more faces than detections) handed to Gerkey's solver, or by an
exhaustive search for the maximum-weight matching (all injections of faces into detections:
small cases only, independent of scipy), and the per-image results are merged with the
original's ``Results::merge`` walk over ascending thresholds, including the ``DBL_MAX`` row of
images without detections.
"""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np

from hambox_core.evaluation.hungarian import gerkey_assignment

__all__ = ["FIXTURE_SETS", "fddb_reference", "synthetic_set"]


def _round_f32(v):
    return int(np.rint(np.float32(v)))


def ellipse_mask(ell, hw, rasterization="exact"):
    ra, rb, theta, cx, cy = ell[:5]
    a, b = int(ra), int(rb)
    ccx, ccy = _round_f32(cx), _round_f32(cy)
    if rasterization == "opencv":
        import cv2

        m = np.zeros(hw, np.uint8)
        angle = (math.pi - theta) * 180 / math.pi  # EllipsesSingleImage::read
        cv2.ellipse(m, (ccx, ccy), (a, b), 180 - angle, 0, 360, 10, -1)  # EllipseR::display
        return m != 0
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


def _run_hungarian(ious, valid):
    """``Matching::runHungarian``: the matched overlaps, in the order the program adds them."""
    n_annot, n_det = ious.shape
    map_i = [i for i in range(n_annot) if sum(ious[i, j] for j in range(n_det) if valid[j]) != 0]
    map_j = [j for j in range(n_det) if valid[j] and sum(ious[:, j]) != 0]
    transpose = len(map_i) > len(map_j)
    if transpose:
        mat = [[ious[map_i[b], map_j[a]] for b in range(len(map_i))] for a in range(len(map_j))]
        shape = (len(map_j), len(map_i))
    else:
        mat = [[ious[map_i[a], map_j[b]] for b in range(len(map_j))] for a in range(len(map_i))]
        shape = (len(map_i), len(map_j))
    assignment = gerkey_assignment(np.array(mat, dtype=np.float64).reshape(shape))
    assert (assignment >= 0).all()  # hungarian_check_feasibility
    pairs = []
    for row in range(shape[0]):
        for col in range(shape[1]):
            if assignment[row] == col and mat[row][col] > 0:
                pairs.append(mat[row][col])
    return pairs


def _image_results(ells, dets, hw, matching, rasterization, detection_format):
    n_annot = len(ells)
    if len(dets) == 0:
        return [(sys.float_info.max, n_annot, 0.0, 0.0, 0)]
    a_masks = [ellipse_mask(e, hw, rasterization) for e in ells]
    if detection_format == "ellipse":
        d_masks = [ellipse_mask(d, hw, rasterization) for d in dets]
    else:
        d_masks = [rect_mask(d, hw) for d in dets]
    ious = np.array([[_ratio(ma, md) for md in d_masks] for ma in a_masks]).reshape(
        n_annot, len(dets)
    )
    scores = np.array([d[-1] for d in dets])
    out = []
    for thr in sorted(set(scores.tolist())):
        valid = scores >= thr
        if matching == "official":
            pairs = _run_hungarian(ious, valid)
        else:
            pairs = _best_matching(ious[:, valid])
        tp_cont = 0.0
        for p in pairs:
            tp_cont += p
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


def fddb_reference(
    detections,
    annotations,
    image_sizes,
    *,
    matching="optimal",
    rasterization="exact",
    detection_format="rectangle",
):
    """Rows ``(threshold, N, tp_disc, tp_cont, fp)`` by decreasing threshold, the program's
    ``DBL_MAX`` row of images without detections included."""
    width = 6 if detection_format == "ellipse" else 5
    cum = []
    for name, ells in annotations.items():
        dets = np.asarray(detections.get(name, np.zeros((0, width))), dtype=np.float64)
        res = _image_results(
            [list(e) for e in np.asarray(ells, dtype=np.float64).reshape(-1, 5)],
            [list(d) for d in dets.reshape(-1, width)],
            image_sizes[name],
            matching,
            rasterization,
            detection_format,
        )
        cum = _merge(cum, res)
    return cum[::-1]


# --------------------------------------------------------------------------------------------
# synthetic FDDB-style sets (inputs of the fixtures of the official program)
# --------------------------------------------------------------------------------------------

FIXTURE_SETS = ("mixed", "ellipses", "crowd", "ties", "none")


def _face(rng, hw, small):
    h, w = hw
    ra = rng.uniform(1.5, 12) if small else rng.uniform(10, 0.6 * max(h, w))
    rb = ra * rng.uniform(0.45, 1.0)
    # centres on the image (a face without a pixel in the image stops the program), large
    # faces near the border cross it
    cx = rng.uniform(0, w - 1)
    cy = rng.uniform(0, h - 1)
    if rng.random() < 0.1:  # a centre on a half pixel: rounding ties
        cx, cy = np.floor(cx) + 0.5, np.floor(cy) + 0.5
    angle = rng.choice([rng.uniform(-np.pi, np.pi), rng.uniform(-0.3, 0.3), np.pi / 2, 0.0])
    return [round(ra, 4), round(rb, 4), round(float(angle), 6), round(cx, 4), round(cy, 4)]


def _box_around(rng, face, jitter):
    ra, rb, _, cx, cy = face
    w = 2 * rb * rng.uniform(1 - jitter, 1 + jitter)
    h = 2 * ra * rng.uniform(1 - jitter, 1 + jitter)
    x = cx - w / 2 + rng.normal(0, jitter * w)
    y = cy - h / 2 + rng.normal(0, jitter * h)
    return [round(x, 2), round(y, 2), round(w, 2), round(h, 2)]


def _ellipse_around(rng, face, jitter):
    ra, rb, angle, cx, cy = face
    return [
        round(ra * rng.uniform(1 - jitter, 1 + jitter), 3),
        round(rb * rng.uniform(1 - jitter, 1 + jitter), 3),
        round(angle + rng.normal(0, 0.3), 5),
        round(cx + rng.normal(0, jitter * ra), 3),
        round(cy + rng.normal(0, jitter * ra), 3),
    ]


def synthetic_set(kind: str, seed: int = 0):
    """``(annotations, detections, image_sizes, detection_format)`` of one fixture set.

    ``kind`` is one of :data:`FIXTURE_SETS`: ``mixed`` (small and large faces, every angle,
    faces crossing the border, jittered and duplicated detections, false positives, scores
    with ties, images without faces or without detections), ``ellipses`` (the same with
    ellipse detections, the program's ``-f 1``), ``crowd`` (many faces and overlapping
    detections per image: non-square matrices where Gerkey's solver stops early), ``ties``
    (few distinct scores) and ``none`` (no detection at all). Values are rounded to a few
    decimals so that the files are short and read back exactly.
    """
    if kind not in FIXTURE_SETS:
        raise ValueError(f"kind must be one of {FIXTURE_SETS}, got {kind!r}")
    rng = np.random.default_rng([seed, FIXTURE_SETS.index(kind)])
    n_images = {"mixed": 60, "ellipses": 40, "crowd": 40, "ties": 30, "none": 6}[kind]
    annotations, detections, sizes = {}, {}, {}
    for k in range(n_images):
        name = f"{kind}/img_{k:03d}"
        hw = (int(rng.integers(40, 480)), int(rng.integers(40, 480)))
        sizes[name] = hw
        n_faces = int(rng.integers(4, 12)) if kind == "crowd" else int(rng.integers(0, 5))
        faces = [_face(rng, hw, small=rng.random() < 0.4) for _ in range(n_faces)]
        annotations[name] = np.array(faces, dtype=np.float64).reshape(-1, 5)
        if kind == "none" or rng.random() < 0.1:
            detections[name] = np.zeros((0, 6 if kind == "ellipses" else 5))
            continue
        rows = []
        for f in faces:
            for _ in range(int(rng.integers(0, 4 if kind == "crowd" else 3))):
                jitter = float(rng.choice([0.05, 0.2, 0.45]))
                if kind == "ellipses":
                    rows.append(_ellipse_around(rng, f, jitter))
                else:
                    rows.append(_box_around(rng, f, jitter))
        for _ in range(int(rng.integers(0, 6))):  # false positives, some off the image
            s = float(rng.uniform(3, 0.5 * min(hw)))
            x, y = float(rng.uniform(-s, hw[1])), float(rng.uniform(-s, hw[0]))
            if kind == "ellipses":
                rows.append([round(s, 3), round(s * 0.8, 3), 0.0, round(x, 3), round(y, 3)])
            else:
                rows.append([round(x, 2), round(y, 2), round(s, 2), round(s, 2)])
        order = rng.permutation(len(rows))
        rows = [rows[i] for i in order]
        if kind == "ties":
            scores = rng.choice([0.25, 0.5, 0.75, 1.0], size=len(rows))
        else:
            scores = rng.random(len(rows))
            scores = np.round(scores, int(rng.choice([1, 2, 6])))
        det = [[*r, float(s)] for r, s in zip(rows, scores.tolist(), strict=True)]
        if det and rng.random() < 0.2:
            det.append(list(det[0]))  # an exact duplicate
        detections[name] = np.array(det, dtype=np.float64).reshape(
            -1, 6 if kind == "ellipses" else 5
        )
    return annotations, detections, sizes, ("ellipse" if kind == "ellipses" else "rectangle")
