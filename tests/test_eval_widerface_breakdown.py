"""AP per WIDER FACE attribute value and per face size: each row is the official evaluation of a
setting with the keep list narrowed to the row's faces (the others ignored)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from reference.widerface_eval import (
    edge_ground_truth,
    evaluate_reference,
    gt_to_cells,
    prediction_set,
    preds_to_cells,
)

from hambox_core.evaluation import widerface as W
from hambox_core.evaluation.cli import main as cli_main
from hambox_core.evaluation.widerface_breakdown import (
    SIZE_BINS,
    breakdown,
    breakdown_matched,
    write_breakdown,
)
from hambox_core.evaluation.widerface_truth import ATTRIBUTES

GT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "widerface_val_gt"
HAVE_GT = (GT_DIR / "wider_face_val.mat").is_file()


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", W.MissingPredictionWarning)
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def edge():
    gt = edge_ground_truth()
    return gt, prediction_set(gt, "detector", seed=3)


def _narrowed(gt, subset):
    """The same ground truth with every keep list narrowed to ``subset`` (plain rebuild)."""
    per_image = range(len(gt))
    return W.WiderGroundTruth.from_images(
        gt.keys(),
        [gt.image_boxes(i) for i in per_image],
        {
            s: [(k & subset)[gt.offsets[i] : gt.offsets[i + 1]] for i in per_image]
            for s, k in gt.keep.items()
        },
        events=gt.events,
    )


@pytest.mark.parametrize("semantics", ["official", "float"])
def test_each_row_is_the_official_evaluation_of_its_narrowed_keep_list(edge, semantics):
    gt, preds = edge
    result = _quiet(breakdown, preds, gt, semantics=semantics, size_bins=(0, 15, 30, math.inf))
    assert result.semantics == semantics
    assert [r.group for r in result.rows][:1] == ["all"]
    for r in result.rows:
        if r.group == "all":
            subset = np.ones(gt.boxes.shape[0], bool)
        elif r.group == "size":
            lo, hi = {"0-15": (0, 15), "15-30": (15, 30), ">=30": (30, math.inf)}[r.value]
            subset = (gt.boxes[:, 3] >= lo) & (gt.boxes[:, 3] < hi)
        else:
            subset = gt.attributes[r.group] == ATTRIBUTES[r.group].index(r.value)
        expected = _quiet(W.pr_curves, preds, _narrowed(gt, subset), semantics=semantics)
        for s, c in r.curves.items():
            e = expected[s]
            np.testing.assert_array_equal(c.proposals, e.proposals)
            np.testing.assert_array_equal(c.true_positives, e.true_positives)
            assert c.num_faces == e.num_faces
            assert (math.isnan(c.ap) and math.isnan(e.ap)) or c.ap == e.ap
            assert c.semantics == semantics


def test_a_row_against_the_plain_reference(edge):
    gt, preds = edge
    result = _quiet(breakdown, preds, gt, attributes=["blur"], size_bins=())
    row = next(r for r in result.rows if r.value == "heavy")
    narrowed = _narrowed(gt, gt.attributes["blur"] == 2)
    cells = gt_to_cells(narrowed)
    for s in gt.settings:
        ap, _, org = evaluate_reference(preds_to_cells(preds, cells), cells, s)
        np.testing.assert_array_equal(row.curves[s].proposals, org[:, 0].astype(np.int64))
        assert row.curves[s].ap == ap


def test_rows_of_a_group_partition_the_faces(edge):
    gt, preds = edge
    result = _quiet(breakdown, preds, gt)
    groups = result.groups()
    assert list(groups) == ["all", "blur", "occlusion", "pose", "size"]
    for name, rows in groups.items():
        if name in ("all", "size"):
            continue
        for s in gt.settings:
            assert sum(r.num_faces[s] for r in rows) == gt.num_faces(s)
    # sizes: every face with h >= 0 is in one bin (the edge ground truth holds negative heights)
    for s in gt.settings:
        kept = gt.keep[s] & (gt.boxes[:, 3] >= 0)
        assert sum(r.num_faces[s] for r in groups["size"]) == int(kept.sum())


def test_breakdown_matched_reuses_one_matching(edge):
    gt, preds = edge
    matched = _quiet(W.match_detections, preds, gt)
    a = breakdown_matched(matched)
    b = _quiet(breakdown, preds, gt)
    assert a.to_dict() == b.to_dict()


def test_empty_rows_json_and_table(edge):
    gt, preds = edge
    result = _quiet(breakdown, preds, gt, size_bins=(100, 200))  # no face is that tall
    empty = [r for r in result.rows if r.num_faces["easy"] == 0]
    assert empty and all(math.isnan(r.ap["easy"]) for r in empty)
    d = json.loads(json.dumps(result.to_dict(curves=True), allow_nan=False))
    assert d["metadata"]["semantics"] == "official"
    assert "ignored" in d["metadata"]["breakdown_base"]
    assert d["rows"][0]["group"] == "all" and len(d["thresholds"]) == 1000
    row = d["rows"][1]["curves"]["hard"]
    assert len(row["proposals"]) == len(row["true_positives"]) == 1000
    table = result.table().splitlines()
    assert table[0].split()[:2] == ["group", "value"]
    assert any(" - " in line for line in table)


def test_ground_truth_without_labels_gives_sizes_only():
    gt = W.WiderGroundTruth.from_images(
        [("e", "a")], [[[10, 10, 20, 20], [100, 100, 60, 60]]], {"hard": [[True, True]]}
    )
    preds = {("e", "a"): [[10, 10, 20, 20, 0.9], [400, 400, 9, 9, 0.1]]}
    result = breakdown(preds, gt)
    assert list(result.groups()) == ["all", "size"]
    assert len(result.groups()["size"]) == len(SIZE_BINS) - 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"attributes": ["pose", "age"]}, "no 'age' labels"),
        ({"size_bins": (10, 5)}, "increase strictly"),
        ({"size_bins": (10,)}, "at least two edges"),
        ({"size_bins": (0, math.nan)}, "no NaN"),
        ({"settings": ["hardest"]}, "no keep list for 'hardest'"),
        ({"semantics": "exact"}, "semantics must be one of"),
    ],
)
def test_bad_breakdown_arguments(edge, kwargs, match):
    gt, preds = edge
    with pytest.raises(ValueError, match=match):
        _quiet(breakdown, preds, gt, **kwargs)


def test_write_breakdown_and_figures(edge, tmp_path):
    pytest.importorskip("matplotlib")
    from hambox_core.evaluation.plots import plot_widerface_breakdown

    gt, preds = edge
    result = _quiet(breakdown, preds, gt)
    written = write_breakdown(tmp_path / "bd", result, name="ours")
    assert [p.name for p in written] == [
        "breakdown.json",
        "breakdown_blur.png",
        "breakdown_occlusion.png",
        "breakdown_pose.png",
        "breakdown_size.png",
    ]
    assert json.loads(written[0].read_text())["rows"][0]["ap"]["hard"] == result.rows[0].ap["hard"]
    fig = plot_widerface_breakdown(result, "blur", name="ours")
    assert fig._suptitle.get_text() == "ours: AP by blur (official semantics)"
    first = fig.axes[0]
    labels = [t.get_text() for t in first.get_legend().get_texts()]
    assert sorted(labels) == sorted(
        f"blur={r.value}-{r.curves['easy'].ap:.3f}"
        for r in result.groups()["blur"]
        if r.num_faces["easy"]
    )
    # one colour per value in every panel
    colours = [{ln.get_label().split("-")[0]: ln.get_color() for ln in ax.lines} for ax in fig.axes]
    for c in colours[1:]:
        assert all(colours[0][k] == v for k, v in c.items() if k in colours[0])
    with pytest.raises(ValueError, match="no group 'age'"):
        plot_widerface_breakdown(result, "age")


def test_cli_breakdown_json_and_semantics(edge, tmp_path, capsys):
    gt, preds = edge
    W.write_ground_truth(tmp_path / "gt", gt)
    W.write_predictions(tmp_path / "pred", preds)
    args = ["widerface", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt")]
    status = cli_main(
        [*args, "--breakdown", str(tmp_path / "bd"), "--json", str(tmp_path / "a.json")]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("semantics: official (")
    assert "occlusion     heavy" in out
    meta = json.loads((tmp_path / "a.json").read_text())
    official = _quiet(W.evaluate, preds, gt)
    assert meta["semantics"] == "official" and meta["ap"] == dict(official)
    assert (tmp_path / "bd" / "breakdown.json").is_file()
    status = cli_main([*args, "--semantics", "float", "--json", str(tmp_path / "f.json")])
    assert status == 0 and capsys.readouterr().out.startswith("semantics: float (")
    floats = json.loads((tmp_path / "f.json").read_text())
    assert floats["semantics"] == "float"
    assert floats["ap"] == dict(_quiet(W.evaluate, preds, gt, semantics="float"))


@pytest.mark.skipif(not HAVE_GT, reason=f"official ground truth not found at {GT_DIR}")
def test_real_ground_truth_breakdown():
    gt = W.load_ground_truth(GT_DIR)
    preds = prediction_set(gt, "detector", seed=0)
    result = _quiet(breakdown, preds, gt)
    assert result.rows[0].ap == dict(_quiet(W.evaluate, preds, gt))
    groups = result.groups()
    assert list(groups) == ["all", *ATTRIBUTES, "size"]
    for s in W.SETTINGS:
        assert sum(r.num_faces[s] for r in groups["blur"]) == gt.num_faces(s)
    # no face marked invalid is kept in any setting: that row is empty
    invalid = next(r for r in groups["invalid"] if r.value == "invalid")
    assert invalid.num_faces == {s: 0 for s in W.SETTINGS}
