"""The official WIDER FACE protocol: exact against a plain reference on the real ground truth,
and each official rule (and each of our choices) pinned by a hand-built case."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from reference.widerface_eval import (
    evaluate_reference,
    load_gt_reference,
    preds_to_cells,
    read_pred_reference,
    synthetic_predictions,
)

from hambox_core.evaluation import widerface as W
from hambox_core.evaluation.cli import main as cli_main
from hambox_core.evaluation.widerface_truth import ATTRIBUTES

GT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "widerface_val_gt"
HAVE_GT = (GT_DIR / "wider_face_val.mat").is_file() and all(
    (GT_DIR / f"wider_{s}_val.mat").is_file() for s in W.SETTINGS
)
needs_gt = pytest.mark.skipif(not HAVE_GT, reason=f"official ground truth not found at {GT_DIR}")


@pytest.fixture(scope="module")
def real_gt():
    return W.load_ground_truth(GT_DIR)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", W.MissingPredictionWarning)
        return fn(*args, **kwargs)


def _assert_matches_reference(curves, ref_gt, cells, semantics="official"):
    for s in W.SETTINGS:
        ap, pr, org = evaluate_reference(cells, ref_gt, s, semantics=semantics)
        c = curves[s]
        assert c.semantics == semantics
        # integer counts and the curves are compared exactly; the AP too: the same operations
        # in the same order (VOCap's sum left to right for the official semantics, numpy's
        # pairwise sum as the Python ports for "float")
        np.testing.assert_array_equal(c.proposals, org[:, 0].astype(np.int64))
        np.testing.assert_array_equal(c.true_positives, org[:, 1].astype(np.int64))
        np.testing.assert_array_equal(c.precision, pr[:, 0])
        np.testing.assert_array_equal(c.recall, pr[:, 1])
        assert c.ap == ap


# --------------------------------------------------------------------------------------------
# the real ground truth
# --------------------------------------------------------------------------------------------


@needs_gt
def test_real_ground_truth_counts(real_gt):
    # every attribute label list of wider_face_val.mat is loaded, one label per face
    assert sorted(real_gt.attributes) == sorted(ATTRIBUTES)
    assert np.bincount(real_gt.attributes["blur"]).tolist() == [5686, 10381, 23641]
    assert np.bincount(real_gt.attributes["occlusion"]).tolist() == [23812, 7185, 8711]
    assert np.bincount(real_gt.attributes["invalid"]).tolist() == [39123, 585]
    assert len(real_gt) == 3226
    assert real_gt.boxes.shape == (39708, 4)
    assert len(real_gt.events) == 61
    assert {s: real_gt.num_faces(s) for s in W.SETTINGS} == {
        "easy": 7211,
        "medium": 13319,
        "hard": 31958,
    }
    assert real_gt.keys()[0] == ("0--Parade", "0_Parade_marchingband_1_465")
    # the official data holds degenerate boxes; they are kept, as the MATLAB tool keeps them
    assert (real_gt.boxes[:, 2] < 0).sum() == 1


# Each scenario uses other events of the real ground truth (kept small: the reference loops
# over 1000 thresholds per image in Python).
# 39--Ice_Skating holds the official negative-width face, 50--Celebration_Or_Party and
# 37--Soccer an image whose only "face" is the 0 0 0 0 dummy, 7--Cheering zero-width faces.
SCENARIOS = [
    pytest.param([33], dict(seed=1, score_mode="unit"), "official", id="unit-scores"),
    pytest.param([33], dict(seed=1, score_mode="unit"), "float", id="unit-scores-float"),
    pytest.param([1, 46], dict(seed=2, score_mode="logit"), "official", id="scores-outside-0-1"),
    pytest.param(
        [6, 58], dict(seed=3, score_mode="unit", decimals=3), "official", id="rounded-scores"
    ),
    pytest.param(
        [7, 20, 31], dict(seed=4, score_mode="negative"), "official", id="all-scores-negative"
    ),
    pytest.param(
        [7, 20, 31], dict(seed=4, score_mode="negative"), "float", id="all-scores-negative-float"
    ),
]


@needs_gt
@pytest.mark.parametrize(("events", "kwargs", "semantics"), SCENARIOS)
def test_matches_plain_reference_on_real_gt(real_gt, events, kwargs, semantics):
    sub = real_gt.subset(events)
    ref_gt = load_gt_reference(GT_DIR, events=events)
    assert sub.keys() == [
        (e, n) for e, fl in zip(ref_gt["event_list"], ref_gt["file_list"], strict=True) for n in fl
    ]
    preds = synthetic_predictions(sub, per_image=25, drop_images=0.05, **kwargs)
    curves = _quiet(W.pr_curves, preds, sub, semantics=semantics)
    _assert_matches_reference(curves, ref_gt, preds_to_cells(preds, ref_gt), semantics)


@needs_gt
def test_prediction_folder_matches_reference(real_gt, tmp_path):
    """Files written by hand the way detectors write them: trailing spaces, CRLF, extra
    columns, unsorted rows, and some files missing."""
    events = [15, 27]
    sub = real_gt.subset(events)
    ref_gt = load_gt_reference(GT_DIR, events=events)
    preds = synthetic_predictions(sub, seed=5, per_image=20, decimals=4)
    rng = np.random.default_rng(0)
    written = 0
    for k, (event, stem) in enumerate(preds):
        if rng.random() < 0.05:
            continue  # missing file
        arr = np.round(preds[(event, stem)], 2)
        preds[(event, stem)] = arr
        eol = "\r\n" if k % 3 == 0 else "\n"
        extra = " 0 1" if k % 4 == 0 else ""
        rows = "".join(f"{x} {y} {w} {h} {s}{extra} {eol}" for x, y, w, h, s in arr.tolist())
        (tmp_path / event).mkdir(exist_ok=True)
        (tmp_path / event / f"{stem}.txt").write_text(
            f"{event}/{stem}.jpg{eol}{arr.shape[0]}{eol}{rows}", encoding="utf-8"
        )
        written += 1
    assert 0 < written < len(sub)
    with pytest.warns(W.MissingPredictionWarning, match=f"{len(sub) - written} of {len(sub)}"):
        curves = W.pr_curves(tmp_path, sub)
    _assert_matches_reference(curves, ref_gt, read_pred_reference(tmp_path, ref_gt))


# --------------------------------------------------------------------------------------------
# hand-built cases, one official rule each
# --------------------------------------------------------------------------------------------


def _gt(boxes, keep, key=("0--Parade", "img")):
    return W.WiderGroundTruth.from_images([key], [boxes], {"hard": [keep]})


def test_iou_uses_plus_one_pixels_and_matches_at_exactly_half():
    # face 0 0 9 9 covers 10 x 10 "+1" pixels; a 10 x 5 detection overlaps it by exactly 0.5
    gt = _gt([[0, 0, 9, 9]], [True])
    far = [100, 100, 5, 5, 0.0]  # a second score, so that normalisation is defined
    at_half = W.pr_curves({("0--Parade", "img"): [[0, 0, 9, 4, 1.0], far]}, gt)["hard"]
    assert at_half.true_positives[-1] == 1
    # one pixel row less: 40 / 100 < 0.5 (without "+1" the first would be 36 / 81 < 0.5 too)
    below = W.pr_curves({("0--Parade", "img"): [[0, 0, 9, 3, 1.0], far]}, gt)["hard"]
    assert below.true_positives[-1] == 0


def test_detections_are_sorted_per_image():
    # the low-score duplicate comes first in the file; unsorted processing (a bug of some
    # ports) would let it claim the face and make the high-score detection a false positive
    gt = _gt([[10, 10, 50, 50], [200, 200, 50, 50]], [True, True])
    rows = [[12, 10, 50, 50, 0.2], [10, 10, 50, 50, 0.9], [500, 500, 20, 20, 0.1]]
    c = W.pr_curves({("0--Parade", "img"): rows}, gt)["hard"]
    shuffled = W.pr_curves({("0--Parade", "img"): rows[::-1]}, gt)["hard"]
    np.testing.assert_array_equal(c.proposals, shuffled.proposals)
    np.testing.assert_array_equal(c.true_positives, shuffled.true_positives)
    # normalised scores: 0.9 -> 1, 0.2 -> 0.125, 0.1 -> 0
    assert c.precision[0] == 1.0 and c.true_positives[0] == 1
    assert c.proposals[-1] == 3 and c.true_positives[-1] == 1


def test_detection_on_ignored_face_is_not_a_proposal():
    gt = _gt([[10, 10, 50, 50], [200, 200, 50, 50]], [True, False])
    c = W.pr_curves(
        {
            ("0--Parade", "img"): [
                [200, 200, 50, 50, 0.9],
                [10, 10, 50, 50, 0.5],
                [0, 300, 10, 10, 0.1],
            ]
        },
        gt,
    )["hard"]
    assert c.num_faces == 1
    assert c.proposals[-1] == 2  # the detection on the ignored face does not count
    assert c.true_positives[-1] == 1
    # a second detection on an already recalled kept face is a false positive
    c2 = W.pr_curves({("0--Parade", "img"): [[10, 10, 50, 50, 0.9], [11, 10, 50, 50, 0.5]]}, gt)[
        "hard"
    ]
    assert (c2.proposals[-1], c2.true_positives[-1]) == (2, 1)


def test_first_face_wins_an_iou_tie():
    # two identical kept faces: the detection matches the first; a second detection then
    # matches the first again (already recalled) and is a false positive, as in MATLAB
    gt = _gt([[10, 10, 50, 50], [10, 10, 50, 50]], [True, True])
    c = W.pr_curves({("0--Parade", "img"): [[10, 10, 50, 50, 0.9], [10, 10, 50, 50, 0.8]]}, gt)[
        "hard"
    ]
    assert (c.proposals[-1], c.true_positives[-1]) == (2, 1)
    # if the first face is ignored, the tie still goes to it: no proposal, no recall
    gt2 = _gt([[10, 10, 50, 50], [10, 10, 50, 50]], [False, True])
    c2 = W.pr_curves({("0--Parade", "img"): [[10, 10, 50, 50, 0.9], [300, 300, 5, 5, 0.1]]}, gt2)[
        "hard"
    ]
    assert (c2.proposals[-1], c2.true_positives[-1]) == (1, 0)


def test_images_without_faces_are_skipped():
    gt = W.WiderGroundTruth.from_images(
        [("e", "a"), ("e", "empty")],
        [[[10, 10, 50, 50]], np.zeros((0, 4))],
        {"hard": [[True], []]},
    )
    preds = {("e", "a"): [[10, 10, 50, 50, 0.5]], ("e", "empty"): [[0, 0, 30, 30, 0.9]] * 3}
    c = W.pr_curves(preds, gt)["hard"]
    assert (c.proposals[-1], c.true_positives[-1]) == (1, 1)
    assert c.ap == 1.0


def test_one_global_normalisation_over_all_images():
    # image b holds the extreme scores; image a's detection (a quarter of the range) only
    # counts from threshold 0.25 down (index 749), though it is its image's best
    gt = W.WiderGroundTruth.from_images(
        [("e", "a"), ("e", "b")],
        [[[10, 10, 50, 50]], [[10, 10, 50, 50]]],
        {"hard": [[True], [True]]},
    )
    preds = {
        ("e", "a"): [[10, 10, 50, 50, 0.0]],
        ("e", "b"): [[400, 400, 50, 50, 1.5], [0, 0, 1, 1, -0.5]],
    }
    c = W.pr_curves(preds, gt)["hard"]
    assert c.thresholds[749] == 0.25
    assert c.true_positives[748] == 0
    assert c.true_positives[749] == 1


def test_negative_scores_use_realmin_as_maximum():
    # all scores negative: MATLAB's max starts at realmin('single') > 0, so the best
    # detection normalises to 0.5 / (1 + 2**-126) = 0.5, not to 1
    gt = _gt([[10, 10, 50, 50], [200, 200, 50, 50]], [True, True])
    c = W.pr_curves({("0--Parade", "img"): [[10, 10, 50, 50, -0.5], [200, 200, 50, 50, -1.0]]}, gt)[
        "hard"
    ]
    above = c.thresholds > 0.5
    assert c.proposals[above].max() == 0
    assert c.proposals[np.flatnonzero(~above)[0]] == 1
    assert c.proposals[-1] == 2


def test_scores_are_normalised_in_single_precision():
    # the official normalised scores are float32: a score that equals a threshold in float64
    # but rounds below it in float32 counts one threshold later
    thr = W._thresholds(1000)
    t = next(k for k in range(1, 999) if float(np.float32(thr[k])) < thr[k] and thr[k] > 0.2)
    gt = _gt([[10, 10, 50, 50], [200, 200, 50, 50], [400, 400, 50, 50]], [True] * 3)
    rows = [[10, 10, 50, 50, 1.0], [200, 200, 50, 50, thr[t]], [400, 400, 50, 50, 0.0]]
    c = W.pr_curves({("0--Parade", "img"): rows}, gt)["hard"]
    assert c.proposals[t] == 1  # float64 normalisation would give 2
    assert c.proposals[t + 1] == 2


def test_missing_predictions_warn_and_count_as_no_detections():
    gt = W.WiderGroundTruth.from_images(
        [("e", "a"), ("e", "b")],
        [[[10, 10, 50, 50]], [[10, 10, 50, 50]]],
        {"hard": [[True], [True]]},
    )
    with pytest.warns(W.MissingPredictionWarning, match="1 of 2 images"):
        aps = W.evaluate({("e", "a"): [[10, 10, 50, 50, 0.9], [0, 0, 5, 5, 0.1]]}, gt)
    assert aps == {"hard": 0.5}


def test_unknown_prediction_keys_are_ignored_with_a_warning():
    gt = _gt([[10, 10, 50, 50]], [True])
    preds = {
        ("0--Parade", "img"): [[10, 10, 50, 50, 0.9], [0, 0, 5, 5, 0.1]],
        ("0--Parade", "img.jpg"): [[0, 0, 5, 5, 0.5]],
    }
    with pytest.warns(UserWarning, match="no ground-truth image"):
        assert W.evaluate(preds, gt) == {"hard": 1.0}


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([[1, 2, 3, 4, np.nan]], "non-finite"),
        ([[1, 2, np.inf, 4, 0.5]], "non-finite"),
        ([[1, 2, 3, 4]], r"shape \(N, 5\)"),
        ([[1, 2, 3, 4, 1e39]], "single precision"),
        (np.array([["a", "b", "c", "d", "e"]]), "real numbers"),
    ],
)
def test_bad_prediction_arrays_raise(rows, match):
    gt = _gt([[10, 10, 50, 50]], [True])
    with pytest.raises(ValueError, match=match):
        W.evaluate({("0--Parade", "img"): rows}, gt)


def test_no_predictions_at_all_gives_zero_ap():
    gt = _gt([[10, 10, 50, 50]], [True])
    with pytest.warns(W.MissingPredictionWarning):
        assert W.evaluate({}, gt) == {"hard": 0.0}
    assert W.evaluate({("0--Parade", "img"): np.zeros((0, 5))}, gt) == {"hard": 0.0}


# --------------------------------------------------------------------------------------------
# prediction files
# --------------------------------------------------------------------------------------------


def test_prediction_files_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    preds = {
        ("0--Parade", "a"): rng.normal(100, 50, (7, 5)),
        ("0--Parade", "b"): np.zeros((0, 5)),
        ("1--Handshaking", "c"): np.array([[1, 2, 3, 4, 0.5]]),
    }
    W.write_predictions(tmp_path, preds)
    back = W.read_predictions(tmp_path)
    assert back.keys() == preds.keys()
    for k in preds:
        np.testing.assert_array_equal(back[k], preds[k])  # exact, every digit written


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("", 1, "empty"),
        ("name\n", 2, "detection count"),
        ("name\nthree\n", 2, "not an integer"),
        ("name\n-1\n", 2, "negative"),
        ("name\n2\n1 2 3 4 0.5\n", 4, "file ends after 1"),
        ("name\n1\n1 2 3 4 0.5\n5 6 7 8 0.1\n", 4, "more detection rows"),
        ("name\n1\n1 2 3 4\n", 3, "5 values"),
        ("name\n2\n1 2 3 4 0.5\n1 2 x 4 0.5\n", 4, "'x' is not a"),
        ("name\n1\n1 2 3 4 nan\n", 3, "not finite"),
        ("name\n1\n1 2 3 4 inf \n", 3, "not finite"),
    ],
)
def test_malformed_prediction_files_name_file_and_line(tmp_path, text, line, match):
    f = tmp_path / "p.txt"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=match) as err:
        W.read_prediction_file(f)
    assert str(err.value).startswith(f"{f}, line {line}: ")


def test_prediction_file_tolerance(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text(
        "\ufeffimg name with spaces\r\n 2 \r\n1 2 3 4 0.5   \r\n\r\n5 6 7 8 0.25 9 9\r\n\r\n"
    )
    np.testing.assert_array_equal(
        W.read_prediction_file(f), [[1, 2, 3, 4, 0.5], [5, 6, 7, 8, 0.25]]
    )


def test_read_predictions_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        W.read_predictions(tmp_path / "nope")
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "x.txt").write_text("x\n1\n1 2 3\n")
    with pytest.raises(ValueError, match=r"x\.txt, line 3"):
        W.read_predictions(tmp_path)


# --------------------------------------------------------------------------------------------
# ground truth files
# --------------------------------------------------------------------------------------------


def _small_gt():
    return W.WiderGroundTruth.from_images(
        [("0--Parade", "a"), ("0--Parade", "b"), ("1--Handshaking", "c")],
        [[[10, 10, 20, 20], [50, 50, 5, 5]], [[0, 0, 0, 0]], [[1, 2, 30, 40]]],
        {
            "easy": [[True, False], [False], [True]],
            "medium": [[True, False], [False], [True]],
            "hard": [[True, True], [False], [True]],
        },
    )


def test_ground_truth_mat_round_trip(tmp_path):
    gt = _small_gt()
    W.write_ground_truth(tmp_path, gt)
    back = W.load_ground_truth(tmp_path)
    assert back.keys() == gt.keys() and back.events == gt.events
    np.testing.assert_array_equal(back.boxes, gt.boxes)
    for s in W.SETTINGS:
        np.testing.assert_array_equal(back.keep[s], gt.keep[s])
    assert back.attributes == {}
    # and the plain reference reads the same files the same way
    ref = load_gt_reference(tmp_path)
    assert ref["file_list"] == [["a", "b"], ["c"]]
    assert [k.tolist() for k in ref["gt_list"]["hard"][0]] == [[1, 2], []]
    # attribute labels travel too
    labelled = W.WiderGroundTruth.from_images(
        gt.keys(),
        [gt.image_boxes(i) for i in range(len(gt))],
        {
            s: [gt.keep[s][gt.offsets[i] : gt.offsets[i + 1]] for i in range(len(gt))]
            for s in gt.keep
        },
        attributes={"blur": [[2, 0], [1], [0]], "pose": [[0, 1], [0], [1]]},
    )
    W.write_ground_truth(tmp_path / "labelled", labelled)
    back = W.load_ground_truth(tmp_path / "labelled")
    assert sorted(back.attributes) == ["blur", "pose"]
    assert back.attributes["blur"].tolist() == [2, 0, 1, 0]


def test_written_ground_truth_has_the_official_types(tmp_path):
    """face_bbx_list int32 and gt_list uint8 (uint16 beyond 255 faces), as the real files."""
    from scipy.io import loadmat

    many = np.tile([[1, 2, 3, 4]], (300, 1))
    gt = W.WiderGroundTruth.from_images(
        [("0--Parade", "a"), ("0--Parade", "b")],
        [[[10, 10, 20, 20]], many],
        {"hard": [[True], [True] * 300]},
        attributes={"occlusion": [[1], [0] * 300]},
    )
    W.write_ground_truth(tmp_path, gt)
    m = loadmat(tmp_path / "wider_hard_val.mat")
    assert m["face_bbx_list"][0, 0][0, 0].dtype == np.int32
    assert m["gt_list"][0, 0][0, 0].dtype == np.uint8
    assert m["gt_list"][0, 0][1, 0].dtype == np.uint16
    assert m["occlusion_label_list"][0, 0][0, 0].dtype == np.uint8
    with pytest.raises(ValueError, match="not int32-valued"):
        W.write_ground_truth(
            tmp_path / "x",
            W.WiderGroundTruth.from_images([("e", "a")], [[[0.5, 0, 1, 1]]], {"hard": [[True]]}),
        )
    with pytest.raises(ValueError, match="not int32-valued"):
        W.write_ground_truth(
            tmp_path / "x",
            W.WiderGroundTruth.from_images([("e", "a")], [[[2**31, 0, 1, 1]]], {"hard": [[True]]}),
        )


@needs_gt
def test_real_files_have_the_types_we_write():
    from scipy.io import loadmat

    m = loadmat(GT_DIR / "wider_hard_val.mat", variable_names=["face_bbx_list", "gt_list"])
    assert {c.dtype for ev in m["face_bbx_list"][:, 0] for c in ev[:, 0]} == {np.dtype(np.int32)}
    assert {c.dtype for ev in m["gt_list"][:, 0] for c in ev[:, 0]} == {
        np.dtype(np.uint8),
        np.dtype(np.uint16),
    }


def test_non_int32_mat_boxes_warn(tmp_path):
    from scipy.io import savemat

    cells = np.empty((1, 1), dtype=object)
    cells[0, 0] = np.array(["0--Parade"])
    files = np.empty((1, 1), dtype=object)
    files[0, 0] = np.empty((1, 1), dtype=object)
    files[0, 0][0, 0] = np.array(["a"])
    boxes = np.empty((1, 1), dtype=object)
    boxes[0, 0] = np.empty((1, 1), dtype=object)
    boxes[0, 0][0, 0] = np.array([[1.0, 2.0, 3.0, 4.0]])
    savemat(
        tmp_path / "wider_face_val.mat",
        {"event_list": cells, "file_list": files, "face_bbx_list": boxes},
    )
    with pytest.warns(UserWarning, match="double boxes, not int32"):
        gt = W.load_ground_truth(tmp_path, settings=[])
    assert gt.boxes.tolist() == [[1, 2, 3, 4]]


def test_ground_truth_files_are_reproducible(tmp_path):
    """The same ground truth gives the same bytes (scipy's time-stamped header is replaced)."""
    import time

    W.write_ground_truth(tmp_path / "one", _small_gt())
    time.sleep(1.1)  # scipy's header text has one-second resolution
    W.write_ground_truth(tmp_path / "two", _small_gt())
    for path in sorted((tmp_path / "one").glob("*.mat")):
        data = path.read_bytes()
        assert data.startswith(b"MATLAB 5.0 MAT-file, written by hambox")
        assert data == (tmp_path / "two" / path.name).read_bytes(), path.name


def test_ground_truth_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"wider_face_val\.mat"):
        W.load_ground_truth(tmp_path)
    gt = _small_gt()
    W.write_ground_truth(tmp_path, gt)
    other = W.WiderGroundTruth.from_images(
        gt.keys(),
        [gt.image_boxes(i) + (i == 0) for i in range(3)],
        {"hard": [gt.keep["hard"][gt.offsets[i] : gt.offsets[i + 1]] for i in range(3)]},
    )
    W.write_ground_truth(tmp_path / "o", other)
    (tmp_path / "o" / "wider_hard_val.mat").replace(tmp_path / "wider_hard_val.mat")
    with pytest.raises(ValueError, match="boxes of 0--Parade/a differ"):
        W.load_ground_truth(tmp_path)
    with pytest.raises(ValueError, match="unknown setting"):
        W.load_ground_truth(tmp_path, settings=["hardest"])
    (tmp_path / "wider_easy_val.mat").write_bytes(b"not a mat file")
    with pytest.raises(ValueError, match=r"wider_easy_val\.mat"):
        W.load_ground_truth(tmp_path, settings=["easy"])


