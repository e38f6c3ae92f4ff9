"""Sigmoid focal loss, smooth-L1 and the regression-aware focal loss of HAMBox (paper Eq. 1, 2).

The loss functions take flat arrays over the whole batch (``N = images x anchors``) that a
matcher has already labelled and encoded, so one function serves every matcher:

- ``labels`` holds ``1`` (face), ``0`` (background) or ``-1`` (ignored) per anchor;
- ``compensated`` marks the anchors the online mining step turned from background into faces;
- ``quality`` holds, for those anchors, ``F_i``: the IoU between the box the anchor regresses and
  its target face.

From these the regression-aware focal loss forms two disjoint sets of anchors:

- :math:`\\psi`, the compensated anchors (a subset of the positives);
- :math:`\\Omega`, every other positive ("normally matched") plus every background anchor.
  Ignored anchors belong to neither set and contribute nothing.

and two normalisers, both counted over the whole batch:

- :math:`N_{com} = \\max(1, |\\psi|)`;
- :math:`N_{norm} = \\max(1, |\\{i \\in \\Omega : l_i = 1\\}|)`, the positives in :math:`\\Omega`.

Paper Eq. 1 and Eq. 2 then read

.. math::

    L_{cls} = \\frac{1}{N_{com}} \\sum_{i \\in \\psi} F_i\\, FL(p_i, 1)
            + \\frac{1}{N_{norm}} \\sum_{i \\in \\Omega} FL(p_i, l_i)

    L_{loc} = \\frac{1}{N_{com}} \\sum_{i \\in \\psi} SmoothL1_i
            + \\frac{1}{N_{norm}} \\sum_{i \\in \\Omega,\\, l_i = 1} SmoothL1_i

``compensated_normalizer="positives"`` (not the paper's; an option for studies) divides both
sums by :math:`N_{pos} = \\max(1, |\\psi| + |\\{i \\in \\Omega : l_i = 1\\}|)` instead, the
standard focal loss's normaliser: a compensated anchor then weighs as much as any other positive
(times :math:`F_i`), however few there are in the batch.

The paper's factor :math:`1(F_i < 0.5)` on the background anchors of :math:`\\Omega` is applied by
the matcher: a background anchor that regresses a high-quality box (:math:`F_i \\ge 0.5`) and is
not compensated gets label ``-1``, so here it is simply an ignored anchor.
:func:`standard_focal_loss` is the paper's baseline, in which every positive counts alike.

Everything is computed in float64 from the inputs, and the focal loss is numerically stable for any
finite logit: the binary cross-entropy is formed from logits, and :math:`1 - p_t` from
:func:`scipy.special.expit` of the appropriately signed logit, never as ``1 - sigmoid(x)``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .validation import (
    as_bool_mask,
    as_int_vector,
    as_labels,
    as_real_array,
    as_real_rows,
    as_real_vector,
    check_choice,
    check_class_logits,
    check_finite,
    check_focal_parameters,
    check_non_negative,
    class_index_error,
    compensated_error,
    outside_unit,
    range_error,
)

__all__ = [
    "COMPENSATED_NORMALIZERS",
    "RegressionAwareFocalLoss",
    "StandardFocalLoss",
    "regression_aware_focal_loss",
    "sigmoid_focal_loss",
    "smooth_l1_loss",
    "standard_focal_loss",
]


#: ``compensated_normalizer`` of :func:`regression_aware_focal_loss`: ``"compensated"`` divides
#: the compensated anchors' sums by their own count (paper Eq. 1 and 2), ``"positives"`` divides
#: every sum by the count of all positives (the standard focal loss's normaliser).
COMPENSATED_NORMALIZERS = ("compensated", "positives")


# --------------------------------------------------------------------------------------------
# Kernels on validated float64 arrays
# --------------------------------------------------------------------------------------------


def _focal(x: np.ndarray, t: np.ndarray, alpha: float, gamma: float) -> np.ndarray:
    """Per-element sigmoid focal loss of float64 logits ``x`` and targets ``t`` in [0, 1]."""
    with np.errstate(under="ignore"):
        # BCE with logits; exp(-|x|) <= 1 never overflows, and max(x, 0) - x t cannot either.
        bce = np.maximum(x, 0.0) - x * t + np.log1p(np.exp(-np.abs(x)))
        # 1 - p_t = t (1 - p) + (1 - t) p, with 1 - p = expit(-x) exact for large x.
        one_minus_pt = t * expit(-x) + (1.0 - t) * expit(x)
        loss = one_minus_pt**gamma * bce
        if alpha >= 0.0:
            loss = (alpha * t + (1.0 - alpha) * (1.0 - t)) * loss
    return loss


def _smooth_l1(d: np.ndarray, t: np.ndarray, beta: float) -> np.ndarray:
    """Smooth-L1 of float64 ``(N, 4)`` arrays, summed over the last axis."""
    with np.errstate(over="ignore"):  # only a difference beyond float64 overflows (to inf)
        diff = d - t
        out = np.abs(diff)
        quad = out < beta  # empty when beta == 0: plain L1
        out[quad] = 0.5 * diff[quad] * diff[quad] / beta
        out[~quad] -= 0.5 * beta
        return out.sum(axis=1)


def _combined(
    logits: np.ndarray,
    deltas: np.ndarray,
    targets: np.ndarray,
    labels: np.ndarray,
    psi: np.ndarray,
    weights: np.ndarray,
    alpha: float,
    gamma: float,
    beta: float,
    classes: np.ndarray | None = None,
    compensated_normalizer: str = "compensated",
) -> tuple[float, float]:
    """Eq. 1 and 2 on validated arrays; ``weights`` are the qualities of the anchors in ``psi``;
    ``classes`` the positives' classes when ``logits`` is (N, C)."""
    pos = labels == 1
    omega_pos = pos & ~psi
    omega = omega_pos | (labels == 0)
    if compensated_normalizer == "positives":
        n_com = n_norm = max(1, int(np.count_nonzero(pos)))
    else:
        n_com = max(1, int(np.count_nonzero(psi)))
        n_norm = max(1, int(np.count_nonzero(omega_pos)))

    sl_psi = _smooth_l1(deltas[psi], targets[psi], beta)
    sl_omega = _smooth_l1(deltas[omega_pos], targets[omega_pos], beta)
    if logits.ndim == 1:
        ones_psi = np.ones(int(np.count_nonzero(psi)))
        fl_psi = _focal(logits[psi], ones_psi, alpha, gamma)
        fl_omega = _focal(logits[omega], pos[omega].astype(np.float64), alpha, gamma)
        with np.errstate(over="ignore"):
            cls_psi = np.sum(weights * fl_psi)
            cls_omega = np.sum(fl_omega)
    else:
        # One sigmoid per class, one-hot targets; a compensated anchor's quality weights its
        # class's column (see regression_aware_focal_loss).
        onehot = np.zeros_like(logits)
        rows = np.flatnonzero(pos)
        onehot[rows, classes[rows]] = 1.0
        fl = _focal(logits, onehot, alpha, gamma)
        col_weight = np.ones_like(logits)
        prow = np.flatnonzero(psi)
        col_weight[prow, classes[prow]] = weights
        with np.errstate(over="ignore"):
            cls_psi = np.sum(col_weight[psi] * fl[psi])
            cls_omega = np.sum(fl[omega])
    with np.errstate(over="ignore"):
        loss_cls = cls_psi / n_com + cls_omega / n_norm
        loss_loc = np.sum(sl_psi) / n_com + np.sum(sl_omega) / n_norm
    return float(loss_cls), float(loss_loc)


