"""The detection step: images of any size → padded batch → detector → post-processed boxes.

This is the only detection path in hambox: :class:`hambox_torch.inference.Detector` (and so
``hambox detect`` / ``hambox eval``), the evaluation during training, the analyses and the ONNX
graph all run it, or (the ONNX graph) the same padding rule and post-processing.

Padding rule (:func:`padded_size`): a batch is padded with zeros at the bottom and right to a
multiple of the detector's largest anchor stride, so every level's grid covers the image and
the anchors of the padded size are the anchors of the image's own grid cells. Boxes are then
clipped to each image's own size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from hambox_core.validation import check_fraction, check_non_negative, check_positive_int
from hambox_torch.postprocess import postprocess_detections

__all__ = ["DetectionSettings", "detect_batch", "detect_images", "pad_batch", "padded_size"]


@dataclass(frozen=True)
class DetectionSettings:
    """Post-processing of a detector's output (defaults: the WIDER FACE evaluation's).

    Attributes
    ----------
    score_thr : float, default 0.01
        Keep anchors whose face probability is above this, in [0, 1] (AP needs the low-score
        tail).
    pre_nms_top_k : int or None, default 1000
        At most this many candidates per level before NMS (``None``: no cap).
    nms_iou_thr : float, default 0.4
        Suppress a box whose IoU with a higher-scoring kept box is above this, in [0, 1].
    max_detections : int or None, default 750
        Keep at most this many boxes per image (``None``: all); 750 is what published WIDER
        FACE submissions use.
    min_box_size : float, default 1.0
        Boxes narrower or shorter than this many pixels, after clipping to the image, are
        dropped before NMS (a sliver at the border is no face); 0 keeps them.

    Raises
    ------
    ValueError
        A value out of range, named (the same rules as
        :func:`hambox_torch.postprocess.postprocess_detections`).

    Examples
    --------
    >>> DetectionSettings(score_thr=0.5).nms_iou_thr
    0.4
    >>> DetectionSettings(max_detections=0)
    Traceback (most recent call last):
    ...
    ValueError: max_detections must be an integer >= 1, got 0
    """

    score_thr: float = 0.01
    pre_nms_top_k: int | None = 1000
    nms_iou_thr: float = 0.4
    max_detections: int | None = 750
    min_box_size: float = 1.0

    def __post_init__(self) -> None:
        check_non_negative(self.min_box_size, "min_box_size")
        check_fraction(self.score_thr, "score_thr")
        check_fraction(self.nms_iou_thr, "nms_iou_thr")
        for name in ("pre_nms_top_k", "max_detections"):
            value = getattr(self, name)
            if value is not None:
                check_positive_int(value, name)


def padded_size(size, multiple: int):
    """``size`` rounded up to a multiple of ``multiple`` (the padding rule of every path).

    Written with non-negative operands only, so it also works on the symbolic sizes of an
    exported graph (ONNX ``Div`` truncates negative operands).

    >>> padded_size(100, 32), padded_size(128, 32)
    (128, 128)
    """
    return (size + multiple - 1) // multiple * multiple


def pad_batch(images: Sequence[torch.Tensor], multiple: int) -> torch.Tensor:
    """Images of any sizes as one zero-padded batch (padding at the bottom and right).

    Parameters
    ----------
    images : non-empty sequence of Tensor[3, H_i, W_i]
    multiple : int
        Height and width are padded to :func:`padded_size` of the largest image.

    Returns
    -------
    Tensor[B, 3, H, W]
        On the first image's device, in its dtype.
    """
    if not images:
        raise ValueError("images must hold at least one image")
    h = padded_size(max(int(im.shape[1]) for im in images), multiple)
    w = padded_size(max(int(im.shape[2]) for im in images), multiple)
    out = images[0].new_zeros((len(images), 3, h, w))
    for k, im in enumerate(images):
        out[k, :, : im.shape[1], : im.shape[2]] = im
    return out


@torch.no_grad()
def detect_batch(model, images: Sequence[torch.Tensor], settings, *, return_indices=False):
    """Detect faces in images padded together; keeps what analyses need.

    Parameters
    ----------
    model : HAMBoxDetector
        In eval mode.
    images : non-empty sequence of Tensor[3, H_i, W_i]
        RGB float images in [0, 1], padded together by :func:`pad_batch` to the model's
        largest anchor stride.
    settings : DetectionSettings
    return_indices : bool, default False
        Also return each detection's anchor index.

    Returns
    -------
    (list, DetectorOutput, Tensor[A, 4])
        Per image ``(boxes, scores)`` (``(boxes, scores, anchor_indices)`` with
        ``return_indices``) on the model's device, boxes xyxy clipped to that image before NMS
        (boxes below ``settings.min_box_size`` after clipping dropped); the raw output of the
        padded batch and its anchors (xyxy).
    """
    device = next(model.parameters()).device
    batch = pad_batch([im.to(device) for im in images], max(model.anchor_generator.strides))
    hw = (int(batch.shape[2]), int(batch.shape[3]))
    out = model(batch)
    anchors = model.anchors(hw, device)
    per_level = [int(n) for n in model.anchor_generator.num_anchors_per_level(hw)]
    results = postprocess_detections(
        out.cls_logits.float(),
        out.box_deltas.float(),
        anchors,
        per_level,
        score_thr=settings.score_thr,
        pre_nms_top_k=settings.pre_nms_top_k,
        nms_iou_thr=settings.nms_iou_thr,
        max_detections=settings.max_detections,
        image_hw=[(int(im.shape[1]), int(im.shape[2])) for im in images],
        min_box_size=settings.min_box_size,
        return_indices=return_indices,
    )
    return results, out, anchors


@torch.no_grad()
def detect_images(model, images: Sequence[torch.Tensor], settings=DetectionSettings()):
    """Detect faces in a list of images of any sizes (one padded batch).

    Parameters
    ----------
    model : HAMBoxDetector
        In eval mode, on the device the images should go to.
    images : sequence of Tensor[3, H_i, W_i]
        RGB float images in [0, 1].
    settings : DetectionSettings

    Returns
    -------
    list of (Tensor[D, 4], Tensor[D])
        Per image, xyxy boxes clipped to that image and scores, in decreasing score order, on
        the CPU.
    """
    if not images:
        return []
    results, _, _ = detect_batch(model, images, settings)
    return [(boxes.cpu(), scores.cpu()) for boxes, scores in results]
