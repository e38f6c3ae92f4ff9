"""Training checkpoints: atomic writes, ``weights_only`` loading, RNG state, clear errors.

A checkpoint is one ``torch.save`` file holding only tensors, dicts, lists, strings, numbers,
booleans and ``None``, so ``torch.load(path, weights_only=True)`` reads it without running
pickled code::

    {
        "format": "hambox-checkpoint", "version": 1,
        "iteration": int,
        "model": state dict (DDP / torch.compile wrappers removed),
        "optimizer": state dict or None, "scheduler": state dict or None,
        "scaler": GradScaler state dict or None,
        "config": nested dict (config_to_dict) or None,
        "rng": {"python": {...}, "numpy": {...}, "torch": ByteTensor, "cuda": [ByteTensor, ...]},
        "extra": user dict or None,
        "torch_version": str,
    }

Files are written to a temporary file in the same folder, flushed and fsynced, then renamed
over the final name with :func:`os.replace`, so a crash leaves either the previous file or the
new one under that name, never a partial file. Periodic checkpoints are named
``ckpt_<iteration, 8 digits>.pt`` (:func:`checkpoint_path`); :func:`latest_checkpoint` and
:func:`prune_checkpoints` work on those names.

The RNG state saved is the calling process's. Under DDP only rank 0 usually saves; restoring
its state on every rank would give all ranks the same augmentation stream, so a DDP training
loop should call :func:`load_checkpoint` with ``restore_rng=False`` on ranks other than 0 (or
on all ranks) and reseed each rank from ``(seed, rank, iteration)``.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "FORMAT",
    "VERSION",
    "CheckpointError",
    "checkpoint_path",
    "get_rng_state",
    "latest_checkpoint",
    "load_checkpoint",
    "load_model_state",
    "prune_checkpoints",
    "save_checkpoint",
    "set_rng_state",
    "unwrap_model",
]

#: Marker stored in every checkpoint, so that a foreign file is recognised as such.
FORMAT = "hambox-checkpoint"
#: Layout version of the checkpoint dictionary (bumped on incompatible changes).
VERSION = 1
_NAME = re.compile(r"ckpt_(\d+)\.pt")
# How many missing / unexpected keys a model mismatch message lists.
_KEYS_SHOWN = 5


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable, foreign, or does not fit the given objects.

    The message names the file.
    """


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module under ``DistributedDataParallel`` / ``DataParallel`` / ``torch.compile``.

    Examples
    --------
    >>> net = nn.Linear(2, 1)
    >>> unwrap_model(nn.DataParallel(net)) is net
    True
    """
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def checkpoint_path(directory: str | os.PathLike, iteration: int) -> Path:
    """``directory / "ckpt_<iteration:08d>.pt"``, the name :func:`latest_checkpoint` finds.

    Examples
    --------
    >>> checkpoint_path("runs/x", 5000).name
    'ckpt_00005000.pt'
    """
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise ValueError(f"iteration must be a non-negative int, got {iteration!r}")
    return Path(directory) / f"ckpt_{iteration:08d}.pt"


# ---------------------------------------------------------------------------------------------
# RNG state as weights_only-safe values
# ---------------------------------------------------------------------------------------------


def get_rng_state() -> dict[str, Any]:
    """The state of Python's ``random``, numpy's global generator, torch's CPU generator and
    every CUDA device's generator, as tensors, lists and numbers only."""
    version, internal, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()  # noqa: NPY002 (the legacy global generator is the state to save)
    return {
        "python": {
            "version": int(version),
            "state": torch.tensor(internal, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned. CUDA states are restored for the devices
    present (the first ``min(saved, available)``)."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss_next"]))
    npy = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            npy["name"],
            npy["keys"].numpy().astype(np.uint32),
            npy["pos"],
            npy["has_gauss"],
            npy["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        for device, cuda_state in enumerate(cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, device)


# ---------------------------------------------------------------------------------------------
# Save / load
# ---------------------------------------------------------------------------------------------


def _config_dict(config):
    if config is None or isinstance(config, dict):
        return config
    from .config import Config, config_to_dict

    if isinstance(config, Config):
        return config_to_dict(config)
    raise ValueError(f"config must be a Config, a dict or None, got {type(config).__name__}")


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    scheduler=None,
    scaler=None,
    iteration: int,
    config=None,
    extra: dict | None = None,
) -> Path:
    """Write a checkpoint atomically (temporary file in the same folder, fsync, rename).

    Parameters
    ----------
    path : str or path-like
        Final file name; parent folders are created.
    model : nn.Module
        Its state dict is saved from the unwrapped module (:func:`unwrap_model`), so keys have
        no ``module.`` prefix.
    optimizer, scheduler, scaler : objects with ``state_dict()``, or None
        Saved when given (the GradScaler may be ``None`` when AMP is off).
    iteration : int
        Completed iterations (the loop resumes at this iteration).
    config : Config, dict or None
        Stored as a plain nested dict.
    extra : dict or None
        Anything else ``weights_only`` can read back (tensors, numbers, strings, lists, dicts).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise ValueError(f"iteration must be a non-negative int, got {iteration!r}")
    if extra is not None and not isinstance(extra, dict):
        raise ValueError(f"extra must be a dict or None, got {type(extra).__name__}")
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "iteration": iteration,
        "model": unwrap_model(model).state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scaler": None if scaler is None else scaler.state_dict(),
        "config": _config_dict(config),
        "rng": get_rng_state(),
        "extra": extra,
        "torch_version": str(torch.__version__),  # TorchVersion is not weights_only-safe
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _short(exc: BaseException) -> str:
    """One line saying why ``exc`` happened (torch's weights_only errors bury it)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    marker = "WeightsUnpickler error:"
    if marker in text:
        reason = text.split(marker, 1)[1].strip().splitlines()[0].split(". ")[0].rstrip(".")
        return f"refused by weights_only loading ({reason})"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _read(path: Path, map_location) -> dict:
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings():
            # A foreign pickle makes torch warn about its protocol before failing; the
            # CheckpointError below says what matters.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path} is not a readable hambox checkpoint (truncated, corrupted, or not written "
            f"by save_checkpoint): {_short(exc)}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        if isinstance(payload, dict):
            keys = ", ".join(repr(k) for k in list(payload)[:_KEYS_SHOWN])
            what = f"a dict with keys {keys}{', ...' if len(payload) > _KEYS_SHOWN else ''}"
        else:
            what = f"a {type(payload).__name__}"
        raise CheckpointError(
            f"{path} is not a hambox checkpoint ({what}); a bare state dict can be loaded with "
            "model.load_state_dict(torch.load(path, weights_only=True))"
        )
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"{path} has checkpoint version {payload.get('version')!r}; this hambox reads "
            f"version {VERSION}"
        )
    return payload


