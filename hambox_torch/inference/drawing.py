"""Pictures of detections: an image with its boxes, their scores, a title and a legend.

One place draws boxes for every picture hambox makes: ``hambox detect --draw`` (one picture
per image), the detections figure at the end of a training run
(:func:`hambox_torch.engine.figures.detections_figure`) and the guide's pictures.

* :func:`draw_detections` returns a copy of the image with a white band on top: the title, if
  given, then the legend — ground truth in green (when given, with its count), detections in
  red with the score threshold and their count. Each detection's score is written on its box
  (two decimals, white on red, above the box's top-left corner).
* :func:`picture_grid` lays several pictures out in rows under a common title.

Only Pillow is needed (no matplotlib). Text uses Pillow's built-in font (scalable from Pillow
10.1; older versions fall back to its small bitmap font).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "DETECTION_COLOUR",
    "GROUND_TRUTH_COLOUR",
    "as_picture",
    "draw_detections",
    "picture_grid",
]

#: RGB colour of ground-truth boxes.
GROUND_TRUTH_COLOUR = (0, 190, 0)
#: RGB colour of detections (and of their score labels).
DETECTION_COLOUR = (230, 30, 30)

_TEXT = (20, 20, 20)
_WHITE = (255, 255, 255)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font only
        return ImageFont.load_default()


def _text_size(draw, text: str, font) -> tuple[int, int]:
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    return int(x1 - x0), int(y1 - y0)


def as_picture(image):
    """An RGB ``PIL.Image.Image`` of ``image`` (a copy, never the caller's object).

    Parameters
    ----------
    image : PIL.Image.Image, ndarray or Tensor
        A PIL image; an ndarray of shape (H, W, 3) or (H, W), uint8; or a tensor of shape
        (3, H, W), uint8 or float in [0, 1] (as :func:`hambox_torch.data.wider.read_image`
        and the detectors take them).

    Returns
    -------
    PIL.Image.Image

    Raises
    ------
    TypeError
        If ``image`` is none of those.
    ValueError
        If its shape is not one of those.

    Examples
    --------
    >>> as_picture(np.zeros((4, 6, 3), np.uint8)).size
    (6, 4)
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.ndim != 3 or t.shape[0] != 3:
            raise ValueError(f"image: a tensor must have shape (3, H, W), got {tuple(t.shape)}")
        if t.is_floating_point():
            t = (t.float().clamp(0, 1) * 255).round()
        image = t.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"image must be a PIL image, an ndarray or a tensor, got {type(image).__name__}"
        )
    if image.dtype != np.uint8 or not (
        image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)
    ):
        raise ValueError(
            f"image: an ndarray must be uint8 of shape (H, W, 3) or (H, W), got {image.dtype} "
            f"{image.shape}"
        )
    return Image.fromarray(image).convert("RGB")


def _as_rows(values, name: str, width: int | None) -> np.ndarray:
    arr = np.asarray(values if values is not None else np.zeros((0, width or 1)), np.float64)
    if width is None:
        arr = arr.reshape(-1)
    elif arr.size == 0:
        arr = arr.reshape(0, width)
    elif arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{name} must have shape (N, {width}), got {arr.shape}")
    return arr


