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
``scheduler.last_epoch`` is the iteration whose rate the optimizer holds.
"""

from __future__ import annotations

import bisect

import torch
from torch import nn

from .config import OptimConfig

__all__ = ["build_lr_scheduler", "build_optimizer", "lr_factor", "parameter_groups"]

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
    decay, no_decay = parameter_groups(model)
    groups = [
        {"params": params, "weight_decay": wd}
        for params, wd in ((decay, cfg.weight_decay), (no_decay, 0.0))
        if params
    ]
    if not groups:
        raise ValueError("model has no trainable parameters")
    if getattr(cfg, "optimizer", "sgd") == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999))
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)


def lr_factor(iteration: int, optim_cfg: OptimConfig) -> float:
    """Multiplier of ``optim_cfg.lr`` at ``iteration`` (0-based).

    ``warmup(it) * lr_gamma ** (number of lr_steps <= it)``, where ``warmup`` rises linearly
    from ``warmup_factor`` at iteration 0 to 1 at ``warmup_iters`` and is 1 afterwards.

    Examples
    --------
    >>> cfg = OptimConfig()
    >>> [round(lr_factor(i, cfg), 6) for i in (0, 500, 1000, 109_999, 110_000)]
    [0.333333, 0.666667, 1.0, 1.0, 0.1]
    """
    cfg = _check_optim_cfg(optim_cfg)
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise ValueError(f"iteration must be a non-negative int, got {iteration!r}")
    factor = cfg.lr_gamma ** bisect.bisect_right(cfg.lr_steps, iteration)
    if iteration < cfg.warmup_iters:
        alpha = iteration / cfg.warmup_iters
        factor *= cfg.warmup_factor * (1.0 - alpha) + alpha
    return factor


def build_lr_scheduler(
    optimizer: torch.optim.Optimizer, optim_cfg: OptimConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """The paper's schedule as a ``LambdaLR``: call ``scheduler.step()`` once per iteration.

    The multiplier is :func:`lr_factor`; it is a plain function of the config, so a
    checkpoint's scheduler state (``last_epoch``, ``base_lrs``) restores the position and the
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
    cfg = _check_optim_cfg(optim_cfg)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer)}")

    def factor(iteration: int) -> float:
        return lr_factor(iteration, cfg)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
