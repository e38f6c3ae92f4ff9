"""``hambox detect`` and ``hambox eval`` end to end on a tiny generated set and checkpoint."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from hambox_core.evaluation import widerface as wider_eval
from hambox_torch.cli import build_parser, main
from hambox_torch.cli.train import CONFIGS
from hambox_torch.inference import Detector, evaluate_widerface
from hambox_torch.pipeline import DetectionSettings, detect_images
from hambox_torch.recipe.checkpoint import save_checkpoint
from hambox_torch.recipe.components import build_model
from hambox_torch.recipe.config import load_config


@pytest.fixture(scope="module")
def tiny(tiny_wider_root, tmp_path_factory):
    """A 3-image WIDER-format set and a random tiny detector's checkpoint."""
    root = tiny_wider_root
    cfg = load_config(
        CONFIGS / "demo_cpu.yaml",
        ["model.backbone=resnet18", "model.channels=16", "run.device=cpu"],
    )
    torch.manual_seed(0)
    model = build_model(cfg.model, cfg.anchors).eval()
    # A random head scores every anchor near the prior (0.01), right at the evaluation's score
    # threshold; larger face-logit weights spread the scores over (0, 1).
    with torch.no_grad():
        model.head.cls.predict.weight.mul_(40.0)
    ckpt = save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "tiny.pt",
        model=model,
        optimizer=None,
        iteration=1,
        config=cfg,
    )
    return root, ckpt, model


def _val_images(root):
    return sorted((root / "WIDER_val" / "images").rglob("*.jpg"))


