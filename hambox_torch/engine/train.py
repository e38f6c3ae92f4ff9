"""The training loop: the paper's recipe, any matcher and loss, DDP, exact resume.

:func:`train` reads as the steps of a run, each a function of one :class:`TrainState`:

1. :func:`check_training_config` — the loop's own settings (``optim``, ``run``,
   ``loss.loc_weight``, ``data.batch_size`` / ``data.workers``) checked by building what uses
   them, and ``run.output_dir`` checked writable; the recipe's components were checked when
   the config was loaded.
2. :func:`find_resume` — when resuming, the checkpoint to continue from, read and verified,
   and the config compared with its own.
3. :func:`build_state` — data root, dataset and loader, model, optimiser, schedule, AMP scaler
   and the supervision step (the matcher and loss given to :func:`train`, or the config's);
   :func:`restore` loads the checkpoint's states into them.
4. :func:`start_run` — the output folder: ``config.yaml``, ``metrics.jsonl``. Nothing is
   written before the three steps above succeed.
5. Per iteration: :func:`train_step` (forward → supervision: decode, match, targets, loss →
   backward → optimiser and schedule step), :func:`log_progress`, :func:`log_diagnostics`,
   :func:`save_if_due`, :func:`evaluate_if_due`.

Around it: AMP on CUDA (optional bfloat16 autocast on the CPU), optional gradient clipping, a
progress bar, JSONL metrics (and TensorBoard on request), mining diagnostics every
``run.diag_every`` iterations, the official WIDER FACE evaluation every ``run.eval_every``
iterations and at the end, and atomic checkpoints.

Exact resume. The data order is a function of ``(seed, epoch)`` and every sample's augmentation
a function of ``(seed, epoch, index)``, so iteration ``i`` sees the same batch whether or not the
run was interrupted before it; checkpoints hold the model, optimiser, scheduler, scaler and RNG
states. On the CPU a resumed run equals an uninterrupted one bit for bit (tested); on CUDA,
non-deterministic kernels make it equal in distribution only.

Files in ``run.output_dir``: ``config.yaml`` (the resolved config), ``metrics.jsonl`` (one JSON
object per logged event), ``ckpt_<iteration>.pt`` (the last three kept) and ``eval_<iteration>/``
(predictions in the official layout); a run resumed with a changed config (only with
``allow_config_change``) adds ``config_resume_<iteration>.yaml``.

Resuming. ``resume=True`` continues from the newest checkpoint of the output folder that reads
and verifies (a newer, corrupted one is skipped with a :class:`ResumeWarning`); a folder with
no checkpoint is an error, not a fresh start. ``metrics.jsonl`` keeps the records up to the
checkpoint's iteration: what the interrupted run logged after its last checkpoint is dropped,
because the resumed run logs those iterations again.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from hambox_core.evaluation import widerface as wider_eval
from hambox_torch.data import (
    WiderFaceDataset,
    build_train_loader,
    check_loader_params,
    train_transforms,
)
from hambox_torch.inference.widerface import evaluate_widerface
from hambox_torch.pipeline.supervision import Supervisor
from hambox_torch.progress import progress_bar
from hambox_torch.recipe import checkpoint as ckpt
from hambox_torch.recipe.components import (
    build_head_loss,
    build_head_matcher,
    build_loss,
    build_matcher,
    build_model,
)
from hambox_torch.recipe.config import (
    Config,
    ConfigError,
    component_problem,
    config_to_dict,
    save_config,
    upgrade_config_dict,
)
from hambox_torch.recipe.data_root import resolve_data_root
from hambox_torch.recipe.devices import resolve_device
from hambox_torch.recipe.output_paths import check_output_path

from .diagnostics import mining_diagnostics
from .distributed import DistInfo, barrier, init_distributed, shutdown
from .optim import WarmupStepSchedule, build_lr_scheduler, build_optimizer

__all__ = [
    "RESUME_FREE_KEYS",
    "NonFiniteLossError",
    "ResumeWarning",
    "Resumed",
    "TrainResult",
    "TrainState",
    "build_state",
    "check_training_config",
    "config_changes",
    "evaluate_if_due",
    "find_resume",
    "log_diagnostics",
    "log_progress",
    "restore",
    "save_if_due",
    "start_run",
    "train",
    "train_step",
    "truncate_metrics",
]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the run stops instead of corrupting the weights."""


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    iterations : int
        Iterations completed (``optim.max_iters`` unless stopped early).
    ap : dict of str to float
        The last evaluation's AP per setting (empty if none ran).
    output_dir : pathlib.Path
    seconds : float
        Wall time of this call.
    history : list of dict
        Every logged record (also in ``metrics.jsonl``).
    model : HAMBoxDetector or None
        The trained model (unwrapped from DDP), in training mode.
    predictions : dict
        The last evaluation's predictions, ``(event, stem) -> ndarray (N, 5)`` ``x y w h
        score`` rows (empty if none ran).
    data_root : pathlib.Path or None
        The data set trained and evaluated on.
    """

    iterations: int
    ap: dict = field(default_factory=dict)
    output_dir: Path | None = None
    seconds: float = 0.0
    history: list = field(default_factory=list)
    model: object = None
    predictions: dict = field(default_factory=dict)
    data_root: Path | None = None


# ---------------------------------------------------------------------------------------------
# 1. the loop's own settings
# ---------------------------------------------------------------------------------------------


def _check_run(run) -> None:
    """The rules of the ``run`` section (the loop's periods, seed, device, output)."""
    check_output_path(run.output_dir, option="output_dir", folder=True)
    if run.seed < 0:
        raise ValueError(f"seed must be >= 0, got {run.seed}")
    resolve_device(run.device)
    if run.log_every < 1:
        raise ValueError(f"log_every must be >= 1, got {run.log_every}")
    for key in ("eval_every", "checkpoint_every"):
        value = getattr(run, key)
        if value < 1:
            raise ValueError(
                f"{key} must be >= 1 (above optim.max_iters: only at the end), got {value}"
            )
    if run.diag_every < 0:
        raise ValueError(f"diag_every must be >= 0 (0 disables it), got {run.diag_every}")
    if run.eval_max_images is not None and run.eval_max_images < 1:
        raise ValueError(f"eval_max_images must be >= 1 or null, got {run.eval_max_images}")


def _check_grad_clip(optim) -> None:
    if optim.grad_clip is not None and not optim.grad_clip > 0:
        raise ValueError(f"grad_clip must be positive or null, got {optim.grad_clip}")


def check_training_config(cfg: Config) -> Config:
    """Check the settings the training loop itself uses, by building what uses them.

    The optimiser (:func:`~hambox_torch.engine.optim.build_optimizer` on a dummy parameter),
    the schedule (:class:`~hambox_torch.engine.optim.WarmupStepSchedule`), the supervision
    step's ``loc_weight``, the loader's ``batch_size`` and ``workers``, and the ``run``
    section. The recipe's components (model, anchors, matcher, loss, transforms) are checked
    by :func:`hambox_torch.recipe.config.validate` when the config is loaded.

    Raises
    ------
    ConfigError
        Listing every problem, each naming its dotted key.

    Examples
    --------
    >>> cfg = Config()
    >>> cfg.optim.max_iters = 200
    >>> check_training_config(cfg)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    hambox_torch.recipe.config.ConfigError: invalid config 'hambox':
      optim.lr_steps: must all be below max_iters=200, got (110000,); set e.g.
      optim.lr_steps=[160] optim.warmup_iters=20 (or [] for no decay), or override only
      optim.max_iters to have the schedule scaled with it
    """
    checks = (
        ("optim", lambda: build_optimizer(torch.nn.Linear(1, 1), cfg.optim)),
        ("optim", lambda: WarmupStepSchedule.from_config(cfg.optim)),
        ("optim", lambda: _check_grad_clip(cfg.optim)),
        ("loss", lambda: Supervisor(lambda *a: None, lambda *a: None, cfg.loss.loc_weight)),
        ("data", lambda: check_loader_params(cfg.data.batch_size, cfg.data.workers)),
        ("run", lambda: _check_run(cfg.run)),
    )
    problems = []
    # The dummy parameter's initialisation draws random numbers: keep the caller's streams.
    with torch.random.fork_rng(devices=[]):
        for section, check in checks:
            try:
                check()
            except ValueError as exc:
                problems.append(component_problem(section, exc, cfg))
    if problems:
        raise ConfigError.listing(cfg.name, problems)
    return cfg


# ---------------------------------------------------------------------------------------------
# 2. the state of a run
# ---------------------------------------------------------------------------------------------


class _Logger:
    """JSONL (and optionally TensorBoard) records, written by the main process only."""

    def __init__(self, out_dir: Path, enabled: bool, tensorboard: bool, append: bool) -> None:
        self.enabled = enabled
        self.history: list[dict] = []
        mode = "a" if append else "w"  # a fresh run starts a fresh log; a resumed one continues
        self._file = open(out_dir / "metrics.jsonl", mode) if enabled else None
        self._tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:  # tensorboard is an optional package
                raise ValueError(
                    "run.tensorboard is true but the tensorboard package is not installed "
                    "(pip install tensorboard)"
                ) from exc
            self._tb = SummaryWriter(out_dir / "tensorboard")

    def log(self, kind: str, iteration: int, values: dict) -> None:
        record = {"kind": kind, "iteration": iteration, **values}
        self.history.append(record)
        if not self.enabled:
            return
        self._file.write(json.dumps(record, allow_nan=True) + "\n")
        self._file.flush()
        if self._tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(f"{kind}/{k}", v, iteration)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._tb is not None:
            self._tb.close()


@dataclass
class _Window:
    """Running sums of the logged quantities since the last log line."""

    sums: dict = field(default_factory=dict)
    images: int = 0
    start: float = field(default_factory=time.perf_counter)

    def add(self, parts: dict, loss: float, images: int) -> None:
        for k, v in parts.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.sums["loss"] = self.sums.get("loss", 0.0) + loss
        self.sums["steps"] = self.sums.get("steps", 0.0) + 1
        self.images += images


@dataclass
class TrainState:
    """Everything a training run holds, step after step (see the module notes).

    Built by :func:`build_state`; every step of the loop reads and updates it.
    """

    cfg: Config
    info: DistInfo
    device: torch.device
    root: Path
    out_dir: Path
    loader: object
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    supervisor: Supervisor
    top_k: int
    hq_iou_thr: float
    progress: bool = True
    iteration: int = 0
    end: int = 0
    logger: _Logger | None = None
    window: _Window = field(default_factory=_Window)
    result: TrainResult | None = None


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    # The legacy global generator too: third-party code (and user transforms) may draw from it.
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)


