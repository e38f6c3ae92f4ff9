"""The training engine end to end on a tiny embedded set: outputs, exact resume, DDP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from corruption import flip_inside

from hambox_torch.data.embedded import generate_embedded
from hambox_torch.engine.train import ResumeWarning, train
from hambox_torch.recipe import checkpoint as ckpt
from hambox_torch.recipe.config import load_config, save_config

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    # torchrun's static rendezvous needs a concrete port (port 0 hangs it).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("embedded")
    return generate_embedded(
        root, num_train=8, num_val=3, image_size=((96, 128), (96, 128)), progress=False
    )


def tiny_config(root, out, **extra):
    overrides = [
        f"data.root={root}",
        f"run.output_dir={out}",
        "model.backbone=resnet18",
        "model.channels=8",
        "data.image_size=96",
        "data.batch_size=2",
        "data.workers=0",
        "optim.max_iters=4",
        "optim.lr_steps=[3]",
        "optim.warmup_iters=2",
        "optim.amp=false",
        "run.device=cpu",
        "run.log_every=1",
        "run.diag_every=2",
        "run.checkpoint_every=2",
        "run.eval_every=100",
    ] + [f"{k}={v}" for k, v in extra.items()]
    return load_config(REPO / "configs" / "demo_cpu.yaml", overrides)


@pytest.mark.slow
def test_training_writes_its_outputs_and_evaluates(tiny_root, tmp_path):
    out = tmp_path / "run"
    result = train(tiny_config(tiny_root, out, **{"matching.strategy": "hambox"}), progress=False)
    assert result.iterations == 4
    assert set(result.ap) == {"easy", "medium", "hard"}
    assert all(0.0 <= v <= 1.0 for v in result.ap.values())
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds.count("train") == 4 and kinds.count("diagnostics") == 2 and "eval" in kinds
    assert all(r["loss"] == r["loss"] for r in records if r["kind"] == "train")  # finite
    assert load_config(out / "config.yaml") == tiny_config(
        tiny_root, out, **{"matching.strategy": "hambox"}
    )
    assert ckpt.latest_checkpoint(out).name == "ckpt_0000004.pt"
    assert any((out / "eval_0000004").rglob("*.txt"))
    # The example's figures: PR curves and a sheet of detections, as PNG files.
    from PIL import Image

    from hambox_torch.engine.figures import detections_figure, pr_curve_figure

    cfg = tiny_config(tiny_root, out)
    for make, name in ((pr_curve_figure, "pr.png"), (detections_figure, "det.png")):
        path = make(cfg, result, out / name)
        with Image.open(path) as im:
            assert im.format == "PNG" and im.width > 100


@pytest.mark.slow
def test_resumed_run_equals_an_uninterrupted_one(tiny_root, tmp_path):
    straight = train(tiny_config(tiny_root, tmp_path / "a"), progress=False)
    cfg = tiny_config(tiny_root, tmp_path / "b")
    first = train(cfg, progress=False, stop_at=2)
    assert first.iterations == 2 and not first.ap
    resumed = train(cfg, progress=False, resume=True)
    assert resumed.iterations == 4
    a = straight.model.state_dict()
    b = resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert resumed.ap == straight.ap


def test_missing_resume_file_and_data_root_are_named(tiny_root, tmp_path):
    started = []
    cfg = tiny_config(tiny_root, tmp_path / "c")
    with pytest.raises(ValueError, match="resume checkpoint"):
        train(cfg, progress=False, resume=str(tmp_path / "nope.pt"), on_start=started.append)
    cfg = tiny_config(tmp_path / "no-such-root", tmp_path / "d")
    with pytest.raises(ValueError, match=r"data\.root"):
        train(cfg, progress=False, on_start=started.append)
    # Nothing was written and the run never started.
    assert started == [] and not (tmp_path / "c").exists() and not (tmp_path / "d").exists()


def test_resume_without_a_checkpoint_is_an_error_naming_the_folder(tiny_root, tmp_path):
    out = tmp_path / "fresh"
    with pytest.raises(ValueError, match=rf"nothing to resume: run.output_dir '{out}'"):
        train(tiny_config(tiny_root, out), progress=False, resume=True)
    assert not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("no checkpoint here")
    with pytest.raises(ValueError, match=r"holds no ckpt_<N>\.pt file"):
        train(tiny_config(tiny_root, out), progress=False, resume=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def train_records(out: Path) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.slow
def test_resume_skips_a_corrupted_checkpoint_and_stays_exact(tiny_root, tmp_path):
    """The newest checkpoint is corrupted: an explicit --resume of it names the valid one;
    --resume falls back to it with a warning, drops the metrics logged after it, and the run
    ends bit-identical to an uninterrupted one."""
    straight = train(tiny_config(tiny_root, tmp_path / "a"), progress=False)
    out = tmp_path / "b"
    cfg = tiny_config(tiny_root, out)
    first = train(cfg, progress=False)
    newest = ckpt.latest_checkpoint(out)
    assert newest.name == "ckpt_0000004.pt"
    flip_inside(newest, first.model.state_dict()["head.cls.predict.weight"])
    # A line cut by a kill at the end of the log.
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"kind": "train", "iterat')
    with pytest.raises(
        ckpt.CheckpointError, match=r"tensor model\.head\.cls\.predict\.weight"
    ) as info:
        train(cfg, progress=False, resume=str(newest))
    assert f"the newest valid checkpoint in {out} is {out / 'ckpt_0000002.pt'}" in str(info.value)

    with pytest.warns(
        ResumeWarning, match=r"skipping ckpt_0000004\.pt.*resuming from ckpt_0000002"
    ):
        resumed = train(cfg, progress=False, resume=True)
    assert resumed.iterations == 4
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    records = train_records(out)
    assert [r["iteration"] for r in records if r["kind"] == "train"] == [1, 2, 3, 4]
    assert [r["iteration"] for r in records if r["kind"] == "eval"] == [4]
    (resume,) = [r for r in records if r["kind"] == "resume"]
    assert resume["iteration"] == 2 and resume["checkpoint"].endswith("ckpt_0000002.pt")
    assert "ckpt_0000004.pt" in resume["skipped"][0]
    assert resume["dropped_records"] == 5  # train 3, train 4, diagnostics 4, eval 4, the cut line


@pytest.mark.slow
def test_resume_with_a_changed_config_is_refused_unless_allowed(tiny_root, tmp_path):
    out = tmp_path / "run"
    cfg = tiny_config(tiny_root, out)
    train(cfg, progress=False, stop_at=2)
    original = (out / "config.yaml").read_bytes()
    changed = tiny_config(tiny_root, out, **{"optim.lr": 0.002, "data.batch_size": 1})
    with pytest.raises(ValueError, match=r"data\.batch_size: 2 -> 1; optim\.lr: 0\.001 -> 0\.002"):
        train(changed, progress=False, resume=True)
    assert (out / "config.yaml").read_bytes() == original
    assert ckpt.latest_checkpoint(out).name == "ckpt_0000002.pt"
    # Bookkeeping keys may change: where and how often the loop logs.
    same = tiny_config(tiny_root, out, **{"run.log_every": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResumeWarning)
        train(same, progress=False, resume=True, stop_at=3)
    with pytest.warns(ResumeWarning, match=r"changed config: .*optim\.lr"):
        result = train(changed, progress=False, resume=True, allow_config_change=True)
    assert result.iterations == 4
    assert (out / "config.yaml").read_bytes() == original  # kept
    assert load_config(out / "config_resume_0000003.yaml") == changed
    assert load_config(out / "config_resume_0000002.yaml").run.log_every == 2


def test_truncate_metrics_keeps_the_records_up_to_the_checkpoint(tmp_path):
    from hambox_torch.engine.train import truncate_metrics

    path = tmp_path / "metrics.jsonl"
    rows = [{"kind": "train", "iteration": i} for i in (1, 2, 3, 4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    assert truncate_metrics(path, 2) == 3
    assert [json.loads(line)["iteration"] for line in path.read_text().splitlines()] == [1, 2]
    assert truncate_metrics(path, 2) == 0
    assert truncate_metrics(tmp_path / "missing.jsonl", 5) == 0


@pytest.mark.slow
def test_ddp_two_gloo_processes(tiny_root, tmp_path):
    """torchrun with 2 CPU processes: both ranks step together and rank 0 writes the outputs."""
    out = tmp_path / "ddp"
    script = tmp_path / "run_ddp.py"
    script.write_text(
        "import sys\n"
        "import torch\n"
        "torch.set_num_threads(1)\n"
        "from hambox_torch.recipe.config import load_config\n"
        "from hambox_torch.engine.train import train\n"
        "cfg = load_config(sys.argv[1], sys.argv[2:])\n"
        "result = train(cfg, progress=False)\n"
        "total = sum(float(p.detach().double().sum()) for p in result.model.parameters())\n"
        "print('RESULT', result.iterations, total)\n"
    )
    extra = {"optim.max_iters": 2, "optim.lr_steps": "[1]", "optim.warmup_iters": 1}
    cfg = tiny_config(tiny_root, out, **extra, **{"loss.global_normalize": "true"})
    cfg_path = save_config(cfg, tmp_path / "ddp.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         f"--master_port={free_port()}", str(script), str(cfg_path)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert len(results) == 2
    assert results[0] == results[1]  # both ranks end with the same weights
    assert ckpt.latest_checkpoint(out).name == "ckpt_0000002.pt"
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records if r["kind"] == "train"] == [1, 2]


@pytest.mark.parametrize("script", ["train_widerface.py", "ablation.py"])
def test_example_scripts_explain_themselves(script):
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / script), "--help"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout and "KEY=VALUE" in proc.stdout


def test_ablation_rows_change_only_matching_loss_and_anchors(tmp_path):
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import ablation
    finally:
        sys.path.pop(0)
    base = load_config(REPO / "configs" / "demo_cpu.yaml")
    for row in ablation.ROWS:
        cfg = ablation.row_config(row, 100, tmp_path, [])
        assert cfg.model == base.model and cfg.data == base.data
        assert cfg.optim.max_iters == 100 and cfg.run.output_dir == str(tmp_path / row)
    baseline = ablation.row_config("baseline", None, tmp_path, [])
    assert baseline.anchors.scale == 1.0 and baseline.matching.strategy == "sms"
    ral = ablation.row_config("sms_oam_ral", None, tmp_path, [])
    assert (ral.matching.strategy, ral.loss.kind) == ("hambox", "ral")


class NearestCentreMatcher:
    """A matcher of one's own, in no table: each face takes its K anchors with the nearest
    centres (no IoU at all); everything else is background. The batched matcher contract."""

    def __init__(self, k: int = 2) -> None:
        self.k = k

    def __call__(self, anchors, gt_boxes, gt_valid, pred_boxes=None):
        from hambox_torch.matching import MatchResult

        b, a = gt_boxes.shape[0], anchors.shape[0]
        labels = torch.zeros((b, a), dtype=torch.int8)
        matched = torch.full((b, a), -1, dtype=torch.int64)
        centres = (anchors[:, :2] + anchors[:, 2:]) / 2
        for i in range(b):
            for g in torch.nonzero(gt_valid[i]).flatten().tolist():
                face = (gt_boxes[i, g, :2] + gt_boxes[i, g, 2:]) / 2
                near = torch.topk(-(centres - face).norm(dim=1), self.k).indices
                labels[i, near] = 1
                matched[i, near] = g
        self.calls = getattr(self, "calls", 0) + 1
        return MatchResult(
            labels,
            matched,
            torch.zeros((b, a), dtype=torch.bool),
            torch.zeros((b, a)),
            torch.zeros(gt_valid.shape, dtype=torch.int64),
        )


class PlainBCE:
    """A loss of one's own with the loss contract: BCE over labelled anchors + L1 on positives."""

    def __call__(self, cls_logits, box_deltas, box_targets, labels, compensated, quality):
        self.calls = getattr(self, "calls", 0) + 1
        keep = labels >= 0
        pos = labels == 1
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            cls_logits[keep], pos[keep].float(), reduction="sum"
        ) / pos.sum().clamp(min=1)
        l1 = (box_deltas[pos] - box_targets[pos]).abs().sum() / pos.sum().clamp(min=1)
        return bce, l1


@pytest.mark.slow
def test_training_takes_a_matcher_and_loss_of_ones_own(tiny_root, tmp_path):
    """20 iterations with a user-defined matcher and loss that no table knows."""
    cfg = tiny_config(
        tiny_root,
        tmp_path / "run",
        **{"optim.max_iters": 20, "optim.lr_steps": "[15]", "run.checkpoint_every": 20,
           "run.eval_every": 1000, "run.diag_every": 0},
    )  # fmt: skip
    matcher, loss = NearestCentreMatcher(), PlainBCE()
    result = train(cfg, matcher=matcher, loss=loss, progress=False)
    assert result.iterations == 20
    assert matcher.calls == 20 and loss.calls == 20
    losses = [r["loss_cls"] for r in result.history if r["kind"] == "train"]
    assert len(losses) == 20 and all(v == v and v < float("inf") for v in losses)
    assert ckpt.latest_checkpoint(tmp_path / "run").name == "ckpt_0000020.pt"
