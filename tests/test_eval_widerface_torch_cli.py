"""``hambox eval --breakdown``: the same breakdown as the core's, from a checkpoint."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

# the 3-image WIDER-format set and random tiny checkpoint of the hambox eval tests
from test_cli_detect_eval import tiny  # noqa: F401


@pytest.mark.torch
def test_hambox_eval_breakdown(tiny, tmp_path, capsys):  # noqa: F811
    from hambox_core.evaluation import widerface as W
    from hambox_core.evaluation.widerface_breakdown import breakdown
    from hambox_torch.cli import main

    root, ckpt, _ = tiny
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
