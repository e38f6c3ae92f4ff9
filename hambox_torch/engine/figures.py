"""Figures at the end of a training run: PR curves and a picture of detections.

Used by ``hambox train`` and ``examples/train_widerface.py``; both read what
:func:`hambox_torch.engine.train.train` returns. Each figure says what it shows: its title
names the run, the checkpoint's iteration, the protocol (``single``, the training-time
evaluation's), the data set and the number of images. PR curves need matplotlib (the ``plot``
extra); the detections picture only Pillow (:mod:`hambox_torch.inference.drawing`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from hambox_core.evaluation import widerface as wider_eval
from hambox_torch.data.wider import find_image, read_image_or_warn
from hambox_torch.inference.drawing import draw_detections, picture_grid
from hambox_torch.pipeline.detection import detect_images

__all__ = ["detections_figure", "pr_curve_figure", "run_title"]


def run_title(cfg, result, num_images: int) -> str:
    """Two lines: the run and its iteration; the protocol, the data set and the image count.

    >>> from types import SimpleNamespace as NS
    >>> print(run_title(NS(name="demo_cpu"), NS(iterations=960, data_root="/d/embedded"), 6))
    demo_cpu, iteration 960
    protocol single, embedded val split, 6 images
    """
    data = Path(result.data_root).name if result.data_root is not None else "?"
    return (
        f"{cfg.name}, iteration {result.iterations}\n"
        f"protocol single, {data} val split, {num_images} images"
    )


def pr_curve_figure(cfg, result, path) -> Path | None:
    """The official PR curves of the last evaluation, one panel per setting, saved to ``path``.

    Returns ``None`` (and writes nothing) when no evaluation ran.
    """
    from hambox_core.evaluation.plots import plot_widerface_pr

    if not result.predictions or result.data_root is None:
        return None
    gt = wider_eval.load_ground_truth(Path(result.data_root) / "eval_tools" / "ground_truth")
    # An evaluation limited to run.eval_max_images covered the first images only.
    gt = gt.head(len(result.predictions))
    curves = wider_eval.pr_curves(result.predictions, gt)
    title = run_title(cfg, result, len(gt)).replace("\n", ": ")
    plot_widerface_pr(curves, name=cfg.name, title=title, path=path)
    return Path(path)


def detections_figure(cfg, result, path, *, num_images: int = 6, score_thr: float = 0.5):
    """A grid of validation images with ground truth (green) and detections (red, score on
    each box, those scoring at least ``score_thr``), a legend on each and the run's title
    (:func:`run_title`), saved to ``path``; returns the path (``None`` without a model)."""
    if result.model is None or result.data_root is None:
        return None
    root = Path(result.data_root)
    gt = wider_eval.load_ground_truth(root / "eval_tools" / "ground_truth")
    model = result.model
    was_training = model.training
    model.eval()
    tiles = []
    try:
        for i in range(min(num_images, len(gt))):
            event, stem = gt.keys()[i]
            image_path = find_image(root / "WIDER_val" / "images", event, stem)
            tensor = read_image_or_warn(image_path, "left out of the figure")
            if tensor is None:  # warned by the reader; the figure shows the others
                continue
            ((boxes, scores),) = detect_images(model, [tensor])
            xywh = torch.as_tensor(gt.image_boxes(i), dtype=torch.float32).reshape(-1, 4)
            faces = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1)
            tiles.append(
                draw_detections(
                    tensor,
                    boxes.float().cpu().numpy(),
                    scores.float().cpu().numpy(),
                    ground_truth=faces.numpy(),
                    score_thr=score_thr,
                    title=f"{event}/{stem}",
                )
            )
    finally:
        model.train(was_training)
    if not tiles:
        return None
    picture_grid(tiles, columns=3, title=run_title(cfg, result, len(tiles))).save(path)
    return Path(path)
