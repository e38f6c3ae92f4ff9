"""The official WIDER FACE semantics: MATLAB's int32 arithmetic, case by case and against the
plain transliteration of the m-files (tests/reference/widerface_eval.py), and the float option.

Every hand-built case below states the MATLAB arithmetic it sits on; the property tests compare
the fast kernels with the reference on inputs drawn around those edges (both semantics).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference.widerface_eval import (
    boxoverlap_official,
    evaluate_reference,
    gt_to_cells,
    mround,
    preds_to_cells,
    to_int32,
)
from strategies import wider_cases

from hambox_core.evaluation import widerface as W
from hambox_core.evaluation import widerface_kernels as K

KEY = ("0--Parade", "img")
FAR = [500, 500, 5, 5, 0.0]  # a second score, so that normalisation is defined


def _gt(boxes, keep=None):
    keep = [True] * len(boxes) if keep is None else keep
    return W.WiderGroundTruth.from_images([KEY], [boxes], {"hard": [keep]})


def _hard(rows, gt, semantics="official"):
    return W.pr_curves({KEY: rows}, gt, semantics=semantics)["hard"]


def _matched(rows, gt, semantics):
    """(proposals, true positives) over all thresholds."""
    c = _hard(rows, gt, semantics)
    return int(c.proposals[-1]), int(c.true_positives[-1])


# --------------------------------------------------------------------------------------------
# MATLAB's rounding and int32 conversion
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0.5, 1.0),
        (-0.5, -1.0),
        (1.5, 2.0),
        (2.5, 3.0),  # half away from zero, not to even
        (-2.5, -3.0),
        (0.49999999999999994, 0.0),  # floor(x + 0.5) would give 1
        (-0.49999999999999994, -0.0),
        (4503599627370495.5, 4503599627370496.0),
        (1e300, 1e300),
        (math.inf, math.inf),
    ],
)
def test_matlab_round(x, expected):
    assert mround(x) == expected
    assert K.matlab_round(x) == expected


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (2147483646.5, 2147483647),
        (2147483647.5, 2147483647),  # saturates
        (1e10, 2147483647),
        (math.inf, 2147483647),
        (-2147483648.5, -2147483648),
        (-math.inf, -2147483648),
        (math.nan, 0),  # int32(NaN) is 0 in MATLAB
        (-0.5, -1),
    ],
)
def test_to_int32_rounds_and_saturates(x, expected):
    assert int(to_int32(x)) == expected
    assert K.to_int32(x) == expected


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_int32_helpers_agree_with_the_reference(x):
    assert K.to_int32(x) == int(to_int32(x))
    if math.isfinite(x):
        assert K.matlab_round(x) == float(mround(x))
    # halves of the lattice, where the rounding direction matters
    h = math.floor(x) + 0.5 if math.isfinite(x) and abs(x) < 2**52 else 0.5
    assert K.to_int32(h) == int(to_int32(h))


def test_saturating_int32_operations():
    assert K.saturate_int32(2**31) == 2**31 - 1
    assert K.saturate_int32(-(2**31) - 1) == -(2**31)
    assert K.saturate_int32(12) == 12


# --------------------------------------------------------------------------------------------
# hand-built cases on the rounding edges (face 0 0 9 9: 10 x 10 "+1" pixels, area 100)
# --------------------------------------------------------------------------------------------


def test_iou_exactly_half_before_rounding_matches_in_both():
    # 10 x 5 detection: inter 50, union 100 + 50 - 50 = 100, IoU 0.5; int32 0.5 rounds to 1
    gt = _gt([[0, 0, 9, 9]])
    for semantics in W.SEMANTICS:
        assert _matched([[0, 0, 9, 4, 1.0], FAR], gt, semantics) == (2, 1)
        # one row less: 40 / 100 rounds to 0; 0.4 < 0.5 in float
        assert _matched([[0, 0, 9, 3, 1.0], FAR], gt, semantics) == (2, 0)


def test_iou_half_only_after_rounding_the_corners():
    # detection x = 0.4 (rounded to 0 by max(int32, double)), x2 = 9.4, y2 = 4: int32 w 10,
    # h 5, inter 50; barea = 10 * 5 = 50 double; union round(100 + 50) - 50 = 100; 50/100 = 0.5
    # -> round -> 1: a match. In float: iw 9.6, inter 48, union 102, IoU 0.47: no match.
    gt = _gt([[0, 0, 9, 9]])
    rows = [[0.4, 0, 9, 4, 1.0], FAR]
    assert _matched(rows, gt, "official") == (2, 1)
    assert _matched(rows, gt, "float") == (2, 0)


def test_detection_corner_at_half_rounds_away_from_zero():
    # y2 = 0 + 3.5 = 3.5 rounds to 4: int32 h 5, w 10 (x2 = 10 capped by the face's 9), inter 50;
    # barea = 11 * 4.5 = 49.5; round(100 + 49.5) = 150 (half away), union 100, 50/100 -> 1.
    # float: inter 10 * 4.5 = 45, union 104.5, IoU 0.43.
    gt = _gt([[0, 0, 9, 9]])
    rows = [[0, 0, 10, 3.5, 1.0], FAR]
    assert _matched(rows, gt, "official") == (2, 1)
    assert _matched(rows, gt, "float") == (2, 0)
    # mirrored below zero: the face -9 -9 9 9 and y = -3.5 (rounds to -4, away from zero)
    gt2 = _gt([[-9, -9, 9, 9]])
    assert _matched([[-9, -3.5, 10, 3.5, 1.0], FAR], gt2, "official") == (2, 1)


def test_union_rounds_half_away_from_zero():
    # detection -1 -1 6 10.5: corners (-1, -1, 5, 9.5); int32 x1 0, y1 0, x2 5, y2 min(9, 10):
    # w 6, h 10, inter 60; barea = 7 * 11.5 = 80.5; round(100 + 80.5) = 181 (half away), union
    # 121, 60/121 = 0.496 -> 0. A port rounding 180.5 to even (180) would get 60/120 = 0.5 -> 1.
    gt = _gt([[0, 0, 9, 9]])
    rows = [[-1, -1, 6, 10.5, 1.0], FAR]
    assert _matched(rows, gt, "official") == (2, 0)
    a = np.array([[0, 0, 9, 9]], dtype=np.int64)
    assert boxoverlap_official(a, np.array([-1.0, -1.0, 5.0, 9.5])).tolist() == [0]


def test_first_face_with_rounded_iou_one_wins_over_the_best():
    # faces A = 0 0 19 19 and B = 2 0 19 19; the detection is B itself. Its IoU with A is
    # 360 / 440 = 0.82 -> rounds to 1, with B 1.0 -> 1: MATLAB's max takes A, the first.
    boxes = [[0, 0, 19, 19], [2, 0, 19, 19]]
    rows = [[2, 0, 19, 19, 1.0], FAR]
    # A ignored, B kept: official -> the detection hits the ignored A (not a proposal)
    gt = _gt(boxes, [False, True])
    assert _matched(rows, gt, "official") == (1, 0)
    assert _matched(rows, gt, "float") == (2, 1)  # float: B, the best
    # A kept, B ignored: official recalls A; float hits the ignored B
    gt = _gt(boxes, [True, False])
    assert _matched(rows, gt, "official") == (2, 1)
    assert _matched(rows, gt, "float") == (1, 0)
    # best face first: both semantics agree
    gt = _gt(boxes[::-1], [True, False])
    assert _matched(rows, gt, "official") == _matched(rows, gt, "float") == (2, 1)


def test_a_second_detection_on_the_same_first_face_is_a_false_positive():
    # two detections, one on each face; official sends both to A (first face with rounded
    # IoU 1): one true positive and one false positive; float recalls both faces
    boxes = [[0, 0, 19, 19], [2, 0, 19, 19]]
    gt = _gt(boxes)
    rows = [[0, 0, 19, 19, 0.9], [2, 0, 19, 19, 0.8], FAR]
    assert _matched(rows, gt, "official") == (3, 1)
    assert _matched(rows, gt, "float") == (3, 2)


def test_degenerate_faces():
    # the 0 0 0 0 dummy face covers one "+1" pixel: a detection there has inter 1, union
    # round(1 + 1) - 1 = 1, overlap 1 in both semantics
    gt = _gt([[0, 0, 0, 0]])
    for semantics in W.SEMANTICS:
        assert _matched([[0, 0, 0, 0, 1.0], FAR], gt, semantics) == (2, 1)
    # a negative width: x2 = x + w < x, so min(x2, .) - max(x, .) + 1 <= w + 1 <= 0 for every
    # detection: never matched, in both semantics (the official file holds one such face)
    gt = _gt([[10, 10, -5, 8]])
    for semantics in W.SEMANTICS:
        assert _matched([[10, 10, -5, 8, 1.0], [5, 10, 5, 8, 0.5], FAR], gt, semantics) == (3, 0)
    # zero width: one pixel column, area 1 * 11
    gt = _gt([[30, 30, 0, 10]])
    for semantics in W.SEMANTICS:
        assert _matched([[30, 30, 0, 10, 1.0], FAR], gt, semantics) == (2, 1)


def test_saturation_changes_the_outcome():
    # face x 2147483000, w 1000: x + w saturates at intmax, so the face is 648 px wide in
    # int32 (aarea 648 * 51) but 1001 in float. A 401 px wide detection on its left edge:
    # int32 inter 401 * 51 / union 648 * 51 -> 0.62 -> 1; float 401 / 1001 = 0.40: no match.
    gt = _gt([[2147483000, 100, 1000, 50]])
    rows = [[2147483000, 100, 400, 50, 1.0], [0, 0, 5, 5, 0.0]]
    assert _matched(rows, gt, "official") == (2, 1)
    assert _matched(rows, gt, "float") == (2, 0)


def test_saturated_area_makes_a_huge_overlap():
    # a 60001-px face: its area and an equal detection's intersection saturate at intmax; the
    # union round(intmax + 3.6e9) - intmax is 0 and intmax / 0 saturates: overlap intmax
    a = np.array([[0, 0, 60000, 60000]], dtype=np.int64)
    assert boxoverlap_official(a, np.array([0.0, 0.0, 60000.0, 60000.0])).tolist() == [2**31 - 1]
    gt = _gt([[0, 0, 60000, 60000]])
    assert _matched([[0, 0, 60000, 60000, 1.0], FAR], gt, "official") == (2, 1)


def test_official_semantics_needs_int32_ground_truth():
    gt = _gt([[0, 0, 9.5, 9]])
    with pytest.raises(ValueError, match=r"not int32-valued.*semantics='float'"):
        W.evaluate({KEY: [[0, 0, 9, 9, 1.0]]}, gt)
    assert W.evaluate({KEY: [[0, 0, 9, 9, 1.0], FAR]}, gt, semantics="float") == {"hard": 1.0}
    with pytest.raises(ValueError, match="not int32-valued"):
        W.evaluate({}, _gt([[2**31, 0, 9, 9]]))


# --------------------------------------------------------------------------------------------
# the result says how it was computed; arguments are checked
# --------------------------------------------------------------------------------------------


def test_results_carry_the_semantics():
    gt = _gt([[0, 0, 9, 9]])
    preds = {KEY: [[0, 0, 9, 9, 1.0], FAR]}
    for semantics in W.SEMANTICS:
        ap = W.evaluate(preds, gt, semantics=semantics)
        assert ap.semantics == semantics and isinstance(ap, dict)
        assert ap.metadata()["semantics"] == semantics
        assert ap.metadata()["ap"] == {"hard": 1.0}
        assert W.pr_curves(preds, gt, semantics=semantics)["hard"].semantics == semantics
    assert repr(W.evaluate(preds, gt)) == "WiderAP({'hard': 1.0}, semantics='official')"
    import json
    import pickle

    ap = W.evaluate(preds, gt, semantics="float")
    assert json.loads(json.dumps(ap)) == {"hard": 1.0}
    back = pickle.loads(pickle.dumps(ap))
    assert back == ap and back.semantics == "float" and back.num_thresholds == 1000
    d = W.pr_curves(preds, gt)["hard"].to_dict()
    assert json.loads(json.dumps(d))["semantics"] == "official"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"semantics": "matlab"}, "semantics must be one of 'official', 'float'"),
        ({"iou_threshold": 0.0}, r"iou_threshold must lie in \(0, 1\]"),
        ({"iou_threshold": 1.5}, "iou_threshold"),
        ({"iou_threshold": math.nan}, "iou_threshold"),
        ({"iou_threshold": math.inf}, "iou_threshold"),
        ({"iou_threshold": "half"}, "iou_threshold"),
        ({"num_thresholds": 0}, "num_thresholds"),
        ({"num_thresholds": 10.0}, "num_thresholds"),
        ({"num_thresholds": True}, "num_thresholds"),
        ({"settings": ["hardest"]}, "settings: the ground truth has no keep list for 'hardest'"),
        ({"settings": "hard"}, "settings must be a sequence"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    gt = _gt([[0, 0, 9, 9]])
    with pytest.raises(ValueError, match=match):
        W.pr_curves({KEY: [[0, 0, 9, 9, 1.0], FAR]}, gt, **kwargs)


def test_bad_preds_type():
    with pytest.raises(TypeError, match="preds must be a mapping"):
        W.evaluate([[0, 0, 9, 9, 1.0]], _gt([[0, 0, 9, 9]]))


def test_equal_scores_give_zero_ap_with_a_warning():
    # norm_score.m divides 0 by 0: every normalised score is NaN and passes no threshold
    gt = _gt([[10, 10, 50, 50]])
    for semantics in W.SEMANTICS:
        with pytest.warns(W.EqualScoresWarning, match="divides 0 by 0"):
            c = _hard([[10, 10, 50, 50, 0.7], [300, 300, 5, 5, 0.7]], gt, semantics)
        assert (c.proposals == 0).all() and c.ap == 0.0
        assert np.isnan(c.precision).all() and (c.recall == 0).all()


def test_a_setting_without_faces_has_nan_ap():
    gt = _gt([[10, 10, 50, 50]], [False])
    c = _hard([[10, 10, 50, 50, 0.7], FAR], gt)
    assert c.num_faces == 0 and math.isnan(c.ap) and np.isnan(c.recall).all()
    assert c.to_dict()["ap"] is None


# --------------------------------------------------------------------------------------------
# property tests against the plain reference
# --------------------------------------------------------------------------------------------


def _compare(gt, preds, semantics, iou_threshold=0.5):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", W.MissingPredictionWarning)
        warnings.simplefilter("ignore", W.EqualScoresWarning)
        curves = W.pr_curves(preds, gt, semantics=semantics, iou_threshold=iou_threshold)
    ref_gt = gt_to_cells(gt)
    cells = preds_to_cells(preds, ref_gt)
    for s in gt.settings:
        ap, pr, org = evaluate_reference(cells, ref_gt, s, iou_threshold, semantics=semantics)
        c = curves[s]
        np.testing.assert_array_equal(c.proposals, org[:, 0].astype(np.int64))
        np.testing.assert_array_equal(c.true_positives, org[:, 1].astype(np.int64))
        np.testing.assert_array_equal(c.precision, pr[:, 0])
        np.testing.assert_array_equal(c.recall, pr[:, 1])
        # same operations in the same order: the AP is equal to the last bit (NaN for none)
        assert (math.isnan(c.ap) and math.isnan(ap)) or c.ap == ap


@given(wider_cases())
def test_official_matches_the_int32_reference(case):
    _compare(*case, "official")


@given(wider_cases())
def test_float_matches_the_float_reference(case):
    _compare(*case, "float")


@given(wider_cases(max_images=2), st.sampled_from([0.3, 0.5, 0.7, 1.0]))
def test_other_iou_thresholds_match_the_reference(case, thr):
    # in int32 the overlap is an integer, so every threshold in (0, 1] means "rounded IoU >= 1"
    _compare(*case, "official", thr)
    _compare(*case, "float", thr)
