"""PyramidAnchors (PyramidBox): an auxiliary branch that learns the head around each face.

PyramidBox supervises, besides the face, the context of a face with extra targets. hambox
keeps the "head" one: the head box of a face is the face box widened by half its width and half
its height on each side, i.e. twice its size about the same centre (:func:`head_boxes`).

The branch (:class:`HeadBranch`) is a second pair of classification and regression heads on
the same feature levels and anchor layout as the face heads, so its outputs line up row for
row with the face outputs and with :meth:`hambox_torch.anchors.AnchorGenerator.grid_anchors`.
Its targets come from matching the anchors scaled x2 about their centres
(``scale_boxes(anchors, 2.0)``, see :func:`head_anchors`) against the head boxes with any
matcher, and encoding the head boxes against those scaled anchors. Scaling an anchor and a
face x2 about their own centres is, up to an overall scale, halving the offset between their
centres: the IoU stays for concentric pairs and grows for anchors beside the face, so those can
become positives of the head branch, which is the context supervision PyramidBox is after. At
test time the branch is unused; it only shapes the shared features during training.
"""

from __future__ import annotations

import math

import torch

from hambox_torch.boxes import check_box_tensor

from .heads import DetectionHead

__all__ = ["HEAD_SCALE", "HeadBranch", "head_anchors", "head_boxes", "scale_boxes"]

#: A head box is the face box scaled by this factor about its centre (PyramidBox).
HEAD_SCALE = 2.0


def scale_boxes(boxes: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale xyxy boxes about their centres: width and height times ``factor``.

    Parameters
    ----------
    boxes : Tensor[..., 4]
        xyxy boxes, floating point.
    factor : float
        Positive, finite.

    Returns
    -------
    Tensor[..., 4]
        Same shape, dtype and device.

    Examples
    --------
    >>> scale_boxes(torch.tensor([[10.0, 20.0, 30.0, 60.0]]), 0.5)
    tensor([[15., 30., 25., 50.]])
    """
    b = check_box_tensor(boxes, "boxes")
    if not (isinstance(factor, int | float) and math.isfinite(factor) and factor > 0):
        raise ValueError(f"factor must be a positive finite number, got {factor!r}")
    centre = (b[..., :2] + b[..., 2:]) / 2
    half = (b[..., 2:] - b[..., :2]) * (factor / 2)
    return torch.cat([centre - half, centre + half], dim=-1)


def head_boxes(face_boxes: torch.Tensor) -> torch.Tensor:
    """Head boxes of faces: each face widened by half its width and height on every side.

    Parameters
    ----------
    face_boxes : Tensor[..., 4]
        xyxy face boxes.

    Returns
    -------
    Tensor[..., 4]
        Boxes of twice the size with the same centres.

    Examples
    --------
    >>> head_boxes(torch.tensor([10.0, 20.0, 30.0, 60.0]))
    tensor([ 0.,  0., 40., 80.])
    """
    return scale_boxes(face_boxes, HEAD_SCALE)


def head_anchors(anchors: torch.Tensor) -> torch.Tensor:
    """The anchors the head branch is matched with: every anchor scaled x2 about its centre.

    Match these against :func:`head_boxes` of the faces (and encode the head boxes against
    them) to get the targets of :class:`HeadBranch`; row ``i`` is anchor ``i``'s.
    """
    return scale_boxes(anchors, HEAD_SCALE)


class HeadBranch(DetectionHead):
    """The auxiliary head branch: its own classification and box heads, same anchor layout.

    Parameters and outputs are those of :class:`hambox_torch.models.heads.DetectionHead`;
    the outputs are trained against targets from :func:`head_anchors` and :func:`head_boxes`.
    """
