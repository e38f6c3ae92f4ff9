"""SGD for the detector and the paper's learning-rate schedule.

The paper (section 4.1) trains with synchronized SGD, momentum 0.9, weight decay 5e-5, lr 0.01
decreased to 0.001 after 110k of 140k iterations. Two choices are ours and written down here:

- **No weight decay on biases and normalisation parameters** (BatchNorm/GroupNorm/LayerNorm
  weights and biases, every ``bias``). Decaying a norm's scale or a bias only shrinks it toward
  zero without regularising the function, and would pull the classification bias away from its
  ``prior_prob`` initialisation; detectron2 and mmdetection offer the same split. With the
  paper's small decay (5e-5) the effect is minor either way.
- **A linear warm-up** of ``warmup_iters`` iterations from ``warmup_factor * lr`` to ``lr``
  (1000 iterations from lr/3 by default), which the paper does not mention; it keeps the first
  iterations of a freshly initialised head at lr 0.01 from diverging.

The schedule is a :class:`torch.optim.lr_scheduler.LambdaLR` stepped once per iteration, so
``scheduler.last_epoch`` is the iteration whose rate the optimizer holds. Its multiplier is a
:class:`WarmupStepSchedule`, whose constructor checks the schedule's values; the optimizer's
are checked by :func:`build_optimizer` (the only place each rule is written).
"""

from __future__ import annotations

import bisect
import itertools

import torch
from torch import nn

from hambox_torch.recipe.config import OptimConfig

__all__ = ["WarmupStepSchedule", "build_lr_scheduler", "build_optimizer", "parameter_groups"]

#: The optimizers ``optim.optimizer`` can name.
OPTIMIZERS = ("sgd", "adamw")

# Modules whose parameters are never weight-decayed.
NORM_TYPES = (
    nn.modules.batchnorm._NormBase,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.LocalResponseNorm,
)


def _check_optim_cfg(optim_cfg) -> OptimConfig:
    if not isinstance(optim_cfg, OptimConfig):
        raise ValueError(f"optim_cfg must be an OptimConfig, got {type(optim_cfg).__name__}")
    return optim_cfg


def parameter_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split the trainable parameters of ``model`` into (decayed, not decayed).

    Not decayed: every parameter of a normalisation module and every parameter named ``bias``.
    Frozen parameters (``requires_grad=False``) are left out; a parameter shared by several
    modules appears once.

    Returns
    -------
    decay, no_decay : list of Parameter
        In ``model.named_modules()`` order.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    >>> decay, no_decay = parameter_groups(net)
    >>> [tuple(p.shape) for p in decay], [tuple(p.shape) for p in no_decay]
    ([(4, 3, 3, 3)], [(4,), (4,), (4,)])
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        is_norm = isinstance(module, NORM_TYPES)
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            (no_decay if is_norm or name == "bias" else decay).append(param)
    return decay, no_decay


def build_optimizer(model: nn.Module, optim_cfg: OptimConfig) -> torch.optim.SGD:
    """SGD with momentum (or AdamW with ``optimizer="adamw"``); weight decay on conv/linear
    weights only (see the module notes).

    Parameters
    ----------
    model : nn.Module
        The detector (unwrapped or wrapped in DDP: the parameters are the same objects).
    optim_cfg : OptimConfig
        ``lr``, ``momentum`` and ``weight_decay`` are used.

    Returns
    -------
    torch.optim.SGD
        Two parameter groups: ``[0]`` decayed, ``[1]`` with ``weight_decay=0``; empty groups are
        dropped.

    Examples
    --------
    >>> opt = build_optimizer(nn.Linear(2, 1), OptimConfig(lr=0.1))
    >>> [(len(g["params"]), g["weight_decay"]) for g in opt.param_groups]
    [(1, 5e-05), (1, 0.0)]
    """
    cfg = _check_optim_cfg(optim_cfg)
    kind = getattr(cfg, "optimizer", "sgd")
    if kind not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {kind!r}")
    if not cfg.lr > 0:
        raise ValueError(f"lr must be positive, got {cfg.lr}")
    if not 0 <= cfg.momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {cfg.momentum}")
    if not cfg.weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {cfg.weight_decay}")
    decay, no_decay = parameter_groups(model)
    groups = [
        {"params": params, "weight_decay": wd}
        for params, wd in ((decay, cfg.weight_decay), (no_decay, 0.0))
        if params
    ]
    if not groups:
        raise ValueError("model has no trainable parameters")
    if kind == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999))
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)