def _validate_batch(cls_logits, box_deltas, box_targets, labels, classes=None):
    arr = as_real_array(cls_logits, "cls_logits")
    if arr.ndim == 2:
        check_class_logits(arr.shape, classes is not None)
        logits = arr.astype(np.float64, copy=False)
    else:
        logits = as_real_vector(cls_logits, "cls_logits")
    n = logits.shape[0]
    check_finite(logits, "cls_logits")
    deltas = as_real_rows(box_deltas, "box_deltas", n, "cls_logits")
    targets = as_real_rows(box_targets, "box_targets", n, "cls_logits")
    lab = as_labels(labels, n)
    pos = lab == 1
    check_finite(deltas, "box_deltas", pos, " (row of a positive anchor)")
    check_finite(targets, "box_targets", pos, " (row of a positive anchor)")
    if logits.ndim == 2:
        cls = as_int_vector(classes, "classes", n, "cls_logits")
        bad = pos & ((cls < 0) | (cls >= logits.shape[1]))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise class_index_error(i, int(cls[i]), logits.shape[1])
        return logits, deltas, targets, lab, cls.astype(np.int64)
    if classes is not None:
        as_int_vector(classes, "classes", n, "cls_logits")
    return logits, deltas, targets, lab, None


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def sigmoid_focal_loss(logits, targets, *, alpha: float = 0.25, gamma: float = 2.0) -> np.ndarray:
    """Per-element sigmoid focal loss (RetinaNet, Lin et al. 2017) on logits.

    .. math::

        FL(x, t) = \\alpha_t\\, (1 - p_t)^\\gamma\\, BCE(x, t),\\qquad
        p = \\sigma(x),\\quad p_t = p\\,t + (1 - p)(1 - t),\\quad
        \\alpha_t = \\alpha\\,t + (1 - \\alpha)(1 - t)

    with the binary cross-entropy taken from the logit,
    :math:`BCE(x, t) = \\max(x, 0) - x t + \\log(1 + e^{-|x|})`, and
    :math:`1 - p_t = t\\,\\sigma(-x) + (1 - t)\\,\\sigma(x)`. Both forms stay exact for any finite
    logit: at ``x = 1e4``, ``t = 0`` the loss is ``0.75 * 1e4`` (with the defaults), and at
    ``x = 40``, ``t = 1`` it is the tiny but non-zero ``0.25 * sigmoid(-40)**2 * log1p(exp(-40))``.

    Parameters
    ----------
    logits : array_like of shape (N,), real
        Raw classifier outputs. Must be finite.
    targets : array_like of shape (N,), real
        Targets in ``[0, 1]``, usually exactly 0 or 1.
    alpha : float, default 0.25
        Weight of the positive class, in ``[0, 1]``. A negative value disables the weighting
        (:math:`\\alpha_t = 1`), as in torchvision.
    gamma : float, default 2.0
        Focusing parameter, ``>= 0``; ``gamma = 0`` gives the (alpha-weighted) cross-entropy.

    Returns
    -------
    ndarray of shape (N,), float64
        The loss of each element, computed in float64 (no reduction).

    Raises
    ------
    ValueError
        If an array is not 1-d, the shapes differ, a dtype is not real numeric, a logit is NaN or
        infinite, a target lies outside ``[0, 1]``, ``alpha > 1``, ``gamma < 0``, or a
        hyperparameter is not a finite number. The message names the argument.

    Examples
    --------
    >>> import math
    >>> loss = sigmoid_focal_loss([0.0, 0.0, 1e4], [1.0, 0.0, 0.0])
    >>> [round(float(v), 6) for v in loss]
    [0.043322, 0.129965, 7500.0]
    >>> float(sigmoid_focal_loss([0.0], [1.0], alpha=-1, gamma=0)[0]) == math.log(2)
    True
    """
    a, g = check_focal_parameters(alpha, gamma)
    x = as_real_vector(logits, "logits")
    t = as_real_vector(targets, "targets", x.shape[0], "logits")
    check_finite(x, "logits")
    bad = outside_unit(t)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise range_error("targets", i, float(t[i]))
    return _focal(x, t, a, g)