def build_state(
    cfg: Config,
    info: DistInfo,
    *,
    matcher=None,
    loss=None,
    backend: str = "auto",
    progress: bool = True,
) -> TrainState:
    """Build a run's data, model, optimiser, schedule and supervision; write nothing.

    ``matcher`` and ``loss`` default to the config's (:mod:`hambox_torch.recipe.components`);
    any objects with the matcher and loss contracts of :mod:`hambox_torch.pipeline.supervision`
    can be given instead.
    """
    device = resolve_device(cfg.run.device, local_rank=info.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    main = info.is_main
    root = resolve_data_root(cfg.data.root, generate=main, progress=progress and main)
    barrier(info)
    if not main:
        root = resolve_data_root(cfg.data.root, generate=True, progress=False)
    _seed_everything(cfg.run.seed)
    d = cfg.data
    dataset = WiderFaceDataset(
        root,
        "train",
        transform=train_transforms(
            d.image_size,
            das_prob=d.das_prob,
            flip_prob=d.flip_prob,
            min_face=d.min_face,
            photometric=d.photometric,
        ),
        seed=cfg.run.seed,
    )
    loader = build_train_loader(
        dataset,
        d.batch_size,
        workers=d.workers,
        seed=cfg.run.seed,
        distributed=info.distributed,
        pin_memory=device.type == "cuda",
    )
    model = build_model(cfg.model, cfg.anchors).to(device)
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_lr_scheduler(optimizer, cfg.optim)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.optim.amp and device.type == "cuda")
    face_matcher = build_matcher(cfg.matching) if matcher is None else matcher
    supervisor = Supervisor(
        face_matcher,
        build_loss(cfg.loss) if loss is None else loss,
        cfg.loss.loc_weight,
        head_matcher=build_head_matcher(cfg.matching),
        head_loss=build_head_loss(cfg.loss),
        backend=backend,
    )
    return TrainState(
        cfg=cfg,
        info=info,
        device=device,
        root=root,
        out_dir=Path(cfg.run.output_dir),
        loader=loader,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
        supervisor=supervisor,
        top_k=int(getattr(face_matcher, "top_k", cfg.matching.top_k)),
        hq_iou_thr=float(
            getattr(face_matcher, "high_quality_iou_thr", cfg.matching.high_quality_iou_thr)
        ),
        progress=progress and main,
    )


