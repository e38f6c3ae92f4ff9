"""Tests of :mod:`hambox_torch.recipe.config`: YAML round trips, partial files, ``_base_``
inheritance, dotted overrides (types, tuples, null, errors naming the key and file),
validation, the argparse helpers, and every shipped file under ``configs/``."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest
import torch  # noqa: F401  (hambox_torch needs the torch extra; skipped cleanly without it)
import yaml

from hambox_torch.engine import check_training_config
from hambox_torch.recipe.config import (
    RENAMED_KEYS,
    Config,
    ConfigError,
    RenamedKeyWarning,
    add_config_arguments,
    config_from_args,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
    upgrade_config_dict,
    validate,
)

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SHIPPED = sorted(CONFIGS.rglob("*.yaml"))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def non_default_config() -> Config:
    """Every section changed, optional fields set and unset, awkward floats and strings."""
    cfg = Config()
    cfg.name = "odd: name"
    cfg.notes = "yes\nnull\n1e-5 # not a comment"
    cfg.model.pretrained_path = "/weights/r50 imagenet.pth"
    cfg.model.ssh = True
    cfg.model.head = "deep"
    cfg.model.fusion = "sum"
    cfg.anchors.strides = (8, 16, 32)
    cfg.anchors.base_sizes = (24.5, 48.0, 96.0)
    cfg.anchors.ratios = (1.0, 1.5)
    cfg.matching.strategy = "nams"
    cfg.matching.neg_iou_thr = 0.3
    cfg.loss.kind = "focal"
    cfg.loss.beta = 1.0 / 9.0
    cfg.data.root = "2024"
    cfg.optim.lr = 0.1 + 0.2  # 0.30000000000000004: needs every digit
    cfg.optim.weight_decay = 5e-5
    cfg.optim.lr_steps = (100, 200, 300)
    cfg.optim.max_iters = 400
    cfg.optim.warmup_iters = 50
    cfg.optim.grad_clip = 10.0
    cfg.run.eval_max_images = 50
    return validate(cfg)


# ---------------------------------------------------------------------------------------------
# Defaults and round trips
# ---------------------------------------------------------------------------------------------


def test_defaults_are_the_paper_recipe():
    cfg = load_config(None)
    assert cfg == Config()
    assert cfg.name == "hambox"
    assert (cfg.model.backbone, cfg.model.fusion, cfg.model.ssh, cfg.model.head) == (
        "resnet50",
        "product",
        False,
        "single",
    )
    assert cfg.anchors.strides == (4, 8, 16, 32, 64, 128)
    assert cfg.anchors.base_sizes == (16, 32, 64, 128, 256, 512)
    assert cfg.anchors.scale == 0.68
    assert (cfg.matching.strategy, cfg.matching.pos_iou_thr) == ("hambox", 0.35)
    assert (cfg.matching.top_k, cfg.matching.online_iou_thr) == (3, 0.8)
    assert (cfg.data.image_size, cfg.data.batch_size) == (640, 7)
    o = cfg.optim
    assert (o.lr, o.momentum, o.weight_decay) == (0.01, 0.9, 5e-5)
    assert (o.max_iters, o.lr_steps, o.lr_gamma) == (140_000, (110_000,), 0.1)


def test_save_then_load_gives_an_equal_config(tmp_path):
    cfg = non_default_config()
    path = save_config(cfg, tmp_path / "sub" / "saved.yaml")
    loaded = load_config(path)
    assert loaded == cfg
    # Same Python types, not just equal values (tuples stay tuples, floats stay floats).
    assert isinstance(loaded.anchors.strides, tuple)
    assert isinstance(loaded.optim.lr, float)
    # Plain YAML: no Python-specific tags, readable by any YAML reader.
    assert "!!python" not in path.read_text()
    assert yaml.safe_load(path.read_text())["optim"]["lr_steps"] == [100, 200, 300]


def test_dict_round_trip():
    cfg = non_default_config()
    d = config_to_dict(cfg)
    assert d["anchors"]["strides"] == [8, 16, 32]  # plain lists
    assert config_from_dict(d) == cfg


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_shipped_config_loads_validates_and_round_trips(path, tmp_path):
    cfg = load_config(path)
    validate(cfg)
    assert cfg.name == path.stem
    assert load_config(save_config(cfg, tmp_path / "again.yaml")) == cfg


def test_configs_folder_holds_the_expected_files():
    names = {str(p.relative_to(CONFIGS)) for p in SHIPPED}
    assert {
        "hambox_r50_widerface.yaml",
        "hambox_r50_widerface_full.yaml",
        "demo_cpu.yaml",
        "ablation/baseline.yaml",
        "ablation/sms.yaml",
        "ablation/sms_oam.yaml",
        "ablation/sms_oam_ral.yaml",
        "ablation/nams.yaml",
        "ablation/dms.yaml",
    } <= names


def test_main_config_is_the_default_recipe():
    """The commented paper file and the dataclass defaults say the same thing."""
    cfg = load_config(CONFIGS / "hambox_r50_widerface.yaml")
    default = Config()
    for section in ("model", "anchors", "matching", "loss", "data", "optim"):
        assert getattr(cfg, section) == getattr(default, section), section


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # file: (anchor scale, strategy, loss, head, ssh, pyramid anchors)
        ("ablation/baseline.yaml", (1.0, "sms", "focal", "single", False, False)),
        ("ablation/sms.yaml", (0.68, "sms", "focal", "single", False, False)),
        ("ablation/sms_oam.yaml", (0.68, "hambox", "focal", "single", False, False)),
        ("ablation/sms_oam_ral.yaml", (0.68, "hambox", "ral", "single", False, False)),
        ("ablation/sms_oam_ral_dh.yaml", (0.68, "hambox", "ral", "deep", False, False)),
        ("ablation/sms_oam_ral_dh_ssh.yaml", (0.68, "hambox", "ral", "deep", True, False)),
        ("hambox_r50_widerface_full.yaml", (0.68, "hambox", "ral", "deep", True, True)),
        ("ablation/dms.yaml", (0.68, "dms", "focal", "single", False, False)),
        ("ablation/dms_scale050.yaml", (0.5, "dms", "focal", "single", False, False)),
        ("ablation/nams.yaml", (0.68, "nams", "focal", "single", False, False)),
    ],
)
def test_ablation_rows(name, expected):
    cfg = load_config(CONFIGS / name)
    got = (
        cfg.anchors.scale,
        cfg.matching.strategy,
        cfg.loss.kind,
        cfg.model.head,
        cfg.model.ssh,
        cfg.model.pyramid_anchors,
    )
    assert got == expected
    # Everything else is the recipe: same optimisation and data.
    assert cfg.optim == Config().optim
    assert cfg.data == Config().data
    assert cfg.run.output_dir != Config().run.output_dir  # runs do not overwrite each other


def test_demo_config_is_small_and_on_the_cpu():
    cfg = load_config(CONFIGS / "demo_cpu.yaml")
    assert (cfg.model.backbone, cfg.model.channels, cfg.model.head) == ("resnet18", 64, "single")
    assert (cfg.data.image_size, cfg.data.batch_size, cfg.data.workers) == (320, 8, 2)
    assert cfg.run.device == "cpu"
    assert cfg.optim.max_iters <= 1000  # make demo stays within 10 minutes on 2 cores
    assert (cfg.optim.optimizer, cfg.optim.lr, cfg.optim.warmup_iters) == ("adamw", 0.001, 50)
    assert cfg.run.eval_every >= cfg.optim.max_iters  # evaluated once, at the end


# ---------------------------------------------------------------------------------------------
# Files: partial keys, unknown keys, types, _base_
# ---------------------------------------------------------------------------------------------


def test_partial_file_keeps_defaults_and_takes_its_stem_as_name(tmp_path):
    path = write(tmp_path / "tiny.yaml", "optim:\n  lr: 0.05\nmodel:\n")
    cfg = load_config(path)
    assert cfg.optim.lr == 0.05
    assert cfg.name == "tiny"
    expected = Config(name="tiny")
    expected.optim.lr = 0.05
    assert cfg == expected


def test_empty_file_is_the_defaults(tmp_path):
    assert load_config(write(tmp_path / "empty.yaml", "")) == Config(name="empty")


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    path = write(tmp_path / "typo.yaml", "optim:\n  lrr: 0.05\n")
    with pytest.raises(ConfigError, match=r"optim\.lrr") as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "optim.lr'" in str(info.value)  # the suggestion


def test_former_key_names_are_read_as_the_current_ones_with_a_warning(tmp_path):
    # what a file or a checkpoint written before the keys were renamed holds
    path = write(
        tmp_path / "old.yaml", "matching:\n  nams_num_per_face: 5\n  nams_low_iou_thr: 0.2\n"
    )
    with pytest.warns(RenamedKeyWarning) as record:
        cfg = load_config(path)
    assert [str(w.message).split(" (in ")[0] for w in record] == [
        "matching.nams_num_per_face",
        "matching.nams_low_iou_thr",
    ]
    assert all(str(path) in str(w.message) for w in record)
    assert (cfg.matching.num_per_face, cfg.matching.low_iou_thr) == (5, 0.2)
    saved = config_to_dict(cfg)
    saved["matching"]["nams_num_per_face"] = saved["matching"].pop("num_per_face")
    with pytest.warns(RenamedKeyWarning):
        assert config_from_dict(saved, source="ckpt.pt") == cfg
    assert "nams_num_per_face" in saved["matching"]  # the input is not changed
    for former, current in RENAMED_KEYS.items():
        assert current.split(".")[1] in {f.name for f in dataclasses.fields(type(cfg.matching))}
        assert former.split(".")[0] == current.split(".")[0]
    both = {"matching": {"nams_num_per_face": 5, "num_per_face": 5}}
    with pytest.raises(ConfigError, match=r"nams_num_per_face and matching\.num_per_face are both"):
        upgrade_config_dict(both, source="x.yaml")


def test_resuming_a_checkpoint_with_former_key_names_sees_no_change():
    from hambox_torch.engine.train import config_changes

    cfg = Config()
    saved = config_to_dict(cfg)
    saved["matching"]["nams_low_iou_thr"] = saved["matching"].pop("low_iou_thr")
    with pytest.warns(RenamedKeyWarning):
        assert config_changes(saved, cfg) == []
    saved["matching"]["nams_low_iou_thr"] = 0.05
    with pytest.warns(RenamedKeyWarning):
        assert config_changes(saved, cfg) == [
            f"matching.low_iou_thr: 0.05 -> {cfg.matching.low_iou_thr!r}"
        ]


def test_unknown_section_names_the_file(tmp_path):
    path = write(tmp_path / "typo.yaml", "optimizer:\n  lr: 0.05\n")
    with pytest.raises(ConfigError, match="optimizer") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_wrong_type_in_a_file_names_key_type_value_and_file(tmp_path):
    path = write(tmp_path / "bad.yaml", "data:\n  batch_size: seven\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "data.batch_size" in message
    assert "expected int" in message
    assert "'seven'" in message
    assert str(path) in message


def test_float_written_without_a_dot_is_accepted(tmp_path):
    # PyYAML reads 5e-5 (no dot) as the string "5e-5"; a float field still takes it.
    path = write(tmp_path / "wd.yaml", "optim:\n  weight_decay: 5e-5\n")
    assert load_config(path).optim.weight_decay == 5e-5


def test_section_must_be_a_mapping(tmp_path):
    path = write(tmp_path / "bad.yaml", "optim: 0.1\n")
    with pytest.raises(ConfigError, match="optim: expected a mapping"):
        load_config(path)


def test_missing_and_invalid_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value)
    bad = write(tmp_path / "broken.yaml", "optim: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_config(bad)
    assert str(bad) in str(info.value)
    listing = write(tmp_path / "list.yaml", "- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(listing)


def test_base_inheritance_child_wins(tmp_path):
    write(tmp_path / "base.yaml", "optim:\n  lr: 0.05\n  momentum: 0.8\nname: base\n")
    child = write(tmp_path / "sub" / "child.yaml", "_base_: ../base.yaml\noptim:\n  lr: 0.07\n")
    cfg = load_config(child)
    assert cfg.optim.lr == 0.07  # the child's value
    assert cfg.optim.momentum == 0.8  # inherited
    assert cfg.name == "base"  # set by a file, so not the stem


def test_base_list_later_bases_win_and_nest(tmp_path):
    write(tmp_path / "a.yaml", "optim:\n  lr: 0.1\n  momentum: 0.5\n")
    write(tmp_path / "b.yaml", "_base_: a.yaml\noptim:\n  lr: 0.2\n")
    write(tmp_path / "c.yaml", "data:\n  batch_size: 3\n")
    top = write(tmp_path / "top.yaml", "_base_: [b.yaml, c.yaml]\n")
    cfg = load_config(top)
    assert (cfg.optim.lr, cfg.optim.momentum, cfg.data.batch_size) == (0.2, 0.5, 3)


def test_base_errors_name_the_base_file(tmp_path):
    base = write(tmp_path / "base.yaml", "model:\n  sshh: true\n")
    child = write(tmp_path / "child.yaml", "_base_: base.yaml\n")
    with pytest.raises(ConfigError, match=r"model\.sshh") as info:
        load_config(child)
    assert str(base) in str(info.value)
    missing = write(tmp_path / "orphan.yaml", "_base_: gone.yaml\n")
    with pytest.raises(ConfigError, match=r"gone\.yaml"):
        load_config(missing)


def test_base_cycle_is_an_error(tmp_path):
    write(tmp_path / "x.yaml", "_base_: y.yaml\n")
    write(tmp_path / "y.yaml", "_base_: x.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "x.yaml")


def test_type_error_in_an_inherited_value_names_the_file_that_set_it(tmp_path):
    base = write(tmp_path / "base.yaml", "model:\n  channels: 1.5\n")
    child = write(tmp_path / "child.yaml", "_base_: base.yaml\noptim:\n  lr: 0.1\n")
    with pytest.raises(ConfigError, match=r"model\.channels: expected int") as info:
        load_config(child)
    assert str(base) in str(info.value)


# ---------------------------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "getter", "expected"),
    [
        ("optim.lr=0.02", lambda c: c.optim.lr, 0.02),
        ("optim.lr=1", lambda c: c.optim.lr, 1.0),
        ("optim.weight_decay=5e-5", lambda c: c.optim.weight_decay, 5e-5),
        ("model.ssh=true", lambda c: c.model.ssh, True),
        ("model.channels=128", lambda c: c.model.channels, 128),
        (
            "anchors={strides: [8, 16, 32], base_sizes: [16, 32, 64]}",
            lambda c: c.anchors.strides,
            (8, 16, 32),
        ),
        ("anchors.ratios=[1, 1.5]", lambda c: c.anchors.ratios, (1.0, 1.5)),
        ("optim.grad_clip=null", lambda c: c.optim.grad_clip, None),
        ("optim.grad_clip=5", lambda c: c.optim.grad_clip, 5.0),
        ("data.root=None", lambda c: c.data.root, None),
        ("data.root=/data/WIDER", lambda c: c.data.root, "/data/WIDER"),
        ("data.root=2024", lambda c: c.data.root, "2024"),  # text fields keep the raw text
        ("notes=yes", lambda c: c.notes, "yes"),
        ("name=r50-run", lambda c: c.name, "r50-run"),
        ("matching.strategy=sms", lambda c: c.matching.strategy, "sms"),
        ("matching.neg_iou_thr=0.3", lambda c: c.matching.neg_iou_thr, 0.3),
        ("optim={lr: 0.03, momentum: 0.5}", lambda c: (c.optim.lr, c.optim.momentum), (0.03, 0.5)),
    ],
)
def test_override_values_are_typed(override, getter, expected):
    value = getter(load_config(None, [override]))
    assert value == expected
    assert type(value) is type(expected)


def test_list_overrides_of_two_fields_together():
    cfg = load_config(None, ["anchors.strides=[8,16,32]", "anchors.base_sizes=[16,32,64]"])
    assert (cfg.anchors.strides, cfg.anchors.base_sizes) == ((8, 16, 32), (16.0, 32.0, 64.0))


def test_overrides_apply_after_the_file_and_in_order(tmp_path):
    path = write(tmp_path / "f.yaml", "optim:\n  lr: 0.05\n")
    cfg = load_config(path, ["optim.lr=0.02", "optim.lr=0.03", "anchors.scale=0.5"])
    assert (cfg.optim.lr, cfg.anchors.scale) == (0.03, 0.5)


@pytest.mark.parametrize(
    ("override", "needles"),
    [
        ("optim.lrr=0.1", ["optim.lrr", "did you mean 'optim.lr'"]),
        ("optimizer.lr=0.1", ["optimizer"]),
        ("optim.lr.x=0.1", ["optim.lr.x"]),
        ("model.ssh=1", ["model.ssh", "expected bool", "1"]),
        ("model.channels=true", ["model.channels", "expected int", "True"]),
        ("model.channels=2.5", ["model.channels", "expected int", "2.5"]),
        ("optim.lr=null", ["optim.lr", "null is allowed only for optional fields"]),
        ("optim.lr=fast", ["optim.lr", "expected float", "'fast'"]),
        ("anchors.strides=4", ["anchors.strides", "expected a list of int", "4"]),
        ("anchors.strides=[4, x]", ["anchors.strides[1]", "expected int", "'x'"]),
        ("matching.strategy=ham", ["matching.strategy", "'hambox'", "'ham'"]),
        ("model.fusion=concat", ["model.fusion", "'product', 'sum'"]),
        ("optim=0.1", ["optim: expected a mapping"]),
        ("optim.lr", ["key=value"]),
        ("=3", ["dotted key"]),
    ],
)
def test_bad_overrides_name_the_key(override, needles):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    message = str(info.value)
    for needle in needles:
        assert needle in message, (needle, message)


def test_overrides_must_be_a_list():
    with pytest.raises(ConfigError, match="list"):
        load_config(None, "optim.lr=0.1")


def test_override_failing_validation_names_the_rule():
    with pytest.raises(ConfigError, match=r"matching\.top_k: must be an integer >= 1"):
        load_config(None, ["matching.top_k=0"])
    # The training loop's own settings are checked by the engine, before a run writes.
    # (optim.max_iters alone would scale the schedule to it: tests/test_cli_train.py)
    too_late = ["optim.max_iters=1000", "optim.lr_steps=[1000]", "optim.warmup_iters=0"]
    with pytest.raises(ConfigError, match=r"optim\.lr_steps: must all be below max_iters=1000"):
        check_training_config(load_config(None, too_late))


# ---------------------------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------------------------


def modified(**changes):
    """``Config()`` with ``{"section__field": value}`` set, without validation."""
    cfg = Config()
    for key, value in changes.items():
        section, name = key.split("__")
        setattr(getattr(cfg, section), name, value)
    return cfg


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"anchors__base_sizes": (16.0, 32.0)}, "anchors.strides: strides and base_sizes"),
        ({"anchors__strides": (8, 4, 16, 32, 64, 128)}, "anchors.strides"),
        ({"anchors__strides": ()}, "anchors.strides"),
        ({"anchors__scale": 0.0}, "anchors.scale"),
        ({"anchors__ratios": (1.0, -1.0)}, "anchors.ratios"),
        ({"optim__lr": float("nan")}, "optim.lr"),
        ({"matching__pos_iou_thr": 1.5}, "matching.pos_iou_thr"),
        ({"matching__neg_iou_thr": 0.5}, "matching.neg_iou_thr"),
        ({"matching__top_k": 0}, "matching.top_k"),
        ({"matching__strategy": "zcc"}, "matching.strategy"),
        ({"loss__kind": "ohem"}, "loss.kind"),
        ({"loss__gamma": -1.0}, "loss.gamma"),
        ({"loss__compensated_normalizer": "own"}, "loss.compensated_normalizer"),
        ({"model__channels": 0}, "model.channels"),
        ({"model__prior_prob": 1.0}, "model.prior_prob"),
        ({"model__head": "deeper"}, "model.head"),
        ({"data__image_size": -640}, "data.image_size"),
        ({"data__flip_prob": 1.5}, "data.flip_prob"),
        ({"data__root": ""}, "data.root"),
        ({"optim__max_iters": "140k"}, "optim.max_iters"),
        ({"model__ssh": 1}, "model.ssh"),
    ],
)
def test_validate_rejects_and_names_the_key(changes, key):
    cfg = modified(**changes)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(cfg)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"optim__lr_steps": (120_000, 110_000)}, "optim.lr_steps"),
        ({"optim__lr_steps": (140_000,)}, "optim.lr_steps"),
        ({"optim__warmup_iters": 140_000}, "optim.warmup_iters"),
        ({"optim__lr": 0.0}, "optim.lr"),
        ({"optim__momentum": 1.0}, "optim.momentum"),
        ({"optim__warmup_factor": 0.0}, "optim.warmup_factor"),
        ({"optim__grad_clip": 0.0}, "optim.grad_clip"),
        ({"loss__loc_weight": -1.0}, "loss.loc_weight"),
        ({"data__batch_size": 0}, "data.batch_size"),
        ({"data__workers": -1}, "data.workers"),
        ({"run__device": "gpu"}, "run.device"),
        ({"run__log_every": 0}, "run.log_every"),
        ({"run__checkpoint_every": 0}, "run.checkpoint_every"),
        ({"run__eval_max_images": 0}, "run.eval_max_images"),
    ],
)
def test_training_settings_are_checked_by_the_engine(changes, key):
    cfg = validate(modified(**changes))  # not the recipe's components: accepted here
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_training_config(cfg)


def test_checks_list_every_problem_at_once():
    cfg = modified(optim__lr=-1.0, data__batch_size=0, run__device="tpu")
    with pytest.raises(ConfigError) as info:
        check_training_config(cfg)
    message = str(info.value)
    assert all(k in message for k in ("optim.lr", "data.batch_size", "run.device"))
    cfg = modified(matching__top_k=0, data__flip_prob=2.0, anchors__scale=-1.0)
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    message = str(info.value)
    assert all(k in message for k in ("matching.top_k", "data.flip_prob", "anchors.scale"))


@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_training_check_accepts_devices(device):
    check_training_config(modified(run__device=device))


def test_checks_accept_the_no_warmup_and_no_step_cases():
    check_training_config(validate(modified(optim__warmup_iters=0, optim__lr_steps=())))


def test_validate_rejects_other_objects():
    with pytest.raises(ConfigError, match="Config"):
        validate({"optim": {}})
    cfg = Config()
    cfg.optim = dataclasses.replace(cfg.model)
    with pytest.raises(ConfigError, match="optim: expected OptimConfig"):
        validate(cfg)


def test_save_refuses_an_invalid_config(tmp_path):
    with pytest.raises(ConfigError, match=r"matching\.top_k"):
        save_config(modified(matching__top_k=0), tmp_path / "x.yaml")
    assert not (tmp_path / "x.yaml").exists()


# ---------------------------------------------------------------------------------------------
# argparse helpers
# ---------------------------------------------------------------------------------------------


def test_command_line_config_and_overrides(tmp_path):
    path = write(tmp_path / "run.yaml", "optim:\n  lr: 0.05\n")
    parser = argparse.ArgumentParser()
    parser.add_argument("--resume", action="store_true")
    add_config_arguments(parser)
    args = parser.parse_args(["--config", str(path), "optim.lr=0.02", "model.ssh=true", "--resume"])
    cfg = config_from_args(args)
    assert (cfg.optim.lr, cfg.model.ssh, cfg.name) == (0.02, True, "run")
    assert args.resume


def test_command_line_without_config_is_the_default():
    args = add_config_arguments(argparse.ArgumentParser()).parse_args([])
    assert config_from_args(args) == Config()


def test_command_line_error_names_the_override():
    args = add_config_arguments(argparse.ArgumentParser()).parse_args(["model.shh=true"])
    with pytest.raises(ConfigError, match=r"model\.shh.*did you mean 'model\.ssh'"):
        config_from_args(args)
