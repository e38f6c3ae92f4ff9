"""Anchor-mining diagnostics of a training step (the quantities behind the paper's Fig. 2).

Logged every ``run.diag_every`` iterations so that a run shows what the matcher is doing:

``faces``
    Real faces in the batch.
``outer_face_share``
    Share of faces with fewer than ``top_k`` step-one anchors (the paper's "outer faces", the
    ones a second step compensates).
``unmatched_face_share``
    Share of faces with no step-one anchor at all.
``compensated_per_outer_face``
    Compensated anchors per outer face.
``compensated_mean_iou``
    Mean IoU of the compensated anchors' quality (for HAMBox: their *predicted* boxes' IoU
    with their face; for NAMS and DMS: the anchors' own IoU), NaN when none was compensated.
``outer_best_pred_iou``
    Mean over the outer faces of the best IoU that any anchor's predicted box reaches with the
    face, NaN without outer faces. HAMBox compensates a face only with predicted boxes of IoU
    >= T (``matching.online_iou_thr``), so this says how far the regression is from letting it
    mine (the paper's Fig. 3: no compensation early in training). Measured for every matcher,
    so an SMS run shows it too.
``outer_best_unmatched_iou``
    The same over the anchors that step one did not make positive — the pool HAMBox mines
    from (its compensated anchors included): an outer face's own one or two step-one anchors
    may regress well, but they are not what compensates it.
``hq_unmatched_share``
    Among anchors whose predicted box has IoU >= ``hq_iou_thr`` with some face (high-quality
    anchors), the share that step one did not match — the paper's observation that many good
    regressors are left out of the positives (Fig. 2(b)).
"""

from __future__ import annotations

import math

import torch

from hambox_torch.boxes import box_iou

__all__ = ["mining_diagnostics"]


@torch.no_grad()
def mining_diagnostics(match, pred_boxes, gt_boxes, gt_valid, *, top_k: int = 3, hq_iou_thr=0.5):
    """The diagnostics above for one batch.

    Parameters
    ----------
    match : hambox_torch.matching.MatchResult
        The batch's match (fields (B, A), ``num_matched`` (B, G)).
    pred_boxes : Tensor[B, A, 4]
        Decoded predicted boxes, xyxy.
    gt_boxes : Tensor[B, G, 4]
        Padded faces, xyxy.
    gt_valid : Tensor[B, G] bool
    top_k : int
        K: a face with fewer step-one anchors is an outer face.
    hq_iou_thr : float
        IoU of a predicted box that makes its anchor high quality.

    Returns
    -------
    dict of str to float
    """
    faces = int(gt_valid.sum())
    outer = gt_valid & (match.num_matched < top_k)
    num_outer = int(outer.sum())
    compensated = match.compensated
    num_comp = int(compensated.sum())
    step_one = (match.labels == 1) & ~compensated
    if gt_boxes.shape[1] and pred_boxes.shape[1]:
        iou = box_iou(pred_boxes.float(), gt_boxes.float())  # (B, A, G)
        iou = iou.masked_fill(~gt_valid[:, None, :], 0.0)
        high_quality = iou.max(dim=2).values >= hq_iou_thr
        best_per_face = iou.max(dim=1).values  # (B, G)
        best_unmatched = iou.masked_fill(step_one[:, :, None], 0.0).max(dim=1).values
    else:
        high_quality = torch.zeros_like(compensated)
        best_per_face = torch.zeros(gt_valid.shape, dtype=torch.float32, device=gt_valid.device)
        best_unmatched = best_per_face
    num_hq = int(high_quality.sum())
    return {
        "faces": float(faces),
        "outer_face_share": num_outer / faces if faces else math.nan,
        "unmatched_face_share": (
            int((gt_valid & (match.num_matched == 0)).sum()) / faces if faces else math.nan
        ),
        "compensated_per_outer_face": num_comp / num_outer if num_outer else math.nan,
        "compensated_mean_iou": (
            float(match.quality[compensated].double().mean()) if num_comp else math.nan
        ),
        "outer_best_pred_iou": (
            float(best_per_face[outer].double().mean()) if num_outer else math.nan
        ),
        "outer_best_unmatched_iou": (
            float(best_unmatched[outer].double().mean()) if num_outer else math.nan
        ),
        "hq_unmatched_share": (
            int((high_quality & ~step_one).sum()) / num_hq if num_hq else math.nan
        ),
    }
