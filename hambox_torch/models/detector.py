"""The HAMBox detector network (paper section 4): trunk → LFPN → optional SSH → shared heads.

Data flow for an input of size ``H x W`` and the default anchor generator (strides 4..128)::

    images (B, 3, H, W), RGB in [0, 1]
      → ImageNet normalisation (buffers of the model)
      → trunk: C2..C5 at strides 4, 8, 16, 32          (backbones.build_backbone)
      → two extra levels at strides 64, 128 from C5     (necks.ExtraLevels)
      → LFPN, top-down fusion from stride 32 downwards  (necks.LFPN)
      → optional SSH context module per level           (necks.SSH)
      → face heads (+ the PyramidAnchors head branch)   (heads, pyramid_anchors)
      → rows in the anchor order of ``anchor_generator.grid_anchors((H, W))``

The level at stride ``s`` has ``ceil(H / s) x ceil(W / s)`` cells for any input size, so no
padding to a multiple of 128 is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from hambox_core.anchors import AnchorGenerator as CoreAnchorGenerator
from hambox_core.validation import check_positive_int
from hambox_torch.anchors import AnchorGenerator

from .backbones import build_backbone
from .heads import DetectionHead
from .necks import LFPN, SSH, ExtraLevels
from .pyramid_anchors import HeadBranch

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "DetectorOutput", "HAMBoxDetector", "build_detector"]

#: Per-channel RGB mean the model subtracts from its [0, 1] input (ImageNet training set).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
#: Per-channel RGB standard deviation the model divides by (ImageNet training set).
IMAGENET_STD = (0.229, 0.224, 0.225)


class DetectorOutput(NamedTuple):
    """What :meth:`HAMBoxDetector.forward` returns; ``A`` anchors in grid-anchor order.

    Attributes
    ----------
    cls_logits : Tensor[B, A], float32
        Face logits (apply a sigmoid for probabilities).
    box_deltas : Tensor[B, A, 4], float32
        Encoded box offsets (:func:`hambox_torch.boxes.decode` turns them into boxes).
    head_cls_logits : Tensor[B, A] or None
        Head-branch logits, with ``pyramid_anchors=True`` only.
    head_box_deltas : Tensor[B, A, 4] or None
        Head-branch deltas against the x2 anchors, with ``pyramid_anchors=True`` only.
    """

    cls_logits: torch.Tensor
    box_deltas: torch.Tensor
    head_cls_logits: torch.Tensor | None = None
    head_box_deltas: torch.Tensor | None = None


def _torch_generator(generator) -> AnchorGenerator:
    """The generator as a :class:`hambox_torch.anchors.AnchorGenerator` (a core one is copied)."""
    if generator is None:
        return AnchorGenerator()
    if isinstance(generator, AnchorGenerator):
        return generator
    if isinstance(generator, CoreAnchorGenerator):
        return AnchorGenerator(
            generator.strides, generator.base_sizes, generator.scale, generator.ratios
        )
    raise ValueError(f"anchor_generator must be an AnchorGenerator, got {type(generator).__name__}")


def _level_plan(strides: Sequence[int], trunk_strides: Sequence[int]) -> tuple[int, int]:
    """(index of the first trunk level used, number of extra levels) for the anchor strides.

    The strides must double from level to level, start at a trunk stride and reach at least
    the trunk's top, so that every trunk stage feeds a level.
    """
    strides = tuple(strides)
    expected = tuple(strides[0] * 2**k for k in range(len(strides)))
    if strides[0] not in trunk_strides or strides != expected or strides[-1] < trunk_strides[-1]:
        raise ValueError(
            f"anchor_generator strides must double level by level from one of {trunk_strides} "
            f"up to at least {trunk_strides[-1]}, got {strides}"
        )
    first = trunk_strides.index(strides[0])
    return first, len(strides) - (len(trunk_strides) - first)


def _ssh_flags(ssh, num_levels: int) -> list[bool]:
    if isinstance(ssh, bool):
        return [ssh] * num_levels
    flags = list(ssh)
    if len(flags) != num_levels or not all(isinstance(f, bool) for f in flags):
        raise ValueError(f"ssh must be a bool or {num_levels} bools (one per level), got {ssh!r}")
    return flags


class HAMBoxDetector(nn.Module):
    """Single-shot face detector of the HAMBox paper, one row of outputs per anchor.

    Parameters
    ----------
    backbone : {"resnet50", "resnet34", "resnet18", "mobilenet_v2"}, default "resnet50"
    pretrained_path : str or os.PathLike, optional
        Local file with the trunk's ImageNet weights (see
        :func:`hambox_torch.models.backbones.load_pretrained`); nothing is downloaded.
    channels : int, default 256
        Channels of every pyramid level and head.
    fusion : {"product", "sum"}, default "product"
        LFPN fusion: PyramidBox's elementwise product or FPN's sum.
    ssh : bool or sequence of bool, default False
        SSH context module on every level, or per level (finest first).
    head : {"single", "deep"}, default "single"
        One 3x3 prediction conv, or RetinaNet's deep head.
    head_convs : int, default 4
        Tower depth of the deep head.
    pyramid_anchors : bool, default False
        Add the PyramidAnchors head branch (:mod:`hambox_torch.models.pyramid_anchors`).
    prior_prob : float, default 0.01
        Initial face probability of every anchor.
    anchor_generator : AnchorGenerator, optional
        Defines the levels and anchors per location; default
        :class:`hambox_torch.anchors.AnchorGenerator` (strides 4..128, one anchor per
        location). Its strides must double level by level from a trunk stride (4, 8, 16 or
        32) up to at least 32.

    Examples
    --------
    >>> model = HAMBoxDetector(backbone="resnet18", channels=8)
    >>> out = model(torch.rand(2, 3, 40, 24))
    >>> out.cls_logits.shape, out.box_deltas.shape, out.head_cls_logits
    (torch.Size([2, 85]), torch.Size([2, 85, 4]), None)
    >>> model.anchors((40, 24)).shape
    torch.Size([85, 4])
    """

    def __init__(
        self,
        *,
        backbone: str = "resnet50",
        pretrained_path=None,
        channels: int = 256,
        fusion: str = "product",
        ssh: bool | Sequence[bool] = False,
        head: str = "single",
        head_convs: int = 4,
        pyramid_anchors: bool = False,
        prior_prob: float = 0.01,
        anchor_generator: AnchorGenerator | None = None,
    ) -> None:
        super().__init__()
        check_positive_int(channels, "channels")
        check_positive_int(head_convs, "head_convs")
        if not (isinstance(prior_prob, int | float) and 0 < prior_prob < 1):
            raise ValueError(f"prior_prob must be in (0, 1), got {prior_prob!r}")
        self.anchor_generator = _torch_generator(anchor_generator)
        self.backbone = build_backbone(backbone, pretrained_path)
        trunk_strides = tuple(self.backbone.strides)
        self.first_trunk_level, num_extra = _level_plan(
            self.anchor_generator.strides, trunk_strides
        )
        trunk_channels = tuple(self.backbone.out_channels[self.first_trunk_level :])
        self.extra = ExtraLevels(trunk_channels[-1], channels, num_extra)
        # The top-down path starts at the trunk's top (stride 32): the extra levels above it are
        # never fused into finer ones (the recipe: "top-down fusion starts below the top two
        # levels").
        self.lfpn = LFPN(
            trunk_channels + (channels,) * num_extra,
            channels,
            top_down_start=len(trunk_channels) - 1,
            fusion=fusion,
        )
        num_levels = self.anchor_generator.num_levels
        self.context = nn.ModuleList(
            SSH(channels) if on else nn.Identity() for on in _ssh_flags(ssh, num_levels)
        )
        num_anchors = self.anchor_generator.num_anchors_per_location
        self.head = DetectionHead(channels, num_anchors, head, head_convs, prior_prob)
        self.head_branch = (
            HeadBranch(channels, num_anchors, head, head_convs, prior_prob)
            if pyramid_anchors
            else None
        )
        self.register_buffer(
            "pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer(
            "pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False
        )

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The per-level maps the heads read: Tensor[B, channels, ceil(H/s), ceil(W/s)] each.

        Raises ``ValueError`` if a level's size differs from the anchor generator's grid.
        """
        _check_images(images)
        x = (images - self.pixel_mean) / self.pixel_std
        levels = self.backbone(x)[self.first_trunk_level :]
        levels = levels + self.extra(levels[-1])
        levels = self.lfpn(levels)
        levels = [context(f) for context, f in zip(self.context, levels, strict=True)]
        self._check_grid(levels, tuple(images.shape[-2:]))
        return levels

    def _check_grid(self, levels: Sequence[torch.Tensor], image_hw: tuple[int, int]) -> None:
        got = [tuple(f.shape[-2:]) for f in levels]
        want = [tuple(s) for s in self.anchor_generator.feature_shapes(image_hw)]
        if got != want:
            raise ValueError(
                f"feature maps of an image of size {image_hw} are {got}, but the anchor "
                f"generator's grids (strides {self.anchor_generator.strides}) are {want}; the "
                "outputs would not line up with the anchors"
            )

    def forward(self, images: torch.Tensor) -> DetectorOutput:
        """Predict every anchor of a batch.

        Parameters
        ----------
        images : Tensor[B, 3, H, W]
            Float RGB in [0, 1] (the model normalises them itself).

        Returns
        -------
        DetectorOutput
            Rows in the order of ``self.anchors((H, W))``, float32 also under autocast.
        """
        levels = self.features(images)
        # float32 even under autocast: the matchers, losses and decoding expect it.
        cls_logits, box_deltas = (t.float() for t in self.head(levels))
        if self.head_branch is None:
            return DetectorOutput(cls_logits, box_deltas)
        head_cls, head_box = (t.float() for t in self.head_branch(levels))
        return DetectorOutput(cls_logits, box_deltas, head_cls, head_box)

    def anchors(self, image_hw, device=None) -> torch.Tensor:
        """Tensor[A, 4] (xyxy float32) of the anchors matching the outputs for ``image_hw``."""
        return self.anchor_generator.grid_anchors(image_hw, device)


def _check_images(images) -> None:
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"images must be floating point RGB in [0, 1], got {images.dtype}")


def build_detector(**kwargs) -> HAMBoxDetector:
    """:class:`HAMBoxDetector` from keyword arguments (e.g. a config section).

    >>> build_detector(backbone="resnet18", channels=8, head="deep", head_convs=1).head.cls.tower
    Sequential(
      (0): Conv2d(8, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
      (1): ReLU(inplace=True)
    )
    """
    return HAMBoxDetector(**kwargs)
