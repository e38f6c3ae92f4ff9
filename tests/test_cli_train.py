"""``hambox train`` (and ``examples/train_widerface.py``, the same command) end to end."""

from __future__ import annotations

import warnings

import pytest

from hambox_torch.cli import main
from hambox_torch.cli.train import CONFIGS
from hambox_torch.data.embedded import generate_embedded
from hambox_torch.engine.train import check_training_config
from hambox_torch.recipe import checkpoint as ckpt
from hambox_torch.recipe.config import ScheduleScalingWarning, load_config


@pytest.fixture(autouse=True)
def _own_data_folder(tmp_path, monkeypatch):
    """A command that reached the embedded set would generate it here, not in the cache."""
    monkeypatch.setenv("HAMBOX_DATA", str(tmp_path / "hambox-data"))


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
        "optim.max_iters=2",  # the schedule is scaled with it
        "run.diag_every=0",
        "run.checkpoint_every=2",
        "run.eval_every=2",
    ]


def test_train_prints_the_ap_table_and_writes_figures(tiny_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *tiny_args(tiny_root, out)]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert text.startswith(f"hambox: training 'demo_cpu' for 2 iterations -> {out}\n")
    assert "done: 2 iterations" in text
    # optim.max_iters alone: demo_cpu.yaml's steps and warm-up follow it, said in one line.
    assert captured.err.strip().splitlines() == [
        "hambox train: warning: optim.max_iters=2 overrides 960: demo_cpu.yaml's schedule is "
        "scaled to it (lr_steps [760, 880] -> [], warmup_iters 50 -> 0); give optim.lr_steps "
        "/ optim.warmup_iters to choose them"
    ]
    saved = load_config(out / "config.yaml").optim
    assert (saved.max_iters, saved.lr_steps, saved.warmup_iters) == (2, (), 0)
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


def test_train_reports_a_missing_data_root_before_writing_anything(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", f"--data-root={tmp_path / 'nowhere'}", f"--output-dir={out}"]) == 2
    captured = capsys.readouterr()
    assert "data.root" in captured.err
    assert captured.out == "" and not out.exists()  # no "training ..." line, no config.yaml


# ---------------------------------------------------------------------------------------------
# The traps of issue 18.4, one test each
# ---------------------------------------------------------------------------------------------


def test_a_shorter_run_is_one_option_away():
    with pytest.warns(ScheduleScalingWarning, match=r"\[760, 880\] -> \[158, 183\]"):
        demo = load_config(CONFIGS / "demo_cpu.yaml", ["optim.max_iters=200"])
    assert (demo.optim.lr_steps, demo.optim.warmup_iters) == ((158, 183), 10)
    paper_file = CONFIGS / "hambox_r50_widerface.yaml"
    with pytest.warns(ScheduleScalingWarning, match=r"\[110000\] -> \[157\]"):
        paper = load_config(paper_file, ["optim.max_iters=200", "data.root=/data"])
    assert (paper.optim.lr_steps, paper.optim.warmup_iters) == ((157,), 1)
    check_training_config(paper)  # a valid schedule
    # Giving the schedule keys too means no scaling; longer runs scale up as well.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        given = ["optim.max_iters=200", "optim.lr_steps=[100]", "optim.warmup_iters=5"]
        assert load_config(CONFIGS / "demo_cpu.yaml", given).optim.lr_steps == (100,)
    with pytest.warns(ScheduleScalingWarning, match=r"warmup_iters 50 -> 100"):
        longer = load_config(CONFIGS / "demo_cpu.yaml", ["optim.max_iters=1920"])
    assert longer.optim.lr_steps == (1520, 1760)


def test_the_shipped_configs_resolve_to_the_same_schedule_as_before():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no scaling without an override of max_iters
        demo = load_config(CONFIGS / "demo_cpu.yaml").optim
        paper = load_config(CONFIGS / "hambox_r50_widerface.yaml").optim
        same = load_config(CONFIGS / "demo_cpu.yaml", ["optim.max_iters=960"]).optim
    assert (demo.max_iters, demo.lr_steps, demo.warmup_iters) == (960, (760, 880), 50)
    assert (paper.max_iters, paper.lr_steps, paper.warmup_iters) == (140_000, (110_000,), 1000)
    assert same == demo


@pytest.mark.parametrize(
    ("override", "fix"),
    [
        ("optim.lr_steps=[5000]", "set e.g. optim.lr_steps=[768]"),
        ("optim.warmup_iters=2000", "set e.g. optim.warmup_iters=96"),
        ("optim.max_iters=140k", "the default is optim.max_iters=140000"),
        ("matching.top_k=0", "the default is matching.top_k=3"),
        ("optim.lrr=0.1", "did you mean 'optim.lr'?"),
        ("optim.qwertyuiopasd=1", "the keys of optim are optimizer, lr, momentum"),
        ("run.eval_every=0", "the default is run.eval_every=10000"),
        ("optim.lr=nan", "must be finite, got nan; the default is optim.lr=0.01"),
    ],
)
def test_every_config_error_suggests_the_fix(tmp_path, capsys, override, fix):
    assert main(["train", f"--output-dir={tmp_path / 'run'}", override]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("hambox train: error:") and fix in captured.err
    assert captured.out == "" and not (tmp_path / "run").exists()


def test_resume_without_a_checkpoint_is_an_error_naming_the_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", f"--output-dir={out}", "--resume"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        f"hambox train: error: nothing to resume: run.output_dir '{out}' does not exist; "
        "start without --resume, or give --resume CKPT"
    )
    # Found before the data: the embedded set was not generated either.
    assert captured.out == "" and not out.exists() and not (tmp_path / "hambox-data").exists()
    assert main(["train", f"--output-dir={out}", "--allow-config-change"]) == 2
    assert "only applies with --resume" in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_written_fails_at_once(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["train", f"--output-dir={blocker / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert "run.output_dir" in err and "is a file, not a folder" in err
