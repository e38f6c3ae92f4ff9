"""Training checkpoints: atomic writes, ``weights_only`` loading, RNG state, clear errors.

A checkpoint is one ``torch.save`` file holding only tensors, dicts, lists, strings, numbers,
booleans and ``None``, so ``torch.load(path, weights_only=True)`` reads it without running
pickled code::

    {
        "format": "hambox-checkpoint", "version": 2,
        "iteration": int,
        "model": state dict (DDP / torch.compile wrappers removed),
        "optimizer": state dict or None, "scheduler": state dict or None,
        "scaler": GradScaler state dict or None,
        "config": nested dict (config_to_dict) or None,
        "rng": {"python": {...}, "numpy": {...}, "torch": ByteTensor, "cuda": [ByteTensor, ...]},
        "extra": user dict or None,
        "torch_version": str,
        "integrity": {"algorithm": "sha256", "tensors": [[name, hex digest], ...],
                      "values": hex digest},
    }

Integrity. Every tensor of the payload (model, optimiser, scheduler, scaler, RNG, extra) is
hashed with SHA-256 at save — its dtype, shape and bytes — and the rest of the payload
(iteration, config, numbers and strings, with each tensor as a placeholder) gets one more
digest; :func:`read_checkpoint` recomputes them after loading and raises
:class:`CheckpointError` naming the file and the first tensor that differs (``model.head.cls.
predict.weight does not match its checksum``). ``torch.load`` itself checks nothing: a few
flipped bytes inside a weight tensor load silently without this record. Hashing runs at about
the speed of reading the file from disk (``bench/checkpoint.py``). Files of format version 1,
written before the record existed, still load, with a :class:`CheckpointWarning` saying they
are not verified.

Files are written to a temporary file in the same folder, flushed and fsynced, then renamed
over the final name with :func:`os.replace`, so a crash leaves either the previous file or the
new one under that name, never a partial file. The temporary file is named
``.<name>.<pid>-<random>.tmp``; a save removes the temporary files that earlier saves into the
same folder left behind when their process was killed (those whose process is no longer
running). Periodic checkpoints are named ``ckpt_<iteration, 8 digits>.pt``
(:func:`checkpoint_path`); :func:`latest_checkpoint`, :func:`newest_valid_checkpoint` and
:func:`prune_checkpoints` work on those names.

The RNG state saved is the calling process's. Under DDP only rank 0 usually saves; restoring
its state on every rank would give all ranks the same augmentation stream, so a DDP training
loop should call :func:`load_checkpoint` with ``restore_rng=False`` on ranks other than 0 (or
on all ranks) and reseed each rank from ``(seed, rank, iteration)``.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "FORMAT",
    "VERSION",
    "CheckpointError",
    "CheckpointWarning",
    "checkpoint_path",
    "find_checkpoints",
    "get_rng_state",
    "integrity_record",
    "latest_checkpoint",
    "load_checkpoint",
    "load_model_state",
    "newest_valid_checkpoint",
    "prune_checkpoints",
    "read_checkpoint",
    "restore_checkpoint",
    "save_checkpoint",
    "set_rng_state",
    "unwrap_model",
    "verify_integrity",
]

#: Marker stored in every checkpoint, so that a foreign file is recognised as such.
FORMAT = "hambox-checkpoint"
#: Layout version of the checkpoint dictionary (bumped on incompatible changes). Version 2
#: added the integrity record; version 1 files are still read (unverified, with a warning).
VERSION = 2
#: The versions :func:`read_checkpoint` reads.
READABLE_VERSIONS = (1, 2)
#: Hash of the integrity record.
ALGORITHM = "sha256"
_NAME = re.compile(r"ckpt_(\d+)\.pt")
# Temporary files of a save: ".<final name>.<pid>-<random>.tmp"; the saves of hambox before
# version 2 wrote ".<final name .pt>.<8 random characters>.tmp" (no pid).
_TMP = re.compile(r"\..+\.(\d+)-[a-z0-9_]+\.tmp|\..+\.pt\.[a-z0-9_]{8}\.tmp")
# How many missing / unexpected keys a model mismatch message lists.
_KEYS_SHOWN = 5


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable, corrupted, foreign, or does not fit the given
    objects.

    The message names the file (and, for a checksum mismatch, the tensor).
    """


class CheckpointWarning(UserWarning):
    """A checkpoint was read but could not be fully verified (written before integrity
    records existed)."""


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
# Integrity record
# ---------------------------------------------------------------------------------------------


