"""The typed training configuration: dataclasses, YAML files, dotted overrides, validation.

A :class:`Config` is seven sections of plain values (:class:`ModelConfig`,
:class:`AnchorConfig`, :class:`MatchingConfig`, :class:`LossConfig`, :class:`DataConfig`,
:class:`OptimConfig`, :class:`RunConfig`) plus a ``name`` and free-form ``notes``. The defaults
are the paper's recipe (section 4.1; DESIGN.md "Detector and recipe"), so ``Config()`` is the
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
- The result is checked by :func:`validate` (ranges and cross-field rules).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "AnchorConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "LossConfig",
    "MatchingConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "add_config_arguments",
    "config_from_args",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "save_config",
    "validate",
]

BASE_KEY = "_base_"
DEFAULT_NAME = "hambox"


class ConfigError(ValueError):
    """A configuration file, override or value is invalid; the message names the key."""


@dataclass
class ModelConfig:
    """The detector (DESIGN.md "Detector and recipe").

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
    """The anchor matcher (paper 3.2; DESIGN.md "Matching").

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
    nams_num_per_face : int
        NAMS N.
    nams_low_iou_thr : float
        NAMS lower IoU bound for compensated anchors.
    """

    strategy: Literal["sms", "dms", "nams", "hambox"] = "hambox"
    pos_iou_thr: float = 0.35
    neg_iou_thr: float | None = None
    top_k: int = 3
    online_iou_thr: float = 0.8
    high_quality_iou_thr: float = 0.5
    nams_num_per_face: int = 3
    nams_low_iou_thr: float = 0.1


@dataclass
class LossConfig:
    """Classification and box losses (paper 3.3; DESIGN.md "Losses").

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
    """

    kind: Literal["ral", "focal"] = "ral"
    alpha: float = 0.25
    gamma: float = 2.0
    beta: float = 1.0 / 9.0
    loc_weight: float = 1.0
    global_normalize: bool = False


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
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown key {key!r}{_location(source)}{hint}")


def _flatten(mapping, source: str | None) -> dict[str, tuple[Any, str | None]]:
    """``{"optim": {"lr": 0.1}, "name": "x"}`` -> ``{"optim.lr": (0.1, source), ...}``."""
    if not isinstance(mapping, dict):
        raise ConfigError(
            f"expected a mapping of keys to values, got {mapping!r}{_location(source)}"
        )
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
    for text in overrides:
        flat.update(_flatten(_parse_override(text), f"override {text!r}"))
    config = _build(flat, default_name)
    validate(config)
    return config


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


