"""Classification and box-regression heads, shared by every pyramid level.

A head maps each level's (B, nA * C, h, w) prediction map to rows in the anchor order of
:doc:`/guide/concepts`: level-major (finest first), then row-major over the map (``y``, then
``x``), then anchor shape fastest. The channel ``a * C + c`` of a map holds value ``c`` of
anchor shape ``a``.

Two kinds (HAMBox section 4 uses the first, RetinaNet the second):

- ``"single"``: one 3x3 prediction conv.
- ``"deep"``: ``num_convs`` 3x3 conv + ReLU layers, then the 3x3 prediction conv.

Initialisation follows RetinaNet: every conv normal(std=0.01) with bias 0, except the
classification prediction bias ``-log((1 - pi) / pi)`` so that every anchor starts at
probability ``pi`` (default 0.01) of being a face.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["HEAD_KINDS", "ConvHead", "DetectionHead", "flatten_level", "prior_bias"]

#: Head kinds: one prediction conv, or RetinaNet's conv tower before it.
HEAD_KINDS = ("single", "deep")


def prior_bias(prior_prob: float) -> float:
    """The logit whose sigmoid is ``prior_prob``: ``-log((1 - pi) / pi)``.

    >>> round(prior_bias(0.01), 4)
    -4.5951
    """
    if not (isinstance(prior_prob, int | float) and 0.0 < prior_prob < 1.0):
        raise ValueError(f"prior_prob must be in (0, 1), got {prior_prob!r}")
    return -math.log((1.0 - prior_prob) / prior_prob)


def flatten_level(prediction: torch.Tensor, values_per_anchor: int) -> torch.Tensor:
    """(B, nA * C, h, w) → (B, h * w * nA, C): rows in (y, x, anchor shape) order.

    Examples
    --------

    Two anchor shapes, two values each, on a 1 x 2 map: channel ``a * 2 + c`` holds value ``c``
    of shape ``a``, here ``10 * a + c`` at ``x = 0`` and ``100`` more at ``x = 1``.

    >>> channels = torch.tensor([0.0, 1.0, 10.0, 11.0]).view(1, 4, 1, 1)
    >>> flatten_level(channels + torch.tensor([0.0, 100.0]).view(1, 1, 1, 2), 2)
    tensor([[[  0.,   1.],
             [ 10.,  11.],
             [100., 101.],
             [110., 111.]]])
    """
    b, channels, h, w = prediction.shape
    if channels % values_per_anchor:
        raise ValueError(
            f"prediction has {channels} channels, not a multiple of values_per_anchor="
            f"{values_per_anchor}"
        )
    num_anchors = channels // values_per_anchor
    rows = prediction.view(b, num_anchors, values_per_anchor, h, w).permute(0, 3, 4, 1, 2)
    return rows.reshape(b, h * w * num_anchors, values_per_anchor)


class ConvHead(nn.Module):
    """A conv tower and prediction conv applied to every level, outputs flattened and joined.

    Parameters
    ----------
    channels : int
        Channels of every input level.
    num_anchors : int
        Anchor shapes per location (nA).
    values_per_anchor : int
        Values predicted per anchor (C): 1 for a face logit, 4 for box deltas.
    num_convs : int, default 0
        3x3 conv + ReLU layers before the prediction conv (0: ``"single"``).
    bias : float, default 0.0
        Initial bias of the prediction conv.

    Examples
    --------
    >>> head = ConvHead(8, num_anchors=2, values_per_anchor=4)
    >>> head([torch.zeros(1, 8, 4, 4), torch.zeros(1, 8, 2, 2)]).shape
    torch.Size([1, 40, 4])
    """

    def __init__(
        self,
        channels: int,
        num_anchors: int,
        values_per_anchor: int,
        num_convs: int = 0,
        bias: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("channels", channels, 1),
            ("num_anchors", num_anchors, 1),
            ("values_per_anchor", values_per_anchor, 1),
            ("num_convs", num_convs, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        layers: list[nn.Module] = []
        for _ in range(num_convs):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
        self.tower = nn.Sequential(*layers)
        self.predict = nn.Conv2d(channels, num_anchors * values_per_anchor, 3, padding=1)
        self.values_per_anchor = values_per_anchor
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, std=0.01)
                nn.init.zeros_(module.bias)
        nn.init.constant_(self.predict.bias, float(bias))

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Levels Tensor[B, channels, h_l, w_l], finest first → Tensor[B, sum_l h_l w_l nA, C]."""
        rows = [
            flatten_level(self.predict(self.tower(f)), self.values_per_anchor) for f in features
        ]
        return torch.cat(rows, dim=1)


class DetectionHead(nn.Module):
    """A face-classification head and a box-regression head over the same anchors.

    Parameters
    ----------
    channels : int
        Channels of every input level.
    num_anchors : int
        Anchor shapes per location.
    kind : {"single", "deep"}, default "single"
    num_convs : int, default 4
        Tower depth of the ``"deep"`` head (ignored by ``"single"``).
    prior_prob : float, default 0.01
        Initial face probability of every anchor.

    Examples
    --------
    >>> cls, box = DetectionHead(8, num_anchors=1)([torch.zeros(2, 8, 3, 3)])
    >>> cls.shape, box.shape
    (torch.Size([2, 9]), torch.Size([2, 9, 4]))
    >>> round(torch.sigmoid(cls[0, 0]).item(), 4)
    0.01
    """

    def __init__(
        self,
        channels: int,
        num_anchors: int,
        kind: str = "single",
        num_convs: int = 4,
        prior_prob: float = 0.01,
    ) -> None:
        super().__init__()
        if kind not in HEAD_KINDS:
            raise ValueError(f"head kind must be one of {HEAD_KINDS}, got {kind!r}")
        depth = num_convs if kind == "deep" else 0
        self.cls = ConvHead(channels, num_anchors, 1, depth, bias=prior_bias(prior_prob))
        self.box = ConvHead(channels, num_anchors, 4, depth)

    def forward(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Levels finest first → (cls_logits Tensor[B, A], box_deltas Tensor[B, A, 4])."""
        return self.cls(features).squeeze(-1), self.box(features)
