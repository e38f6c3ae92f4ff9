"""Plain reference of the official WIDER FACE evaluation, and synthetic predictions.

Written line by line from the MATLAB ``eval_tools`` (``read_pred.m``, ``norm_score.m``,
``evaluation.m`` with ``image_evaluation``, ``image_pr_info``, ``dataset_pr_info``,
``boxoverlap.m`` and ``plot/VOCap.m``) in the style of the common Python ports: nested lists
like MATLAB's cells, a Python loop per image, per prediction and per threshold, an overlap
vector per prediction and its ``max``. It reads the ``.mat`` files itself, so it also checks
:func:`hambox_core.evaluation.widerface.load_ground_truth`. Nothing here imports the code under
test except in :func:`synthetic_predictions`, which only builds inputs.

Two semantics, as in the library:

* ``"official"`` — what MATLAB computes on the official files, whose ``face_bbx_list`` is
  int32. Each MATLAB operation that involves an int32 value is written with an explicit helper
  (:func:`m_plus`, :func:`m_minus`, :func:`m_times`, :func:`m_rdivide`, :func:`m_max`,
  :func:`m_min`) that follows MATLAB's documented rule: compute in double, then convert to
  int32 with :func:`to_int32` (round half away from zero, saturate, NaN -> 0). int32 values are
  held in int64 arrays (never numpy int32, which would wrap).
* ``"float"`` — every operation in double, as the Python ports (and MATLAB on double boxes).

MATLAB semantics kept on purpose (see the module docstring of
:mod:`hambox_core.evaluation.widerface`): per-image stable descending sort; ``max_score`` and
``min_score`` start at ``realmin('single')`` and ``realmax('single')``, which makes them and the
normalised scores single precision (0/0 = NaN when every score is equal); ``max`` takes the
first index on ties; ``VOCap``'s running maximum ignores NaN; its sum runs left to right.
"""

from __future__ import annotations

import math
import os

import numpy as np

__all__ = [
    "PREDICTION_SETS",
    "boxoverlap",
    "boxoverlap_official",
    "edge_ground_truth",
    "evaluate_reference",
    "gt_to_cells",
    "load_gt_reference",
    "m_max",
    "m_min",
    "m_minus",
    "m_plus",
    "m_rdivide",
    "m_times",
    "mround",
    "prediction_set",
    "predictions_fingerprint",
    "preds_to_cells",
    "read_pred_reference",
    "synthetic_predictions",
    "to_int32",
    "voc_ap_reference",
]

REALMIN_SINGLE = np.float32(2.0**-126)
REALMAX_SINGLE = np.float32(np.finfo(np.float32).max)


def load_gt_reference(gt_dir, settings=("easy", "medium", "hard"), events=None):
    """MATLAB-like cells: ``event_list``, ``file_list``, ``face_bbx_list``, ``gt_list[setting]``.

    ``events`` (indices) restricts to those events, keeping their order.
    """
    from scipy.io import loadmat

    base = loadmat(os.path.join(gt_dir, "wider_face_val.mat"))
    n_events = base["event_list"].shape[0]
    keep_events = list(range(n_events)) if events is None else sorted(events)
    out = {"event_list": [], "file_list": [], "face_bbx_list": [], "gt_list": {}}
    for i in keep_events:
        out["event_list"].append(str(base["event_list"][i][0][0]))
        files = base["file_list"][i][0]
        out["file_list"].append([str(files[j][0][0]) for j in range(files.shape[0])])
        boxes = base["face_bbx_list"][i][0]
        out["face_bbx_list"].append(
            [np.array(boxes[j][0], dtype=np.float64).reshape(-1, 4) for j in range(boxes.shape[0])]
        )
    for s in settings:
        m = loadmat(os.path.join(gt_dir, f"wider_{s}_val.mat"))
        cells = []
        for i in keep_events:
            g = m["gt_list"][i][0]
            cells.append([np.array(g[j][0], dtype=np.int64).reshape(-1) for j in range(g.shape[0])])
        out["gt_list"][s] = cells
    return out


