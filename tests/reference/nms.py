"""Plain greedy non-maximum suppression: Python loops over a dense IoU matrix.

The IoU convention is :func:`hambox_core.boxes.box_iou` (float32, ``inter / ((a + b) -
inter)``, 0 for an empty union). A box is suppressed when that float32 IoU, compared exactly
(as a float64), is strictly greater than the threshold: torchvision's rule.
"""

from __future__ import annotations

import numpy as np

from hambox_core.boxes import box_iou

__all__ = ["batched_nms_reference", "nms_reference", "score_order"]


def score_order(scores) -> list[int]:
    """Indices by decreasing score, ties by increasing index."""
    s = [float(v) for v in np.asarray(scores)]
    return sorted(range(len(s)), key=lambda i: (-s[i], i))


def nms_reference(boxes, scores, iou_thr: float) -> np.ndarray:
    """Kept indices (int64) in decreasing score order."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    iou = box_iou(boxes, boxes).astype(np.float64)
    order = score_order(scores)
    suppressed = [False] * len(order)
    keep = []
    for rank, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order[rank + 1 :]:
            if iou[i, j] > iou_thr:
                suppressed[j] = True
    return np.array(keep, dtype=np.int64)


def batched_nms_reference(boxes, scores, idxs, iou_thr: float) -> np.ndarray:
    """:func:`nms_reference` per value of ``idxs``; all kept indices in decreasing score order."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores)
    idxs = np.asarray(idxs)
    kept = []
    for g in sorted(set(idxs.tolist())):
        members = np.flatnonzero(idxs == g)
        kept.extend(members[nms_reference(boxes[members], scores[members], iou_thr)].tolist())
    rank = {i: r for r, i in enumerate(score_order(scores))}
    return np.array(sorted(kept, key=rank.__getitem__), dtype=np.int64)
