"""hambox_torch.losses against hambox_core.losses; gradients, autocast, and DDP normalisation."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
from devices import DEVICES
from hypothesis import given
from hypothesis import strategies as st

import hambox_core.losses as core
import hambox_torch.losses as tl

RTOL, ATOL = 1e-5, 1e-6


@st.composite
def batches(draw):
    n = draw(st.integers(0, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logits = (rng.normal(0, 4, n) * rng.choice([1, 10], n)).astype(np.float32)
    deltas = rng.normal(0, 1, (n, 4)).astype(np.float32)
    targets = rng.normal(0, 1, (n, 4)).astype(np.float32)
    labels = rng.choice(np.array([-1, 0, 1], np.int8), n, p=[0.2, 0.5, 0.3])
    compensated = (labels == 1) & (rng.random(n) < 0.4)
    quality = rng.random(n).astype(np.float32)
    return logits, deltas, targets, labels, compensated, quality


def to_torch(batch, device, dtype=torch.float32):
    out = []
    for a in batch:
        t = torch.from_numpy(np.ascontiguousarray(a)).to(device)
        out.append(t.to(dtype) if t.is_floating_point() else t)
    return out


@pytest.mark.parametrize("norm", ["compensated", "positives"])
@pytest.mark.parametrize("device", DEVICES)
@given(batches())
def test_losses_equal_core(device, norm, batch):
    want_ral = core.regression_aware_focal_loss(*batch, compensated_normalizer=norm)
    want_std = core.standard_focal_loss(*batch[:4])
    ral = tl.RegressionAwareFocalLoss(compensated_normalizer=norm)
    for dtype in (torch.float32, torch.float64):
        t = to_torch(batch, device, dtype)
        got_ral = tl.regression_aware_focal_loss(*t, compensated_normalizer=norm)
        got_std = tl.standard_focal_loss(*t[:4])
        for got, want in ((got_ral, want_ral), (ral(*t), want_ral), (got_std, want_std)):
            np.testing.assert_allclose([g.item() for g in got], want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("value", ["own", None, "POSITIVES"])
def test_compensated_normalizer_is_checked_with_the_core_message(value):
    with pytest.raises(ValueError, match=r"^compensated_normalizer must be one of"):
        tl.RegressionAwareFocalLoss(compensated_normalizer=value)
    z = torch.zeros(1)
    with pytest.raises(ValueError, match=r"^compensated_normalizer must be one of"):
        tl.regression_aware_focal_loss(
            z, torch.zeros(1, 4), torch.zeros(1, 4), torch.tensor([1]), torch.tensor([True]),
            z, compensated_normalizer=value,
        )  # fmt: skip


def test_per_element_functions_equal_core():
    x = np.array([-1e4, -30, -1, 0, 0.5, 30, 1e4], np.float32)
    t = np.array([0, 1, 0, 1, 0, 0, 1], np.float32)
    np.testing.assert_allclose(
        tl.sigmoid_focal_loss(torch.from_numpy(x), torch.from_numpy(t)).numpy(),
        core.sigmoid_focal_loss(x, t),
        rtol=RTOL,
        atol=ATOL,
    )
    d = np.array([[0.0, 0.05, -0.5, 3.0]], np.float32)
    np.testing.assert_allclose(
        tl.smooth_l1_loss(torch.from_numpy(d), torch.zeros(1, 4)).numpy(),
        core.smooth_l1_loss(d, np.zeros((1, 4), np.float32)),
        rtol=RTOL,
    )


def test_gradcheck_float64():
    logits, deltas, targets, labels, comp, quality = _fixed_batch()
    logits.requires_grad_(True)
    deltas.requires_grad_(True)

    def f(x, d):
        cls, loc = tl.regression_aware_focal_loss(x, d, targets, labels, comp, quality)
        return cls + 2 * loc

    assert torch.autograd.gradcheck(f, (logits, deltas))


def _fixed_batch():
    g = torch.Generator().manual_seed(0)
    n = 24
    logits = torch.randn(n, generator=g, dtype=torch.float64) * 3
    deltas = torch.randn(n, 4, generator=g, dtype=torch.float64)
    targets = torch.randn(n, 4, generator=g, dtype=torch.float64)
    labels = torch.tensor([1, 1, 1, 1, 0, 0, -1, 0] * 3, dtype=torch.int8)
    comp = torch.zeros(n, dtype=torch.bool)
    comp[[0, 8]] = True
    quality = torch.rand(n, generator=g, dtype=torch.float64)
    return logits, deltas, targets, labels, comp, quality


def test_float16_extreme_logits_under_autocast():
    logits = torch.tensor([100.0, -100.0, 100.0, -100.0, 0.0], dtype=torch.float16)
    logits.requires_grad_(True)
    deltas = torch.zeros(5, 4, dtype=torch.float16, requires_grad=True)
    targets = torch.ones(5, 4)
    labels = torch.tensor([1, 1, 0, 0, -1], dtype=torch.int8)
    comp = torch.tensor([True, False, False, False, False])
    quality = torch.full((5,), 0.9)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cls, loc = tl.regression_aware_focal_loss(logits, deltas, targets, labels, comp, quality)
    (cls + loc).backward()
    assert torch.isfinite(cls) and torch.isfinite(loc)
    assert torch.isfinite(logits.grad).all() and torch.isfinite(deltas.grad).all()


def test_empty_batch_is_zero_and_differentiable():
    x = torch.zeros(0, requires_grad=True)
    d = torch.zeros(0, 4, requires_grad=True)
    cls, loc = tl.regression_aware_focal_loss(
        x,
        d,
        torch.zeros(0, 4),
        torch.zeros(0, dtype=torch.int8),
        torch.zeros(0, dtype=torch.bool),
        torch.zeros(0),
    )
    assert cls.item() == 0 and loc.item() == 0
    (cls + loc).backward()
    assert x.grad.shape == (0,)


def test_garbage_targets_of_non_positives_do_not_leak():
    logits, deltas, targets, labels, comp, quality = _fixed_batch()
    poisoned = targets.clone()
    poisoned[labels != 1] = float("nan")
    a = tl.regression_aware_focal_loss(logits, deltas, targets, labels, comp, quality)
    b = tl.regression_aware_focal_loss(logits, deltas, poisoned, labels, comp, quality)
    assert a[0].item() == b[0].item() and a[1].item() == b[1].item()


def test_bad_shapes_name_the_argument():
    with pytest.raises(ValueError, match="box_targets"):
        tl.standard_focal_loss(
            torch.zeros(3), torch.zeros(3, 4), torch.zeros(2, 4), torch.zeros(3, dtype=torch.int8)
        )
    with pytest.raises(ValueError, match="quality"):
        tl.regression_aware_focal_loss(
            torch.zeros(3),
            torch.zeros(3, 4),
            torch.zeros(3, 4),
            torch.zeros(3, dtype=torch.int8),
            torch.zeros(3, dtype=torch.bool),
            torch.zeros(4),
        )
    with pytest.raises(ValueError, match="global_normalize"):
        tl.standard_focal_loss(
            torch.zeros(3),
            torch.zeros(3, 4),
            torch.zeros(3, 4),
            torch.zeros(3, dtype=torch.int8),
            global_normalize=True,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_global_normalize_averages_counts_over_two_gloo_processes(tmp_path):
    import torch.multiprocessing as mp
    from ddp_worker import example_batch, normalised_losses

    mp.spawn(normalised_losses, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    batches_ = [example_batch(r) for r in range(2)]
    n_com = np.mean([int(b[4].sum()) for b in batches_])
    n_norm = np.mean([int(((b[3] == 1) & ~b[4]).sum()) for b in batches_])
    for rank, b in enumerate(batches_):
        got = torch.load(tmp_path / f"{rank}.pt")
        # Rebuild the same loss from the core with the averaged normalisers.
        arrays = [t.numpy() for t in b]
        psi = arrays[4]
        normal = (arrays[3] == 1) & ~psi
        omega = normal | (arrays[3] == 0)
        fl1 = core.sigmoid_focal_loss(arrays[0], np.ones_like(arrays[0]))
        fll = core.sigmoid_focal_loss(arrays[0], (arrays[3] == 1).astype(float))
        sl1 = core.smooth_l1_loss(arrays[1], arrays[2])
        want_cls = (arrays[5] * fl1)[psi].sum() / n_com + fll[omega].sum() / n_norm
        want_loc = sl1[psi].sum() / n_com + sl1[normal].sum() / n_norm
        assert got["cls"].item() == pytest.approx(want_cls, rel=1e-10)
        assert got["loc"].item() == pytest.approx(want_loc, rel=1e-10)
