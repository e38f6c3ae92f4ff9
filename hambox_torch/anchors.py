"""Anchor grids as tensors: :class:`hambox_core.AnchorGenerator` with a device.

The coordinates are the core's (computed once in float64 and rounded to float32), so both
backends hold bit-identical anchors; only the container differs.
"""

from __future__ import annotations

import torch

from hambox_core.anchors import AnchorGenerator as _CoreAnchorGenerator
from hambox_core.anchors import anchor_statistics

__all__ = ["AnchorGenerator", "anchor_statistics"]


class AnchorGenerator(_CoreAnchorGenerator):
    """:class:`hambox_core.AnchorGenerator` whose ``grid_anchors`` returns a tensor.

    Parameters are those of :class:`hambox_core.AnchorGenerator`.

    Examples
    --------
    >>> AnchorGenerator().grid_anchors((640, 640)).shape
    torch.Size([34125, 4])
    """

    def grid_anchors(self, image_hw, device=None) -> torch.Tensor:
        """All anchors of an image as a Tensor[A, 4] (xyxy, float32) on ``device``.

        Same values and order as :meth:`hambox_core.AnchorGenerator.grid_anchors`.
        """
        anchors = super().grid_anchors(image_hw)
        return torch.from_numpy(anchors.copy()).to(device=device)
