"""Dense, loop-based reference of the four matching strategies, written from the paper's
Algorithm 1 and docs/guide/choices.rst without any of the library's pruning.

IoU matrices are dense (A, G) float32 from ``box_iou`` (the IoU convention itself, checked by
hand in test_boxes.py). Thresholds are rounded to float32 before comparing, as the contract says.
"""

from __future__ import annotations

import numpy as np

from hambox_core.boxes import box_ioa, box_iou


def _f32(x):
    return np.float32(x)


def step_one(anchors, gt, pos_thr=0.35, neg_thr=None, gt_ignore=None, ioa_thr=0.5):
    """Labels, matched_gt, quality (anchor IoU) and num_matched of step one."""
    neg_thr = pos_thr if neg_thr is None else neg_thr
    A, G = len(anchors), len(gt)
    labels = np.zeros(A, np.int8)
    matched = np.full(A, -1, np.int64)
    quality = np.zeros(A, np.float32)
    num_matched = np.zeros(G, np.int64)
    iou = box_iou(anchors, gt) if G else np.zeros((A, 0), np.float32)
    if G and A:
        best_g = np.argmax(iou, axis=1)  # first maximum: the lowest face index on ties
        best = iou[np.arange(A), best_g]
        pos = best >= _f32(pos_thr)
        labels[pos] = 1
        labels[~pos & (best >= _f32(neg_thr))] = -1
        matched[pos] = best_g[pos]
        quality[pos] = best[pos]
        num_matched[:] = np.bincount(best_g[pos], minlength=G)
    if gt_ignore is not None and len(gt_ignore) and A:
        covered = (box_ioa(anchors, gt_ignore) >= _f32(ioa_thr)).any(axis=1)
        labels[covered & (labels != 1)] = -1
    return labels, matched, quality, num_matched, iou


def sms(anchors, gt, pos_thr=0.35, neg_thr=None, gt_ignore=None):
    labels, matched, quality, num_matched, _ = step_one(anchors, gt, pos_thr, neg_thr, gt_ignore)
    return labels, matched, np.zeros(len(anchors), bool), quality, num_matched


def dms(anchors, gt, pos_thr=0.35, neg_thr=None, gt_ignore=None):
    labels, matched, quality, num_matched, iou = step_one(anchors, gt, pos_thr, neg_thr, gt_ignore)
    comp = np.zeros(len(anchors), bool)
    for g in range(len(gt)):
        if num_matched[g] > 0 or len(anchors) == 0:
            continue
        best_i = int(np.argmax(iou[:, g]))  # first maximum: the lowest anchor index
        if iou[best_i, g] > 0:
            labels[best_i] = 1
            matched[best_i] = g
            comp[best_i] = True
            quality[best_i] = iou[best_i, g]
    return labels, matched, comp, quality, num_matched


def _compensate(values, g, need, thr, labels, matched, comp, quality):
    """Face g takes up to ``need`` non-positive anchors with value > thr, best first."""
    order = np.lexsort((np.arange(len(values)), -values.astype(np.float64)))
    for i in order:
        if need == 0 or not values[i] > _f32(thr):
            break
        if labels[i] == 1:
            continue
        labels[i] = 1
        matched[i] = g
        comp[i] = True
        quality[i] = values[i]
        need -= 1


def nams(anchors, gt, num_per_face=3, low_thr=0.1, pos_thr=0.35, neg_thr=None, gt_ignore=None):
    labels, matched, quality, num_matched, iou = step_one(anchors, gt, pos_thr, neg_thr, gt_ignore)
    comp = np.zeros(len(anchors), bool)
    for g in range(len(gt)):
        if num_matched[g] < num_per_face:
            _compensate(
                iou[:, g], g, num_per_face - num_matched[g], low_thr, labels, matched, comp, quality
            )
    return labels, matched, comp, quality, num_matched


def hambox(
    anchors,
    gt,
    pred,
    pos_thr=0.35,
    top_k=3,
    online_thr=0.8,
    hq_thr=0.5,
    neg_thr=None,
    gt_ignore=None,
):
    labels, matched, _, num_matched, _ = step_one(anchors, gt, pos_thr, neg_thr, gt_ignore)
    A, G = len(anchors), len(gt)
    comp = np.zeros(A, bool)
    quality = np.zeros(A, np.float32)
    piou = box_iou(pred, gt) if G else np.zeros((A, 0), np.float32)
    pos = labels == 1
    quality[pos] = piou[pos, matched[pos]]
    for g in range(G):
        if num_matched[g] < top_k:
            _compensate(
                piou[:, g], g, top_k - num_matched[g], online_thr, labels, matched, comp, quality
            )
    if G:
        high = (piou >= _f32(hq_thr)).any(axis=1)
        labels[(labels == 0) & ~comp & high] = -1
    return labels, matched, comp, quality, num_matched
