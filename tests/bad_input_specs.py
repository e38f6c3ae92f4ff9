"""Specs of the public operations of both packages, for the bad-input suite and its probe.

Every public callable of the modules in :data:`CORE_MODULES` and :data:`TORCH_MODULES` (their
``__all__``) has either a :class:`Spec` in :func:`specs` — valid arguments, each with a *kind*
that says which bad values it must reject — or an entry in :data:`NOT_OPERATIONS` saying why it
is not called with bad input. ``tests/test_bad_input.py`` fails on a public name that has
neither, and drives every spec through the mutations of its arguments' kinds (one argument at a
time) with hypothesis; ``bench/bad_input_probe.py`` runs the same mutations with fixed choices
and counts the outcomes.

A mutation either makes the input bad (the call must raise ``ValueError`` or ``TypeError`` whose
message names the argument, or for a path an ``OSError`` naming the path) or keeps it valid in
another form (a list, a non-contiguous or read-only array, another dtype: the call must return
what it returns for the canonical input). Inputs must never be modified, and no call may take
more than :data:`DEADLINE_S` seconds.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    import torch
except ImportError:  # a core-only install: the torch specs are not built
    torch = None

__all__ = [
    "CORE_MODULES",
    "DEADLINE_S",
    "KNOWN_GAPS",
    "NOT_OPERATIONS",
    "TORCH_MODULES",
    "Arg",
    "Mutation",
    "Outcome",
    "Spec",
    "arg_mutations",
    "canonical_name",
    "classify",
    "mutations",
    "public_callables",
    "same_value",
    "snapshot",
    "specs",
]

#: Longest time one call may take (a hang or a blow-up on a small bad input).
DEADLINE_S = 5.0

CORE_MODULES = (
    "hambox_core",
    "hambox_core.boxes",
    "hambox_core.anchors",
    "hambox_core.grids",
    "hambox_core.matching",
    "hambox_core.losses",
    "hambox_core.postprocess",
    "hambox_core.analysis",
    "hambox_core.datasets",
    "hambox_core.evaluation",
    "hambox_core.evaluation.ap",
    "hambox_core.evaluation.fddb",
    "hambox_core.evaluation.fddb_regions",
    "hambox_core.evaluation.widerface",
    "hambox_core.evaluation.widerface_breakdown",
    "hambox_core.evaluation.widerface_predictions",
    "hambox_core.evaluation.widerface_truth",
)

TORCH_MODULES = (
    "hambox_torch",
    "hambox_torch.boxes",
    "hambox_torch.anchors",
    "hambox_torch.matching",
    "hambox_torch.losses",
    "hambox_torch.postprocess",
    "hambox_torch.inference.protocols",
    "hambox_torch.pipeline.supervision",
)

#: Public callables the suite does not feed bad input, and why.
NOT_OPERATIONS = {
    "hambox_core.matching.MatchResult": "result container, built by the matchers",
    "hambox_core.grids.AnchorGrids": "result container of find_grids",
    "hambox_core.grids.find_grids_kernel": "numba kernel behind find_grids, which checks first",
    "hambox_core.analysis.FaceSet": "result container of load_faces",
    "hambox_core.analysis.plot_anchor_statistics": "draws anchor_statistics' result (figures)",
    "hambox_core.analysis.plot_detector_analysis": "draws analyze_detector's result (figures)",
    "hambox_core.datasets.widerface.WiderAnnotation": "record built by the readers",
    "hambox_core.evaluation.ap.FaceAPResult": "result container",
    "hambox_core.evaluation.fddb.ROC": "result container",
    "hambox_core.evaluation.fddb.FDDBResult": "result container",
    "hambox_core.evaluation.widerface.WiderAP": "result container",
    "hambox_core.evaluation.widerface.MatchedDetections": "result container of match_detections",
    "hambox_core.evaluation.widerface.PRCurve": "result container",
    "hambox_core.evaluation.widerface_truth.WiderGroundTruth": "container (from_images checks)",
    "hambox_core.evaluation.widerface_breakdown.BreakdownRow": "result container",
    "hambox_core.evaluation.widerface_breakdown.WiderBreakdown": "result container",
    "hambox_torch.matching.MatchResult": "result container, built by the matchers",
    "hambox_torch.inference.protocols.Pass": "named tuple of MultiScaleFlip.passes",
    "hambox_torch.inference.protocols.Protocol": "abstract base of the protocols",
    "hambox_torch.inference.protocols.SingleScale": "takes no parameters",
    "hambox_torch.pipeline.supervision.Supervision": "result container of supervise",
    "hambox_torch.pipeline.supervision.SupervisionResult": "result container of Supervisor",
}


#: Mutations that still fail, outside the scope of the change that added the suite:
#: (spec name, argument, mutation label) -> why. ``tests/test_bad_input.py`` expects them to
#: fail (strict xfail), so an entry must go when its case is fixed.
KNOWN_GAPS: dict = {}


def canonical_name(obj) -> str:
    """``module.qualname`` of a callable (aliases in several modules share it)."""
    module = getattr(obj, "__module__", None) or "?"
    if hasattr(obj, "py_func"):  # a numba dispatcher
        obj = obj.py_func
    return f"{module}.{getattr(obj, '__qualname__', getattr(obj, '__name__', repr(obj)))}"


def public_callables(module_names) -> dict[str, object]:
    """Canonical name -> object of every function or class in the modules' ``__all__``."""
    out = {}
    for module_name in module_names:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj) or hasattr(obj, "py_func"):
                out[canonical_name(obj)] = obj
    return out


# --------------------------------------------------------------------------------------------
# specs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """One argument: its kind (which mutations apply) and a factory of a valid value."""

    kind: str
    make: Callable[[Path], object]
    #: Extra kind-independent mutations: label -> (expect, value factory from the valid value).
    extra: dict = field(default_factory=dict)
    #: None is a valid value (an optional argument): the "None" mutation does not apply.
    optional: bool = False


@dataclass(frozen=True)
class Spec:
    """A public callable with valid arguments.

    ``call(**kwargs)`` runs it; ``args`` maps each argument name to its :class:`Arg`.
    ``names`` (default: the argument's own name) lists what a message may name instead, for
    arguments whose parts are checked under a more precise name (``gt_boxes[0]``).
    """

    target: object
    args: dict
    call: Callable | None = None
    names: dict = field(default_factory=dict)
    compare: bool = True  # results are deterministic (compared for "same" mutations)
    device_args: tuple = ()  # tensors that must share one device

    @property
    def name(self) -> str:
        return canonical_name(self.target)

    def run(self, kwargs):
        return (self.call or self.target)(**kwargs)


@dataclass(frozen=True)
class Mutation:
    """How one argument is changed: ``expect`` is ``"error"``, ``"same"`` (the result of the
    valid call), ``"runs"`` (any result, no error) or ``"defined"`` (an edge case such as an
    empty array: a result, or a ValueError / TypeError) or ``"type error"`` (a TypeError,
    whatever its message)."""

    label: str
    expect: str
    apply: Callable  # (valid value, chooser) -> new value


class _First:
    """The probe's chooser: always the first option, the middle of a range."""

    def index(self, n: int) -> int:
        return 0

    def sample(self, options):
        return options[0]


FIRST = _First()


def _np(value):
    return np.array(value, copy=True)


# --- numpy array mutations ----------------------------------------------------------------------


def _set_box_value(value, choose, v):
    arr = _np(value).astype(np.float64)
    flat = arr.reshape(-1, arr.shape[-1])
    flat[choose.index(flat.shape[0]), choose.index(flat.shape[1])] = v
    return flat.reshape(arr.shape)


def _invert(value, choose):
    arr = _np(value).astype(np.float64)
    flat = arr.reshape(-1, 4)
    i = choose.index(flat.shape[0])
    flat[i, 2] = flat[i, 0] - 1.0 - choose.index(3)
    return flat.reshape(arr.shape)


def _negative_size(value, choose):
    arr = _np(value).astype(np.float64)
    flat = arr.reshape(-1, 4)
    flat[choose.index(flat.shape[0]), 2 + choose.index(2)] = -1.0
    return flat.reshape(arr.shape)


def _fortran(value, choose):
    return np.asfortranarray(value)


def _strided(value, choose):
    arr = np.asarray(value)
    big = np.repeat(arr, 2, axis=0)
    return big[::2]


def _readonly(value, choose):
    arr = np.array(value, copy=True)
    arr.setflags(write=False)
    return arr


def _extra_column(value, choose):
    arr = np.asarray(value, dtype=np.float64)
    return np.concatenate([arr, np.zeros((*arr.shape[:-1], 1))], axis=-1)


def _drop_column(value, choose):
    return np.asarray(value)[..., :-1].copy()


def _add_rank(value, choose):
    return np.asarray(value)[None].copy()