def draw_detections(
    image,
    boxes=None,
    scores=None,
    *,
    ground_truth=None,
    score_thr: float = 0.5,
    title: str | None = None,
    show_scores: bool = True,
):
    """The image with its detections (red, score on each) and ground truth (green).

    Parameters
    ----------
    image : PIL.Image.Image, ndarray or Tensor
        As :func:`as_picture` takes it.
    boxes : array_like of shape (N, 4), optional
        Detections, xyxy in the image's pixels. Without boxes and scores the legend names the
        ground truth only (a picture of annotations).
    scores : array_like of shape (N,), optional
        Their scores; required with ``boxes``.
    ground_truth : array_like of shape (G, 4), optional
        Faces, xyxy in the image's pixels; drawn first (under the detections) and counted in
        the legend. Without it the legend names detections only.
    score_thr : float, default 0.5
        Only detections scoring at least this are drawn and counted.
    title : str, optional
        First line of the band above the image (e.g. the file, the checkpoint, the protocol).
    show_scores : bool, default True
        Write each drawn detection's score on its box; where two labels would overlap (a
        crowd), the lower score's is left out.

    Returns
    -------
    PIL.Image.Image
        RGB, as wide as the image (at least wide enough for the legend), taller by the band.

    Raises
    ------
    ValueError
        On boxes or scores of the wrong shape, or scores without boxes.

    Examples
    --------
    >>> picture = draw_detections(
    ...     np.zeros((60, 80, 3), np.uint8), [[10, 10, 30, 30], [40, 5, 70, 50]], [0.9, 0.2],
    ...     ground_truth=[[12, 11, 31, 29]], title="example")
    >>> picture.width >= 80, picture.height > 60
    (True, True)
    """
    from PIL import Image, ImageDraw

    picture = as_picture(image)
    no_detections = boxes is None and scores is None
    boxes = _as_rows(boxes, "boxes", 4)
    scores = _as_rows(scores, "scores", None)
    if scores.shape[0] != boxes.shape[0]:
        raise ValueError(
            f"scores must have one entry per box: {boxes.shape[0]} boxes, {scores.shape[0]} scores"
        )
    gt = None if ground_truth is None else _as_rows(ground_truth, "ground_truth", 4)
    w, h = picture.size
    line = max(1, round(max(w, h) / 400))
    draw = ImageDraw.Draw(picture)
    if gt is not None:
        for box in gt:
            draw.rectangle([float(v) for v in box], outline=GROUND_TRUTH_COLOUR, width=line)
    kept = np.flatnonzero(scores >= score_thr)
    kept = kept[np.argsort(scores[kept], kind="stable")]  # best drawn last, on top
    label_font = _font(max(9, min(14, round(max(w, h) / 45))))
    for k in kept:
        draw.rectangle([float(v) for v in boxes[k]], outline=DETECTION_COLOUR, width=line)
    if show_scores:
        placed: list[tuple[float, float, float, float]] = []
        for k in kept[::-1]:  # best first: a label that would cover a better one is left out
            text = f"{scores[k]:.2f}"
            tw, th = _text_size(draw, text, label_font)
            x0, y0 = float(boxes[k][0]), float(boxes[k][1])
            top = y0 - th - 3 if y0 - th - 3 >= 0 else y0  # inside the box at the top edge
            rect = (x0, top, x0 + tw + 3, top + th + 3)
            if any(
                rect[0] < r[2] and r[0] < rect[2] and rect[1] < r[3] and r[1] < rect[3]
                for r in placed
            ):
                continue
            placed.append(rect)
            draw.rectangle(list(rect), fill=DETECTION_COLOUR)
            draw.text((x0 + 1.5, top + 1), text, fill=_WHITE, font=label_font, anchor="lt")

    font = _font(16)
    legend = []
    if gt is not None:
        legend.append((GROUND_TRUTH_COLOUR, f"ground truth ({gt.shape[0]})"))
    if not no_detections:
        legend.append(
            (DETECTION_COLOUR, f"detections, score >= {score_thr:.2f} ({kept.size}), score on box")
        )
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_h = _text_size(measure, "Ag", font)[1] + 7
    widths = [_text_size(measure, t, font)[0] + 24 for _, t in legend]
    # The legend on one line when it fits the image's width, else one entry per line.
    one_line = sum(widths) + 12 * len(widths) <= w
    legend_lines = 1 if one_line else len(legend)
    title_lines = [] if not title else str(title).splitlines()
    title_w = max((_text_size(measure, t, font)[0] for t in title_lines), default=0)
    legend_w = sum(widths) + 12 * len(widths) if one_line else max(widths, default=0) + 12
    band_w = max(w, title_w + 12, legend_w)
    band_h = 6 + line_h * (len(title_lines) + legend_lines)
    out = Image.new("RGB", (band_w, band_h + h), _WHITE)
    out.paste(picture, (0, band_h))
    draw = ImageDraw.Draw(out)
    y = 4
    for text in title_lines:
        draw.text((6, y), text, fill=_TEXT, font=font, anchor="lt")
        y += line_h
    x = 6
    for (colour, text), width in zip(legend, widths, strict=True):
        draw.rectangle([x, y + 2, x + 16, y + line_h - 7], outline=colour, width=2)
        draw.text((x + 22, y), text, fill=_TEXT, font=font, anchor="lt")
        if one_line:
            x += width + 12
        else:
            y += line_h
    return out


def picture_grid(pictures, *, columns: int = 3, title: str | None = None):
    """Pictures in rows of ``columns``, top-left aligned, under an optional title.

    Parameters
    ----------
    pictures : sequence of PIL.Image.Image
        At least one.
    columns : int, default 3
    title : str, optional
        Lines above the grid (e.g. checkpoint, protocol, data set and image count).

    Returns
    -------
    PIL.Image.Image

    Raises
    ------
    ValueError
        If ``pictures`` is empty or ``columns`` is not positive.

    Examples
    --------
    >>> from PIL import Image
    >>> picture_grid([Image.new("RGB", (10, 8))] * 3, columns=2).size
    (38, 40)
    """
    from PIL import Image, ImageDraw

    pictures = list(pictures)
    if not pictures:
        raise ValueError("pictures must hold at least one picture")
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns!r}")
    gap = 6
    cols = min(columns, len(pictures))
    rows = -(-len(pictures) // cols)
    cell_w = max(p.width for p in pictures)
    cell_h = max(p.height for p in pictures)
    font = _font(18)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    title_lines = [] if not title else str(title).splitlines()
    line_h = _text_size(measure, "Ag", font)[1] + 7
    top = 6 + line_h * len(title_lines)
    width = cols * cell_w + (cols + 1) * gap
    width = max(width, max((_text_size(measure, t, font)[0] + 12 for t in title_lines), default=0))
    sheet = Image.new("RGB", (width, top + rows * (cell_h + gap) + gap), _WHITE)
    draw = ImageDraw.Draw(sheet)
    for k, text in enumerate(title_lines):
        draw.text((6, 4 + k * line_h), text, fill=_TEXT, font=font, anchor="lt")
    for k, p in enumerate(pictures):
        sheet.paste(
            p, (gap + (k % cols) * (cell_w + gap), top + gap + (k // cols) * (cell_h + gap))
        )
    return sheet