# ---------------------------------------------------------------------------------------------
# 3. resuming (reads only) and the output folder
# ---------------------------------------------------------------------------------------------

#: Config keys that may differ between a run and the checkpoint it resumes: where and how often
#: the loop writes, logs and evaluates, the device, the loader's worker count (the batches do
#: not depend on it), the ImageNet file (the weights come from the checkpoint), name and notes.
#: Any other difference is refused unless ``allow_config_change=True``.
RESUME_FREE_KEYS = frozenset(
    {
        "name",
        "notes",
        "model.pretrained_path",
        "data.workers",
        "run.output_dir",
        "run.device",
        "run.log_every",
        "run.eval_every",
        "run.checkpoint_every",
        "run.diag_every",
        "run.tensorboard",
        "run.eval_max_images",
    }
)


class ResumeWarning(UserWarning):
    """Resuming went on around a problem: a newer checkpoint was unusable, or the config
    changed with ``allow_config_change=True``."""


@dataclass
class Resumed:
    """Where a run continues from (what :func:`find_resume` found).

    Attributes
    ----------
    path : pathlib.Path
        The checkpoint.
    payload : dict
        Its contents, read and verified (:func:`~hambox_torch.recipe.checkpoint.read_checkpoint`).
    skipped : list of (Path, str)
        Newer checkpoints that could not be used, with the reason.
    changes : list of str
        Config keys that differ from the checkpoint's, ``"key: saved -> now"``.
    """

    path: Path
    payload: dict
    skipped: list = field(default_factory=list)
    changes: list = field(default_factory=list)

    @property
    def iteration(self) -> int:
        """The checkpoint's iteration (the loop continues after it)."""
        return int(self.payload["iteration"])