def _walk(value, name: str, tensors: list):
    """``value`` with every tensor replaced by a placeholder; the tensors appended to
    ``tensors`` as ``(dotted name, tensor)`` in a fixed order (dict order, list order)."""
    if isinstance(value, torch.Tensor):
        tensors.append((name, value))
        return "<tensor>"
    if isinstance(value, dict):
        return {k: _walk(v, f"{name}.{k}" if name else str(k), tensors) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_walk(v, f"{name}.{i}", tensors) for i, v in enumerate(value))
    return value


def _tensor_digest(tensor: torch.Tensor) -> str:
    t = tensor.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    h = hashlib.new(ALGORITHM)
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    if t.numel():
        # A byte view of the values (no copy for a contiguous CPU tensor); any dtype.
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


def _digests(tensors: list) -> list[str]:
    # hashlib releases the GIL on large buffers: big models hash on several cores.
    if len(tensors) < 8:
        return [_tensor_digest(t) for _, t in tensors]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(_tensor_digest, (t for _, t in tensors)))


def integrity_record(payload: dict) -> dict:
    """The integrity record of a checkpoint payload (everything but its ``"integrity"`` entry).

    Returns
    -------
    dict
        ``{"algorithm": "sha256", "tensors": [[name, digest], ...], "values": digest}``: one
        digest per tensor (dtype, shape and bytes) under its dotted name in the payload
        (``model.head.cls.predict.weight``, ``optimizer.state.0.momentum_buffer``, ...), and
        one of everything else (the payload with each tensor replaced by a placeholder).

    Examples
    --------
    >>> record = integrity_record({"model": {"w": torch.zeros(2)}, "iteration": 3})
    >>> [name for name, _ in record["tensors"]], len(record["values"])
    (['model.w'], 64)
    """
    tensors: list = []
    skeleton = _walk({k: v for k, v in payload.items() if k != "integrity"}, "", tensors)
    digests = _digests(tensors)
    return {
        "algorithm": ALGORITHM,
        "tensors": [[name, d] for (name, _), d in zip(tensors, digests, strict=True)],
        "values": hashlib.new(ALGORITHM, repr(skeleton).encode()).hexdigest(),
    }


def verify_integrity(payload: dict, path) -> None:
    """Check ``payload`` against its integrity record.

    Raises
    ------
    CheckpointError
        Naming ``path`` and the first tensor whose checksum differs (or the non-tensor values,
        or a malformed record).
    """
    record = payload.get("integrity")
    if not (
        isinstance(record, dict)
        and record.get("algorithm") == ALGORITHM
        and isinstance(record.get("tensors"), list)
        and isinstance(record.get("values"), str)
    ):
        raise CheckpointError(
            f"{path} has no valid integrity record (corrupted, or not written by "
            "save_checkpoint); it cannot be verified"
        )
    tensors: list = []
    skeleton = _walk({k: v for k, v in payload.items() if k != "integrity"}, "", tensors)
    stored = record["tensors"]
    names = [name for name, _ in tensors]
    stored_names = [entry[0] if isinstance(entry, list) and entry else None for entry in stored]
    if names != stored_names:
        extra = sorted(set(names) ^ {n for n in stored_names if isinstance(n, str)})
        raise CheckpointError(
            f"{path} is corrupted: its tensors do not match its integrity record "
            f"({len(names)} tensors, {len(stored)} recorded; e.g. {', '.join(extra[:3])})"
        )
    for (name, _), digest, entry in zip(tensors, _digests(tensors), stored, strict=True):
        if entry[1:] != [digest]:
            raise CheckpointError(
                f"{path} is corrupted: tensor {name} does not match its {ALGORITHM} checksum "
                "(use an earlier checkpoint)"
            )
    if hashlib.new(ALGORITHM, repr(skeleton).encode()).hexdigest() != record["values"]:
        raise CheckpointError(
            f"{path} is corrupted: its non-tensor values (iteration, config, ...) do not match "
            f"their {ALGORITHM} checksum (use an earlier checkpoint)"
        )


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


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process's own saves never leave a file behind while running
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process
    return True