def _as_strings(value, choose):
    return np.asarray(value).astype(str)


def _as_complex(value, choose):
    return np.asarray(value).astype(np.complex128)


def _longer(value, choose):
    arr = np.asarray(value)
    return np.concatenate([arr, arr[:1]], axis=0)


def _set_elem(v):
    def apply(value, choose):
        arr = _np(value).astype(np.float64)
        arr.reshape(-1)[choose.index(arr.size)] = v
        return arr

    return apply


_NP_BAD_TYPES = [
    Mutation("None", "error", lambda v, c: None),
    Mutation("strings", "error", _as_strings),
    Mutation("complex", "error", _as_complex),
]
_NP_SAME_LAYOUT = [
    Mutation("list", "same", lambda v, c: np.asarray(v).tolist()),
    Mutation("non-contiguous", "same", _strided),
    Mutation("fortran", "same", _fortran),
    Mutation("read-only", "same", _readonly),
]


def _np_boxes(ordered: bool, xywh: bool = False):
    out = [
        Mutation("NaN", "error", lambda v, c: _set_box_value(v, c, math.nan)),
        Mutation("inf", "error", lambda v, c: _set_box_value(v, c, -math.inf)),
        Mutation("beyond float32", "error", lambda v, c: _set_box_value(v, c, 1e39)),
        Mutation("3 columns", "error", _drop_column),
        Mutation("5 columns", "error", _extra_column),
        Mutation("rank 3", "error", _add_rank),
        *_NP_BAD_TYPES,
        *_NP_SAME_LAYOUT,
        Mutation("float64", "same", lambda v, c: np.asarray(v, dtype=np.float64)),
        Mutation("empty", "defined", lambda v, c: np.asarray(v)[:0].copy()),
    ]
    if ordered:
        out.append(Mutation("x1 < x0", "error", _invert))
    if xywh:
        out.append(Mutation("negative size", "error", _negative_size))
    return out


def _np_vector(values: str):
    out = [
        Mutation("one too many", "error", _longer),
        Mutation("rank 2", "error", lambda v, c: np.asarray(v)[None].copy()),
        Mutation("empty", "defined", lambda v, c: np.asarray(v)[:0].copy()),
        *_NP_BAD_TYPES,
        *_NP_SAME_LAYOUT,
    ]
    if values in ("finite", "fraction"):
        out += [Mutation("NaN", "error", _set_elem(math.nan))]
    if values in ("finite", "fraction", "fraction_nan"):
        out += [Mutation("inf", "error", _set_elem(math.inf))]
    if values in ("fraction", "fraction_nan"):
        out += [Mutation("above 1", "error", _set_elem(1.5))]
    if values == "labels":
        out += [
            Mutation("label 2", "error", _set_elem(2)),
            Mutation("label 0.5", "error", _set_elem(0.5)),
            Mutation("label NaN", "error", _set_elem(math.nan)),
            Mutation("float labels", "same", lambda v, c: np.asarray(v, dtype=np.float64)),
        ]
    if values == "mask":
        out = [m for m in out if m.label != "complex"] + [
            Mutation("value 2", "error", lambda v, c: _set_mask_number(v, c, 2)),
            Mutation("0/1 numbers", "same", lambda v, c: np.asarray(v).astype(np.int64)),
        ]
    if values == "int":
        out += [Mutation("floats", "error", lambda v, c: np.asarray(v) + 0.5)]
    return out


def _set_mask_number(value, choose, v):
    arr = np.asarray(value).astype(np.int64)
    arr[choose.index(arr.size)] = v
    return arr


# --- scalars --------------------------------------------------------------------------------------


def _scalars(*pairs):
    return [Mutation(f"{v!r}", "error", lambda _v, c, v=v: v) for v in pairs]


_SCALAR_MUTATIONS = {
    "fraction": _scalars(-0.1, 1.5, math.nan, math.inf, None, "0.5", [0.5]),
    "threshold": _scalars(0.0, -0.1, 1.5, math.nan, math.inf, None, "0.5"),
    "count": _scalars(-1, 1.5, math.nan, None, "3", True),
    "cap": [
        *_scalars(-1, 1.5, math.nan, "3", True),
        Mutation("huge", "runs", lambda v, c: 2**62),
    ],
    "posint": _scalars(0, -1, 1.5, math.nan, None, "3", True),
    "nonneg": _scalars(-1.0, math.nan, math.inf, None, "1"),
    "real": _scalars(math.nan, math.inf, None, "1"),
    "hw": _scalars((-1, 10), (math.nan, 10), (10,), (10, 10, 10), None, "ab", 5),
    "size": _scalars((-1, 10), (10.5, 10), (10,), None, "ab", 5),
    "variances": _scalars((0.1, 0.1, 0.2), (0.1, 0.1, 0.2, 0.0), (0.1, math.nan, 0.2, 0.2), None),
    "choice": _scalars("no such choice", None, 3),
    "bool": _scalars("yes", None, 2),
}


# --- paths ----------------------------------------------------------------------------------------


def _missing(value, choose):
    return Path(value).parent / "no_such_file.txt"


def _parent_missing(value, choose):
    return Path(value).parent / "no_such_dir" / Path(value).name


_PATH_MUTATIONS = {
    "path_in": [
        Mutation("missing", "error", _missing),
        Mutation("a folder", "error", lambda v, c: Path(v).parent),
        Mutation("None", "error", lambda v, c: None),
        # Python's own "expected str, bytes or os.PathLike object" is as good as a name here
        Mutation("a number", "type error", lambda v, c: 3),
        Mutation("str", "same", lambda v, c: str(v)),
    ],
    "dir_in": [
        Mutation("missing", "error", _missing),
        Mutation("a file", "error", lambda v, c: _a_file_beside(Path(v))),
        Mutation("None", "error", lambda v, c: None),
        Mutation("str", "same", lambda v, c: str(v)),
    ],
    "path_out": [
        Mutation("an existing folder", "error", lambda v, c: Path(v).parent),
        Mutation("parent missing", "error", _parent_missing),
        Mutation("None", "error", lambda v, c: None),
    ],
    "dir_out": [
        Mutation("a file", "error", lambda v, c: _a_file_beside(v)),
        Mutation("None", "error", lambda v, c: None),
    ],
}


def _a_file_beside(value):
    p = Path(value).parent / "a_plain_file.txt"
    p.write_text("x\n")
    return p


# --- mappings of arrays (evaluation inputs) -------------------------------------------------------


def _map_set(value, choose, v):
    out = {k: _np(a).astype(np.float64) for k, a in value.items()}
    key = sorted(out)[choose.index(len(out))]
    arr = out[key]
    if arr.size:
        arr.reshape(-1)[choose.index(arr.size)] = v
    return out


def _map_columns(value, choose):
    return {k: np.asarray(a, dtype=np.float64)[:, :-1] for k, a in value.items()}


def _map_invert(value, choose):
    out = {k: _np(a).astype(np.float64) for k, a in value.items()}
    key = sorted(out)[choose.index(len(out))]
    out[key][0, 2] = out[key][0, 0] - 5.0
    return out


def _map_negative_size(value, choose):
    out = {k: _np(a).astype(np.float64) for k, a in value.items()}
    key = sorted(out)[choose.index(len(out))]
    out[key][0, 2] = -5.0
    return out


def _mapping_mutations(layout: str):
    if layout == "wider":  # None for an image: no predictions, warned (MissingPredictionWarning)
        base = _mapping_mutations("any")
        none = next(m for m in base if m.label == "None entry")
        return [m for m in base if m is not none] + [Mutation(none.label, "runs", none.apply)]
    out = [
        Mutation("NaN value", "error", lambda v, c: _map_set(v, c, math.nan)),
        Mutation("inf value", "error", lambda v, c: _map_set(v, c, math.inf)),
        Mutation("one column less", "error", _map_columns),
        Mutation("None", "error", lambda v, c: None),
        Mutation("a list", "error", lambda v, c: list(v.values())),
        Mutation("None entry", "error", lambda v, c: {k: None for k in v}),
        Mutation("string entry", "error", lambda v, c: {k: "1 2 3 4 5" for k in v}),
        Mutation("lists", "same", lambda v, c: {k: np.asarray(a).tolist() for k, a in v.items()}),
    ]
    if layout.startswith("xyxy"):
        out.append(Mutation("x1 < x0", "error", _map_invert))
    if layout.startswith("xywh"):
        out.append(Mutation("negative width", "error", _map_negative_size))
    return out


# --- torch tensors --------------------------------------------------------------------------------


def _t_set(value, choose, v):
    out = value.detach().clone()
    flat = out.reshape(-1)
    if flat.numel():
        flat[choose.index(flat.numel())] = v
    return out


