"""A detector's official WIDER FACE AP on a WIDER-format validation split.

By default single-scale testing at each image's original size (padded at the bottom and right
to a multiple of the largest anchor stride, so the anchor grid is unchanged), detections with
score above ``score_thr`` (0.01: AP needs the low-score tail), at most ``pre_nms_top_k`` per
level, NMS at IoU 0.4, at most 750 per image (the official tool's limit per file is none, but
750 is what the published WIDER submissions use), then
:func:`hambox_core.evaluation.widerface.evaluate` with the ground truth's ``.mat`` files. This is
the protocol ``hambox eval`` calls ``single``; the ``vga`` and ``multiscale`` protocols of
:mod:`hambox_torch.inference.protocols` run the same way. AP is comparable only with AP
measured under the same protocol. ``hambox eval`` and the evaluation during training call
:func:`evaluate_widerface`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hambox_core.evaluation import widerface as wider_eval
from hambox_torch.data.wider import find_image, read_image_or_warn
from hambox_torch.pipeline.detection import DetectionSettings
from hambox_torch.progress import progress_bar

from .detector import Detector
from .predictions import wider_rows

__all__ = ["evaluate_widerface"]


def evaluate_widerface(
    model,
    image_dir,
    gt_dir,
    *,
    max_images: int | None = None,
    batch_size: int = 1,
    settings: DetectionSettings | None = None,
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
    settings : DetectionSettings, optional
        Default: ``DetectionSettings()``, the evaluation's post-processing.
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

    Warns
    -----
    ImageReadWarning
        For each image that cannot be read (it counts as an image without detections).
    """
    detector = Detector(model, protocol, settings or DetectionSettings(), batch_size=batch_size)
    gt = wider_eval.load_ground_truth(gt_dir)
    keys = gt.keys()
    if max_images is not None:
        keys = keys[:max_images]
        gt = gt.head(len(keys))
    image_dir = Path(image_dir)
    preds: dict[tuple[str, str], np.ndarray] = {}
    unreadable = 0
    bar = progress_bar(len(keys), "eval", progress)
    for start in range(0, len(keys), batch_size):
        chunk = keys[start : start + batch_size]
        images, readable = [], []
        for event, stem in chunk:
            im = read_image_or_warn(find_image(image_dir, event, stem))
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
