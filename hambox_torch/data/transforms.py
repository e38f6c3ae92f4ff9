"""Training and evaluation transforms over ``(image, target)`` pairs, with explicit randomness.

Every transform here is a :class:`DetectionTransform`: a callable
``transform(image, target, rng) -> (image, target)`` where

* ``image`` is a :class:`torchvision.tv_tensors.Image` (or plain tensor) of shape (3, H, W),
  RGB, uint8 in [0, 255] or float in [0, 1];
* ``target`` is a dict whose ``"boxes"`` entry is a :class:`torchvision.tv_tensors.BoundingBoxes`
  (G, 4), float32, XYXY, with ``canvas_size == (H, W)``; the entries named in
  :data:`PER_FACE_KEYS` are filtered together with the boxes, every other entry (``"image_id"``,
  ``"orig_size"``, ...) is passed through unchanged;
* ``rng`` is a :class:`numpy.random.Generator`, the **only** source of randomness.

How randomness flows: :class:`~hambox_torch.data.wider.WiderFaceDataset` builds one generator
per sample from ``(seed, epoch, index)`` and hands it to its transform; :class:`Compose` passes
the same generator down its list. A sample therefore depends on nothing but those three numbers,
not on DataLoader workers, their order or any global random state, which is what makes an
interrupted training resume exactly. A torchvision ``v2`` transform (or any callable
``t(image, target)``) may be placed in a :class:`Compose`: :func:`apply_transform` runs it with
torch's CPU generator seeded from ``rng`` and restores the global state afterwards.

Boxes follow the project convention (continuous pixels, no "+1"): a geometric transform maps
them with the exact affine map it applied to the pixels, clips them to the output canvas, and
drops those left with zero area.

Examples
--------
>>> import numpy as np, torch
>>> from torchvision import tv_tensors
>>> image = tv_tensors.Image(torch.zeros(3, 40, 60, dtype=torch.uint8))
>>> boxes = tv_tensors.BoundingBoxes([[10, 5, 20, 25]], format="XYXY", canvas_size=(40, 60))
>>> out, tgt = train_transforms(32)(image, {"boxes": boxes}, np.random.default_rng(0))
>>> tuple(out.shape), out.dtype, tgt["boxes"].canvas_size
((3, 32, 32), torch.float32, (32, 32))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

__all__ = [
    "DAS_ANCHOR_SIZES",
    "MEAN_RGB",
    "PER_FACE_KEYS",
    "Compose",
    "DataAnchorSampling",
    "DataAnchorSamplingOrCrop",
    "DetectionTransform",
    "DropSmallFaces",
    "PhotometricDistort",
    "RandomHorizontalFlip",
    "RandomSquareCrop",
    "ToFloat",
    "apply_transform",
    "eval_transforms",
    "render_window",
    "train_transforms",
]

#: Fill colour (RGB, 0..255) of canvas regions that no image pixel covers: the per-channel
#: mean of the SSD / PyramidBox recipes ((104, 117, 123) in their BGR order).
MEAN_RGB = (123, 117, 104)

#: Target entries holding one row per face; they are filtered together with ``"boxes"``.
PER_FACE_KEYS = ("boxes", "labels")

#: Anchor sizes of data-anchor-sampling (PyramidBox): ``16 * 2**i`` for ``i = 0..5``.
DAS_ANCHOR_SIZES = (16, 32, 64, 128, 256, 512)

# Grey weights of torchvision's rgb_to_grayscale (ITU-R 601), used by contrast and saturation.
_GRAY = np.array([0.299, 0.587, 0.114])
# RGB <-> YIQ (NTSC); a hue shift is a rotation of the I-Q chroma plane.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


# --------------------------------------------------------------------------------------------
# plumbing
# --------------------------------------------------------------------------------------------


class DetectionTransform:
    """Base class: ``transform(image, target, rng) -> (image, target)``.

    Subclasses implement ``__call__``; they must draw every random number from ``rng`` (a
    :class:`numpy.random.Generator`) and must not modify their inputs in place.
    """

    def __call__(self, image, target: dict, rng: np.random.Generator):
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def apply_transform(transform, image, target: dict, rng: np.random.Generator):
    """Run one transform with the generator ``rng``, whatever kind of transform it is.

    A :class:`DetectionTransform` receives ``rng``. Any other callable (a torchvision ``v2``
    transform, say) is called as ``transform(image, target)`` with torch's CPU random generator
    seeded from ``rng``; the global torch random state is restored afterwards.

    Parameters
    ----------
    transform : DetectionTransform or callable
    image : tv_tensors.Image of shape (3, H, W)
    target : dict
    rng : numpy.random.Generator

    Returns
    -------
    tuple (image, target)
    """
    if isinstance(transform, DetectionTransform):
        return transform(image, target, rng)
    seed = int(rng.integers(2**63))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return transform(image, target)


class Compose(DetectionTransform):
    """Apply transforms in order, all drawing from the one generator.

    Parameters
    ----------
    transforms : sequence of DetectionTransform or callable
        Other callables are run through :func:`apply_transform`.
    """

    def __init__(self, transforms: Sequence):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise ValueError(f"transforms must be callables, got {t!r}")

    def __call__(self, image, target, rng):
        for t in self.transforms:
            image, target = apply_transform(t, image, target, rng)
        return image, target


def _plain(x: torch.Tensor) -> torch.Tensor:
    return x.as_subclass(torch.Tensor)


def _check_image(image) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be a (3, H, W) tensor, got {shape}")
    if image.dtype != torch.uint8 and not image.dtype.is_floating_point:
        raise ValueError(f"image must be uint8 or floating point, got {image.dtype}")
    return _plain(image)


def _boxes_of(target: dict, image_hw: tuple[int, int]) -> torch.Tensor:
    """The target's boxes as a plain float32 (G, 4) XYXY tensor."""
    if not isinstance(target, dict) or "boxes" not in target:
        raise ValueError("target must be a dict with a 'boxes' entry")
    boxes = target["boxes"]
    if isinstance(boxes, tv_tensors.BoundingBoxes):
        if boxes.format != tv_tensors.BoundingBoxFormat.XYXY:
            raise ValueError(f"target['boxes'] must be in XYXY format, got {boxes.format}")
        if tuple(boxes.canvas_size) != tuple(image_hw):
            raise ValueError(
                f"target['boxes'].canvas_size {tuple(boxes.canvas_size)} does not match the "
                f"image size {tuple(image_hw)}"
            )
    boxes = _plain(torch.as_tensor(boxes)).to(torch.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"target['boxes'] must have shape (G, 4), got {tuple(boxes.shape)}")
    return boxes


