"""The two steps every use of a detector is made of, for any model and any data.

- :mod:`hambox_torch.pipeline.detection` — images of any size → padded batch → detector →
  post-processed boxes (:func:`detect_batch`, :class:`DetectionSettings`, the padding rule
  :func:`padded_size`). Inference, export, the analyses and evaluation during training use it.
- :mod:`hambox_torch.pipeline.supervision` — a detector's outputs and the faces → match →
  targets → losses (:func:`supervise`, :class:`Supervisor`, :class:`BatchMatcher`). Training
  uses it; so can any other detector's training loop.

This layer sits on the operations, the models and the data; it knows nothing of configs,
checkpoints or the training loop.
"""

from .detection import DetectionSettings, detect_batch, detect_images, pad_batch, padded_size
from .supervision import (
    BACKENDS,
    BatchMatcher,
    Supervision,
    SupervisionResult,
    Supervisor,
    supervise,
)

__all__ = [
    "BACKENDS",
    "BatchMatcher",
    "DetectionSettings",
    "Supervision",
    "SupervisionResult",
    "Supervisor",
    "detect_batch",
    "detect_images",
    "pad_batch",
    "padded_size",
    "supervise",
]
