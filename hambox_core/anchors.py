"""Anchor generation on feature-map grids, and the paper's anchor statistics (Fig. 1).

One square anchor per location per level by default (paper section 3.1): level ``l`` has stride
``strides[l]`` and anchor side ``scale * base_sizes[l]``; the anchor at feature-map cell
``(y, x)`` is centred at ``((x + 0.5) * stride, (y + 0.5) * stride)``. A level of an ``H x W``
image has ``ceil(H / stride) x ceil(W / stride)`` cells, which is what a ResNet's stride-2
convolutions with "same" padding produce.

Anchor order (DESIGN.md): level-major (finest level first), then row-major over the feature map
(``y``, then ``x``), then anchor shape (ratio) fastest.

Arrays returned by :meth:`AnchorGenerator.grid_anchors` are read-only and remembered (weakly)
together with their grid layout, which lets the matchers find the anchors near a face in O(1)
instead of scanning all of them. Copy them (``anchors.copy()``) to get a writable array; a copy
is matched correctly too, through a spatial index built per call.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence

import numpy as np

from ._validation import as_boxes, check_fraction

__all__ = ["AnchorGenerator", "anchor_statistics"]

# Columns of the per-(level, shape) group table the matching kernels read.
# start: index of the group's first anchor; fh, fw: feature-map size; nshape: shapes per
# location; shape: this group's shape index; stride; w, h: anchor width and height.
GROUP_COLUMNS = ("start", "fh", "fw", "nshape", "shape", "stride", "w", "h")

# id(array) -> (weak reference to the array, group table). Only read-only arrays made by
# grid_anchors are registered; an entry dies with its array.
_GRID_REGISTRY: dict[int, tuple[weakref.ref, np.ndarray]] = {}


def _forget(key: int) -> None:
    _GRID_REGISTRY.pop(key, None)


def _register_grid(anchors: np.ndarray, groups: np.ndarray) -> None:
    key = id(anchors)
    _GRID_REGISTRY[key] = (weakref.ref(anchors, lambda _ref, key=key: _forget(key)), groups)


def lookup_grid(anchors) -> np.ndarray | None:
    """Return the group table of ``anchors`` if it is an unmodified :meth:`grid_anchors` result.

    The table is trusted only while the array is the very object that was registered and is
    still read-only, so an array that was made writable (and possibly changed) is matched
    through the general path instead.
    """
    entry = _GRID_REGISTRY.get(id(anchors))
    if entry is None:
        return None
    ref, groups = entry
    if ref() is not anchors or anchors.flags.writeable:
        return None
    return groups


class AnchorGenerator:
    """Square (or ratio-shaped) anchors on the feature-map grids of a detector.

    Parameters
    ----------
    strides : sequence of int, default (4, 8, 16, 32, 64, 128)
        Feature-map stride of each level, finest first.
    base_sizes : sequence of float, default (16, 32, 64, 128, 256, 512)
        Anchor side of each level before ``scale``.
    scale : float, default 0.68
        Multiplier of every base size (paper section 3.1; ``1.0`` is the paper's baseline).
    ratios : sequence of float, default (1.0,)
        Aspect ratios ``h / w``; each gives one anchor per location with area ``side**2``
        (``w = side / sqrt(r)``, ``h = side * sqrt(r)``).

    Examples
    --------
    >>> gen = AnchorGenerator()
    >>> gen.num_anchors_per_level((640, 640))
    [25600, 6400, 1600, 400, 100, 25]
    >>> anchors = gen.grid_anchors((640, 640))
    >>> anchors.shape, anchors.dtype
    ((34125, 4), dtype('float32'))
    >>> anchors[0]
    array([-3.44, -3.44,  7.44,  7.44], dtype=float32)
    """

    def __init__(
        self,
        strides: Sequence[int] = (4, 8, 16, 32, 64, 128),
        base_sizes: Sequence[float] = (16, 32, 64, 128, 256, 512),
        scale: float = 0.68,
        ratios: Sequence[float] = (1.0,),
    ) -> None:
        strides = tuple(strides)
        base_sizes = tuple(base_sizes)
        ratios = tuple(ratios)
        if len(strides) == 0:
            raise ValueError("strides must name at least one level")
        if len(strides) != len(base_sizes):
            raise ValueError(
                f"strides and base_sizes must have the same length, got {len(strides)} and "
                f"{len(base_sizes)}"
            )
        for s in strides:
            if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1:
                raise ValueError(f"strides must be positive integers, got {strides!r}")
        for name, values in (("base_sizes", base_sizes), ("ratios", ratios)):
            if len(values) == 0 or not all(
                isinstance(v, int | float | np.number) and math.isfinite(v) and v > 0
                for v in values
            ):
                raise ValueError(f"{name} must be positive finite numbers, got {values!r}")
        if not (isinstance(scale, int | float | np.number) and math.isfinite(scale)):
            raise ValueError(f"scale must be a positive number, got {scale!r}")
        if scale <= 0:
            raise ValueError(f"scale must be a positive number, got {scale!r}")
        self.strides = tuple(int(s) for s in strides)
        self.base_sizes = tuple(float(b) for b in base_sizes)
        self.scale = float(scale)
        self.ratios = tuple(float(r) for r in ratios)

    def __repr__(self) -> str:
        return (
            f"AnchorGenerator(strides={self.strides}, base_sizes={self.base_sizes}, "
            f"scale={self.scale}, ratios={self.ratios})"
        )

    @property
    def num_levels(self) -> int:
        """Number of pyramid levels."""
        return len(self.strides)

    @property
    def num_anchors_per_location(self) -> int:
        """Anchors per feature-map cell (one per ratio)."""
        return len(self.ratios)

    def anchor_shapes(self) -> np.ndarray:
        """Anchor ``(w, h)`` of every level and ratio.

        Returns
        -------
        ndarray of shape (L, R, 2), float64
        """
        sides = self.scale * np.asarray(self.base_sizes)[:, None]
        root = np.sqrt(np.asarray(self.ratios))[None, :]
        return np.stack([sides / root, sides * root], axis=-1)

    def feature_shapes(self, image_hw) -> list[tuple[int, int]]:
        """Feature-map size ``(ceil(H / stride), ceil(W / stride))`` of every level."""
        h, w = _image_hw_int(image_hw)
        return [(-(-h // s), -(-w // s)) for s in self.strides]

    def num_anchors_per_level(self, image_hw) -> list[int]:
        """Number of anchors on each level for an image of size ``image_hw = (H, W)``."""
        r = self.num_anchors_per_location
        return [fh * fw * r for fh, fw in self.feature_shapes(image_hw)]

    def group_table(self, image_hw) -> np.ndarray:
        """The layout table the matching kernels use: one row per (level, ratio).

        Returns
        -------
        ndarray of shape (L * R, 8), float64
            Columns ``start, fh, fw, nshape, shape, stride, w, h`` (see ``GROUP_COLUMNS``).
        """
        shapes = self.anchor_shapes()
        rows = []
        start = 0
        nshape = self.num_anchors_per_location
        for level, (fh, fw) in enumerate(self.feature_shapes(image_hw)):
            for k in range(nshape):
                w, h = shapes[level, k]
                rows.append((start, fh, fw, nshape, k, self.strides[level], w, h))
            start += fh * fw * nshape
        return np.asarray(rows, dtype=np.float64).reshape(-1, len(GROUP_COLUMNS))

    def grid_anchors(self, image_hw) -> np.ndarray:
        """All anchors of an image, in the order the detector's head emits them.

        Parameters
        ----------
        image_hw : tuple of 2 int
            ``(height, width)`` of the (padded) network input.

        Returns
        -------
        ndarray of shape (A, 4), float32, read-only
            xyxy anchors, level-major, then row-major, then ratio. Coordinates are computed
            in float64 and rounded once to float32. The array is read-only so that the
            matchers may rely on its grid layout; ``.copy()`` gives a writable one.
        """
        parts = []
        shapes = self.anchor_shapes()
        for level, (fh, fw) in enumerate(self.feature_shapes(image_hw)):
            stride = self.strides[level]
            cy, cx = np.meshgrid(
                (np.arange(fh) + 0.5) * stride, (np.arange(fw) + 0.5) * stride, indexing="ij"
            )
            half = shapes[level] / 2.0  # (R, 2)
            cx = cx.reshape(-1, 1)
            cy = cy.reshape(-1, 1)
            level_boxes = np.stack(
                [cx - half[:, 0], cy - half[:, 1], cx + half[:, 0], cy + half[:, 1]], axis=-1
            )
            parts.append(level_boxes.reshape(-1, 4))
        out = np.ascontiguousarray(np.concatenate(parts, axis=0), dtype=np.float32)
        out.flags.writeable = False
        _register_grid(out, self.group_table(image_hw))
        return out


def _image_hw_int(image_hw) -> tuple[int, int]:
    try:
        h, w = image_hw
    except (TypeError, ValueError):
        raise ValueError(f"image_hw must be (height, width), got {image_hw!r}") from None
    for v in (h, w):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise ValueError(f"image_hw must be two integers >= 0, got {image_hw!r}")
    return int(h), int(w)


def anchor_statistics(
    gt_boxes_per_image,
    scales: Sequence[float],
    image_hws=None,
    iou_thr: float = 0.35,
    *,
    strides: Sequence[int] = (4, 8, 16, 32, 64, 128),
    base_sizes: Sequence[float] = (16, 32, 64, 128, 256, 512),
    ratios: Sequence[float] = (1.0,),
) -> dict[str, np.ndarray]:
    """Anchors matched per face against anchor scale (paper Fig. 1).

    For each anchor ``scale``, every image's faces are matched with step one of the standard
    strategy (each anchor takes its best face; IoU >= ``iou_thr`` is positive) on the anchor
    grid of that scale, and the faces' matched-anchor counts are gathered. Matching uses the
    grid-aware kernels, never a dense anchors x faces matrix.

    Parameters
    ----------
    gt_boxes_per_image : sequence of array_like of shape (G_i, 4)
        xyxy face boxes of each image.
    scales : sequence of float
        Anchor scales to evaluate (multipliers of ``base_sizes``, as ``AnchorGenerator.scale``).
    image_hws : sequence of (H, W), optional
        Image sizes. Without them (the official ``.mat`` ground truth has none) each image's
        grid starts at the origin and extends right and down far enough to hold every anchor
        that can overlap a face, i.e. as if the image were unbounded.
    iou_thr : float, default 0.35
        Positive IoU threshold of step one.
    strides, base_sizes, ratios
        Anchor layout, as in :class:`AnchorGenerator`.

    Returns
    -------
    dict
        ``"scales"`` (S,) float64; ``"mean_matched"`` (S,) float64, the mean number of anchors
        matched per face; ``"frac_matched"`` (S,) float64, the fraction of faces with at least
        one matched anchor; ``"num_faces"``, the number of faces counted. Faces of zero area
        are counted (they can never match).

    Examples
    --------
    >>> stats = anchor_statistics([[[10, 10, 30, 30], [100, 100, 102, 102]]], scales=[0.5, 1.0])
    >>> stats["frac_matched"]
    array([0.5, 0.5])
    """
    from .matching import match_step_one_counts

    scales = [float(s) for s in scales]
    if not scales:
        raise ValueError("scales must name at least one anchor scale")
    iou_thr = check_fraction(iou_thr, "iou_thr")
    images = [as_boxes(g, f"gt_boxes_per_image[{i}]") for i, g in enumerate(gt_boxes_per_image)]
    if image_hws is not None:
        image_hws = list(image_hws)
        if len(image_hws) != len(images):
            raise ValueError(
                f"image_hws has {len(image_hws)} entries but gt_boxes_per_image has {len(images)}"
            )
    num_faces = sum(g.shape[0] for g in images)
    mean = np.zeros(len(scales))
    frac = np.zeros(len(scales))
    for si, scale in enumerate(scales):
        gen = AnchorGenerator(strides, base_sizes, scale, ratios)
        reach = float(gen.anchor_shapes().max())
        grids: dict[tuple[int, int], np.ndarray] = {}
        total = 0
        hit = 0
        for i, gt in enumerate(images):
            if gt.shape[0] == 0:
                continue
            if image_hws is not None:
                hw = _image_hw_int(image_hws[i])
            else:
                # Unbounded to the right and bottom: every anchor that can touch a face exists.
                ext = np.ceil(gt[:, 2:].max(axis=0) + reach).astype(np.int64)
                step = max(strides)
                hw = (int(-(-ext[1] // step) * step), int(-(-ext[0] // step) * step))
            anchors = grids.get(hw)
            if anchors is None:
                anchors = grids[hw] = gen.grid_anchors(hw)
            counts = match_step_one_counts(anchors, gt, iou_thr)
            total += int(counts.sum())
            hit += int((counts > 0).sum())
        mean[si] = total / num_faces if num_faces else 0.0
        frac[si] = hit / num_faces if num_faces else 0.0
    return {
        "scales": np.asarray(scales),
        "mean_matched": mean,
        "frac_matched": frac,
        "num_faces": num_faces,
    }
