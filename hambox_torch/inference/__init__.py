"""Inference: detect faces with a trained detector under the WIDER FACE test protocols.

- :class:`Detector` — ``Detector(model, protocol="single")`` or
  ``Detector.from_checkpoint(path)``; ``detect(images)`` takes numpy arrays, PIL images or
  tensors of any size and returns :class:`Detections` (numpy boxes in original pixels, scores).
- :mod:`hambox_torch.inference.protocols` — the test protocols by name: ``single`` (original
  size), ``vga`` (SCRFD's 640-pixel long side) and ``multiscale`` (multi-scale + flip with box
  voting, as the S3FD / PyramidBox / DSFD test scripts).
- :mod:`hambox_torch.inference.predictions` — WIDER FACE prediction folders with their
  ``protocol.json``.
- :mod:`hambox_torch.inference.widerface` — :func:`evaluate_widerface`, a detector's official
  AP on a WIDER-format validation split.

Built on :mod:`hambox_torch.pipeline` (the detection step) and :mod:`hambox_torch.recipe`
(loading a checkpoint); importing it loads nothing of the training loop. The command-line
front ends are ``hambox detect`` and ``hambox eval``.
"""

from .detector import Detections, Detector, as_image_tensor
from .predictions import PROTOCOL_FILE, wider_rows, write_prediction_folder, write_protocol_json
from .protocols import PROTOCOLS, VGA, MultiScaleFlip, Protocol, SingleScale, box_vote, get_protocol
from .widerface import evaluate_widerface

__all__ = [
    "PROTOCOLS",
    "PROTOCOL_FILE",
    "VGA",
    "Detections",
    "Detector",
    "MultiScaleFlip",
    "Protocol",
    "SingleScale",
    "as_image_tensor",
    "box_vote",
    "evaluate_widerface",
    "get_protocol",
    "wider_rows",
    "write_prediction_folder",
    "write_protocol_json",
]
