"""A trained detector from a checkpoint: its config builds the model, its weights fill it."""

from __future__ import annotations

import os
from pathlib import Path

from .checkpoint import CheckpointError, load_checkpoint, load_model_state
from .components import build_model
from .config import ConfigError, config_from_dict

__all__ = ["load_detector"]


def load_detector(path, device="cpu"):
    """The detector of a checkpoint (built from its config, with its weights) and the config.

    Parameters
    ----------
    path : str or os.PathLike
        A checkpoint written by :func:`hambox_torch.recipe.checkpoint.save_checkpoint`.
    device : str or torch.device, default "cpu"

    Returns
    -------
    (HAMBoxDetector, Config)
        The model on ``device`` in eval mode; the checkpoint's training config.

    Raises
    ------
    CheckpointError
        Missing, corrupted or foreign file, no config in it, or weights that do not fit.
    """
    path = Path(path)
    payload = load_checkpoint(path, restore_rng=False)
    if not isinstance(payload.get("config"), dict):
        raise CheckpointError(f"{path} holds no training config to build the detector from")
    try:
        cfg = config_from_dict(payload["config"], source=os.fspath(path))
    except ConfigError as exc:
        raise CheckpointError(f"the config stored in {path} is not valid: {exc}") from None
    # The weights come from the checkpoint: never read the backbone's ImageNet file.
    model = build_model(cfg.model, cfg.anchors, pretrained=False)
    load_model_state(model, payload["model"], path)
    return model.to(device).eval(), cfg
