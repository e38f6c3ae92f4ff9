"""Tests of :mod:`hambox_torch.recipe.checkpoint` and :mod:`hambox_torch.engine.optim`:
checkpoint round trips (model, optimizer, scheduler, scaler, RNG), resuming equals not stopping,
atomic writes, clear errors for missing / corrupted / foreign files and mismatched models, the
checkpoint folder helpers, the parameter groups and the learning-rate schedule."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from corruption import flip_inside
from torch import nn

from hambox_torch.engine.optim import (
    WarmupStepSchedule,
    build_lr_scheduler,
    build_optimizer,
    parameter_groups,
)
from hambox_torch.recipe import checkpoint as ckpt
from hambox_torch.recipe.checkpoint import (
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from hambox_torch.recipe.config import Config, OptimConfig, config_from_dict


def lr_factor(iteration, cfg):
    return WarmupStepSchedule.from_config(cfg)(iteration)


ROOT = Path(__file__).resolve().parent.parent


def tiny_net(width: int = 4) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 2),
    )


def short_cfg() -> OptimConfig:
    return OptimConfig(lr=0.1, max_iters=20, lr_steps=(6, 12), warmup_iters=4)


class Run:
    """A model, SGD, the schedule and a CPU GradScaler, trained on fixed random batches."""

    def __init__(self) -> None:
        self.model = tiny_net()
        self.cfg = short_cfg()
        self.optimizer = build_optimizer(self.model, self.cfg)
        self.scheduler = build_lr_scheduler(self.optimizer, self.cfg)
        self.scaler = torch.amp.GradScaler("cpu", init_scale=256.0, growth_interval=2)

    def step(self, it: int) -> None:
        g = torch.Generator().manual_seed(it)
        x = torch.randn(2, 3, 5, 5, generator=g)
        y = torch.randn(2, 2, generator=g)
        loss = (self.model(x) - y).pow(2).mean()
        self.optimizer.zero_grad()
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()

    def save(self, path, iteration, **kw):
        return save_checkpoint(
            path,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            iteration=iteration,
            config=Config(),
            **kw,
        )

    def load(self, path, **kw):
        return load_checkpoint(
            path,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            **kw,
        )


def draws():
    """One number from each generator a checkpoint restores."""
    return (random.random(), float(np.random.rand()), torch.rand(3).tolist())  # noqa: NPY002


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# ---------------------------------------------------------------------------------------------
# Round trip and resume
# ---------------------------------------------------------------------------------------------


def test_round_trip_restores_everything(tmp_path):
    run = Run()
    for it in range(5):
        run.step(it)
    path = run.save(tmp_path / "ckpt_00000005.pt", 5, extra={"best_ap": 0.5, "tags": ["a"]})

    fresh = Run()
    fresh.step(100)  # different weights, momentum, schedule position and scale
    payload = fresh.load(path)

    assert payload["iteration"] == 5
    assert payload["extra"] == {"best_ap": 0.5, "tags": ["a"]}
    assert config_from_dict(payload["config"]) == Config()
    assert_same_state(fresh.model.state_dict(), run.model.state_dict())
    assert fresh.scheduler.last_epoch == run.scheduler.last_epoch == 5
    assert fresh.optimizer.param_groups[0]["lr"] == run.optimizer.param_groups[0]["lr"]
    assert fresh.scaler.state_dict() == run.scaler.state_dict()
    for p_run, p_fresh in zip(run.model.parameters(), fresh.model.parameters(), strict=True):
        buf_run = run.optimizer.state[p_run]["momentum_buffer"]
        assert torch.equal(fresh.optimizer.state[p_fresh]["momentum_buffer"], buf_run)


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    straight = Run()
    for it in range(10):
        straight.step(it)

    first = Run()
    for it in range(4):
        first.step(it)
    path = first.save(tmp_path / "ckpt.pt", 4)
    resumed = Run()
    resumed.load(path)
    for it in range(4, 10):
        resumed.step(it)

    assert_same_state(resumed.model.state_dict(), straight.model.state_dict())
    assert resumed.optimizer.param_groups[0]["lr"] == straight.optimizer.param_groups[0]["lr"]


def test_rng_state_is_restored(tmp_path):
    random.seed(3)
    np.random.seed(3)  # noqa: NPY002
    torch.manual_seed(3)
    random.gauss(0, 1)  # leaves a cached Gaussian in Python's state
    np.random.standard_normal()  # noqa: NPY002  (and in numpy's)
    path = Run().save(tmp_path / "ckpt.pt", 0)
    after_save = draws()
    for _ in range(5):
        draws()
    load_checkpoint(path)
    assert draws() == after_save
    # And restore_rng=False leaves the generators alone.
    for _ in range(5):
        draws()
    before = (random.getstate(), torch.get_rng_state())
    load_checkpoint(path, restore_rng=False)
    assert random.getstate() == before[0]
    assert torch.equal(torch.get_rng_state(), before[1])


def test_file_loads_with_weights_only_and_holds_plain_values(tmp_path):
    run = Run()
    run.step(0)
    path = run.save(tmp_path / "ckpt.pt", 1)
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == ckpt.FORMAT
    assert payload["version"] == ckpt.VERSION
    assert {"model", "optimizer", "scheduler", "scaler", "config", "rng", "extra"} <= set(payload)

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str | int) and plain(v) for k, v in value.items())
        if isinstance(value, list | tuple):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, torch.Tensor | str | int | float | bool)

    assert plain(payload)


def test_wrapped_models_save_plain_keys_and_load_wrapped(tmp_path):
    net = tiny_net()
    path = save_checkpoint(
        tmp_path / "ckpt.pt", model=nn.DataParallel(net), optimizer=None, iteration=0
    )
    state = torch.load(path, weights_only=True)["model"]
    assert not any(k.startswith("module.") for k in state)
    target = nn.DataParallel(tiny_net(width=4))
    with torch.no_grad():
        for p in target.parameters():
            p.zero_()
    load_checkpoint(path, model=target)
    assert_same_state(target.module.state_dict(), net.state_dict())


def test_scaler_is_optional(tmp_path):
    run = Run()
    path = save_checkpoint(
        tmp_path / "ckpt.pt", model=run.model, optimizer=run.optimizer, scaler=None, iteration=0
    )
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
    load_checkpoint(path, model=run.model, scaler=scaler)
    assert scaler.get_scale() == 8.0  # left as it was
    with pytest.raises(CheckpointError, match="no scheduler state"):
        load_checkpoint(path, scheduler=run.scheduler)


# ---------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    run = Run()
    path = run.save(tmp_path / "ckpt_00000001.pt", 1)
    original = path.read_bytes()
    real_save = torch.save

    def crashing_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial")  # some bytes reach the disk, then the writer dies
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        run.save(path, 2)
    monkeypatch.setattr(torch, "save", real_save)

    assert path.read_bytes() == original
    assert load_checkpoint(path)["iteration"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left


@pytest.mark.slow
def test_hard_crash_during_write_leaves_previous_file(tmp_path):
    """A process killed between writing and renaming (no Python cleanup) leaves the old file
    under the final name and only a hidden temporary file beside it."""
    path = Run().save(tmp_path / "ckpt_00000001.pt", 1)
    original = path.read_bytes()
    script = textwrap.dedent(
        f"""
        import os, torch
        from torch import nn
        from hambox_torch.recipe.checkpoint import save_checkpoint
        os.fsync = lambda fd: os._exit(3)  # die after the bytes are written, before the rename
        save_checkpoint({str(path)!r}, model=nn.Linear(2, 1), optimizer=None, iteration=2)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=120)
    assert proc.returncode == 3
    assert path.read_bytes() == original
    leftovers = [p.name for p in tmp_path.iterdir() if p != path]
    assert len(leftovers) == 1 and leftovers[0].startswith(".") and leftovers[0].endswith(".tmp")
    assert latest_checkpoint(tmp_path) == path


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def assert_clean_error(info, path) -> None:
    assert str(path) in str(info.value)
    assert info.value.__cause__ is None  # no torch traceback chained under ours


