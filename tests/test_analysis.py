"""The paper's analyses: Fig. 1 (`hambox anchors`, hambox_core.analysis) and Fig. 2
(`hambox analyze`, hambox_torch.analysis), and postprocess_detections(return_indices=True)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from hambox_core import anchor_statistics
from hambox_core.analysis import (
    FIG1_SCALES,
    FaceSet,
    load_faces,
    plot_anchor_statistics,
    plot_detector_analysis,
)
from hambox_core.datasets import (
    WiderAnnotation,
    write_retinaface_labels,
    write_wider_annotations,
)
from hambox_core.evaluation.widerface import WiderGroundTruth, write_ground_truth
from hambox_torch.analysis import DetectorAnalysis, analyze_detector
from hambox_torch.boxes import decode
from hambox_torch.cli import main
from hambox_torch.data.wider import ImageReadWarning
from hambox_torch.pipeline import DetectionSettings, detect_images
from hambox_torch.postprocess import postprocess_detections
from hambox_torch.recipe.config import MatchingConfig, load_config

REPO = Path(__file__).resolve().parents[1]
REAL_GT = REPO.parent / "shared" / "data" / "widerface_val_gt"

# --- Fig. 1: faces from .txt and .mat -------------------------------------------------------

# Three images over two events; xywh integer faces, one of zero width (dropped by the loader).
IMAGES = [
    ("0--Parade", "a", [[10, 10, 20, 24], [40, 8, 6, 6], [70, 30, 0, 9]]),
    ("0--Parade", "b", [[100, 120, 64, 80]]),
    ("1--Handshaking", "c", [[5, 5, 12, 12], [200, 40, 33, 41], [300, 300, 250, 260]]),
]
HARD = [[True, True, False], [False], [True, False, True]]


def _xyxy(xywh) -> np.ndarray:
    b = np.asarray(xywh, np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1).astype(np.float32)


@pytest.fixture()
def gt_files(tmp_path):
    txt = tmp_path / "wider_face_val_bbx_gt.txt"
    write_wider_annotations(txt, [WiderAnnotation(f"{e}/{n}.jpg", _xyxy(b)) for e, n, b in IMAGES])
    gt = WiderGroundTruth.from_images(
        [(e, n) for e, n, _ in IMAGES],
        [b for _, _, b in IMAGES],
        {s: [[True] * len(b) for _, _, b in IMAGES] for s in ("easy", "medium")} | {"hard": HARD},
    )
    mat = tmp_path / "ground_truth"
    write_ground_truth(mat, gt)
    return txt, mat


def test_txt_and_mat_give_the_same_faces_and_statistics(gt_files):
    txt, mat = gt_files
    from_txt, from_mat = load_faces(txt), load_faces(mat)
    assert from_mat.names == ("0--Parade/a", "0--Parade/b", "1--Handshaking/c")
    assert from_txt.names == tuple(f"{e}/{n}.jpg" for e, n, _ in IMAGES)
    assert from_txt.num_faces == from_mat.num_faces == 6
    assert from_txt.dropped == from_mat.dropped == 1
    for a, b, (_, _, xywh) in zip(from_txt.boxes, from_mat.boxes, IMAGES, strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
        ok = [w > 0 and h > 0 for _, _, w, h in xywh]
        np.testing.assert_array_equal(a, _xyxy(xywh)[ok])
    st_txt = anchor_statistics(from_txt.boxes, [0.5, 0.68, 1.0])
    st_mat = anchor_statistics(from_mat.boxes, [0.5, 0.68, 1.0])
    for key in ("mean_matched", "frac_matched"):
        np.testing.assert_array_equal(st_txt[key], st_mat[key])
    # The .mat file itself may be given instead of its folder.
    assert load_faces(mat / "wider_face_val.mat").num_faces == 6


def test_a_setting_keeps_its_faces_only(gt_files):
    _, mat = gt_files
    hard = load_faces(mat, setting="hard")
    expected = [_xyxy(b)[np.asarray(k)] for (_, _, b), k in zip(IMAGES, HARD, strict=True)]
    assert [len(b) for b in hard.boxes] == [2, 0, 2]
    for got, want in zip(hard.boxes, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert "hard" in hard.source


def test_retinaface_labels_are_read_too(tmp_path):
    path = tmp_path / "label.txt"
    write_retinaface_labels(
        path, [WiderAnnotation("0--a/x.jpg", _xyxy([[1.5, 2, 10, 12], [3, 3, 0, 0]]))]
    )
    faces = load_faces(path)
    assert faces.num_faces == 1 and faces.dropped == 1
    np.testing.assert_array_equal(faces.boxes[0], _xyxy([[1.5, 2, 10, 12]]))


def test_load_faces_bad_input_names_the_path(tmp_path, gt_files):
    txt, _ = gt_files
    with pytest.raises(FileNotFoundError, match="nope"):
        load_faces(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"wider_face_val\.mat"):
        load_faces(empty)
    with pytest.raises(ValueError, match="keep lists"):
        load_faces(txt, setting="hard")
    with pytest.raises(ValueError, match="setting"):
        load_faces(txt, setting="extreme")
    bad = tmp_path / "bad.txt"
    bad.write_text("a.jpg\nthree\n")
    with pytest.raises(ValueError, match=r"bad\.txt"):
        load_faces(bad)


def test_default_sweep_covers_the_papers_interval():
    assert FIG1_SCALES[0] == 0.1 and FIG1_SCALES[-1] == 1.5
    assert {0.43, 0.68, 0.7, 1.0} <= set(FIG1_SCALES)
    assert list(FIG1_SCALES) == sorted(set(FIG1_SCALES))


def _is_png(path) -> bool:
    return Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_anchors_command_prints_writes_json_and_png(gt_files, tmp_path, capsys):
    txt, _ = gt_files
    out_json, out_png = tmp_path / "fig1.json", tmp_path / "fig1.png"
    argv = ["anchors", "--gt", str(txt), "--scales", "0.5,1", "--no-progress"]
    assert main([*argv, "--json", str(out_json), "--png", str(out_png)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "6 faces (1 of zero or negative size left out)" in lines[0]
    expected = anchor_statistics(load_faces(txt).boxes, [0.5, 1.0])
    rows = [line.split() for line in lines if line.strip().startswith(("0.50", "1.00"))]
    assert len(rows) == 2
    for row, mean, frac in zip(
        rows, expected["mean_matched"], expected["frac_matched"], strict=True
    ):
        assert row[1] == f"{mean:.3f}" and row[2] == f"{100 * frac:.2f}%" and row[3] == "6"
    payload = json.loads(out_json.read_text())
    assert payload["faces"] == 6 and payload["dropped_faces"] == 1
    assert [r["scale"] for r in payload["rows"]] == [0.5, 1.0]
    assert [r["mean_matched"] for r in payload["rows"]] == expected["mean_matched"].tolist()
    assert [r["frac_matched"] for r in payload["rows"]] == expected["frac_matched"].tolist()
    assert _is_png(out_png)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scales", "0.5,x"], "--scales"),
        (["--scales", "0,1"], "--scales"),
        (["--iou", "1.5"], "--iou"),
        (["--strides", "4,8"], "--base-sizes"),
        (["--strides", "4.5,8,16,32,64,128"], "--strides"),
    ],
)
def test_anchors_command_bad_arguments_exit_2(gt_files, capsys, extra, message):
    txt, _ = gt_files
    assert main(["anchors", "--gt", str(txt), "--no-progress", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hambox anchors: error:") and message in err


def test_anchors_command_missing_gt_exit_2(tmp_path, capsys):
    assert main(["anchors", "--gt", str(tmp_path / "missing"), "--no-progress"]) == 2
    assert "missing" in capsys.readouterr().err


@pytest.mark.skipif(not REAL_GT.is_dir(), reason="the official WIDER FACE val .mat files")
def test_real_ground_truth_numbers_in_the_docs(capsys):
    """Two rows of the table in docs/guide/analysis.rst, recomputed from the official files."""
    assert main(["anchors", "--gt", str(REAL_GT), "--scales", "0.68,1.0", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "3226 images, 39697 faces (11 of zero or negative size left out)" in out
    assert "  0.68         4.460         92.22%" in out
    assert "  1.00         7.839         78.17%" in out
    doc = (REPO / "docs" / "guide" / "analysis.rst").read_text()
    assert "4.460" in doc and "92.22" in doc


def test_plots(tmp_path):
    stats = anchor_statistics([[[10, 10, 30, 30]]], [0.5, 1.0])
    fig = plot_anchor_statistics(stats, path=tmp_path / "a.png")
    assert len(fig.axes) == 2 and _is_png(tmp_path / "a.png")
    with pytest.raises(ValueError, match="frac_matched"):
        plot_anchor_statistics({"scales": [1.0], "mean_matched": [1.0], "num_faces": 1})
    fig = plot_detector_analysis([], 0.35, {"HAMBox": np.zeros(0)}, path=tmp_path / "b.png")
    assert len(fig.axes) == 4 and _is_png(tmp_path / "b.png")  # the paper's (a) to (d)


# --- postprocess_detections(return_indices=True) --------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_return_indices_traces_each_detection_to_its_anchor(seed):
    g = torch.Generator().manual_seed(seed)
    num_anchors = 300
    xy = torch.rand(num_anchors, 2, generator=g) * 100
    anchors = torch.cat([xy, xy + 8 + torch.rand(num_anchors, 2, generator=g) * 30], dim=1)
    logits = torch.randn(2, num_anchors, generator=g) * 3
    deltas = torch.randn(2, num_anchors, 4, generator=g) * 0.5
    kw = {"score_thr": 0.2, "pre_nms_top_k": 50, "nms_iou_thr": 0.4, "max_detections": 40}
    plain = postprocess_detections(logits, deltas, anchors, [200, 100], **kw)
    traced = postprocess_detections(logits, deltas, anchors, [200, 100], return_indices=True, **kw)
    for b, ((boxes, scores), (boxes2, scores2, idx)) in enumerate(zip(plain, traced, strict=True)):
        assert len(idx) > 0 and idx.dtype == torch.int64
        assert torch.equal(boxes, boxes2) and torch.equal(scores, scores2)
        assert torch.equal(boxes, decode(anchors[idx], deltas[b, idx]))
        assert torch.equal(scores, torch.sigmoid(logits[b, idx].double()).float())
        assert len(set(idx.tolist())) == len(idx)


# --- Fig. 2 on a tiny random detector ---------------------------------------------------------


def _tiny_config(root):
    return load_config(
        REPO / "configs" / "demo_cpu.yaml",
        [f"data.root={root}", "model.backbone=resnet18", "model.channels=8", "run.device=cpu"],
    )


@pytest.fixture(scope="module")
def tiny(tiny_wider_root):
    from hambox_torch.recipe.components import build_model

    root = tiny_wider_root
    cfg = _tiny_config(root)
    torch.manual_seed(0)
    model = build_model(cfg.model, cfg.anchors).eval()
    return root, cfg, model


# A random model scores every anchor about the prior (0.01): keep everything. Step one at 0.5
# leaves some of the 13 faces without anchors (DMS compensates them), and HAMBox mines
# predictions reaching 0.3 for up to 8 anchors a face, so that both compensations happen.
LOOSE = DetectionSettings(score_thr=0.0, pre_nms_top_k=1000, nms_iou_thr=0.4, max_detections=750)
MINING = MatchingConfig(pos_iou_thr=0.5, online_iou_thr=0.3, top_k=8)


def _iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _reference(model, root, matching, settings):
    """Slow and obvious: detections from detect_images, each traced to its anchor by search
    among all decoded anchors, then IoUs per detection and per face in Python loops."""
    from hambox_torch.data.wider import WiderFaceDataset

    dataset = WiderFaceDataset(root, "val")
    stride = max(model.anchor_generator.strides)
    anchor_ious, matched, correct_faces = [], [], 0
    for i in range(len(dataset)):
        image, target = dataset.load(i)
        image = image.as_subclass(torch.Tensor).float() / 255
        faces = target["boxes"].as_subclass(torch.Tensor).tolist()
        ((boxes, scores),) = detect_images(model, [image], settings)
        h, w = image.shape[1:]
        hp, wp = math.ceil(h / stride) * stride, math.ceil(w / stride) * stride
        padded = torch.zeros(1, 3, hp, wp)
        padded[0, :, :h, :w] = image
        with torch.no_grad():
            out = model(padded)
        anchors = model.anchors((hp, wp))
        all_boxes = decode(anchors, out.box_deltas[0]).clamp(min=0)
        all_boxes = torch.minimum(all_boxes, torch.tensor([w, h, w, h], dtype=torch.float32))
        all_scores = torch.sigmoid(out.cls_logits[0].double()).float()
        for box, score in zip(boxes, scores, strict=True):
            hit = (all_boxes == box).all(dim=1) & (all_scores == score)
            (a,) = torch.nonzero(hit)[:, 0].tolist()  # exactly one anchor
            ious = [_iou(box.tolist(), f) for f in faces]
            if not ious or max(ious) <= 0.5:
                continue
            g = ious.index(max(ious))
            correct_faces += 1
            anchor = anchors[a].tolist()
            a_ious = [_iou(anchor, f) for f in faces]
            best = a_ious.index(max(a_ious))
            anchor_ious.append(a_ious[g])
            matched.append(best == g and a_ious[best] >= matching.pos_iou_thr)
    return np.array(anchor_ious), np.array(matched, dtype=bool)


@pytest.mark.slow
def test_analysis_agrees_with_a_slow_reference(tiny):
    root, _, model = tiny
    result = analyze_detector(model, root, matching=MINING, settings=LOOSE)
    assert isinstance(result, DetectorAnalysis)
    ref_iou, ref_matched = _reference(model, root, MINING, LOOSE)
    assert result.images == 3 and result.unreadable == ()
    assert result.correct == len(ref_iou) >= 3  # a random model: a few boxes land on faces
    np.testing.assert_allclose(result.anchor_iou, ref_iou, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result.step_one_matched, ref_matched)
    assert 0 < ref_matched.sum() < len(ref_matched)  # both kinds occur: the test can fail
    assert result.matched_share == pytest.approx(ref_matched.mean())
    # Compensation: HAMBox takes only predictions above T, at most K - M per face.
    ham = result.compensated_iou["hambox"]
    assert ham.size > 0 and (ham > MINING.online_iou_thr).all()
    assert result.compensated_per_face.shape == (result.faces,)
    assert result.compensated_per_face.sum() == ham.size
    assert result.compensated_per_face.max() <= MINING.top_k
    assert result.compensated_iou["dms"].size > 0
    assert 0 <= result.hq_unmatched <= result.hq_anchors
    d = result.to_dict()
    json.dumps(d)
    assert d["correct_from_matched"] + d["correct_from_unmatched"] == d["correct"]
    assert sum(d["anchor_iou_histogram"]) == d["correct"]
    assert sum(int(k) * n for k, n in d["faces_by_compensated_count"].items()) == ham.size
    assert "correct predictions from anchors matched at step one" in result.summary()


def test_max_images_and_an_unreadable_image(tiny, tmp_path):
    import shutil

    root, _, model = tiny
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    first = sorted((copy / "WIDER_val" / "images").rglob("*.jpg"))[0]
    first.write_bytes(b"not a jpeg")
    with pytest.warns(ImageReadWarning, match=first.name):
        result = analyze_detector(model, copy, settings=LOOSE)
    assert result.images == 2 and len(result.unreadable) == 1
    assert result.unreadable[0].endswith(first.name)
    small = analyze_detector(model, root, max_images=1, settings=LOOSE)
    assert small.images == 1
    empty = analyze_detector(model, root, max_images=0)
    assert empty.images == empty.correct == 0 and math.isnan(empty.matched_share)
    assert empty.to_dict()["matched_share"] is None
    with pytest.raises(ValueError, match="max_images"):
        analyze_detector(model, root, max_images=-1)
    with pytest.raises(FileNotFoundError, match="annotation"):
        analyze_detector(model, tmp_path)


def test_analyze_command(tiny, tmp_path, capsys):
    from hambox_torch.recipe.checkpoint import save_checkpoint

    root, cfg, model = tiny
    ckpt = save_checkpoint(
        tmp_path / "ckpt.pt", model=model, optimizer=None, iteration=0, config=cfg
    )
    out_json, out_png = tmp_path / "fig2.json", tmp_path / "fig2.png"
    argv = ["analyze", "--weights", str(ckpt), "--data", str(root), "--score-thr", "0"]
    assert main([*argv, "--no-progress", "--json", str(out_json), "--png", str(out_png)]) == 0
    out = capsys.readouterr().out
    assert "(a) correct predictions from anchors matched at step one (IoU >= 0.35)" in out
    payload = json.loads(out_json.read_text())
    assert payload["images"] == 3 and payload["weights"] == str(ckpt)
    assert payload["params"]["matching"] == {**cfg.matching.__dict__}
    assert _is_png(out_png)
    # The same numbers as the API with the checkpoint's matching.
    api = analyze_detector(model, root, matching=cfg.matching, settings=LOOSE).to_dict()
    assert payload["correct"] == api["correct"]
    assert payload["correct_from_matched"] == api["correct_from_matched"]


def test_analyze_command_refuses_a_foreign_checkpoint(tiny, tmp_path, capsys):
    root, cfg, model = tiny
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    assert main(["analyze", "--weights", str(foreign), "--data", str(root), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hambox analyze: error:") and "not a hambox checkpoint" in err
    from hambox_torch.recipe.checkpoint import save_checkpoint
    from hambox_torch.recipe.config import config_to_dict

    good = tmp_path / "good.pt"
    save_checkpoint(good, model=model, optimizer=None, iteration=0, config=config_to_dict(cfg))
    assert main(["analyze", "--weights", str(good), "--data", str(tmp_path / "no")]) == 2
    assert "--data" in capsys.readouterr().err
    argv = ["analyze", "--weights", str(foreign), "--data", str(root), "--device"]
    assert main([*argv, "nonsense"]) == 2
    assert "--device" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main([*argv, "cuda"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("anchors", ["--gt", "--setting", "--scales", "--iou", "--png", "--json", "--ratios"]),
        ("analyze", ["--weights", "--data", "--max-images", "--score-thr", "--png", "--json"]),
    ],
)
def test_help(command, options, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in options:
        assert option in text
    assert "Fig." in text


def test_face_set_counts():
    faces = FaceSet(("a", "b"), (np.zeros((2, 4), np.float32), np.zeros((0, 4), np.float32)), 3, "")
    assert len(faces) == 2 and faces.num_faces == 2 and faces.dropped == 3


def test_core_analysis_imports_neither_torch_nor_matplotlib(gt_files):
    import subprocess
    import sys

    txt, mat = gt_files
    code = (
        "import sys\n"
        "from hambox_core.analysis import load_faces\n"
        "from hambox_core import anchor_statistics\n"
        f"anchor_statistics(load_faces({str(mat)!r}).boxes, [0.68])\n"
        f"load_faces({str(txt)!r})\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('torch', 'torchvision', 'matplotlib'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