_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def validate(config: Config) -> Config:
    """Check types, ranges and cross-field rules; raise one :class:`ConfigError` listing
    every problem, each naming its dotted key.

    Checks include: the choice fields (strategy, loss kind, fusion, head); positive sizes,
    strides, channels, batch size, iterations; ``len(strides) == len(base_sizes)`` and strides
    increasing; IoU thresholds in (0, 1] with ``neg_iou_thr <= pos_iou_thr``; probabilities in
    [0, 1]; ``lr_steps`` strictly increasing and below ``max_iters``; ``warmup_iters`` below
    ``max_iters``; finite floats.

    Returns
    -------
    Config
        ``config`` itself, so ``validate(Config(...))`` can be used inline.

    Examples
    --------
    >>> cfg = Config()
    >>> cfg.optim.lr_steps = (150_000,)
    >>> validate(cfg)
    Traceback (most recent call last):
    ...
    hambox_torch.engine.config.ConfigError: invalid config 'hambox':
      optim.lr_steps: every step must be below optim.max_iters=140000, got (150000,)
    """
    _check_types(config)
    problems: list[str] = []

    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            problems.append(f"{key}: {message}")

    for section, cls in SECTIONS.items():
        obj = getattr(config, section)
        for f in dataclasses.fields(cls):
            value = getattr(obj, f.name)
            values = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                problems.append(f"{section}.{f.name}: must be finite, got {value!r}")

    m, a, mt = config.model, config.anchors, config.matching
    lo, d, o, r = config.loss, config.data, config.optim, config.run

    need(config.name.strip() != "", "name", "must not be empty")
    need(m.backbone.strip() != "", "model.backbone", "must not be empty")
    need(
        m.pretrained_path is None or m.pretrained_path.strip() != "",
        "model.pretrained_path",
        "must be a file path or null",
    )
    need(m.channels >= 1, "model.channels", f"must be >= 1, got {m.channels}")
    need(m.head_convs >= 1, "model.head_convs", f"must be >= 1, got {m.head_convs}")
    need(0 < m.prior_prob < 1, "model.prior_prob", f"must be in (0, 1), got {m.prior_prob}")

    need(len(a.strides) >= 1, "anchors.strides", "must name at least one level")
    need(all(s >= 1 for s in a.strides), "anchors.strides", f"must be >= 1, got {a.strides}")
    need(
        all(s1 < s2 for s1, s2 in zip(a.strides, a.strides[1:], strict=False)),
        "anchors.strides",
        f"must increase (finest level first), got {a.strides}",
    )
    need(
        len(a.base_sizes) == len(a.strides),
        "anchors.base_sizes",
        f"must have one size per stride ({len(a.strides)}), got {len(a.base_sizes)}",
    )
    need(
        all(b > 0 for b in a.base_sizes),
        "anchors.base_sizes",
        f"must be positive, got {a.base_sizes}",
    )
    need(a.scale > 0, "anchors.scale", f"must be positive, got {a.scale}")
    need(
        len(a.ratios) >= 1 and all(x > 0 for x in a.ratios),
        "anchors.ratios",
        f"must be one or more positive numbers, got {a.ratios}",
    )

    need(
        0 < mt.pos_iou_thr <= 1, "matching.pos_iou_thr", f"must be in (0, 1], got {mt.pos_iou_thr}"
    )
    if mt.neg_iou_thr is not None:
        need(
            0 <= mt.neg_iou_thr <= mt.pos_iou_thr,
            "matching.neg_iou_thr",
            f"must be in [0, pos_iou_thr={mt.pos_iou_thr}], got {mt.neg_iou_thr}",
        )
    need(mt.top_k >= 1, "matching.top_k", f"must be >= 1, got {mt.top_k}")
    for key in ("online_iou_thr", "high_quality_iou_thr"):
        value = getattr(mt, key)
        need(0 < value <= 1, f"matching.{key}", f"must be in (0, 1], got {value}")
    need(
        mt.nams_num_per_face >= 1,
        "matching.nams_num_per_face",
        f"must be >= 1, got {mt.nams_num_per_face}",
    )
    need(
        0 <= mt.nams_low_iou_thr < 1,
        "matching.nams_low_iou_thr",
        f"must be in [0, 1), got {mt.nams_low_iou_thr}",
    )

    need(lo.alpha <= 1, "loss.alpha", f"must be <= 1 (negative disables it), got {lo.alpha}")
    need(lo.gamma >= 0, "loss.gamma", f"must be >= 0, got {lo.gamma}")
    need(lo.beta >= 0, "loss.beta", f"must be >= 0, got {lo.beta}")
    need(lo.loc_weight >= 0, "loss.loc_weight", f"must be >= 0, got {lo.loc_weight}")

    need(d.root is None or d.root.strip() != "", "data.root", "must be a folder or null")
    need(d.image_size >= 1, "data.image_size", f"must be >= 1, got {d.image_size}")
    need(d.batch_size >= 1, "data.batch_size", f"must be >= 1, got {d.batch_size}")
    need(d.workers >= 0, "data.workers", f"must be >= 0, got {d.workers}")
    for key in ("das_prob", "flip_prob"):
        value = getattr(d, key)
        need(0 <= value <= 1, f"data.{key}", f"must be a probability in [0, 1], got {value}")
    need(d.min_face >= 0, "data.min_face", f"must be >= 0, got {d.min_face}")

    need(o.lr > 0, "optim.lr", f"must be positive, got {o.lr}")
    need(0 <= o.momentum < 1, "optim.momentum", f"must be in [0, 1), got {o.momentum}")
    need(o.weight_decay >= 0, "optim.weight_decay", f"must be >= 0, got {o.weight_decay}")
    need(o.max_iters >= 1, "optim.max_iters", f"must be >= 1, got {o.max_iters}")
    need(all(s >= 1 for s in o.lr_steps), "optim.lr_steps", f"must be >= 1, got {o.lr_steps}")
    need(
        all(s1 < s2 for s1, s2 in zip(o.lr_steps, o.lr_steps[1:], strict=False)),
        "optim.lr_steps",
        f"must be strictly increasing, got {o.lr_steps}",
    )
    need(
        all(s < o.max_iters for s in o.lr_steps),
        "optim.lr_steps",
        f"every step must be below optim.max_iters={o.max_iters}, got {o.lr_steps}",
    )
    need(0 < o.lr_gamma <= 1, "optim.lr_gamma", f"must be in (0, 1], got {o.lr_gamma}")
    need(
        0 <= o.warmup_iters < o.max_iters,
        "optim.warmup_iters",
        f"must be in [0, optim.max_iters={o.max_iters}), got {o.warmup_iters}",
    )
    need(
        0 < o.warmup_factor <= 1, "optim.warmup_factor", f"must be in (0, 1], got {o.warmup_factor}"
    )
    need(
        o.grad_clip is None or o.grad_clip > 0,
        "optim.grad_clip",
        f"must be positive or null, got {o.grad_clip}",
    )

    need(r.output_dir.strip() != "", "run.output_dir", "must not be empty")
    need(r.seed >= 0, "run.seed", f"must be >= 0, got {r.seed}")
    need(
        _DEVICE.fullmatch(r.device) is not None,
        "run.device",
        f"must be auto, cpu, mps, cuda or cuda:N, got {r.device!r}",
    )
    need(r.log_every >= 1, "run.log_every", f"must be >= 1, got {r.log_every}")
    for key in ("eval_every", "checkpoint_every"):
        value = getattr(r, key)
        need(
            value >= 1,
            f"run.{key}",
            f"must be >= 1 (above optim.max_iters: only at the end), got {value}",
        )
    need(r.diag_every >= 0, "run.diag_every", f"must be >= 0 (0 disables it), got {r.diag_every}")
    need(
        r.eval_max_images is None or r.eval_max_images >= 1,
        "run.eval_max_images",
        f"must be >= 1 or null, got {r.eval_max_images}",
    )

    if problems:
        raise ConfigError(f"invalid config {config.name!r}:\n  " + "\n  ".join(problems))
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