def test_detect_a_folder_with_an_unreadable_image(tiny, tmp_path, capsys):
    root, ckpt, model = tiny
    src = _val_images(root)
    folder = tmp_path / "photos"
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    shutil.copy(src[0], folder / "a" / "one.jpg")
    Image.open(src[1]).save(folder / "b" / "two.PNG")
    shutil.copy(src[2], folder / "three.jpg")
    (folder / "b" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "b" / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    argv = ["detect", str(folder), "--weights", str(ckpt), "--out", str(out), "--draw"]
    status = main([*argv, "--no-progress", "--batch-size", "1", "--device", "cpu"])
    captured = capsys.readouterr()
    assert status == 1
    err = captured.err.strip().splitlines()
    assert any("broken.jpg" in line and "cannot read" in line for line in err)
    assert err[-1] == "hambox detect: 1 of 4 images could not be read: b/broken.jpg"
    # The other images were processed: one prediction file each (events by folder), drawings.
    preds = wider_eval.read_predictions(out)
    assert set(preds) == {("a", "one"), ("b", "two"), ("photos", "three")}
    assert (out / "a" / "one.boxes.jpg").is_file() and (out / "b" / "two.boxes.jpg").is_file()
    meta = json.loads((out / "protocol.json").read_text())
    assert meta["protocol"] == {"name": "single"}
    assert meta["model"]["checkpoint"] == str(ckpt)
    assert meta["settings"]["score_thr"] == 0.01
    # The files hold what the API finds in the same pictures (both one image per pass).
    api = Detector(model).detect(np.asarray(Image.open(folder / "b" / "two.PNG").convert("RGB")))
    b = api.boxes.astype(np.float64)
    np.testing.assert_allclose(preds[("b", "two")][:, :2], b[:, :2], atol=1e-4)
    np.testing.assert_allclose(preds[("b", "two")][:, 2:4], b[:, 2:] - b[:, :2], atol=1e-4)
    np.testing.assert_allclose(preds[("b", "two")][:, 4], api.scores, atol=1e-6)


def test_detect_one_image_prints_a_summary(tiny, tmp_path, capsys):
    root, ckpt, _ = tiny
    image = _val_images(root)[0]
    argv = ["detect", str(image), "--weights", str(ckpt), "--draw-thr", "0.0"]
    assert main([*argv, "--protocol", "vga", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{image}: ") and "faces with score" in lines[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--draw"], "--draw needs --out"),
        (["--score-thr", "2"], "--score-thr must be in [0, 1]"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--device", "nonsense"], "--device"),
    ],
)
def test_detect_bad_options(tiny, extra, message, capsys):
    root, ckpt, _ = tiny
    image = _val_images(root)[0]
    assert main(["detect", str(image), "--weights", str(ckpt), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hambox detect: error:") and message in err[0]


def test_detect_without_images(tiny, tmp_path, capsys):
    _, ckpt, _ = tiny
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    assert main(["detect", str(tmp_path / "empty"), "--weights", str(ckpt)]) == 2
    assert "no images (.jpg, .jpeg, .png, .bmp) found in" in capsys.readouterr().err
    assert main(["detect", str(tmp_path / "nowhere"), "--weights", str(ckpt)]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["detect", "eval"])
def test_a_foreign_checkpoint_is_one_line(tiny, tmp_path, capsys, command):
    root, _, _ = tiny
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    target = [str(_val_images(root)[0])] if command == "detect" else ["--data", str(root)]
    assert main([command, *target, "--weights", str(foreign), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"hambox {command}: error:")
    assert "foreign.pt" in err[0] and "not a hambox checkpoint" in err[0]


def test_eval_prints_the_table_and_writes_predictions_and_a_plot(tiny, tmp_path, capsys):
    root, ckpt, _ = tiny
    out, png = tmp_path / "preds", tmp_path / "pr.png"
    argv = ["eval", "--weights", str(ckpt), "--data", str(root), "--protocol", "vga"]
    argv += ["--out", str(out), "--plot", str(png), "--max-images", "2", "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    for setting in ("easy", "medium", "hard"):
        assert f"| {setting} |" in text
    assert '"name": "vga"' in text and "(2 images)" in text
    assert len(wider_eval.read_predictions(out)) == 2
    meta = json.loads((out / "protocol.json").read_text())
    assert meta["protocol"]["name"] == "vga" and meta["data"]["images"] == 2
    assert png.stat().st_size > 0


def test_eval_data_root_errors(tiny, tmp_path, monkeypatch, capsys):
    _, ckpt, _ = tiny
    assert main(["eval", "--weights", str(ckpt), "--data", str(tmp_path / "none")]) == 2
    assert "--data" in capsys.readouterr().err
    monkeypatch.setenv("HAMBOX_DATA", str(tmp_path / "cache"))
    assert main(["eval", "--weights", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert "embedded demo set is not at" in err and "hambox embedded" in err
    assert main(["eval", "--weights", str(ckpt), "--data", str(tmp_path)]) == 2
    assert "wider_face_val.mat" in capsys.readouterr().err


def test_evaluate_widerface_single_protocol_is_detect_images_per_image(tiny):
    """The refactored evaluation (through the Detector) gives what the plain loop gives."""
    root, _, model = tiny
    settings = DetectionSettings()
    gt_dir = root / "eval_tools" / "ground_truth"
    image_dir = root / "WIDER_val" / "images"
    _, preds, unreadable = evaluate_widerface(
        model, image_dir, gt_dir, batch_size=1, settings=settings, progress=False
    )
    assert unreadable == 0
    for event, stem in wider_eval.load_ground_truth(gt_dir).keys():
        pixels = np.array(Image.open(image_dir / event / f"{stem}.jpg").convert("RGB"))
        image = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
        ((boxes, scores),) = detect_images(model, [image], settings)
        b = boxes.double().numpy()
        assert np.array_equal(preds[(event, stem)][:, :2], b[:, :2])
        assert np.array_equal(preds[(event, stem)][:, 2:4], b[:, 2:] - b[:, :2])
        assert np.array_equal(preds[(event, stem)][:, 4], scores.double().numpy())


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("detect", ["--weights", "--out", "--draw", "--draw-thr", "--protocol", "--score-thr",
                    "--device", "--batch-size", "--no-progress"]),
        ("eval", ["--weights", "--data", "--protocol", "--out", "--max-images", "--plot",
                  "--score-thr", "--device", "--batch-size", "--no-progress"]),
    ],
)  # fmt: skip
def test_help_documents_every_option(command, options, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in options:
        assert option in text
    # Every option has help text.
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    assert all(a.help for a in sub._actions)
