"""``hambox train`` (and ``examples/train_widerface.py``, the same command) end to end."""

from __future__ import annotations

import pytest

from hambox_torch.cli import main
from hambox_torch.cli.train import CONFIGS
from hambox_torch.data.embedded import generate_embedded
from hambox_torch.recipe import checkpoint as ckpt


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("embedded")
    return generate_embedded(
        root, num_train=4, num_val=2, image_size=((96, 128), (96, 128)), progress=False
    )


def tiny_args(root, out):
    return [
        f"--data-root={root}",
        f"--output-dir={out}",
        f"--config={CONFIGS / 'demo_cpu.yaml'}",
        "--no-progress",
        "model.channels=8",
        "data.image_size=96",
        "data.batch_size=2",
        "data.workers=0",
        "optim.max_iters=2",
        "optim.lr_steps=[1]",
        "optim.warmup_iters=1",
        "run.diag_every=0",
        "run.checkpoint_every=2",
        "run.eval_every=2",
    ]


def test_train_prints_the_ap_table_and_writes_figures(tiny_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *tiny_args(tiny_root, out)]) == 0
    text = capsys.readouterr().out
    assert "done: 2 iterations" in text
    for setting in ("easy", "medium", "hard"):
        assert f"| {setting} |" in text
    assert (out / "pr_curves.png").stat().st_size > 0
    assert (out / "detections.png").stat().st_size > 0
    assert ckpt.latest_checkpoint(out).name == "ckpt_0000002.pt"


def test_train_reports_a_bad_override_in_one_line(tmp_path, capsys):
    status = main(["train", f"--output-dir={tmp_path}", "optim.lrr=0.1"])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hambox train: error:") and "optim.lrr" in err[0]


def test_train_reports_a_missing_data_root(tmp_path, capsys):
    assert main(["train", f"--data-root={tmp_path / 'nowhere'}"]) == 2
    assert "data.root" in capsys.readouterr().err
