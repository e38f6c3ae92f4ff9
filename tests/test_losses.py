"""Tests of :mod:`hambox_core.losses`: hand-computed values, stability at extreme logits, agreement
with the loop references in :mod:`reference.losses`, the N_com / N_norm semantics of paper Eq. 1
and 2, and input validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reference.losses import (
    ref_regression_aware_focal_loss,
    ref_sigmoid_focal_loss,
    ref_smooth_l1_loss,
    ref_standard_focal_loss,
)

from hambox_core.losses import (
    regression_aware_focal_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
    standard_focal_loss,
)

# Fast code (numpy, pairwise sums) against the references (math, fsum), all in float64: they
# differ only by the rounding of exp / log1p / expit and of the summation order.
RTOL = 1e-12

LN2 = math.log(2.0)
BETA = 1.0 / 9.0


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

# Moderate logits, plus a few extreme ones whose losses are exactly 0 or exactly linear. Logits
# beyond about +-200 in the moderate range would put the product (1 - p_t)^gamma * BCE into the
# subnormal range, where a relative tolerance means nothing.
logit_values = st.one_of(
    st.floats(-60.0, 60.0, allow_nan=False),
    st.sampled_from([0.0, -0.0, 1e4, -1e4, 1e30, -1e30]),
)
delta_values = st.floats(-3.0, 3.0, allow_nan=False)
garbage_values = st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -7.0])
alphas = st.one_of(st.just(0.25), st.just(-1.0), st.floats(0.0, 1.0))
gammas = st.one_of(st.just(2.0), st.just(0.0), st.floats(0.0, 4.0))
betas = st.one_of(st.just(BETA), st.just(0.0), st.floats(0.0, 2.0))

MODES = ["random", "empty", "all_ignored", "no_positives", "all_compensated", "none_compensated"]


@st.composite
def batches(draw, mode=None, max_n=40):
    """A valid flat batch for the combined losses, as a dict of numpy arrays.

    Rows of non-positive anchors in the box arrays, and the quality of non-compensated anchors,
    sometimes hold garbage (NaN, inf): the losses must never read them.
    """
    mode = draw(st.sampled_from(MODES)) if mode is None else mode
    n = 0 if mode == "empty" else draw(st.integers(0, max_n))
    label_choices = {"all_ignored": [-1], "no_positives": [-1, 0]}.get(mode, [-1, 0, 1])
    labels = draw(hnp.arrays(np.int8, n, elements=st.sampled_from(label_choices)))
    pos = labels == 1
    if mode == "all_compensated":
        compensated = pos.copy()
    elif mode == "none_compensated":
        compensated = np.zeros(n, dtype=bool)
    else:
        compensated = draw(hnp.arrays(np.bool_, n)) & pos
    logits = draw(hnp.arrays(np.float64, n, elements=logit_values))
    quality = draw(hnp.arrays(np.float64, n, elements=st.one_of(st.floats(0, 1), garbage_values)))
    quality[compensated] = draw(
        hnp.arrays(np.float64, int(compensated.sum()), elements=st.floats(0.0, 1.0))
    )

    def box_rows():
        rows = draw(hnp.arrays(np.float64, (n, 4), elements=delta_values))
        garbage = draw(hnp.arrays(np.float64, (n, 4), elements=garbage_values))
        use_garbage = draw(hnp.arrays(np.bool_, n)) & ~pos
        rows[use_garbage] = garbage[use_garbage]
        return rows

    return {
        "cls_logits": logits,
        "box_deltas": box_rows(),
        "box_targets": box_rows(),
        "labels": labels,
        "compensated": compensated,
        "quality": quality,
    }


def _standard_args(batch):
    return {k: batch[k] for k in ("cls_logits", "box_deltas", "box_targets", "labels")}


def _concat(a, b):
    return {k: np.concatenate([a[k], b[k]]) for k in a}


# --------------------------------------------------------------------------------------------
# Hand-computed values
# --------------------------------------------------------------------------------------------


def test_focal_hand_values():
    loss = sigmoid_focal_loss([0.0, 0.0, math.log(3.0), -math.log(3.0)], [1, 0, 1, 0])
    # logit 0: p = 0.5, so (1 - p_t)^2 = 0.25 and BCE = ln 2 for either target
    assert loss[0] == pytest.approx(0.25 * 0.5**2 * LN2, rel=1e-15)
    assert loss[1] == pytest.approx(0.75 * 0.5**2 * LN2, rel=1e-15)
    # logit ln 3: p = 3/4, 1 - p = 1/4, BCE = -ln(3/4)
    assert loss[2] == pytest.approx(0.25 * 0.25**2 * math.log(4.0 / 3.0), rel=1e-14)
    # logit -ln 3, target 0: mirror image, weighted by 1 - alpha
    assert loss[3] == pytest.approx(0.75 * 0.25**2 * math.log(4.0 / 3.0), rel=1e-14)
    assert loss.dtype == np.float64
    assert loss.shape == (4,)


def test_focal_alpha_disabled_and_gamma_zero_is_bce():
    x = np.array([-2.0, 0.0, 2.0])
    t = np.array([1.0, 1.0, 0.0])
    # alpha < 0: no class weight; gamma = 0: no modulation; what is left is BCE with logits
    expected = [math.log1p(math.exp(2.0)), LN2, math.log1p(math.exp(2.0))]
    np.testing.assert_allclose(sigmoid_focal_loss(x, t, alpha=-1.0, gamma=0.0), expected, 1e-15)
    # alpha = 1 keeps only positives, alpha = 0 only negatives
    assert sigmoid_focal_loss([0.0], [0.0], alpha=1.0)[0] == 0.0
    assert sigmoid_focal_loss([0.0], [1.0], alpha=0.0)[0] == 0.0


def test_focal_soft_target():
    # t = 0.5 at logit 0: alpha_t = 0.5, 1 - p_t = 0.5, BCE = ln 2
    assert sigmoid_focal_loss([0.0], [0.5])[0] == pytest.approx(0.5 * 0.25 * LN2, rel=1e-15)


def test_smooth_l1_hand_values():
    zeros = np.zeros((1, 4))
    # 0.1 < 1/9: quadratic, 0.5 * 0.1^2 / (1/9) = 0.045; 0.2 > 1/9: linear, 0.2 - 1/18
    # -0.2: same as 0.2; 0: nothing
    got = smooth_l1_loss(zeros, [[0.1, 0.2, -0.2, 0.0]])
    assert got.shape == (1,) and got.dtype == np.float64
    assert got[0] == pytest.approx(0.045 + 2 * (0.2 - 1.0 / 18.0), rel=1e-14)
    # exactly at beta both branches give beta / 2 (the function is continuous there)
    assert smooth_l1_loss(zeros, [[BETA, 0, 0, 0]])[0] == pytest.approx(1.0 / 18.0, rel=1e-15)
    # beta = 0: plain L1
    assert smooth_l1_loss(zeros, [[0.1, -0.2, 3.0, 0.0]], beta=0.0)[0] == pytest.approx(3.3)
    # beta = 1: quadratic below 1, linear above
    got = smooth_l1_loss([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]], [[0.5, 0, 0, 0]] * 2, beta=1)
    assert got.tolist() == pytest.approx([0.125, 0.125 + 3 * 0.5])


def _hand_batch():
    nan = math.nan
    return {
        "cls_logits": np.array([0.0, 0.0, 0.0, 0.0, 0.0, 123.0]),
        "box_deltas": np.array(
            [
                [0.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 0.0],
                [nan, nan, nan, nan],  # background: never read
                [math.inf, 0.0, 0.0, 0.0],  # ignored: never read
            ]
        ),
        "box_targets": np.array(
            [
                [1.0, 0.0, 0.0, 0.0],
                [0.1, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.5, -0.5],
                [0.0, 0.0, 0.0, 0.0],
                [nan, 0.0, 0.0, 0.0],
                [nan, 0.0, 0.0, 0.0],
            ]
        ),
        "labels": np.array([1, 1, 1, 1, 0, -1], dtype=np.int8),
        "compensated": np.array([True, True, False, False, False, False]),
        "quality": np.array([0.5, 1.0, nan, nan, nan, nan]),
    }


def test_regression_aware_hand_batch():
    # anchor 0: compensated, F = 0.5 | anchor 1: compensated, F = 1 | anchors 2, 3: normal
    # positives | anchor 4: background | anchor 5: ignored.  N_com = 2, N_norm = 2.
    # FL(0, 1) = 0.25 * 0.5^2 * ln2 = ln2/16;  FL(0, 0) = 0.75 * 0.5^2 * ln2 = 3 ln2/16.
    #   L_cls = (0.5 * ln2/16 + 1.0 * ln2/16) / 2 + (ln2/16 + ln2/16 + 3 ln2/16) / 2
    #         = (3 ln2/32) / 2 + (5 ln2/16) / 2 = 3 ln2/64 + 10 ln2/64 = 13 ln2/64
    # Smooth-L1 with beta = 1/9 (beta/2 = 1/18):
    #   anchor 0: |1| >= 1/9 -> 1 - 1/18 = 17/18
    #   anchor 1: |0.1| < 1/9 -> 0.5 * 0.01 * 9 = 0.045
    #   anchor 2: two coordinates of 0.5 -> 2 * (0.5 - 1/18) = 8/9
    #   anchor 3: 0
    #   L_loc = (17/18 + 0.045) / 2 + (8/9 + 0) / 2
    loss_cls, loss_loc = regression_aware_focal_loss(**_hand_batch())
    assert loss_cls == pytest.approx(13.0 * LN2 / 64.0, rel=1e-14)
    assert loss_loc == pytest.approx((17.0 / 18.0 + 0.045) / 2.0 + (8.0 / 9.0) / 2.0, rel=1e-14)
    assert type(loss_cls) is float and type(loss_loc) is float


def test_standard_hand_batch():
    # Same batch, every positive alike: n_pos = 4.
    #   L_cls = (4 * ln2/16 + 3 ln2/16) / 4 = 7 ln2/64
    #   L_loc = (17/18 + 0.045 + 8/9 + 0) / 4
    loss_cls, loss_loc = standard_focal_loss(**_standard_args(_hand_batch()))
    assert loss_cls == pytest.approx(7.0 * LN2 / 64.0, rel=1e-14)
    assert loss_loc == pytest.approx((17.0 / 18.0 + 0.045 + 8.0 / 9.0) / 4.0, rel=1e-14)
    assert type(loss_cls) is float and type(loss_loc) is float


def test_hyperparameters_reach_the_combined_losses():
    batch = _hand_batch()
    # alpha disabled, gamma 0: FL(0, .) = ln2 for each anchor
    #   L_cls = (0.5 ln2 + ln2) / 2 + 3 ln2 / 2 = 2.25 ln2
    # beta 0: L1; L_loc = (1 + 0.1) / 2 + (1 + 0) / 2 = 1.05
    loss_cls, loss_loc = regression_aware_focal_loss(**batch, alpha=-1, gamma=0, beta=0)
    assert loss_cls == pytest.approx(2.25 * LN2, rel=1e-14)
    assert loss_loc == pytest.approx(1.05, rel=1e-14)


# --------------------------------------------------------------------------------------------
# Numerical stability
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "t", "expected"),
    [
        # x -> +inf, t = 0: BCE = x, 1 - p_t = 1, so FL = (1 - alpha) x
        (1e4, 0.0, 0.75 * 1e4),
        (1e30, 0.0, 0.75 * 1e30),
        (1.7e308, 0.0, 0.75 * 1.7e308),
        # x -> -inf, t = 1: BCE = -x, 1 - p_t = 1, so FL = alpha |x|
        (-1e4, 1.0, 0.25 * 1e4),
        (-1e30, 1.0, 0.25 * 1e30),
        (-1.7e308, 1.0, 0.25 * 1.7e308),
        # confidently right: exactly 0
        (1e4, 1.0, 0.0),
        (-1e4, 0.0, 0.0),
        (1e30, 1.0, 0.0),
        (-1e30, 0.0, 0.0),
        # soft target: alpha_t = 0.5, 1 - p_t = 0.5, BCE = x - x/2
        (1e30, 0.5, 0.5 * 0.25 * 0.5e30),
        (-1e30, 0.5, 0.5 * 0.25 * 0.5e30),
    ],
)
def test_focal_extreme_logits(x, t, expected):
    got = sigmoid_focal_loss(np.array([x]), np.array([t]))
    assert np.isfinite(got).all()
    assert got[0] == pytest.approx(expected, rel=1e-15, abs=0.0)


@pytest.mark.parametrize("x", [30.0, 40.0, 100.0])
def test_focal_keeps_tiny_losses(x):
    # 1 - sigmoid(x) would round to 0 (or lose all digits) here; the loss is tiny, not zero.
    s = math.exp(-x) / (1.0 + math.exp(-x))  # sigmoid(-x)
    expected = 0.25 * s * s * math.log1p(math.exp(-x))
    got = sigmoid_focal_loss([x, -x], [1.0, 0.0])
    assert got[0] > 0.0
    assert got[0] == pytest.approx(expected, rel=1e-13)
    assert got[1] == pytest.approx(expected * 3.0, rel=1e-13)


def test_combined_losses_extreme_logits_are_finite():
    batch = _hand_batch()
    batch["cls_logits"] = np.array([1e30, -1e30, 1e4, -1e4, 1e30, -1e30])
    # anchor 0 (compensated, F = 0.5): 0;  anchor 1 (compensated, F = 1): 0.25e30
    # anchor 2: 0;  anchor 3: 0.25e4;  anchor 4 (background at +1e30): 0.75e30
    loss_cls, _ = regression_aware_focal_loss(**batch)
    assert loss_cls == pytest.approx(0.25e30 / 2 + (0.25e4 + 0.75e30) / 2, rel=1e-15)


def test_smooth_l1_overflowing_difference_is_inf():
    got = smooth_l1_loss([[1.7e308, 0, 0, 0]], [[-1.7e308, 0, 0, 0]])
    assert got[0] == math.inf


# --------------------------------------------------------------------------------------------
# Agreement with the references
# --------------------------------------------------------------------------------------------


@given(
    data=st.data(),
    n=st.integers(0, 40),
    soft=st.booleans(),
    alpha=alphas,
    gamma=gammas,
)
def test_sigmoid_focal_loss_matches_reference(data, n, soft, alpha, gamma):
    logits = data.draw(st.lists(logit_values, min_size=n, max_size=n))
    target_values = st.floats(0.0, 1.0) if soft else st.sampled_from([0.0, 1.0])
    targets = data.draw(st.lists(target_values, min_size=n, max_size=n))
    got = sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma)
    assert got.shape == (n,) and got.dtype == np.float64
    expected = ref_sigmoid_focal_loss(logits, targets, alpha, gamma)
    np.testing.assert_allclose(got, np.array(expected).reshape(n), rtol=RTOL, atol=0)


@given(data=st.data(), n=st.integers(0, 40), beta=betas)
def test_smooth_l1_loss_matches_reference(data, n, beta):
    rows = st.lists(st.lists(delta_values, min_size=4, max_size=4), min_size=n, max_size=n)
    deltas = np.array(data.draw(rows), dtype=np.float64).reshape(n, 4)
    targets = np.array(data.draw(rows), dtype=np.float64).reshape(n, 4)
    got = smooth_l1_loss(deltas, targets, beta=beta)
    assert got.shape == (n,) and got.dtype == np.float64
    expected = ref_smooth_l1_loss(deltas.tolist(), targets.tolist(), beta)
    np.testing.assert_allclose(got, np.array(expected).reshape(n), rtol=RTOL, atol=0)


@pytest.mark.parametrize("norm", ["compensated", "positives"])
@given(batch=batches(), alpha=alphas, gamma=gammas, beta=betas)
def test_regression_aware_matches_reference(norm, batch, alpha, gamma, beta):
    hyper = {"alpha": alpha, "gamma": gamma, "beta": beta, "compensated_normalizer": norm}
    got = regression_aware_focal_loss(**batch, **hyper)
    expected = ref_regression_aware_focal_loss(*(batch[k].tolist() for k in batch), **hyper)
    assert all(type(v) is float for v in got)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


@given(batch=batches(), alpha=alphas, gamma=gammas, beta=betas)
def test_standard_matches_reference(batch, alpha, gamma, beta):
    args = _standard_args(batch)
    got = standard_focal_loss(**args, alpha=alpha, gamma=gamma, beta=beta)
    expected = ref_standard_focal_loss(
        *(args[k].tolist() for k in args), alpha=alpha, gamma=gamma, beta=beta
    )
    assert all(type(v) is float for v in got)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("mode", ["empty", "all_ignored", "no_positives", "all_compensated"])
@given(data=st.data())
def test_special_batches_match_reference(mode, data):
    # The cases the random mix only sometimes hits, each forced.
    batch = data.draw(batches(mode=mode))
    got = regression_aware_focal_loss(**batch)
    expected = ref_regression_aware_focal_loss(*(batch[k].tolist() for k in batch))
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)
    if mode in ("empty", "all_ignored"):
        assert got == (0.0, 0.0)
        assert standard_focal_loss(**_standard_args(batch)) == (0.0, 0.0)
    if mode == "no_positives":
        assert got[1] == 0.0


def test_empty_inputs():
    assert regression_aware_focal_loss([], [], [], [], [], []) == (0.0, 0.0)
    assert standard_focal_loss([], np.zeros((0, 4)), np.zeros((0, 4)), []) == (0.0, 0.0)
    fl = sigmoid_focal_loss([], [])
    assert fl.shape == (0,) and fl.dtype == np.float64
    sl = smooth_l1_loss(np.zeros((0, 4)), [])
    assert sl.shape == (0,) and sl.dtype == np.float64


# --------------------------------------------------------------------------------------------
# N_com / N_norm semantics
# --------------------------------------------------------------------------------------------


@given(batch=batches())
def test_doubling_the_batch_changes_nothing(batch):
    pos = batch["labels"] == 1
    omega_pos = pos & ~batch["compensated"]
    # With no normal positive N_norm is clamped at 1, so background terms would double.
    assume(omega_pos.any() or not (batch["labels"] == 0).any())
    doubled = _concat(batch, batch)
    np.testing.assert_allclose(
        regression_aware_focal_loss(**doubled), regression_aware_focal_loss(**batch), rtol=RTOL
    )
    # Here pos.any() follows from omega_pos.any(), so the baseline's N_pos is not clamped either.
    np.testing.assert_allclose(
        standard_focal_loss(**_standard_args(doubled)),
        standard_focal_loss(**_standard_args(batch)),
        rtol=RTOL,
    )


def test_normalisers_are_clamped_at_one():
    # Background only: N_norm = max(1, 0) = 1, so doubling doubles the loss (the clamp is real).
    one = {
        "cls_logits": np.array([0.0]),
        "box_deltas": np.zeros((1, 4)),
        "box_targets": np.zeros((1, 4)),
        "labels": np.array([0]),
        "compensated": np.array([False]),
        "quality": np.array([0.0]),
    }
    loss_cls, _ = regression_aware_focal_loss(**one)
    assert loss_cls == pytest.approx(3.0 * LN2 / 16.0, rel=1e-15)
    loss_cls2, _ = regression_aware_focal_loss(**_concat(one, one))
    assert loss_cls2 == pytest.approx(2.0 * loss_cls, rel=1e-15)


@given(batch=batches(), data=st.data())
def test_ignored_anchors_change_nothing(batch, data):
    n = batch["labels"].shape[0]
    k = data.draw(st.integers(1, 10))
    extra = {
        "cls_logits": np.array(data.draw(st.lists(logit_values, min_size=k, max_size=k))),
        "box_deltas": np.full((k, 4), math.nan),
        "box_targets": np.full((k, 4), -math.inf),
        "labels": np.full(k, -1, dtype=np.int8),
        "compensated": np.zeros(k, dtype=bool),
        "quality": np.full(k, math.nan),
    }
    where = np.sort(np.array(data.draw(st.lists(st.integers(0, n), min_size=k, max_size=k))))
    grown = {key: np.insert(batch[key], where, extra[key], axis=0) for key in batch}
    np.testing.assert_allclose(
        regression_aware_focal_loss(**grown), regression_aware_focal_loss(**batch), rtol=1e-14
    )
    np.testing.assert_allclose(
        standard_focal_loss(**_standard_args(grown)),
        standard_focal_loss(**_standard_args(batch)),
        rtol=1e-14,
    )


def test_quality_zero_compensated_anchor():
    batch = {
        "cls_logits": np.array([3.0, -1.0, 0.5]),
        "box_deltas": np.zeros((3, 4)),
        "box_targets": np.array([[1.0, 0.0, 0.0, 0.0], [0.0] * 4, [0.0] * 4]),
        "labels": np.array([1, 0, 1]),
        "compensated": np.array([True, False, False]),
        "quality": np.array([0.0, 0.3, 0.9]),
    }
    # anchor 0 alone in psi: F = 0 removes its classification term, not its localisation term
    fl = sigmoid_focal_loss([-1.0, 0.5], [0.0, 1.0])
    loss_cls, loss_loc = regression_aware_focal_loss(**batch)
    assert loss_cls == pytest.approx(fl[0] + fl[1], rel=1e-15)  # N_norm = 1
    assert loss_loc == pytest.approx(1.0 - 1.0 / 18.0, rel=1e-15)  # N_com = 1
    # changing its logit changes nothing in L_cls
    batch["cls_logits"][0] = -25.0
    assert regression_aware_focal_loss(**batch)[0] == loss_cls
    # with quality 1 it would count in full
    batch["quality"][0] = 1.0
    full = regression_aware_focal_loss(**batch)[0]
    assert full == pytest.approx(loss_cls + sigmoid_focal_loss([-25.0], [1.0])[0], rel=1e-15)


def test_compensated_anchors_normalised_apart():
    # One compensated anchor and three normal positives with identical logits and boxes:
    # L_loc = s / 1 + 3 s / 3 = 2 s, whereas the baseline gives 4 s / 4 = s.
    batch = {
        "cls_logits": np.zeros(4),
        "box_deltas": np.zeros((4, 4)),
        "box_targets": np.tile([1.0, 0.0, 0.0, 0.0], (4, 1)),
        "labels": np.ones(4, dtype=np.int8),
        "compensated": np.array([True, False, False, False]),
        "quality": np.ones(4),
    }
    s = 1.0 - 1.0 / 18.0
    fl1 = 0.25 * 0.25 * LN2
    assert regression_aware_focal_loss(**batch) == pytest.approx((2 * fl1, 2 * s), rel=1e-15)
    assert standard_focal_loss(**_standard_args(batch)) == pytest.approx((fl1, s), rel=1e-15)
    # Normalised with all positives, the compensated anchor weighs as one positive of four.
    shared = regression_aware_focal_loss(**batch, compensated_normalizer="positives")
    assert shared == pytest.approx((fl1, s), rel=1e-15)
    batch["quality"] = np.full(4, 0.5)
    shared = regression_aware_focal_loss(**batch, compensated_normalizer="positives")
    assert shared == pytest.approx((3.5 * fl1 / 4, s), rel=1e-15)  # F weighs only L_cls


@given(batch=batches(), alpha=alphas, gamma=gammas, beta=betas)
def test_positives_normalizer_with_unit_quality_equals_standard(batch, alpha, gamma, beta):
    """With every F_i = 1 and the positives' normaliser, a compensated anchor is one more
    positive: the standard focal loss (up to the order of the sums)."""
    batch["quality"] = np.where(batch["compensated"], 1.0, batch["quality"])
    hyper = {"alpha": alpha, "gamma": gamma, "beta": beta}
    got = regression_aware_focal_loss(**batch, **hyper, compensated_normalizer="positives")
    expected = standard_focal_loss(**_standard_args(batch), **hyper)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("value", ["own", "", None, 1, "Positives"])
def test_compensated_normalizer_must_be_named(value):
    from hambox_core.losses import RegressionAwareFocalLoss

    with pytest.raises(ValueError, match=r"^compensated_normalizer must be one of"):
        regression_aware_focal_loss(**_valid(), compensated_normalizer=value)
    with pytest.raises(ValueError, match=r"^compensated_normalizer must be one of"):
        RegressionAwareFocalLoss(compensated_normalizer=value)


@given(batch=batches(), alpha=alphas, gamma=gammas, beta=betas)
def test_without_compensation_equals_standard(batch, alpha, gamma, beta):
    batch["compensated"] = np.zeros_like(batch["compensated"])
    hyper = {"alpha": alpha, "gamma": gamma, "beta": beta}
    expected = standard_focal_loss(**_standard_args(batch), **hyper)
    assert regression_aware_focal_loss(**batch, **hyper) == expected
    shared = regression_aware_focal_loss(**batch, **hyper, compensated_normalizer="positives")
    assert shared == expected


# --------------------------------------------------------------------------------------------
# dtypes and purity
# --------------------------------------------------------------------------------------------


@given(batch=batches(mode="random"))
def test_computed_in_float64_from_the_inputs(batch):
    # float32 / int inputs are read exactly and computed in float64. (Garbage 1e300 in unread
    # entries overflows to inf in float32, which is still garbage that is never read.)
    with np.errstate(over="ignore"):
        f32 = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in batch.items()}
    f64 = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in f32.items()}
    f32["labels"] = f32["labels"].astype(np.int64)
    f32["compensated"] = f32["compensated"].astype(np.uint8)
    assert regression_aware_focal_loss(**f32) == regression_aware_focal_loss(**f64)


def test_lists_and_integer_logits_accepted():
    got = regression_aware_focal_loss(
        [0, 2], [[0, 0, 0, 0], [1, 1, 1, 1]], [[0, 0, 0, 0]] * 2, [1.0, 0.0], [1, 0], [1, 0]
    )
    expected = regression_aware_focal_loss(
        np.array([0.0, 2.0]),
        np.array([[0.0] * 4, [1.0] * 4]),
        np.zeros((2, 4)),
        np.array([1, 0]),
        np.array([True, False]),
        np.array([1.0, 0.0]),
    )
    assert got == expected


@given(batch=batches())
def test_inputs_not_modified(batch):
    copies = {k: v.copy() for k, v in batch.items()}
    for v in batch.values():
        v.flags.writeable = False  # a write would raise
    regression_aware_focal_loss(**batch)
    standard_focal_loss(**_standard_args(batch))
    sigmoid_focal_loss(batch["cls_logits"], (batch["labels"] == 1).astype(np.float64))
    pos = batch["labels"] == 1
    smooth_l1_loss(batch["box_deltas"][pos], batch["box_targets"][pos])
    for k, v in batch.items():
        np.testing.assert_array_equal(v, copies[k])
        assert v.dtype == copies[k].dtype


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _valid():
    return {
        "cls_logits": np.zeros(3),
        "box_deltas": np.zeros((3, 4)),
        "box_targets": np.zeros((3, 4)),
        "labels": np.array([1, 0, -1]),
        "compensated": np.array([True, False, False]),
        "quality": np.array([0.5, 0.0, 0.0]),
    }


def _row(value, i=0, n=3):
    out = np.zeros((n, 4))
    out[i, 1] = value
    return out


BAD_BATCH = [
    # cls_logits
    ("cls_logits", np.zeros((3, 1))),
    ("cls_logits", np.float64(0.0)),
    ("cls_logits", np.array(["a", "b", "c"])),
    ("cls_logits", np.zeros(3, dtype=complex)),
    ("cls_logits", np.zeros(3, dtype=bool)),
    ("cls_logits", np.array([0.0, None, 1.0], dtype=object)),
    ("cls_logits", [0.0, [1.0], 2.0]),
    ("cls_logits", np.array([math.nan, 0.0, 0.0])),
    ("cls_logits", np.array([0.0, math.inf, 0.0])),
    ("cls_logits", np.array([0.0, 0.0, -math.inf])),  # even on an ignored anchor
    # box arrays
    ("box_deltas", np.zeros((3, 3))),
    ("box_deltas", np.zeros((2, 4))),
    ("box_deltas", np.zeros(12)),
    ("box_deltas", np.zeros((3, 4), dtype="U1")),
    ("box_deltas", _row(math.nan)),  # positive row
    ("box_targets", np.zeros((4, 4))),
    ("box_targets", np.zeros((3, 4, 1))),
    ("box_targets", _row(math.inf)),
    ("box_targets", _row(-math.inf)),
    # labels
    ("labels", np.array([1, 0])),
    ("labels", np.array([[1, 0, -1]])),
    ("labels", np.array([1, 2, -1])),
    ("labels", np.array([1.0, 0.5, -1.0])),
    ("labels", np.array([1.0, math.nan, -1.0])),
    ("labels", np.array([True, False, False])),
    ("labels", np.array(["1", "0", "-1"])),
    # compensated
    ("compensated", np.array([True, False])),
    ("compensated", np.array([[True, False, False]])),
    ("compensated", np.array([2, 0, 0])),
    ("compensated", np.array([0.5, 0.0, 0.0])),
    ("compensated", np.array(["a", "b", "c"])),
    ("compensated", np.array([True, True, False])),  # a background anchor
    ("compensated", np.array([True, False, True])),  # an ignored anchor
    # quality
    ("quality", np.zeros(2)),
    ("quality", np.zeros((3, 1))),
    ("quality", np.array(["a", "b", "c"])),
    ("quality", np.array([1.5, 0.0, 0.0])),
    ("quality", np.array([-0.1, 0.0, 0.0])),
    ("quality", np.array([math.nan, 0.0, 0.0])),
    ("quality", np.array([math.inf, 0.0, 0.0])),
]

BAD_HYPER = [
    ("alpha", 1.5),
    ("alpha", math.nan),
    ("alpha", -math.inf),
    ("alpha", "0.25"),
    ("alpha", True),
    ("alpha", None),
    ("gamma", -1.0),
    ("gamma", math.inf),
    ("gamma", math.nan),
    ("beta", -0.1),
    ("beta", math.nan),
    ("beta", math.inf),
]


@pytest.mark.parametrize(("name", "value"), BAD_BATCH)
def test_regression_aware_rejects(name, value):
    kwargs = _valid()
    kwargs[name] = value
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        regression_aware_focal_loss(**kwargs)


@pytest.mark.parametrize(
    ("name", "value"), [c for c in BAD_BATCH if c[0] not in ("compensated", "quality")]
)
def test_standard_rejects(name, value):
    kwargs = _standard_args(_valid())
    kwargs[name] = value
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        standard_focal_loss(**kwargs)


@pytest.mark.parametrize(("name", "value"), BAD_HYPER)
def test_combined_losses_reject_hyperparameters(name, value):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        regression_aware_focal_loss(**_valid(), **{name: value})
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        standard_focal_loss(**_standard_args(_valid()), **{name: value})


@pytest.mark.parametrize("n", [2, 4])
def test_length_mismatch_names_both_arguments(n):
    kwargs = _valid()
    kwargs["cls_logits"] = np.zeros(n)
    with pytest.raises(ValueError, match=r"^box_deltas\b.*cls_logits"):
        regression_aware_focal_loss(**kwargs)
    with pytest.raises(ValueError, match=r"^box_deltas\b.*cls_logits"):
        standard_focal_loss(**_standard_args(kwargs))


def test_unread_entries_may_hold_garbage():
    # Box rows of non-positive anchors and the quality of non-compensated anchors are never read.
    kwargs = _valid()
    kwargs["box_deltas"] = _row(math.nan, i=1) + _row(math.inf, i=2)
    kwargs["box_targets"] = _row(-math.inf, i=1) + _row(math.nan, i=2)
    kwargs["quality"] = np.array([0.5, math.nan, 7.0])
    assert all(math.isfinite(v) for v in regression_aware_focal_loss(**kwargs))
    assert all(math.isfinite(v) for v in standard_focal_loss(**_standard_args(kwargs)))


def test_alpha_negative_disables_weighting():
    # Any negative alpha means "no alpha weighting", as in torchvision (alpha = -1).
    a = regression_aware_focal_loss(**_valid(), alpha=-1.0)
    b = regression_aware_focal_loss(**_valid(), alpha=-0.5)
    assert a == b
    assert a[0] == pytest.approx(0.5 * 0.25 * LN2 + 0.25 * LN2, rel=1e-15)


@pytest.mark.parametrize(
    ("name", "logits", "targets", "hyper"),
    [
        ("logits", np.zeros((2, 1)), np.zeros(2), {}),
        ("logits", np.float64(0.0), np.zeros(1), {}),
        ("logits", np.array(["a"]), np.zeros(1), {}),
        ("logits", np.array([math.nan]), np.zeros(1), {}),
        ("logits", np.array([math.inf]), np.zeros(1), {}),
        ("targets", np.zeros(2), np.zeros(3), {}),
        ("targets", np.zeros(2), np.array([0.0, 1.5]), {}),
        ("targets", np.zeros(2), np.array([-0.1, 1.0]), {}),
        ("targets", np.zeros(2), np.array([math.nan, 1.0]), {}),
        ("targets", np.zeros(2), np.array([True, False]), {}),
        ("alpha", np.zeros(2), np.zeros(2), {"alpha": 2.0}),
        ("gamma", np.zeros(2), np.zeros(2), {"gamma": -0.5}),
    ],
)
def test_sigmoid_focal_loss_rejects(name, logits, targets, hyper):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        sigmoid_focal_loss(logits, targets, **hyper)


@pytest.mark.parametrize(
    ("name", "deltas", "targets", "hyper"),
    [
        ("deltas", np.zeros((2, 3)), np.zeros((2, 4)), {}),
        ("deltas", np.zeros(4), np.zeros((1, 4)), {}),
        ("deltas", np.zeros((2, 4), dtype=complex), np.zeros((2, 4)), {}),
        ("deltas", _row(math.nan, n=2), np.zeros((2, 4)), {}),
        ("targets", np.zeros((2, 4)), np.zeros((3, 4)), {}),
        ("targets", np.zeros((2, 4)), _row(math.inf, i=1, n=2), {}),
        ("beta", np.zeros((2, 4)), np.zeros((2, 4)), {"beta": -1.0}),
        ("beta", np.zeros((2, 4)), np.zeros((2, 4)), {"beta": math.nan}),
    ],
)
def test_smooth_l1_loss_rejects(name, deltas, targets, hyper):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        smooth_l1_loss(deltas, targets, **hyper)
