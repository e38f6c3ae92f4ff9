"""Plain references of the losses in :mod:`hambox_core.losses`, written from paper Eq. 1, 2 and
docs/guide/loss.rst with Python loops and :mod:`math`, one anchor at a time, in float64.

No input checks: callers pass valid data. Sums use :func:`math.fsum` (exactly rounded), so the
fast code's summation order only costs it a few ulps against these.
"""

from __future__ import annotations

import math

__all__ = [
    "ref_focal",
    "ref_regression_aware_focal_loss",
    "ref_sigmoid_focal_loss",
    "ref_smooth_l1",
    "ref_smooth_l1_loss",
    "ref_standard_focal_loss",
]


def _sigmoid(z: float) -> float:
    """1 / (1 + exp(-z)) without overflow."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def ref_focal(x: float, t: float, alpha: float = 0.25, gamma: float = 2.0) -> float:
    """Sigmoid focal loss of one logit ``x`` and target ``t``; ``alpha < 0`` disables alpha."""
    x = float(x)
    t = float(t)
    # binary cross-entropy from the logit
    bce = max(x, 0.0) - x * t + math.log1p(math.exp(-abs(x)))
    # 1 - p_t, with 1 - sigmoid(x) written as sigmoid(-x)
    one_minus_pt = t * _sigmoid(-x) + (1.0 - t) * _sigmoid(x)
    modulating = math.pow(one_minus_pt, gamma)
    alpha_t = 1.0 if alpha < 0 else alpha * t + (1.0 - alpha) * (1.0 - t)
    return alpha_t * modulating * bce


def ref_sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0) -> list[float]:
    return [ref_focal(x, t, alpha, gamma) for x, t in zip(logits, targets, strict=True)]


def ref_smooth_l1(delta_row, target_row, beta: float = 1.0 / 9.0) -> float:
    """Smooth-L1 of one anchor, summed over its four coordinates."""
    total = 0.0
    for x, xs in zip(delta_row, target_row, strict=True):
        d = float(x) - float(xs)
        if abs(d) < beta:
            total += 0.5 * d * d / beta
        else:
            total += abs(d) - 0.5 * beta
    return total


def ref_smooth_l1_loss(deltas, targets, beta=1.0 / 9.0) -> list[float]:
    return [ref_smooth_l1(d, t, beta) for d, t in zip(deltas, targets, strict=True)]


def ref_regression_aware_focal_loss(
    cls_logits,
    box_deltas,
    box_targets,
    labels,
    compensated,
    quality,
    alpha=0.25,
    gamma=2.0,
    beta=1.0 / 9.0,
    compensated_normalizer="compensated",
) -> tuple[float, float]:
    """Paper Eq. 1 and 2 anchor by anchor (docs/guide/loss.rst); with
    ``compensated_normalizer="positives"`` both sums are divided by the number of positives."""
    cls_psi, loc_psi = [], []  # compensated anchors
    cls_omega, loc_omega = [], []  # normal positives + background
    n_com = 0
    n_norm = 0
    for i in range(len(cls_logits)):
        label = int(labels[i])
        if label == -1:
            continue  # ignored: neither in psi nor in Omega
        if bool(compensated[i]):
            assert label == 1
            n_com += 1
            cls_psi.append(float(quality[i]) * ref_focal(cls_logits[i], 1.0, alpha, gamma))
            loc_psi.append(ref_smooth_l1(box_deltas[i], box_targets[i], beta))
        elif label == 1:
            n_norm += 1
            cls_omega.append(ref_focal(cls_logits[i], 1.0, alpha, gamma))
            loc_omega.append(ref_smooth_l1(box_deltas[i], box_targets[i], beta))
        else:
            cls_omega.append(ref_focal(cls_logits[i], 0.0, alpha, gamma))
    if compensated_normalizer == "positives":
        n_com = n_norm = n_com + n_norm
    n_com = max(1, n_com)
    n_norm = max(1, n_norm)
    loss_cls = math.fsum(cls_psi) / n_com + math.fsum(cls_omega) / n_norm
    loss_loc = math.fsum(loc_psi) / n_com + math.fsum(loc_omega) / n_norm
    return loss_cls, loss_loc


def ref_standard_focal_loss(
    cls_logits, box_deltas, box_targets, labels, alpha=0.25, gamma=2.0, beta=1.0 / 9.0
) -> tuple[float, float]:
    """RetinaNet baseline: every positive alike, normalised by the number of positives."""
    cls_terms, loc_terms = [], []
    n_pos = 0
    for i in range(len(cls_logits)):
        label = int(labels[i])
        if label == -1:
            continue
        cls_terms.append(ref_focal(cls_logits[i], float(label), alpha, gamma))
        if label == 1:
            n_pos += 1
            loc_terms.append(ref_smooth_l1(box_deltas[i], box_targets[i], beta))
    n_pos = max(1, n_pos)
    return math.fsum(cls_terms) / n_pos, math.fsum(loc_terms) / n_pos