def test_ground_truth_subset_and_validation():
    gt = _small_gt()
    sub = gt.subset(["1--Handshaking"])
    assert sub.keys() == [("1--Handshaking", "c")] and sub.num_faces("hard") == 1
    assert gt.subset([0]).keys() == gt.keys()[:2]
    with pytest.raises(ValueError, match="unknown event"):
        gt.subset(["nope"])
    with pytest.raises(ValueError, match="duplicate"):
        W.WiderGroundTruth.from_images([("e", "a"), ("e", "a")], [[], []], {})
    with pytest.raises(ValueError, match="keep mask"):
        W.WiderGroundTruth.from_images([("e", "a")], [[[0, 0, 1, 1]]], {"hard": [[]]})
    with pytest.raises(ValueError, match="finite"):
        W.WiderGroundTruth.from_images([("e", "a")], [[[0, 0, np.nan, 1]]], {})


# --------------------------------------------------------------------------------------------
# command line, plots, imports
# --------------------------------------------------------------------------------------------


def test_cli_prints_the_ap_table_and_saves_a_plot(tmp_path, capsys):
    gt = _small_gt()
    W.write_ground_truth(tmp_path / "gt", gt)
    W.write_predictions(
        tmp_path / "pred",
        {
            ("0--Parade", "a"): [[10, 10, 20, 20, 0.9], [80, 80, 9, 9, 0.3]],
            ("1--Handshaking", "c"): [[1, 2, 30, 40, 0.8]],
        },
    )
    png = tmp_path / "pr.png"
    status = cli_main(
        [
            "widerface",
            "--pred",
            str(tmp_path / "pred"),
            "--gt",
            str(tmp_path / "gt"),
            "--plot",
            str(png),
        ]
    )
    out = capsys.readouterr()
    assert status == 0
    assert "easy" in out.out and "1.0000" in out.out
    assert "1 of 3 images have no predictions" in out.err
    assert png.stat().st_size > 1000