def _new_target(target: dict, boxes: torch.Tensor, canvas_hw, keep=None) -> dict:
    """A copy of ``target`` with new boxes on a new canvas; per-face entries filtered by keep."""
    out = dict(target)
    if keep is not None:
        for key in PER_FACE_KEYS:
            if key != "boxes" and key in out:
                out[key] = out[key][keep]
    out["boxes"] = tv_tensors.BoundingBoxes(
        boxes.to(torch.float32), format="XYXY", canvas_size=(int(canvas_hw[0]), int(canvas_hw[1]))
    )
    return out


def _fill_value(fill, dtype: torch.dtype) -> list[float]:
    if dtype == torch.uint8:
        return [float(v) for v in fill]
    return [float(v) / 255.0 for v in fill]


def _check_fill(fill) -> tuple[int, int, int]:
    vals = tuple(fill)
    if len(vals) != 3 or not all(0 <= v <= 255 for v in vals):
        raise ValueError(f"fill must be three values in [0, 255], got {fill!r}")
    return vals


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    return int(size)


def _check_prob(p, name: str) -> float:
    if not (isinstance(p, int | float) and 0.0 <= p <= 1.0):
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    return float(p)


def render_window(image: torch.Tensor, window, out_hw, fill=MEAN_RGB):
    """Crop a window (possibly reaching outside the image), resize it, pad with ``fill``.

    The part of ``window`` inside the image is cropped at whole input pixels, resized
    (bilinear, antialiased) to the matching part of the output canvas, and the rest of the
    canvas is filled. Rounding the visible part to whole pixels moves its edges by at most half
    a pixel; the returned affine map is the one actually applied, so boxes mapped with it stay
    exactly on the image content.

    Parameters
    ----------
    image : Tensor of shape (3, H, W), uint8 or float
    window : tuple of 4 floats
        ``(x0, y0, x1, y1)`` in input pixels, ``x1 > x0`` and ``y1 > y0``.
    out_hw : tuple of 2 ints
        Output ``(height, width)``.
    fill : tuple of 3 numbers
        RGB fill colour in 0..255 (scaled to [0, 1] for float images).

    Returns
    -------
    out : Tensor of shape (3, out_h, out_w), the dtype of ``image``
    affine : tuple of 4 floats
        ``(ax, ay, bx, by)``: input point ``(x, y)`` lands at ``(ax * x + bx, ay * y + by)``.

    Examples
    --------
    >>> img = torch.arange(16, dtype=torch.uint8).reshape(1, 4, 4).expand(3, 4, 4)
    >>> out, affine = render_window(img, (2, 2, 6, 6), (4, 4), fill=(0, 0, 0))
    >>> out[0].tolist(), affine
    ([[10, 11, 0, 0], [14, 15, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], (1.0, 1.0, -2.0, -2.0))
    """
    img = _check_image(image)
    h, w = img.shape[-2:]
    out_h, out_w = int(out_hw[0]), int(out_hw[1])
    wx0, wy0, wx1, wy1 = (float(v) for v in window)
    if not (wx1 > wx0 and wy1 > wy0):
        raise ValueError(f"window must have x1 > x0 and y1 > y0, got {window!r}")
    sx, sy = out_w / (wx1 - wx0), out_h / (wy1 - wy0)

    def visible(lo, hi, size, scale, out_size):
        i0 = min(max(round(max(lo, 0.0)), 0), size)
        i1 = min(max(round(min(hi, float(size))), 0), size)
        d0 = min(max(round((i0 - lo) * scale), 0), out_size)
        d1 = min(max(round((i1 - lo) * scale), 0), out_size)
        return i0, i1, d0, d1

    ix0, ix1, dx0, dx1 = visible(wx0, wx1, w, sx, out_w)
    iy0, iy1, dy0, dy1 = visible(wy0, wy1, h, sy, out_h)
    if ix1 <= ix0 or iy1 <= iy0 or dx1 <= dx0 or dy1 <= dy0:
        # Nothing of the image is visible at the output resolution: a canvas of fill colour.
        out = torch.empty((3, out_h, out_w), dtype=img.dtype)
        out[:] = torch.tensor(_fill_value(fill, img.dtype), dtype=img.dtype)[:, None, None]
        return out, (sx, sy, -wx0 * sx, -wy0 * sy)
    crop = img[:, iy0:iy1, ix0:ix1]
    dh, dw = dy1 - dy0, dx1 - dx0
    if crop.shape[-2:] != (dh, dw):
        crop = F.resize(crop, [dh, dw], antialias=True)
    if (dy0, dx0, dh, dw) == (0, 0, out_h, out_w):
        out = crop.contiguous()
    else:
        out = torch.empty((3, out_h, out_w), dtype=img.dtype)
        out[:] = torch.tensor(_fill_value(fill, img.dtype), dtype=img.dtype)[:, None, None]
        out[:, dy0:dy1, dx0:dx1] = crop
    ax, ay = dw / (ix1 - ix0), dh / (iy1 - iy0)
    return out, (ax, ay, dx0 - ix0 * ax, dy0 - iy0 * ay)


