"""Differentiable losses on tensors: sigmoid focal, smooth-L1, and the regression-aware focal
loss of HAMBox (paper Eq. 1 and 2), with the semantics of :mod:`hambox_core.losses`.

Inputs are flat over the whole batch (``N = images x anchors``), already matched and encoded.
They are checked with the core's rules and messages before anything is computed (types,
shapes, dtypes and devices from the metadata; then, in one device synchronisation, finite
logits, finite box rows of the positives, labels in {-1, 0, 1}, ``compensated`` a 0/1 subset
of the positives, the compensated anchors' quality and the targets in [0, 1], the positives'
classes in range); ``check=False`` skips the value checks. Masks are applied with
``torch.where``, never boolean indexing, so the computation itself never synchronises with the
device. Logits are promoted to float32 (or kept float64), so float16 logits under autocast
give finite losses and gradients; the focal loss is stable for any finite logit, and its
gradients are finite for every ``gamma >= 0``.

Normalisers (:doc:`/guide/loss`): ``N_com = max(1, |psi|)`` and
``N_norm = max(1, positives in Omega)``, counted over the batch of this process (with
``compensated_normalizer="positives"`` both are ``max(1, positives)``). With
``global_normalize=True`` the raw counts are averaged over the processes of the default
``torch.distributed`` group before the clamp at 1, so every process divides by the same number.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hambox_core.losses import COMPENSATED_NORMALIZERS
from hambox_core.validation import (
    check_bool,
    check_choice,
    check_class_logits,
    check_focal_parameters,
    check_non_negative,
    class_index_error,
    compensated_error,
    shape_wanted,
)

from .validation import ValueChecks, check_floating, check_shape, same_device, tensor_arg

__all__ = [
    "RegressionAwareFocalLoss",
    "StandardFocalLoss",
    "regression_aware_focal_loss",
    "sigmoid_focal_loss",
    "smooth_l1_loss",
    "standard_focal_loss",
]


def _float(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.float64 else x.float()


def sigmoid_focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    check: bool = True,
) -> torch.Tensor:
    """Per-element sigmoid focal loss (RetinaNet), stable for any finite logit.

    Parameters
    ----------
    logits : Tensor[N]
        Classification logits (any float dtype; computed in float32 or float64).
    targets : Tensor[N]
        Targets in [0, 1].
    alpha : float, default 0.25
        Weight of the positive class, at most 1; a negative value disables the weighting.
    gamma : float, default 2.0
        Focusing exponent, >= 0. Gradients are finite for every such value, also where a
        logit is so confident that ``1 - p_t`` underflows to 0.

    check : bool, default True
        Check that the logits are finite and the targets in [0, 1] (one device
        synchronisation).

    Returns
    -------
    Tensor[N]
        ``alpha_t * (1 - p_t) ** gamma * BCE``, with ``1 - p_t`` from the sigmoid of the
        signed logit (never ``1 - sigmoid(x)``).
    """
    alpha, gamma = check_focal_parameters(alpha, gamma)
    _vector(logits, "logits", None, floating=True)
    _vector(targets, "targets", logits.shape[0], "logits")
    same_device(("logits", logits), ("targets", targets))
    if check:
        ValueChecks().finite(logits, "logits").unit(targets, "targets").run()
    return _focal(logits, targets, alpha, gamma)


def _focal(logits, targets, alpha: float, gamma: float) -> torch.Tensor:
    x = _float(logits)
    t = targets.to(x.dtype)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    one_minus_pt = t * torch.sigmoid(-x) + (1 - t) * torch.sigmoid(x)
    if gamma == 0:
        loss = ce
    else:
        # (1 - p_t) ** gamma is 0 where 1 - p_t underflows to 0; its derivative there is
        # infinite for gamma < 1, so the power is taken on a safe value and masked (the
        # gradient of the masked branch is 0, never NaN).
        nonzero = one_minus_pt > 0
        safe = torch.where(nonzero, one_minus_pt, torch.ones_like(one_minus_pt))
        loss = ce * torch.where(nonzero, safe.pow(gamma), torch.zeros_like(one_minus_pt))
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss


def smooth_l1_loss(
    deltas: torch.Tensor, targets: torch.Tensor, *, beta: float = 1.0 / 9.0, check: bool = True
):
    """Smooth-L1 summed over the last axis: Tensor[N, 4] twice in, Tensor[N] out.

    ``check`` (one device synchronisation): both are finite, as in the core.
    """
    beta = check_non_negative(beta, "beta")
    _rows(deltas, "deltas", None)
    _rows(targets, "targets", deltas.shape[0], "deltas")
    same_device(("deltas", deltas), ("targets", targets))
    if check:
        ValueChecks().finite(deltas, "deltas").finite(targets, "targets").run()
    return _smooth_l1(deltas, targets, beta)


def _smooth_l1(deltas, targets, beta: float) -> torch.Tensor:
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


def _vector(
    t, name: str, n, n_from: str = "cls_logits", *, floating: bool = False, integer: bool = False
) -> None:
    """A 1-d tensor of ``n`` elements (any length if None; ``n`` is ``n_from``'s length) of a
    real dtype."""
    tensor_arg(t, name)
    want = shape_wanted("(N,)", n, n_from)
    check_shape(t, name, want, t.ndim == 1 and (n is None or t.shape[0] == n))
    if floating:
        check_floating(t, name)
    elif integer and (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool):
        raise ValueError(f"{name} must hold integers, got dtype {t.dtype}")
    elif t.is_complex():
        raise ValueError(f"{name} must hold real numbers, got dtype {t.dtype}")


def _rows(t, name: str, n, n_from: str = "cls_logits") -> None:
    """A floating ``(n, 4)`` tensor."""
    tensor_arg(t, name)
    want = shape_wanted("(N, 4)", n, n_from)
    check_shape(t, name, want, t.ndim == 2 and t.shape[1] == 4 and (n is None or t.shape[0] == n))
    check_floating(t, name)


def _check(
    cls_logits,
    box_deltas,
    box_targets,
    labels,
    compensated=None,
    quality=None,
    *,
    classes=None,
    check=True,
):
    """The core's rules for a batch (see the module notes); returns ``compensated`` as bool."""
    tensor_arg(cls_logits, "cls_logits")
    check_class_logits(cls_logits.shape, classes is not None)
    check_floating(cls_logits, "cls_logits")
    n = cls_logits.shape[0]
    _rows(box_deltas, "box_deltas", n)
    _rows(box_targets, "box_targets", n)
    _vector(labels, "labels", n)
    named = [
        ("cls_logits", cls_logits),
        ("box_deltas", box_deltas),
        ("box_targets", box_targets),
        ("labels", labels),
    ]
    if compensated is not None:
        _vector(compensated, "compensated", n)
        _vector(quality, "quality", n)
        named += [("compensated", compensated), ("quality", quality)]
    if cls_logits.ndim == 2 or classes is not None:
        _vector(classes, "classes", n, integer=True)
        named.append(("classes", classes))
    same_device(*named)
    if not check:
        return None if compensated is None else compensated.bool()
    positive = labels == 1
    checks = ValueChecks().finite(cls_logits, "cls_logits").labels(labels)
    checks.finite(box_deltas, "box_deltas", rows=positive, what=" (row of a positive anchor)")
    checks.finite(box_targets, "box_targets", rows=positive, what=" (row of a positive anchor)")
    if cls_logits.ndim == 2:
        c = cls_logits.shape[1]
        checks.custom(
            positive & ((classes < 0) | (classes >= c)),
            lambda i: class_index_error(i[0], int(classes[i]), c),
        )
    if compensated is None:
        checks.run()
        return None
    checks.binary(compensated, "compensated")
    psi = compensated != 0
    checks.custom(psi & ~positive, lambda i: compensated_error(i[0], int(labels[i])))
    checks.unit(quality, "quality", where=psi, what=" of a compensated anchor")
    checks.run()
    return psi


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
    classes=None,
    compensated_normalizer="compensated",
):
    positive = labels == 1
    psi = compensated & positive
    # Quality is read only where compensated: NaN elsewhere must not reach a gradient.
    weight = torch.where(psi, weight, torch.zeros_like(weight))
    normal = positive & ~compensated
    omega = normal | (labels == 0)
    x = _float(cls_logits)
    # Rows of non-positives never reach the box loss, whatever their targets hold.
    d = _float(box_deltas)
    tgt = torch.where(positive[:, None], box_targets.to(d.dtype), d.detach())
    sl1 = _smooth_l1(d, tgt, beta)
    zero = x.new_zeros(())
    if compensated_normalizer == "positives":
        n_com = n_norm = _normaliser(positive.sum(), global_normalize).to(x.dtype)
    else:
        n_com = _normaliser(psi.sum(), global_normalize).to(x.dtype)
        n_norm = _normaliser(normal.sum(), global_normalize).to(x.dtype)
    if x.ndim == 1:
        fl_pos = _focal(x, torch.ones_like(x), alpha, gamma)
        fl_lab = _focal(x, positive.to(x.dtype), alpha, gamma)
        loss_cls = (
            torch.where(psi, weight.to(x.dtype) * fl_pos, zero).sum() / n_com
            + torch.where(omega, fl_lab, zero).sum() / n_norm
        )
    else:
        # One sigmoid per class with one-hot targets (torchvision's sigmoid focal loss); a
        # compensated anchor's row is psi's, its matched class's column weighted by quality.
        onehot = F.one_hot(classes.clamp(min=0), x.shape[1]).to(x.dtype)
        onehot = onehot * positive[:, None].to(x.dtype)
        fl = _focal(x, onehot, alpha, gamma)
        col_weight = torch.where(onehot > 0, weight.to(x.dtype)[:, None], 1.0)
        loss_cls = (
            torch.where(psi[:, None], col_weight * fl, zero).sum() / n_com
            + torch.where(omega[:, None], fl, zero).sum() / n_norm
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
    classes: torch.Tensor | None = None,
    check: bool = True,
    compensated_normalizer: str = "compensated",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Regression-aware focal loss (paper Eq. 1, 2) over a flat batch; see
    :func:`hambox_core.losses.regression_aware_focal_loss` for the equations.

    Parameters
    ----------
    cls_logits : Tensor[N] or Tensor[N, C]
        One logit per anchor (the paper's face / background), or one per class.
    box_deltas, box_targets : Tensor[N, 4]
    labels : Tensor[N] int (1, 0, -1)
    compensated : Tensor[N] bool
    quality : Tensor[N] float, the compensated anchors' IoU weights F_i
    alpha, gamma, beta : float
    global_normalize : bool, default False
        Average N_com and N_norm over the processes of the default distributed group.
    classes : Tensor[N] int64, optional
        With (N, C) logits (required then): each positive anchor's class (its matched face's),
        any value elsewhere.
    check : bool, default True
        Check the values with the core's rules (one device synchronisation; see the module
        notes). Types, shapes and devices are always checked.
    compensated_normalizer : {"compensated", "positives"}, default "compensated"
        ``N_com`` for the compensated anchors' sums (the paper), or the number of all positives
        for every sum (the standard focal loss's normaliser; not the paper's, for studies), as
        in :func:`hambox_core.losses.regression_aware_focal_loss`.

    Returns
    -------
    (Tensor, Tensor)
        Scalar ``loss_cls`` and ``loss_loc``, differentiable w.r.t. logits and deltas.

    Notes
    -----
    With (N, C) logits the focal loss is taken per class with one-hot targets, as
    torchvision's ``sigmoid_focal_loss`` for RetinaNet: a positive anchor's target is 1 in its
    class's column and 0 in the others, a background anchor's 0 everywhere. A compensated
    anchor's whole row belongs to the ``psi`` term (divided by ``N_com``), with the quality
    ``F_i`` weighting its class's column only; the other rows are ``Omega``'s. With ``C = 1``
    this is the paper's loss exactly.
    """
    hyper = _hyper_parameters(alpha, gamma, beta, global_normalize)
    norm = check_choice(compensated_normalizer, "compensated_normalizer", COMPENSATED_NORMALIZERS)
    tensor_arg(compensated, "compensated")
    tensor_arg(quality, "quality")
    psi = _check(
        cls_logits,
        box_deltas,
        box_targets,
        labels,
        compensated,
        quality,
        classes=classes,
        check=check,
    )
    return _masked_losses(
        cls_logits,
        box_deltas,
        box_targets,
        labels,
        psi,
        quality,
        *hyper,
        classes,
        norm,
    )


def _hyper_parameters(alpha, gamma, beta, global_normalize):
    alpha, gamma = check_focal_parameters(alpha, gamma)
    beta = check_non_negative(beta, "beta")
    return alpha, gamma, beta, check_bool(global_normalize, "global_normalize")


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
    classes: torch.Tensor | None = None,
    check: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's baseline: focal loss + smooth-L1, every positive alike, divided by
    ``max(1, number of positives)``; see :func:`hambox_core.losses.standard_focal_loss`.

    ``cls_logits`` may be Tensor[N, C] with ``classes`` as in
    :func:`regression_aware_focal_loss` (torchvision's per-class sigmoid focal loss);
    ``check`` as there."""
    hyper = _hyper_parameters(alpha, gamma, beta, global_normalize)
    _check(cls_logits, box_deltas, box_targets, labels, classes=classes, check=check)
    none = torch.zeros_like(labels, dtype=torch.bool)
    return _masked_losses(
        cls_logits,
        box_deltas,
        box_targets,
        labels,
        none,
        torch.zeros_like(labels, dtype=torch.float32),
        *hyper,
        classes,
    )


