"""The HAMBox detector network: trunks, LFPN and SSH necks, heads, PyramidAnchors.

Modules, one idea each:

- :mod:`~hambox_torch.models.backbones` — torchvision trunks cut at strides 4..32, local
  ImageNet weights only;
- :mod:`~hambox_torch.models.necks` — extra levels, LFPN (product or sum fusion), SSH;
- :mod:`~hambox_torch.models.heads` — shared classification / regression heads in anchor order;
- :mod:`~hambox_torch.models.pyramid_anchors` — the auxiliary head branch and its box helpers;
- :mod:`~hambox_torch.models.detector` — :class:`HAMBoxDetector`, which puts them together.
"""

from .backbones import BACKBONES, build_backbone, load_pretrained
from .detector import DetectorOutput, HAMBoxDetector, build_detector
from .heads import ConvHead, DetectionHead, prior_bias
from .necks import LFPN, SSH, ExtraLevels
from .pyramid_anchors import HeadBranch, head_anchors, head_boxes, scale_boxes

__all__ = [
    "BACKBONES",
    "LFPN",
    "SSH",
    "ConvHead",
    "DetectionHead",
    "DetectorOutput",
    "ExtraLevels",
    "HAMBoxDetector",
    "HeadBranch",
    "build_backbone",
    "build_detector",
    "head_anchors",
    "head_boxes",
    "load_pretrained",
    "prior_bias",
    "scale_boxes",
]
