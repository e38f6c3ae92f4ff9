"""VOC AP and the AFW / PASCAL Face protocol, against plain transcriptions of the originals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference.face_eval import evaluate_optim_reference
from reference.widerface_eval import voc_ap_reference

from hambox_core.evaluation.ap import (
    evaluate_face_ap,
    read_face_eval_detections,
    voc_ap,
    write_face_eval_detections,
)

# --------------------------------------------------------------------------------------------
# voc_ap
# --------------------------------------------------------------------------------------------


def test_voc_ap_hand_cases():
    assert voc_ap([1.0], [1.0]) == 1.0
    assert voc_ap([0.5, 1.0], [1.0, 0.5]) == pytest.approx(0.75)
    # the interpolated precision at recall 0.5 is the later, higher 2/3
    assert voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    # NaN precision (0/0 before any proposal) does not poison the running maximum
    assert voc_ap([0.0, 0.5, 1.0], [np.nan, 1.0, 0.5]) == pytest.approx(0.75)
    assert voc_ap([], []) == 0.0
    with pytest.raises(ValueError, match="shape"):
        voc_ap([0.1], [0.1, 0.2])


@st.composite
def pr_curves(draw):
    n = draw(st.integers(0, 40))
    steps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    rec = np.cumsum(steps) / max(1, sum(steps))
    prec = np.array(
        draw(st.lists(st.one_of(st.floats(0, 1), st.just(np.nan)), min_size=n, max_size=n))
    )
    return rec, prec


@given(pr_curves())
def test_voc_ap_matches_the_matlab_loop(curve):
    rec, prec = curve
    assert voc_ap(rec, prec) == pytest.approx(voc_ap_reference(rec, prec), abs=1e-12)


# --------------------------------------------------------------------------------------------
# the face-eval protocol
# --------------------------------------------------------------------------------------------


@st.composite
def face_eval_case(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_img = draw(st.integers(1, 4))
    style = draw(st.sampled_from([(1.0, 0.0), (1.25, 0.1), (0.85, -0.08)]))
    annotations, detections = {}, {}
    for i in range(n_img):
        g = draw(st.integers(0, 4))
        faces = []
        for _ in range(g):
            w = float(rng.choice([rng.uniform(8, 32), rng.uniform(30, 150)]))
            h = w * rng.uniform(0.9, 1.4)
            x, y = rng.uniform(0, 400, 2)
            faces.append([x, y, x + w, y + h, float(rng.random() < 0.1)])
        annotations[f"img{i}"] = np.array(faces).reshape(-1, 5)
        dets = []
        for x0, y0, x1, y1, _ in faces:
            if rng.random() < 0.85:
                scale, shift = style
                cx = (x0 + x1) / 2 + shift * (x1 - x0) + rng.normal(0, 2)
                cy = (y0 + y1) / 2 + rng.normal(0, 2)
                hw, hh = (x1 - x0) / 2 * scale, (y1 - y0) / 2 * scale
                dets.append([cx - hw, cy - hh, cx + hw, cy + hh, rng.random()])
        for _ in range(draw(st.integers(0, 4))):
            x, y = rng.uniform(0, 400, 2)
            s = rng.uniform(10, 80)
            dets.append([x, y, x + s, y + s, rng.random() * 0.6])
        det = np.array(dets).reshape(-1, 5)
        if draw(st.booleans()):
            det[:, 4] = np.round(det[:, 4], 1)  # ties
        detections[f"img{i}"] = det
    if draw(st.booleans()):
        detections["unknown"] = np.array([[0, 0, 50, 50, 0.99]])
    return detections, annotations


@given(face_eval_case(), st.integers(1, 5))
def test_face_ap_matches_reference(case, iterations):
    detections, annotations = case
    ref_ap, ref_tp, ref_fp = evaluate_optim_reference(
        detections, annotations, iterations=iterations
    )
    with np.errstate(all="ignore"):
        exp_rec = np.cumsum(ref_tp) / sum(
            int(((a[:, 2] - a[:, 0] >= 30) & (a[:, 3] - a[:, 1] >= 30) & (a[:, 4] == 0)).sum())
            for a in annotations.values()
        )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # detections of an unknown image
        r = evaluate_face_ap(detections, annotations, calibration_iterations=iterations)
    np.testing.assert_array_equal(r.recall, exp_rec)
    with np.errstate(all="ignore"):
        exp_prec = np.cumsum(ref_tp) / (np.cumsum(ref_tp) + np.cumsum(ref_fp))
    np.testing.assert_array_equal(r.precision, exp_prec)
    if np.isnan(ref_ap):
        assert np.isnan(r.ap)
    else:
        # the toolbox's arithmetic step for step (its VOCap sums with np.sum, pairwise)
        assert r.ap == ref_ap


def test_small_faces_are_ignored_and_small_detections_dropped():
    ann = {"a": [[0, 0, 100, 100], [200, 200, 229, 260]]}  # second face 29 px wide: ignored
    det = {"a": [[0, 0, 100, 100, 0.9], [200, 200, 229, 260, 0.8], [500, 500, 521, 521, 0.99]]}
    r = evaluate_face_ap(det, ann, calibration_iterations=1)
    assert r.num_faces == 1
    # the 21 x 21 detection is dropped; the one on the ignored face counts nowhere
    assert r.scores.tolist() == [0.9, 0.8]
    assert r.recall.tolist() == [1.0, 1.0] and r.precision.tolist() == [1.0, 1.0]
    assert r.ap == 1.0
    # 22 px wide (even if only 10 tall) is kept, and is a false positive
    det["a"].append([500, 500, 522, 510, 0.99])
    r = evaluate_face_ap(det, ann, calibration_iterations=1)
    assert r.scores.tolist() == [0.99, 0.9, 0.8] and r.ap == pytest.approx(0.5)


def test_annotation_ignore_flag_and_strict_threshold():
    ann = {"a": [[0, 0, 99, 99, 1], [300, 300, 399, 399, 0]]}
    det = {"a": [[0, 0, 99, 99, 0.9], [300, 300, 399, 349, 0.8]]}
    r = evaluate_face_ap(det, ann, calibration_iterations=1)
    # the first detection hits a flagged face; the second overlaps the other face by exactly
    # 5000 / 10000 = 0.5 ("+1" pixels), which is not strictly above 0.5: a false positive
    assert r.num_faces == 1
    assert r.recall.tolist() == [0.0, 0.0]
    assert np.isnan(r.precision[0]) and r.precision[1] == 0.0


def test_touching_boxes_do_not_intersect():
    # util.overlap only counts an intersection when the boxes overlap strictly; two identical
    # zero-width boxes therefore have IoU 0 (with "+1" pixels and a non-strict test it would
    # be 1): the detection is a false positive instead of a hit on the (small, ignored) face
    r = evaluate_face_ap(
        {"a": [[0, 0, 0, 40, 0.9]]},
        {"a": [[0, 0, 0, 40], [100, 100, 150, 150]]},
        calibration_iterations=1,
    )
    assert r.precision.tolist() == [0.0]


def test_last_face_wins_an_iou_tie():
    # two identical faces, the second ignored: the toolbox's ">=" picks the second, so the
    # detection counts nowhere (with "first wins" it would be a true positive)
    ann = {"a": [[0, 0, 99, 99, 0], [0, 0, 99, 99, 1]]}
    r = evaluate_face_ap({"a": [[0, 0, 99, 99, 0.9]]}, ann, calibration_iterations=1)
    assert r.recall.tolist() == [0.0] and np.isnan(r.precision[0])


def test_calibration_fits_the_annotation_style():
    rng = np.random.default_rng(0)
    ann, det = {}, {}
    for i in range(20):
        x, y = rng.uniform(0, 300, 2)
        ann[f"i{i}"] = [[x, y, x + 100, y + 100]]
        s = rng.uniform(1.25, 1.55)  # detections 25-55 % too large, shifted down
        cx, cy = x + 50, y + 50 + 15
        det[f"i{i}"] = [[cx - 50 * s, cy - 50 * s, cx + 50 * s, cy + 50 * s, rng.random()]]
    raw = evaluate_face_ap(det, ann, calibration_iterations=1)
    fitted = evaluate_face_ap(det, ann)
    # without calibration the evaluated boxes are the input boxes, in score order
    order = np.argsort([-d[0][4] for d in det.values()], kind="stable")
    np.testing.assert_array_equal(raw.boxes, np.array([d[0][:4] for d in det.values()])[order])
    # with it, the last fit is not applied: two rounds evaluate boxes moved by the first fit
    two = evaluate_face_ap(det, ann, calibration_iterations=2)
    tx, ty, sx, sy = two.calibration[0]
    b = raw.boxes
    hw, hh = (b[:, 2] - b[:, 0]) / 2.0, (b[:, 3] - b[:, 1]) / 2.0
    cx = (b[:, 2] + b[:, 0]) / 2.0 + tx * hw * 2
    cy = (b[:, 3] + b[:, 1]) / 2.0 + ty * hh * 2
    np.testing.assert_array_equal(
        two.boxes, np.stack([cx - hw * sx, cy - hh * sy, cx + hw * sx, cy + hh * sy], axis=1)
    )
    assert raw.ap < 0.8
    assert fitted.ap == pytest.approx(1.0)
    tx, ty, sx, sy = fitted.calibration[0]
    assert abs(tx) < 0.02 and ty < -0.05 and 0.7 < sx < 0.8 and 0.7 < sy < 0.8
    # every fitted round but the last is applied
    assert fitted.calibration.shape == (5, 4)


def test_face_ap_input_checks():
    with pytest.raises(ValueError, match="x1 >= x0"):
        evaluate_face_ap({"a": [[10, 0, 0, 10, 0.5]]}, {"a": [[0, 0, 50, 50]]})
    with pytest.raises(ValueError, match="non-finite"):
        evaluate_face_ap({"a": [[0, 0, 40, np.nan, 0.5]]}, {"a": [[0, 0, 50, 50]]})
    with pytest.raises(ValueError, match="shape"):
        evaluate_face_ap({"a": [[0, 0, 40, 40]]}, {"a": [[0, 0, 50, 50]]})
    with pytest.raises(ValueError, match="calibration_iterations"):
        evaluate_face_ap({}, {}, calibration_iterations=0)
    with pytest.warns(UserWarning, match="not in the annotations"):
        r = evaluate_face_ap({"b": [[0, 0, 50, 50, 0.5]]}, {"a": [[0, 0, 50, 50]]})
    assert r.ap == 0.0


def test_face_eval_detection_files(tmp_path):
    f = tmp_path / "d.txt"
    dets = {
        "img1": np.array([[10.5, 20, 110, 120, 0.75], [0, 0, 40, 40, 0.5]]),
        "img2": np.array([[1, 2, 3, 4, 1e-7]]),
    }
    write_face_eval_detections(f, dets)
    back = read_face_eval_detections(f)
    assert back.keys() == dets.keys()
    for k in dets:
        np.testing.assert_array_equal(back[k], dets[k])
    f.write_text("img1.jpg 0.9 1 2 3 4\nimg1.jpg 0.9 1 2 3\n")
    with pytest.raises(ValueError, match=rf"^{f}, line 2: "):
        read_face_eval_detections(f)
    f.write_text("img1.jpg 0.9 1 2 3 inf\n")
    with pytest.raises(ValueError, match=r"line 1: .*not finite"):
        read_face_eval_detections(f)


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recall", "precision", "match"),
    [
        ([0.5, 2.0], [1.0, 1.0], r"recall must lie in \[0, 1\]; recall\[1\] is 2.0"),
        ([-0.1, 0.5], [1.0, 1.0], r"recall\[0\]"),
        ([np.nan, 0.5], [1.0, 1.0], r"recall\[0\] is nan"),
        ([0.5, 0.4], [1.0, 1.0], r"recall must not decrease; recall\[1\]"),
        ([0.5, 1.0], [1.5, 1.0], r"precision must lie in \[0, 1\] .or be NaN.; precision\[0\]"),
        ([0.5, 1.0], [1.0, -np.inf], r"precision\[1\]"),
    ],
)
def test_voc_ap_rejects_values_outside_the_unit_interval(recall, precision, match):
    with pytest.raises(ValueError, match=match):
        voc_ap(recall, precision)


def test_voc_ap_summation_orders():
    # NaN precision before the first proposal stays allowed
    assert voc_ap([0.0, 0.5, 1.0], [np.nan, 1.0, 0.5], summation="pairwise") == pytest.approx(0.75)
    with pytest.raises(ValueError, match="summation"):
        voc_ap([1.0], [1.0], summation="kahan")
    # many recall steps: numpy's pairwise sum and the left-to-right sum can differ in the last
    # bit; each mode equals its own order exactly
    rng = np.random.default_rng(3)
    differ = 0
    for _ in range(50):
        rec = np.cumsum(rng.random(200)) / 200.0
        rec /= rec[-1]
        prec = rng.random(200)
        mpre = np.fmax.accumulate(np.concatenate(([0.0], prec, [0.0]))[::-1])[::-1]
        mrec = np.concatenate(([0.0], rec, [1.0]))
        idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
        terms = (mrec[idx] - mrec[idx - 1]) * mpre[idx]
        left = 0.0
        for t in terms.tolist():
            left += t
        assert voc_ap(rec, prec) == left
        assert voc_ap(rec, prec, summation="pairwise") == float(np.sum(terms))
        differ += voc_ap(rec, prec) != voc_ap(rec, prec, summation="pairwise")
    assert differ > 0


@pytest.mark.parametrize("value", [-1, 0, 1.5, np.nan, np.inf, True, None, "x"])
def test_face_ap_rejects_bad_iou_thresholds(value):
    ann, det = {"a": [[0, 0, 50, 50]]}, {"a": [[0, 0, 50, 50, 0.9]]}
    with pytest.raises(ValueError, match="iou_threshold"):
        evaluate_face_ap(det, ann, iou_threshold=value)


def test_face_ap_other_argument_checks():
    ann, det = {"a": [[0, 0, 50, 50]]}, {"a": [[0, 0, 50, 50, 0.9]]}
    for value in (-1, np.nan, np.inf, True, "x"):
        with pytest.raises(ValueError, match="min_size"):
            evaluate_face_ap(det, ann, min_size=value)
    for value in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="calibration_iterations"):
            evaluate_face_ap(det, ann, calibration_iterations=value)
    assert evaluate_face_ap(det, ann, iou_threshold=1.0).ap == 0.0  # IoU must exceed 1: never
    # every face ignored: recall is 0 / 0 and the AP NaN, as the toolbox computes
    r = evaluate_face_ap(det, {"a": [[0, 0, 10, 10]]}, calibration_iterations=1)
    assert r.num_faces == 0 and np.isnan(r.ap)
