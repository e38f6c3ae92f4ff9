"""Figures say what they show: titles, legends, labels and scores (read from the artists and
the drawn pixels, not compared with reference images)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("matplotlib")
torch = pytest.importorskip("torch")

from hambox_core.analysis import (  # noqa: E402
    PAPER_BAND,
    PAPER_SCALE,
    anchor_statistics,
    plot_anchor_statistics,
    plot_detector_analysis,
)
from hambox_core.evaluation.plots import axis_limit, plot_widerface_pr  # noqa: E402
from hambox_torch.inference.drawing import (  # noqa: E402
    DETECTION_COLOUR,
    GROUND_TRUTH_COLOUR,
    as_picture,
    draw_detections,
    picture_grid,
)

REPO = Path(__file__).resolve().parents[1]


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))]


# --- drawing ----------------------------------------------------------------------------------


def _band(picture, image_h: int) -> int:
    return picture.height - image_h


def test_drawn_boxes_have_their_colours_and_low_scores_are_left_out():
    image = np.full((80, 120, 3), 128, np.uint8)
    gt = [[10, 10, 40, 40]]
    boxes = [[60, 20, 100, 60], [5, 50, 30, 75]]
    picture = draw_detections(image, boxes, [0.9, 0.3], ground_truth=gt, score_thr=0.5)
    band = _band(picture, 80)
    assert band > 0 and picture.width >= 120
    px = np.asarray(picture)[band:]
    assert tuple(px[25, 10]) == GROUND_TRUTH_COLOUR  # left edge of the face
    assert tuple(px[40, 100]) == DETECTION_COLOUR  # right edge of the kept detection
    assert tuple(px[62, 5]) == (128, 128, 128)  # the 0.3 detection is not drawn
    # its score label: red pixels above the kept box's top-left corner
    label = px[8:20, 60:80]
    assert (label == DETECTION_COLOUR).all(axis=-1).sum() > 20
    # and without labels there are none there
    plain = np.asarray(draw_detections(image, boxes, [0.9, 0.3], show_scores=False))
    assert not (plain[_band(picture, 80) :][8:19, 62:80] == DETECTION_COLOUR).all(-1).any()


def test_overlapping_score_labels_keep_the_best():
    image = np.zeros((60, 60, 3), np.uint8)
    boxes = [[20, 30, 40, 50], [21, 30, 41, 50]]  # labels at the same place
    one = np.asarray(draw_detections(image, boxes[:1], [0.9]))
    both = np.asarray(draw_detections(image, boxes, [0.9, 0.8]))
    lower = np.asarray(draw_detections(image, boxes[1:], [0.8]))
    band = one.shape[0] - 60
    labels = (slice(band, band + 30), slice(18, 55))  # above the boxes' top edge (y = 30)
    # the lower score's label is left out: the label area is the best one's alone ...
    assert np.array_equal(one[labels], both[labels])
    # ... and differs from what the lower one's label would draw there
    assert not np.array_equal(lower[labels], both[labels])


def test_title_and_legend_make_the_band_taller_and_wider():
    image = np.zeros((40, 40, 3), np.uint8)
    without = draw_detections(image, [[1, 1, 9, 9]], [0.9])
    titled = draw_detections(image, [[1, 1, 9, 9]], [0.9], title="a\nb", ground_truth=[])
    assert titled.height > without.height  # two title lines
    assert without.width > 40  # the legend fits: the band is wider than a small image


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((5, 7, 3), np.uint8),
        np.zeros((5, 7), np.uint8),
        torch.zeros(3, 5, 7, dtype=torch.uint8),
        torch.rand(3, 5, 7),
    ],
)
def test_as_picture_takes_arrays_tensors_and_pil(image):
    picture = as_picture(image)
    assert picture.size == (7, 5) and picture.mode == "RGB"
    assert as_picture(picture) is not picture


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image": np.zeros((5, 7, 4), np.uint8)}, "image"),
        ({"image": np.zeros((5, 7, 3), np.float32)}, "image"),
        ({"image": torch.zeros(4, 5, 7)}, "image"),
        ({"boxes": [[0, 0, 1]], "scores": [0.5]}, "boxes"),
        ({"boxes": [[0, 0, 1, 1]], "scores": [0.5, 0.2]}, "scores"),
        ({"boxes": [[0, 0, 1, 1]]}, "scores"),
        ({"ground_truth": [[1, 2]]}, "ground_truth"),
    ],
)
def test_bad_drawing_input_is_named(kwargs, match):
    args = {"image": np.zeros((5, 7, 3), np.uint8), **kwargs}
    with pytest.raises(ValueError, match=match):
        draw_detections(args.pop("image"), **args)


def test_drawing_rejects_other_types_and_grid_checks_its_arguments():
    from PIL import Image

    with pytest.raises(TypeError, match="image"):
        as_picture([[0, 0]])
    with pytest.raises(ValueError, match="pictures"):
        picture_grid([])
    with pytest.raises(ValueError, match="columns"):
        picture_grid([Image.new("RGB", (4, 4))], columns=0)
    sheet = picture_grid([Image.new("RGB", (10, 8))] * 3, columns=2, title="t")
    assert sheet.width == 2 * 10 + 3 * 6 and sheet.height > 2 * 8 + 3 * 6


def test_detect_draw_writes_the_picture_with_a_band(tmp_path):
    from hambox_torch.cli.detect import _draw
    from hambox_torch.inference import Detections

    pixels = torch.zeros(3, 50, 60, dtype=torch.uint8)
    det = Detections(np.array([[5, 5, 30, 30]], np.float32), np.array([0.8], np.float32))
    path = tmp_path / "x.boxes.jpg"
    _draw(pixels, det, 0.5, path)
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "JPEG" and im.height > 50


# --- PR curves --------------------------------------------------------------------------------


def _curve(peak: float, faces: int = 10):
    recall = np.linspace(0, 0.6, 50)
    precision = peak * np.sin(np.linspace(0.1, 3.0, 50))
    return SimpleNamespace(
        recall=recall, precision=precision, ap=0.123, num_faces=faces, semantics="official"
    )


def test_axis_limit():
    assert axis_limit([0.05]) == 0.1
    assert axis_limit([np.nan, 0.5]) == 0.6
    assert axis_limit([0.96]) == 1.0
    assert axis_limit([np.nan]) == 1.0


def test_pr_figure_titles_legend_off_the_curves_and_axes_for_low_curves():
    curves = {"easy": _curve(0.2, 281), "medium": _curve(0.6, 1086), "hard": _curve(0.7, 3214)}
    fig = plot_widerface_pr(curves, name="demo", title="protocol single, 200 images")
    assert fig.get_suptitle() == "protocol single, 200 images"
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "Easy (281 faces)\nofficial semantics",
        "Medium (1086 faces)\nofficial semantics",
        "Hard (3214 faces)\nofficial semantics",
    ]
    easy = fig.axes[0]
    assert easy.get_ylim() == pytest.approx((0.0, 0.3))  # not 0..1: the low curve is visible
    assert easy.get_xlim() == pytest.approx((0.0, 0.7))
    fig.canvas.draw()
    for ax in fig.axes:
        legend = ax.get_legend()
        assert [t.get_text() for t in legend.get_texts()] == ["demo-0.123"]
        # the legend lies wholly below the axes: it covers no curve
        assert legend.get_window_extent().y1 <= ax.get_window_extent().y0


# --- Fig. 1 -----------------------------------------------------------------------------------


def test_fig1_labels_the_paper_scale_and_shades_its_interval():
    stats = anchor_statistics([[[10, 10, 30, 30], [50, 50, 90, 100]]], [0.3, 0.5, 0.68, 1.0])
    fig = plot_anchor_statistics({"A": stats, "B": stats})
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == [
        "A (2 faces)",
        "B (2 faces)",
        f"paper's interval [{PAPER_BAND[0]:g}, {PAPER_BAND[1]:g}]",
        f"scale {PAPER_SCALE:g} (the paper's)",
    ]
    for ax in fig.axes:
        spans = [p for p in ax.patches if p.get_label() != "_nolegend_"]
        assert spans, "the paper's interval is shaded on each panel"
        assert "0.68" in [t.get_text() for t in ax.texts]  # the dashed line is labelled
    one = plot_anchor_statistics(stats, band=None)
    assert one.get_suptitle().endswith(": 2 faces")
    assert not any(p.get_label().startswith("paper") for p in one.axes[0].patches)


# --- Fig. 2 -----------------------------------------------------------------------------------


def test_fig2_has_the_papers_four_panels():
    fig = plot_detector_analysis(
        [0.2, 0.4, 0.7],
        0.35,
        {"HAMBox": [0.85, 0.9], "DMS": [0.3, 0.5, 0.6]},
        matched=[False, True, True],
        high_quality=(100, 40),
        training={"iteration": [120, 240], "hq_unmatched_share": [0.2, 0.3]},
        face_counts=(50, 30, 12),
        title="on test data",
    )
    titles = [ax.get_title() for ax in fig.axes]
    assert [t[:3] for t in titles] == ["(a)", "(b)", "(c)", "(d)"]
    assert fig.get_suptitle() == "on test data"
    ax_a, ax_b, ax_c, ax_d = fig.axes
    assert any("67% from matched anchors" in t.get_text() for t in ax_a.texts)
    assert "HAMBox (2 anchors, mean 0.88)" in [t.get_text() for t in ax_b.get_legend().texts]
    c_labels = [t.get_text() for t in ax_c.get_legend().texts]
    assert c_labels == [
        "during training",
        "trained model on these images: 40%",
        "paper: 65% during training",
    ]
    assert list(ax_c.lines[0].get_ydata()) == pytest.approx([20.0, 30.0])
    assert [round(b.get_height()) for b in ax_d.patches] == [50, 30, 12]
    assert [t.get_text() for t in ax_d.texts] == ["50", "30", "12"]
    # without training diagnostics (c) shows the two shares as bars
    bars = plot_detector_analysis([], 0.35, {}, high_quality=(100, 40)).axes[2]
    assert [round(b.get_height()) for b in bars.patches] == [60, 40]
    empty = plot_detector_analysis([], 0.35, {})
    assert "face counts not measured" in _texts(empty)


def test_fig2_counts_of_a_detector_are_consistent(tiny_wider_root):
    from hambox_torch.analysis import analyze_detector
    from hambox_torch.models import HAMBoxDetector
    from hambox_torch.pipeline.detection import DetectionSettings

    torch.manual_seed(0)
    model = HAMBoxDetector(backbone="resnet18", channels=8).eval()
    loose = DetectionSettings(score_thr=0.0)
    result = analyze_detector(model, tiny_wider_root, settings=loose)
    # faces matched at step one: every face step one gives an anchor (the core's count)
    from hambox_core.matching import SMSMatcher
    from hambox_torch.data.wider import WiderFaceDataset

    dataset = WiderFaceDataset(tiny_wider_root, "val")
    want = 0
    for i in range(len(dataset)):
        image, target = dataset.load(i)
        h, w = image.shape[-2:]
        stride = max(model.anchor_generator.strides)
        hw = (-(-h // stride) * stride, -(-w // stride) * stride)
        anchors = model.anchors(hw).numpy()
        faces = target["boxes"].as_subclass(torch.Tensor).numpy()
        want += int((SMSMatcher(0.35)(anchors, faces).num_matched > 0).sum())
    assert result.faces_matched == want > 0
    assert 0 <= result.faces_correct_after_nms <= result.faces_matched
    assert 0 <= result.faces_correct_before_nms <= result.faces_matched
    d = result.to_dict()
    assert (d["faces_matched"], d["faces_correct_after_nms"]) == (
        result.faces_matched,
        result.faces_correct_after_nms,
    )
    assert "(d) faces matched to anchors at step one" in result.summary()
    assert len(result.figure().axes) == 4


# --- the guide's figures ----------------------------------------------------------------------


def test_committed_figure_data_has_what_the_figures_draw():
    demo = json.loads((REPO / "docs" / "data" / "demo_detector.json").read_text())
    assert {"checkpoint", "protocol", "data", "pr", "samples", "analysis", "training"} <= set(demo)
    assert set(demo["pr"]) == {"easy", "medium", "hard"}
    for sample in demo["samples"]:
        assert len(sample["boxes"]) == len(sample["scores"])
    fig1 = json.loads((REPO / "docs" / "data" / "fig1_widerface_val.json").read_text())
    assert fig1["faces"] == 39697 and len(fig1["rows"]) == 31