def _map_boxes(boxes: torch.Tensor, affine) -> torch.Tensor:
    ax, ay, bx, by = affine
    b = boxes.to(torch.float64)
    scale = torch.tensor([ax, ay, ax, ay], dtype=torch.float64)
    shift = torch.tensor([bx, by, bx, by], dtype=torch.float64)
    return b * scale + shift


def _finish_crop(target, boxes64: torch.Tensor, keep: torch.Tensor, out_hw) -> dict:
    """Clip mapped boxes to the canvas, keep ``keep`` ones with positive area after clipping."""
    h, w = out_hw
    b = boxes64.clone()
    b[:, 0::2] = b[:, 0::2].clamp(0, w)
    b[:, 1::2] = b[:, 1::2].clamp(0, h)
    keep = keep & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    return _new_target(target, b[keep].to(torch.float32), out_hw, keep)


def _centres_inside(boxes64: torch.Tensor, out_hw, *, strict: bool) -> torch.Tensor:
    cx = (boxes64[:, 0] + boxes64[:, 2]) / 2
    cy = (boxes64[:, 1] + boxes64[:, 3]) / 2
    h, w = out_hw
    if strict:
        return (cx > 0) & (cx < w) & (cy > 0) & (cy < h)
    return (cx >= 0) & (cx <= w) & (cy >= 0) & (cy <= h)


