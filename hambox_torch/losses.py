"""Differentiable losses on tensors: sigmoid focal, smooth-L1, and the regression-aware focal
loss of HAMBox (paper Eq. 1 and 2), with the semantics of :mod:`hambox_core.losses`.

Inputs are flat over the whole batch (``N = images x anchors``), already matched and encoded.
Masks are applied with ``torch.where``, never boolean indexing, so nothing synchronises with
the device. Logits are promoted to float32 (or kept float64), so float16 logits under autocast
give finite losses and gradients; the focal loss is stable for any finite logit.

Normalisers (DESIGN.md): ``N_com = max(1, |psi|)`` and ``N_norm = max(1, positives in Omega)``,
counted over the batch of this process. With ``global_normalize=True`` the raw counts are
averaged over the processes of the default ``torch.distributed`` group before the clamp at 1,
so every process divides by the same number.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "regression_aware_focal_loss",
    "sigmoid_focal_loss",
    "smooth_l1_loss",
    "standard_focal_loss",
]


def _float(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.float64 else x.float()


def sigmoid_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, *, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Per-element sigmoid focal loss (RetinaNet), stable for any finite logit.

    Parameters
    ----------
    logits : Tensor[N]
        Classification logits (any float dtype; computed in float32 or float64).
    targets : Tensor[N]
        Targets in [0, 1].
    alpha : float, default 0.25
        Weight of the positive class; a negative value disables the weighting.
    gamma : float, default 2.0
        Focusing exponent.

    Returns
    -------
    Tensor[N]
        ``alpha_t * (1 - p_t) ** gamma * BCE``, with ``1 - p_t`` from the sigmoid of the
        signed logit (never ``1 - sigmoid(x)``).
    """
    x = _float(logits)
    t = targets.to(x.dtype)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    one_minus_pt = t * torch.sigmoid(-x) + (1 - t) * torch.sigmoid(x)
    loss = ce * one_minus_pt.pow(gamma)
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss


def smooth_l1_loss(deltas: torch.Tensor, targets: torch.Tensor, *, beta: float = 1.0 / 9.0):
    """Smooth-L1 summed over the last axis: Tensor[N, 4] twice in, Tensor[N] out."""
    d = _float(deltas)
    return F.smooth_l1_loss(d, targets.to(d.dtype), beta=beta, reduction="none").sum(-1)


def _normaliser(count: torch.Tensor, global_normalize: bool) -> torch.Tensor:
    count = count.to(torch.float32 if count.dtype != torch.float64 else torch.float64)
    if global_normalize:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError("global_normalize=True needs an initialised torch.distributed group")
        count = count.clone()
        dist.all_reduce(count)
        count = count / dist.get_world_size()
    return count.clamp(min=1)


def _check(cls_logits, box_deltas, box_targets, labels, *extra):
    n = cls_logits.shape[0] if cls_logits.ndim == 1 else -1
    if n < 0:
        raise ValueError(f"cls_logits must have shape (N,), got {tuple(cls_logits.shape)}")
    for name, t in (("box_deltas", box_deltas), ("box_targets", box_targets)):
        if t.shape != (n, 4):
            raise ValueError(f"{name} must have shape ({n}, 4), got {tuple(t.shape)}")
    for name, t in (("labels", labels), *extra):
        if t.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {tuple(t.shape)}")


def _masked_losses(
    cls_logits,
    box_deltas,
    box_targets,
    labels,
    compensated,
    weight,
    alpha,
    gamma,
    beta,
    global_normalize,
):
    positive = labels == 1
    psi = compensated & positive
    normal = positive & ~compensated
    omega = normal | (labels == 0)
    x = _float(cls_logits)
    fl_pos = sigmoid_focal_loss(x, torch.ones_like(x), alpha=alpha, gamma=gamma)
    fl_lab = sigmoid_focal_loss(x, positive.to(x.dtype), alpha=alpha, gamma=gamma)
    # Rows of non-positives never reach the box loss, whatever their targets hold.
    d = _float(box_deltas)
    tgt = torch.where(positive[:, None], box_targets.to(d.dtype), d.detach())
    sl1 = smooth_l1_loss(d, tgt, beta=beta)
    zero = x.new_zeros(())
    n_com = _normaliser(psi.sum(), global_normalize).to(x.dtype)
    n_norm = _normaliser(normal.sum(), global_normalize).to(x.dtype)
    loss_cls = (
        torch.where(psi, weight.to(x.dtype) * fl_pos, zero).sum() / n_com
        + torch.where(omega, fl_lab, zero).sum() / n_norm
    )
    loss_loc = (
        torch.where(psi, sl1, zero).sum() / n_com + torch.where(normal, sl1, zero).sum() / n_norm
    )
    return loss_cls, loss_loc


def regression_aware_focal_loss(
    cls_logits: torch.Tensor,
    box_deltas: torch.Tensor,
    box_targets: torch.Tensor,
    labels: torch.Tensor,
    compensated: torch.Tensor,
    quality: torch.Tensor,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    beta: float = 1.0 / 9.0,
    global_normalize: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Regression-aware focal loss (paper Eq. 1, 2) over a flat batch; see
    :func:`hambox_core.losses.regression_aware_focal_loss` for the equations.

    Parameters
    ----------
    cls_logits : Tensor[N]
    box_deltas, box_targets : Tensor[N, 4]
    labels : Tensor[N] int (1, 0, -1)
    compensated : Tensor[N] bool
    quality : Tensor[N] float, the compensated anchors' IoU weights F_i
    alpha, gamma, beta : float
    global_normalize : bool, default False
        Average N_com and N_norm over the processes of the default distributed group.

    Returns
    -------
    (Tensor, Tensor)
        Scalar ``loss_cls`` and ``loss_loc``, differentiable w.r.t. logits and deltas.
    """
    _check(
        cls_logits,
        box_deltas,
        box_targets,
        labels,
        ("compensated", compensated),
        ("quality", quality),
    )
    return _masked_losses(
        cls_logits,
        box_deltas,
        box_targets,
        labels,
        compensated.bool(),
        quality,
        alpha,
        gamma,
        beta,
        global_normalize,
    )


def standard_focal_loss(
    cls_logits: torch.Tensor,
    box_deltas: torch.Tensor,
    box_targets: torch.Tensor,
    labels: torch.Tensor,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    beta: float = 1.0 / 9.0,
    global_normalize: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's baseline: focal loss + smooth-L1, every positive alike, divided by
    ``max(1, number of positives)``; see :func:`hambox_core.losses.standard_focal_loss`."""
    _check(cls_logits, box_deltas, box_targets, labels)
    none = torch.zeros_like(labels, dtype=torch.bool)
    return _masked_losses(
        cls_logits,
        box_deltas,
        box_targets,
        labels,
        none,
        torch.zeros_like(cls_logits),
        alpha,
        gamma,
        beta,
        global_normalize,
    )
