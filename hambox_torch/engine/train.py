"""The training loop: the paper's recipe, any matching strategy, DDP, exact resume.

One iteration: forward -> decode the predicted boxes without gradient -> match (SMS, DMS, NAMS or
HAMBox, :mod:`hambox_torch.engine.targets`) -> standard or regression-aware focal loss ->
backward -> SGD step -> learning-rate schedule step. Around it: AMP on CUDA (optional bfloat16
autocast on the CPU), optional gradient clipping, a progress bar, JSONL metrics (and TensorBoard
on request), mining diagnostics every ``run.diag_every`` iterations, the official WIDER FACE
evaluation every ``run.eval_every`` iterations and at the end, and atomic checkpoints.

Exact resume. The data order is a function of ``(seed, epoch)`` and every sample's augmentation
a function of ``(seed, epoch, index)``, so iteration ``i`` sees the same batch whether or not the
run was interrupted before it; checkpoints hold the model, optimiser, scheduler, scaler and RNG
states. On the CPU a resumed run equals an uninterrupted one bit for bit (tested); on CUDA,
non-deterministic kernels make it equal in distribution only.

Files in ``run.output_dir``: ``config.yaml`` (the resolved config), ``metrics.jsonl`` (one JSON
object per logged event), ``ckpt_<iteration>.pt`` (the last three kept) and ``eval_<iteration>/``
(predictions in the official layout).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from hambox_core.evaluation import widerface as wider_eval
from hambox_torch.engine import checkpoint as ckpt
from hambox_torch.engine.config import Config, save_config
from hambox_torch.engine.diagnostics import mining_diagnostics
from hambox_torch.engine.distributed import (
    barrier,
    init_distributed,
    resolve_device,
    shutdown,
)
from hambox_torch.engine.evaluate import evaluate_widerface
from hambox_torch.engine.optim import build_lr_scheduler, build_optimizer
from hambox_torch.engine.targets import Supervisor

__all__ = [
    "NonFiniteLossError",
    "TrainResult",
    "build_model",
    "data_root",
    "embedded_root",
    "train",
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


def build_model(cfg: Config):
    """The detector of ``cfg.model`` on the anchors of ``cfg.anchors``."""
    from hambox_torch.anchors import AnchorGenerator
    from hambox_torch.models import build_detector

    a = cfg.anchors
    m = cfg.model
    return build_detector(
        backbone=m.backbone,
        pretrained_path=m.pretrained_path,
        channels=m.channels,
        fusion=m.fusion,
        ssh=m.ssh,
        head=m.head,
        head_convs=m.head_convs,
        pyramid_anchors=m.pyramid_anchors,
        prior_prob=m.prior_prob,
        anchor_generator=AnchorGenerator(a.strides, a.base_sizes, a.scale, a.ratios),
    )


def data_root(cfg: Config, *, progress: bool = True) -> Path:
    """``cfg.data.root``, or the embedded data set (generated on first use)."""
    if cfg.data.root is not None:
        root = Path(cfg.data.root).expanduser()
        if not root.is_dir():
            raise ValueError(f"data.root {str(root)!r} is not a folder")
        return root
    from hambox_torch.data.embedded import generate_embedded

    return generate_embedded(embedded_root(), progress=progress)


def embedded_root() -> Path:
    """Where the embedded data set lives: ``$HAMBOX_DATA/embedded``, by default
    ``~/.cache/hambox/embedded`` (generated there on first use, reused afterwards)."""
    base = os.environ.get("HAMBOX_DATA", "~/.cache/hambox")
    return Path(base).expanduser() / "embedded"


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


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    # The legacy global generator too: third-party code (and user transforms) may draw from it.
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)


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


def _evaluate(model, root: Path, cfg: Config, iteration: int, out_dir: Path, progress: bool):
    gt_dir = root / "eval_tools" / "ground_truth"
    image_dir = root / "WIDER_val" / "images"
    if not (gt_dir / "wider_face_val.mat").exists():
        return None
    ap, preds, unreadable = evaluate_widerface(
        ckpt.unwrap_model(model),
        image_dir,
        gt_dir,
        max_images=cfg.run.eval_max_images,
        progress=progress,
    )
    wider_eval.write_predictions(out_dir / f"eval_{iteration:07d}", preds)
    return {**{f"ap_{k}": v for k, v in ap.items()}, "unreadable_images": unreadable}, preds


def train(
    cfg: Config,
    *,
    resume: bool | str = False,
    progress: bool = True,
    stop_at: int | None = None,
    backend: str = "auto",
) -> TrainResult:
    """Train a detector as ``cfg`` says.

    Parameters
    ----------
    cfg : Config
        The resolved configuration (see :mod:`hambox_torch.engine.config`).
    resume : bool or str
        ``True``: continue from the newest checkpoint in ``run.output_dir`` (start afresh if
        there is none); a path: continue from that checkpoint.
    progress : bool
        Progress bars (main process only).
    stop_at : int, optional
        Stop after this many iterations (a checkpoint is written), as if interrupted; the
        schedule still runs to ``optim.max_iters`` on resume.
    backend : {"auto", "core", "torch"}
        Matcher backend (see :mod:`hambox_torch.engine.targets`).

    Returns
    -------
    TrainResult
    """
    from hambox_torch.data import WiderFaceDataset, build_train_loader, train_transforms

    t_start = time.perf_counter()
    info = init_distributed(cfg.run.device)
    device = resolve_device(cfg.run.device, info)
    out_dir = Path(cfg.run.output_dir)
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out_dir / "config.yaml")
    barrier(info)
    progress = progress and info.is_main
    logger = _Logger(out_dir, info.is_main, cfg.run.tensorboard, append=bool(resume))
    try:
        root = data_root(cfg, progress=progress) if info.is_main else None
        barrier(info)
        root = root or data_root(cfg, progress=False)
        _seed_everything(cfg.run.seed)
        dataset = WiderFaceDataset(
            root,
            "train",
            transform=train_transforms(
                cfg.data.image_size,
                das_prob=cfg.data.das_prob,
                flip_prob=cfg.data.flip_prob,
                min_face=cfg.data.min_face,
                photometric=cfg.data.photometric,
            ),
            seed=cfg.run.seed,
        )
        loader = build_train_loader(
            dataset,
            cfg.data.batch_size,
            workers=cfg.data.workers,
            seed=cfg.run.seed,
            distributed=info.distributed,
            pin_memory=device.type == "cuda",
        )
        model = build_model(cfg).to(device)
        optimizer = build_optimizer(model, cfg.optim)
        scheduler = build_lr_scheduler(optimizer, cfg.optim)
        use_amp = cfg.optim.amp and device.type == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        start_iter = 0
        source = _resume_source(resume, out_dir)
        if source is not None:
            state = ckpt.load_checkpoint(
                source,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                scaler=scaler,
                # Each rank keeps its own RNG streams (the checkpoint holds rank 0's); the
                # data pipeline does not depend on them (its draws are seeded per sample).
                restore_rng=not info.distributed,
                map_location=device,
            )
            start_iter = int(state["iteration"])
            logger.log("resume", start_iter, {"checkpoint": str(source)})
        if info.distributed:
            model = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )
        supervisor = Supervisor(cfg.anchors, cfg.matching, cfg.loss, backend=backend)
        result = _loop(
            cfg, model, loader, supervisor, optimizer, scheduler, scaler, device, info,
            logger, root, out_dir, start_iter, stop_at, progress,
        )  # fmt: skip
        result.seconds = time.perf_counter() - t_start
        result.history = logger.history
        return result
    finally:
        logger.close()
        shutdown(info)


def _resume_source(resume, out_dir: Path):
    if resume is False or resume is None:
        return None
    if resume is True:
        return ckpt.latest_checkpoint(out_dir)
    path = Path(resume)
    if not path.exists():
        raise ValueError(f"resume checkpoint {str(path)!r} does not exist")
    return path


def _autocast(device: torch.device, cfg: Config):
    if device.type == "cuda" and cfg.optim.amp:
        return torch.autocast("cuda", dtype=torch.float16)
    if device.type == "cpu" and getattr(cfg.optim, "cpu_bf16", False):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def _loop(
    cfg, model, loader, supervisor, optimizer, scheduler, scaler, device, info, logger, root,
    out_dir, start_iter, stop_at, progress,
):  # fmt: skip
    from tqdm.auto import tqdm

    max_iters = cfg.optim.max_iters
    end = max_iters if stop_at is None else min(stop_at, max_iters)
    result = TrainResult(iterations=start_iter, output_dir=out_dir)
    bar = tqdm(
        total=max_iters, initial=start_iter, disable=not progress, desc="train", dynamic_ncols=True
    )
    model.train()
    iteration = start_iter
    window_images, window_start = 0, time.perf_counter()
    sums: dict[str, float] = {}
    batches = _batches(loader, start_iter) if start_iter < end else iter(())
    for epoch, batch in batches:
        if iteration >= end:
            break
        batch = batch.to(device)
        images = batch.images
        image_hw = (int(images.shape[2]), int(images.shape[3]))
        with _autocast(device, cfg):
            output = model(images)
        if not bool(
            torch.isfinite(output.cls_logits).all() & torch.isfinite(output.box_deltas).all()
        ):
            raise NonFiniteLossError(
                f"the detector's outputs became NaN or infinite at iteration {iteration + 1} "
                "(the weights diverged); lower optim.lr, lengthen optim.warmup_iters or set "
                "optim.grad_clip"
            )
        sup = supervisor(output, image_hw, batch.gt_boxes, batch.gt_valid)
        if not torch.isfinite(sup.loss):
            parts = {k: float(v) for k, v in sup.parts.items()}
            raise NonFiniteLossError(
                f"non-finite loss at iteration {iteration + 1}: {parts}; lower optim.lr or set "
                "optim.grad_clip"
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(sup.loss).backward()
        grad_norm = math.nan
        if cfg.optim.grad_clip is not None:
            scaler.unscale_(optimizer)
            grad_norm = float(
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            )
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        iteration += 1
        window_images += images.shape[0] * info.world_size
        for k, v in sup.parts.items():
            sums[k] = sums.get(k, 0.0) + float(v)
        sums["loss"] = sums.get("loss", 0.0) + float(sup.loss.detach())
        sums["steps"] = sums.get("steps", 0.0) + 1
        bar.update(1)

        if iteration % cfg.run.log_every == 0 or iteration == end:
            elapsed = time.perf_counter() - window_start
            record = {k: v / sums["steps"] for k, v in sums.items() if k != "steps"}
            record.update(
                lr=optimizer.param_groups[0]["lr"],
                epoch=epoch,
                images_per_s=window_images / max(elapsed, 1e-9),
            )
            if not math.isnan(grad_norm):
                record["grad_norm"] = grad_norm
            logger.log("train", iteration, record)
            bar.set_postfix(loss=f"{record['loss']:.3f}", lr=f"{record['lr']:.2g}")
            sums, window_images, window_start = {}, 0, time.perf_counter()
        if cfg.run.diag_every and iteration % cfg.run.diag_every == 0:
            diag = mining_diagnostics(
                sup.match,
                sup.pred_boxes,
                batch.gt_boxes,
                batch.gt_valid,
                top_k=cfg.matching.top_k,
                hq_iou_thr=cfg.matching.high_quality_iou_thr,
            )
            logger.log("diagnostics", iteration, diag)
        last = iteration == end
        if info.is_main and (iteration % cfg.run.checkpoint_every == 0 or last):
            _save(out_dir, model, optimizer, scheduler, scaler, iteration, cfg)
        if iteration % cfg.run.eval_every == 0 or (last and iteration == max_iters):
            if info.is_main:
                evaluated = _evaluate(model, root, cfg, iteration, out_dir, progress)
                if evaluated is not None:
                    metrics, result.predictions = evaluated
                    logger.log("eval", iteration, metrics)
                    result.ap = {k[3:]: v for k, v in metrics.items() if k.startswith("ap_")}
            barrier(info)
        if last:
            break
    bar.close()
    result.iterations = iteration
    result.model = ckpt.unwrap_model(model)
    result.data_root = root
    return result


def _save(out_dir, model, optimizer, scheduler, scaler, iteration, cfg) -> None:
    from hambox_torch.engine.config import config_to_dict

    ckpt.save_checkpoint(
        out_dir / f"ckpt_{iteration:07d}.pt",
        model=model,  # save_checkpoint unwraps DDP itself
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
        iteration=iteration,
        config=config_to_dict(cfg),
    )
    ckpt.prune_checkpoints(out_dir, keep=3)