# --------------------------------------------------------------------------------------------
# geometric transforms
# --------------------------------------------------------------------------------------------


class DataAnchorSampling(DetectionTransform):
    """Data-anchor-sampling of PyramidBox (Tang et al., ECCV 2018, section 3.4), at a fixed size.

    One face is chosen uniformly; with ``s_face = sqrt(w * h)`` and the anchor sizes
    ``s_i = 16 * 2**i`` (``i = 0..5``), ``i_anchor = argmin_i |s_i - s_face|`` (the smaller
    size on a tie), a target index ``i_target`` is drawn uniformly from
    ``{0, ..., min(5, i_anchor + 1)}`` and a target size ``s_target`` uniformly from
    ``(s_{i_target} / 2, 2 * s_{i_target})``. The image is resized by ``s_target / s_face`` and
    a ``size x size`` window containing the chosen face is cut at a uniformly random position:
    where the resized image is at least ``size`` wide the window stays inside it, otherwise it
    covers the whole image width and the rest is filled with ``fill``. If the face itself is
    larger than the window, the window lies inside the face and contains its centre.

    Boxes are mapped and clipped to the window; faces whose centre leaves the window are
    removed (the chosen face is always kept). An image without faces gets a random
    ``size x size`` window at its own scale. Only the visible part of the image is resized
    (:func:`render_window`), so the cost does not grow with the resize factor; rounding that
    part to whole input pixels changes the drawn scale by at most half an input pixel over
    the window.

    Parameters
    ----------
    size : int, default 640
        Output side in pixels.
    anchor_sizes : sequence of float, default (16, 32, 64, 128, 256, 512)
        The ``s_i``.
    fill : tuple of 3 ints, default MEAN_RGB
        RGB colour of the padding.
    """

    def __init__(self, size: int = 640, *, anchor_sizes=DAS_ANCHOR_SIZES, fill=MEAN_RGB):
        self.size = _check_size(size)
        sizes = np.asarray(anchor_sizes, dtype=np.float64)
        if sizes.ndim != 1 or sizes.size == 0 or not (sizes > 0).all():
            raise ValueError(f"anchor_sizes must be positive numbers, got {anchor_sizes!r}")
        if not (np.diff(sizes) > 0).all():
            raise ValueError(f"anchor_sizes must be increasing, got {anchor_sizes!r}")
        self.anchor_sizes = tuple(float(s) for s in sizes)
        self.fill = _check_fill(fill)

    def draw_scale(self, face_size: float, rng: np.random.Generator) -> tuple[int, float]:
        """Draw ``(i_target, s_target)`` for a face of size ``sqrt(w * h) = face_size``.

        Examples
        --------
        >>> das = DataAnchorSampling()
        >>> i, s = das.draw_scale(20.0, np.random.default_rng(0))
        >>> i in (0, 1), 8.0 < s < 64.0
        (True, True)
        """
        sizes = np.asarray(self.anchor_sizes)
        i_anchor = int(np.argmin(np.abs(sizes - face_size)))
        i_target = int(rng.integers(0, min(len(sizes) - 1, i_anchor + 1) + 1))
        s = sizes[i_target]
        return i_target, float(rng.uniform(s / 2.0, 2.0 * s))

    def _window_start(self, f0, f1, extent, side, rng) -> float:
        """Start of a window of length ``side`` that contains [f0, f1] (see class docstring)."""
        if f1 - f0 <= side:
            lo = max(f1 - side, min(0.0, extent - side))
            hi = min(f0, max(0.0, extent - side))
        else:
            centre = (f0 + f1) / 2.0
            lo, hi = max(f0, centre - side), min(f1 - side, centre)
        hi = max(lo, hi)
        return float(rng.uniform(lo, hi))

    def __call__(self, image, target, rng):
        img = _check_image(image)
        h, w = img.shape[-2:]
        boxes = _boxes_of(target, (h, w))
        g = boxes.shape[0]
        if g == 0:
            ratio, chosen = 1.0, None
            face = (0.0, 0.0, 0.0, 0.0)
        else:
            chosen = int(rng.integers(g))
            x0, y0, x1, y1 = (float(v) for v in boxes[chosen])
            x0, x1 = min(max(x0, 0.0), w), min(max(x1, 0.0), w)
            y0, y1 = min(max(y0, 0.0), h), min(max(y1, 0.0), h)
            s_face = math.sqrt(max(x1 - x0, 0.0) * max(y1 - y0, 0.0))
            if s_face <= 0.0:
                ratio = 1.0
            else:
                _, s_target = self.draw_scale(s_face, rng)
                ratio = s_target / s_face
            face = (x0, y0, x1, y1)
        side = self.size / ratio  # window side in input pixels
        if chosen is None:
            # Any start that keeps the window inside the image (or the image inside it).
            u = float(rng.uniform(min(0.0, w - side), max(0.0, w - side)))
            v = float(rng.uniform(min(0.0, h - side), max(0.0, h - side)))
        else:
            u = self._window_start(face[0], face[2], w, side, rng)
            v = self._window_start(face[1], face[3], h, side, rng)
        out_hw = (self.size, self.size)
        out, affine = render_window(img, (u, v, u + side, v + side), out_hw, self.fill)
        mapped = _map_boxes(boxes, affine)
        keep = _centres_inside(mapped, out_hw, strict=False)
        if chosen is not None:
            keep[chosen] = True
        return tv_tensors.Image(out), _finish_crop(target, mapped, keep, out_hw)


