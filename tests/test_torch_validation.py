"""The torch backend validates like the core: one test per defect class of issue 16 item 1.

Each class: the torch operation raises what the core raises (same type, same message where both
have the case), before any kernel runs; padding is never checked and never produces NaN;
focal-loss gradients are finite for every allowed gamma; the value rules of
:mod:`hambox_core.validation` agree with the numba fast path.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import box_arrays

torch = pytest.importorskip("torch")

import hambox_core  # noqa: E402
import hambox_core.boxes as cb  # noqa: E402
import hambox_core.losses as cl  # noqa: E402
import hambox_core.postprocess as cp  # noqa: E402
import hambox_torch.boxes as tb  # noqa: E402
import hambox_torch.losses as tl  # noqa: E402
import hambox_torch.matching as tm  # noqa: E402
import hambox_torch.postprocess as tp  # noqa: E402
from hambox_core.validation import ALL_ROWS, first_invalid_box, invalid_box_rows  # noqa: E402
from hambox_torch.anchors import AnchorGenerator  # noqa: E402
from hambox_torch.inference.protocols import box_vote  # noqa: E402
from hambox_torch.validation import ValueChecks  # noqa: E402

FACES = np.array([[2, 2, 14, 14], [10, 12, 30, 28]], np.float32)


def _message(fn):
    with pytest.raises((ValueError, TypeError)) as info:
        fn()
    return type(info.value), str(info.value)


def _anchors():
    return AnchorGenerator(strides=(4, 8), base_sizes=(16, 32)).grid_anchors((32, 32))


# --- NaN / inf / x1 < x0: raised with the core's message -----------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "inverted"])
def test_bad_box_values_raise_the_cores_message(bad):
    boxes = FACES.copy()
    if bad == "inverted":
        boxes[1, 2] = boxes[1, 0] - 1
    else:
        boxes[1, 1] = bad
    core = _message(lambda: cb.box_iou(boxes, FACES))
    torch_ = _message(lambda: tb.box_iou(torch.from_numpy(boxes), torch.from_numpy(FACES)))
    assert core == torch_ and "boxes1" in core[1] and "row 1" in core[1]


def test_a_face_with_a_nan_coordinate_is_rejected_not_left_unmatched():
    anchors = _anchors()
    faces = torch.from_numpy(FACES)[None].clone()
    faces[0, 1, 0] = math.nan
    valid = torch.ones(1, 2, dtype=torch.bool)
    for cls in (tm.SMSMatcher, tm.DMSMatcher, tm.NAMSMatcher):
        with pytest.raises(ValueError, match=r"gt_boxes has a NaN .* row 1 of image 0"):
            cls()(anchors, faces, valid)
    with pytest.raises(ValueError, match="gt_boxes has a NaN"):
        hambox_core.SMSMatcher()(anchors.numpy(), faces[0].numpy())
    pred = anchors[None].clone()
    pred[0, 3, 2] = math.inf
    with pytest.raises(ValueError, match="pred_boxes has a NaN or infinite coordinate in row 3"):
        tm.HAMBoxMatcher()(anchors, torch.from_numpy(FACES)[None], valid, pred)


@pytest.mark.parametrize("fill", [math.nan, math.inf, 1e30, -5.0])
def test_padding_is_never_checked_and_never_produces_nan(fill):
    anchors = _anchors()
    faces = torch.zeros(2, 3, 4)
    faces[0, :2] = torch.from_numpy(FACES)
    valid = torch.tensor([[True, True, False], [False, False, False]])
    garbage = faces.clone()
    garbage[~valid] = fill
    pred = anchors[None].expand(2, -1, -1).contiguous()
    for cls in (tm.SMSMatcher, tm.DMSMatcher, tm.NAMSMatcher, tm.HAMBoxMatcher):
        clean = cls()(anchors, faces, valid, pred)
        dirty = cls()(anchors, garbage, valid, pred)
        for name in ("labels", "matched_gt", "compensated", "quality", "num_matched"):
            assert torch.equal(getattr(clean, name), getattr(dirty, name)), (cls, name)
        assert torch.isfinite(dirty.quality).all()


# --- parameters: the core's ranges -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"max_detections": -1}, "max_detections"), ({"pre_nms_top_k": -1}, "pre_nms_top_k")],
)
def test_negative_caps_raise_instead_of_dropping_a_detection(kwargs, name):
    anchors = _anchors()
    levels = [len(anchors) - 9, 9]
    logits = np.linspace(-2, 2, len(anchors))
    deltas = np.zeros((len(anchors), 4), np.float32)
    core = _message(
        lambda: cp.postprocess_detections(logits, deltas, anchors.numpy(), levels, **kwargs)
    )
    torch_ = _message(
        lambda: tp.postprocess_detections(
            torch.from_numpy(logits)[None].float(),
            torch.from_numpy(deltas)[None],
            anchors,
            levels,
            **kwargs,
        )
    )
    assert core == torch_ and name in core[1]


def _loss_args(backend):
    n = 4
    args = {
        "cls_logits": np.array([0.5, -1.0, 2.0, 0.0]),
        "box_deltas": np.zeros((n, 4)),
        "box_targets": np.zeros((n, 4)),
        "labels": np.array([1, 0, -1, 0]),
    }
    if backend == "torch":
        args = {k: torch.from_numpy(v) for k, v in args.items()}
    return args


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"alpha": 2.0}, "alpha"),
        ({"gamma": -1.0}, "gamma"),
        ({"beta": math.nan}, "beta"),
        ({"alpha": "0.25"}, "alpha"),
        ({"labels": 2}, "labels"),
        ({"labels": 0.5}, "labels"),
        ({"cls_logits": math.nan}, "cls_logits"),
    ],
)
def test_loss_parameters_and_labels_are_checked_alike(change, name):
    def run(backend):
        args = _loss_args(backend)
        kwargs = {}
        for key, value in change.items():
            if key in args:
                args[key] = args[key].clone() if backend == "torch" else args[key].copy()
                args[key] = args[key].double() if backend == "torch" else args[key].astype(float)
                args[key][1] = value
            else:
                kwargs[key] = value
        fn = tl.standard_focal_loss if backend == "torch" else cl.standard_focal_loss
        return _message(lambda: fn(*args.values(), **kwargs))

    core, torch_ = run("core"), run("torch")
    assert core == torch_ and name in core[1]


# --- types, shapes, devices: named before any kernel ---------------------------------------------


@pytest.mark.parametrize("bad", [None, [[0.0, 0.0, 1.0, 1.0]], np.zeros((1, 4), np.float32)])
def test_non_tensors_are_a_type_error_naming_the_argument(bad):
    anchors = _anchors()
    faces = torch.from_numpy(FACES)[None]
    valid = torch.ones(1, 2, dtype=torch.bool)
    calls = {
        "boxes": lambda: tb.box_area(bad),
        "gt_boxes": lambda: tm.SMSMatcher()(anchors, bad, valid),
        "scores": lambda: tp.nms(torch.from_numpy(FACES), bad, 0.3),
        "labels": lambda: tl.standard_focal_loss(
            torch.zeros(1), torch.zeros(1, 4), torch.zeros(1, 4), bad
        ),
        "logits": lambda: tl.sigmoid_focal_loss(bad, torch.zeros(1)),
        "boxes ": lambda: box_vote(bad, torch.zeros(1)),
    }
    del faces
    for name, call in calls.items():
        kind, message = _message(call)
        assert kind is TypeError and message.startswith(name.strip()), (name, message)


def test_shape_errors_are_named_before_torch_functional():
    n = 3
    good = [torch.zeros(n), torch.zeros(n, 4), torch.zeros(n, 4), torch.zeros(n)]
    for i, name, bad in (
        (1, "box_deltas", torch.zeros(n, 3)),
        (2, "box_targets", torch.zeros(n + 1, 4)),
        (3, "labels", torch.zeros(n, 1)),
        (0, "cls_logits", torch.zeros(n, 2, 2)),
    ):
        args = list(good)
        args[i] = bad
        kind, message = _message(lambda args=args: tl.standard_focal_loss(*args))
        assert kind is ValueError and message.startswith(name), message
    kind, message = _message(lambda: tl.smooth_l1_loss(torch.zeros(3, 4), torch.zeros(2, 4)))
    assert message.startswith("targets") and "the length of deltas" in message


def test_tensors_on_another_device_are_named():
    a = torch.zeros(3, 4)
    kind, message = _message(lambda: tb.box_iou(a, a.to("meta")))
    assert kind is ValueError and message.startswith("boxes2 must be on the device of boxes1")
    valid = torch.ones(1, 3, dtype=torch.bool)
    kind, message = _message(lambda: tm.SMSMatcher()(a, a[None], valid.to("meta")))
    assert message.startswith("gt_valid must be on the device")


def test_all_value_checks_of_a_call_cost_one_read():
    """ValueChecks stacks its flags and reads them back together."""
    reads = []
    real = torch.Tensor.tolist

    def counting(self):
        reads.append(self.shape)
        return real(self)

    boxes = torch.from_numpy(FACES)
    torch.Tensor.tolist = counting
    try:
        ValueChecks().boxes(boxes, "a").boxes(boxes, "b").finite(boxes, "c").labels(
            torch.zeros(3), "d"
        ).run()
    finally:
        torch.Tensor.tolist = real
    assert reads == [torch.Size([4])]


# --- focal-loss gradients -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("gamma", [0.0, 1e-3, 0.1, 0.25, 0.5, 0.75, 0.999, 1.0, 1.5, 2.0, 5.0])
def test_focal_loss_gradients_are_finite_for_every_gamma(dtype, gamma):
    logits = torch.tensor([-100.0, -30.0, 0.0, 30.0, 100.0] * 2, dtype=dtype, requires_grad=True)
    targets = torch.tensor([0.0] * 5 + [1.0] * 5, dtype=dtype)
    loss = tl.sigmoid_focal_loss(logits, targets, gamma=gamma)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(logits.grad).all()
    # the batch losses too, with compensated anchors and their quality weights
    x = torch.tensor([-100.0, 100.0, -100.0, 100.0], dtype=dtype, requires_grad=True)
    d = torch.zeros(4, 4, dtype=dtype, requires_grad=True)
    cls, loc = tl.regression_aware_focal_loss(
        x,
        d,
        torch.zeros(4, 4, dtype=dtype),
        torch.tensor([1, 1, 0, 0]),
        torch.tensor([True, False, False, False]),
        torch.tensor([0.7, math.nan, math.nan, math.nan], dtype=dtype),  # read where compensated
        gamma=gamma,
    )
    (cls + loc).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(d.grad).all()


# --- the value rules, written once for both backends ---------------------------------------------


@st.composite
def defective_boxes(draw):
    """Valid boxes with a few coordinates made NaN, infinite or inverted."""
    boxes = draw(box_arrays(max_n=40)).astype(np.float32)
    defects = st.tuples(
        st.integers(0, max(len(boxes) - 1, 0)),
        st.integers(0, 3),
        st.sampled_from([np.nan, np.inf, -np.inf, "inverted"]),
    )
    for row, col, value in draw(st.lists(defects, max_size=3)) if len(boxes) else []:
        boxes[row, col] = boxes[row, col ^ 2] - 1 if value == "inverted" else value
    return boxes


@given(defective_boxes(), st.booleans())
def test_the_array_rule_agrees_with_the_numba_fast_path_and_torch(boxes, allow_inverted):
    bad = invalid_box_rows(boxes, allow_inverted)
    want = int(np.argmax(bad)) if bad.any() else -1
    assert first_invalid_box(boxes, ALL_ROWS, False, allow_inverted) == want
    on_tensor = invalid_box_rows(torch.from_numpy(boxes), allow_inverted)
    assert on_tensor.numpy().tolist() == bad.tolist()


# --- huge inputs: bounded, exact ----------------------------------------------------------------


def _dense_box_vote(boxes, scores, iou_thr, keep_singletons):
    """The former dense implementation (the N x N IoU matrix), as the exact reference."""
    order = torch.sort(scores, descending=True, stable=True).indices
    b = boxes[order].double().numpy()
    s = scores[order].double().numpy()
    iou = tb.box_iou(boxes[order].float(), boxes[order].float()).numpy() >= iou_thr
    free = np.ones(len(s), dtype=bool)
    merged, best = [], []
    for i in range(len(s)):
        if not free[i]:
            continue
        group = free & iou[i]
        group[i] = True
        free &= ~group
        if group.sum() == 1 and not keep_singletons:
            continue
        weight = s[group].sum()
        merged.append((b[group] * s[group, None]).sum(axis=0) / weight if weight > 0 else b[i])
        best.append(s[i])
    return np.asarray(merged, dtype=np.float64).reshape(-1, 4), np.asarray(best)


@given(st.integers(0, 2**32 - 1), st.sampled_from([0.3, 0.5, 1.0]), st.booleans())
def test_box_vote_equals_the_dense_computation_bit_for_bit(seed, iou_thr, keep):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 300))
    xy = rng.uniform(0, 200, (n, 2))
    boxes = torch.from_numpy(np.concatenate([xy, xy + rng.uniform(1, 40, (n, 2))], 1))
    scores = torch.from_numpy(rng.integers(0, 8, n) / 8.0)  # ties on purpose
    got_boxes, got_scores = box_vote(boxes, scores, iou_thr=iou_thr, keep_singletons=keep)
    want_boxes, want_scores = _dense_box_vote(boxes, scores, iou_thr, keep)
    np.testing.assert_array_equal(got_boxes.numpy(), want_boxes)
    np.testing.assert_array_equal(got_scores.numpy(), want_scores)