def _flat(mapping: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def config_changes(saved: dict | None, cfg: Config) -> list[str]:
    """The keys of ``cfg`` that differ from a checkpoint's config (``saved``, a
    :func:`~hambox_torch.recipe.config.config_to_dict` dict), except
    :data:`RESUME_FREE_KEYS`, as ``"key: saved -> now"``."""
    if not isinstance(saved, dict):
        return ["config: the checkpoint holds none"]
    before, now = _flat(upgrade_config_dict(saved)), _flat(config_to_dict(cfg))
    return [
        f"{key}: {before.get(key)!r} -> {now.get(key)!r}"
        for key in sorted(set(before) | set(now))
        if key not in RESUME_FREE_KEYS and before.get(key) != now.get(key)
    ]


def _newest_valid_hint(folder: Path, exclude: Path) -> str:
    path, _, _ = ckpt.newest_valid_checkpoint(folder, exclude=[exclude])
    if path is None:
        return f"; {folder} holds no other valid checkpoint"
    return f"; the newest valid checkpoint in {folder} is {path} (resume from it: --resume {path})"


def find_resume(cfg: Config, resume, *, allow_config_change: bool = False) -> Resumed | None:
    """The checkpoint a run of ``cfg`` continues from, read (to the CPU) and verified; nothing
    is written, and nothing of the run is built yet (no data set is read or generated).

    ``resume=True``: the newest checkpoint of ``run.output_dir`` that reads and verifies — a
    newer one that is truncated or corrupted is skipped with a :class:`ResumeWarning` naming
    it and the reason. A path: that checkpoint; if it is not valid, the error names the newest
    valid one of its folder instead of falling back silently. ``False`` / ``None``: no resume.

    The config of the run must equal the checkpoint's, except :data:`RESUME_FREE_KEYS`;
    otherwise resuming is refused unless ``allow_config_change`` (then a
    :class:`ResumeWarning` lists the changes).

    Raises
    ------
    ValueError
        ``resume=True`` and the output folder holds no checkpoint; a path that does not exist;
        a changed config without ``allow_config_change``.
    CheckpointError
        No valid checkpoint (each reason given), or the given one is not valid.
    """
    if resume is False or resume is None:
        return None
    if resume is True:
        folder = Path(cfg.run.output_dir)
        if not ckpt.find_checkpoints(folder):
            where = "does not exist" if not folder.exists() else "holds no ckpt_<N>.pt file"
            raise ValueError(
                f"nothing to resume: run.output_dir {str(folder)!r} {where}; start without "
                "--resume, or give --resume CKPT"
            )
        path, payload, skipped = ckpt.newest_valid_checkpoint(folder)
        if path is None:
            reasons = "; ".join(reason for _, reason in skipped)
            raise ckpt.CheckpointError(f"no valid checkpoint to resume in {folder}: {reasons}")
        for bad, reason in skipped:
            warnings.warn(
                f"skipping {bad.name}, which cannot be used ({reason}); resuming from {path.name}",
                ResumeWarning,
                stacklevel=2,
            )
    else:
        path = Path(resume)
        if not path.exists():
            raise ValueError(f"resume checkpoint {str(path)!r} does not exist")
        try:
            payload = ckpt.read_checkpoint(path)
        except ckpt.CheckpointError as exc:
            folder = path if path.is_dir() else path.parent
            raise ckpt.CheckpointError(f"{exc}{_newest_valid_hint(folder, path)}") from None
        skipped = []
    changes = config_changes(payload.get("config"), cfg)
    if changes and not allow_config_change:
        shown = "; ".join(changes[:8]) + ("; ..." if len(changes) > 8 else "")
        raise ValueError(
            f"the config differs from the one {path} was trained with ({shown}); resume with "
            "the same config (its copy is config.yaml beside the checkpoints), or allow the "
            "change explicitly (--allow-config-change, train(..., allow_config_change=True))"
        )
    if changes:
        warnings.warn(
            f"resuming {path.name} with a changed config: {'; '.join(changes)}",
            ResumeWarning,
            stacklevel=2,
        )
    return Resumed(path, payload, skipped, changes)


def restore(state: TrainState, resumed: Resumed | None) -> None:
    """Continue from a checkpoint :func:`find_resume` found: the model, optimiser, schedule,
    scaler (and, single-process, RNG) states and the iteration."""
    if resumed is None:
        return
    ckpt.restore_checkpoint(
        resumed.payload,
        resumed.path,
        model=state.model,
        optimizer=state.optimizer,
        scheduler=state.scheduler,
        scaler=state.scaler,
        # Each rank keeps its own RNG streams (the checkpoint holds rank 0's); the data
        # pipeline does not depend on them (its draws are seeded per sample).
        restore_rng=not state.info.distributed,
    )
    state.iteration = resumed.iteration


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def truncate_metrics(path: Path, iteration: int) -> int:
    """Keep the records of ``metrics.jsonl`` up to ``iteration`` (those a resumed run does not
    log again); drop later ones and unreadable lines (a record cut by a kill). Returns how many
    lines were dropped."""
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
            keep = isinstance(record, dict) and int(record["iteration"]) <= iteration
        except (ValueError, KeyError, TypeError):
            keep = False
        if keep:
            kept.append(line + "\n")
        else:
            dropped += 1
    if dropped:
        _write_atomically(path, "".join(kept))
    return dropped


def _save_run_config(state: TrainState, resumed: Resumed | None) -> Path:
    """``config.yaml``; a resumed run with another config keeps it and writes its own beside
    it as ``config_resume_<iteration>.yaml``."""
    path = state.out_dir / "config.yaml"
    if resumed is None or not path.is_file():
        return save_config(state.cfg, path)
    tmp = save_config(state.cfg, state.out_dir / f".config.{os.getpid()}.yaml.tmp")
    if tmp.read_bytes() == path.read_bytes():
        tmp.unlink()
        return path
    other = state.out_dir / f"config_resume_{resumed.iteration:07d}.yaml"
    os.replace(tmp, other)
    return other


def start_run(state: TrainState, resumed: Resumed | None = None) -> None:
    """Create the output folder, write the config, open ``metrics.jsonl``.

    A fresh run writes ``config.yaml`` and starts a new ``metrics.jsonl``. A resumed run keeps
    both: records after the checkpoint's iteration (logged by the interrupted run after its
    last checkpoint) are dropped, new ones appended, and a config that differs from
    ``config.yaml`` is written beside it as ``config_resume_<iteration>.yaml``; a ``resume``
    record names the checkpoint, the checkpoints skipped, the config changes and the records
    dropped.
    """
    dropped = 0
    config_file = state.out_dir / "config.yaml"
    if state.info.is_main:
        state.out_dir.mkdir(parents=True, exist_ok=True)
        config_file = _save_run_config(state, resumed)
        if resumed is not None:
            dropped = truncate_metrics(state.out_dir / "metrics.jsonl", resumed.iteration)
    barrier(state.info)
    state.logger = _Logger(
        state.out_dir,
        state.info.is_main,
        state.cfg.run.tensorboard,
        append=resumed is not None,
    )
    if resumed is not None:
        state.logger.log(
            "resume",
            resumed.iteration,
            {
                "checkpoint": str(resumed.path),
                "skipped": [f"{p}: {why}" for p, why in resumed.skipped],
                "config_changes": list(resumed.changes),
                "config_file": config_file.name,
                "dropped_records": dropped,
            },
        )


# ---------------------------------------------------------------------------------------------
# 4. the steps of an iteration
# ---------------------------------------------------------------------------------------------


def _batches(loader, start_iter: int) -> Iterator:
    """``(epoch, batch)`` from iteration ``start_iter`` on, epoch after epoch.

    The loader's batches depend only on ``(seed, epoch)`` (:func:`~hambox_torch.data.
    build_train_loader`), so skipping the first ``start_iter`` batches resumes exactly.
    """
    per_epoch = len(loader)
    if per_epoch == 0:
        raise ValueError(
            f"the training set has {len(loader.dataset)} images, fewer than one batch of "
            f"{loader.batch_size} per process"
        )
    epoch, skip = divmod(start_iter, per_epoch)
    while True:
        loader.set_epoch(epoch, start_batch=skip)
        for batch in loader:
            yield epoch, batch
        epoch, skip = epoch + 1, 0


def _autocast(device: torch.device, cfg: Config):
    if device.type == "cuda" and cfg.optim.amp:
        return torch.autocast("cuda", dtype=torch.float16)
    if device.type == "cpu" and cfg.optim.cpu_bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def train_step(state: TrainState, batch):
    """One iteration: forward, supervision, backward, optimiser and schedule step.

    Returns the step's :class:`~hambox_torch.pipeline.SupervisionResult` and the gradient norm
    (NaN without clipping).

    Raises
    ------
    NonFiniteLossError
        If the outputs or the loss are NaN or infinite (the weights are left unchanged).
    """
    cfg, model = state.cfg, state.model
    images = batch.images
    image_hw = (int(images.shape[2]), int(images.shape[3]))
    with _autocast(state.device, cfg):
        output = model(images)
    if not bool(torch.isfinite(output.cls_logits).all() & torch.isfinite(output.box_deltas).all()):
        raise NonFiniteLossError(
            f"the detector's outputs became NaN or infinite at iteration {state.iteration + 1} "
            "(the weights diverged); lower optim.lr, lengthen optim.warmup_iters or set "
            "optim.grad_clip"
        )
    sup = state.supervisor(
        ckpt.unwrap_model(model), output, image_hw, batch.gt_boxes, batch.gt_valid
    )
    if not torch.isfinite(sup.loss):
        parts = {k: float(v) for k, v in sup.parts.items()}
        raise NonFiniteLossError(
            f"non-finite loss at iteration {state.iteration + 1}: {parts}; lower optim.lr or "
            "set optim.grad_clip"
        )
    state.optimizer.zero_grad(set_to_none=True)
    state.scaler.scale(sup.loss).backward()
    grad_norm = math.nan
    if cfg.optim.grad_clip is not None:
        state.scaler.unscale_(state.optimizer)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip))
    state.scaler.step(state.optimizer)
    state.scaler.update()
    state.scheduler.step()
    state.iteration += 1
    state.window.add(sup.parts, float(sup.loss.detach()), images.shape[0] * state.info.world_size)
    return sup, grad_norm