def _t_set_valid_box(value, choose, v, valid=None):
    """A coordinate of a box (a real one where ``valid`` says which are)."""
    out = value.detach().clone()
    rows = out.reshape(-1, out.shape[-1])
    index = torch.arange(rows.shape[0]) if valid is None else torch.nonzero(valid.reshape(-1))[:, 0]
    if index.numel():
        rows[int(index[choose.index(index.numel())]), choose.index(rows.shape[1])] = v
    return out


def _t_invert(value, choose, valid=None):
    """``x1 < x0`` in a box (a real one where ``valid`` says which are)."""
    out = value.detach().clone()
    rows = out.reshape(-1, 4)
    index = torch.arange(rows.shape[0]) if valid is None else torch.nonzero(valid.reshape(-1))[:, 0]
    i = int(index[choose.index(index.numel())])
    rows[i, 2] = rows[i, 0] - 1.0 - choose.index(3)
    return out


def _t_noncontiguous(value, choose):
    if value.ndim < 2:
        return value.repeat_interleave(2)[::2]
    return value.transpose(-1, -2).contiguous().transpose(-1, -2)


def _t_cols(value, n):
    shape = (*value.shape[:-1], n)
    return torch.zeros(shape, dtype=value.dtype, device=value.device)


def _tensor_type_mutations():
    return [
        Mutation("numpy", "error", lambda v, c: v.detach().cpu().numpy().copy()),
        Mutation("list", "error", lambda v, c: v.detach().cpu().tolist()),
        Mutation("None", "error", lambda v, c: None),
    ]


def _t_boxes(kind: str):
    """``t_boxes`` (N, 4) / ``t_boxes_any`` (..., 4) / ``t_deltas`` (N, 4), ``t_deltas_any``
    (..., 4), finite in any order / ``t_box_array`` (..., 4), any values."""
    out = [
        *_tensor_type_mutations(),
        Mutation("3 columns", "error", lambda v, c: _t_cols(v, 3)),
        Mutation("int64", "error", lambda v, c: v.detach().to(torch.int64)),
        Mutation("non-contiguous", "same", _t_noncontiguous),
    ]
    if kind in ("t_boxes", "t_boxes_any", "t_deltas", "t_deltas_any"):
        out += [
            Mutation("NaN", "error", lambda v, c: _t_set_valid_box(v, c, math.nan)),
            Mutation("inf", "error", lambda v, c: _t_set_valid_box(v, c, math.inf)),
        ]
    if kind in ("t_boxes", "t_boxes_any"):
        out.append(Mutation("x1 < x0", "error", _t_invert))
    if kind in ("t_boxes", "t_deltas"):
        out.append(Mutation("rank 3", "error", lambda v, c: v.detach()[None].clone()))
    out.append(Mutation("empty", "defined", lambda v, c: v.detach()[:0].clone()))
    return out


def _t_vector(values: str):
    out = [
        *_tensor_type_mutations(),
        Mutation("empty", "defined", lambda v, c: v.detach()[:0].clone()),
        Mutation("one too many", "error", lambda v, c: torch.cat([v.detach(), v.detach()[:1]])),
        Mutation("rank 2", "error", lambda v, c: v.detach()[None].clone()),
        Mutation("non-contiguous", "same", _t_noncontiguous),
    ]
    if values in ("finite", "fraction"):
        out += [
            Mutation("NaN", "error", lambda v, c: _t_set(v, c, math.nan)),
            Mutation("inf", "error", lambda v, c: _t_set(v, c, math.inf)),
        ]
    if values == "fraction":
        out += [Mutation("above 1", "error", lambda v, c: _t_set(v, c, 1.5))]
    if values == "labels":
        out += [Mutation("label 2", "error", lambda v, c: _t_set(v, c, 2))]
    if values == "mask":
        out += [
            Mutation("int64", "same", lambda v, c: v.detach().to(torch.int64)),
            Mutation("value 2", "error", lambda v, c: _t_set(v.to(torch.int64), c, 2)),
        ]
    return out


def _t_mask2():
    """A (B, G) bool mask."""
    return [
        *_tensor_type_mutations(),
        Mutation("one column more", "error", lambda v, c: torch.cat([v, v[:, :1]], dim=1)),
        Mutation("float32", "error", lambda v, c: v.to(torch.float32)),
        Mutation("non-contiguous", "same", _t_noncontiguous),
    ]


def _t_batch_boxes(kind: str):
    """(B, G, 4) faces with a validity mask: padding's values are free."""
    out = [
        *_tensor_type_mutations(),
        Mutation("3 columns", "error", lambda v, c: _t_cols(v, 3)),
        Mutation("rank 2", "error", lambda v, c: v.detach()[0].clone()),
        Mutation("int64", "error", lambda v, c: v.detach().to(torch.int64)),
        Mutation("non-contiguous", "same", _t_noncontiguous),
        Mutation("NaN", "error", lambda v, c: _t_set_valid_box(v, c, math.nan, _valid_of(kind, v))),
        Mutation("x1 < x0", "error", lambda v, c: _t_invert(v, c, _valid_of(kind, v))),
    ]
    if kind in ("t_padded", "t_faces"):
        out.append(Mutation("NaN padding", "same", _t_nan_padding))
    if kind == "t_faces":  # converted to float32: integers are faces too
        out = [m for m in out if m.label != "int64"]
        out.append(Mutation("int64", "same", lambda v, c: v.detach().to(torch.int64)))
    return out


def _valid_of(kind, value):
    """The validity mask of a ``t_padded`` value (every spec pads its faces alike)."""
    return _padded_valid() if kind in ("t_padded", "t_faces") else None


def _t_nan_padding(value, choose):
    out = value.detach().clone()
    out[~_padded_valid()] = math.nan
    return out


def _positive_rows():
    """The rows the loss specs' labels make positive."""
    return np.flatnonzero(_LABELS == 1)


def _np_rows_set(value, row, col, v):
    arr = _np(value).astype(np.float64)
    arr[row, col] = v
    return arr


def _t_rows_set(value, row, col, v):
    out = value.detach().clone()
    out[row, col] = v
    return out


def _row_mutations(set_value):
    """NaN / inf in a positive anchor's row (bad) or in another row (not read: same result)."""

    def at(rows, v):
        def apply(value, choose):
            row = int(rows[choose.index(len(rows))])
            return set_value(value, row, choose.index(4), v)

        return apply

    others = np.setdiff1d(np.arange(_N), _positive_rows())
    return [
        Mutation("NaN", "error", at(_positive_rows(), math.nan)),
        Mutation("inf", "error", at(_positive_rows(), math.inf)),
        Mutation("NaN in a non-positive row", "same", at(others, math.nan)),
    ]


def _t_meta(value, choose):
    return value.detach().to("meta")


def arg_mutations(spec: Spec, arg: str) -> list[Mutation]:
    """The mutations of argument ``arg`` of ``spec``: its kind's, a tensor on another device
    where the spec's tensors must share one, and the argument's own extras."""
    a = spec.args[arg]
    out = [m for m in mutations(a.kind) if not (a.optional and m.label == "None")]
    if arg in spec.device_args:
        out.append(Mutation("another device", "error", _t_meta))
    for label, (expect, make) in spec.args[arg].extra.items():
        out.append(Mutation(label, expect, make))
    return out


def _seq_set(value, choose, v):
    out = [_np(a).astype(np.float64) for a in value]
    k = next(i for i, a in enumerate(out) if a.size)
    out[k].reshape(-1)[choose.index(out[k].size)] = v
    return out


def _seq_invert(value, choose):
    out = [_np(a).astype(np.float64) for a in value]
    k = next(i for i, a in enumerate(out) if a.size)
    out[k][0, 2] = out[k][0, 0] - 1.0
    return out


_SEQ_BOXES = [
    Mutation("NaN in an image", "error", lambda v, c: _seq_set(v, c, math.nan)),
    Mutation("inf in an image", "error", lambda v, c: _seq_set(v, c, math.inf)),
    Mutation("x1 < x0 in an image", "error", _seq_invert),
    Mutation("3 columns", "error", lambda v, c: [np.asarray(a)[:, :3] for a in v]),
    Mutation("None", "error", lambda v, c: None),
    Mutation("None image", "error", lambda v, c: [None for _ in v]),
    Mutation("lists", "same", lambda v, c: [np.asarray(a).tolist() for a in v]),
]

_SIZE_MAPS = [
    Mutation("None", "error", lambda v, c: None),
    Mutation("a list", "error", lambda v, c: list(v.values())),
    Mutation("negative size", "error", lambda v, c: {k: (-5, 10) for k in v}),
    Mutation("NaN size", "error", lambda v, c: {k: (math.nan, 10) for k in v}),
    Mutation("one number", "error", lambda v, c: {k: 100 for k in v}),
    Mutation("fractional size", "error", lambda v, c: {k: (100.5, 90) for k in v}),
]