def test_missing_file(tmp_path):
    path = tmp_path / "nope.pt"
    with pytest.raises(CheckpointError, match="does not exist") as info:
        load_checkpoint(path)
    assert_clean_error(info, path)


@pytest.mark.parametrize("keep", [0.5, 0.9, 16])
def test_truncated_file(tmp_path, keep):
    path = Run().save(tmp_path / "ckpt.pt", 1)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)] if keep < 1 else data[:keep])
    with pytest.raises(CheckpointError, match="truncated") as info:
        load_checkpoint(path)
    assert_clean_error(info, path)


def test_garbage_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_clean_error(info, path)


def test_plain_state_dict_is_foreign(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(tiny_net().state_dict(), path)
    with pytest.raises(CheckpointError, match="not a hambox checkpoint") as info:
        load_checkpoint(path, model=tiny_net())
    assert_clean_error(info, path)
    assert "0.weight" in str(info.value)  # says what the file does hold


class _Payload:
    """Stands for arbitrary pickled code, which weights_only must refuse to run."""

    def __reduce__(self):
        return (print, ("this must not run",))


@pytest.mark.parametrize("how", ["torch", "pickle"])
def test_arbitrary_pickle_is_refused(tmp_path, capsys, how):
    path = tmp_path / "evil.pt"
    if how == "torch":
        torch.save({"format": ckpt.FORMAT, "x": _Payload()}, path)
    else:
        path.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_clean_error(info, path)
    assert "this must not run" not in capsys.readouterr().out


def test_other_version_is_refused(tmp_path):
    path = tmp_path / "v9.pt"
    torch.save({"format": ckpt.FORMAT, "version": 9}, path)
    with pytest.raises(CheckpointError, match="version 9"):
        load_checkpoint(path)


def test_model_mismatch_names_missing_and_unexpected_keys(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.pt", model=tiny_net(), optimizer=None, iteration=0)
    other = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Identity(), nn.Linear(4, 2))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, model=other)
    message = str(info.value)
    assert str(path) in message
    assert "missing keys: 2.weight, 2.bias" in message
    assert "unexpected keys: 1.weight, 1.bias" in message