class RandomSquareCrop(DetectionTransform):
    """Random square crop of a fraction of the short side, resized to ``size x size``.

    The S3FD / RetinaFace training crop: a scale is drawn from ``scales``, a square of side
    ``round(scale * min(H, W))`` is placed uniformly inside the image, and the faces whose
    centre lies strictly inside it are kept (clipped to it). A crop that keeps no face is
    rejected and drawn again, up to ``max_trials`` times; after that the whole image is padded
    to a square (right and bottom, with ``fill``) instead. An image without faces takes the
    first crop drawn.

    Parameters
    ----------
    size : int, default 640
        Output side in pixels.
    scales : sequence of float in (0, 1], default (0.3, 0.45, 0.6, 0.8, 1.0)
        Crop side as a fraction of the short side (RetinaFace's values).
    max_trials : int, default 250
    fill : tuple of 3 ints, default MEAN_RGB
    """

    def __init__(
        self,
        size: int = 640,
        *,
        scales: Sequence[float] = (0.3, 0.45, 0.6, 0.8, 1.0),
        max_trials: int = 250,
        fill=MEAN_RGB,
    ):
        self.size = _check_size(size)
        scales = tuple(float(s) for s in scales)
        if not scales or not all(0.0 < s <= 1.0 for s in scales):
            raise ValueError(f"scales must be non-empty fractions in (0, 1], got {scales!r}")
        self.scales = scales
        if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
            raise ValueError(f"max_trials must be a positive integer, got {max_trials!r}")
        self.max_trials = max_trials
        self.fill = _check_fill(fill)

    def __call__(self, image, target, rng):
        img = _check_image(image)
        h, w = img.shape[-2:]
        boxes = _boxes_of(target, (h, w))
        b64 = boxes.to(torch.float64)
        cx = (b64[:, 0] + b64[:, 2]) / 2
        cy = (b64[:, 1] + b64[:, 3]) / 2
        short = min(h, w)
        window = None
        for _ in range(self.max_trials):
            scale = self.scales[int(rng.integers(len(self.scales)))]
            side = max(1, round(scale * short))
            x0 = int(rng.integers(0, w - side + 1))
            y0 = int(rng.integers(0, h - side + 1))
            inside = (cx > x0) & (cx < x0 + side) & (cy > y0) & (cy < y0 + side)
            if boxes.shape[0] == 0 or bool(inside.any()):
                window = (x0, y0, x0 + side, y0 + side)
                break
        if window is None:
            window = (0, 0, max(h, w), max(h, w))
        out_hw = (self.size, self.size)
        out, affine = render_window(img, window, out_hw, self.fill)
        mapped = _map_boxes(boxes, affine)
        keep = _centres_inside(mapped, out_hw, strict=True)
        return tv_tensors.Image(out), _finish_crop(target, mapped, keep, out_hw)