_EDGES = [
    Mutation("decreasing", "error", lambda v, c: tuple(reversed(v))),
    Mutation("NaN edge", "error", lambda v, c: (v[0], math.nan, *v[2:])),
    Mutation("one edge", "error", lambda v, c: v[:1]),
    Mutation("strings", "error", lambda v, c: tuple(str(x) for x in v)),
    Mutation("None", "error", lambda v, c: None),
]

_POSITIVE_FLOATS = [
    Mutation("negative", "error", lambda v, c: (*v[:-1], -1.0)),
    Mutation("zero", "error", lambda v, c: (*v[:-1], 0.0)),
    Mutation("NaN", "error", lambda v, c: (*v[:-1], math.nan)),
    Mutation("inf", "error", lambda v, c: (*v[:-1], math.inf)),
    Mutation("strings", "error", lambda v, c: tuple(str(x) for x in v)),
    Mutation("None", "error", lambda v, c: None),
]

_SETTINGS = [
    Mutation("unknown setting", "error", lambda v, c: ["easy", "no such setting"]),
    Mutation("a string", "error", lambda v, c: "easy"),
    Mutation("numbers", "error", lambda v, c: [1, 2]),
]


def mutations(kind: str) -> list[Mutation]:
    """The mutations of an argument of ``kind``."""
    table = {
        "seq_boxes": _SEQ_BOXES,
        # None for an image: that image has none (of the matcher's optional argument)
        "seq_boxes_optional": [m for m in _SEQ_BOXES if m.label != "None image"],
        "size_map": _SIZE_MAPS,
        "edges": _EDGES,
        "positive_floats": _POSITIVE_FLOATS,
        "settings": _SETTINGS,
    }
    if kind in table:
        return table[kind]
    if kind in ("boxes", "deltas", "xywh"):
        return _np_boxes(ordered=kind == "boxes", xywh=kind == "xywh")
    if kind == "box_array":  # (N, 4) of any values: only shape and dtype are rules
        values = ("NaN", "inf", "beyond float32", "x1 < x0")
        return [m for m in _np_boxes(ordered=True) if m.label not in values]
    if kind == "rows":  # (N, 4) float64 numbers (loss inputs): float32's range does not apply
        return [m for m in _np_boxes(ordered=False) if m.label != "beyond float32"]
    if kind == "loss_rows":  # only the rows of positive anchors are read (and must be finite)
        out = [m for m in mutations("rows") if m.label not in ("NaN", "inf")]
        return [*out, *_row_mutations(_np_rows_set)]
    if kind == "t_loss_rows":
        out = [m for m in _t_boxes("t_deltas") if m.label not in ("NaN", "inf")]
        return [*out, *_row_mutations(_t_rows_set)]
    if kind.startswith("vec_"):
        return _np_vector(kind[4:])
    if kind in _SCALAR_MUTATIONS:
        return _SCALAR_MUTATIONS[kind]
    if kind in _PATH_MUTATIONS:
        return _PATH_MUTATIONS[kind]
    if kind.startswith("map_"):
        return _mapping_mutations(kind[4:])
    if kind in ("t_boxes", "t_boxes_any", "t_deltas", "t_deltas_any", "t_box_array"):
        return _t_boxes(kind)
    if kind == "tvec_mask2":
        return _t_mask2()
    if kind.startswith("tvec_"):
        return _t_vector(kind[5:])
    if kind in ("t_padded", "t_faces", "t_batch"):
        return _t_batch_boxes(kind)
    if kind == "t_any":
        return _tensor_type_mutations()
    if kind == "free":
        return []
    raise KeyError(kind)


# --------------------------------------------------------------------------------------------
# outcome of one call
# --------------------------------------------------------------------------------------------