def smooth_l1_loss(deltas, targets, *, beta: float = 1.0 / 9.0) -> np.ndarray:
    """Smooth-L1 (Huber) loss of box deltas, summed over the four coordinates.

    .. math::

        SmoothL1 = \\sum_{k=0}^{3} \\ell(x_k - x_k^*),\\qquad
        \\ell(d) = \\begin{cases} 0.5\\, d^2 / \\beta & |d| < \\beta \\\\
                                  |d| - 0.5\\, \\beta & \\text{otherwise} \\end{cases}

    as in torchvision and detectron2; ``beta = 0`` gives the plain L1 loss.

    Parameters
    ----------
    deltas : array_like of shape (N, 4), real
        Predicted regression deltas. Must be finite. An empty 1-d array is read as ``(0, 4)``.
    targets : array_like of shape (N, 4), real
        Encoded regression targets. Must be finite.
    beta : float, default 1/9
        Width of the quadratic zone, ``>= 0``.

    Returns
    -------
    ndarray of shape (N,), float64
        The loss of each row, computed in float64. A difference beyond the float64 range
        (inputs near 1e308) gives ``inf``.

    Raises
    ------
    ValueError
        If an array is not ``(N, 4)``, the shapes differ, a dtype is not real numeric, a value is
        NaN or infinite, or ``beta`` is negative or not a finite number.

    Examples
    --------
    >>> loss = smooth_l1_loss([[0.0, 0.0, 0.0, 0.0]], [[1.0, 0.1, 0.0, -2.0]], beta=0.5)
    >>> round(float(loss[0]), 6)  # (1 - 0.25) + 0.5 * 0.1**2 / 0.5 + 0 + (2 - 0.25)
    2.51
    >>> smooth_l1_loss([[0.0, 0.0, 0.0, 0.0]], [[1.0, 0.5, 0.0, -2.0]], beta=0).tolist()
    [3.5]
    """
    b = check_non_negative(beta, "beta")
    d = as_real_rows(deltas, "deltas")
    t = as_real_rows(targets, "targets", d.shape[0], "deltas")
    check_finite(d, "deltas")
    check_finite(t, "targets")
    return _smooth_l1(d, t, b)