class DataAnchorSamplingOrCrop(DetectionTransform):
    """:class:`DataAnchorSampling` with probability ``p``, else :class:`RandomSquareCrop`.

    An image without faces always takes the square crop. Keyword arguments other than ``p``
    and ``size`` go to :class:`DataAnchorSampling` (``anchor_sizes``) or
    :class:`RandomSquareCrop` (``scales``, ``max_trials``); ``fill`` to both.
    """

    def __init__(
        self,
        p: float = 0.5,
        size: int = 640,
        *,
        anchor_sizes=DAS_ANCHOR_SIZES,
        scales: Sequence[float] = (0.3, 0.45, 0.6, 0.8, 1.0),
        max_trials: int = 250,
        fill=MEAN_RGB,
    ):
        self.p = _check_prob(p, "p")
        self.das = DataAnchorSampling(size, anchor_sizes=anchor_sizes, fill=fill)
        self.crop = RandomSquareCrop(size, scales=scales, max_trials=max_trials, fill=fill)

    def __call__(self, image, target, rng):
        use_das = rng.random() < self.p
        if use_das and len(target.get("boxes", ())) > 0:
            return self.das(image, target, rng)
        return self.crop(image, target, rng)


class RandomHorizontalFlip(DetectionTransform):
    """Mirror the image left-right with probability ``p``; a box becomes ``(W - x1, y0, W - x0,
    y1)``.

    Examples
    --------
    >>> img = torch.zeros(3, 4, 10, dtype=torch.uint8)
    >>> b = tv_tensors.BoundingBoxes([[1, 0, 3, 2]], format="XYXY", canvas_size=(4, 10))
    >>> _, t = RandomHorizontalFlip(1.0)(img, {"boxes": b}, np.random.default_rng(0))
    >>> t["boxes"].tolist()
    [[7.0, 0.0, 9.0, 2.0]]
    """

    def __init__(self, p: float = 0.5):
        self.p = _check_prob(p, "p")

    def __call__(self, image, target, rng):
        if not rng.random() < self.p:
            return image, target
        img = _check_image(image)
        h, w = img.shape[-2:]
        boxes = _boxes_of(target, (h, w))
        flipped = torch.stack(
            [w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], dim=1
        ).reshape(-1, 4)
        return tv_tensors.Image(img.flip(-1)), _new_target(target, flipped, (h, w))