def snapshot(value):
    """A deep copy of an argument, to detect mutation."""
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().clone() if value.device.type != "meta" else value
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(snapshot(v) for v in value) if not _is_namedtuple(value) else value
    return value


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def same_value(a, b) -> bool:
    """Equality of results and arguments: arrays and tensors elementwise (NaN equal to NaN,
    dtype and shape included), containers recursively, objects by their attributes."""
    if torch is not None and isinstance(a, torch.Tensor):
        if not isinstance(b, torch.Tensor) or a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.device.type == "meta" or b.device.type == "meta":
            return a.device == b.device
        a, b = a.detach().cpu(), b.detach().cpu()
        if a.is_floating_point():
            return bool(torch.equal(torch.isnan(a), torch.isnan(b))) and bool(
                torch.equal(torch.nan_to_num(a), torch.nan_to_num(b))
            )
        return bool(torch.equal(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple):
        return (
            isinstance(b, list | tuple)
            and len(a) == len(b)
            and all(same_value(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if hasattr(a, "__dict__") and not isinstance(a, type) and type(a) is type(b):
        return same_value(vars(a), vars(b))
    if hasattr(a, "__slots__") and type(a) is type(b):
        return all(same_value(getattr(a, s), getattr(b, s)) for s in a.__slots__)
    try:
        return bool(a == b)
    except Exception:
        return False


@dataclass(frozen=True)
class Outcome:
    """What one mutated call did.

    ``status`` is ``"ok"`` (the expected error naming the argument, or the same result),
    ``"silent"`` (a bad input accepted), ``"crash"`` (another exception), ``"unnamed"`` (the
    right exception type without the argument's name), ``"different"`` (a valid variant gave
    another result), ``"mutated"`` (an input was modified) or ``"slow"`` (over the deadline).
    """

    status: str
    detail: str = ""


def _names_argument(message: str, names) -> bool:
    return any(n in message for n in names)


def classify(spec: Spec, arg: str, mutation: Mutation, kwargs: dict, reference) -> Outcome:
    """Run ``spec`` with ``kwargs`` (``arg`` mutated by ``mutation``) and judge the outcome.

    ``reference`` is the result of the valid call (for ``"same"`` mutations).
    """
    before = {k: snapshot(v) for k, v in kwargs.items()}
    value = kwargs[arg]
    names = [arg, *spec.names.get(arg, ())]
    if mutation.expect == "error" and spec.args[arg].kind.startswith(("path", "dir")):
        names += [str(value), os.fspath(value) if isinstance(value, str | Path) else arg]
    t0 = time.perf_counter()
    try:
        result = spec.run(kwargs)
        error = None
    except Exception as exc:  # classifying every failure is the point
        result, error = None, exc
    elapsed = time.perf_counter() - t0
    for k, v in kwargs.items():
        if not same_value(before[k], v):
            return Outcome("mutated", f"{k} was modified")
    if elapsed > DEADLINE_S:
        return Outcome("slow", f"{elapsed:.1f} s")
    path_kind = spec.args[arg].kind.startswith(("path", "dir"))
    if mutation.expect == "type error":
        if isinstance(error, TypeError):
            return Outcome("ok")
        return Outcome("silent" if error is None else "crash", repr(error)[:300])
    if mutation.expect == "defined":  # an edge case: a result, or an error of the right type
        if error is None or isinstance(error, ValueError | TypeError):
            return Outcome("ok")
        return Outcome("crash", f"{type(error).__name__}: {error}"[:300])
    if mutation.expect == "error":
        if error is None:
            return Outcome("silent", _short(result))
        allowed = (ValueError, TypeError) + ((OSError,) if path_kind else ())
        if not isinstance(error, allowed):
            return Outcome("crash", f"{type(error).__name__}: {error}"[:300])
        if not _names_argument(str(error), names):
            return Outcome("unnamed", f"{type(error).__name__}: {error}"[:300])
        return Outcome("ok")
    if error is not None:
        return Outcome("crash", f"{type(error).__name__}: {error}"[:300])
    if mutation.expect == "same" and spec.compare and not same_value(result, reference):
        return Outcome("different", _short(result))
    return Outcome("ok")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


# --------------------------------------------------------------------------------------------
# the specs themselves
# --------------------------------------------------------------------------------------------


def _a(kind, make, *, optional=False, **extra):
    return Arg(kind, make if callable(make) else (lambda tmp, v=make: _copy(v)), extra, optional)


def _copy(v):
    if isinstance(v, np.ndarray):
        return v.copy()
    if torch is not None and isinstance(v, torch.Tensor):
        return v.clone()
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    return v


_BOXES = np.array([[0, 0, 10, 10], [5, 5, 20, 25], [30, 30, 31, 32]], np.float32)
_REGIONS = np.array([[0, 0, 8, 8], [4, 4, 30, 30]], np.float32)
_DELTAS = np.array([[0.1, -0.2, 0.3, 0.0], [0.0, 0.5, -0.1, 0.2], [1.0, 1.0, 0.0, 0.0]], np.float32)
_FACES = np.array([[2, 2, 14, 14], [10, 12, 30, 28], [3, 20, 9, 26]], np.float32)
_N = 6
_LOGITS = np.array([0.5, -1.0, 2.0, -3.0, 0.0, 1.0])
_LOSS_DELTAS = np.linspace(-1, 1, _N * 4).reshape(_N, 4)
_LOSS_TARGETS = np.linspace(1, -1, _N * 4).reshape(_N, 4)
_LABELS = np.array([1, 1, 0, 0, -1, 0])
_COMPENSATED = np.array([True, False, False, False, False, False])
_QUALITY = np.array([0.7, 0.0, 0.0, 0.0, 0.0, 0.0])
_TARGETS01 = np.array([1.0, 0.0, 0.5, 0.0, 1.0, 0.0])


def _anchor_setup():
    from hambox_core import AnchorGenerator

    gen = AnchorGenerator(strides=(4, 8), base_sizes=(16, 32))
    anchors = gen.grid_anchors((32, 32))
    rng = np.random.default_rng(0)
    pred = anchors + rng.normal(0, 1.0, anchors.shape).astype(np.float32)
    pred[:, 2:] = np.maximum(pred[:, 2:], pred[:, :2])
    pred[5] = _FACES[0]
    return gen, anchors, pred.astype(np.float32)


_GEN, _ANCHORS, _PRED = _anchor_setup()
_LEVELS = _GEN.num_anchors_per_level((32, 32))
_POST_LOGITS = np.linspace(-3, 3, len(_ANCHORS))


def _core_specs(tmp: Path) -> list[Spec]:
    from hambox_core import analysis, boxes, grids, losses, matching, postprocess
    from hambox_core.anchors import AnchorGenerator

    specs = [
        Spec(boxes.box_area, {"boxes": _a("boxes", _BOXES)}),
        Spec(boxes.box_iou, {"boxes1": _a("boxes", _BOXES), "boxes2": _a("boxes", _FACES)}),
        Spec(boxes.box_ioa, {"boxes": _a("boxes", _BOXES), "regions": _a("boxes", _REGIONS)}),
        Spec(boxes.clip_boxes, {"boxes": _a("boxes", _BOXES), "image_hw": _a("hw", (20, 24))}),
        Spec(boxes.xyxy_to_xywh, {"boxes": _a("boxes", _BOXES)}),
        Spec(boxes.xyxy_to_cxcywh, {"boxes": _a("boxes", _BOXES)}),
        Spec(boxes.xywh_to_xyxy, {"boxes": _a("xywh", _BOXES)}),
        Spec(boxes.cxcywh_to_xyxy, {"boxes": _a("xywh", _BOXES)}),
        Spec(
            boxes.encode,
            {
                "anchors": _a("boxes", _BOXES),
                "gt_boxes": _a("boxes", _FACES),
                "variances": _a("variances", (0.1, 0.1, 0.2, 0.2)),
            },
        ),
        Spec(
            boxes.decode,
            {
                "anchors": _a("boxes", _BOXES),
                "deltas": _a("deltas", _DELTAS),
                "variances": _a("variances", (0.1, 0.1, 0.2, 0.2)),
            },
        ),
        Spec(
            AnchorGenerator,
            {"scale": _a("real", 0.68), "image_hw": _a("size", (32, 40))},
            call=lambda scale, image_hw: AnchorGenerator((4, 8), (16, 32), scale).grid_anchors(
                image_hw
            ),
        ),
        # documented: rows that are not valid boxes are left on no grid
        Spec(grids.find_grids, {"anchors": _a("box_array", _ANCHORS)}),
    ]
    specs += [_matcher_spec(getattr(matching, c), p, "core") for c, p in _MATCHER_PARAMS.items()]
    specs.append(
        Spec(
            matching.match_images,
            {
                "anchors": _a("boxes", _ANCHORS),
                "gt_boxes_per_image": _a(
                    "seq_boxes", lambda tmp: [_FACES.copy(), _FACES[:1].copy()]
                ),
                "gt_ignore_per_image": _a(
                    "seq_boxes_optional",
                    lambda tmp: [_REGIONS.copy(), _REGIONS.copy()],
                    optional=True,
                ),
            },
            call=lambda **kw: matching.match_images(matching.NAMSMatcher(), **kw),
            # "image k: gt_boxes has ...": the matcher's name for one image's array
            names={"gt_boxes_per_image": ("gt_boxes",), "gt_ignore_per_image": ("gt_ignore",)},
        )
    )
    loss_args = {
        "cls_logits": _a("vec_finite", _LOGITS),
        "box_deltas": _a("loss_rows", _LOSS_DELTAS),
        "box_targets": _a("loss_rows", _LOSS_TARGETS),
        "labels": _a("vec_labels", _LABELS),
    }
    hyper = {"alpha": _a("real", 0.25), "gamma": _a("nonneg", 2.0), "beta": _a("nonneg", 0.1)}
    specs += [
        Spec(
            losses.regression_aware_focal_loss,
            {
                **loss_args,
                "compensated": _a("vec_mask", _COMPENSATED),
                "quality": _a("vec_any", _QUALITY),
                **hyper,
                "compensated_normalizer": _a("choice", "positives"),
            },
        ),
        Spec(losses.standard_focal_loss, {**loss_args, **hyper}),
        Spec(
            losses.sigmoid_focal_loss,
            {
                "logits": _a("vec_finite", _LOGITS),
                "targets": _a("vec_fraction", _TARGETS01),
                "alpha": _a("real", 0.25),
                "gamma": _a("nonneg", 0.5),
            },
        ),
        Spec(
            losses.smooth_l1_loss,
            {
                "deltas": _a("rows", _LOSS_DELTAS),
                "targets": _a("rows", _LOSS_TARGETS),
                "beta": _a("nonneg", 0.1),
            },
        ),
    ]
    for cls in (losses.RegressionAwareFocalLoss, losses.StandardFocalLoss):
        specs.append(
            Spec(
                cls,
                {
                    **hyper,
                    "cls_logits": _a("vec_finite", _LOGITS),
                    "labels": _a("vec_labels", _LABELS),
                },
                call=lambda cls_logits, labels, alpha, gamma, beta, cls=cls: cls(
                    alpha, gamma, beta
                )(cls_logits, _LOSS_DELTAS, _LOSS_TARGETS, labels, _COMPENSATED, _QUALITY),
            )
        )
    specs += [
        Spec(
            postprocess.nms,
            {
                "boxes": _a("boxes", _BOXES),
                "scores": _a("vec_finite", np.array([0.9, 0.8, 0.7], np.float32)),
                "iou_thr": _a("fraction", 0.3),
            },
        ),
        Spec(
            postprocess.batched_nms,
            {
                "boxes": _a("boxes", _BOXES),
                "scores": _a("vec_finite", np.array([0.9, 0.8, 0.7], np.float32)),
                "idxs": _a("vec_int", np.array([0, 1, 0])),
                "iou_thr": _a("fraction", 0.3),
            },
        ),
        Spec(
            postprocess.postprocess_detections,
            {
                "cls_logits": _a("vec_finite", _POST_LOGITS),
                "box_deltas": _a("deltas", np.zeros((len(_ANCHORS), 4), np.float32)),
                "anchors": _a("boxes", _ANCHORS),
                "num_anchors_per_level": _a("free", list(_LEVELS)),
                "score_thr": _a("fraction", 0.05),
                "pre_nms_top_k": _a("cap", 10),
                "nms_iou_thr": _a("fraction", 0.3),
                "max_detections": _a("cap", 5),
                "image_hw": _a("hw", (30, 30), optional=True),
                "variances": _a("variances", (0.1, 0.1, 0.2, 0.2)),
                "min_box_size": _a("nonneg", 1.0),
            },
        ),
        Spec(
            analysis.anchor_statistics,
            {
                "gt_boxes_per_image": _a("seq_boxes", lambda tmp: [_FACES.copy()]),
                "scales": _a("positive_floats", (0.5, 0.68)),
                "image_hws": _a("free", [(32, 32)]),
                "iou_thr": _a("fraction", 0.35),
            },
            call=lambda **kw: analysis.anchor_statistics(**kw, strides=(4, 8), base_sizes=(16, 32)),
            names={"scales": ("scale",)},  # "scale must be a positive number, got -1.0"
        ),
        Spec(
            analysis.load_faces,
            {"path": _a("path_in", lambda tmp: _wider_file(tmp)), "setting": _a("choice", "all")},
        ),
    ]
    return specs + _evaluation_specs(tmp) + _dataset_specs(tmp)


#: Each matcher's parameters beyond the thresholds all have, and their kinds.
_MATCHER_PARAMS = {
    "SMSMatcher": {},
    "DMSMatcher": {},
    "NAMSMatcher": {"num_per_face": "posint", "low_iou_thr": "fraction"},
    "HAMBoxMatcher": {
        "top_k": "posint",
        "online_iou_thr": "fraction",
        "high_quality_iou_thr": "fraction",
    },
}

_MATCHER_DEFAULTS = {
    "pos_iou_thr": 0.35,
    "ignore_ioa_thr": 0.5,
    "num_per_face": 3,
    "low_iou_thr": 0.1,
    "top_k": 3,
    "online_iou_thr": 0.5,
    "high_quality_iou_thr": 0.5,
}


def _matcher_spec(cls, params, backend: str):
    """A matcher's spec: its parameters (``params``: name -> kind, beyond the thresholds all
    have) and the call's arrays (per image for the core, a padded batch for torch)."""
    thresholds = {"pos_iou_thr": "fraction", "ignore_ioa_thr": "fraction", **params}
    args = {p: _a(kind, _MATCHER_DEFAULTS[p]) for p, kind in thresholds.items()}
    hambox = cls.__name__ == "HAMBoxMatcher"  # the others accept pred_boxes and ignore them
    if backend == "core":
        args.update(
            anchors=_a("boxes", _ANCHORS),
            gt_boxes=_a("boxes", _FACES),
            pred_boxes=_a("boxes" if hambox else "free", _PRED),
            gt_ignore=_a("boxes", _REGIONS, optional=True),
        )
        arrays, keywords = ("anchors", "gt_boxes"), ("pred_boxes", "gt_ignore")
    else:
        pred = np.stack([_PRED, _PRED[::-1]])
        args.update(
            anchors=_a("t_boxes", lambda tmp: _t(_ANCHORS)),
            gt_boxes=_a("t_padded", lambda tmp: _padded_faces()),
            gt_valid=_a("tvec_mask2", lambda tmp: _padded_valid()),
            pred_boxes=_a("t_batch" if hambox else "free", lambda tmp: _t(pred)),
            gt_ignore=_a(
                "t_batch", lambda tmp: _t(np.stack([_REGIONS, _REGIONS[::-1]])), optional=True
            ),
        )
        arrays, keywords = ("anchors", "gt_boxes", "gt_valid"), ("pred_boxes", "gt_ignore")

    def call(**kw):
        matcher = cls(**{k: kw[k] for k in thresholds})
        return matcher(*(kw[k] for k in arrays), **{k: kw[k] for k in keywords})

    devices = (*arrays, "gt_ignore", *(("pred_boxes",) if hambox else ()))
    return Spec(cls, args, call=call, device_args=devices if backend == "torch" else ())


# --- evaluation ---------------------------------------------------------------------------------


_KEY = ("0--Parade", "img_a")
_KEY2 = ("1--Handshaking", "img_b")


def _wider_gt():
    from hambox_core.evaluation.widerface_truth import WiderGroundTruth

    return WiderGroundTruth.from_images(
        [_KEY, _KEY2],
        [[[10, 10, 20, 20], [50, 50, 30, 30]], [[5, 5, 40, 40]]],
        {s: [[True, True], [True]] for s in ("easy", "medium", "hard")},
    )


def _wider_preds():
    return {
        _KEY: np.array([[11, 10, 20, 20, 0.9], [300, 300, 10, 10, 0.5]]),
        _KEY2: np.array([[5, 6, 40, 40, 0.8]]),
    }


def _face_ap_inputs():
    det = {
        "img1": np.array([[12, 8, 112, 108, 0.9], [300, 300, 340, 340, 0.3]]),
        "img2": np.array([[0, 0, 52, 52, 0.8]]),
    }
    ann = {"img1": np.array([[10, 10, 110, 110]]), "img2": np.array([[0, 0, 50, 50]])}
    return det, ann


def _fddb_inputs():
    ann = {
        "a": np.array([[30.0, 20.0, 0.3, 60.0, 50.0]]),
        "b": np.array([[25, 15, -0.2, 40, 40.0]]),
    }
    det = {"a": np.array([[42.0, 28.0, 38.0, 46.0, 0.9]]), "b": np.array([[20, 20, 40, 45, 0.7]])}
    sizes = {"a": (120, 140), "b": (100, 90)}
    return det, ann, sizes


def _wider_file(tmp: Path) -> Path:
    p = tmp / "wider" / "wider_face_val_bbx_gt.txt"
    p.parent.mkdir(parents=True, exist_ok=True)
    if not p.exists():
        p.write_text("0--Parade/a.jpg\n1\n10 10 20 20 0 0 0 0 0 0\n")
    return p


def _evaluation_specs(tmp: Path) -> list[Spec]:
    from hambox_core.evaluation import ap, fddb, fddb_regions, widerface
    from hambox_core.evaluation import widerface_breakdown as wb
    from hambox_core.evaluation import widerface_predictions as wp
    from hambox_core.evaluation import widerface_truth as wt

    gt = _wider_gt()
    wider_args = {
        "preds": _a("map_wider", lambda tmp: _wider_preds()),
        "iou_threshold": _a("threshold", 0.5),
        "num_thresholds": _a("posint", 50),
        "semantics": _a("choice", "official"),
    }
    # "predictions of 0--Parade/img_a ...": the image named, as the WIDER tools say it
    wider_names = {"preds": ("predictions",)}
    det, ann = _face_ap_inputs()
    fdet, fann, fsizes = _fddb_inputs()
    specs = [
        Spec(
            widerface.evaluate,
            wider_args,
            call=lambda **kw: widerface.evaluate(gt=gt, **kw),
            names=wider_names,
        ),
        Spec(
            widerface.pr_curves,
            wider_args,
            call=lambda **kw: widerface.pr_curves(gt=gt, **kw),
            names=wider_names,
        ),
        Spec(
            widerface.match_detections,
            wider_args,
            call=lambda **kw: widerface.match_detections(gt=gt, **kw),
            compare=False,
            names=wider_names,
        ),
        Spec(
            widerface.evaluation_metadata,
            {
                "semantics": _a("choice", "official"),
                "iou_threshold": _a("threshold", 0.5),
                "num_thresholds": _a("posint", 1000),
            },
        ),
        Spec(
            widerface.check_settings,
            {"settings": _a("settings", ["easy", "hard"])},
            call=lambda settings: widerface.check_settings(gt, settings),
        ),
        Spec(
            wb.breakdown,
            {**wider_args, "size_bins": _a("edges", (0.0, 20.0, math.inf))},
            call=lambda **kw: wb.breakdown(gt=gt, **kw),
            names=wider_names,
        ),
        Spec(
            wb.breakdown_matched,
            {"size_bins": _a("edges", (0.0, 20.0, math.inf))},
            call=lambda size_bins: wb.breakdown_matched(
                widerface.match_detections(_wider_preds(), gt, num_thresholds=20),
                size_bins=size_bins,
            ),
        ),
        Spec(
            wb.write_breakdown,
            {"out_dir": _a("dir_out", lambda tmp: _fresh_dir(tmp, "breakdown"))},
            call=lambda out_dir: wb.write_breakdown(
                out_dir, wb.breakdown(_wider_preds(), gt, num_thresholds=20)
            ),
            compare=False,
        ),
        Spec(
            ap.voc_ap,
            {
                "recall": _a("vec_fraction", np.array([0.1, 0.5, 0.5, 1.0])),
                # NaN precision (0 / 0) is allowed and ignored
                "precision": _a("vec_fraction_nan", np.array([1.0, 0.8, 0.6, 0.5])),
                "summation": _a("choice", "sequential"),
            },
        ),
        Spec(
            ap.evaluate_face_ap,
            {
                "detections": _a("map_xyxy_score", det),
                "annotations": _a("map_xyxy", ann),
                "min_size": _a("nonneg", 30.0),
                "iou_threshold": _a("threshold", 0.5),
                "calibration_iterations": _a("posint", 2),
            },
        ),
        Spec(
            ap.read_face_eval_detections,
            {
                "path": _a(
                    "path_in", _written("face_eval/det.txt", ap.write_face_eval_detections, det)
                )
            },
        ),
        Spec(
            ap.write_face_eval_detections,
            {
                "path": _a("path_out", lambda tmp: _out(tmp) / "face_eval.txt"),
                "detections": _a("map_xyxy_score", det),
            },
            compare=False,
        ),
        Spec(
            fddb.evaluate,
            {
                "detections": _a("map_xywh_score", fdet),
                "annotations": _a("map_ellipse", fann),
                "image_sizes": _a("size_map", fsizes),
                "detection_format": _a("choice", "rectangle"),
                "matching": _a("choice", "official"),
                "rasterization": _a("choice", "opencv"),
            },
        ),
        Spec(
            fddb.read_detections,
            {"path": _a("path_in", _written("fddb/det.txt", fddb.write_detections, fdet))},
        ),
        Spec(
            fddb.write_detections,
            {
                "path": _a("path_out", lambda tmp: _out(tmp) / "fddb_det.txt"),
                "detections": _a("map_xywh_score", fdet),
            },
            compare=False,
        ),
        Spec(
            fddb.write_roc,
            {"path": _a("path_out", lambda tmp: _out(tmp) / "roc.txt")},
            call=lambda path: fddb.write_roc(path, fddb.evaluate(fdet, fann, fsizes).discrete),
            compare=False,
        ),
        Spec(
            fddb_regions.check_image_hw,
            {"image_hw": _a("size", (20, 30))},
        ),
        Spec(
            fddb_regions.ellipse_region,
            {
                "major": _a("nonneg", 10.0),
                "minor": _a("nonneg", 6.0),
                "angle": _a("real", 0.3),
                "cx": _a("real", 20.0),
                "cy": _a("real", 15.0),
                "image_hw": _a("size", (40, 50)),
                "rasterization": _a("choice", "opencv"),
            },
            # the FDDB program's names for the centre
            names={"cx": ("center_x",), "cy": ("center_y",)},
        ),
        Spec(
            fddb_regions.rectangle_region,
            {
                "x": _a("real", 3.0),
                "y": _a("real", 4.0),
                "w": _a("nonneg", 10.0),
                "h": _a("nonneg", 12.0),
                "image_hw": _a("size", (40, 50)),
            },
        ),
        Spec(
            fddb_regions.overlap_matrix,
            {
                "ellipses": _a("free", np.array([[10.0, 6.0, 0.3, 20.0, 15.0]])),
                "detections": _a("free", np.array([[12.0, 8.0, 15.0, 16.0, 0.9]])),
                "image_hw": _a("size", (40, 50)),
            },
        ),
        Spec(
            wp.as_prediction_array,
            {"arr": _a("free", np.array([[1.0, 2.0, 3.0, 4.0, 0.5]]))},
            call=lambda arr: wp.as_prediction_array(arr, _KEY),
        ),
        Spec(wp.read_prediction_file, {"path": _a("path_in", lambda tmp: _prediction_dir(tmp)[1])}),
        Spec(
            wp.read_predictions,
            {"pred_dir": _a("dir_in", lambda tmp: _prediction_dir(tmp)[0])},
            call=lambda pred_dir: wp.read_predictions(pred_dir, gt),
        ),
        Spec(
            wp.write_predictions,
            {"pred_dir": _a("dir_out", lambda tmp: _fresh_dir(tmp, "preds_out"))},
            call=lambda pred_dir: wp.write_predictions(pred_dir, _wider_preds()),
            compare=False,
        ),
        Spec(
            wt.load_ground_truth,
            {"gt_dir": _a("dir_in", lambda tmp: _gt_dir(tmp, gt))},
        ),
        Spec(
            wt.write_ground_truth,
            {"gt_dir": _a("dir_out", lambda tmp: _fresh_dir(tmp, "gt_out"))},
            call=lambda gt_dir: wt.write_ground_truth(gt_dir, gt),
            compare=False,
        ),
        Spec(
            wt.check_int32_boxes,
            {"name": _a("free", "gt")},
            call=lambda name: wt.check_int32_boxes(gt, name),
        ),
    ]
    return specs


def _out(tmp: Path) -> Path:
    """A folder for the writers' outputs."""
    (tmp / "out").mkdir(exist_ok=True)
    return tmp / "out"


def _fresh_dir(tmp: Path, name: str) -> Path:
    p = Path(tempfile.mkdtemp(prefix=name, dir=tmp))
    return p


def _written(rel: str, writer, data):
    """A factory of the path ``tmp / rel``, written by ``writer(path, data)`` on first use."""

    def make(tmp: Path) -> Path:
        p = tmp / rel
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            writer(p, data)
        return p

    return make


def _prediction_dir(tmp: Path):
    from hambox_core.evaluation import widerface_predictions as wp

    d = tmp / "preds"
    if not d.exists():
        wp.write_predictions(d, _wider_preds())
    files = sorted(d.rglob("*.txt"))
    return d, files[0]


def _gt_dir(tmp: Path, gt) -> Path:
    from hambox_core.evaluation import widerface_truth as wt

    d = tmp / "gt"
    if not d.exists():
        wt.write_ground_truth(d, gt)
    return d


def _dataset_specs(tmp: Path) -> list[Spec]:
    from hambox_core import datasets as ds

    ann = [ds.WiderAnnotation("0--Parade/a.jpg", np.array([[1, 2, 10, 12]], np.float32))]
    ellipses = {"2002/08/11/big/img_591": np.array([[30.0, 20.0, 0.3, 60.0, 50.0]])}

    def written(name, writer, data):
        return _written(f"datasets/{name}", writer, data)

    return [
        Spec(
            ds.read_wider_annotations,
            {"path": _a("path_in", written("w.txt", ds.write_wider_annotations, ann))},
        ),
        Spec(
            ds.read_retinaface_labels,
            {"path": _a("path_in", written("r.txt", ds.write_retinaface_labels, ann))},
        ),
        Spec(
            ds.read_fddb_fold,
            {"path": _a("path_in", written("f.txt", ds.write_fddb_fold, list(ellipses)))},
        ),
        Spec(
            ds.read_fddb_ellipses,
            {"path": _a("path_in", written("e.txt", ds.write_fddb_ellipses, ellipses))},
        ),
        Spec(
            ds.write_wider_annotations,
            {"path": _a("path_out", lambda tmp: _out(tmp) / "w.txt")},
            call=lambda path: ds.write_wider_annotations(path, ann),
            compare=False,
        ),
        Spec(
            ds.write_retinaface_labels,
            {"path": _a("path_out", lambda tmp: _out(tmp) / "r.txt")},
            call=lambda path: ds.write_retinaface_labels(path, ann),
            compare=False,
        ),
        Spec(
            ds.write_fddb_fold,
            {"path": _a("path_out", lambda tmp: _out(tmp) / "f.txt")},
            call=lambda path: ds.write_fddb_fold(path, list(ellipses)),
            compare=False,
        ),
        Spec(
            ds.write_fddb_ellipses,
            {"path": _a("path_out", lambda tmp: _out(tmp) / "e.txt")},
            call=lambda path: ds.write_fddb_ellipses(path, ellipses),
            compare=False,
        ),
    ]


# --- torch ----------------------------------------------------------------------------------------


def _t(arr, dtype=None):
    return torch.tensor(np.asarray(arr), dtype=dtype or torch.float32)


def _padded_faces(tmp=None):
    gt = torch.zeros(2, 3, 4)
    gt[0] = _t(_FACES)
    gt[1, 0] = _t(_FACES[1])
    return gt


def _padded_valid(tmp=None):
    return torch.tensor([[True, True, True], [True, False, False]])


def _torch_specs(tmp: Path) -> list[Spec]:
    import hambox_torch.boxes as tb
    import hambox_torch.losses as tl
    import hambox_torch.matching as tm
    import hambox_torch.postprocess as tp
    from hambox_torch.anchors import AnchorGenerator, level_anchors
    from hambox_torch.inference import protocols
    from hambox_torch.pipeline import supervision as sup

    anchors_t = _t(_ANCHORS)
    specs = [
        Spec(tb.box_area, {"boxes": _a("t_boxes_any", lambda tmp: _t(_BOXES))}),
        Spec(
            tb.box_iou,
            {
                "boxes1": _a("t_boxes_any", lambda tmp: _t(_BOXES)),
                "boxes2": _a("t_boxes_any", lambda tmp: _t(_FACES)),
            },
            device_args=("boxes1", "boxes2"),
        ),
        Spec(
            tb.box_ioa,
            {
                "boxes": _a("t_boxes_any", lambda tmp: _t(_BOXES)),
                "regions": _a("t_boxes_any", lambda tmp: _t(_REGIONS)),
            },
            device_args=("boxes", "regions"),
        ),
        Spec(
            tb.check_box_tensor,  # shape and dtype only: values are ValueChecks' job
            {"boxes": _a("t_box_array", lambda tmp: _t(_BOXES))},
            call=lambda boxes: tb.check_box_tensor(boxes, "boxes"),
        ),
        Spec(
            tb.encode,
            {
                "anchors": _a("t_boxes_any", lambda tmp: _t(_BOXES)),
                "gt_boxes": _a("t_boxes_any", lambda tmp: _t(_FACES)),
                "variances": _a("variances", (0.1, 0.1, 0.2, 0.2)),
            },
            device_args=("anchors", "gt_boxes"),
        ),
        Spec(
            tb.decode,
            {
                "anchors": _a("t_boxes_any", lambda tmp: _t(_BOXES)),
                "deltas": _a("t_deltas_any", lambda tmp: _t(_DELTAS)),
                "variances": _a("variances", (0.1, 0.1, 0.2, 0.2)),
            },
            device_args=("anchors", "deltas"),
        ),
        Spec(
            AnchorGenerator,
            {"scale": _a("real", 0.68), "image_hw": _a("size", (32, 40))},
            call=lambda scale, image_hw: AnchorGenerator((4, 8), (16, 32), scale).grid_anchors(
                image_hw
            ),
        ),
        Spec(
            level_anchors,
            {
                "fh": _a("count", 2),
                "fw": _a("count", 3),
                "stride": _a("posint", 4),
                "half_sizes": _a(
                    "t_any", lambda tmp: torch.tensor([[2.0, 3.0]], dtype=torch.float64)
                ),
            },
        ),
    ]
    specs += [_matcher_spec(getattr(tm, c), p, "torch") for c, p in _MATCHER_PARAMS.items()]

    loss_args = {
        "cls_logits": _a("tvec_finite", lambda tmp: _t(_LOGITS)),
        "box_deltas": _a("t_loss_rows", lambda tmp: _t(_LOSS_DELTAS)),
        "box_targets": _a("t_loss_rows", lambda tmp: _t(_LOSS_TARGETS)),
        "labels": _a("tvec_labels", lambda tmp: torch.tensor(_LABELS)),
    }
    hyper = {"alpha": _a("real", 0.25), "gamma": _a("nonneg", 2.0), "beta": _a("nonneg", 0.1)}
    loss_devices = ("cls_logits", "box_deltas", "box_targets", "labels")
    specs += [
        Spec(
            tl.regression_aware_focal_loss,
            {
                **loss_args,
                "compensated": _a("tvec_mask", lambda tmp: torch.tensor(_COMPENSATED)),
                "quality": _a("tvec_any", lambda tmp: _t(_QUALITY)),
                **hyper,
                "compensated_normalizer": _a("choice", "positives"),
            },
            device_args=(*loss_devices, "compensated", "quality"),
        ),
        Spec(tl.standard_focal_loss, {**loss_args, **hyper}, device_args=loss_devices),
        Spec(
            tl.sigmoid_focal_loss,
            {
                "logits": _a("tvec_finite", lambda tmp: _t(_LOGITS)),
                "targets": _a("tvec_fraction", lambda tmp: _t(_TARGETS01)),
                "alpha": _a("real", 0.25),
                "gamma": _a("nonneg", 0.5),
            },
            device_args=("logits", "targets"),
        ),
        Spec(
            tl.smooth_l1_loss,
            {
                "deltas": _a("t_deltas", lambda tmp: _t(_LOSS_DELTAS)),
                "targets": _a("t_deltas", lambda tmp: _t(_LOSS_TARGETS)),
                "beta": _a("nonneg", 0.1),
            },
            device_args=("deltas", "targets"),
        ),
    ]
    for cls in (tl.RegressionAwareFocalLoss, tl.StandardFocalLoss):
        specs.append(
            Spec(
                cls,
                {
                    **hyper,
                    "global_normalize": _a("bool", False),
                    "cls_logits": _a("tvec_finite", lambda tmp: _t(_LOGITS)),
                    "labels": _a("tvec_labels", lambda tmp: torch.tensor(_LABELS)),
                },
                call=lambda cls_logits, labels, alpha, gamma, beta, global_normalize, cls=cls: cls(
                    alpha, gamma, beta, global_normalize=global_normalize
                )(
                    cls_logits,
                    _t(_LOSS_DELTAS),
                    _t(_LOSS_TARGETS),
                    labels,
                    torch.tensor(_COMPENSATED),
                    _t(_QUALITY),
                ),
                device_args=("cls_logits", "labels"),
            )
        )
    b = 2
    specs += [
        Spec(tp.face_scores, {"cls_logits": _a("t_any", lambda tmp: _t(_LOGITS))}),
        Spec(
            tp.nms,
            {
                "boxes": _a("t_boxes", lambda tmp: _t(_BOXES)),
                "scores": _a("tvec_finite", lambda tmp: _t([0.9, 0.8, 0.7])),
                "iou_thr": _a("fraction", 0.3),
            },
            device_args=("boxes", "scores"),
        ),
        Spec(
            tp.postprocess_detections,
            {
                "cls_logits": _a("t_any", lambda tmp: _t(np.stack([_POST_LOGITS] * b))),
                "box_deltas": _a("t_any", lambda tmp: torch.zeros(b, len(_ANCHORS), 4)),
                "anchors": _a("t_boxes", lambda tmp: anchors_t.clone()),
                "num_anchors_per_level": _a("free", list(_LEVELS)),
                "score_thr": _a("fraction", 0.05),
                "pre_nms_top_k": _a("cap", 10),
                "nms_iou_thr": _a("fraction", 0.3),
                "max_detections": _a("cap", 5),
                "image_hw": _a("hw", (30, 30), optional=True),
                "variances": _a("variances", (0.1, 0.1, 0.2, 0.2)),
                "min_box_size": _a("nonneg", 1.0),
                "return_indices": _a("bool", False),
            },
            device_args=("cls_logits", "box_deltas", "anchors"),
        ),
        Spec(
            protocols.box_vote,
            {
                "boxes": _a("t_boxes", lambda tmp: _t(np.concatenate([_BOXES, _BOXES + 1]))),
                "scores": _a(
                    "tvec_finite",
                    lambda tmp: _t([0.9, 0.8, 0.7, 0.6, 0.5, 0.4]),
                    negative=("error", lambda v, c: _t_set(v, c, -0.5)),
                ),
                "iou_thr": _a("threshold", 0.3),
                "keep_singletons": _a("bool", True),
                "max_detections": _a("cap", 10),
            },
            device_args=("boxes", "scores"),
        ),
        Spec(protocols.VGA, {"max_size": _a("size", (640, 480))}, compare=False),
        Spec(
            protocols.MultiScaleFlip,
            {
                "max_pixels": _a("posint", 1000),
                "max_scale": _a("nonneg", 2.0),
                "large_min": _a("nonneg", 30.0),
                "small_max": _a("nonneg", 100.0),
                "vote_iou": _a("threshold", 0.3),
                "keep_singletons": _a("bool", False),
                "max_detections": _a("posint", 100),
            },
            compare=False,
        ),
        Spec(protocols.get_protocol, {"protocol": _a("choice", "vga")}, compare=False),
        Spec(
            sup.pad_faces,
            {
                "gt_boxes": _a("t_faces", lambda tmp: _padded_faces()),
                "gt_valid": _a("tvec_mask2", lambda tmp: _padded_valid(), optional=True),
            },
            device_args=("gt_boxes", "gt_valid"),
        ),
        Spec(
            sup.supervise,
            {
                "cls_logits": _a("t_any", lambda tmp: _t(np.stack([_POST_LOGITS] * b))),
                "box_deltas": _a("t_any", lambda tmp: torch.zeros(b, len(_ANCHORS), 4)),
                "anchors": _a("t_boxes", lambda tmp: anchors_t.clone()),
                "gt_boxes": _a("t_faces", lambda tmp: _padded_faces()),
                "gt_valid": _a("tvec_mask2", lambda tmp: _padded_valid(), optional=True),
                "variances": _a("variances", (0.1, 0.1, 0.2, 0.2)),
            },
            call=lambda **kw: sup.supervise(
                **kw, matcher=tm.HAMBoxMatcher(), loss=tl.RegressionAwareFocalLoss()
            ),
            device_args=("cls_logits", "box_deltas", "anchors", "gt_boxes", "gt_valid"),
        ),
        Spec(
            sup.BatchMatcher,
            {"backend": _a("choice", "torch")},
            call=lambda backend: sup.BatchMatcher(tm.SMSMatcher(), backend)(
                anchors_t, _padded_faces(), _padded_valid()
            ),
        ),
        Spec(
            sup.Supervisor,
            {"loc_weight": _a("nonneg", 1.0), "backend": _a("choice", "auto")},
            call=lambda loc_weight, backend: sup.Supervisor(
                tm.SMSMatcher(), tl.RegressionAwareFocalLoss(), loc_weight, backend=backend
            ),
            compare=False,
        ),
        Spec(
            sup.match_statistics,
            {"top_k": _a("posint", 3)},
            call=lambda top_k: sup.match_statistics(
                tm.SMSMatcher()(anchors_t, _padded_faces(), _padded_valid()), _padded_valid(), top_k
            ),
        ),
    ]
    return specs


def specs(tmp: Path, *, with_torch: bool = True) -> dict[str, Spec]:
    """Canonical name -> :class:`Spec`; files the readers need are written under ``tmp``."""
    out = {}
    for spec in _core_specs(tmp) + (_torch_specs(tmp) if with_torch and torch else []):
        if spec.name in out:
            raise AssertionError(f"two specs for {spec.name}")
        out[spec.name] = spec
    return out