def log_progress(state: TrainState, epoch: int, grad_norm: float, bar) -> None:
    """Every ``run.log_every`` iterations (and at the end): the window's mean losses, rate and
    images per second."""
    if not (state.iteration % state.cfg.run.log_every == 0 or state.iteration == state.end):
        return
    w = state.window
    elapsed = time.perf_counter() - w.start
    record = {k: v / w.sums["steps"] for k, v in w.sums.items() if k != "steps"}
    record.update(
        lr=state.optimizer.param_groups[0]["lr"],
        epoch=epoch,
        images_per_s=w.images / max(elapsed, 1e-9),
    )
    if not math.isnan(grad_norm):
        record["grad_norm"] = grad_norm
    state.logger.log("train", state.iteration, record)
    bar.set_postfix(loss=f"{record['loss']:.3f}", lr=f"{record['lr']:.2g}")
    state.window = _Window()


def log_diagnostics(state: TrainState, sup, batch) -> None:
    """Every ``run.diag_every`` iterations: what the matcher did
    (:func:`~hambox_torch.engine.diagnostics.mining_diagnostics`)."""
    every = state.cfg.run.diag_every
    if not every or state.iteration % every:
        return
    diag = mining_diagnostics(
        sup.match,
        sup.pred_boxes,
        batch.gt_boxes,
        batch.gt_valid,
        top_k=state.top_k,
        hq_iou_thr=state.hq_iou_thr,
    )
    state.logger.log("diagnostics", state.iteration, diag)


