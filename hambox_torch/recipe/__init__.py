"""The recipe: what a training run is made of, as data — typed config, checkpoints, builders.

- :mod:`hambox_torch.recipe.config` — :class:`Config` dataclasses, YAML files with ``_base_``
  inheritance, dotted overrides, :func:`validate` (which builds the components).
- :mod:`hambox_torch.recipe.components` — the name tables :data:`MATCHERS` and :data:`LOSSES`
  and the builders of the model, anchors, matcher and loss from config sections.
- :mod:`hambox_torch.recipe.checkpoint` — atomic, ``weights_only``-loadable checkpoints.
- :mod:`hambox_torch.recipe.loading` — :func:`load_detector`: a trained detector from a
  checkpoint.
- :mod:`hambox_torch.recipe.devices`, :mod:`hambox_torch.recipe.data_root` and
  :mod:`hambox_torch.recipe.output_paths` — the one rule each for the device and the data root
  a run uses and for whether an output path can be written.

This layer sits on the operations, models and data; inference, export, the analyses and the
training loop sit on it.
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .components import (
    LOSSES,
    MATCHERS,
    build_anchor_generator,
    build_head_loss,
    build_head_matcher,
    build_loss,
    build_matcher,
    build_model,
)
from .config import Config, ConfigError, config_from_dict, config_to_dict, load_config, validate
from .data_root import resolve_data_root
from .devices import resolve_device
from .loading import load_detector

__all__ = [
    "LOSSES",
    "MATCHERS",
    "CheckpointError",
    "Config",
    "ConfigError",
    "build_anchor_generator",
    "build_head_loss",
    "build_head_matcher",
    "build_loss",
    "build_matcher",
    "build_model",
    "config_from_dict",
    "config_to_dict",
    "load_checkpoint",
    "load_config",
    "load_detector",
    "resolve_data_root",
    "resolve_device",
    "save_checkpoint",
    "validate",
]
