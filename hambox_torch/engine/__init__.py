"""Training engine: the typed config, checkpoints, optimizer and learning-rate schedule.

- :mod:`hambox_torch.engine.config` — :class:`Config` dataclasses, YAML files with ``_base_``
  inheritance, dotted command-line overrides, :func:`validate`.
- :mod:`hambox_torch.engine.checkpoint` — atomic, ``weights_only``-loadable checkpoints with
  RNG state; :class:`CheckpointError` for missing, corrupted or foreign files.
- :mod:`hambox_torch.engine.optim` — SGD without weight decay on biases and norm parameters,
  and the paper's schedule (linear warm-up, then step decay).
"""

from .checkpoint import (
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from .config import (
    Config,
    ConfigError,
    add_config_arguments,
    config_from_args,
    config_to_dict,
    load_config,
    save_config,
    validate,
)
from .optim import build_lr_scheduler, build_optimizer

__all__ = [
    "CheckpointError",
    "Config",
    "ConfigError",
    "add_config_arguments",
    "build_lr_scheduler",
    "build_optimizer",
    "checkpoint_path",
    "config_from_args",
    "config_to_dict",
    "latest_checkpoint",
    "load_checkpoint",
    "load_config",
    "prune_checkpoints",
    "save_checkpoint",
    "save_config",
    "validate",
]
