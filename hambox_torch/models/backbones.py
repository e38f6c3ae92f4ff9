"""Backbone trunks: torchvision classification networks cut into strides 4, 8, 16 and 32.

Each trunk keeps torchvision's module names, so an ImageNet state dict saved from the matching
torchvision model loads into it unchanged (its classifier keys set aside). Weights are never
downloaded: the trunks are built with ``weights=None`` and :func:`load_pretrained` reads a local
file the user names.

Every stride-2 convolution in these networks pads so that an ``H``-pixel side becomes
``ceil(H / 2)``; the level at stride ``s`` therefore has ``ceil(H / s)`` rows, the size
:meth:`hambox_core.AnchorGenerator.feature_shapes` expects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
import torchvision
from torch import nn

__all__ = [
    "BACKBONES",
    "MobileNetV2Trunk",
    "ResNetTrunk",
    "build_backbone",
    "load_pretrained",
]

#: Trunk name -> output channels of its four levels (strides 4, 8, 16, 32).
BACKBONES = {
    "resnet18": (64, 128, 256, 512),
    "resnet34": (64, 128, 256, 512),
    "resnet50": (256, 512, 1024, 2048),
    "mobilenet_v2": (24, 32, 96, 1280),
}

#: Key prefixes of the ImageNet classifiers, which the trunks do not have (ignored on load).
CLASSIFIER_PREFIXES = ("fc.", "classifier.")

_RESNETS = {
    "resnet18": torchvision.models.resnet18,
    "resnet34": torchvision.models.resnet34,
    "resnet50": torchvision.models.resnet50,
}


class ResNetTrunk(nn.Module):
    """A torchvision ResNet without its pooling and classifier, returning C2..C5.

    Parameters
    ----------
    name : {"resnet18", "resnet34", "resnet50"}

    Attributes
    ----------
    out_channels : tuple of 4 int
        Channels of C2, C3, C4, C5.
    strides : tuple of 4 int
        ``(4, 8, 16, 32)``.
    """

    strides = (4, 8, 16, 32)

    def __init__(self, name: str = "resnet50") -> None:
        super().__init__()
        if name not in _RESNETS:
            raise ValueError(f"name must be one of {sorted(_RESNETS)}, got {name!r}")
        net = _RESNETS[name](weights=None)
        # Same attribute names as torchvision, so its state dict keys fit (less fc.*).
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1,
            net.layer2,
            net.layer3,
            net.layer4,
        )
        self.out_channels = BACKBONES[name]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Tensor[B, 3, H, W] (normalised) → [C2, C3, C4, C5] at strides 4, 8, 16, 32."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c2, c3, c4, c5]


class MobileNetV2Trunk(nn.Module):
    """torchvision's MobileNetV2 ``features``, tapped at strides 4, 8, 16 and 32.

    The taps are the outputs of ``features[3]`` (24 channels, stride 4), ``features[6]`` (32,
    stride 8), ``features[13]`` (96, stride 16) and the final 1x1 conv ``features[18]`` (1280,
    stride 32), so every ImageNet weight of ``features`` is used.

    Attributes
    ----------
    out_channels : tuple of 4 int
        ``(24, 32, 96, 1280)``.
    strides : tuple of 4 int
        ``(4, 8, 16, 32)``.
    """

    strides = (4, 8, 16, 32)
    taps = (3, 6, 13, 18)

    def __init__(self) -> None:
        super().__init__()
        self.features = torchvision.models.mobilenet_v2(weights=None).features
        self.out_channels = BACKBONES["mobilenet_v2"]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Tensor[B, 3, H, W] (normalised) → four maps at strides 4, 8, 16, 32."""
        outputs = []
        for index, block in enumerate(self.features):
            x = block(x)
            if index in self.taps:
                outputs.append(x)
        return outputs


def _unwrap_state_dict(loaded, path) -> Mapping[str, torch.Tensor]:
    """The state dict inside what ``torch.load`` returned: plain, or under "state_dict"/"model"."""
    if isinstance(loaded, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(loaded.get(key), Mapping):
                return loaded[key]
        if all(isinstance(v, torch.Tensor) for v in loaded.values()):
            return loaded
    raise ValueError(
        f"pretrained_path {os.fspath(path)!r} does not hold a state dict (a mapping of tensors, "
        "possibly under a 'state_dict' or 'model' key)"
    )


def load_pretrained(module: nn.Module, path) -> nn.Module:
    """Load an ImageNet state dict from the local file ``path`` into a trunk, in place.

    Parameters
    ----------
    module : nn.Module
        A trunk from :func:`build_backbone`.
    path : str or os.PathLike
        A file written by ``torch.save``: a state dict of the torchvision model of the same name,
        or a dict holding one under ``"state_dict"`` or ``"model"``. Classifier keys (``fc.*``,
        ``classifier.*``) are ignored. It is read with ``weights_only=True``.

    Returns
    -------
    nn.Module
        ``module``, with its weights replaced.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file holds no state dict, or its keys or shapes do not fit ``module``; the
        message names the path and the first mismatching keys.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pretrained_path {os.fspath(path)!r} is not a file")
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    state = {
        k: v
        for k, v in _unwrap_state_dict(loaded, path).items()
        if not k.startswith(CLASSIFIER_PREFIXES)
    }
    expected = set(module.state_dict())
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(
            f"pretrained_path {os.fspath(path)!r} does not fit the {type(module).__name__}: "
            f"{len(missing)} missing keys {missing[:5]}, {len(unexpected)} unexpected keys "
            f"{unexpected[:5]}"
        )
    try:
        module.load_state_dict(state)
    except RuntimeError as err:  # same keys, other shapes (e.g. resnet34 weights in resnet18)
        raise ValueError(f"pretrained_path {os.fspath(path)!r}: {err}") from err
    return module


def build_backbone(name: str = "resnet50", pretrained_path=None) -> nn.Module:
    """A trunk returning four feature maps at strides 4, 8, 16 and 32.

    Parameters
    ----------
    name : {"resnet18", "resnet34", "resnet50", "mobilenet_v2"}
    pretrained_path : str or os.PathLike, optional
        Local file with ImageNet weights (see :func:`load_pretrained`). Without it the weights
        are torchvision's random initialisation. Nothing is ever downloaded.

    Returns
    -------
    nn.Module
        Called on Tensor[B, 3, H, W] it returns a list of four tensors
        (B, out_channels[k], ceil(H / strides[k]), ceil(W / strides[k])); it has the attributes
        ``out_channels`` and ``strides``.

    Examples
    --------
    >>> trunk = build_backbone("resnet18")
    >>> trunk.out_channels, trunk.strides
    ((64, 128, 256, 512), (4, 8, 16, 32))
    >>> [tuple(c.shape[-2:]) for c in trunk(torch.zeros(1, 3, 50, 33))]
    [(13, 9), (7, 5), (4, 3), (2, 2)]
    """
    if name not in BACKBONES:
        raise ValueError(f"backbone name must be one of {sorted(BACKBONES)}, got {name!r}")
    trunk = MobileNetV2Trunk() if name == "mobilenet_v2" else ResNetTrunk(name)
    if pretrained_path is not None:
        load_pretrained(trunk, pretrained_path)
    return trunk
