"""Between trunk and heads: extra pyramid levels, the LFPN, and the SSH context module.

- :class:`ExtraLevels` adds the coarse levels (strides 64 and 128 by default) on top of C5 with
  3x3 stride-2 convolutions, padding 1, so sizes stay ``ceil(H / s)``.
- :class:`LFPN` is PyramidBox's low-level feature pyramid: a top-down path like FPN's that
  starts at a middle level instead of the top one, because the top levels see regions with
  little context and would add noise for small faces (HAMBox section 4; :doc:`/guide/training`:
  the top-down fusion starts below the top two levels).
- :class:`SSH` is the context module of the SSH detector, applied per level.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FUSIONS", "LFPN", "SSH", "ExtraLevels", "fuse"]

#: LFPN fusions: elementwise product (PyramidBox) or sum (FPN).
FUSIONS = ("product", "sum")


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class ExtraLevels(nn.Module):
    """Coarser levels above the trunk's top: a chain of 3x3 stride-2 convs (RetinaNet's P6, P7).

    Level ``k`` is ``conv_k(relu(level_{k-1}))`` and level 0 is ``conv_0(C5)`` (no ReLU on the
    trunk's output, which already went through one).

    Parameters
    ----------
    in_channels : int
        Channels of the trunk's top map.
    out_channels : int
        Channels of every extra level.
    num_levels : int, default 2
        How many levels to add; may be 0.

    Examples
    --------
    >>> extra = ExtraLevels(8, 4, num_levels=2)
    >>> [tuple(p.shape) for p in extra(torch.zeros(1, 8, 5, 3))]
    [(1, 4, 3, 2), (1, 4, 2, 1)]
    """

    def __init__(self, in_channels: int, out_channels: int, num_levels: int = 2) -> None:
        super().__init__()
        if isinstance(num_levels, bool) or not isinstance(num_levels, int) or num_levels < 0:
            raise ValueError(f"num_levels must be a non-negative integer, got {num_levels!r}")
        _check_positive_int(in_channels, "in_channels")
        _check_positive_int(out_channels, "out_channels")
        channels = [in_channels] + [out_channels] * num_levels
        self.convs = nn.ModuleList(
            _conv3x3(c_in, c_out, stride=2) for c_in, c_out in itertools.pairwise(channels)
        )

    def forward(self, top: torch.Tensor) -> list[torch.Tensor]:
        """Tensor[B, in_channels, h, w] → ``num_levels`` maps, each half the previous size."""
        levels = []
        x = top
        for index, conv in enumerate(self.convs):
            x = conv(x if index == 0 else F.relu(x))
            levels.append(x)
        return levels


def fuse(lateral: torch.Tensor, top_down: torch.Tensor, fusion: str) -> torch.Tensor:
    """Merge a lateral map with the upsampled coarser one: ``"product"`` (PyramidBox) or ``"sum"``.

    ``top_down`` is resized to ``lateral``'s exact spatial size (bilinear), which matters when
    the finer size is odd: ``ceil(H / 4)`` need not be twice ``ceil(H / 8)``.
    """
    upsampled = F.interpolate(
        top_down, size=lateral.shape[-2:], mode="bilinear", align_corners=False
    )
    if fusion == "product":
        return lateral * upsampled
    if fusion == "sum":
        return lateral + upsampled
    raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")


class LFPN(nn.Module):
    """Low-level feature pyramid network (PyramidBox), with product or sum fusion.

    Every input level gets a lateral 1x1 conv to ``channels``. The top-down path starts at
    level ``top_down_start`` and goes down to level 0; the levels above it are not fused into
    anything below::

        M[s]   = lateral[s](C[s])                                 for s = top_down_start
        M[l]   = fuse(lateral[l](C[l]), upsample(M[l + 1]))       for l < top_down_start
        out[l] = smooth[l](M[l])   (3x3 conv)                     for l < top_down_start
        out[l] = lateral[l](C[l])                                 for l >= top_down_start

    Parameters
    ----------
    in_channels : sequence of int
        Channels of each input level, finest first.
    channels : int
        Channels of every output level.
    top_down_start : int
        Index of the level where the top-down path starts (the stride-32 level of the default
        six, i.e. ``len(in_channels) - 3``, so the stride-64 and stride-128 levels stay unfused).
    fusion : {"product", "sum"}, default "product"
        Elementwise product (PyramidBox) or sum (FPN).

    Examples
    --------
    >>> lfpn = LFPN([2, 3, 4], channels=5, top_down_start=1)
    >>> maps = [torch.zeros(1, c, s, s) for c, s in ((2, 7), (3, 4), (4, 2))]
    >>> [tuple(p.shape) for p in lfpn(maps)]
    [(1, 5, 7, 7), (1, 5, 4, 4), (1, 5, 2, 2)]
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        channels: int,
        top_down_start: int,
        fusion: str = "product",
    ) -> None:
        super().__init__()
        in_channels = list(in_channels)
        if not in_channels:
            raise ValueError("in_channels must name at least one level")
        for c in in_channels:
            _check_positive_int(c, "in_channels")
        _check_positive_int(channels, "channels")
        if not (isinstance(top_down_start, int) and 0 <= top_down_start < len(in_channels)):
            raise ValueError(
                f"top_down_start must be a level index in [0, {len(in_channels)}), "
                f"got {top_down_start!r}"
            )
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        self.fusion = fusion
        self.top_down_start = top_down_start
        self.laterals = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.smooths = nn.ModuleList(_conv3x3(channels, channels) for _ in range(top_down_start))

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """List of Tensor[B, in_channels[l], h_l, w_l] → list of Tensor[B, channels, h_l, w_l]."""
        if len(features) != len(self.laterals):
            raise ValueError(f"features must hold {len(self.laterals)} levels, got {len(features)}")
        outputs = [lateral(f) for lateral, f in zip(self.laterals, features, strict=True)]
        merged = outputs[self.top_down_start]
        for level in range(self.top_down_start - 1, -1, -1):
            merged = fuse(outputs[level], merged, self.fusion)
            outputs[level] = self.smooths[level](merged)
        return outputs


