"""Evaluate a detector with the official WIDER FACE protocol during and after training.

By default single-scale testing at each image's original size (padded at the bottom and right
to a multiple of the largest anchor stride, so the anchor grid is unchanged), detections with
score above ``score_thr`` (0.01: AP needs the low-score tail), at most ``pre_nms_top_k`` per
level, NMS at IoU 0.4, at most 750 per image (the official tool's limit per file is none, but
750 is what the published WIDER submissions use), then
:func:`hambox_core.evaluation.widerface.evaluate` with the ground truth's ``.mat`` files. This is
the protocol ``hambox eval`` calls ``single``; :func:`evaluate_widerface` also runs the ``vga``
and ``multiscale`` protocols of :mod:`hambox_torch.inference.protocols`. AP is comparable only
with AP measured under the same protocol.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hambox_core.evaluation import widerface as wider_eval
from hambox_torch.postprocess import postprocess_detections

__all__ = [
    "DetectionSettings",
    "ImageReadWarning",
    "detect_batch",
    "detect_images",
    "evaluate_widerface",
    "first_images",
]


class ImageReadWarning(UserWarning):
    """An image could not be read; it is treated as having no detections."""


@dataclass(frozen=True)
class DetectionSettings:
    """Post-processing of a detector's output (defaults: the WIDER FACE evaluation's)."""

    score_thr: float = 0.01
    pre_nms_top_k: int = 1000
    nms_iou_thr: float = 0.4
    max_detections: int = 750


def _pad_to(images: Sequence[torch.Tensor], multiple: int) -> torch.Tensor:
    h = max(int(im.shape[1]) for im in images)
    w = max(int(im.shape[2]) for im in images)
    h, w = math.ceil(h / multiple) * multiple, math.ceil(w / multiple) * multiple
    out = images[0].new_zeros((len(images), 3, h, w))
    for k, im in enumerate(images):
        out[k, :, : im.shape[1], : im.shape[2]] = im
    return out


@torch.no_grad()
def detect_images(model, images: Sequence[torch.Tensor], settings=DetectionSettings()):
    """Detect faces in a list of images of any sizes.

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
        Per image, xyxy boxes clipped to that image and scores, in decreasing score order.
    """
    if not images:
        return []
    results, _, _ = detect_batch(model, images, settings)
    return [(boxes.cpu(), scores.cpu()) for boxes, scores in results]


@torch.no_grad()
def detect_batch(model, images: Sequence[torch.Tensor], settings, *, return_indices=False):
    """The one detection step under :func:`detect_images`, keeping what analyses need.

    Parameters
    ----------
    model : HAMBoxDetector
    images : non-empty sequence of Tensor[3, H_i, W_i]
        RGB float images in [0, 1], padded together at the bottom and right to a multiple of
        the largest anchor stride.
    settings : DetectionSettings
    return_indices : bool, default False
        Also return each detection's anchor index.

    Returns
    -------
    (list, DetectorOutput, Tensor[A, 4])
        Per image ``(boxes, scores)`` (``(boxes, scores, anchor_indices)`` with
        ``return_indices``) on the model's device, boxes xyxy clipped to that image; the raw
        output of the padded batch and its anchors (xyxy).
    """
    device = next(model.parameters()).device
    batch = _pad_to([im.to(device) for im in images], max(model.anchor_generator.strides))
    hw = (int(batch.shape[2]), int(batch.shape[3]))
    out = model(batch)
    anchors = model.anchors(hw, device)
    per_level = [int(n) for n in model.anchor_generator.num_anchors_per_level(hw)]
    dets = postprocess_detections(
        out.cls_logits.float(),
        out.box_deltas.float(),
        anchors,
        per_level,
        score_thr=settings.score_thr,
        pre_nms_top_k=settings.pre_nms_top_k,
        nms_iou_thr=settings.nms_iou_thr,
        max_detections=settings.max_detections,
        return_indices=return_indices,
    )
    results = []
    for im, (boxes, *rest) in zip(images, dets, strict=True):
        h, w = int(im.shape[1]), int(im.shape[2])
        limit = boxes.new_tensor([w, h, w, h])
        results.append((torch.minimum(boxes.clamp(min=0), limit), *rest))
    return results, out, anchors


def _read_image(path: Path) -> torch.Tensor | None:
    """Float RGB in [0, 1], or ``None`` (warned) when the file cannot be read."""
    from hambox_torch.data.wider import UnreadableImageError, read_image

    try:
        image = read_image(path)
    except UnreadableImageError as exc:
        warnings.warn(f"{exc}; counted as no detections", ImageReadWarning, stacklevel=3)
        return None
    return image.as_subclass(torch.Tensor).float().div_(255.0)


def _find_image(image_dir: Path, event: str, stem: str) -> Path:
    for ext in (".jpg", ".jpeg", ".png"):
        p = image_dir / event / f"{stem}{ext}"
        if p.exists():
            return p
    return image_dir / event / f"{stem}.jpg"


def evaluate_widerface(
    model,
    image_dir,
    gt_dir,
    *,
    max_images: int | None = None,
    batch_size: int = 1,
    settings: DetectionSettings = DetectionSettings(),
    progress: bool = True,
    protocol="single",
):
    """Official WIDER FACE AP of ``model`` on the images listed by the ground truth.

    Parameters
    ----------
    model : HAMBoxDetector
        Evaluated in eval mode (restored to its previous mode afterwards).
    image_dir : str or os.PathLike
        ``WIDER_val/images`` (``<event>/<stem>.jpg`` below it).
    gt_dir : str or os.PathLike
        Folder of ``wider_face_val.mat`` and ``wider_{easy,medium,hard}_val.mat``.
    max_images : int, optional
        Evaluate on the first ``max_images`` images only (a quick look during training; the
        official protocol then runs on that subset).
    batch_size : int
        Images per forward pass (batched with images of the same padded size).
    settings : DetectionSettings
    progress : bool
        Show a progress bar.
    protocol : str or Protocol, default "single"
        The test protocol (:func:`hambox_torch.inference.get_protocol`).

    Returns
    -------
    (dict, dict, int)
        ``{"easy": ap, "medium": ap, "hard": ap}``, the predictions mapping
        ``(event, stem) -> ndarray (N, 5)`` of ``x y w h score`` rows, and the number of
        unreadable images.
    """
    from hambox_torch.inference import Detector, wider_rows

    detector = Detector(model, protocol, settings, batch_size=batch_size)
    gt = wider_eval.load_ground_truth(gt_dir)
    keys = gt.keys()
    if max_images is not None:
        keys = keys[:max_images]
        gt = first_images(gt, len(keys))
    image_dir = Path(image_dir)
    preds: dict[tuple[str, str], np.ndarray] = {}
    unreadable = 0
    bar = _progress(len(keys), "eval", progress)
    for start in range(0, len(keys), batch_size):
        chunk = keys[start : start + batch_size]
        images, readable = [], []
        for event, stem in chunk:
            im = _read_image(_find_image(image_dir, event, stem))
            if im is None:
                unreadable += 1
                preds[(event, stem)] = np.zeros((0, 5))
            else:
                images.append(im)
                readable.append((event, stem))
        for key, found in zip(readable, detector.detect_tensors(images), strict=True):
            preds[key] = wider_rows(*found)
        bar.update(len(chunk))
    bar.close()
    return wider_eval.evaluate(preds, gt), preds, unreadable


def first_images(gt, n: int):
    """The first ``n`` images of ``gt`` (all settings' keep lists cut alike)."""
    end = int(gt.offsets[n])
    return wider_eval.WiderGroundTruth(
        events=gt.events,
        image_events=gt.image_events[:n],
        image_names=gt.image_names[:n],
        boxes=gt.boxes[:end],
        offsets=gt.offsets[: n + 1],
        keep={k: v[:end] for k, v in gt.keep.items()},
    )


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True)