def regression_aware_focal_loss(
    cls_logits,
    box_deltas,
    box_targets,
    labels,
    compensated,
    quality,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    beta: float = 1.0 / 9.0,
    classes=None,
    compensated_normalizer: str = "compensated",
) -> tuple[float, float]:
    """Regression-aware focal loss of HAMBox (paper Eq. 1 and 2), over a whole batch.

    With :math:`\\psi` the compensated anchors, :math:`\\Omega` the other positives plus the
    background anchors, :math:`N_{com} = \\max(1, |\\psi|)` and :math:`N_{norm}` = max(1, number
    of positives in :math:`\\Omega`):

    .. math::

        L_{cls} = \\frac{1}{N_{com}} \\sum_{i \\in \\psi} F_i\\, FL(p_i, 1)
                + \\frac{1}{N_{norm}} \\sum_{i \\in \\Omega} FL(p_i, l_i)

        L_{loc} = \\frac{1}{N_{com}} \\sum_{i \\in \\psi} SmoothL1_i
                + \\frac{1}{N_{norm}} \\sum_{i \\in \\Omega,\\, l_i = 1} SmoothL1_i

    where ``FL`` is :func:`sigmoid_focal_loss`, ``SmoothL1`` is :func:`smooth_l1_loss` and
    :math:`F_i` is ``quality[i]``. Ignored anchors (label ``-1``) contribute nothing. The paper's
    factor :math:`1(F_i < 0.5)` on background anchors is the matcher's job: it labels the
    uncompensated high-quality background anchors ``-1``, so they arrive here as ignored.

    Parameters
    ----------
    cls_logits : array_like of shape (N,) or (N, C), real
        Face logits of every anchor of the batch, or one logit per class (see Notes). Must be
        finite everywhere, ignored anchors included (a non-finite logit means the network
        diverged).
    box_deltas : array_like of shape (N, 4), real
        Predicted regression deltas. Only the rows of positive anchors are read; the others may
        hold anything, NaN and inf included.
    box_targets : array_like of shape (N, 4), real
        Encoded regression targets; only the rows of positive anchors are read, as above.
    labels : array_like of shape (N,), integer or float
        ``1`` face, ``0`` background, ``-1`` ignored (compensated anchors carry ``1``).
    compensated : array_like of shape (N,), bool (or 0/1 numbers)
        True for the anchors in :math:`\\psi`; must be a subset of ``labels == 1``.
    quality : array_like of shape (N,), real
        :math:`F_i`, the IoU of each compensated anchor's regressed box with its face, in
        ``[0, 1]``; treated as a constant weight. Only read where ``compensated`` is true; other
        entries may hold anything, NaN included.
    alpha : float, default 0.25
        Focal-loss class weight in ``[0, 1]``; negative disables it (see
        :func:`sigmoid_focal_loss`).
    gamma : float, default 2.0
        Focal-loss focusing parameter, ``>= 0``.
    beta : float, default 1/9
        Smooth-L1 quadratic zone, ``>= 0``.
    classes : array_like of shape (N,), integer, optional
        With (N, C) logits (required then): each positive anchor's class in ``[0, C)``; other
        entries are not read.
    compensated_normalizer : {"compensated", "positives"}, default "compensated"
        What the compensated anchors' sums are divided by: :math:`N_{com}` (the paper), or,
        with ``"positives"``, every sum by :math:`N_{pos}`, the number of positives of the
        batch (at least 1), as the standard focal loss does; with every :math:`F_i = 1` the
        loss is then :func:`standard_focal_loss` exactly. Not the paper's; for studies.

    Returns
    -------
    loss_cls : float
        :math:`L_{cls}`, a Python float (float64 precision).
    loss_loc : float
        :math:`L_{loc}`, a Python float. Both are ``0.0`` for an empty batch (``N = 0``).

    Raises
    ------
    ValueError
        Naming the argument, if a shape is wrong (``cls_logits`` must be ``(N,)``, the box arrays
        ``(N, 4)``, all with the same ``N``), a dtype is not real numeric, a logit is NaN or
        infinite, a box row of a positive anchor is not finite, a label is not -1, 0 or 1,
        ``compensated`` is not boolean or marks a non-positive anchor, the quality of a
        compensated anchor is outside ``[0, 1]`` or not finite, or a hyperparameter is out of
        range (``alpha > 1``, ``gamma < 0``, ``beta < 0``, or not a finite number), or
        ``compensated_normalizer`` is not one of :data:`COMPENSATED_NORMALIZERS`.

    Notes
    -----
    With (N, C) logits the focal loss is taken per class with one-hot targets, as
    torchvision's ``sigmoid_focal_loss`` for RetinaNet: a positive anchor's target is 1 in its
    class's column and 0 in the others, a background anchor's 0 everywhere. A compensated
    anchor's whole row belongs to :math:`\\psi` (divided by :math:`N_{com}`), with
    :math:`F_i` weighting its class's column only; the other rows belong to :math:`\\Omega`.
    With ``C = 1`` this is the equation above exactly.

    Examples
    --------
    One compensated anchor of quality 0.5, one normal positive, one background, one ignored:

    >>> import math
    >>> loss_cls, loss_loc = regression_aware_focal_loss(
    ...     cls_logits=[0.0, 0.0, 0.0, 7.0],
    ...     box_deltas=np.zeros((4, 4)),
    ...     box_targets=[[1, 0, 0, 0], [0.1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    ...     labels=[1, 1, 0, -1],
    ...     compensated=[True, False, False, False],
    ...     quality=[0.5, 0.0, 0.0, 0.0],
    ... )
    >>> round(loss_cls / math.log(2), 6)  # 0.5 * ln2/16 + (ln2/16 + 3 ln2/16)
    0.28125
    >>> round(loss_loc, 6)  # (1 - 1/18) + 0.5 * 0.1**2 * 9
    0.989444
    """
    a, g = check_focal_parameters(alpha, gamma)
    b = check_non_negative(beta, "beta")
    norm = check_choice(compensated_normalizer, "compensated_normalizer", COMPENSATED_NORMALIZERS)
    logits, deltas, targets, lab, cls = _validate_batch(
        cls_logits, box_deltas, box_targets, labels, classes
    )
    n = logits.shape[0]
    psi = as_bool_mask(compensated, n, "compensated", "cls_logits")
    if (psi & (lab != 1)).any():
        i = int(np.flatnonzero(psi & (lab != 1))[0])
        raise compensated_error(i, int(lab[i]))
    q = as_real_vector(quality, "quality", n, "cls_logits")
    w = q[psi]
    bad = outside_unit(w)
    if bad.any():
        i = int(np.flatnonzero(psi)[np.flatnonzero(bad)[0]])
        raise range_error("quality", i, float(q[i]), " of a compensated anchor")
    return _combined(logits, deltas, targets, lab, psi, w, a, g, b, cls, norm)


