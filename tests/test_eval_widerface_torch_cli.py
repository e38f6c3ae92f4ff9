"""``hambox eval --breakdown``: the same breakdown as the core's, from a checkpoint."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny(tiny_wider_root, tmp_path_factory):
    """A 3-image WIDER-format set and a random tiny detector's checkpoint (as in
    test_cli_detect_eval.py)."""
    from hambox_torch.cli.train import CONFIGS
    from hambox_torch.recipe.checkpoint import save_checkpoint
    from hambox_torch.recipe.components import build_model
    from hambox_torch.recipe.config import load_config

    cfg = load_config(
        CONFIGS / "demo_cpu.yaml",
        ["model.backbone=resnet18", "model.channels=16", "run.device=cpu"],
    )
    torch.manual_seed(0)
    model = build_model(cfg.model, cfg.anchors).eval()
    with torch.no_grad():
        model.head.cls.predict.weight.mul_(40.0)
    ckpt = save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "tiny.pt",
        model=model,
        optimizer=None,
        iteration=1,
        config=cfg,
    )
    return tiny_wider_root, ckpt


@pytest.mark.torch
def test_hambox_eval_breakdown(tiny, tmp_path, capsys):
    from hambox_core.evaluation import widerface as W
    from hambox_core.evaluation.widerface_breakdown import breakdown
    from hambox_torch.cli import main

    root, ckpt = tiny
    out, bd = tmp_path / "preds", tmp_path / "bd"
    argv = ["eval", "--weights", str(ckpt), "--data", str(root), "--no-progress"]
    assert main([*argv, "--out", str(out), "--breakdown", str(bd)]) == 0
    text = capsys.readouterr().out
    assert "evaluation semantics: official" in text
    assert "size" in text and "group" in text
    saved = json.loads((bd / "breakdown.json").read_text())
    gt = W.load_ground_truth(root / "eval_tools" / "ground_truth")
    expected = breakdown(W.read_predictions(out), gt).to_dict()
    assert [r["ap"] for r in saved["rows"]] == [r["ap"] for r in expected["rows"]]
    assert saved["metadata"]["semantics"] == "official"
