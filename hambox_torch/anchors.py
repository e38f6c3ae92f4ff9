"""Anchor grids as tensors: :class:`hambox_core.AnchorGenerator` with a device.

The layout (feature-map sizes, anchor shapes, order) is the core's. The coordinates are computed
by :func:`level_anchors` with the core's operations in the core's order (float64, rounded once
to float32), so both backends hold bit-identical anchors. The same function builds the anchors
inside an exported graph (:meth:`AnchorGenerator.grid_anchors_float64` traces with symbolic
feature-map sizes), so eager and exported anchors have one definition.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from hambox_core import anchor_statistics
from hambox_core.anchors import AnchorGenerator as _CoreAnchorGenerator
from hambox_core.validation import check_count, check_positive_int

from .validation import check_floating, check_shape, tensor_arg

__all__ = ["AnchorGenerator", "anchor_statistics", "level_anchors"]


class AnchorGenerator(_CoreAnchorGenerator):
    """:class:`hambox_core.AnchorGenerator` whose ``grid_anchors`` returns a tensor.

    Parameters are those of :class:`hambox_core.AnchorGenerator`.

    Examples
    --------
    >>> AnchorGenerator().grid_anchors((640, 640)).shape
    torch.Size([34125, 4])
    """

    def __init__(
        self,
        strides: Sequence[int] = (4, 8, 16, 32, 64, 128),
        base_sizes: Sequence[float] = (16, 32, 64, 128, 256, 512),
        scale: float = 0.68,
        ratios: Sequence[float] = (1.0,),
    ) -> None:
        super().__init__(strides, base_sizes, scale, ratios)
        # Half (w, h) of every level and ratio as Python floats, (L, R, 2): computed once with
        # the core's numpy so that tracing (torch.export) sees constants, not numpy code.
        self._half_sizes = (self.anchor_shapes() / 2.0).tolist()

    def grid_anchors(self, image_hw, device=None) -> torch.Tensor:
        """All anchors of an image as a Tensor[A, 4] (xyxy, float32) on ``device``.

        Same values and order as :meth:`hambox_core.AnchorGenerator.grid_anchors`. Computed on
        the CPU (float64 is not available on every device) and then moved.
        """
        return self.grid_anchors_float64(image_hw).to(torch.float32).to(device=device)

    def grid_anchors_float64(self, image_hw, device=None) -> torch.Tensor:
        """All anchors of an image before rounding: Tensor[A, 4] xyxy, float64, on ``device``.

        Traceable: under :func:`torch.export.export` ``image_hw`` may hold symbolic sizes
        (e.g. ``images.shape[-2:]``), and the graph then builds the grid for whatever size it
        is run at. Rounding the result to float32 gives :meth:`grid_anchors`.

        Parameters
        ----------
        image_hw : tuple of 2 int
            ``(height, width)`` of the network input.
        device : torch.device, optional
            Where to compute (default CPU); it must support float64.

        Returns
        -------
        Tensor[A, 4], float64
            Level-major, then row-major, then ratio (the head's output order).
        """
        half = torch.tensor(self._half_sizes, dtype=torch.float64, device=device)  # (L, R, 2)
        parts = [
            level_anchors(fh, fw, stride, half[level], device=device)
            for level, (stride, (fh, fw)) in enumerate(
                zip(self.strides, self.feature_shapes(image_hw), strict=True)
            )
        ]
        return torch.cat(parts, dim=0)


def level_anchors(fh, fw, stride: int, half_sizes: torch.Tensor, device=None) -> torch.Tensor:
    """The anchors of one level: Tensor[fh * fw * R, 4] xyxy, float64.

    The anchor at cell ``(y, x)`` with shape ``r`` is centred at ``((x + 0.5) * stride,
    (y + 0.5) * stride)`` and extends ``half_sizes[r]`` on either side; rows are ``y``-major,
    then ``x``, then ``r`` (the anchor order of :doc:`/guide/concepts`). The arithmetic is
    float64, in the order of :meth:`hambox_core.AnchorGenerator.grid_anchors`, so rounding to
    float32 gives the core's values exactly.

    Parameters
    ----------
    fh, fw : int
        Feature-map height and width (symbolic sizes are fine under :func:`torch.export`).
    stride : int
        The level's stride in input pixels.
    half_sizes : Tensor[R, 2], float64
        Half width and half height of each anchor shape.
    device : torch.device, optional

    Examples
    --------
    >>> level_anchors(1, 2, 4, torch.tensor([[1.0, 1.5]], dtype=torch.float64))
    tensor([[1.0000, 0.5000, 3.0000, 3.5000],
            [5.0000, 0.5000, 7.0000, 3.5000]], dtype=torch.float64)
    """
    for name, v in (("fh", fh), ("fw", fw)):
        if not isinstance(v, torch.SymInt):  # symbolic under torch.export
            check_count(v, name)
    check_positive_int(stride, "stride")
    tensor_arg(half_sizes, "half_sizes")
    check_shape(
        half_sizes, "half_sizes", "(R, 2)", half_sizes.ndim == 2 and half_sizes.shape[1] == 2
    )
    check_floating(half_sizes, "half_sizes")
    f64 = torch.float64
    ys = (torch.arange(fh, dtype=f64, device=device) + 0.5) * stride
    xs = (torch.arange(fw, dtype=f64, device=device) + 0.5) * stride
    cy, cx = torch.meshgrid(ys, xs, indexing="ij")
    cx = cx.reshape(-1, 1)
    cy = cy.reshape(-1, 1)
    hw, hh = half_sizes[:, 0], half_sizes[:, 1]
    boxes = torch.stack([cx - hw, cy - hh, cx + hw, cy + hh], dim=-1)  # (fh * fw, R, 4)
    return boxes.reshape(-1, 4)
