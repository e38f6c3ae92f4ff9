"""Plain reference of the official WIDER FACE evaluation, and synthetic predictions.

Written line by line from the MATLAB ``eval_tools`` (``read_pred.m``, ``norm_score.m``,
``evaluation.m`` with ``image_evaluation``, ``image_pr_info``, ``dataset_pr_info`` and
``boxoverlap``, and ``plot/VOCap.m``) in the style of the common Python ports: nested lists like
MATLAB's cells, a Python loop per image, per prediction and per threshold, an IoU vector per
prediction and its argmax. It reads the ``.mat`` files itself, so it also checks
:func:`hambox_core.evaluation.widerface.load_ground_truth`. Nothing here imports the code under
test except in :func:`synthetic_predictions`, which only builds inputs.

MATLAB semantics kept on purpose (see the module docstring of
:mod:`hambox_core.evaluation.widerface`): per-image stable descending sort; ``max_score`` and
``min_score`` start at ``realmin('single')`` and ``realmax('single')``, which makes them and the
normalised scores single precision; ``max`` takes the first index on ties; ``VOCap``'s running
maximum ignores NaN. The one deliberate departure of the library (every score equal: every
detection counts at every threshold, instead of MATLAB's 0/0) is mirrored here.
"""

from __future__ import annotations

import math
import os

import numpy as np

__all__ = [
    "evaluate_reference",
    "load_gt_reference",
    "preds_to_cells",
    "read_pred_reference",
    "synthetic_predictions",
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
                if den > 0:
                    # (double - single) / single: the double is rounded to single first
                    b[k, 4] = float(np.float32(np.float32(b[k, 4]) - min_score) / den)
                else:
                    b[k, 4] = 1.0  # the library's documented choice for equal scores
            row.append(b)
        out.append(row)
    return out


def boxoverlap(a, b):
    """``boxoverlap.m``: IoU of each row of ``a`` (xyxy) with ``b`` (xyxy), "+1" pixels."""
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


def image_evaluation(pred_info, gt_bbx, ignore, iou_thresh):
    pred_recall = np.zeros(pred_info.shape[0])
    recall_list = np.zeros(gt_bbx.shape[0])
    proposal_list = np.ones(pred_info.shape[0])
    pred_info = pred_info.copy()
    gt_bbx = gt_bbx.copy()
    pred_info[:, 2] = pred_info[:, 0] + pred_info[:, 2]
    pred_info[:, 3] = pred_info[:, 1] + pred_info[:, 3]
    gt_bbx[:, 2] = gt_bbx[:, 0] + gt_bbx[:, 2]
    gt_bbx[:, 3] = gt_bbx[:, 1] + gt_bbx[:, 3]
    for h in range(pred_info.shape[0]):
        overlap_list = boxoverlap(gt_bbx, pred_info[h, :4])
        idx = int(np.argmax(overlap_list))  # first index of the maximum, like MATLAB's max
        max_overlap = overlap_list[idx]
        if max_overlap >= iou_thresh:
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


def voc_ap_reference(rec, prec):
    """``VOCap.m`` with MATLAB's NaN-ignoring ``max``."""
    mrec = [0.0, *[float(v) for v in rec], 1.0]
    mpre = [0.0, *[float(v) for v in prec], 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        a, b = mpre[i], mpre[i + 1]
        if math.isnan(a):
            mpre[i] = b
        elif not math.isnan(b):
            mpre[i] = max(a, b)
    ap = 0.0
    for i in range(1, len(mrec)):
        if mrec[i] != mrec[i - 1]:
            ap += (mrec[i] - mrec[i - 1]) * mpre[i]
    return ap


def evaluate_reference(pred_list, gt, setting, iou_thresh=0.5, thresh_num=1000):
    """``evaluation.m`` for one setting: ``(ap, pr_curve (T, 2), org_pr_curve (T, 2))``.

    ``pred_list`` as returned by :func:`read_pred_reference` or :func:`preds_to_cells` (not yet
    normalised). ``org_pr_curve`` holds the summed ``[proposals, true positives]``.
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
            pred_recall, proposal_list = image_evaluation(pred_info, gt_bbx, ignore, iou_thresh)
            org_pr_curve += image_pr_info(thresh_num, pred_info, proposal_list, pred_recall)
    pr_curve = np.zeros((thresh_num, 2))
    with np.errstate(all="ignore"):
        for t in range(thresh_num):
            pr_curve[t, 0] = org_pr_curve[t, 1] / org_pr_curve[t, 0]
            pr_curve[t, 1] = org_pr_curve[t, 1] / count_face
    ap = voc_ap_reference(pr_curve[:, 1], pr_curve[:, 0])
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
