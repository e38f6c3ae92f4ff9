"""hambox_torch — the torch backend of hambox (tensors, batched, any device).

The names it shares with :mod:`hambox_core` are importable from the top level with the same
signatures (``from hambox_torch import HAMBoxMatcher`` as ``from hambox_core import
HAMBoxMatcher``): the four matchers and :class:`MatchResult`, :class:`AnchorGenerator` and
:func:`anchor_statistics`, the box operations, the losses and the post-processing. Each agrees
with the core, as the conformance suite in ``tests/conformance`` checks.

The package is layered; each layer imports only the layers above it in this list:

1. operations — :mod:`~hambox_torch.boxes`, :mod:`~hambox_torch.anchors`,
   :mod:`~hambox_torch.matching`, :mod:`~hambox_torch.losses`,
   :mod:`~hambox_torch.postprocess` (and :mod:`~hambox_torch.progress`), which check their
   inputs with the core's rules through :mod:`~hambox_torch.validation`;
2. :mod:`~hambox_torch.models` (the detector) and :mod:`~hambox_torch.data` (datasets,
   transforms, batching, the embedded demo set);
3. :mod:`~hambox_torch.recipe` — typed config, checkpoints, builders;
4. :mod:`~hambox_torch.pipeline` — the detection step and the supervision step;
5. :mod:`~hambox_torch.inference`, :mod:`~hambox_torch.export`, :mod:`~hambox_torch.analysis`
   and :mod:`~hambox_torch.integrations`;
6. :mod:`~hambox_torch.engine` — the training loop;
7. :mod:`~hambox_torch.cli` — the ``hambox`` command.
"""

from .anchors import AnchorGenerator, anchor_statistics
from .boxes import box_area, box_ioa, box_iou, decode, encode
from .losses import (
    RegressionAwareFocalLoss,
    StandardFocalLoss,
    regression_aware_focal_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
    standard_focal_loss,
)
from .matching import DMSMatcher, HAMBoxMatcher, MatchResult, NAMSMatcher, SMSMatcher
from .postprocess import nms, postprocess_detections

__all__ = [
    "AnchorGenerator",
    "DMSMatcher",
    "HAMBoxMatcher",
    "MatchResult",
    "NAMSMatcher",
    "RegressionAwareFocalLoss",
    "SMSMatcher",
    "StandardFocalLoss",
    "anchor_statistics",
    "box_area",
    "box_ioa",
    "box_iou",
    "decode",
    "encode",
    "nms",
    "postprocess_detections",
    "regression_aware_focal_loss",
    "sigmoid_focal_loss",
    "smooth_l1_loss",
    "standard_focal_loss",
]
