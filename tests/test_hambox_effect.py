"""``examples/hambox_effect.py``'s plumbing on a tiny embedded set: rows, curves, resume-skip,
``hambox analyze`` and the collected JSON (a few iterations; the study itself runs outside CI)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "model.channels=8",
    "data.image_size=96",
    "data.batch_size=1",
    "data.workers=0",
    "run.log_every=1",
]


def study_module():
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import hambox_effect
    finally:
        sys.path.pop(0)
    return hambox_effect


def test_rows_differ_only_in_matching_loss_and_threshold(tmp_path):
    study = study_module()
    from hambox_torch.recipe.config import load_config

    base = load_config(REPO / "configs" / "demo_cpu.yaml")
    configs = {row: study.study_config(row, 2, 3000, tmp_path, 20, []) for row in study.ROWS}
    for row, cfg in configs.items():
        assert cfg.model == base.model and cfg.data == base.data and cfg.anchors.scale == 0.68
        assert (cfg.optim.max_iters, cfg.optim.lr_steps) == (3000, (2375, 2750))  # demo's, scaled
        assert cfg.run.seed == 2 and cfg.run.diag_every == 20
        assert cfg.run.output_dir == str(tmp_path / row / "seed2")
    assert configs["sms"].matching.strategy == "sms" and configs["sms"].loss.kind == "focal"
    oam, ral = configs["sms_oam_t05"], configs["sms_oam_ral_t08"]
    assert (oam.matching.strategy, oam.matching.online_iou_thr, oam.loss.kind) == (
        "hambox",
        0.5,
        "focal",
    )
    assert (ral.matching.online_iou_thr, ral.loss.kind) == (0.8, "ral")
    assert ral.loss.compensated_normalizer == "compensated"
    npos = configs["sms_oam_ral_npos_t08"]
    assert (npos.matching.strategy, npos.matching.online_iou_thr, npos.loss.kind) == (
        "hambox",
        0.8,
        "ral",
    )
    assert npos.loss.compensated_normalizer == "positives"
    # every row other than the npos ones keeps the paper's normaliser
    others = [c for r, c in configs.items() if r not in study.ROW_OVERRIDES]
    assert all(c.loss.compensated_normalizer == "compensated" for c in others)


def test_mean_spread_and_late_mean():
    study = study_module()
    assert study.mean_spread([0.1, 0.3]) == pytest.approx((0.2, math.sqrt(0.02)))
    assert math.isnan(study.mean_spread([0.4])[1])
    c = {"iteration": [10, 20, 30, 40], "k": [1.0, 2.0, None, 4.0]}
    assert study.late_mean(c, "k") == 4.0  # only iterations above 30
    assert study.late_mean({"iteration": [], "k": []}, "k") is None
    # bins of 20 iterations: (1..20) -> 1, 2; (21..40) -> None only, left out; (41..60) -> 4
    c = {"iteration": [10, 20, 30, 50], "k": [1.0, 2.0, None, 4.0]}
    assert study.binned(c, "k", 20) == ([10.0, 50.0], [1.5, 4.0])
    assert study.format_ap(0.4321, math.nan) == "0.432"
    assert study.format_ap(0.4321, 0.0123) == "0.432 ± 0.012"


def test_curve_joins_each_batch_gradient_norm_and_splits_it():
    study = study_module()
    nan = float("nan")
    diag = {k: 0.0 for k in study.CURVE_KEYS}
    history = [
        {"kind": "train", "iteration": 10, "grad_norm": 3.0, "loss": 1.0},
        {"kind": "diagnostics", "iteration": 10, **diag, "compensated_per_outer_face": 0.5},
        {"kind": "train", "iteration": 20, "grad_norm": 40.0},
        {"kind": "diagnostics", "iteration": 20, **diag, "compensated_per_outer_face": 0.0},
        {"kind": "diagnostics", "iteration": 30, **diag, "compensated_per_outer_face": nan},
        {"kind": "train", "iteration": 40, "grad_norm": 7.0},
        {"kind": "diagnostics", "iteration": 40, **diag, "compensated_per_outer_face": nan},
    ]
    c = study.curve(history)
    assert c["iteration"] == [10, 20, 30, 40]
    assert c["grad_norm"] == [3.0, 40.0, None, 7.0]  # 30 has no train record
    assert c["compensated_per_outer_face"] == [0.5, 0.0, None, None]
    # batches with compensated anchors vs the others (no outer face counts as without)
    assert study.gradient_split(c, 0) == {"with": [3.0], "without": [40.0, 7.0]}
    assert study.gradient_split(c, 10) == {"with": [], "without": [40.0, 7.0]}
    assert study.gradient_split({"iteration": [1], "compensated_per_outer_face": [1.0]}, 0) == {
        "with": [],
        "without": [],
    }  # a summary written before grad_norm was logged


def test_refresh_rereads_an_old_summarys_curve(tmp_path):
    study = study_module()
    run = tmp_path / "sms" / "seed0"
    run.mkdir(parents=True)
    diag = {k: 0.1 for k in study.CURVE_KEYS}
    lines = [
        {"kind": "train", "iteration": 5, "grad_norm": 2.5},
        {"kind": "diagnostics", "iteration": 5, **diag},
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    old = {"row": "sms", "curve": {"iteration": [5], **{k: [0.1] for k in study.CURVE_KEYS}}}
    (run / "summary.json").write_text(json.dumps(old))
    summary = study.refresh(run / "summary.json")
    assert summary["curve"]["grad_norm"] == [2.5]
    assert json.loads((run / "summary.json").read_text()) == summary  # written back
    assert study.refresh(run / "summary.json") == summary  # idempotent


@pytest.mark.slow
def test_study_runs_skips_and_collects(tiny_wider_root, tmp_path, capsys):
    study = study_module()
    out = tmp_path / "runs"
    args = ["--rows", "sms", "sms_oam_ral_t05", "--iters", "2", "--diag-every", "1"]
    args += ["--output-dir", str(out), "--analyze", f"data.root={tiny_wider_root}", *TINY]
    assert study.main(args) == 0
    summary = json.loads((out / "sms_oam_ral_t05" / "seed0" / "summary.json").read_text())
    assert summary["iters"] == 2 and summary["online_iou_thr"] == 0.5
    assert summary["curve"]["iteration"] == [1, 2]
    assert set(summary["curve"]) == {"iteration", "grad_norm", *study.CURVE_KEYS}
    assert set(summary["ap"]) == {"easy", "medium", "hard"}
    analysis = summary["analyze"]
    assert analysis["images"] == 3 and set(analysis["compensated"]) == {"hambox", "dms"}
    assert analysis["params"]["matching"]["online_iou_thr"] == 0.5
    # A second call skips the finished runs and gathers them.
    target = tmp_path / "effect.json"
    again = ["--rows", "sms", "--iters", "2", "--output-dir", str(out), "--collect", str(target)]
    assert study.main([*again, f"data.root={tiny_wider_root}", *TINY]) == 0
    printed = capsys.readouterr().out
    assert "== sms seed 0" in printed and printed.count("== sms seed 0") == 1
    payload = json.loads(target.read_text())
    assert [r["row"] for r in payload["runs"]] == ["sms", "sms_oam_ral_t05"]
    assert "| sms |" in printed and "| sms_oam_ral_t05 | 0.5 | ral | 2 | 0 |" in printed


def test_the_docs_figure_and_tables_draw_the_committed_study(tmp_path):
    """docs/data/hambox_effect.json (the study's collected runs) has what the guide page's
    figure and tables read, and each run appears in them."""
    import importlib.util

    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location(
        "fig_hambox_effect", REPO / "docs" / "scripts" / "fig_hambox_effect.py"
    )
    fig = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fig)
    study = study_module()
    runs = fig.load()
    assert runs, "the committed study holds no run"
    for run in runs:
        assert run["row"] in study.ROWS and run["iters"] >= 1
        assert set(run["curve"]) == {"iteration", "grad_norm", *study.CURVE_KEYS}
        assert all(0.0 <= run["ap"][k] <= 1.0 for k in study.SETTINGS)
        assert "weights" not in run.get("analyze", {})  # no path of the machine that ran it
    paths = fig.main(tmp_path)
    table = paths[1].read_text()
    for (row, _), group in study.group_runs(runs).items():
        assert fig.LABELS[row] in table
        mean = study.row_stats(group)["ap"]["hard"][0]
        assert f"{mean:.3f}" in table
    assert paths[0].stat().st_size > 10_000  # a drawn figure, not an empty canvas
    gradients = paths[3].read_text()
    for (row, iters), group in study.group_runs(runs).items():
        split = [study.gradient_split(r["curve"], iters / 3) for r in group]
        n = sum(len(s["with"]) + len(s["without"]) for s in split)
        assert f"{fig.LABELS[row]}\n     - {sum(len(s['with']) for s in split)} of {n}" in gradients
