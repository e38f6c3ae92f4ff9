"""From a forward pass to the loss: anchors, batch matching, box targets, losses.

One training step's supervision, whatever the strategy: the detector's deltas are decoded into
predicted boxes without gradient, a matcher (SMS, DMS, NAMS or HAMBox) labels every anchor of the
padded batch, positives get Faster R-CNN box targets, and the standard focal loss or the
regression-aware focal loss (paper Eq. 1, 2) turns them into ``loss_cls`` and ``loss_loc``. With
PyramidAnchors, the head branch is matched (SMS) and trained the same way against the faces'
head boxes and the x2 anchors.

Which backend matches: the answers of :mod:`hambox_core.matching` and
:mod:`hambox_torch.matching` are identical (the conformance suite checks it), so the choice is
about speed only. On a CPU the core's grid-aware kernels are about 1,000x faster than the dense
batched tensors; on a GPU the torch matchers avoid a round trip to the host. ``backend="auto"``
picks the core for CPU tensors and the torch matchers otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import hambox_core
import hambox_core.matching as core_matching
from hambox_torch import matching as torch_matching
from hambox_torch.boxes import decode, encode
from hambox_torch.losses import regression_aware_focal_loss, standard_focal_loss
from hambox_torch.models.pyramid_anchors import HEAD_SCALE, head_boxes

__all__ = ["AnchorCache", "BatchMatcher", "SupervisionResult", "Supervisor", "build_matcher"]

_STRATEGIES = ("sms", "dms", "nams", "hambox")


def build_matcher(cfg, module):
    """The matcher of ``cfg`` (a :class:`~hambox_torch.engine.config.MatchingConfig`) from
    ``module`` (:mod:`hambox_core.matching` or :mod:`hambox_torch.matching`)."""
    name = cfg.strategy.lower()
    if name == "sms":
        return module.SMSMatcher(cfg.pos_iou_thr, cfg.neg_iou_thr)
    if name == "dms":
        return module.DMSMatcher(cfg.pos_iou_thr, cfg.neg_iou_thr)
    if name == "nams":
        return module.NAMSMatcher(
            cfg.nams_num_per_face, cfg.nams_low_iou_thr, cfg.pos_iou_thr, cfg.neg_iou_thr
        )
    if name == "hambox":
        return module.HAMBoxMatcher(
            cfg.pos_iou_thr,
            cfg.top_k,
            cfg.online_iou_thr,
            cfg.high_quality_iou_thr,
            cfg.neg_iou_thr,
        )
    raise ValueError(f"matching.strategy must be one of {_STRATEGIES}, got {cfg.strategy!r}")


class AnchorCache:
    """Grid anchors per image size, as a registered core array and as a tensor per device.

    The core array comes from :meth:`hambox_core.AnchorGenerator.grid_anchors`, so the core
    matchers take their grid fast path; the tensor is the same values, so both backends see
    bit-identical anchors.
    """

    def __init__(self, strides, base_sizes, scale, ratios) -> None:
        self.generator = hambox_core.AnchorGenerator(strides, base_sizes, scale, ratios)
        self._arrays: dict[tuple[int, int], np.ndarray] = {}
        self._tensors: dict[tuple[tuple[int, int], str], torch.Tensor] = {}

    def array(self, image_hw) -> np.ndarray:
        key = (int(image_hw[0]), int(image_hw[1]))
        if key not in self._arrays:
            self._arrays[key] = self.generator.grid_anchors(key)
        return self._arrays[key]

    def tensor(self, image_hw, device) -> torch.Tensor:
        key = ((int(image_hw[0]), int(image_hw[1])), str(device))
        if key not in self._tensors:
            self._tensors[key] = torch.from_numpy(np.array(self.array(image_hw))).to(device)
        return self._tensors[key]

    def num_anchors_per_level(self, image_hw) -> list[int]:
        return [int(n) for n in self.generator.num_anchors_per_level(image_hw)]


class BatchMatcher:
    """Match a padded batch with the core (per image) or the torch matcher (batched).

    Parameters
    ----------
    cfg : MatchingConfig
        Strategy and thresholds.
    backend : {"auto", "core", "torch"}
        ``"auto"``: the core for CPU tensors, torch otherwise (see the module notes).
    """

    def __init__(self, cfg, backend: str = "auto") -> None:
        if backend not in ("auto", "core", "torch"):
            raise ValueError(f"backend must be 'auto', 'core' or 'torch', got {backend!r}")
        self.backend = backend
        self.core = build_matcher(cfg, core_matching)
        self.torch = build_matcher(cfg, torch_matching)

    def __call__(
        self, anchors: AnchorCache, image_hw, gt_boxes, gt_valid, pred_boxes
    ) -> torch_matching.MatchResult:
        """Match ``gt_boxes`` (B, G, 4) / ``gt_valid`` (B, G) against the anchors of
        ``image_hw``; ``pred_boxes`` (B, A, 4) float32 without gradient."""
        device = gt_boxes.device
        use_core = self.backend == "core" or (self.backend == "auto" and device.type == "cpu")
        if not use_core:
            return self.torch(anchors.tensor(image_hw, device), gt_boxes, gt_valid, pred_boxes)
        anchors_np = anchors.array(image_hw)
        gt = gt_boxes.detach().cpu().numpy()
        valid = gt_valid.cpu().numpy()
        pred = pred_boxes.detach().cpu().numpy()
        results = [
            self.core(anchors_np, gt[b][valid[b]], pred_boxes=pred[b]) for b in range(len(gt))
        ]
        return _stack(results, valid, device)


def _stack(results, valid: np.ndarray, device) -> torch_matching.MatchResult:
    """Per-image core results as one batched torch result (num_matched scattered to the padded
    face slots)."""
    num_matched = np.zeros(valid.shape, np.int64)
    for b, r in enumerate(results):
        num_matched[b][valid[b]] = r.num_matched
        # the core numbers faces among the valid ones; map back to padded indices
        if not valid[b].all():
            slots = np.flatnonzero(valid[b])
            pos = r.matched_gt >= 0
            r.matched_gt[pos] = slots[r.matched_gt[pos]]

    def field(name):
        return torch.from_numpy(np.stack([getattr(r, name) for r in results])).to(device)

    return torch_matching.MatchResult(
        field("labels"),
        field("matched_gt"),
        field("compensated"),
        field("quality"),
        torch.from_numpy(num_matched).to(device),
    )


@dataclass
class SupervisionResult:
    """What one step's supervision produced: the losses and the match (for diagnostics).

    Attributes
    ----------
    loss : Tensor
        ``loss_cls + loc_weight * loss_loc`` (+ the head branch's, with PyramidAnchors).
    parts : dict of str to Tensor
        The scalar parts (``loss_cls``, ``loss_loc``, ``head_cls``, ``head_loc``), detached.
    match : hambox_torch.matching.MatchResult
        The face branch's match.
    pred_boxes : Tensor[B, A, 4]
        The decoded predicted boxes the matcher saw.
    """

    loss: torch.Tensor
    parts: dict
    match: torch_matching.MatchResult
    pred_boxes: torch.Tensor


class Supervisor:
    """Matching + targets + losses for a detector's output; see the module notes.

    Parameters
    ----------
    anchor_cfg, matching_cfg, loss_cfg
        The :mod:`~hambox_torch.engine.config` sections.
    backend : {"auto", "core", "torch"}
        Which matcher backend (identical answers; see the module notes).
    """

    def __init__(self, anchor_cfg, matching_cfg, loss_cfg, backend: str = "auto") -> None:
        if loss_cfg.kind not in ("ral", "focal"):
            raise ValueError(f"loss.kind must be 'ral' or 'focal', got {loss_cfg.kind!r}")
        a = anchor_cfg
        self.anchors = AnchorCache(a.strides, a.base_sizes, a.scale, a.ratios)
        self.head_anchors = AnchorCache(a.strides, a.base_sizes, a.scale * HEAD_SCALE, a.ratios)
        self.matcher = BatchMatcher(matching_cfg, backend)
        head_cfg = type(matching_cfg)(strategy="sms", pos_iou_thr=matching_cfg.pos_iou_thr)
        self.head_matcher = BatchMatcher(head_cfg, backend)
        self.loss_cfg = loss_cfg

    def __call__(self, output, image_hw, gt_boxes, gt_valid) -> SupervisionResult:
        """Losses of ``output`` (:class:`~hambox_torch.models.DetectorOutput`) for a batch of
        ``image_hw`` images with faces ``gt_boxes`` (B, G, 4) and ``gt_valid`` (B, G)."""
        cfg = self.loss_cfg
        loss_cls, loss_loc, match, pred = self._branch(
            output.cls_logits,
            output.box_deltas,
            self.anchors,
            self.matcher,
            image_hw,
            gt_boxes,
            gt_valid,
            cfg.kind,
        )
        loss = loss_cls + cfg.loc_weight * loss_loc
        parts = {"loss_cls": loss_cls.detach(), "loss_loc": loss_loc.detach()}
        if output.head_cls_logits is not None:
            head_cls, head_loc, _, _ = self._branch(
                output.head_cls_logits,
                output.head_box_deltas,
                self.head_anchors,
                self.head_matcher,
                image_hw,
                head_boxes(gt_boxes),
                gt_valid,
                "focal",
            )
            loss = loss + head_cls + cfg.loc_weight * head_loc
            parts.update(head_cls=head_cls.detach(), head_loc=head_loc.detach())
        return SupervisionResult(loss, parts, match, pred)

    def _branch(self, logits, deltas, anchor_cache, matcher, image_hw, gt, valid, kind):
        cfg = self.loss_cfg
        anchors = anchor_cache.tensor(image_hw, logits.device)
        if logits.shape[1] != anchors.shape[0]:
            raise ValueError(
                f"the detector produced {logits.shape[1]} anchors for a {tuple(image_hw)} image, "
                f"the anchor config {anchors.shape[0]}: model and anchors disagree"
            )
        deltas32 = deltas.float()
        with torch.no_grad():
            pred = decode(anchors, deltas32.detach())
        match = matcher(anchor_cache, image_hw, gt.float(), valid, pred)
        positive = match.labels == 1
        # Non-positives get their own anchor as target (zero deltas, masked out of the loss).
        index = match.matched_gt.clamp(min=0).unsqueeze(-1).expand(-1, -1, 4)
        target_boxes = torch.where(
            positive.unsqueeze(-1), torch.gather(gt.float(), 1, index), anchors.expand_as(pred)
        )
        targets = encode(anchors.expand_as(pred), target_boxes)
        flat = {
            "cls_logits": logits.float().reshape(-1),
            "box_deltas": deltas32.reshape(-1, 4),
            "box_targets": targets.reshape(-1, 4),
            "labels": match.labels.reshape(-1),
        }
        common = {
            "alpha": cfg.alpha,
            "gamma": cfg.gamma,
            "beta": cfg.beta,
            "global_normalize": cfg.global_normalize,
        }
        if kind == "ral":
            loss_cls, loss_loc = regression_aware_focal_loss(
                **flat,
                compensated=match.compensated.reshape(-1),
                quality=match.quality.reshape(-1),
                **common,
            )
        else:
            loss_cls, loss_loc = standard_focal_loss(**flat, **common)
        return loss_cls, loss_loc, match, pred
