"""Batched anchor matching on tensors: SMS and DMS, exactly as :mod:`hambox_core.matching`.

``matcher(anchors (A, 4), gt_boxes (B, G, 4), gt_valid (B, G) bool, pred_boxes=None) ->
MatchResult`` with every field gaining a leading batch dimension. Padded faces
(``gt_valid`` False) never match. Everything stays on the inputs' device: no ``.item()``, no
host synchronisation, no loop over images or individual faces. IoUs are computed in float32 in
the core's order of operations, and ties are broken as the core breaks them (lowest face index
per anchor, lowest anchor index per face, a later face wins a contested DMS anchor), so the
discrete outputs equal the core's exactly.

Memory: the (B, A, G) IoU tensor is formed in chunks of faces sized so that one chunk holds
about ``2**26`` elements; the chunk count depends only on the shapes.

Not yet available here: ignore regions, NAMSMatcher and HAMBoxMatcher (their per-face
sequential selection needs a tensor formulation that stays exact); use
:mod:`hambox_core.matching` for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hambox_core._validation import check_fraction

from .boxes import box_iou

__all__ = ["DMSMatcher", "MatchResult", "SMSMatcher"]

_CHUNK_ELEMENTS = 2**26


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Batched matching outcome; the fields of :class:`hambox_core.MatchResult` with a batch dim.

    Attributes
    ----------
    labels : Tensor[B, A] int8
    matched_gt : Tensor[B, A] int64
    compensated : Tensor[B, A] bool
    quality : Tensor[B, A] float32
    num_matched : Tensor[B, G] int64
    """

    labels: torch.Tensor
    matched_gt: torch.Tensor
    compensated: torch.Tensor
    quality: torch.Tensor
    num_matched: torch.Tensor


def _check_inputs(anchors, gt_boxes, gt_valid):
    if not isinstance(anchors, torch.Tensor) or anchors.ndim != 2 or anchors.shape[1] != 4:
        raise ValueError(f"anchors must be a Tensor of shape (A, 4), got {_shape(anchors)}")
    if not isinstance(gt_boxes, torch.Tensor) or gt_boxes.ndim != 3 or gt_boxes.shape[2] != 4:
        raise ValueError(f"gt_boxes must be a Tensor of shape (B, G, 4), got {_shape(gt_boxes)}")
    if not isinstance(gt_valid, torch.Tensor) or gt_valid.shape != gt_boxes.shape[:2]:
        raise ValueError(
            f"gt_valid must be a Tensor of shape {tuple(gt_boxes.shape[:2])}, got "
            f"{_shape(gt_valid)}"
        )
    if gt_valid.dtype != torch.bool:
        raise ValueError(f"gt_valid must be a bool Tensor, got {gt_valid.dtype}")
    for name, t in (("anchors", anchors), ("gt_boxes", gt_boxes)):
        if t.dtype != torch.float32:
            raise ValueError(f"{name} must be float32, got {t.dtype}")
    if anchors.device != gt_boxes.device or gt_valid.device != gt_boxes.device:
        raise ValueError("anchors, gt_boxes and gt_valid must be on the same device")


def _shape(x):
    return tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__


class _Matcher:
    _dual = False

    def __init__(self, pos_iou_thr: float = 0.35, neg_iou_thr: float | None = None) -> None:
        self.pos_iou_thr = check_fraction(pos_iou_thr, "pos_iou_thr")
        self.neg_iou_thr = (
            self.pos_iou_thr if neg_iou_thr is None else check_fraction(neg_iou_thr, "neg_iou_thr")
        )
        if self.neg_iou_thr > self.pos_iou_thr:
            raise ValueError(
                f"neg_iou_thr ({self.neg_iou_thr}) must not exceed pos_iou_thr ({self.pos_iou_thr})"
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(pos_iou_thr={self.pos_iou_thr}, neg_iou_thr={self.neg_iou_thr})"
        )

    def __call__(self, anchors, gt_boxes, gt_valid, pred_boxes=None) -> MatchResult:
        """Match a batch. ``pred_boxes`` is accepted for a uniform signature and ignored."""
        _check_inputs(anchors, gt_boxes, gt_valid)
        num_images, num_gt = gt_boxes.shape[:2]
        num_anchors = anchors.shape[0]
        device = anchors.device
        pos32 = torch.tensor(self.pos_iou_thr, dtype=torch.float32, device=device)
        neg32 = torch.tensor(self.neg_iou_thr, dtype=torch.float32, device=device)

        # Step one: running best face per anchor over chunks of faces (strict > keeps the
        # earlier face on ties, and torch.max returns the first maximum inside a chunk).
        best = torch.full((num_images, num_anchors), -1.0, dtype=torch.float32, device=device)
        best_g = torch.zeros((num_images, num_anchors), dtype=torch.int64, device=device)
        face_best = torch.zeros((num_images, num_gt), dtype=torch.float32, device=device)
        face_arg = torch.zeros((num_images, num_gt), dtype=torch.int64, device=device)
        chunk = max(1, _CHUNK_ELEMENTS // max(1, num_images * num_anchors))
        for s in range(0, num_gt, chunk):
            iou = box_iou(anchors.unsqueeze(0), gt_boxes[:, s : s + chunk])  # (B, A, C)
            iou = iou.masked_fill(~gt_valid[:, None, s : s + chunk], -1.0)
            if num_anchors:
                cmax, carg = iou.max(dim=2)
                better = cmax > best
                best = torch.where(better, cmax, best)
                best_g = torch.where(better, carg + s, best_g)
                fmax, farg = iou.max(dim=1)
                face_best[:, s : s + chunk] = fmax
                face_arg[:, s : s + chunk] = farg
        positive = best >= pos32
        labels = torch.where(
            positive,
            torch.ones_like(best, dtype=torch.int8),
            torch.where(best < neg32, 0, -1).to(torch.int8),
        )
        matched = torch.where(positive, best_g, -1)
        quality = torch.where(positive, best, 0.0)
        compensated = torch.zeros_like(positive)
        slot = torch.where(positive, best_g, num_gt)  # column num_gt collects non-positives
        counts = torch.zeros((num_images, num_gt + 1), dtype=torch.int64, device=device)
        counts.scatter_add_(1, slot, torch.ones_like(slot))
        num_matched = counts[:, :num_gt]

        if self._dual and num_anchors and num_gt:
            # Faces without step-one anchors claim their best anchor; the highest claiming face
            # index wins an anchor (faces are processed in index order in the core).
            claims = gt_valid & (num_matched == 0) & (face_best > 0)
            face_idx = torch.arange(num_gt, device=device).expand(num_images, num_gt)
            target = torch.where(claims, face_arg, num_anchors)
            winner = torch.full((num_images, num_anchors + 1), -1, dtype=torch.int64, device=device)
            winner.scatter_reduce_(1, target, torch.where(claims, face_idx, -1), reduce="amax")
            winner = winner[:, :num_anchors]
            won = winner >= 0
            won_iou = torch.gather(face_best, 1, winner.clamp(min=0))
            labels = torch.where(won, torch.ones_like(labels), labels)
            matched = torch.where(won, winner, matched)
            compensated = won
            quality = torch.where(won, won_iou, quality)
        return MatchResult(labels, matched, compensated, quality, num_matched)


class SMSMatcher(_Matcher):
    """Standard matching, step one only; see :class:`hambox_core.SMSMatcher`."""


class DMSMatcher(_Matcher):
    """Dual matching (step one, then unmatched faces take their best anchor, a later face
    winning a contested one); see :class:`hambox_core.DMSMatcher`."""

    _dual = True