def gt_to_cells(gt):
    """An in-memory :class:`~hambox_core.evaluation.widerface.WiderGroundTruth` as the cells
    :func:`load_gt_reference` returns (read off its fields, no code under test run)."""
    out = {"event_list": list(gt.events), "file_list": [], "face_bbx_list": [], "gt_list": {}}
    images = [[] for _ in gt.events]
    for i, e in enumerate(gt.image_events.tolist()):
        images[e].append(i)
    for imgs in images:
        out["file_list"].append([gt.image_names[i] for i in imgs])
        out["face_bbx_list"].append(
            [np.array(gt.boxes[gt.offsets[i] : gt.offsets[i + 1]], dtype=np.float64) for i in imgs]
        )
    for s, keep in gt.keep.items():
        out["gt_list"][s] = [
            [np.flatnonzero(keep[gt.offsets[i] : gt.offsets[i + 1]]) + 1 for i in imgs]
            for imgs in images
        ]
    return out


def read_pred_reference(pred_dir, gt):
    """``read_pred.m``: per event, per image, the sorted ``(N, 5)`` rows, or None if missing."""
    pred_list = []
    for event, files in zip(gt["event_list"], gt["file_list"], strict=True):
        bbx_list = []
        for name in files:
            path = os.path.join(pred_dir, event, name + ".txt")
            if not os.path.exists(path):
                bbx_list.append(None)
                continue
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().split("\n")
            n = int(lines[1])
            rows = []
            for k in range(n):
                raw = [float(v) for v in lines[k + 2].split()]
                rows.append(raw[:5])
            bbx_list.append(_sort_desc(np.array(rows, dtype=np.float64).reshape(n, 5)))
        pred_list.append(bbx_list)
    return pred_list


def _sort_desc(bbx):
    # [~, s_index] = sort(bbx(:,5), 'descend'): stable, ties keep file order
    order = sorted(range(bbx.shape[0]), key=lambda k: -bbx[k, 4])
    return bbx[order]


def preds_to_cells(preds, gt):
    """An in-memory ``{(event, stem): rows}`` mapping as ``read_pred.m``'s cells."""
    out = []
    for event, files in zip(gt["event_list"], gt["file_list"], strict=True):
        row = []
        for name in files:
            a = preds.get((event, name))
            row.append(None if a is None else _sort_desc(np.asarray(a, np.float64).reshape(-1, 5)))
        out.append(row)
    return out


def norm_score_reference(pred_list):
    """``norm_score.m`` with MATLAB's single/double mixing (max/min and results in single)."""
    max_score = REALMIN_SINGLE
    min_score = REALMAX_SINGLE
    for bbx_list in pred_list:
        for bbx in bbx_list:
            if bbx is None or bbx.shape[0] == 0:
                continue
            # max(single, double) -> single
            max_score = np.float32(max(float(max_score), float(np.max(bbx[:, 4]))))
            min_score = np.float32(min(float(min_score), float(np.min(bbx[:, 4]))))
    with np.errstate(over="ignore"):
        den = np.float32(max_score - min_score)
    out = []
    for bbx_list in pred_list:
        row = []
        for bbx in bbx_list:
            if bbx is None or bbx.shape[0] == 0:
                row.append(bbx)
                continue
            b = bbx.copy()
            for k in range(b.shape[0]):
                # (double - single) / single: the double is rounded to single first; when every
                # score is equal this is 0/0 = NaN, which passes no threshold
                with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                    b[k, 4] = float(np.float32(np.float32(b[k, 4]) - min_score) / den)
            row.append(b)
        out.append(row)
    return out


