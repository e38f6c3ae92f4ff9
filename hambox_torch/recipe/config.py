"""The typed training configuration: dataclasses, YAML files, dotted overrides, validation.

A :class:`Config` is seven sections of plain values (:class:`ModelConfig`,
:class:`AnchorConfig`, :class:`MatchingConfig`, :class:`LossConfig`, :class:`DataConfig`,
:class:`OptimConfig`, :class:`RunConfig`) plus a ``name`` and free-form ``notes``. The defaults
are the paper's recipe (section 4.1; :doc:`/guide/training`), so ``Config()`` is the
HAMBox + RAL baseline detector without the Table 4 extras.

YAML files may set any subset of keys; unset keys keep their defaults::

    _base_: ../hambox_r50_widerface.yaml   # optional; a path or a list, relative to this file
    matching:
      strategy: sms
    loss:
      kind: focal

Rules, applied by :func:`load_config`:

- Every key must exist; an unknown key raises :class:`ConfigError` naming the dotted key and the
  file (with the closest valid key when there is one).
- Values are checked against the field types: ``bool`` fields take only ``true``/``false``;
  ``int`` fields take integers (never booleans); ``float`` fields take numbers and also strings
  that Python parses as a float (PyYAML reads ``5e-5``, without a dot, as a string); tuple
  fields take lists; ``null`` is allowed only for the optional fields.
- ``_base_`` files are read first (in list order), then the file's own keys replace theirs,
  then the overrides. Cycles are errors.
- ``name`` defaults to the stem of the file given to :func:`load_config` (``"hambox"``
  without a file) unless a file or an override sets it.
- The result is checked by :func:`validate`, which builds the components the config describes
  (their constructors hold the ranges).

Overrides are ``KEY=VALUE`` strings with a dotted key; the value is read with
``yaml.safe_load``, so ``optim.lr=0.02``, ``model.ssh=true``, ``anchors.ratios=[1,1.5]`` and
``optim.grad_clip=null`` all work; a bare ``None`` is also read as null. Text fields (``name``,
``notes``, ``model.backbone``, ``data.root``, ...) take the raw text after ``=``, so
``data.root=2024`` is the folder "2024" (``null``, ``~`` or ``None`` still mean null for the
optional ones). A section may be set as a mapping: ``optim={lr: 0.02, max_iters: 1000}``.

Examples
--------
>>> cfg = load_config(None, ["optim.lr=0.02", "anchors.ratios=[1, 1.5]"])
>>> cfg.optim.lr, cfg.anchors.ratios, cfg.model.backbone
(0.02, (1.0, 1.5), 'resnet50')
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import os
import re
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "RENAMED_KEYS",
    "AnchorConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "LossConfig",
    "MatchingConfig",
    "ModelConfig",
    "OptimConfig",
    "RenamedKeyWarning",
    "RunConfig",
    "ScheduleScalingWarning",
    "add_config_arguments",
    "component_problem",
    "config_from_args",
    "config_from_dict",
    "config_to_dict",
    "fix_hint",
    "load_config",
    "save_config",
    "scale_schedule",
    "upgrade_config_dict",
    "validate",
]

BASE_KEY = "_base_"
DEFAULT_NAME = "hambox"


#: Keys renamed since an earlier version: former dotted key -> current key. A file or a
#: checkpoint's config that uses a former name is read as if it used the current one
#: (:func:`upgrade_config_dict`), with a :class:`RenamedKeyWarning`.
RENAMED_KEYS = {
    "matching.nams_num_per_face": "matching.num_per_face",
    "matching.nams_low_iou_thr": "matching.low_iou_thr",
}


class RenamedKeyWarning(UserWarning):
    """A config used the former name of a key (:data:`RENAMED_KEYS`); it was read as the
    current one."""


class ScheduleScalingWarning(UserWarning):
    """Overriding ``optim.max_iters`` alone scaled the learning-rate schedule with it (the
    message gives the old and new values)."""


class ConfigError(ValueError):
    """A configuration file, override or value is invalid; the message names the key."""

    @classmethod
    def listing(cls, name: str, problems: list[str]) -> ConfigError:
        """One error listing ``problems`` (``"key: message"`` lines) of config ``name``."""
        return cls(f"invalid config {name!r}:\n  " + "\n  ".join(problems))


@dataclass
class ModelConfig:
    """The detector (paper section 4; :doc:`/guide/training`).

    Attributes
    ----------
    backbone : str
        Torchvision trunk name (``"resnet50"`` in the paper).
    pretrained_path : str or None
        Local file with ImageNet weights for the trunk; never downloaded. ``None`` trains from
        scratch.
    channels : int
        Channels of every pyramid level and head conv.
    fusion : {"product", "sum"}
        LFPN top-down fusion: elementwise product (PyramidBox) or sum (FPN).
    ssh : bool
        Add the SSH context module on every level (Table 4).
    head : {"single", "deep"}
        One 3x3 conv per branch, or the RetinaNet deep head of ``head_convs`` convs (Table 4 DH).
    head_convs : int
        Convs of the deep head.
    pyramid_anchors : bool
        PyramidBox head/body auxiliary targets (Table 4 PA).
    prior_prob : float
        Initial foreground probability of the classification bias (RetinaNet).
    """

    backbone: str = "resnet50"
    pretrained_path: str | None = None
    channels: int = 256
    fusion: Literal["product", "sum"] = "product"
    ssh: bool = False
    head: Literal["single", "deep"] = "single"
    head_convs: int = 4
    pyramid_anchors: bool = False
    prior_prob: float = 0.01


@dataclass
class AnchorConfig:
    """One square anchor per location per level (paper 3.1, footnote 5).

    Attributes
    ----------
    strides : tuple of int
        Level strides, finest first.
    base_sizes : tuple of float
        Anchor side per level before ``scale``; same length as ``strides``.
    scale : float
        Multiplier of every base size: 0.68 for HAMBox, 1.0 for the paper's baseline.
    ratios : tuple of float
        Aspect ratios h/w.
    """

    strides: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
    base_sizes: tuple[float, ...] = (16.0, 32.0, 64.0, 128.0, 256.0, 512.0)
    scale: float = 0.68
    ratios: tuple[float, ...] = (1.0,)


@dataclass
class MatchingConfig:
    """The anchor matcher (paper 3.2; :doc:`/guide/strategies`).

    Attributes
    ----------
    strategy : {"sms", "dms", "nams", "hambox"}
        Step one only, + max-IoU anchor for unmatched faces, S3FD compensation, or online
        high-quality anchor mining.
    pos_iou_thr : float
        Step-one positive threshold (0.35 in the paper).
    neg_iou_thr : float or None
        Background below this IoU; ``None`` means ``pos_iou_thr`` (no ignored band).
    top_k : int
        HAMBox K: anchors a face may hold after compensation.
    online_iou_thr : float
        HAMBox T: IoU a predicted box needs to be mined.
    high_quality_iou_thr : float
        Background anchors whose prediction reaches this IoU with a face are ignored (Eq. 1).
    num_per_face : int
        NAMS N.
    low_iou_thr : float
        NAMS lower IoU bound for compensated anchors.
    """

    strategy: Literal["sms", "dms", "nams", "hambox"] = "hambox"
    pos_iou_thr: float = 0.35
    neg_iou_thr: float | None = None
    top_k: int = 3
    online_iou_thr: float = 0.8
    high_quality_iou_thr: float = 0.5
    num_per_face: int = 3
    low_iou_thr: float = 0.1


@dataclass
class LossConfig:
    """Classification and box losses (paper 3.3; :doc:`/guide/loss`).

    Attributes
    ----------
    kind : {"ral", "focal"}
        Regression-aware focal loss, or the standard focal loss that treats every positive alike.
    alpha : float
        Focal weight of the positive class; a negative value disables the weighting.
    gamma : float
        Focal exponent.
    beta : float
        Smooth-L1 transition point.
    loc_weight : float
        Weight of the box loss in the total.
    global_normalize : bool
        Average the normalisers over the DDP processes.
    compensated_normalizer : {"compensated", "positives"}
        ``ral`` only: divide the compensated anchors' loss by their own count (the paper), or
        every term by the number of positives (not the paper's; for studies). See
        :func:`hambox_torch.losses.regression_aware_focal_loss`.
    """

    kind: Literal["ral", "focal"] = "ral"
    alpha: float = 0.25
    gamma: float = 2.0
    beta: float = 1.0 / 9.0
    loc_weight: float = 1.0
    global_normalize: bool = False
    compensated_normalizer: Literal["compensated", "positives"] = "compensated"


@dataclass
class DataConfig:
    """Training data and augmentation (paper 4.1 "Data Augmentation").

    Attributes
    ----------
    root : str or None
        WIDER FACE-layout folder; ``None`` uses the embedded default data set.
    image_size : int
        Side of the square training crop (640 in the paper).
    batch_size : int
        Images per process and iteration (7 per GPU in the paper).
    workers : int
        DataLoader worker processes per training process.
    das_prob : float
        Probability of data-anchor-sampling (PyramidBox) for an image.
    flip_prob : float
        Probability of a horizontal flip.
    photometric : bool
        Apply the photometric distortions.
    min_face : float
        Faces smaller than this side (pixels, after the crop is resized) are dropped from the
        training targets.
    """

    root: str | None = None
    image_size: int = 640
    batch_size: int = 7
    workers: int = 4
    das_prob: float = 0.5
    flip_prob: float = 0.5
    photometric: bool = True
    min_face: float = 6.0


@dataclass
class OptimConfig:
    """SGD and the learning-rate schedule (paper 4.1 "Optimization Details").

    Attributes
    ----------
    optimizer : {"sgd", "adamw"}
        SGD with momentum (the paper's), or AdamW (ours, for short runs from scratch such as
        the CPU demo, where SGD at the paper's rate diverges and a stable rate learns slowly).
    lr : float
        Base learning rate (0.01).
    momentum : float
        SGD momentum (0.9); AdamW's beta1 is fixed at 0.9.
    weight_decay : float
        L2 weight decay (5e-5), applied to conv and linear weights only (see
        :func:`hambox_torch.engine.optim.build_optimizer`).
    max_iters : int
        Training iterations (140k).
    lr_steps : tuple of int
        Iterations at which the rate is multiplied by ``lr_gamma`` (110k).
    lr_gamma : float
        Step decay factor (0.1: 0.01 -> 0.001).
    warmup_iters : int
        Linear warm-up length. The paper gives no warm-up; 1000 iterations from
        ``warmup_factor * lr`` is our choice, as is common for RetinaNet-style detectors with
        a 0.01 rate. ``0`` disables it.
    warmup_factor : float
        Fraction of ``lr`` at iteration 0.
    grad_clip : float or None
        Max global gradient norm, or ``None`` for no clipping.
    amp : bool
        Mixed precision (float16 autocast + GradScaler) on CUDA; ignored on the CPU.
    cpu_bf16 : bool
        bfloat16 autocast on the CPU (about 2x faster on the project's machines).
    """

    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-5
    max_iters: int = 140_000
    lr_steps: tuple[int, ...] = (110_000,)
    lr_gamma: float = 0.1
    warmup_iters: int = 1000
    warmup_factor: float = 1.0 / 3.0
    grad_clip: float | None = None
    amp: bool = True
    cpu_bf16: bool = False


@dataclass
class RunConfig:
    """Where and how often the training loop writes, logs and evaluates.

    Attributes
    ----------
    output_dir : str
        Folder for checkpoints, logs and the saved config.
    seed : int
        Base random seed.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
    log_every, eval_every, checkpoint_every : int
        Periods in iterations, >= 1. The training loop also evaluates and checkpoints at the
        last iteration, so a period above ``optim.max_iters`` means "only at the end".
    diag_every : int
        Period of the matching diagnostics; ``0`` disables them.
    tensorboard : bool
        Also write TensorBoard events.
    eval_max_images : int or None
        Evaluate on at most this many validation images (``None``: all).
    """

    output_dir: str = "runs/hambox"
    seed: int = 0
    device: str = "auto"
    log_every: int = 20
    eval_every: int = 10_000
    checkpoint_every: int = 5000
    diag_every: int = 1000
    tensorboard: bool = False
    eval_max_images: int | None = None


@dataclass
class Config:
    """A whole training configuration; see the module docstring for files and overrides.

    Examples
    --------
    >>> cfg = Config()
    >>> cfg.matching.strategy, cfg.loss.kind, cfg.anchors.scale, cfg.optim.lr_steps
    ('hambox', 'ral', 0.68, (110000,))
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    anchors: AnchorConfig = field(default_factory=AnchorConfig)
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    name: str = DEFAULT_NAME
    notes: str = ""


# Section name -> dataclass, and the top-level scalar keys, in declaration order.
SECTIONS: dict[str, type] = {
    f.name: f.default_factory for f in dataclasses.fields(Config) if f.name not in ("name", "notes")
}
TOP_LEVEL_KEYS = ("name", "notes")


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


# ---------------------------------------------------------------------------------------------
# Type checking of single values
# ---------------------------------------------------------------------------------------------


def _optional_arm(tp) -> tuple[bool, Any]:
    """``(True, X)`` for ``X | None``, ``(False, tp)`` otherwise."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(args) < len(typing.get_args(tp)):
            return True, args[0]
    return False, tp


def _type_name(tp) -> str:
    optional, inner = _optional_arm(tp)
    if optional:
        return f"{_type_name(inner)} or null"
    origin = typing.get_origin(inner)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(inner))
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(inner)[0])}"
    return inner.__name__


def _location(source: str | None) -> str:
    return f" (in {source})" if source else ""


def _coerce(value, tp, key: str, source: str | None):
    """Check ``value`` against the field type ``tp``; return it converted (list -> tuple,
    int -> float for float fields). Raises :class:`ConfigError` naming ``key``."""

    def bad(extra: str = ""):
        return ConfigError(
            f"{key}: expected {_type_name(tp)}, got {value!r}{extra}{_location(source)}"
            f"{fix_hint(key)}"
        )

    optional, inner = _optional_arm(tp)
    if value is None:
        if optional:
            return None
        raise bad("; null is allowed only for optional fields")
    origin = typing.get_origin(inner)
    if origin is Literal:
        if isinstance(value, str) and value in typing.get_args(inner):
            return value
        raise bad()
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise bad("; write a list, e.g. [1, 2]")
        elem = typing.get_args(inner)[0]
        return tuple(_coerce(v, elem, f"{key}[{i}]", source) for i, v in enumerate(value))
    if inner is bool:
        if isinstance(value, bool):
            return value
        raise bad()
    if inner is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad()
    if inner is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise bad()
    if inner is str:
        if isinstance(value, str):
            return value
        raise bad()
    raise TypeError(f"unsupported config field type {tp!r} for {key}")  # a bug in this module


# ---------------------------------------------------------------------------------------------
# Flat key/value layers: each file and the overrides become {dotted key: (value, source)}
# ---------------------------------------------------------------------------------------------


def _all_keys() -> list[str]:
    keys = list(TOP_LEVEL_KEYS)
    for section, cls in SECTIONS.items():
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(cls)]
    return keys


def _unknown_key(key: str, source: str | None, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    section = key.split(".")[0]
    if close:
        hint = f"; did you mean {close[0]!r}?"
    elif section in SECTIONS and "." in key:
        names = ", ".join(f.name for f in dataclasses.fields(SECTIONS[section]))
        hint = f"; the keys of {section} are {names}"
    else:
        hint = f"; the top-level keys are {', '.join([*SECTIONS, *TOP_LEVEL_KEYS])}"
    return ConfigError(f"unknown key {key!r}{_location(source)}{hint}")


def _yaml_text(value) -> str:
    """``value`` as one would write it after ``key=`` (lists inline, null for None)."""
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("...").strip()


def _default_of(key: str):
    """``(True, default)`` of a dotted field key, ``(False, None)`` for anything else."""
    parts = key.split(".")
    if len(parts) == 1 and parts[0] in TOP_LEVEL_KEYS:
        return True, getattr(Config(), parts[0])
    if len(parts) == 2 and parts[0] in SECTIONS:
        section = SECTIONS[parts[0]]()
        if hasattr(section, parts[1]):
            return True, getattr(section, parts[1])
    return False, None


def fix_hint(key: str, config: Config | None = None) -> str:
    """What to set to fix a problem of ``key``, as ``"; set ..."`` text (``""`` if nothing
    useful can be said).

    The schedule keys get a value that fits ``config``'s ``optim.max_iters``; other keys their
    default when ``config`` holds something else.

    Examples
    --------
    >>> cfg = Config()
    >>> cfg.optim.max_iters = 2000
    >>> fix_hint("optim.lr_steps", cfg)  # doctest: +ELLIPSIS
    '; set e.g. optim.lr_steps=[1600] (or [] for no decay), or override only optim.max_iters...'
    >>> fix_hint("matching.top_k")
    '; the default is matching.top_k=3'
    """
    if config is not None and key in ("optim.lr_steps", "optim.warmup_iters"):
        m = config.optim.max_iters
        if not (isinstance(m, int) and m >= 1):
            return ""
        warmup = f"optim.warmup_iters={min(m - 1, m // 10)}"
        if key == "optim.warmup_iters":
            return f"; set e.g. {warmup} (0 for no warm-up)"
        steps = f"[{max(1, min(m - 1, round(0.8 * m)))}]" if m >= 2 else "[]"
        also = f" {warmup}" if not 0 <= config.optim.warmup_iters < m else ""
        return (
            f"; set e.g. optim.lr_steps={steps}{also} (or [] for no decay), or override only "
            "optim.max_iters to have the schedule scaled with it"
        )
    known, default = _default_of(key)
    if not known:
        return ""
    if config is not None:
        section, _, name = key.partition(".")
        current = getattr(getattr(config, section), name) if name else getattr(config, section)
        if current == default:
            return ""
    return f"; the default is {key}={_yaml_text(default)}"


def upgrade_config_dict(mapping: dict, source: str | None = None) -> dict:
    """A nested config mapping with every former key name of :data:`RENAMED_KEYS` replaced
    by the current one (a copy; the input is not changed), warning once per renamed key.

    Parameters
    ----------
    mapping : dict
        Sections to keys to values, as a YAML file or a checkpoint's ``"config"`` holds them.
    source : str, optional
        Where the mapping comes from, named in the warning and in errors.

    Returns
    -------
    dict

    Raises
    ------
    ConfigError
        If a former name and its current name are both given.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", RenamedKeyWarning)
    ...     upgrade_config_dict({"matching": {"nams_num_per_face": 3}})
    {'matching': {'num_per_face': 3}}
    """
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in mapping.items()}
    for former, current in RENAMED_KEYS.items():
        section, old_name = former.split(".")
        new_name = current.split(".")[1]
        block = out.get(section)
        if not isinstance(block, dict) or old_name not in block:
            continue
        if new_name in block:
            raise ConfigError(
                f"{former} and {current} are both given{_location(source)}: {former} is the "
                f"former name of {current}; keep only {current}"
            )
        block[new_name] = block.pop(old_name)
        warnings.warn(
            f"{former}{_location(source)} is now called {current}; read as {current}",
            RenamedKeyWarning,
            stacklevel=3,
        )
    return out


def _flatten(mapping, source: str | None) -> dict[str, tuple[Any, str | None]]:
    """``{"optim": {"lr": 0.1}, "name": "x"}`` -> ``{"optim.lr": (0.1, source), ...}``."""
    if not isinstance(mapping, dict):
        raise ConfigError(
            f"expected a mapping of keys to values, got {mapping!r}{_location(source)}"
        )
    mapping = upgrade_config_dict(mapping, source)
    valid = _all_keys()
    flat: dict[str, tuple[Any, str | None]] = {}
    for top, value in mapping.items():
        if top in TOP_LEVEL_KEYS:
            flat[top] = (value, source)
        elif top in SECTIONS:
            if value is None:  # an empty "optim:" block in YAML
                continue
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{top}: expected a mapping of {top} keys, got {value!r}{_location(source)}"
                )
            names = {f.name for f in dataclasses.fields(SECTIONS[top])}
            for sub, subvalue in value.items():
                dotted = f"{top}.{sub}"
                if sub not in names:
                    raise _unknown_key(dotted, source, valid)
                flat[dotted] = (subvalue, source)
        else:
            raise _unknown_key(str(top), source, valid + list(SECTIONS))
    return flat


def _build(flat: dict[str, tuple[Any, str | None]], default_name: str) -> Config:
    sections = {}
    for section, cls in SECTIONS.items():
        hints = _field_types(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            dotted = f"{section}.{f.name}"
            if dotted in flat:
                value, source = flat[dotted]
                kwargs[f.name] = _coerce(value, hints[f.name], dotted, source)
        sections[section] = cls(**kwargs)
    top = {}
    for key in TOP_LEVEL_KEYS:
        if key in flat:
            value, source = flat[key]
            top[key] = _coerce(value, str, key, source)
    top.setdefault("name", default_name)
    return Config(**sections, **top)


def _read_yaml(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return {} if data is None else data


def _file_layers(path: Path, stack: tuple[Path, ...]) -> dict[str, tuple[Any, str | None]]:
    """The flat keys of ``path`` after its ``_base_`` files, resolved recursively."""
    resolved = path.resolve()
    if resolved in stack:
        chain = " -> ".join(str(p) for p in (*stack, resolved))
        raise ConfigError(f"_base_ cycle: {chain}")
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values, got {data!r}")
    data = dict(data)
    bases = data.pop(BASE_KEY, None)
    if bases is None:
        bases = []
    elif isinstance(bases, str):
        bases = [bases]
    elif not (isinstance(bases, list) and all(isinstance(b, str) for b in bases)):
        raise ConfigError(
            f"{BASE_KEY}: expected a path or a list of paths, got {bases!r} (in {path})"
        )
    flat: dict[str, tuple[Any, str | None]] = {}
    for base in bases:
        flat.update(_file_layers(path.parent / base, (*stack, resolved)))
    flat.update(_flatten(data, str(path)))
    return flat


def _is_text_field(parts: list[str]) -> bool:
    """Whether the dotted key ``parts`` names a ``str`` or ``str | None`` field."""
    if len(parts) == 1:
        return parts[0] in TOP_LEVEL_KEYS
    cls = SECTIONS.get(parts[0])
    if cls is None:
        return False
    tp = _field_types(cls).get(parts[1])
    return tp is not None and _optional_arm(tp)[1] is str


def _parse_override(text: str) -> dict:
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(f"override {text!r} must have the form key=value, e.g. optim.lr=0.02")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key):
        raise ConfigError(f"override {text!r}: {key!r} is not a dotted key like optim.lr")
    parts = key.split(".")
    if len(parts) > 2:
        raise _unknown_key(key, f"override {text!r}", _all_keys())
    is_text = _is_text_field(parts)
    if raw.strip() in ("None", "none") or (is_text and raw.strip() in ("null", "~")):
        value = None
    elif is_text:
        # Text fields take the raw text, so data.root=2024 or notes=yes stay strings.
        value = raw
    else:
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {text!r}: the value is not valid YAML: {exc}") from None
    nested: Any = value
    for part in reversed(parts):
        nested = {part: nested}
    return nested


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def load_config(path: str | os.PathLike | None = None, overrides=()) -> Config:
    """Read a YAML config (any subset of keys), apply dotted overrides, validate.

    Parameters
    ----------
    path : str, path-like or None
        YAML file; ``None`` starts from the defaults (the paper's recipe).
    overrides : sequence of str
        ``"section.key=value"`` strings, applied in order after the file; values are read
        with ``yaml.safe_load``.

    Returns
    -------
    Config
        Typed and checked by :func:`validate`.

    Raises
    ------
    ConfigError
        An unknown key (named with its file), a value of the wrong type (named with the
        expected type), a malformed override, a missing or unreadable file, a ``_base_``
        cycle, or a failed validation.

    Examples
    --------
    >>> load_config(None, ["model.ssh=true", "optim.grad_clip=10"]).optim.grad_clip
    10.0
    """
    if isinstance(overrides, str):
        raise ConfigError(f"overrides must be a list of key=value strings, got {overrides!r}")
    flat: dict[str, tuple[Any, str | None]] = {}
    default_name = DEFAULT_NAME
    if path is not None:
        path = Path(path)
        flat.update(_file_layers(path, ()))
        default_name = path.stem
    given: dict[str, tuple[Any, str | None]] = {}
    for text in overrides:
        given.update(_flatten(_parse_override(text), f"override {text!r}"))
    note = _scale_schedule(flat, given, path)
    flat.update(given)
    config = _build(flat, default_name)
    validate(config)
    if note:
        warnings.warn(note, ScheduleScalingWarning, stacklevel=2)
    return config


#: The schedule keys that follow ``optim.max_iters`` when only it is overridden.
SCALED_KEYS = ("optim.lr_steps", "optim.warmup_iters")


def _field_value(flat: dict, key: str):
    """The typed value of ``key`` in ``flat`` (its default when absent), or None if invalid."""
    section, name = key.split(".")
    tp = _field_types(SECTIONS[section])[name]
    if key not in flat:
        return getattr(SECTIONS[section](), name)
    value, source = flat[key]
    try:
        return _coerce(value, tp, key, source)
    except ConfigError:
        return None  # reported by _build


def scale_schedule(lr_steps, warmup_iters: int, old_iters: int, new_iters: int):
    """A step schedule made for ``old_iters`` iterations, stretched to ``new_iters``.

    Each value is multiplied by ``new_iters / old_iters`` and rounded; steps are kept in
    ``[1, new_iters)`` without repeats and the warm-up below ``new_iters``, so the result is
    always a valid schedule (a very short run may lose a step).

    Returns
    -------
    (tuple of int, int)
        ``lr_steps`` and ``warmup_iters``.

    Examples
    --------
    >>> scale_schedule((760, 880), 50, 960, 200)
    ((158, 183), 10)
    >>> scale_schedule((110_000,), 1000, 140_000, 200)
    ((157,), 1)
    >>> scale_schedule((110_000,), 1000, 140_000, 2)  # the step would land on the last one
    ((), 0)
    """
    ratio = new_iters / old_iters
    steps: list[int] = []
    for step in lr_steps:
        scaled = max(1, round(step * ratio))
        if scaled < new_iters and (not steps or scaled > steps[-1]):
            steps.append(scaled)
    return tuple(steps), min(round(warmup_iters * ratio), new_iters - 1)


def _scale_schedule(flat: dict, given: dict, path) -> str:
    """When ``given`` (the overrides) sets ``optim.max_iters`` but not the schedule keys, put
    the file's (or default) schedule scaled to the new length into ``given``; return what was
    done, or ``""``."""
    if "optim.max_iters" not in given or all(key in given for key in SCALED_KEYS):
        return ""
    old, new = _field_value(flat, "optim.max_iters"), _field_value(given, "optim.max_iters")
    steps, warmup = _field_value(flat, "optim.lr_steps"), _field_value(flat, "optim.warmup_iters")
    if not all(isinstance(v, int) and v >= 1 for v in (old, new)) or old == new:
        return ""
    if steps is None or warmup is None:
        return ""
    new_steps, new_warmup = scale_schedule(steps, warmup, old, new)
    origin = f"{Path(path).name}'s" if path is not None else "the default"
    source = f"scaled from {origin} schedule with optim.max_iters={new}"
    done = []
    if "optim.lr_steps" not in given:
        given["optim.lr_steps"] = (list(new_steps), source)
        done.append(f"lr_steps {list(steps)} -> {list(new_steps)}")
    if "optim.warmup_iters" not in given:
        given["optim.warmup_iters"] = (new_warmup, source)
        done.append(f"warmup_iters {warmup} -> {new_warmup}")
    return (
        f"optim.max_iters={new} overrides {old}: {origin} schedule is scaled to it "
        f"({', '.join(done)}); give optim.lr_steps / optim.warmup_iters to choose them"
    )


def config_from_dict(mapping, source: str | None = None) -> Config:
    """Build and validate a :class:`Config` from a nested mapping (e.g. a checkpoint's
    ``"config"``), with the same key and type rules as a YAML file.

    Examples
    --------
    >>> config_from_dict({"optim": {"lr": 0.05}}).optim.lr
    0.05
    """
    mapping = dict(mapping)
    if BASE_KEY in mapping:
        raise ConfigError(f"{BASE_KEY} is only allowed in files{_location(source)}")
    config = _build(_flatten(mapping, source), DEFAULT_NAME)
    validate(config)
    return config


def config_to_dict(config: Config) -> dict:
    """Nested plain dict of ``config`` (tuples as lists), for YAML, JSON or a checkpoint.

    Examples
    --------
    >>> config_to_dict(Config())["anchors"]["strides"]
    [4, 8, 16, 32, 64, 128]
    """
    if not isinstance(config, Config):
        raise ValueError(f"config must be a Config, got {type(config).__name__}")

    def plain(value):
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    out: dict[str, Any] = {"name": config.name, "notes": config.notes}
    for section in SECTIONS:
        obj = getattr(config, section)
        out[section] = {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    return out


class _Dumper(yaml.SafeDumper):
    """Block-style sections, one key per line, lists inline (``strides: [4, 8, 16]``)."""


_Dumper.add_representer(
    list, lambda dumper, value: dumper.represent_sequence("tag:yaml.org,2002:seq", value, True)
)


def save_config(config: Config, path: str | os.PathLike) -> Path:
    """Validate ``config`` and write it as YAML that :func:`load_config` reads back equal.

    Returns
    -------
    Path
        The written file (parent folders are created).
    """
    validate(config)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(config_to_dict(config), Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    path.write_text(f"# hambox training config ({config.name})\n{text}", encoding="utf-8")
    return path


def _check_types(config: Config) -> None:
    if not isinstance(config, Config):
        raise ConfigError(f"config must be a Config, got {type(config).__name__}")
    for key in TOP_LEVEL_KEYS:
        _coerce(getattr(config, key), str, key, None)
    for section, cls in SECTIONS.items():
        obj = getattr(config, section)
        if not isinstance(obj, cls):
            raise ConfigError(f"{section}: expected {cls.__name__}, got {type(obj).__name__}")
        hints = _field_types(cls)
        for f in dataclasses.fields(cls):
            value = getattr(obj, f.name)
            # Integers where floats are declared are fine in hand-built configs.
            _coerce(value, hints[f.name], f"{section}.{f.name}", None)


def component_problem(section: str, exc: Exception, config: Config | None = None) -> str:
    """A component's error as a config problem, ``section.param: message``, with a fix.

    Components name their parameter first (``pos_iou_thr must lie in [0, 1], got 2``, or
    ``image_size: ...``); when the first word is a field of ``section`` it becomes the key,
    else the section is. With ``config``, the key's :func:`fix_hint` is appended.

    >>> component_problem("optim", ValueError("lr must be positive, got -1"))
    'optim.lr: must be positive, got -1'
    >>> component_problem("anchors", ValueError("strides and base_sizes differ in length"))
    'anchors.strides: strides and base_sizes differ in length'
    >>> cfg = Config()
    >>> cfg.matching.top_k = 0
    >>> component_problem("matching", ValueError("top_k must be >= 1, got 0"), cfg)
    'matching.top_k: must be >= 1, got 0; the default is matching.top_k=3'
    """
    message = str(exc)
    names = {f.name for f in dataclasses.fields(SECTIONS[section])}
    first, _, rest = message.partition(" ")
    name = first.rstrip(":")
    if name not in names or not rest:
        return f"{section}: {message}"
    hint = "" if config is None else fix_hint(f"{section}.{name}", config)
    if first.endswith(":") or rest.startswith("must"):
        return f"{section}.{name}: {rest}{hint}"
    return f"{section}.{name}: {message}{hint}"


def validate(config: Config) -> Config:
    """Check types, then build the recipe's components from the config; raise one
    :class:`ConfigError` listing every problem, each naming its dotted key.

    The ranges are the components' own: the anchor generator, the matcher and the loss
    (:mod:`hambox_torch.recipe.components`), the detector (built on the ``meta`` device, so no
    memory is used and no weight file is read) and the training transforms check their
    parameters in their constructors, and this function reports what they raise. So a config
    and the component it builds cannot disagree. The training loop's own settings
    (``optim``, ``run``, ``loss.loc_weight``, ``data.batch_size``, ``data.workers``) are
    checked the same way by :func:`hambox_torch.engine.check_training_config`, before
    a run writes anything.

    Returns
    -------
    Config
        ``config`` itself, so ``validate(Config(...))`` can be used inline.

    Examples
    --------
    >>> cfg = Config()
    >>> cfg.matching.pos_iou_thr = 1.5
    >>> validate(cfg)
    Traceback (most recent call last):
    ...
    hambox_torch.recipe.config.ConfigError: invalid config 'hambox':
      matching.pos_iou_thr: must lie in [0, 1], got 1.5; the default is matching.pos_iou_thr=0.35
    """
    from hambox_torch.data.transforms import train_transforms

    from . import components

    _check_types(config)
    problems: list[str] = []
    for section, cls in SECTIONS.items():
        obj = getattr(config, section)
        for f in dataclasses.fields(cls):
            value = getattr(obj, f.name)
            values = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                key = f"{section}.{f.name}"
                problems.append(f"{key}: must be finite, got {value!r}{fix_hint(key, config)}")
    if problems:  # the components would only repeat these
        raise ConfigError.listing(config.name, problems)

    if config.name.strip() == "":
        problems.append("name: must not be empty")
    for key in ("model.pretrained_path", "data.root"):
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value is not None and value.strip() == "":
            problems.append(f"{key}: must be a path or null")
    d = config.data
    checks = (
        ("anchors", lambda: components.build_anchor_generator(config.anchors)),
        ("matching", lambda: components.build_matcher(config.matching)),
        ("loss", lambda: components.build_loss(config.loss)),
        (
            "model",
            lambda: components.build_model(
                config.model, config.anchors, device="meta", pretrained=False
            ),
        ),
        (
            "data",
            lambda: train_transforms(
                d.image_size,
                das_prob=d.das_prob,
                flip_prob=d.flip_prob,
                min_face=d.min_face,
                photometric=d.photometric,
            ),
        ),
    )
    for section, build in checks:
        if section == "model" and any(p.startswith("anchors") for p in problems):
            continue  # the model is built on the anchors: one report is enough
        try:
            build()
        except ValueError as exc:
            message = str(exc)
            if section == "model" and message.startswith("anchor_generator "):
                # The detector's rule on the anchor levels: a problem of the anchors section.
                section, exc = "anchors", ValueError(message[len("anchor_generator ") :])
            problems.append(component_problem(section, exc, config))
    if problems:
        raise ConfigError.listing(config.name, problems)
    return config


def add_config_arguments(
    parser: argparse.ArgumentParser, *, default: str = "the paper's recipe"
) -> argparse.ArgumentParser:
    """Add ``--config FILE`` and positional ``KEY=VALUE`` overrides to ``parser``.

    ``default`` says in the help which config applies without ``--config``.

    The overrides are collected in ``args.overrides``; :func:`config_from_args` turns the
    parsed arguments into a :class:`Config`. Other positional arguments of ``parser`` would
    compete with the overrides, so give the script's other inputs as options.

    Examples
    --------
    >>> parser = add_config_arguments(argparse.ArgumentParser())
    >>> args = parser.parse_args(["optim.lr=0.02", "model.ssh=true"])
    >>> config_from_args(args).optim.lr
    0.02
    """
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help=f"YAML config (any subset of keys; _base_ inheritance). Default: {default}.",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        default=[],
        help="dotted overrides applied after the file, e.g. optim.lr=0.02 model.ssh=true "
        "anchors.ratios=[1,1.5]",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    """The :class:`Config` named by ``args.config`` with ``args.overrides`` applied."""
    return load_config(getattr(args, "config", None), list(getattr(args, "overrides", []) or []))