def test_cli_reports_bad_input(tmp_path, capsys):
    W.write_ground_truth(tmp_path / "gt", _small_gt())
    (tmp_path / "pred" / "0--Parade").mkdir(parents=True)
    (tmp_path / "pred" / "0--Parade" / "a.txt").write_text("a\n1\n1 2 3 4 nan\n")
    status = cli_main(["widerface", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt")])
    assert status == 2
    assert "a.txt, line 3" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli(tmp_path):
    W.write_ground_truth(tmp_path / "gt", _small_gt())
    W.write_predictions(
        tmp_path / "pred",
        {
            ("0--Parade", "a"): [[10, 10, 20, 20, 0.9]],
            ("0--Parade", "b"): [[0, 0, 1, 1, 0.1]],
            ("1--Handshaking", "c"): [],
        },
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hambox_core.evaluation",
            "widerface",
            "--pred",
            str(tmp_path / "pred"),
            "--gt",
            str(tmp_path / "gt"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()[:2]
    assert first.startswith("semantics: official (")
    assert second.split() == ["setting", "AP", "faces"]


def test_plot_widerface_pr_figure():
    pytest.importorskip("matplotlib")
    from hambox_core.evaluation.plots import plot_widerface_pr

    gt = _small_gt()
    curves = W.pr_curves(
        {
            ("0--Parade", "a"): [[10, 10, 20, 20, 0.9], [0, 0, 3, 3, 0.1]],
            ("0--Parade", "b"): [],
            ("1--Handshaking", "c"): [],
        },
        gt,
    )
    fig = plot_widerface_pr({"ours": curves, "other": curves})
    titles = [ax.get_title() for ax in fig.axes]
    assert [t.split(" (")[0] for t in titles] == ["Easy", "Medium", "Hard"]
    assert all(t.endswith("faces)\nofficial semantics") for t in titles)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == [f"ours-{curves['easy'].ap:.3f}", f"other-{curves['easy'].ap:.3f}"]


def test_plots_explain_missing_matplotlib(monkeypatch):
    from hambox_core.evaluation import plots

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"hambox\[plot\]"):
        plots.plot_widerface_pr({"easy": None})


def test_evaluation_imports_without_matplotlib_or_torch():
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "import hambox_core.evaluation, hambox_core.evaluation.plots, hambox_core.datasets\n"
        "from hambox_core.evaluation import widerface as W\n"
        "gt = W.WiderGroundTruth.from_images([('e', 'a')], [[[0, 0, 9, 9]]], {'hard': [[1]]})\n"
        "print(W.evaluate({('e', 'a'): [[0, 0, 9, 9, 1.0], [50, 50, 9, 9, 0.0]]}, gt))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, second = out.stdout.splitlines()
    assert first == "WiderAP({'hard': 1.0}, semantics='official')"
    assert second == "", f"imported {second}"


def test_each_semantics_adds_the_ap_terms_as_its_tool_does():
    """The official AP sums VOCap's terms left to right (MATLAB's ``sum``), the float one
    pairwise (``np.sum``, the Python ports); on this curve of many recall steps the two sums
    differ in the last bit, so the test tells them apart."""
    from hambox_core.evaluation.ap import voc_ap

    rng = np.random.default_rng(7)
    n = 60
    xy = rng.uniform(0, 400, (n, 2))
    faces = np.concatenate([xy, rng.uniform(10, 40, (n, 2))], axis=1).round()
    gt = W.WiderGroundTruth.from_images([("e", "a")], [faces], {"hard": [np.arange(1, n + 1)]})
    boxes = faces + rng.normal(0, 3, faces.shape) * (rng.random((n, 1)) < 0.5)
    preds = {("e", "a"): np.concatenate([boxes, rng.random((n, 1))], axis=1)}
    for semantics, summation in W.AP_SUMMATION.items():
        curve = W.pr_curves(preds, gt, settings=["hard"], semantics=semantics)["hard"]
        assert curve.ap == voc_ap(curve.recall, curve.precision, summation=summation)
    curve = W.pr_curves(preds, gt, settings=["hard"], semantics="float")["hard"]
    pairwise = voc_ap(curve.recall, curve.precision, summation="pairwise")
    assert pairwise != voc_ap(curve.recall, curve.precision, summation="sequential")
