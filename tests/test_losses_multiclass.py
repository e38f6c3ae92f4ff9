"""Multi-class logits (N, C) in the torch losses: torchvision's per-class sigmoid focal loss
with one-hot targets, the quality weight on a compensated anchor's class column; with one class
the paper's loss exactly."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hambox_torch.losses import (  # noqa: E402
    RegressionAwareFocalLoss,
    StandardFocalLoss,
    regression_aware_focal_loss,
    standard_focal_loss,
)


def batch(seed: int, n: int = 40, c: int = 3):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(-1, 2, (n,), generator=g).to(torch.int8)
    compensated = (torch.rand(n, generator=g) < 0.3) & (labels == 1)
    return {
        "cls_logits": torch.randn(n, c, generator=g, dtype=torch.float64) * 4,
        "box_deltas": torch.randn(n, 4, generator=g, dtype=torch.float64),
        "box_targets": torch.randn(n, 4, generator=g, dtype=torch.float64),
        "labels": labels,
        "compensated": compensated,
        "quality": torch.rand(n, generator=g, dtype=torch.float64),
        "classes": torch.where(labels == 1, torch.randint(0, c, (n,), generator=g), -1),
    }


def focal(x: float, t: float, alpha: float, gamma: float) -> float:
    """One element of the sigmoid focal loss, in plain floats."""
    p = 1.0 / (1.0 + math.exp(-x))
    ce = -(t * math.log(p) + (1 - t) * math.log(1 - p))
    pt = p * t + (1 - p) * (1 - t)
    a = alpha * t + (1 - alpha) * (1 - t) if alpha >= 0 else 1.0
    return a * (1 - pt) ** gamma * ce


def reference_ral_cls(b, alpha=0.25, gamma=2.0) -> float:
    """The classification term anchor by anchor, column by column (see the docstring rule)."""
    psi_sum = omega_sum = 0.0
    n_com = n_norm = 0
    for i in range(b["labels"].shape[0]):
        lab = int(b["labels"][i])
        comp = bool(b["compensated"][i])
        if lab == 1 and comp:
            n_com += 1
        elif lab == 1:
            n_norm += 1
        if lab == -1:
            continue
        for c in range(b["cls_logits"].shape[1]):
            t = 1.0 if lab == 1 and c == int(b["classes"][i]) else 0.0
            v = focal(float(b["cls_logits"][i, c]), t, alpha, gamma)
            if lab == 1 and comp:
                psi_sum += (float(b["quality"][i]) if t == 1.0 else 1.0) * v
            else:
                omega_sum += v
    return psi_sum / max(1, n_com) + omega_sum / max(1, n_norm)


@settings(deadline=None, max_examples=25)
@given(st.integers(0, 10_000), st.integers(1, 5))
def test_multiclass_ral_equals_the_plain_reference(seed, c):
    b = batch(seed, c=c)
    loss_cls, _ = regression_aware_focal_loss(**b)
    assert float(loss_cls) == pytest.approx(reference_ral_cls(b), rel=1e-10, abs=1e-12)


def test_one_class_is_the_papers_loss_exactly():
    b = batch(3, c=1)
    flat = {**b, "cls_logits": b["cls_logits"][:, 0]}
    del flat["classes"]
    for fn in (regression_aware_focal_loss,):
        multi = fn(**b)
        single = fn(**flat)
        assert torch.equal(multi[0], single[0]) and torch.equal(multi[1], single[1])
    multi = standard_focal_loss(*(b[k] for k in ("cls_logits", "box_deltas", "box_targets",
                                                 "labels")), classes=b["classes"])  # fmt: skip
    single = standard_focal_loss(
        flat["cls_logits"], flat["box_deltas"], flat["box_targets"], flat["labels"]
    )
    assert torch.equal(multi[0], single[0]) and torch.equal(multi[1], single[1])


def test_standard_multiclass_is_torchvisions_sigmoid_focal_loss():
    tv_ops = pytest.importorskip("torchvision.ops")
    b = batch(7, c=4)
    keep = b["labels"] >= 0
    onehot = torch.zeros_like(b["cls_logits"])
    pos = b["labels"] == 1
    onehot[pos, b["classes"][pos]] = 1.0
    want = tv_ops.sigmoid_focal_loss(
        b["cls_logits"][keep], onehot[keep], alpha=0.25, gamma=2.0, reduction="sum"
    ) / max(1, int(pos.sum()))
    got, _ = StandardFocalLoss()(
        b["cls_logits"], b["box_deltas"], b["box_targets"], b["labels"], b["compensated"],
        b["quality"], classes=b["classes"],
    )  # fmt: skip
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0)


def test_multiclass_gradients_are_finite_and_only_on_labelled_rows():
    b = batch(11, c=3)
    logits = b["cls_logits"].clone().requires_grad_()
    loss_cls, loss_loc = RegressionAwareFocalLoss()(
        logits, b["box_deltas"], b["box_targets"], b["labels"], b["compensated"], b["quality"],
        classes=b["classes"],
    )  # fmt: skip
    (loss_cls + loss_loc).backward()
    assert torch.isfinite(logits.grad).all()
    assert float(logits.grad[b["labels"] == -1].abs().sum()) == 0.0


def test_multiclass_logits_need_classes():
    b = batch(0, c=2)
    del b["classes"]
    with pytest.raises(ValueError, match="classes"):
        regression_aware_focal_loss(**b)