class SSH(nn.Module):
    """SSH context module: 3x3, 5x5 and 7x7 receptive fields side by side.

    Branches (SSH paper, in the channel split RetinaFace uses): a 3x3 conv to ``C/2``; a "5x5"
    made of two 3x3 convs to ``C/4``; a "7x7" of three 3x3 convs to ``C/4`` whose first conv is
    shared with the 5x5 branch, as in SSH. Inner convs are followed by ReLU, branch ends are
    not; the concatenation (``C`` channels) goes through one ReLU.

    Parameters
    ----------
    channels : int
        Input and output channels ``C``, divisible by 4.

    Examples
    --------
    >>> SSH(8)(torch.zeros(2, 8, 5, 3)).shape
    torch.Size([2, 8, 5, 3])
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        _check_positive_int(channels, "channels")
        if channels % 4:
            raise ValueError(f"channels must be divisible by 4 for SSH, got {channels}")
        half, quarter = channels // 2, channels // 4
        self.conv3x3 = _conv3x3(channels, half)
        self.context = _conv3x3(channels, quarter)  # shared first conv of the 5x5 and 7x7
        self.conv5x5 = _conv3x3(quarter, quarter)
        self.conv7x7 = nn.Sequential(
            _conv3x3(quarter, quarter), nn.ReLU(inplace=True), _conv3x3(quarter, quarter)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tensor[B, C, h, w] → Tensor[B, C, h, w]."""
        context = F.relu(self.context(x))
        branches = [self.conv3x3(x), self.conv5x5(context), self.conv7x7(context)]
        return F.relu(torch.cat(branches, dim=1))