class DropSmallFaces(DetectionTransform):
    """Drop faces whose shorter side is below ``min_size`` pixels (at the current resolution).

    Put it after the crop / resize, so that ``min_size`` is measured at the network's input
    resolution: the default 6 px drops faces far below the smallest anchor (16 px x 0.68), which
    no anchor could match and which would only add noise to the loss.

    Parameters
    ----------
    min_size : float, default 6.0
        ``0`` keeps every face with positive area.
    """

    def __init__(self, min_size: float = 6.0):
        if not (isinstance(min_size, int | float) and math.isfinite(min_size) and min_size >= 0):
            raise ValueError(f"min_size must be a finite number >= 0, got {min_size!r}")
        self.min_size = float(min_size)

    def __call__(self, image, target, rng):
        img = _check_image(image)
        h, w = img.shape[-2:]
        boxes = _boxes_of(target, (h, w))
        wh = boxes[:, 2:] - boxes[:, :2]
        keep = (wh.min(dim=1).values >= self.min_size) & (wh > 0).all(dim=1)
        if bool(keep.all()):
            return image, target
        return image, _new_target(target, boxes[keep], (h, w), keep)


# --------------------------------------------------------------------------------------------
# colour
# --------------------------------------------------------------------------------------------


def _hue_matrix(radians: float) -> np.ndarray:
    c, s = math.cos(radians), math.sin(radians)
    rot = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    return _YIQ_TO_RGB @ rot @ _RGB_TO_YIQ


class PhotometricDistort(DetectionTransform):
    """SSD-style colour distortion: brightness, contrast, saturation and hue, each with
    probability ``p``.

    The SSD order: brightness first, then contrast either before or after (probability 1/2)
    saturation and hue. Brightness adds ``delta ~ U(-brightness, brightness)`` (in [0, 1]
    units; SSD's 32/255); contrast blends with the mean grey level by a factor
    ``U(*contrast)``; saturation blends with the pixel's grey level by ``U(*saturation)``;
    hue rotates the chroma plane (YIQ) by ``U(-hue, hue)`` degrees. Every step is affine in
    RGB, so the four are composed into one 3x3 matrix and offset, applied once and clamped to
    [0, 1] at the end (like SSD, which does not clamp between steps either). The YIQ rotation
    stands in for an HSV hue shift at a small fraction of its cost.

    The output image is float32 in [0, 1] (a uint8 input is scaled by 1/255 first).

    Parameters
    ----------
    p : float, default 0.5
        Probability of each of the four steps.
    brightness : float, default 32 / 255
    contrast : tuple of 2 floats, default (0.5, 1.5)
    saturation : tuple of 2 floats, default (0.5, 1.5)
    hue : float, default 18.0
        Degrees.
    """

    def __init__(
        self,
        p: float = 0.5,
        *,
        brightness: float = 32.0 / 255.0,
        contrast: tuple[float, float] = (0.5, 1.5),
        saturation: tuple[float, float] = (0.5, 1.5),
        hue: float = 18.0,
    ):
        self.p = _check_prob(p, "p")
        if not (math.isfinite(brightness) and brightness >= 0):
            raise ValueError(f"brightness must be a finite number >= 0, got {brightness!r}")
        if not (math.isfinite(hue) and 0 <= hue <= 180):
            raise ValueError(f"hue must be in [0, 180] degrees, got {hue!r}")
        for name, rng_ in (("contrast", contrast), ("saturation", saturation)):
            lo, hi = rng_
            if not (0 <= lo <= hi and math.isfinite(hi)):
                raise ValueError(f"{name} must be a range (lo, hi) with 0 <= lo <= hi")
        self.brightness = float(brightness)
        self.contrast = (float(contrast[0]), float(contrast[1]))
        self.saturation = (float(saturation[0]), float(saturation[1]))
        self.hue = float(hue)

    def colour_map(self, channel_mean, rng: np.random.Generator):
        """Draw the distortion as ``(A (3, 3), b (3,))``: ``out = clamp(A @ rgb + b, 0, 1)``.

        ``channel_mean`` (3,) is the input's mean colour in [0, 1] (for the contrast step).
        """
        mean = np.asarray(channel_mean, dtype=np.float64)
        a, b = np.eye(3), np.zeros(3)
        if rng.random() < self.p:
            b = b + rng.uniform(-self.brightness, self.brightness)
        contrast_first = rng.random() < 0.5

        def contrast(a, b):
            if rng.random() < self.p:
                c = rng.uniform(*self.contrast)
                grey = float(_GRAY @ (a @ mean + b))
                a, b = c * a, c * b + (1.0 - c) * grey
            return a, b

        if contrast_first:
            a, b = contrast(a, b)
        if rng.random() < self.p:
            s = rng.uniform(*self.saturation)
            m = s * np.eye(3) + (1.0 - s) * np.outer(np.ones(3), _GRAY)
            a, b = m @ a, m @ b
        if rng.random() < self.p:
            m = _hue_matrix(math.radians(rng.uniform(-self.hue, self.hue)))
            a, b = m @ a, m @ b
        if not contrast_first:
            a, b = contrast(a, b)
        return a, b

    def __call__(self, image, target, rng):
        img = _check_image(image)
        if img.dtype == torch.uint8:
            # Exact integer sums: the mean does not depend on how a reduction is threaded.
            mean = img.sum(dim=(1, 2), dtype=torch.int64).double() / (255.0 * img[0].numel())
            x = F.to_dtype(img, torch.float32, scale=True)
        else:
            x = img.to(torch.float32)
            mean = x.double().mean(dim=(1, 2))
        a, b = self.colour_map(mean.numpy(), rng)
        if np.array_equal(a, np.eye(3)) and not b.any():
            return tv_tensors.Image(x), target
        a32, b32 = a.astype(np.float32).tolist(), b.astype(np.float32).tolist()
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
        for c in range(3):
            # Element-wise (no matmul): the same bits whatever the thread count.
            ch = x[0] * a32[c][0]
            ch.add_(x[1], alpha=a32[c][1]).add_(x[2], alpha=a32[c][2]).add_(b32[c])
            out[c] = ch
        return tv_tensors.Image(out.clamp_(0.0, 1.0)), target