def save_if_due(state: TrainState) -> None:
    """Every ``run.checkpoint_every`` iterations and at the end: an atomic checkpoint (main
    process; the last three are kept)."""
    due = state.iteration % state.cfg.run.checkpoint_every == 0 or state.iteration == state.end
    if not (state.info.is_main and due):
        return
    ckpt.save_checkpoint(
        state.out_dir / f"ckpt_{state.iteration:07d}.pt",
        model=state.model,  # save_checkpoint unwraps DDP itself
        optimizer=state.optimizer,
        scheduler=state.scheduler,
        scaler=state.scaler,
        iteration=state.iteration,
        config=config_to_dict(state.cfg),
    )
    ckpt.prune_checkpoints(state.out_dir, keep=3)


def evaluate_if_due(state: TrainState) -> None:
    """Every ``run.eval_every`` iterations and at the last one: the official WIDER FACE AP on
    the validation split (main process), its predictions written to ``eval_<iteration>/``."""
    cfg, it = state.cfg, state.iteration
    if not (it % cfg.run.eval_every == 0 or (it == state.end and it == cfg.optim.max_iters)):
        return
    if state.info.is_main:
        gt_dir = state.root / "eval_tools" / "ground_truth"
        if (gt_dir / "wider_face_val.mat").exists():
            ap, preds, unreadable = evaluate_widerface(
                ckpt.unwrap_model(state.model),
                state.root / "WIDER_val" / "images",
                gt_dir,
                max_images=cfg.run.eval_max_images,
                progress=state.progress,
            )
            wider_eval.write_predictions(state.out_dir / f"eval_{it:07d}", preds)
            metrics = {f"ap_{k}": v for k, v in ap.items()}
            state.logger.log("eval", it, {**metrics, "unreadable_images": unreadable})
            state.result.ap = dict(ap)
            state.result.predictions = preds
    barrier(state.info)