def _remove_orphans(directory: Path) -> list[Path]:
    """Delete the temporary files of saves into ``directory`` whose process died."""
    removed = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for p in entries:
        match = _TMP.fullmatch(p.name)
        if match is None or (match.group(1) and _process_alive(int(match.group(1)))):
            continue
        try:
            if p.is_file():
                p.unlink()
                removed.append(p)
        except OSError:
            pass
    return removed


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
    """Write a checkpoint atomically (temporary file in the same folder, fsync, rename), with
    its integrity record.

    Temporary files that earlier saves into the same folder left behind (their process was
    killed) are removed first.

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
    payload["integrity"] = integrity_record(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path.parent)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent
    )
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


def read_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a checkpoint with ``weights_only=True`` and verify its integrity record; restore
    nothing.

    Parameters
    ----------
    path : str or path-like
    map_location : str, torch.device or callable, default "cpu"
        Passed to :func:`torch.load`.

    Returns
    -------
    dict
        The payload (see the module notes).

    Raises
    ------
    CheckpointError
        The path is missing or a folder; the file is truncated, corrupted (a checksum differs:
        the tensor is named), not a hambox checkpoint (e.g. a bare state dict or an arbitrary
        pickle) or of another format version. The message names the file.

    Warns
    -----
    CheckpointWarning
        A version 1 file (no integrity record): read, but not verified.
    """
    path = Path(path)
    if path.is_dir():
        newest = latest_checkpoint(path)
        hint = f" (its newest checkpoint is {newest})" if newest else ""
        raise CheckpointError(f"checkpoint {path} is a directory, not a checkpoint file{hint}")
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
    version = payload.get("version")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{path} has checkpoint version {version!r}; this hambox reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    if version == 1 and "integrity" not in payload:
        warnings.warn(
            f"{path} was written before checkpoints carried checksums (version 1): its tensors "
            "are not verified",
            CheckpointWarning,
            stacklevel=2,
        )
    else:
        verify_integrity(payload, path)
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


def restore_checkpoint(
    payload: dict,
    path,
    *,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler=None,
    scaler=None,
    restore_rng: bool = True,
) -> dict:
    """Restore the objects given from a payload :func:`read_checkpoint` returned.

    Parameters
    ----------
    payload : dict
    path : str or path-like
        The file it came from (named in errors).
    model, optimizer, scheduler, scaler, restore_rng
        As in :func:`load_checkpoint`.

    Returns
    -------
    dict
        ``payload``.

    Raises
    ------
    CheckpointError
        A state does not fit its object (the first missing / unexpected model keys are named).
    """
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
    """Read a checkpoint with ``weights_only=True``, verify it and restore the objects given.

    :func:`read_checkpoint` then :func:`restore_checkpoint`.

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
        The file is missing (or a folder), truncated or corrupted (a tensor that does not match
        its checksum is named), not a hambox checkpoint (e.g. a bare state dict or an arbitrary
        pickle), of another format version, or does not fit the objects given (the first
        missing / unexpected model keys are named). The message names the file.
    """
    path = Path(path)
    payload = read_checkpoint(path, map_location)
    return restore_checkpoint(
        payload,
        path,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
        restore_rng=restore_rng,
    )


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


def find_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """The ``ckpt_<N>.pt`` files of ``directory``, by increasing N (``[]`` for a missing
    folder); temporary files of an interrupted save are never listed."""
    return [p for _, p in _numbered(Path(directory))]


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The ``ckpt_<N>.pt`` in ``directory`` with the largest N, or None (also for a missing
    folder). Temporary files of an interrupted save are never returned. The file is not read:
    :func:`newest_valid_checkpoint` also checks that it loads."""
    found = find_checkpoints(directory)
    return found[-1] if found else None


def newest_valid_checkpoint(
    directory: str | os.PathLike, *, map_location="cpu", exclude=()
) -> tuple[Path | None, dict | None, list[tuple[Path, str]]]:
    """The newest ``ckpt_<N>.pt`` of ``directory`` that reads and verifies.

    Parameters
    ----------
    directory : str or path-like
    map_location : passed to :func:`read_checkpoint`
    exclude : collection of paths
        Files not to try.

    Returns
    -------
    path, payload, skipped
        The checkpoint and its payload (both ``None`` when none is valid), and the newer files
        that were not, each with the reason (the :class:`CheckpointError` message).
    """
    excluded = {Path(p).resolve() for p in exclude}
    skipped: list[tuple[Path, str]] = []
    for path in reversed(find_checkpoints(directory)):
        if path.resolve() in excluded:
            continue
        try:
            return path, read_checkpoint(path, map_location), skipped
        except CheckpointError as exc:
            skipped.append((path, str(exc)))
    return None, None, skipped


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