def standard_focal_loss(
    cls_logits,
    box_deltas,
    box_targets,
    labels,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    beta: float = 1.0 / 9.0,
    classes=None,
) -> tuple[float, float]:
    """RetinaNet focal loss + smooth-L1, every positive alike: the paper's baseline.

    With :math:`N_{pos} = \\max(1, |\\{i : l_i = 1\\}|)` over the whole batch:

    .. math::

        L_{cls} = \\frac{1}{N_{pos}} \\sum_{i : l_i \\in \\{0, 1\\}} FL(p_i, l_i),\\qquad
        L_{loc} = \\frac{1}{N_{pos}} \\sum_{i : l_i = 1} SmoothL1_i

    This equals :func:`regression_aware_focal_loss` with no compensated anchors. Ignored anchors
    (label ``-1``) contribute nothing.

    Parameters
    ----------
    cls_logits : array_like of shape (N,), real
        Face logits; must be finite everywhere.
    box_deltas : array_like of shape (N, 4), real
        Predicted deltas; only rows of positive anchors are read (others may hold NaN).
    box_targets : array_like of shape (N, 4), real
        Encoded targets; only rows of positive anchors are read.
    labels : array_like of shape (N,), integer or float
        ``1`` face, ``0`` background, ``-1`` ignored.
    alpha, gamma, beta : float
        As in :func:`regression_aware_focal_loss`.
    classes : array_like of shape (N,), optional
        With (N, C) logits, as in :func:`regression_aware_focal_loss`.

    Returns
    -------
    loss_cls : float
        :math:`L_{cls}` (``0.0`` for ``N = 0``).
    loss_loc : float
        :math:`L_{loc}` (``0.0`` for ``N = 0``).

    Raises
    ------
    ValueError
        As :func:`regression_aware_focal_loss`, for the arguments it shares.

    Examples
    --------
    >>> import math
    >>> loss_cls, loss_loc = standard_focal_loss(
    ...     [0.0, 0.0, 0.0], np.zeros((3, 4)), [[1, 0, 0, 0], [0.1, 0, 0, 0], [9, 9, 9, 9]],
    ...     labels=[1, 1, 0],
    ... )
    >>> round(loss_cls / math.log(2), 6)  # (ln2/16 + ln2/16 + 3 ln2/16) / 2
    0.15625
    >>> round(loss_loc, 6)  # ((1 - 1/18) + 0.5 * 0.1**2 * 9) / 2
    0.494722
    """
    a, g = check_focal_parameters(alpha, gamma)
    b = check_non_negative(beta, "beta")
    logits, deltas, targets, lab, cls = _validate_batch(
        cls_logits, box_deltas, box_targets, labels, classes
    )
    psi = np.zeros(logits.shape[0], dtype=bool)
    return _combined(logits, deltas, targets, lab, psi, np.empty(0), a, g, b, cls)