def _loop(state: TrainState, stop_at: int | None) -> None:
    max_iters = state.cfg.optim.max_iters
    state.end = max_iters if stop_at is None else min(stop_at, max_iters)
    state.result = TrainResult(iterations=state.iteration, output_dir=state.out_dir)
    bar = progress_bar(max_iters, "train", state.progress, initial=state.iteration, leave=True)
    state.model.train()
    state.window = _Window()
    batches = _batches(state.loader, state.iteration) if state.iteration < state.end else iter(())
    for epoch, batch in batches:
        if state.iteration >= state.end:
            break
        batch = batch.to(state.device)
        sup, grad_norm = train_step(state, batch)
        bar.update(1)
        log_progress(state, epoch, grad_norm, bar)
        log_diagnostics(state, sup, batch)
        save_if_due(state)
        evaluate_if_due(state)
        if state.iteration == state.end:
            break
    bar.close()


def train(
    cfg: Config,
    *,
    matcher=None,
    loss=None,
    resume: bool | str = False,
    allow_config_change: bool = False,
    progress: bool = True,
    stop_at: int | None = None,
    backend: str = "auto",
    on_start: Callable[[TrainState], None] | None = None,
) -> TrainResult:
    """Train a detector as ``cfg`` says.

    Parameters
    ----------
    cfg : Config
        The resolved configuration (see :mod:`hambox_torch.recipe.config`).
    matcher : matcher, optional
        The face branch's matcher; default: the config's ``matching`` section. Any object
        with the matcher contract of :mod:`hambox_torch.pipeline.supervision` works.
    loss : loss, optional
        The face branch's loss; default: the config's ``loss`` section. Any object with the
        loss contract works.
    resume : bool or str
        ``True``: continue from the newest valid checkpoint in ``run.output_dir`` (an error
        when it holds none; newer unusable ones are skipped with a :class:`ResumeWarning`); a
        path: continue from that checkpoint (see :func:`find_resume`).
    allow_config_change : bool, default False
        Resume even when the config differs from the checkpoint's (beyond
        :data:`RESUME_FREE_KEYS`); the new config is written as
        ``config_resume_<iteration>.yaml`` beside the original ``config.yaml``.
    progress : bool
        Progress bars (main process only).
    stop_at : int, optional
        Stop after this many iterations (a checkpoint is written), as if interrupted; the
        schedule still runs to ``optim.max_iters`` on resume.
    backend : {"auto", "core", "torch"}
        Matcher backend for hambox's matchers (see :class:`~hambox_torch.pipeline.BatchMatcher`).
    on_start : callable, optional
        Called with the :class:`TrainState` once the config, the data and the checkpoint to
        resume are checked and the run is built (``state.iteration`` is where it starts), just
        before anything is written; ``hambox train`` prints its first line there.

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigError
        A setting of the loop is out of range.
    ValueError, CheckpointError
        Missing data, nothing to resume, an unusable checkpoint or a changed config.
    NonFiniteLossError
        The run diverged.

    Nothing is written to ``run.output_dir`` before all of these checks pass.
    """
    t_start = time.perf_counter()
    check_training_config(cfg)
    info = init_distributed(cfg.run.device)
    try:
        resumed = find_resume(cfg, resume, allow_config_change=allow_config_change)
        state = build_state(
            cfg, info, matcher=matcher, loss=loss, backend=backend, progress=progress
        )
        restore(state, resumed)
        if on_start is not None and info.is_main:
            on_start(state)
        start_run(state, resumed)
        try:
            if info.distributed:
                device = state.device
                state.model = torch.nn.parallel.DistributedDataParallel(
                    state.model, device_ids=[device.index] if device.type == "cuda" else None
                )
            _loop(state, stop_at)
        finally:
            state.logger.close()
        result = state.result
        result.iterations = state.iteration
        result.model = ckpt.unwrap_model(state.model)
        result.data_root = state.root
        result.seconds = time.perf_counter() - t_start
        result.history = state.logger.history
        return result
    finally:
        shutdown(info)
