"""Anchor generation on feature-map grids.

One square anchor per location per level by default (paper section 3.1): level ``l`` has stride
``strides[l]`` and anchor side ``scale * base_sizes[l]``; the anchor at feature-map cell
``(y, x)`` is centred at ``((x + 0.5) * stride, (y + 0.5) * stride)``. A level of an ``H x W``
image has ``ceil(H / stride) x ceil(W / stride)`` cells, which is what a ResNet's stride-2
convolutions with "same" padding produce.

Anchor order (DESIGN.md): level-major (finest level first), then row-major over the feature map
(``y``, then ``x``), then anchor shape (ratio) fastest.

The matchers need nothing from this module: they recognise the grid of any anchor array from
its values (:mod:`hambox_core.grids`), so these anchors, a modified copy of them or another
detector's anchors are all matched on their grid. The paper's anchor statistics (Fig. 1) are
:func:`hambox_core.analysis.anchor_statistics`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .validation import check_image_size

__all__ = ["AnchorGenerator"]


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
        h, w = check_image_size(image_hw, "image_hw")
        return [(-(-h // s), -(-w // s)) for s in self.strides]

    def num_anchors_per_level(self, image_hw) -> list[int]:
        """Number of anchors on each level for an image of size ``image_hw = (H, W)``."""
        r = self.num_anchors_per_location
        return [fh * fw * r for fh, fw in self.feature_shapes(image_hw)]

    def grid_anchors(self, image_hw) -> np.ndarray:
        """All anchors of an image, in the order the detector's head emits them.

        Parameters
        ----------
        image_hw : tuple of 2 int
            ``(height, width)`` of the (padded) network input.

        Returns
        -------
        ndarray of shape (A, 4), float32
            xyxy anchors, level-major, then row-major, then ratio. Coordinates are computed
            in float64 and rounded once to float32.
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
        return np.ascontiguousarray(np.concatenate(parts, axis=0), dtype=np.float32)