class _Loss:
    """The loss contract: hyper-parameters in ``__init__`` (checked there), flat matched
    arrays in the call."""

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, beta: float = 1.0 / 9.0) -> None:
        self.alpha, self.gamma = check_focal_parameters(alpha, gamma)
        self.beta = check_non_negative(beta, "beta")

    def hyper_parameters(self) -> dict:
        """The keyword arguments this loss passes to its function."""
        return {"alpha": self.alpha, "gamma": self.gamma, "beta": self.beta}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyper_parameters().items())
        return f"{type(self).__name__}({args})"


class RegressionAwareFocalLoss(_Loss):
    """:func:`regression_aware_focal_loss` as an object with the loss contract:
    ``loss(cls_logits, box_deltas, box_targets, labels, compensated, quality, *, classes=None)
    -> (loss_cls, loss_loc)``.

    Parameters
    ----------
    alpha, gamma, beta, compensated_normalizer
        As in :func:`regression_aware_focal_loss`.

    Examples
    --------
    >>> loss = RegressionAwareFocalLoss(gamma=0.0)
    >>> cls, loc = loss([0.0], np.zeros((1, 4)), np.zeros((1, 4)), [1], [False], [0.0])
    >>> round(cls, 6), loc
    (0.173287, 0.0)
    """

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        beta: float = 1.0 / 9.0,
        *,
        compensated_normalizer: str = "compensated",
    ) -> None:
        super().__init__(alpha, gamma, beta)
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
    """:func:`standard_focal_loss` with the loss contract of :class:`RegressionAwareFocalLoss`
    (``compensated`` and ``quality`` are accepted and unused: every positive counts alike)."""

    def __call__(self, logits, deltas, targets, labels, compensated, quality, *, classes=None):
        matched = (logits, deltas, targets, labels)
        return standard_focal_loss(*matched, classes=classes, **self.hyper_parameters())
