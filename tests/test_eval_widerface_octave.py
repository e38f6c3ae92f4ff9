"""hambox's default WIDER FACE semantics against the official MATLAB tool itself.

The fixtures in ``tests/fixtures/widerface_octave/`` hold what the official ``eval_tools`` (run
under GNU Octave by ``make_fixtures.py``; see the README there) computed on deterministic
prediction sets (:func:`reference.widerface_eval.prediction_set`) against the real validation
ground truth and against a synthetic ground truth on the int32 edges
(:func:`reference.widerface_eval.edge_ground_truth`). Octave is not needed here.

Tolerance: none. The PR curves (all 1000 precision and recall values, compared by SHA-256 of
their float64 bytes) and the APs are equal to the last bit: precision and recall are the same
IEEE divisions of the same integers, and the AP is ``VOCap``'s sum in the same order.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest
from reference.widerface_eval import (
    PREDICTION_SETS,
    edge_ground_truth,
    prediction_set,
    predictions_fingerprint,
)

from hambox_core.evaluation import widerface as W
from hambox_core.evaluation.widerface_truth import MAT_FILES

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "widerface_octave"
sys.path.insert(0, str(FIXTURES))
from make_fixtures import summarise  # noqa: E402

GT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "widerface_val_gt"
HAVE_GT = all((GT_DIR / MAT_FILES[k]).is_file() for k in ("all", *W.SETTINGS))


def _record(gt_name, kind):
    return json.loads((FIXTURES / f"{gt_name}_{kind}.json").read_text())


@pytest.fixture(scope="module")
def edge_gt(tmp_path_factory):
    d = tmp_path_factory.mktemp("edge_gt")
    W.write_ground_truth(d, edge_ground_truth())
    return W.load_ground_truth(d)


@pytest.fixture(scope="module")
def real_gt():
    if not HAVE_GT:
        pytest.skip(f"official ground truth not found at {GT_DIR}")
    return W.load_ground_truth(GT_DIR)


def _curves(preds, gt, semantics="official"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", W.MissingPredictionWarning)
        warnings.simplefilter("ignore", W.EqualScoresWarning)
        return W.pr_curves(preds, gt, semantics=semantics)


def _check(record, gt, preds):
    assert predictions_fingerprint(preds) == record["fingerprint"], (
        "prediction_set() no longer draws what the official tool ran on (a numpy change?); "
        "regenerate the fixtures: tests/fixtures/widerface_octave/README.md"
    )
    curves = _curves(preds, gt)
    for s, expected in record["settings"].items():
        c = curves[s]
        assert summarise(c.precision, c.recall, c.ap, c.num_faces) == expected, s
    return curves


@pytest.mark.parametrize("kind", PREDICTION_SETS["edge"])
def test_edge_ground_truth_matches_the_official_tool(edge_gt, kind):
    record = _record("edge", kind)
    _check(record, edge_gt, prediction_set(edge_gt, kind, seed=record["seed"]))


def test_the_edge_fixtures_tell_the_semantics_apart(edge_gt):
    """float64 evaluation gives other curves on the edge sets: the fixtures can fail it."""
    differ = 0
    for kind in ("detector", "half", "negative"):
        preds = prediction_set(edge_gt, kind, seed=0)
        curves = _curves(preds, edge_gt, "float")
        for s, expected in _record("edge", kind)["settings"].items():
            c = curves[s]
            differ += summarise(c.precision, c.recall, c.ap, c.num_faces) != expected
    assert differ >= 6


@pytest.mark.slow
@pytest.mark.parametrize("kind", PREDICTION_SETS["real"])
def test_real_ground_truth_matches_the_official_tool(real_gt, kind):
    record = _record("real", kind)
    preds = prediction_set(real_gt, kind, seed=record["seed"])
    _check(record, real_gt, preds)
    official = {s: v["ap"] for s, v in record["settings"].items()}
    floats = {s: c.ap for s, c in _curves(preds, real_gt, "float").items()}
    assert floats != official  # the Python ports' arithmetic is not the official number


@pytest.mark.slow
def test_real_prediction_folder_matches_the_official_tool(real_gt, tmp_path):
    """The same through the files the official tool read (missing and count-0 files)."""
    record = _record("real", "half")
    preds = prediction_set(real_gt, "half", seed=record["seed"])
    W.write_predictions(tmp_path, preds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", W.MissingPredictionWarning)
        curves = W.pr_curves(tmp_path, real_gt)
    for s, expected in record["settings"].items():
        c = curves[s]
        assert summarise(c.precision, c.recall, c.ap, c.num_faces) == expected, s
