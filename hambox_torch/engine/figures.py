"""Figures at the end of a training run: PR curves and a picture of detections.

Used by ``examples/train_widerface.py``; both read what :func:`hambox_torch.engine.train.train`
returns. PR curves need matplotlib (the ``plot`` extra); the detections picture only Pillow.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hambox_core.evaluation import widerface as wider_eval
from hambox_torch.data.wider import find_image, read_image_or_warn
from hambox_torch.pipeline.detection import detect_images

__all__ = ["detections_figure", "pr_curve_figure"]


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
    plot_widerface_pr(curves, name=cfg.name, path=path)
    return Path(path)


def detections_figure(cfg, result, path, *, num_images: int = 6, score_thr: float = 0.5):
    """A grid of validation images with ground truth (green) and detections (red, with score
    at least ``score_thr``), saved to ``path``; returns the path (``None`` without a model)."""
    from PIL import Image, ImageDraw

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
            pixels = (tensor * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
            picture = Image.fromarray(pixels)
            draw = ImageDraw.Draw(picture)
            for x, y, w, h in gt.image_boxes(i):
                draw.rectangle([x, y, x + w, y + h], outline=(0, 220, 0), width=1)
            for box, score in zip(boxes.tolist(), scores.tolist(), strict=True):
                if score >= score_thr:
                    draw.rectangle(box, outline=(255, 40, 40), width=2)
            tiles.append(picture)
    finally:
        model.train(was_training)
    cols = min(3, len(tiles))
    rows = -(-len(tiles) // cols)
    tw = max(t.width for t in tiles)
    th = max(t.height for t in tiles)
    sheet = Image.new("RGB", (cols * tw, rows * th), (255, 255, 255))
    for k, t in enumerate(tiles):
        sheet.paste(t, ((k % cols) * tw, (k // cols) * th))
    sheet.save(path)
    return Path(path)
