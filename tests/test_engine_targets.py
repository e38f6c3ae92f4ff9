"""The training step's supervision: both matcher backends give the same losses; diagnostics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hambox_torch.engine.config import AnchorConfig, LossConfig, MatchingConfig
from hambox_torch.engine.diagnostics import mining_diagnostics
from hambox_torch.engine.targets import BatchMatcher, Supervisor
from hambox_torch.matching import MatchResult
from hambox_torch.models import DetectorOutput, HAMBoxDetector

HW = (128, 160)


def batch(seed=0):
    """Faces of 3 images, padding in the middle of image 0, image 2 empty."""
    rng = np.random.default_rng(seed)
    gt = np.zeros((3, 5, 4), np.float32)
    valid = np.zeros((3, 5), bool)
    for b, n in enumerate((5, 3, 0)):
        s = np.exp(rng.uniform(np.log(6), np.log(90), n))
        x, y = rng.uniform(0, HW[1] - s), rng.uniform(0, HW[0] - s)
        gt[b, :n] = np.stack([x, y, x + s, y + s * 1.2], 1)
        valid[b, :n] = True
    valid[0, 1] = False  # a padded slot between real faces
    return torch.from_numpy(gt), torch.from_numpy(valid)


@pytest.fixture(scope="module")
def output():
    torch.manual_seed(0)
    model = HAMBoxDetector(backbone="resnet18", channels=8, pyramid_anchors=True)
    return model(torch.rand(3, 3, *HW))


@pytest.mark.parametrize("strategy", ["sms", "dms", "nams", "hambox"])
@pytest.mark.parametrize("kind", ["ral", "focal"])
def test_core_and_torch_backends_give_the_same_step(output, strategy, kind):
    gt, valid = batch()
    # A low online threshold so that HAMBox compensates with an untrained head.
    mcfg = MatchingConfig(strategy=strategy, online_iou_thr=0.3)
    core = Supervisor(AnchorConfig(), mcfg, LossConfig(kind=kind), backend="core")
    tens = Supervisor(AnchorConfig(), mcfg, LossConfig(kind=kind), backend="torch")
    a = core(output, HW, gt, valid)
    b = tens(output, HW, gt, valid)
    for name in ("labels", "matched_gt", "compensated", "num_matched"):
        assert torch.equal(getattr(a.match, name), getattr(b.match, name)), name
    torch.testing.assert_close(a.match.quality, b.match.quality, rtol=0, atol=0)
    torch.testing.assert_close(a.loss, b.loss, rtol=1e-6, atol=0)
    assert set(a.parts) == {"loss_cls", "loss_loc", "head_cls", "head_loc"}
    # Padded faces never match; matched_gt indexes the padded face slots.
    assert not bool((a.match.matched_gt == 1)[0].any())
    assert bool((a.match.matched_gt[0] >= 0).any())
    assert not bool(a.match.labels[2].eq(1).any())
    if strategy == "hambox":
        assert bool(a.match.compensated.any())


def test_loss_is_differentiable_and_finite(output):
    gt, valid = batch()
    sup = Supervisor(AnchorConfig(), MatchingConfig(), LossConfig())
    res = sup(output, HW, gt, valid)
    logits = output.cls_logits.detach().requires_grad_()
    deltas = output.box_deltas.detach().requires_grad_()
    res = sup(DetectorOutput(logits, deltas), HW, gt, valid)
    res.loss.backward()
    assert torch.isfinite(res.loss)
    assert logits.grad.abs().sum() > 0 and deltas.grad.abs().sum() > 0
    # Anchors that are not positive get no regression gradient.
    pos = (res.match.labels == 1).unsqueeze(-1)
    assert float(deltas.grad.masked_fill(pos, 0).abs().sum()) == 0.0


def test_model_and_anchor_config_must_agree(output):
    gt, valid = batch()
    sup = Supervisor(AnchorConfig(strides=(8, 16, 32, 64, 128), base_sizes=(32, 64, 128, 256, 512)),
                     MatchingConfig(), LossConfig())  # fmt: skip
    with pytest.raises(ValueError, match="anchors"):
        sup(output, HW, gt, valid)


def test_bad_backend_and_strategy_are_named():
    with pytest.raises(ValueError, match="backend"):
        BatchMatcher(MatchingConfig(), backend="gpu")
    with pytest.raises(ValueError, match="strategy"):
        BatchMatcher(MatchingConfig(strategy="atss"))
    with pytest.raises(ValueError, match=r"loss\.kind"):
        Supervisor(AnchorConfig(), MatchingConfig(), LossConfig(kind="ce"))


def test_mining_diagnostics_by_hand():
    # One image, two faces; 4 anchors. Face 0 has 3 step-one anchors, face 1 none (outer) and
    # gets one compensated anchor of quality 0.9.
    faces = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]]])
    valid = torch.tensor([[True, True]])
    match = MatchResult(
        labels=torch.tensor([[1, 1, 1, 1, 0]], dtype=torch.int8),
        matched_gt=torch.tensor([[0, 0, 0, 1, -1]]),
        compensated=torch.tensor([[False, False, False, True, False]]),
        quality=torch.tensor([[0.5, 0.5, 0.5, 0.9, 0.0]]),
        num_matched=torch.tensor([[3, 0]]),
    )
    pred = torch.tensor(
        [[[0.0, 0.0, 10.0, 10.0], [30, 30, 40, 40], [30, 30, 40, 40], [50, 50, 60, 61],
          [0.0, 0.0, 10.0, 9.0]]]
    )  # fmt: skip
    d = mining_diagnostics(match, pred, faces, valid, top_k=3)
    assert d["faces"] == 2
    assert d["outer_face_share"] == 0.5 and d["unmatched_face_share"] == 0.5
    assert d["compensated_per_outer_face"] == 1.0
    assert d["compensated_mean_iou"] == pytest.approx(0.9)
    # high quality: anchors 0, 3, 4; not step-one positives among them: 3 (compensated), 4
    assert d["hq_unmatched_share"] == pytest.approx(2 / 3)
    empty = mining_diagnostics(
        MatchResult(*(t[:, :0] if t.ndim == 2 else t for t in (
            match.labels, match.matched_gt, match.compensated, match.quality)),
            torch.zeros(1, 0, dtype=torch.int64)),
        pred[:, :0], faces[:, :0], valid[:, :0],
    )  # fmt: skip
    assert math.isnan(empty["outer_face_share"]) and empty["faces"] == 0