class ToFloat(DetectionTransform):
    """Convert the image to float32 in [0, 1] (uint8 is divided by 255; float is cast)."""

    def __call__(self, image, target, rng=None):
        img = _check_image(image)
        if img.dtype == torch.uint8:
            return tv_tensors.Image(F.to_dtype(img, torch.float32, scale=True)), target
        return tv_tensors.Image(img.to(torch.float32)), target


# --------------------------------------------------------------------------------------------
# recipes
# --------------------------------------------------------------------------------------------


def train_transforms(
    image_size: int = 640,
    *,
    das_prob: float = 0.5,
    flip_prob: float = 0.5,
    min_face: float = 6.0,
    photometric: bool = True,
) -> Compose:
    """The training pipeline of the paper's recipe (section 4).

    ``DataAnchorSamplingOrCrop(das_prob, image_size)`` → ``RandomHorizontalFlip(flip_prob)``
    → ``PhotometricDistort()`` (if ``photometric``) → ``DropSmallFaces(min_face)`` →
    ``ToFloat``. The colour step runs after the crop, on ``image_size x image_size`` pixels,
    whatever the input size. The parameters are the config's ``data`` section's.

    Raises
    ------
    ValueError
        A value out of range, named by this function's parameter.

    Returns
    -------
    Compose
        Output image float32 (3, image_size, image_size) in [0, 1]; boxes on that canvas.
    """

    def named(name: str, build):
        # The steps name their own parameters; say which argument of this function it was.
        try:
            return build()
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None

    if not isinstance(photometric, bool):
        raise ValueError(f"photometric must be a bool, got {photometric!r}")
    named("image_size", lambda: _check_size(image_size))
    steps: list[Callable] = [
        named("das_prob", lambda: DataAnchorSamplingOrCrop(das_prob, image_size)),
        named("flip_prob", lambda: RandomHorizontalFlip(flip_prob)),
    ]
    if photometric:
        steps.append(PhotometricDistort())
    steps += [named("min_face", lambda: DropSmallFaces(min_face)), ToFloat()]
    return Compose(steps)


def eval_transforms() -> Compose:
    """The evaluation pipeline: no resize, the image converted to float32 in [0, 1]."""
    return Compose([ToFloat()])
