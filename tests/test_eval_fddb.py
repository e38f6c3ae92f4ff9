"""FDDB ROC curves against a plain per-pixel, exhaustive-matching, merge-walking reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference.fddb_eval import fddb_reference

from hambox_core.evaluation import fddb as F

# --------------------------------------------------------------------------------------------
# rasterisation
# --------------------------------------------------------------------------------------------


def test_rectangle_covers_rounded_corners_inclusive():
    x0, y0, m = F.rectangle_region(10.0, 20.0, 5.0, 3.0)
    assert (x0, y0, m.shape) == (10, 20, (4, 6))  # pixels 10..15 x 20..23
    # cvRound rounds half to even: 0.5 -> 0, 2.5 -> 2, 3.5 -> 4
    x0, y0, m = F.rectangle_region(0.5, 2.5, 3.0, 1.0)
    assert (x0, y0, m.shape) == (0, 2, (3, 5))  # x 0..4 (3.5 -> 4), y 2..4 (3.5 -> 4)
    # clipped to the image, None when outside
    x0, y0, m = F.rectangle_region(-5, -5, 10, 10, image_hw=(3, 4))
    assert (x0, y0, m.shape) == (0, 0, (3, 4))
    assert F.rectangle_region(50, 50, 5, 5, image_hw=(40, 40)) is None


def test_ellipse_shape_orientation_and_area():
    # angle 0: major axis along x
    x0, y0, m = F.ellipse_region(30, 10, 0.0, 100, 100)
    assert m.shape[1] > m.shape[0]
    assert m.sum() == pytest.approx(math.pi * 30 * 10, rel=0.03)
    # angle pi/2: the same ellipse turned by 90 degrees (exactly, thanks to the right-angle
    # table), so its mask is the transpose
    _, _, m90 = F.ellipse_region(30, 10, math.pi / 2, 100, 100)
    np.testing.assert_array_equal(m90, m.T)
    # centre rounded (cvRound of float32), axes truncated
    x0, y0, m = F.ellipse_region(2.9, 1.9, 0.0, 5.5, 4.5)
    assert (x0, y0) == (4, 3)  # centre (6, 4), half-extent (2, 1)
    np.testing.assert_array_equal(
        m.astype(int), [[0, 0, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 0, 0]]
    )
    # clipping
    x0, y0, m = F.ellipse_region(20, 20, 0.0, 0, 0, image_hw=(10, 10))
    assert (x0, y0) == (0, 0) and m.shape == (10, 10) and m.all()
    assert F.ellipse_region(5, 5, 0.0, 100, 100, image_hw=(10, 10)) is None


# --------------------------------------------------------------------------------------------
# against the reference
# --------------------------------------------------------------------------------------------


@st.composite
def fddb_case(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_img = draw(st.integers(1, 3))
    annotations, detections, sizes = {}, {}, {}
    for i in range(n_img):
        hw = (int(rng.integers(24, 40)), int(rng.integers(24, 40)))
        name = f"2002/08/11/big/img_{i}"
        sizes[name] = hw
        ells = []
        for _ in range(draw(st.integers(0, 3))):
            ra = rng.uniform(3, 12)
            ells.append(
                [
                    ra,
                    ra * rng.uniform(0.6, 1.0),
                    rng.uniform(-math.pi, math.pi),
                    rng.uniform(0, hw[1]),
                    rng.uniform(0, hw[0]),
                ]
            )
        annotations[name] = np.array(ells).reshape(-1, 5)
        if draw(st.integers(0, 5)) == 0:
            continue  # no detections for this image
        dets = []
        for ra, rb, _, cx, cy in ells:
            if rng.random() < 0.8:
                w, h = 2 * rb * rng.uniform(0.7, 1.3), 2 * ra * rng.uniform(0.7, 1.3)
                dets.append(
                    [
                        cx - w / 2 + rng.normal(0, 1.5),
                        cy - h / 2 + rng.normal(0, 1.5),
                        w,
                        h,
                        rng.random(),
                    ]
                )
        for _ in range(draw(st.integers(0, 3))):
            s = rng.uniform(2, 15)
            dets.append([rng.uniform(-5, hw[1]), rng.uniform(-5, hw[0]), s, s, rng.random()])
        det = np.array(dets).reshape(-1, 5)
        if draw(st.booleans()):
            det[:, 4] = np.round(det[:, 4], 1)  # shared scores within and across images
        detections[name] = det[:5]
    return detections, annotations, sizes


@settings(max_examples=30)
@given(fddb_case())
def test_matches_reference(case):
    detections, annotations, sizes = case
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # images without detections
        r = F.evaluate(detections, annotations, sizes)
    rows = fddb_reference(detections, annotations, sizes)
    total = sum(len(a) for a in annotations.values())
    assert r.discrete.num_faces == total
    assert all(row[1] == total for row in rows)
    np.testing.assert_array_equal(r.discrete.thresholds, [row[0] for row in rows])
    np.testing.assert_array_equal(r.discrete.true_positives, [row[2] for row in rows])
    np.testing.assert_array_equal(r.discrete.false_positives, [row[4] for row in rows])
    np.testing.assert_allclose(
        r.continuous.true_positives, [row[3] for row in rows], rtol=0, atol=1e-9
    )
    np.testing.assert_array_equal(r.continuous.false_positives, r.discrete.false_positives)


def test_hand_case_discrete_continuous_and_tpr_at():
    ann = {"a": [[20.0, 15.0, math.pi / 2, 50.0, 50.0]], "b": [[10.0, 8.0, math.pi / 2, 20, 20]]}
    det = {
        "a": [[36, 31, 28, 38, 0.9], [0, 0, 10, 10, 0.5]],
        # a loose box: matched (ratio > 0) but below 0.5, so continuous only
        "b": [[8, 8, 28, 28, 0.7]],
    }
    r = F.evaluate(det, ann, {"a": (100, 100), "b": (60, 60)})
    assert r.discrete.thresholds.tolist() == [0.9, 0.7, 0.5]
    assert r.discrete.true_positives.tolist() == [1, 1, 1]
    assert r.discrete.false_positives.tolist() == [0, 1, 2]
    cont = r.continuous.true_positives
    assert cont[0] > 0.5 and 0 < cont[1] - cont[0] < 0.5 and cont[2] == cont[1]
    assert r.discrete.tpr.tolist() == [0.5, 0.5, 0.5]
    assert r.discrete.tpr_at(0) == 0.5 and r.discrete.tpr_at(1000) == 0.5
    assert F.ROC("discrete", np.array([1.0]), np.array([1.0]), np.array([5]), 2).tpr_at(4) == 0


def test_maximum_weight_matching_not_greedy():
    # two faces side by side and a detection covering the first well and the second a bit,
    # plus a detection on the second: greedy-by-detection would work here too, but a single
    # wide detection between two faces must go to the face it overlaps most while the other
    # detection keeps its face
    ann = {"a": [[10.0, 10.0, 0.0, 20.0, 20.0], [10.0, 10.0, 0.0, 42.0, 20.0]]}
    det = {"a": [[9, 9, 23, 23, 0.9], [31, 9, 23, 23, 0.8]]}
    r = F.evaluate(det, ann, {"a": (60, 80)})
    assert r.discrete.true_positives.tolist() == [1, 2]


def test_missing_and_unknown_images_warn():
    ann = {"a": [[10.0, 10.0, 0.0, 20.0, 20.0]], "b": [[10.0, 10.0, 0.0, 20.0, 20.0]]}
    with pytest.warns(UserWarning, match="1 of 2 images have no detections"):
        r = F.evaluate({"a": [[10, 10, 20, 20, 0.5]]}, ann)
    assert r.discrete.num_faces == 2
    with pytest.warns(UserWarning, match="not in the annotations are ignored"):
        F.evaluate({"a": [], "b": [], "zzz": [[0, 0, 1, 1, 0.5]]}, ann)


def test_no_image_sizes_means_no_clipping():
    ann = {"a": [[10.0, 10.0, 0.0, 5.0, 5.0]]}
    det = {"a": [[-5, -5, 20, 20, 0.9]]}
    clipped = F.evaluate(det, ann, {"a": (15, 15)}).continuous.true_positives[0]
    free = F.evaluate(det, ann).continuous.true_positives[0]
    assert clipped > free  # outside the image both regions lose pixels, the box relatively more


def test_input_checks():
    with pytest.raises(ValueError, match="no image size"):
        F.evaluate({"a": [[0, 0, 5, 5, 1]]}, {"a": [[5, 5, 0, 5, 5]]}, {})
    with pytest.raises(ValueError, match="radii"):
        F.evaluate({"a": []}, {"a": [[-5, 5, 0, 5, 5]]})
    with pytest.raises(ValueError, match="non-finite"):
        F.evaluate({"a": [[0, 0, 5, np.nan, 1]]}, {"a": [[5, 5, 0, 5, 5]]})
    with pytest.raises(ValueError, match=r"shape \(N, 5\)"):
        F.evaluate({"a": [[0, 0, 5, 1]]}, {"a": [[5, 5, 0, 5, 5]]})


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


def test_detection_files_round_trip_and_errors(tmp_path):
    dets = {
        "2002/08/11/big/img_591": np.array([[1.5, 2, 30, 40, 0.123456789]]),
        "2002/08/26/big/img_265": np.zeros((0, 5)),
    }
    f = tmp_path / "out.txt"
    F.write_detections(f, dets)
    back = F.read_detections(f)
    assert back.keys() == dets.keys()
    for k in dets:
        np.testing.assert_array_equal(back[k], dets[k])
    for text, line, match in [
        ("a\n2\n1 2 3 4 0.5\n", 4, "file ends"),
        ("a\n1\n1 2 3 4\n", 3, "x y w h score"),
        ("a\n1\n1 2 3 4 0.5\na\n0\n", 4, "already listed"),
        ("a b\n1\n", 1, "one token"),
    ]:
        f.write_text(text)
        with pytest.raises(ValueError, match=match) as err:
            F.read_detections(f)
        assert str(err.value).startswith(f"{f}, line {line}: ")


def test_write_roc_like_the_original(tmp_path):
    roc = F.ROC("discrete", np.array([0.9, 0.5]), np.array([1.0, 2.0]), np.array([0, 3]), 4)
    F.write_roc(tmp_path / "DiscROC.txt", roc)
    assert (tmp_path / "DiscROC.txt").read_text() == "0.5 3 0.5\n0.25 0 0.9\n"


def test_plot_fddb_roc():
    pytest.importorskip("matplotlib")
    from hambox_core.evaluation.plots import plot_fddb_roc

    ann = {"a": [[20.0, 15.0, math.pi / 2, 50.0, 50.0]]}
    r = F.evaluate({"a": [[36, 31, 28, 38, 0.9], [0, 0, 10, 10, 0.5]]}, ann)
    fig = plot_fddb_roc({"ours": r})
    assert fig.axes[0].get_xlabel() == "False positives"
    with pytest.raises(ValueError, match="kind"):
        plot_fddb_roc({"ours": r}, kind="both")