class _Loss:
    """The loss contract: hyper-parameters in ``__init__`` (checked there, with the core's
    rules), flat matched tensors in the call."""

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        beta: float = 1.0 / 9.0,
        *,
        global_normalize: bool = False,
    ) -> None:
        self.alpha, self.gamma, self.beta, self.global_normalize = _hyper_parameters(
            alpha, gamma, beta, global_normalize
        )

    def hyper_parameters(self) -> dict:
        """The keyword arguments this loss passes to its function."""
        return {
            "alpha": self.alpha,
            "gamma": self.gamma,
            "beta": self.beta,
            "global_normalize": self.global_normalize,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyper_parameters().items())
        return f"{type(self).__name__}({args})"


class RegressionAwareFocalLoss(_Loss):
    """:func:`regression_aware_focal_loss` as an object (what training and supervision call).

    Parameters
    ----------
    alpha, gamma, beta, global_normalize, compensated_normalizer
        As in :func:`regression_aware_focal_loss`.

    Notes
    -----
    Any object with this call signature can stand in for it (the *loss contract*):
    ``loss(cls_logits (N,), box_deltas (N, 4), box_targets (N, 4), labels (N,),
    compensated (N,), quality (N,)) -> (loss_cls, loss_loc)``, all flat over the batch; with
    multi-class logits (N, C) it is also given ``classes=`` (N,), each positive's class.

    Examples
    --------
    >>> loss = RegressionAwareFocalLoss()
    >>> z = torch.zeros(2)
    >>> cls, loc = loss(z, torch.zeros(2, 4), torch.zeros(2, 4), torch.tensor([1, 0]),
    ...                 torch.tensor([False, False]), z)
    >>> round(float(cls), 4), float(loc)
    (0.1733, 0.0)
    """

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        beta: float = 1.0 / 9.0,
        *,
        global_normalize: bool = False,
        compensated_normalizer: str = "compensated",
    ) -> None:
        super().__init__(alpha, gamma, beta, global_normalize=global_normalize)
        self.compensated_normalizer = check_choice(
            compensated_normalizer, "compensated_normalizer", COMPENSATED_NORMALIZERS
        )

    def hyper_parameters(self) -> dict:
        """The keyword arguments this loss passes to its function."""
        return {**super().hyper_parameters(), "compensated_normalizer": self.compensated_normalizer}

    def __call__(self, logits, deltas, targets, labels, compensated, quality, *, classes=None):
        matched = (logits, deltas, targets, labels, compensated, quality)
        return regression_aware_focal_loss(*matched, classes=classes, **self.hyper_parameters())


class StandardFocalLoss(_Loss):
    """:func:`standard_focal_loss` as an object with the loss contract of
    :class:`RegressionAwareFocalLoss` (``compensated`` and ``quality`` are accepted and
    unused: every positive counts alike).

    Examples
    --------
    >>> loss = StandardFocalLoss(gamma=0.0)
    >>> z = torch.zeros(1)
    >>> cls, loc = loss(z, torch.zeros(1, 4), torch.zeros(1, 4), torch.tensor([1]),
    ...                 torch.tensor([True]), z)
    >>> round(float(cls), 4)
    0.1733
    """

    def __call__(self, logits, deltas, targets, labels, compensated, quality, *, classes=None):
        matched = (logits, deltas, targets, labels)
        return standard_focal_loss(*matched, classes=classes, **self.hyper_parameters())
