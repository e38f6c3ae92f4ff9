"""``hambox detect`` and ``hambox eval`` end to end on a tiny generated set and checkpoint."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest
import torch
from corruption import flip_inside
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
    # A line per image with its face count, and a summary, also with --out.
    lines = captured.out.strip().splitlines()
    for name in ("a/one.jpg", "b/two.PNG", "three.jpg"):
        assert any(
            line.startswith(f"{name}: ") and "faces with score >= 0.5" in line for line in lines
        )
    assert lines[-1].startswith("hambox detect: 3 images, ") and f"-> {out}" in lines[-1]
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


# ---------------------------------------------------------------------------------------------
# hambox detect never loses output (issue 16.5) and reports what it found (18.4)
# ---------------------------------------------------------------------------------------------


def _pixels(path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def _detect(ckpt, target, *extra):
    argv = ["detect", str(target), "--weights", str(ckpt), "--no-progress", "--device", "cpu"]
    return main([*argv, *extra])


def test_images_sharing_a_stem_keep_distinct_prediction_files(tiny, tmp_path, capsys):
    root, ckpt, model = tiny
    src = _val_images(root)
    folder = tmp_path / "photos"
    (folder / "ev").mkdir(parents=True)
    shutil.copy(src[0], folder / "ev" / "x.jpg")
    _pixels(src[1]).save(folder / "ev" / "x.png")
    shutil.copy(src[2], folder / "ev" / "y.jpg")
    shutil.copy(src[2], folder / "ev" / "x.jpg.png")  # its stem is the other's file name
    out = tmp_path / "out"
    assert _detect(ckpt, folder, "--out", str(out), "--batch-size", "1") == 0
    capsys.readouterr()
    names = sorted(p.name for p in (out / "ev").iterdir())
    assert names == ["x.jpg.png.txt", "x.jpg.txt", "x.png.txt", "y.txt"]
    preds = wider_eval.read_predictions(out)
    assert set(preds) == {("ev", "x.jpg"), ("ev", "x.png"), ("ev", "y"), ("ev", "x.jpg.png")}
    # Each file holds its own image's detections.
    for name, path in (("x.jpg", src[0]), ("x.png", folder / "ev" / "x.png")):
        api = Detector(model).detect(_pixels(path))
        assert (out / "ev" / f"{name}.txt").read_text().splitlines()[0] == name
        np.testing.assert_allclose(preds[("ev", name)][:, 4], api.scores, atol=1e-6)


def test_out_refuses_another_runs_results_unless_overwrite(tiny, tmp_path, capsys):
    root, ckpt, _ = tiny
    src = _val_images(root)
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, images in ((first, src[:2]), (second, src[2:])):
        folder.mkdir()
        for image in images:
            shutil.copy(image, folder / image.name)
    out = tmp_path / "out"
    assert _detect(ckpt, first, "--out", str(out), "--draw") == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert _detect(ckpt, second, "--out", str(out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hambox detect: error:")
    assert "already holds the results of another run" in err[0] and "--overwrite" in err[0]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # untouched
    (out / "notes.md").write_text("mine")
    (out / "first" / "todo.txt").write_text("not a prediction file\nkeep me\n")
    assert _detect(ckpt, second, "--out", str(out), "--overwrite") == 0
    assert (out / "first" / "todo.txt").read_text().endswith("keep me\n")  # not a run's file
    (out / "first" / "todo.txt").unlink()
    preds = wider_eval.read_predictions(out)
    assert set(preds) == {("second", p.stem) for p in src[2:]}  # only the second run's files
    assert not list(out.rglob("*.boxes.jpg")) and (out / "notes.md").read_text() == "mine"
    meta = json.loads((out / "protocol.json").read_text())
    assert meta["model"]["checkpoint"] == str(ckpt)


def test_a_huge_image_is_downscaled_with_a_warning_and_boxes_in_original_pixels(
    tiny, tmp_path, capsys
):
    from hambox_torch.cli.detect import boxes_to_original, fit_to_pixels
    from hambox_torch.data.wider import read_image

    root, ckpt, model = tiny
    image = _val_images(root)[0]
    h, w = _pixels(image).size[::-1]
    budget = (h * w) // 3
    out = tmp_path / "out"
    assert _detect(ckpt, image, "--out", str(out), "--max-pixels", str(budget)) == 0
    err = capsys.readouterr().err
    assert f"is above --max-pixels {budget}" in err and "boxes in the original pixels" in err
    pixels = read_image(image).as_subclass(torch.Tensor).float() / 255
    small = fit_to_pixels(pixels, budget)
    assert small.shape[1] * small.shape[2] <= budget < h * w
    ((boxes, _),) = Detector(model).detect_tensors([small])
    expected = boxes_to_original(boxes, tuple(small.shape[1:]), (h, w)).double().numpy()
    (rows,) = wider_eval.read_predictions(out).values()
    np.testing.assert_allclose(rows[:, 0], expected[:, 0], atol=1e-3)
    np.testing.assert_allclose(rows[:, 2], expected[:, 2] - expected[:, 0], atol=1e-3)
    assert (expected[:, 2] <= w).all() and (expected[:, 3] <= h).all()
    # Below the budget nothing changes: the same as the API on the full image.
    assert _detect(ckpt, image, "--out", str(tmp_path / "full")) == 0
    assert "max-pixels" not in capsys.readouterr().err


def test_an_image_out_of_memory_fails_alone(tiny, tmp_path, capsys, monkeypatch):
    root, ckpt, _ = tiny
    src = _val_images(root)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, image in enumerate(src):
        shutil.copy(image, folder / f"{i}.jpg")
    big = _pixels(src[1]).size  # the image the allocator "cannot" fit
    real = Detector.detect_tensors

    def allocate(self, images):
        if any(tuple(im.shape[1:]) == big[::-1] for im in images):
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to ...")
        return real(self, images)

    monkeypatch.setattr(Detector, "detect_tensors", allocate)
    out = tmp_path / "out"
    assert _detect(ckpt, folder, "--out", str(out), "--batch-size", "3") == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert any(line.startswith("hambox detect: 1.jpg: out of memory at") for line in err)
    assert err[-1] == "hambox detect: 1 of 3 images ran out of memory: 1.jpg"
    assert "Traceback" not in captured.err
    assert set(wider_eval.read_predictions(out)) == {("photos", "0"), ("photos", "2")}


def test_a_one_pixel_image(tiny, tmp_path, capsys):
    _, ckpt, _ = tiny
    Image.new("RGB", (1, 1), (128, 128, 128)).save(tmp_path / "dot.png")
    for protocol in ("single", "vga", "multiscale"):
        out = tmp_path / protocol
        assert _detect(ckpt, tmp_path / "dot.png", "--out", str(out), "--protocol", protocol) == 0
        (rows,) = wider_eval.read_predictions(out).values()
        assert np.isfinite(rows).all()
    assert "faces with score" in capsys.readouterr().out


def test_a_corrupted_checkpoint_is_refused_by_every_command(tiny, tmp_path, capsys):
    root, ckpt, model = tiny
    bad = tmp_path / "bad.pt"
    shutil.copy(ckpt, bad)
    flip_inside(bad, model.head.cls.predict.weight)
    image = _val_images(root)[0]
    commands = [
        ["detect", str(image), "--weights", str(bad)],
        ["eval", "--weights", str(bad), "--data", str(root)],
        ["analyze", "--weights", str(bad), "--data", str(root)],
    ]
    if importlib.util.find_spec("onnx") is not None:  # the export needs the onnx extra first
        commands.append(["export", "--weights", str(bad), "--onnx", str(tmp_path / "x.onnx")])
    for argv in commands:
        assert main([*argv, "--no-progress"] if argv[0] != "export" else argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"hambox {argv[0]}: error:"), err
        assert "bad.pt is corrupted: tensor head.cls.predict.weight" in err[0].replace(
            "model.head", "head"
        ), err


def test_eval_defaults_to_the_data_root_of_the_checkpoint(tiny, tmp_path, monkeypatch, capsys):
    root, _, model = tiny
    cfg = load_config(
        CONFIGS / "demo_cpu.yaml",
        ["model.backbone=resnet18", "model.channels=16", f"data.root={root}"],
    )
    trained_here = save_checkpoint(
        tmp_path / "here.pt", model=model, optimizer=None, iteration=1, config=cfg
    )
    monkeypatch.setenv("HAMBOX_DATA", str(tmp_path / "no-cache"))  # no embedded set either
    argv = ["eval", "--weights", str(trained_here), "--no-progress", "--max-images", "1"]
    assert main(argv) == 0
    assert f"data: {root} (the checkpoint's data.root)" in capsys.readouterr().out
    argv = ["analyze", "--weights", str(trained_here), "--no-progress", "--max-images", "1"]
    assert main(argv) == 0
    assert "the checkpoint's data.root" in capsys.readouterr().out
    cfg.data.root = str(tmp_path / "moved")
    moved = save_checkpoint(tmp_path / "moved.pt", model=model, optimizer=None, iteration=1,
                            config=cfg)  # fmt: skip
    assert main(["eval", "--weights", str(moved)]) == 2
    err = capsys.readouterr().err
    assert "trained on data.root" in err and "moved" in err and "--data ROOT" in err


def test_eval_checks_its_outputs_before_evaluating(tiny, tmp_path, capsys):
    root, ckpt, _ = tiny
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for option, value in (("--out", blocker / "preds"), ("--plot", blocker / "pr.png")):
        argv = ["eval", "--weights", str(tmp_path / "missing.pt"), "--data", str(root)]
        assert main([*argv, option, str(value)]) == 2
        err = capsys.readouterr().err
        assert f"{option} " in err and "cannot be written" in err  # before the checkpoint
    (tmp_path / "old" / "ev").mkdir(parents=True)
    (tmp_path / "old" / "ev" / "a.txt").write_text("a\n0\n")
    argv = ["eval", "--weights", str(ckpt), "--data", str(root), "--out", str(tmp_path / "old")]
    assert main(argv) == 2
    assert "already holds the results of another run" in capsys.readouterr().err