def test_model_shape_mismatch_names_the_key(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.pt", model=tiny_net(4), optimizer=None, iteration=0)
    with pytest.raises(CheckpointError, match=r"0\.weight has shape \(4, 3, 3, 3\)") as info:
        load_checkpoint(path, model=tiny_net(8))
    assert_clean_error(info, path)


def test_optimizer_mismatch(tmp_path):
    run = Run()
    path = run.save(tmp_path / "ckpt.pt", 0)
    other = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(CheckpointError, match="optimizer state") as info:
        load_checkpoint(path, optimizer=other)
    assert_clean_error(info, path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"iteration": -1}, "iteration"),
        ({"iteration": 1.0}, "iteration"),
        ({"iteration": 0, "extra": [1]}, "extra"),
        ({"iteration": 0, "config": "x.yaml"}, "config"),
    ],
)
def test_save_argument_errors(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        save_checkpoint(tmp_path / "c.pt", model=tiny_net(), optimizer=None, **kwargs)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# Integrity (issue 16.4): a checksum per tensor, written at save, verified at load
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["model", "optimizer"])
def test_flipped_bytes_in_a_tensor_are_named(tmp_path, which):
    run = Run()
    for it in range(3):
        run.step(it)
    path = run.save(tmp_path / "ckpt_00000003.pt", 3)
    if which == "model":
        flip_inside(path, run.model[0].weight)
        name = "model.0.weight"
    else:
        first = next(iter(run.model.parameters()))
        flip_inside(path, run.optimizer.state[first]["momentum_buffer"])
        name = "optimizer.state.0.momentum_buffer"
    with pytest.raises(
        CheckpointError, match=rf"is corrupted: tensor {name} does not match"
    ) as info:
        load_checkpoint(path, model=tiny_net())
    assert_clean_error(info, path)
    with pytest.raises(CheckpointError, match=name):
        ckpt.read_checkpoint(path)


def test_a_changed_value_outside_the_tensors_is_found(tmp_path):
    path = Run().save(tmp_path / "ckpt.pt", 7)
    payload = torch.load(path, weights_only=True)
    payload["iteration"] = 8  # e.g. a bit flipped in the pickled numbers
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="non-tensor values"):
        load_checkpoint(path)
    payload["iteration"] = 7
    payload["integrity"]["tensors"].pop()
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="do not match its integrity record"):
        load_checkpoint(path)
    del payload["integrity"]
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="no valid integrity record"):
        load_checkpoint(path)


def test_version_1_files_load_unverified_with_a_warning(tmp_path):
    run = Run()
    path = run.save(tmp_path / "old.pt", 2)
    payload = torch.load(path, weights_only=True)
    payload["version"] = 1
    del payload["integrity"]
    torch.save(payload, path)
    fresh = Run()
    with pytest.warns(ckpt.CheckpointWarning, match="not verified"):
        fresh.load(path)
    assert_same_state(fresh.model.state_dict(), run.model.state_dict())


