"""Detection post-processing on tensors, with the semantics of :mod:`hambox_core.postprocess`.

``torchvision.ops.nms`` does the suppression (IoU > threshold, computed in float32), but the
visiting order is ours: scores descending with ties broken by the lower index. torchvision's own
sort does not promise an order for equal scores, so it is given the boxes' *ranks* in that
order as scores, which are all distinct. Post-processing produces ragged per-image outputs, so
unlike the matchers it does synchronise with the device (to learn how many boxes survive).

Inputs are checked with the core's rules and messages first (shapes, dtypes, devices,
parameters; then finite logits and deltas and valid anchors in one read from the device, and
after decoding, finite boxes), so both backends reject the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from hambox_core.validation import (
    check_bool,
    check_count,
    check_fraction,
    check_image_hw,
    check_non_negative,
    check_variances,
    decode_overflow_error,
    not_finite,
)

from .boxes import DEFAULT_VARIANCES, check_box_tensor, decode
from .validation import (
    ValueChecks,
    check_floating,
    check_scored_boxes,
    check_shape,
    same_device,
    tensor_arg,
)

__all__ = ["face_scores", "nms", "postprocess_detections"]


def face_scores(cls_logits: torch.Tensor) -> torch.Tensor:
    """Face probabilities of logits: the sigmoid in float64, rounded once to float32.

    The one scoring rule of post-processing and of the exported graph, the same as the core's
    (so both backends threshold identical float32 scores).

    >>> face_scores(torch.tensor([0.0, 100.0]))
    tensor([0.5000, 1.0000])
    """
    tensor_arg(cls_logits, "cls_logits")
    check_floating(cls_logits, "cls_logits")
    return torch.sigmoid(cls_logits.double()).float()


def _rank_order(scores: torch.Tensor) -> torch.Tensor:
    """Indices by decreasing score, ties by increasing index."""
    return torch.sort(scores, descending=True, stable=True).indices


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_thr: float) -> torch.Tensor:
    """Greedy NMS: Tensor[N, 4] xyxy boxes and Tensor[N] scores → kept indices Tensor[K] int64.

    Kept indices come in decreasing score order (ties: lower index first); a box is suppressed
    by a kept higher-ranked box when their IoU is strictly greater than ``iou_thr``. Boxes must
    be valid and scores finite, as in the core (checked in one read from the device).
    """
    iou_thr = check_fraction(iou_thr, "iou_thr")
    check_scored_boxes(boxes, scores).run()
    return _nms(boxes, scores, iou_thr)


def _nms(boxes: torch.Tensor, scores: torch.Tensor, iou_thr: float) -> torch.Tensor:
    from torchvision.ops import nms as tv_nms

    order = _rank_order(scores)
    ranks = torch.arange(order.numel(), 0, -1, dtype=torch.float32, device=boxes.device)
    keep = tv_nms(boxes[order].float(), ranks, iou_thr)
    return order[keep]


def _image_sizes(image_hw, num_images: int):
    """``image_hw`` as one ``(h, w)`` per image, or None."""
    if image_hw is None:
        return None
    try:
        first = image_hw[0]
    except (TypeError, IndexError, KeyError):
        first = None
    if isinstance(first, (tuple, list)) or (
        isinstance(image_hw, (tuple, list)) and len(image_hw) != 2
    ):
        sizes = [check_image_hw(hw, f"image_hw[{i}]") for i, hw in enumerate(image_hw)]
        if len(sizes) != num_images:
            raise ValueError(
                f"image_hw must hold one (height, width) per image ({num_images}), got {len(sizes)}"
            )
        return sizes
    return [check_image_hw(image_hw)] * num_images


def postprocess_detections(
    cls_logits: torch.Tensor,
    box_deltas: torch.Tensor,
    anchors: torch.Tensor,
    num_anchors_per_level: Sequence[int],
    *,
    score_thr: float = 0.05,
    pre_nms_top_k: int | None = 1000,
    nms_iou_thr: float = 0.3,
    max_detections: int | None = 750,
    image_hw=None,
    variances=DEFAULT_VARIANCES,
    min_box_size: float = 1.0,
    return_indices: bool = False,
) -> list[tuple[torch.Tensor, ...]]:
    """Final detections of every image of a batch (see
    :func:`hambox_core.postprocess.postprocess_detections` for each step).

    Parameters
    ----------
    cls_logits : Tensor[B, A]
        Face logits.
    box_deltas : Tensor[B, A, 4]
        Regression output.
    anchors : Tensor[A, 4]
        xyxy anchors, in the order of the head's outputs.
    num_anchors_per_level : sequence of int
        Anchors of each level (summing to A); top-k is taken per level.
    score_thr, pre_nms_top_k, nms_iou_thr, max_detections, variances, min_box_size
        As in the core.
    image_hw : (int, int) or sequence of (int, int), optional
        ``(height, width)`` to clip every image's boxes to (before NMS, as in the core), or one
        size per image (images of different sizes padded into one batch).
    return_indices : bool, default False
        Also return, for every detection, the index of the anchor it was regressed from (the
        paper's Fig. 2 traces correct detections back to their anchors this way).

    Returns
    -------
    list of (Tensor[D, 4] float32, Tensor[D] float32)
        Boxes and scores of each image, in decreasing score order; with ``return_indices``
        each entry is ``(boxes, scores, anchor_indices)`` with ``anchor_indices`` a
        Tensor[D] int64 of indices into ``anchors`` (and into the ``A`` axis of the inputs).
    """
    tensor_arg(cls_logits, "cls_logits")
    check_shape(cls_logits, "cls_logits", "(B, A)", cls_logits.ndim == 2)
    check_floating(cls_logits, "cls_logits")
    num_images, num_anchors = cls_logits.shape
    tensor_arg(box_deltas, "box_deltas")
    want = (num_images, num_anchors, 4)
    check_shape(box_deltas, "box_deltas", str(want), tuple(box_deltas.shape) == want)
    check_floating(box_deltas, "box_deltas")
    check_box_tensor(anchors, "anchors")
    want = (num_anchors, 4)
    check_shape(anchors, "anchors", str(want), tuple(anchors.shape) == want)
    same_device(("cls_logits", cls_logits), ("box_deltas", box_deltas), ("anchors", anchors))
    try:
        levels = list(num_anchors_per_level)
    except TypeError:
        raise ValueError(
            f"num_anchors_per_level must be a sequence of ints, got {num_anchors_per_level!r}"
        ) from None
    counts = [check_count(c, "num_anchors_per_level") for c in levels]
    if sum(counts) != num_anchors:
        raise ValueError(
            f"num_anchors_per_level must sum to the number of anchors {num_anchors}, got "
            f"{sum(counts)}"
        )
    thr = torch.tensor(check_fraction(score_thr, "score_thr"), dtype=torch.float32)
    pre_nms_top_k = check_count(pre_nms_top_k, "pre_nms_top_k", allow_none=True)
    nms_iou_thr = check_fraction(nms_iou_thr, "nms_iou_thr")
    max_detections = check_count(max_detections, "max_detections", allow_none=True)
    min_size = check_non_negative(min_box_size, "min_box_size")
    check_variances(variances)
    return_indices = check_bool(return_indices, "return_indices")
    sizes = _image_sizes(image_hw, num_images)
    checks = ValueChecks().finite(cls_logits, "cls_logits")
    checks.boxes(box_deltas, "box_deltas", allow_inverted=True).boxes(anchors, "anchors")
    checks.run()
    scores = face_scores(cls_logits)
    results = []
    for b in range(num_images):
        chosen = []
        start = 0
        for c in counts:
            level = scores[b, start : start + c]
            idx = torch.nonzero(level > thr.to(level.device)).squeeze(1)
            if pre_nms_top_k is not None and idx.numel() > pre_nms_top_k:
                idx = idx[_rank_order(level[idx])[:pre_nms_top_k]].sort().values
            chosen.append(idx + start)
            start += c
        cand = torch.cat(chosen) if chosen else torch.zeros(0, dtype=torch.int64)
        boxes = decode(anchors[cand].float(), box_deltas[b, cand].float(), variances, check=False)
        ValueChecks().custom(not_finite(boxes).any(-1), lambda i: decode_overflow_error()).run()
        if sizes is not None:
            h, w = sizes[b]
            boxes = torch.stack(
                [
                    boxes[:, 0].clamp(0, w),
                    boxes[:, 1].clamp(0, h),
                    boxes[:, 2].clamp(0, w),
                    boxes[:, 3].clamp(0, h),
                ],
                dim=1,
            )
        if min_size > 0:
            # Boxes narrower or shorter than min_box_size (after clipping) are no detection.
            big = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & (
                (boxes[:, 3] - boxes[:, 1]) >= min_size
            )
            cand, boxes = cand[big], boxes[big]
        keep = _nms(boxes, scores[b, cand], nms_iou_thr)
        if max_detections is not None:
            keep = keep[:max_detections]
        if return_indices:
            results.append((boxes[keep], scores[b, cand][keep], cand[keep]))
        else:
            results.append((boxes[keep], scores[b, cand][keep]))
    return results
