"""The supervision step (:mod:`hambox_torch.pipeline.supervision`): both matcher backends give
the same losses, padding is safe, any matcher and loss can be given; the mining diagnostics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import box_arrays

import hambox_core
import hambox_torch
from hambox_torch.engine.diagnostics import mining_diagnostics
from hambox_torch.matching import MatchResult
from hambox_torch.models import DetectorOutput, HAMBoxDetector
from hambox_torch.pipeline import BatchMatcher, Supervisor, supervise
from hambox_torch.recipe import build_head_loss, build_head_matcher, build_loss, build_matcher
from hambox_torch.recipe.config import LossConfig, MatchingConfig

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
def model():
    torch.manual_seed(0)
    return HAMBoxDetector(backbone="resnet18", channels=8, pyramid_anchors=True)


@pytest.fixture(scope="module")
def output(model):
    return model(torch.rand(3, 3, *HW))


def supervisor(matching=None, loss=None, backend="auto"):
    matching = MatchingConfig() if matching is None else matching
    loss = LossConfig() if loss is None else loss
    return Supervisor(
        build_matcher(matching),
        build_loss(loss),
        loss.loc_weight,
        head_matcher=build_head_matcher(matching),
        head_loss=build_head_loss(loss),
        backend=backend,
    )


def test_loss_section_reaches_the_loss():
    ral = build_loss(LossConfig(gamma=1.5, compensated_normalizer="positives"))
    assert ral.hyper_parameters() == {
        "alpha": 0.25,
        "gamma": 1.5,
        "beta": 1.0 / 9.0,
        "global_normalize": False,
        "compensated_normalizer": "positives",
    }
    # the focal loss has no compensated anchors to normalise; the key does not reach it
    focal = build_loss(LossConfig(kind="focal", compensated_normalizer="positives"))
    assert "compensated_normalizer" not in focal.hyper_parameters()
    assert "compensated_normalizer" not in build_head_loss(LossConfig()).hyper_parameters()


@pytest.mark.parametrize("strategy", ["sms", "dms", "nams", "hambox"])
@pytest.mark.parametrize("kind", ["ral", "focal"])
def test_core_and_torch_backends_give_the_same_step(model, output, strategy, kind):
    gt, valid = batch()
    # A low online threshold so that HAMBox compensates with an untrained head.
    mcfg = MatchingConfig(strategy=strategy, online_iou_thr=0.3)
    core = supervisor(mcfg, LossConfig(kind=kind), backend="core")
    tens = supervisor(mcfg, LossConfig(kind=kind), backend="torch")
    a = core(model, output, HW, gt, valid)
    b = tens(model, output, HW, gt, valid)
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


def test_loss_is_differentiable_and_finite(model, output):
    gt, valid = batch()
    sup = supervisor()
    logits = output.cls_logits.detach().requires_grad_()
    deltas = output.box_deltas.detach().requires_grad_()
    res = sup(model, DetectorOutput(logits, deltas), HW, gt, valid)
    res.loss.backward()
    assert torch.isfinite(res.loss)
    assert logits.grad.abs().sum() > 0 and deltas.grad.abs().sum() > 0
    # Anchors that are not positive get no regression gradient.
    pos = (res.match.labels == 1).unsqueeze(-1)
    assert float(deltas.grad.masked_fill(pos, 0).abs().sum()) == 0.0


def test_outputs_and_the_models_anchors_must_agree(model, output):
    gt, valid = batch()
    short = DetectorOutput(output.cls_logits[:, :-1], output.box_deltas[:, :-1])
    with pytest.raises(ValueError, match="anchor generator"):
        supervisor()(model, short, HW, gt, valid)


def test_a_head_branch_needs_its_matcher_and_loss(model, output):
    gt, valid = batch()
    sup = Supervisor(hambox_core.SMSMatcher(), hambox_torch.StandardFocalLoss())
    with pytest.raises(ValueError, match="head_matcher"):
        sup(model, output, HW, gt, valid)


def test_bad_backend_matcher_and_loss_are_named():
    with pytest.raises(ValueError, match="backend"):
        BatchMatcher(hambox_core.SMSMatcher(), backend="gpu")
    with pytest.raises(TypeError, match="matcher"):
        BatchMatcher(MatchingConfig())
    with pytest.raises(TypeError, match="loss"):
        Supervisor(hambox_core.SMSMatcher(), LossConfig())
    with pytest.raises(ValueError, match="loc_weight"):
        Supervisor(hambox_core.SMSMatcher(), hambox_torch.StandardFocalLoss(), -1.0)


@pytest.mark.parametrize("twin", [hambox_core.NAMSMatcher, hambox_torch.NAMSMatcher])
def test_either_backends_matcher_is_matched_by_both(twin):
    m = BatchMatcher(twin(num_per_face=2, low_iou_thr=0.05))
    assert isinstance(m.core, hambox_core.NAMSMatcher)
    assert isinstance(m.torch, hambox_torch.NAMSMatcher)
    assert (m.core.num_per_face, m.torch.low_iou_thr) == (2, 0.05)


def test_supervise_with_a_matcher_and_loss_of_ones_own(output):
    """Any objects with the two contracts: the matcher sees the batch, the loss the match."""
    gt, valid = batch()
    anchors = hambox_torch.AnchorGenerator().grid_anchors(HW)
    seen = {}

    class EveryThirdAnchor:
        def __call__(self, anchors, gt_boxes, gt_valid, pred_boxes=None):
            b, a = gt_boxes.shape[0], anchors.shape[0]
            labels = torch.zeros((b, a), dtype=torch.int8)
            labels[:, ::3] = 1
            labels[2] = 0  # image 2 has no face
            matched = torch.where(labels == 1, 0, -1).to(torch.int64)
            seen["pred"] = pred_boxes
            return MatchResult(
                labels,
                matched,
                torch.zeros((b, a), dtype=torch.bool),
                torch.zeros((b, a)),
                torch.zeros(gt_valid.shape, dtype=torch.int64),
            )

    def count_positives(cls, deltas, targets, labels, compensated, quality):
        seen["labels"] = labels
        return (labels == 1).sum().float(), deltas.sum() * 0

    res = supervise(
        output.cls_logits,
        output.box_deltas,
        anchors,
        gt,
        valid,
        matcher=EveryThirdAnchor(),
        loss=count_positives,
    )
    assert seen["pred"].shape == (3, anchors.shape[0], 4)
    assert float(res.loss_cls) == 2 * len(range(0, anchors.shape[0], 3))
    assert seen["labels"].shape == (3 * anchors.shape[0],)
    # Positives are encoded against face 0; the others get zero targets.
    assert torch.isfinite(res.box_targets).all()
    assert float(res.box_targets[:, 1::3].abs().sum()) == 0.0


def test_padding_faces_never_reach_targets(output):
    """Padded slots hold garbage (zeros, NaN-free degenerate boxes): targets stay finite."""
    gt, valid = batch()
    gt[~valid] = 0.0  # zero-area padding, which encodes to -inf if it ever became a target
    anchors = hambox_torch.AnchorGenerator().grid_anchors(HW)
    logits = output.cls_logits.detach().requires_grad_()
    deltas = output.box_deltas.detach().requires_grad_()
    res = supervise(
        logits,
        deltas,
        anchors,
        gt,
        valid,
        matcher=hambox_core.DMSMatcher(),
        loss=hambox_torch.RegressionAwareFocalLoss(),
    )
    (res.loss_cls + res.loss_loc).backward()
    assert torch.isfinite(res.box_targets).all()
    assert torch.isfinite(logits.grad).all() and torch.isfinite(deltas.grad).all()


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
    # the one outer face (1): its best predicted box is anchor 3's, IoU 100 / 110
    assert d["outer_best_pred_iou"] == pytest.approx(100 / 110)
    assert d["outer_best_unmatched_iou"] == pytest.approx(100 / 110)  # anchor 3 was unmatched
    empty = mining_diagnostics(
        MatchResult(*(t[:, :0] if t.ndim == 2 else t for t in (
            match.labels, match.matched_gt, match.compensated, match.quality)),
            torch.zeros(1, 0, dtype=torch.int64)),
        pred[:, :0], faces[:, :0], valid[:, :0],
    )  # fmt: skip
    assert math.isnan(empty["outer_face_share"]) and empty["faces"] == 0
    assert math.isnan(empty["outer_best_pred_iou"])
    no_anchors = mining_diagnostics(
        MatchResult(*(t[:, :0] for t in (
            match.labels, match.matched_gt, match.compensated, match.quality)),
            torch.zeros(1, 2, dtype=torch.int64)),
        pred[:, :0], faces, valid,
    )  # fmt: skip
    assert no_anchors["outer_face_share"] == 1.0 and no_anchors["outer_best_pred_iou"] == 0.0


@settings(deadline=None, max_examples=40)
@given(data=st.data())
def test_outer_best_ious_against_a_loop(data):
    # Random padded batches and labels: each outer-face diagnostic equals the mean, over the
    # real faces with fewer than top_k step-one anchors, of the face's best IoU (numpy) with
    # any predicted box, and with the boxes of the anchors that are not step-one positives.
    num_images = data.draw(st.integers(1, 3))
    preds = data.draw(box_arrays(min_n=1, max_n=12, lo=0, hi=100, max_size=60))
    num_anchors = len(preds)
    faces = [data.draw(box_arrays(max_n=5, lo=0, hi=100, max_size=60)) for _ in range(num_images)]
    width = max(1, max(len(f) for f in faces))
    gt = np.zeros((num_images, width, 4), np.float32)
    valid = np.zeros((num_images, width), bool)
    pred = np.stack([np.roll(preds, b, axis=0) for b in range(num_images)])
    for b, f in enumerate(faces):
        gt[b, : len(f)], valid[b, : len(f)] = f, True

    def ints(lo, hi, shape):
        n = int(np.prod(shape))
        return np.asarray(data.draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n)))

    num_matched = ints(0, 4, valid.shape).reshape(valid.shape) * valid
    labels = ints(0, 1, (num_images, num_anchors)).reshape(num_images, num_anchors)
    compensated = (labels == 1) & (ints(0, 1, labels.shape).reshape(labels.shape) == 1)
    match = MatchResult(
        torch.from_numpy(labels).to(torch.int8),
        torch.full(labels.shape, -1),
        torch.from_numpy(compensated),
        torch.zeros(labels.shape),
        torch.from_numpy(num_matched),
    )
    d = mining_diagnostics(
        match, torch.from_numpy(pred), torch.from_numpy(gt), torch.from_numpy(valid), top_k=3
    )
    step_one = (labels == 1) & ~compensated
    best, best_unmatched = [], []
    for b in range(num_images):
        for g in range(width):
            if valid[b, g] and num_matched[b, g] < 3:
                iou = hambox_core.boxes.box_iou(pred[b], gt[b, g : g + 1])[:, 0]
                best.append(iou.max())
                best_unmatched.append(np.where(step_one[b], 0.0, iou).max())
    for key, values in (
        ("outer_best_pred_iou", best),
        ("outer_best_unmatched_iou", best_unmatched),
    ):
        if values:
            assert d[key] == pytest.approx(np.mean(values), abs=1e-5), key
        else:
            assert math.isnan(d[key]), key