class WarmupStepSchedule:
    """The paper's learning-rate multiplier: linear warm-up, then step decay.

    ``warmup(it) * lr_gamma ** (number of lr_steps <= it)``, where ``warmup`` rises linearly
    from ``warmup_factor`` at iteration 0 to 1 at ``warmup_iters`` and is 1 afterwards.

    Parameters
    ----------
    max_iters : int
        Length of the run, >= 1.
    lr_steps : sequence of int
        Strictly increasing iterations in [1, max_iters) where the rate is multiplied by
        ``lr_gamma``.
    lr_gamma : float
        In (0, 1].
    warmup_iters : int
        In [0, max_iters); 0 disables the warm-up.
    warmup_factor : float
        In (0, 1].

    Examples
    --------
    >>> s = WarmupStepSchedule(140_000, (110_000,), 0.1, 1000, 1 / 3)
    >>> [round(s(i), 6) for i in (0, 500, 1000, 109_999, 110_000)]
    [0.333333, 0.666667, 1.0, 1.0, 0.1]
    >>> WarmupStepSchedule(200, (110_000,), 0.1, 0, 1.0)
    Traceback (most recent call last):
    ...
    ValueError: lr_steps must all be below max_iters=200, got (110000,)
    """

    def __init__(self, max_iters, lr_steps, lr_gamma, warmup_iters, warmup_factor) -> None:
        if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
            raise ValueError(f"max_iters must be an integer >= 1, got {max_iters!r}")
        steps = tuple(lr_steps)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in steps):
            raise ValueError(f"lr_steps must be integers >= 1, got {steps}")
        if any(a >= b for a, b in itertools.pairwise(steps)):
            raise ValueError(f"lr_steps must be strictly increasing, got {steps}")
        if any(v >= max_iters for v in steps):
            raise ValueError(f"lr_steps must all be below max_iters={max_iters}, got {steps}")
        if not 0 < lr_gamma <= 1:
            raise ValueError(f"lr_gamma must be in (0, 1], got {lr_gamma}")
        if not (isinstance(warmup_iters, int) and 0 <= warmup_iters < max_iters):
            raise ValueError(
                f"warmup_iters must be an integer in [0, max_iters={max_iters}), got "
                f"{warmup_iters!r}"
            )
        if not 0 < warmup_factor <= 1:
            raise ValueError(f"warmup_factor must be in (0, 1], got {warmup_factor}")
        self.max_iters = max_iters
        self.lr_steps = steps
        self.lr_gamma = float(lr_gamma)
        self.warmup_iters = warmup_iters
        self.warmup_factor = float(warmup_factor)

    @classmethod
    def from_config(cls, optim_cfg: OptimConfig) -> WarmupStepSchedule:
        """The schedule of an ``optim`` config section."""
        c = _check_optim_cfg(optim_cfg)
        return cls(c.max_iters, c.lr_steps, c.lr_gamma, c.warmup_iters, c.warmup_factor)

    def __call__(self, iteration: int) -> float:
        """Multiplier of the base rate at ``iteration`` (0-based)."""
        if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
            raise ValueError(f"iteration must be a non-negative int, got {iteration!r}")
        factor = self.lr_gamma ** bisect.bisect_right(self.lr_steps, iteration)
        if iteration < self.warmup_iters:
            alpha = iteration / self.warmup_iters
            factor *= self.warmup_factor * (1.0 - alpha) + alpha
        return factor


def build_lr_scheduler(
    optimizer: torch.optim.Optimizer, optim_cfg: OptimConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """The paper's schedule as a ``LambdaLR``: call ``scheduler.step()`` once per iteration.

    The multiplier is a :class:`WarmupStepSchedule` of the config, held by a plain function, so
    a checkpoint's scheduler state (``last_epoch``, ``base_lrs``) restores the position and the
    current config decides the shape.

    Examples
    --------
    >>> cfg = OptimConfig(lr=0.01, warmup_iters=10, max_iters=100, lr_steps=(50,))
    >>> opt = build_optimizer(nn.Linear(2, 1), cfg)
    >>> sched = build_lr_scheduler(opt, cfg)
    >>> lrs = []
    >>> for _ in range(60):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     opt.step()
    ...     sched.step()
    >>> [round(lrs[i], 6) for i in (0, 10, 49, 50)]
    [0.003333, 0.01, 0.01, 0.001]
    """
    schedule = WarmupStepSchedule.from_config(optim_cfg)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer)}")

    def factor(iteration: int) -> float:
        return schedule(iteration)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