# --------------------------------------------------------------------------------------------
# MATLAB int32 arithmetic
# --------------------------------------------------------------------------------------------

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def mround(x):
    """MATLAB's ``round``: to the nearest integer, halves away from zero (elementwise)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    r = np.floor(a)
    with np.errstate(invalid="ignore"):
        r = r + ((a - r) >= 0.5)  # a - floor(a) is exact; inf - inf = NaN adds nothing
    return np.copysign(r, x)


def to_int32(x):
    """MATLAB's ``int32(x)`` of doubles, returned as int64 values: round, saturate, NaN -> 0."""
    x = np.asarray(x, dtype=np.float64)
    r = np.clip(mround(np.where(np.isnan(x), 0.0, x)), INT32_MIN, INT32_MAX)
    return r.astype(np.int64)


def _as_double(v):
    return np.asarray(v, dtype=np.float64)


def m_plus(a, b):
    """``a + b`` where at least one operand is int32: double sum, then int32."""
    return to_int32(_as_double(a) + _as_double(b))


def m_minus(a, b):
    return to_int32(_as_double(a) - _as_double(b))


def m_times(a, b):
    return to_int32(_as_double(a) * _as_double(b))


def m_rdivide(a, b):
    """``a ./ b`` of int32 values: the rounded quotient; x/0 saturates, 0/0 is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return to_int32(_as_double(a) / _as_double(b))


def m_max(a, b):
    """``max(a, b)`` of an int32 array and a double: an int32 result."""
    return to_int32(np.maximum(_as_double(a), _as_double(b)))


def m_min(a, b):
    return to_int32(np.minimum(_as_double(a), _as_double(b)))


def boxoverlap_official(a, b):
    """``boxoverlap.m`` with ``a`` the int32 faces (int64 values, corners) and ``b`` a double
    detection (corners): int32 overlaps (int64 values)."""
    x1 = m_max(a[:, 0], b[0])  # x1 = max(a(:,1), b(1));
    y1 = m_max(a[:, 1], b[1])
    x2 = m_min(a[:, 2], b[2])  # x2 = min(a(:,3), b(3));
    y2 = m_min(a[:, 3], b[3])
    w = m_plus(m_minus(x2, x1), 1)  # w = x2-x1+1;
    h = m_plus(m_minus(y2, y1), 1)
    inter = m_times(w, h)  # inter = w.*h;
    aarea = m_times(m_plus(m_minus(a[:, 2], a[:, 0]), 1), m_plus(m_minus(a[:, 3], a[:, 1]), 1))
    barea = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)  # double
    o = m_rdivide(inter, m_minus(m_plus(aarea, barea), inter))  # o = inter ./ (aarea+barea-inter);
    o[w <= 0] = 0
    o[h <= 0] = 0
    return o


def boxoverlap(a, b):
    """``boxoverlap.m`` in double: IoU of each row of ``a`` (xyxy) with ``b`` (xyxy), "+1"."""
    x1 = np.maximum(a[:, 0], b[0])
    y1 = np.maximum(a[:, 1], b[1])
    x2 = np.minimum(a[:, 2], b[2])
    y2 = np.minimum(a[:, 3], b[3])
    w = x2 - x1 + 1
    h = y2 - y1 + 1
    inter = w * h
    aarea = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    barea = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    with np.errstate(all="ignore"):
        o = inter / (aarea + barea - inter)
    o[w <= 0] = 0
    o[h <= 0] = 0
    return o


def image_evaluation(pred_info, gt_bbx, ignore, iou_thresh, semantics="official"):
    pred_recall = np.zeros(pred_info.shape[0])
    recall_list = np.zeros(gt_bbx.shape[0])
    proposal_list = np.ones(pred_info.shape[0])
    pred_info = pred_info.copy()
    pred_info[:, 2] = pred_info[:, 0] + pred_info[:, 2]  # double
    pred_info[:, 3] = pred_info[:, 1] + pred_info[:, 3]
    if semantics == "official":
        gt_bbx = to_int32(gt_bbx)  # the .mat boxes are int32
        gt_bbx[:, 2] = m_plus(
            gt_bbx[:, 0], gt_bbx[:, 2]
        )  # gt_bbx(:,3) = gt_bbx(:,1) + gt_bbx(:,3);
        gt_bbx[:, 3] = m_plus(gt_bbx[:, 1], gt_bbx[:, 3])
        overlap = boxoverlap_official
    else:
        gt_bbx = np.asarray(gt_bbx, dtype=np.float64).copy()
        gt_bbx[:, 2] = gt_bbx[:, 0] + gt_bbx[:, 2]
        gt_bbx[:, 3] = gt_bbx[:, 1] + gt_bbx[:, 3]
        overlap = boxoverlap
    for h in range(pred_info.shape[0]):
        overlap_list = overlap(gt_bbx, pred_info[h, :4])
        idx = int(np.argmax(overlap_list))  # first index of the maximum, like MATLAB's max
        max_overlap = overlap_list[idx]
        if float(max_overlap) >= iou_thresh:  # int32 >= double compares the values
            if ignore[idx] == 0:
                recall_list[idx] = -1
                proposal_list[h] = -1
            elif recall_list[idx] == 0:
                recall_list[idx] = 1
        pred_recall[h] = len(np.where(recall_list == 1)[0])
    return pred_recall, proposal_list


def image_pr_info(thresh_num, pred_info, proposal_list, pred_recall):
    img_pr_info = np.zeros((thresh_num, 2))
    for t in range(1, thresh_num + 1):
        thresh = 1 - t / thresh_num
        r = np.where(pred_info[:, 4] >= thresh)[0]
        if len(r) == 0:
            img_pr_info[t - 1, 1] = 0
            img_pr_info[t - 1, 0] = 0
        else:
            r_index = r[-1]
            img_pr_info[t - 1, 0] = len(np.where(proposal_list[: r_index + 1] == 1)[0])
            img_pr_info[t - 1, 1] = pred_recall[r_index]
    return img_pr_info


def voc_ap_reference(rec, prec, semantics="official"):
    """``VOCap.m`` with MATLAB's NaN-ignoring ``max``; its sum left to right for the official
    semantics, and as the Python ports write it (``np.sum`` of the terms, pairwise) for
    "float"."""
    mrec = [0.0, *[float(v) for v in rec], 1.0]
    mpre = [0.0, *[float(v) for v in prec], 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        a, b = mpre[i], mpre[i + 1]
        if math.isnan(a):
            mpre[i] = b
        elif not math.isnan(b):
            mpre[i] = max(a, b)
    if semantics == "float":
        r, p = np.asarray(mrec), np.asarray(mpre)
        i = np.where(r[1:] != r[:-1])[0]
        return float(np.sum((r[i + 1] - r[i]) * p[i + 1]))
    ap = 0.0
    for i in range(1, len(mrec)):
        if mrec[i] != mrec[i - 1]:
            ap += (mrec[i] - mrec[i - 1]) * mpre[i]
    return ap


def evaluate_reference(
    pred_list, gt, setting, iou_thresh=0.5, thresh_num=1000, semantics="official"
):
    """``evaluation.m`` for one setting: ``(ap, pr_curve (T, 2), org_pr_curve (T, 2))``.

    ``pred_list`` as returned by :func:`read_pred_reference` or :func:`preds_to_cells` (not yet
    normalised). ``org_pr_curve`` holds the summed ``[proposals, true positives]``;
    ``pr_curve`` ``[precision, recall]``. ``semantics`` "official" (int32 boxes, as the
    official files) or "float".
    """
    norm_pred_list = norm_score_reference(pred_list)
    org_pr_curve = np.zeros((thresh_num, 2))
    count_face = 0
    for i in range(len(gt["event_list"])):
        gt_bbx_list = gt["face_bbx_list"][i]
        sub_gt_list = gt["gt_list"][setting][i]
        for j in range(len(gt["file_list"][i])):
            gt_bbx = gt_bbx_list[j]
            pred_info = norm_pred_list[i][j]
            keep_index = sub_gt_list[j]
            count_face += len(keep_index)
            if gt_bbx.shape[0] == 0 or pred_info is None or pred_info.shape[0] == 0:
                continue
            ignore = np.zeros(gt_bbx.shape[0])
            if len(keep_index):
                ignore[keep_index - 1] = 1
            pred_recall, proposal_list = image_evaluation(
                pred_info, gt_bbx, ignore, iou_thresh, semantics
            )
            org_pr_curve += image_pr_info(thresh_num, pred_info, proposal_list, pred_recall)
    pr_curve = np.zeros((thresh_num, 2))
    with np.errstate(all="ignore"):
        for t in range(thresh_num):
            pr_curve[t, 0] = org_pr_curve[t, 1] / org_pr_curve[t, 0]
            pr_curve[t, 1] = org_pr_curve[t, 1] / count_face
    ap = voc_ap_reference(pr_curve[:, 1], pr_curve[:, 0], semantics)
    return ap, pr_curve, org_pr_curve


# --------------------------------------------------------------------------------------------
# synthetic predictions
# --------------------------------------------------------------------------------------------


def synthetic_predictions(
    gt,
    seed=0,
    per_image=30,
    *,
    score_mode="unit",
    drop_images=0.0,
    decimals=None,
):
    """Detector-like predictions for a :class:`~hambox_core.evaluation.widerface.WiderGroundTruth`.

    Per image: jittered copies of most faces (kept and ignored alike, so some detections land
    on ignored faces), a few duplicates, then random false positives up to ``per_image`` rows,
    all shuffled (files are not sorted by score). ``score_mode`` "unit" gives scores in [0, 1];
    "logit" maps them to roughly [-6, 6] (outside [0, 1]); "negative" makes every score
    negative. ``decimals`` rounds the scores (ties, and scores sitting on thresholds);
    ``drop_images`` leaves that fraction of images out (missing files).
    """
    rng = np.random.default_rng(seed)
    preds = {}
    for i, key in enumerate(gt.keys()):
        if drop_images and rng.random() < drop_images:
            continue
        faces = gt.image_boxes(i)
        rows = []
        for f in faces:
            if rng.random() < 0.8:
                x, y, w, h = f
                s = max(abs(w), abs(h), 1.0)
                jit = rng.normal(0, 0.08 * s, 4)
                rows.append(
                    [
                        x + jit[0],
                        y + jit[1],
                        max(w + jit[2], 0.0),
                        max(h + jit[3], 0.0),
                        rng.beta(5, 2),
                    ]
                )
                if rng.random() < 0.1:
                    jit = rng.normal(0, 0.15 * s, 4)
                    rows.append(
                        [
                            x + jit[0],
                            y + jit[1],
                            max(w + jit[2], 0.0),
                            max(h + jit[3], 0.0),
                            rng.beta(2, 3),
                        ]
                    )
        extent = float(np.max(faces[:, :2] + faces[:, 2:], initial=300.0)) + 50.0
        while len(rows) < per_image:
            side = float(np.exp(rng.uniform(np.log(4), np.log(300))))
            rows.append(
                [
                    rng.uniform(-20, extent),
                    rng.uniform(-20, extent),
                    side,
                    side * rng.uniform(0.8, 1.5),
                    rng.beta(1.2, 5),
                ]
            )
        arr = np.asarray(rows[: max(per_image, len(rows))], dtype=np.float64)
        if rng.random() < 0.02 and arr.shape[0]:
            arr[rng.integers(arr.shape[0]), 2] = -1.0  # the official tool accepts it
        if score_mode == "logit":
            arr[:, 4] = np.log(arr[:, 4] + 1e-3) - np.log1p(1e-3 - arr[:, 4])
        elif score_mode == "negative":
            arr[:, 4] = arr[:, 4] - 2.0
        if decimals is not None:
            arr[:, 4] = np.round(arr[:, 4], decimals)
        rng.shuffle(arr, axis=0)
        preds[key] = arr
    return preds


# --------------------------------------------------------------------------------------------
# the prediction sets and the synthetic ground truth compared with the official tool
# --------------------------------------------------------------------------------------------

#: The prediction sets run through the official tool (under Octave), per ground truth:
#: ``"real"`` is the official validation ground truth, ``"edge"`` :func:`edge_ground_truth`.
PREDICTION_SETS = {
    "real": ("detector", "half", "negative"),
    "edge": ("detector", "half", "negative", "equal", "none"),
}

_INT32_NEAR_MAX = 2147483000


def edge_ground_truth():
    """A small ground truth built to sit on the int32 edges of the official arithmetic.

    Deterministic (hand-written boxes, then seeded random crowds). Holds: two overlapping
    faces where the first with rounded IoU 1 is not the best (both orders, kept and ignored),
    the official file's degenerate boxes (``0 0 0 0``, a negative and a zero width), an image
    without faces, faces whose corner ``x + w`` saturates at ``intmax`` or ``intmin``, a face
    whose area saturates, and crowds of random small overlapping faces. Keep lists nest
    (easy within medium within hard, like the official ones); attribute labels are random.
    """
    from hambox_core.evaluation.widerface import WiderGroundTruth

    images = [
        ("0--Edge", "first_face", [[0, 0, 19, 19], [2, 0, 19, 19], [60, 60, 9, 9]]),
        ("0--Edge", "best_face_first", [[2, 0, 19, 19], [0, 0, 19, 19], [100, 5, 30, 30]]),
        ("0--Edge", "degenerate", [[0, 0, 0, 0], [10, 10, -5, 8], [30, 30, 0, 10], [50, 50, 7, 7]]),
        ("0--Edge", "no_faces", []),
        (
            "1--Saturation",
            "near_intmax",
            [[_INT32_NEAR_MAX, 100, 1000, 50], [_INT32_NEAR_MAX - 40, 90, 20, 20]],
        ),
        ("1--Saturation", "near_intmin", [[-_INT32_NEAR_MAX, 0, -1000, 20], [-60, -60, 30, 30]]),
        ("1--Saturation", "huge_area", [[0, 0, 60000, 60000], [10, 10, 46340, 46340]]),
    ]
    rng = np.random.default_rng(1234)
    for k in range(6):
        n = int(rng.integers(3, 25))
        xy = rng.integers(-5, 200, size=(n, 2))
        wh = rng.integers(0, 40, size=(n, 2))
        boxes = np.concatenate([xy, wh], axis=1)
        # some faces copied with a one-pixel shift: pairs with overlaps just around 0.5
        for j in range(0, n, 4):
            boxes[j + 1 if j + 1 < n else j] = boxes[j] + [int(rng.integers(1, 6)), 0, 0, 0]
        images.append(("2--Crowd", f"crowd_{k}", boxes.tolist()))
    keys = [(e, n) for e, n, _ in images]
    boxes = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for *_, b in images]
    keep = {"easy": [], "medium": [], "hard": []}
    labels = {a: [] for a in ("blur", "occlusion", "pose")}
    for b in boxes:
        u = rng.random(b.shape[0])
        keep["hard"].append(u < 0.85)
        keep["medium"].append(u < 0.6)
        keep["easy"].append(u < 0.3)
        for a, n in (("blur", 3), ("occlusion", 3), ("pose", 2)):
            labels[a].append(rng.integers(0, n, size=b.shape[0]))
    return WiderGroundTruth.from_images(keys, boxes, keep, attributes=labels)


def _round_to(a, step):
    return np.round(a / step) * step


def prediction_set(gt, kind, seed=0):
    """One deterministic prediction set for ``gt``: ``{(event, stem): (N, 5) rows}``.

    ``kind``:

    * ``"detector"`` — jittered copies of 85 % of the faces (kept and ignored alike), some
      near-duplicates, random false positives; coordinates rounded to 0.1 px and scores to 6
      decimals, as detectors write them; rows unsorted; 2 % of the images missing, 2 % with a
      count of 0.
    * ``"half"`` — coordinates and sizes on the half-pixel lattice (``k / 2``: the int32
      rounding of ``x`` and ``x + w`` goes away from zero), logit scores rounded to 2 decimals
      (outside [0, 1], many ties), exact duplicate rows; 5 % missing, 5 % empty.
    * ``"negative"`` — every score negative (the ``realmin('single')`` floor of the
      normalisation), coordinates as unrounded doubles, more false positives.
    * ``"equal"`` — every detection scored 0.5: the official normalisation divides 0 by 0.
    * ``"none"`` — no prediction file at all.
    """
    rng = np.random.default_rng(seed)
    preds = {}
    if kind == "none":
        return preds
    missing, empty = {"detector": (0.02, 0.02), "half": (0.05, 0.05)}.get(kind, (0.0, 0.0))
    for i, key in enumerate(gt.keys()):
        u = rng.random()
        if u < missing:
            continue
        if u < missing + empty:
            preds[key] = np.zeros((0, 5))
            continue
        faces = gt.image_boxes(i)
        rows = []
        for x, y, w, h in faces.tolist():
            if rng.random() >= 0.85:
                continue
            s = max(abs(w), abs(h), 2.0)
            for spread, score in ((0.08, rng.beta(5, 2)), (0.2, rng.beta(2, 3))):
                jit = rng.normal(0.0, spread * s, 4)
                rows.append([x + jit[0], y + jit[1], w + jit[2], h + jit[3], score])
                if rng.random() >= 0.2:
                    break
        extent = float(np.max(np.abs(faces[:, :2]) + np.abs(faces[:, 2:]), initial=300.0))
        extent = min(extent, 5000.0)
        for _ in range(int(rng.integers(0, 25 if kind == "negative" else 10))):
            side = float(np.exp(rng.uniform(np.log(3), np.log(300))))
            rows.append(
                [
                    rng.uniform(-20, extent),
                    rng.uniform(-20, extent),
                    side,
                    side * rng.uniform(0.8, 1.4),
                    rng.beta(1.2, 5),
                ]
            )
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
        if kind == "detector":
            arr[:, :4] = np.round(arr[:, :4], 1)
            arr[:, 4] = np.round(arr[:, 4], 6)
        elif kind == "half":
            arr[:, :4] = _round_to(arr[:, :4], 0.5)
            p = np.clip(arr[:, 4], 1e-3, 1 - 1e-3)
            arr[:, 4] = np.round(np.log(p) - np.log1p(-p), 2)
            if arr.shape[0] and rng.random() < 0.5:
                arr = np.concatenate([arr, arr[rng.integers(0, arr.shape[0], 2)]])
        elif kind == "negative":
            arr[:, 4] = -10.0 * (1.0 - arr[:, 4])
        elif kind == "equal":
            arr[:, 4] = 0.5
        else:
            raise ValueError(f"unknown prediction set {kind!r}")
        preds[key] = arr[rng.permutation(arr.shape[0])]
    return preds


def predictions_fingerprint(preds):
    """SHA-256 of a prediction mapping (keys in order, every float's bytes): a check that
    :func:`prediction_set` still draws what the official tool was run on."""
    import hashlib

    h = hashlib.sha256()
    for key in sorted(preds):
        a = np.ascontiguousarray(preds[key], dtype="<f8")
        h.update(("/".join(key) + f":{a.shape[0]};").encode())
        h.update(a.tobytes())
    return h.hexdigest()