def test_every_tensor_of_the_payload_is_recorded(tmp_path):
    run = Run()
    run.step(0)
    path = run.save(tmp_path / "ckpt.pt", 1, extra={"ema": torch.ones(3)})
    payload = torch.load(path, weights_only=True)
    names = [name for name, _ in payload["integrity"]["tensors"]]
    assert set(names) >= {"model.0.weight", "model.1.running_mean", "rng.torch", "extra.ema"}
    assert any(n.startswith("optimizer.state.") for n in names)
    assert len(names) == len(set(names))
    assert ckpt.integrity_record(payload) == payload["integrity"]  # deterministic


def test_a_folder_given_as_checkpoint_says_so(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory, not a checkpoint file") as info:
        load_checkpoint(tmp_path)
    assert "does not exist" not in str(info.value)
    path = Run().save(tmp_path / "ckpt_00000004.pt", 4)
    with pytest.raises(CheckpointError, match=f"its newest checkpoint is {path}"):
        load_checkpoint(tmp_path)


def test_orphan_temporaries_are_removed_at_the_next_save(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(dead.stdout)  # a process that has ended
    orphans = [
        f".ckpt_00000002.pt.{dead_pid}-k2j3h4g5.tmp",  # this version's name, process gone
        ".ckpt_00000001.pt.ab12cd34.tmp",  # an older version's name (no pid)
    ]
    live = f".ckpt_00000003.pt.{os.getppid()}-a1b2c3d4.tmp"  # a save still in progress
    for name in [*orphans, live, "notes.tmp"]:
        (tmp_path / name).write_bytes(b"partial")
    Run().save(tmp_path / "ckpt_00000004.pt", 4)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([live, "notes.tmp", "ckpt_00000004.pt"])


def test_newest_valid_checkpoint_skips_broken_ones(tmp_path):
    run = Run()
    good = run.save(tmp_path / "ckpt_00000002.pt", 2)
    corrupt = run.save(tmp_path / "ckpt_00000004.pt", 4)
    flip_inside(corrupt, run.model[0].weight)
    truncated = run.save(tmp_path / "ckpt_00000006.pt", 6)
    truncated.write_bytes(truncated.read_bytes()[:100])
    path, payload, skipped = ckpt.newest_valid_checkpoint(tmp_path)
    assert path == good and payload["iteration"] == 2
    assert [p for p, _ in skipped] == [truncated, corrupt]
    assert "truncated" in skipped[0][1] and "model.0.weight" in skipped[1][1]
    assert ckpt.newest_valid_checkpoint(tmp_path, exclude=[good])[0] is None


# ---------------------------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------------------------


def test_latest_and_prune(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path / "missing") is None
    names = ["ckpt_00000100.pt", "ckpt_0000900.pt", "ckpt_00001000.pt", "ckpt_00000050.pt"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    # Never picked: a temporary file of an interrupted save, other names, a folder.
    (tmp_path / ".ckpt_00009999.pt.abc.tmp").write_bytes(b"x")
    (tmp_path / "model_final.pt").write_bytes(b"x")
    (tmp_path / "ckpt_latest.pt").write_bytes(b"x")
    (tmp_path / "ckpt_00005000.pt").mkdir()
    assert latest_checkpoint(tmp_path) == tmp_path / "ckpt_00001000.pt"  # by number, not name

    removed = prune_checkpoints(tmp_path, keep=2)
    assert sorted(p.name for p in removed) == ["ckpt_00000050.pt", "ckpt_00000100.pt"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [
        ".ckpt_00009999.pt.abc.tmp",
        "ckpt_00001000.pt",
        "ckpt_00005000.pt",
        "ckpt_0000900.pt",
        "ckpt_latest.pt",
        "model_final.pt",
    ]
    assert prune_checkpoints(tmp_path, keep=2) == []
    with pytest.raises(ValueError, match="keep"):
        prune_checkpoints(tmp_path, keep=0)


def test_checkpoint_path_sorts_and_is_found(tmp_path):
    path = Run().save(checkpoint_path(tmp_path, 5000), 5000)
    assert path.name == "ckpt_00005000.pt"
    assert latest_checkpoint(tmp_path) == path
    with pytest.raises(ValueError, match="iteration"):
        checkpoint_path(tmp_path, -1)


# ---------------------------------------------------------------------------------------------
# Optimizer and schedule
# ---------------------------------------------------------------------------------------------


def test_no_weight_decay_on_biases_and_norms():
    net = tiny_net()
    net[0].bias.requires_grad_(False)  # frozen: in neither group
    decay, no_decay = parameter_groups(net)
    ids = lambda params: {id(p) for p in params}  # noqa: E731
    assert ids(decay) == {id(net[0].weight), id(net[5].weight)}
    assert ids(no_decay) == {id(net[1].weight), id(net[1].bias), id(net[5].bias)}

    opt = build_optimizer(net, OptimConfig(lr=0.1, weight_decay=0.5, momentum=0.0))
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    after = dict(net.named_parameters())
    # Zero gradient: only weight decay moves a parameter, by a factor (1 - lr * wd).
    torch.testing.assert_close(after["0.weight"], before["0.weight"] * 0.95)
    torch.testing.assert_close(after["5.weight"], before["5.weight"] * 0.95)
    for name in ("1.weight", "1.bias", "5.bias", "0.bias"):
        assert torch.equal(after[name], before[name]), name


def test_adamw_keeps_the_decay_groups():
    net = tiny_net()
    opt = build_optimizer(net, OptimConfig(optimizer="adamw", lr=0.1, weight_decay=0.5))
    assert isinstance(opt, torch.optim.AdamW)
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    after = dict(net.named_parameters())
    # Decoupled decay only on the decayed group: a factor (1 - lr * wd) with zero gradient.
    torch.testing.assert_close(after["0.weight"], before["0.weight"] * 0.95)
    assert torch.equal(after["1.bias"], before["1.bias"])


def test_shared_parameter_appears_once():
    lin = nn.Linear(2, 2)
    net = nn.Sequential(lin, lin)
    decay, no_decay = parameter_groups(net)
    assert len(decay) == 1 and len(no_decay) == 1


def test_paper_schedule_at_key_iterations():
    cfg = Config().optim  # 0.01, warm-up 1000 from lr/3, x0.1 at 110k of 140k
    expected = {
        0: 1 / 3,
        500: 2 / 3,
        999: 1 / 3 + (2 / 3) * 999 / 1000,
        1000: 1.0,
        50_000: 1.0,
        109_999: 1.0,
        110_000: 0.1,
        139_999: 0.1,
    }
    for it, factor in expected.items():
        assert lr_factor(it, cfg) == pytest.approx(factor, rel=1e-12), it
    assert cfg.lr * lr_factor(110_000, cfg) == pytest.approx(0.001)


def test_schedule_variants():
    two_steps = OptimConfig(max_iters=100, lr_steps=(10, 20), lr_gamma=0.5, warmup_iters=0)
    assert [lr_factor(i, two_steps) for i in (0, 9, 10, 19, 20, 99)] == [1, 1, 0.5, 0.5, 0.25, 0.25]
    no_steps = OptimConfig(max_iters=100, lr_steps=(), warmup_iters=10, warmup_factor=0.1)
    assert lr_factor(0, no_steps) == pytest.approx(0.1)
    assert lr_factor(5, no_steps) == pytest.approx(0.55)
    assert lr_factor(99, no_steps) == 1.0
    with pytest.raises(ValueError, match="iteration"):
        lr_factor(-1, no_steps)


def test_scheduler_stepping_follows_the_factor():
    cfg = short_cfg()
    net = tiny_net()
    opt = build_optimizer(net, cfg)
    sched = build_lr_scheduler(opt, cfg)
    seen = []
    for _ in range(cfg.max_iters):
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    for it, lrs in enumerate(seen):
        assert lrs == pytest.approx([cfg.lr * lr_factor(it, cfg)] * 2), it
    assert seen[0][0] == pytest.approx(0.1 / 3)
    assert seen[12][0] == pytest.approx(0.001)


def test_scheduler_state_resumes_the_position(tmp_path):
    run = Run()
    for it in range(7):
        run.step(it)
    path = run.save(tmp_path / "ckpt.pt", 7)
    fresh = Run()
    fresh.load(path)
    assert fresh.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * lr_factor(7, fresh.cfg))


def test_optim_argument_errors():
    with pytest.raises(ValueError, match="optim_cfg"):
        build_optimizer(tiny_net(), Config())
    with pytest.raises(ValueError, match="model"):
        build_optimizer("net", OptimConfig())
    frozen = tiny_net().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        build_optimizer(frozen, OptimConfig())
