"""The training engine: the loop, its optimiser and schedule, DDP, diagnostics, figures.

- :mod:`hambox_torch.engine.train` — :func:`~hambox_torch.engine.train.train` and the named
  steps of a run (:class:`TrainState`), :func:`check_training_config`.
- :mod:`hambox_torch.engine.optim` — SGD without weight decay on biases and norm parameters,
  and the paper's schedule (:class:`WarmupStepSchedule`: linear warm-up, then step decay).
- :mod:`hambox_torch.engine.distributed` — the process group under ``torchrun``.
- :mod:`hambox_torch.engine.diagnostics` — what the matcher did, logged during training.
- :mod:`hambox_torch.engine.figures` — PR curves and detections at the end of a run.

The engine is the top of the library: it uses the recipe (config, checkpoints, builders), the
pipeline (the supervision step) and inference (evaluation during training); nothing below
imports it.
"""

from .optim import WarmupStepSchedule, build_lr_scheduler, build_optimizer
from .train import NonFiniteLossError, TrainResult, TrainState, check_training_config

# ``train`` itself is used as ``hambox_torch.engine.train.train``: exported here it would hide
# the module of the same name.

__all__ = [
    "NonFiniteLossError",
    "TrainResult",
    "TrainState",
    "WarmupStepSchedule",
    "build_lr_scheduler",
    "build_optimizer",
    "check_training_config",
]