def load_model_state(model: nn.Module, state: dict, path) -> None:
    """Load a checkpoint's model state into ``model`` strictly, or say what does not fit.

    Parameters
    ----------
    model : nn.Module
        DDP / ``torch.compile`` wrappers are unwrapped.
    state : dict
        A state dict (a checkpoint's ``"model"`` entry).
    path : str or path-like
        The checkpoint the state came from (named in errors).

    Raises
    ------
    CheckpointError
        Missing or unexpected keys (a few named), or a tensor whose shape differs.
    """
    target = unwrap_model(model)
    expected = target.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected)):
            if keys:
                more = f" and {len(keys) - _KEYS_SHOWN} more" if len(keys) > _KEYS_SHOWN else ""
                parts.append(f"{len(keys)} {label} keys: {', '.join(keys[:_KEYS_SHOWN])}{more}")
        raise CheckpointError(f"model state in {path} does not fit the model: {'; '.join(parts)}")
    for key, value in expected.items():
        saved = state[key]
        if isinstance(value, torch.Tensor) and tuple(saved.shape) != tuple(value.shape):
            raise CheckpointError(
                f"model state in {path} does not fit the model: {key} has shape "
                f"{tuple(saved.shape)} in the checkpoint and {tuple(value.shape)} in the model"
            )
    target.load_state_dict(state, strict=True)


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler=None,
    scaler=None,
    restore_rng: bool = True,
    map_location="cpu",
) -> dict:
    """Read a checkpoint with ``weights_only=True`` and restore the objects given.

    Parameters
    ----------
    path : str or path-like
    model, optimizer, scheduler, scaler : objects with ``load_state_dict``, or None
        Each one given is restored; the model strictly (DDP / compile wrappers are unwrapped).
        A scaler is left as it is when the checkpoint has no scaler state (saved without AMP).
    restore_rng : bool, default True
        Restore Python, numpy, torch CPU and CUDA generator states (see the module notes on
        DDP).
    map_location : str, torch.device or callable, default "cpu"
        Passed to :func:`torch.load`.

    Returns
    -------
    dict
        The whole payload (``"iteration"``, ``"config"``, ``"extra"``, the state dicts, ...).

    Raises
    ------
    CheckpointError
        The file is missing, truncated or corrupted, not a hambox checkpoint (e.g. a bare state
        dict or an arbitrary pickle), of another format version, or does not fit the objects
        given (the first missing / unexpected model keys are named). The message names the file.
    """
    path = Path(path)
    payload = _read(path, map_location)
    if model is not None:
        load_model_state(model, payload["model"], path)
    for label, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is None:
            continue
        if payload.get(label) is None:
            raise CheckpointError(f"{path} holds no {label} state to restore")
        try:
            obj.load_state_dict(payload[label])
        except Exception as exc:
            raise CheckpointError(
                f"{label} state in {path} does not fit the {label}: {_short(exc)}"
            ) from None
    # An empty or missing scaler state (saved without AMP) leaves the scaler as it is.
    if scaler is not None and payload.get("scaler"):
        try:
            scaler.load_state_dict(payload["scaler"])
        except Exception as exc:
            raise CheckpointError(f"scaler state in {path} does not fit: {_short(exc)}") from None
    if restore_rng:
        try:
            set_rng_state(payload["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"RNG state in {path} is malformed: {_short(exc)}") from None
    return payload


# ---------------------------------------------------------------------------------------------
# Folders of periodic checkpoints
# ---------------------------------------------------------------------------------------------


def _numbered(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = []
    for p in directory.iterdir():
        match = _NAME.fullmatch(p.name)
        if match and p.is_file():
            found.append((int(match.group(1)), p))
    return sorted(found)


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The ``ckpt_<N>.pt`` in ``directory`` with the largest N, or None (also for a missing
    folder). Temporary files of an interrupted save are never returned."""
    found = _numbered(Path(directory))
    return found[-1][1] if found else None


def prune_checkpoints(directory: str | os.PathLike, keep: int = 3) -> list[Path]:
    """Delete all but the ``keep`` newest ``ckpt_<N>.pt`` files; return the deleted paths.

    Other files (e.g. ``model_final.pt``) are never touched.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be an int >= 1, got {keep!r}")
    found = _numbered(Path(directory))
    removed = []
    for _, p in found[: max(0, len(found) - keep)]:
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed
