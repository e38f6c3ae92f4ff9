"""Input checks shared by the public functions of both packages: one definition of each rule.

Every public entry point of :mod:`hambox_core` converts its inputs here, so that bad input
raises a :class:`ValueError` that names the offending argument instead of failing deep inside
a numba kernel; :mod:`hambox_torch` applies the same rules through the same functions, so the
two backends accept and reject the same values with the same messages:

* scalar rules (thresholds, counts, focal parameters, image sizes) are plain functions of
  Python numbers, called by both backends;
* value rules of arrays (valid boxes, finite numbers, labels, 0/1 masks, fractions) are
  written once with array operators only (:func:`invalid_box_rows`, :func:`not_finite`,
  :func:`not_label`, :func:`not_binary`, :func:`outside_unit`), so that the same expression
  runs on numpy arrays here and on torch tensors, on their device, in
  :mod:`hambox_torch.validation`; for numpy boxes, :func:`first_invalid_box` is the numba fast
  path of :func:`invalid_box_rows` (a property test checks that they agree);
* the messages of the value rules are built by one function each (:func:`box_error`,
  :func:`number_error`, :func:`label_error`, :func:`binary_error`, :func:`range_error`) from
  the first bad index and its values, whichever backend found it.

Nothing here modifies its input: arrays that need a new dtype or layout are copied, and so are
read-only arrays handed to the numba kernels (a read-only array is another type to numba and
would compile every kernel it reaches a second time).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from ._numba import njit, njit_inline

__all__ = [
    "ALL_ROWS",
    "F32_MAX",
    "as_bool_mask",
    "as_boxes",
    "as_int_vector",
    "as_labels",
    "as_number",
    "as_real_array",
    "as_real_rows",
    "as_real_vector",
    "binary_error",
    "box_array",
    "box_error",
    "check_bool",
    "check_boxes",
    "check_choice",
    "check_class_logits",
    "check_count",
    "check_finite",
    "check_focal_parameters",
    "check_fraction",
    "check_image_hw",
    "check_image_size",
    "check_iou_thresholds",
    "check_length",
    "check_mapping",
    "check_non_negative",
    "check_positive_int",
    "check_real",
    "check_threshold",
    "check_variances",
    "class_index_error",
    "compensated_error",
    "decode_overflow_error",
    "empty_box_error",
    "first_index",
    "first_invalid_box",
    "invalid_box_rows",
    "label_error",
    "not_binary",
    "not_finite",
    "not_label",
    "number_error",
    "outside_unit",
    "raise_invalid_box",
    "range_error",
    "shape_wanted",
    "valid_box",
]


#: Largest finite float32.
F32_MAX = np.float32(np.finfo(np.float32).max)

#: An empty row list, for :func:`first_invalid_box` on all rows.
ALL_ROWS = np.empty(0, np.int64)


# Pattern of the coordinates that start an ordered pair (x0 before x1, y0 before y1) in a
# flattened (N, 4) array, one block long.
_BLOCK = 1024
_NOT_PAIR_START = np.tile(np.array([False, False, True, True]), _BLOCK // 4)


@njit_inline
def valid_box(x0, y0, x1, y1, allow_inverted):
    """Whether float32 coordinates are finite and (unless ``allow_inverted``) ordered."""
    finite = (abs(x0) <= F32_MAX) & (abs(y0) <= F32_MAX)  # NaN fails every comparison
    finite &= (abs(x1) <= F32_MAX) & (abs(y1) <= F32_MAX)
    return finite & (allow_inverted | ((x1 >= x0) & (y1 >= y0)))


@njit
def _block_valid(flat, lo, hi, allow_inverted):
    """Whether coordinates ``lo..hi-1`` of a flattened (N, 4) array (``lo`` a multiple of 4)
    are finite and, unless ``allow_inverted``, each ``x1 >= x0`` and ``y1 >= y0``. No branches,
    so that the loops vectorise."""
    block = flat[lo:hi]
    ok = True
    for j in range(hi - lo):
        ok &= abs(block[j]) <= F32_MAX
    if not allow_inverted:
        pairs = hi - lo - 2
        ahead = flat[lo + 2 : hi]
        for j in range(pairs):
            ok &= _NOT_PAIR_START[j] | (ahead[j] >= block[j])
    return ok


@njit
def first_invalid_box(boxes, rows, subset, allow_inverted):
    """First row of a float32 (N, 4) C-contiguous array (of the increasing ``rows`` if
    ``subset``) that is not a valid box, or -1.

    All rows are checked in vectorised blocks on the flattened array, and only a block that
    fails is searched for its first bad row; a subset row by row.
    """
    if subset:
        for p in range(rows.shape[0]):
            i = rows[p]
            if not valid_box(boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3], allow_inverted):
                return i
        return -1
    flat = boxes.reshape(boxes.size)
    for lo in range(0, flat.shape[0], _BLOCK):
        hi = min(flat.shape[0], lo + _BLOCK)
        if not _block_valid(flat, lo, hi, allow_inverted):
            for i in range(lo // 4, hi // 4):
                if not valid_box(
                    boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3], allow_inverted
                ):
                    return i
    return -1


def box_array(value, name: str) -> np.ndarray:
    """Return ``value`` as a C-contiguous float32 ``(N, 4)`` array, checking dtype and shape only.

    For callers that check the coordinates themselves (in the same pass as other work); the
    others use :func:`as_boxes`.

    Parameters
    ----------
    value : array_like of shape (N, 4)
        Boxes. ``N`` may be 0; an empty 1-d array is read as ``(0, 4)``.
    name : str
        Argument name used in error messages.

    Returns
    -------
    ndarray of shape (N, 4), float32
        The input itself when it already has that dtype and layout and is writable, otherwise
        a copy.

    Raises
    ------
    ValueError
        If the shape is not ``(N, 4)`` or the dtype is not real numeric.
    """
    arr = as_real_array(value, name)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {arr.shape}")
    out = np.ascontiguousarray(arr, dtype=np.float32)
    return out if out.flags.writeable else out.copy()


def raise_invalid_box(boxes: np.ndarray, row: int, name: str, original=None) -> None:
    """Raise the ``ValueError`` that describes row ``row`` of ``boxes``, an invalid box.

    ``original`` (the caller's array before conversion to float32) is quoted when given.
    """
    shown = boxes[row] if original is None else np.asarray(original)[row]
    raise box_error(name, f"row {row}", boxes[row], shown)


def box_error(name: str, where: str, coords, shown=None) -> ValueError:
    """The error describing an invalid box (both backends' message).

    Parameters
    ----------
    name : str
        The argument.
    where : str
        Which box, e.g. ``"row 3"`` or ``"row 3 of image 0"``.
    coords : sequence of 4 numbers
        Its coordinates as checked (float32 values: beyond float32's range is infinite).
    shown : optional
        What to quote (default ``coords``), e.g. the caller's values before conversion.

    Examples
    --------
    >>> box_error("gt_boxes", "row 1", [0, 0, float("nan"), 1])
    ValueError('gt_boxes has a NaN or infinite coordinate in row 1: [ 0.  0. nan  1.]')
    """
    values = np.asarray([float(v) for v in coords], dtype=np.float64)
    shown = values if shown is None else np.asarray(shown)
    if not (np.abs(values) <= F32_MAX).all():
        return ValueError(f"{name} has a NaN or infinite coordinate in {where}: {shown}")
    return ValueError(f"{name} must satisfy x1 >= x0 and y1 >= y0; {where} is {shown}")


def check_boxes(boxes: np.ndarray, name: str, *, rows=None, allow_inverted=False, original=None):
    """Raise ``ValueError`` naming ``name`` and the first bad row unless every row of the float32
    ``(N, 4)`` array ``boxes`` (or every row in ``rows``, increasing) is finite and, unless
    ``allow_inverted``, has ``x1 >= x0`` and ``y1 >= y0``."""
    subset = rows is not None
    row = first_invalid_box(
        boxes, ALL_ROWS if rows is None else np.asarray(rows, np.int64), subset, allow_inverted
    )
    if row >= 0:
        raise_invalid_box(boxes, int(row), name, original)


def as_boxes(value, name: str, *, allow_inverted: bool = False) -> np.ndarray:
    """Return ``value`` as a C-contiguous float32 ``(N, 4)`` array of xyxy boxes.

    Parameters
    ----------
    value : array_like of shape (N, 4)
        Boxes ``(x0, y0, x1, y1)``. ``N`` may be 0; an empty 1-d array is read as ``(0, 4)``.
    name : str
        Argument name used in error messages.
    allow_inverted : bool, default False
        Accept ``x1 < x0`` or ``y1 < y0`` (only finiteness is checked).

    Returns
    -------
    ndarray of shape (N, 4), float32
        The input itself when it already has that dtype and layout, otherwise a copy.

    Raises
    ------
    ValueError
        If the shape is not ``(N, 4)``, the dtype is not real numeric, a coordinate is NaN
        or infinite, or (unless ``allow_inverted``) a box has ``x1 < x0`` or ``y1 < y0``; the
        message names the first such row.
    """
    out = box_array(value, name)
    check_boxes(out, name, allow_inverted=allow_inverted, original=value)
    return out


def as_number(value, name: str, what: str = "a real number") -> float:
    """``value`` as a float if it is a real number (not a bool, a string or an array; NaN and
    infinity pass, for the caller's own range check), else ``ValueError`` naming ``name``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return float(value)


def check_fraction(value, name: str) -> float:
    """Return ``value`` as a float, raising ``ValueError`` unless it is a number in [0, 1]."""
    out = as_number(value, name, "a number in [0, 1]")
    if not 0.0 <= out <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return out


def check_threshold(value, name: str) -> float:
    """Return ``value`` as a float, raising ``ValueError`` unless it lies in (0, 1].

    For thresholds that a quantity in [0, 1] must reach (``>=``): 0 would accept everything,
    and NaN or infinity nothing sensible.
    """
    out = as_number(value, name, "a number in (0, 1]")
    if not 0.0 < out <= 1.0:
        raise ValueError(f"{name} must lie in (0, 1], got {value!r}")
    return out


def check_choice(value, name: str, choices) -> str:
    """Return ``value`` unchanged, raising ``ValueError`` unless it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int, raising ``ValueError`` unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_iou_thresholds(pos_iou_thr, neg_iou_thr) -> tuple[float, float]:
    """Step one's ``(pos_iou_thr, neg_iou_thr)``: fractions, ``neg`` defaulting to ``pos`` and
    never above it (shared by both backends' matchers)."""
    pos = check_fraction(pos_iou_thr, "pos_iou_thr")
    neg = pos if neg_iou_thr is None else check_fraction(neg_iou_thr, "neg_iou_thr")
    if neg > pos:
        raise ValueError(f"neg_iou_thr ({neg}) must not exceed pos_iou_thr ({pos})")
    return pos, neg


def check_image_size(value, name: str = "image_hw") -> tuple[int, int]:
    """Return ``value`` as ``(height, width)`` ints, raising ``ValueError`` unless it is two
    integers >= 0 (an image or feature-map size in pixels)."""
    try:
        h, w = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (height, width), got {value!r}") from None
    for v in (h, w):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise ValueError(f"{name} must be two integers >= 0, got {value!r}")
    return int(h), int(w)


def check_image_hw(value, name: str = "image_hw") -> tuple[float, float]:
    """Return ``value`` as ``(height, width)`` floats, raising ``ValueError`` unless it is two
    finite numbers >= 0 (an extent to clip boxes to)."""
    try:
        h, w = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (height, width), got {value!r}") from None
    if not (np.isfinite(h) and np.isfinite(w)) or h < 0 or w < 0:
        raise ValueError(f"{name} must be two finite numbers >= 0, got {value!r}")
    return h, w


# --- arrays of numbers (losses, post-processing) -------------------------------------------------


def as_real_array(value, name: str) -> np.ndarray:
    """``value`` as an ndarray of a real (integer or floating, not bool) dtype, not copied.

    Raises
    ------
    ValueError
        If ``value`` is not an array of numbers (ragged, objects, strings, bools, complex).
    """
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers: {exc}") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def shape_wanted(shape: str, n: int | None, n_from: str) -> str:
    """How a wanted shape is written in messages: ``shape`` with ``N`` the length of the
    argument ``n_from`` (both backends' wording).

    >>> shape_wanted("(N, 4)", 7, "cls_logits")
    '(N, 4) with N = 7 (the length of cls_logits)'
    """
    return shape if n is None else f"{shape} with N = {n} (the length of {n_from})"


def _as_float(arr: np.ndarray, float64: bool) -> np.ndarray:
    """``arr`` as float64 (or, unless ``float64``, its own floating dtype; integers as float64).

    A long double beyond the float64 range becomes inf, which :func:`check_finite` reports.
    """
    if not float64 and np.issubdtype(arr.dtype, np.floating):
        return arr
    with np.errstate(over="ignore"):
        return np.asarray(arr, dtype=np.float64)


def as_real_vector(
    value, name: str, n: int | None = None, n_from: str = "", *, float64: bool = True
) -> np.ndarray:
    """``value`` as a float ``(N,)`` array (the input itself when it already is one).

    Parameters
    ----------
    value : array_like of shape (N,)
    name : str
        Argument name used in error messages.
    n : int, optional
        Required length, taken from the argument named ``n_from``.
    float64 : bool, default True
        Convert to float64; otherwise floating inputs keep their dtype (integers become
        float64), for callers that only compare the values.

    Returns
    -------
    ndarray of shape (N,)
    """
    arr = as_real_array(value, name)
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        raise ValueError(
            f"{name} must have shape {shape_wanted('(N,)', n, n_from)}, got {arr.shape}"
        )
    return _as_float(arr, float64)


def as_real_rows(value, name: str, n: int | None = None, n_from: str = "") -> np.ndarray:
    """``value`` as a float64 ``(N, 4)`` array of numbers (box deltas, regression targets); an
    empty 1-d array is read as ``(0, 4)``. ``n`` and ``n_from`` as in :func:`as_real_vector`."""
    arr = as_real_array(value, name)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4 or (n is not None and arr.shape[0] != n):
        raise ValueError(
            f"{name} must have shape {shape_wanted('(N, 4)', n, n_from)}, got {arr.shape}"
        )
    return _as_float(arr, True)


def as_int_vector(value, name: str, n: int, n_from: str) -> np.ndarray:
    """``value`` as an integer ``(n,)`` array (not copied); ``n`` is the length of ``n_from``."""
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must have shape {shape_wanted('(N,)', n, n_from)}, got {arr.shape}"
        )
    return arr


def check_length(arr: np.ndarray, name: str, n: int, n_from: str) -> None:
    """Raise ``ValueError`` unless ``arr`` has ``n`` rows (the length of ``n_from``)."""
    if arr.shape[0] != n:
        want = shape_wanted("(N,)" if arr.ndim == 1 else "(N, 4)", n, n_from)
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")


def check_finite(arr: np.ndarray, name: str, rows: np.ndarray | None = None, what: str = ""):
    """Raise ``ValueError`` naming ``name`` and the first bad index unless every element (every
    row of a 2-d array; only the rows where the mask ``rows`` is set) is finite. ``what`` is
    appended to the index in the message."""
    bad = not_finite(arr)
    if bad.ndim == 2:
        bad = bad.any(axis=1)
    if rows is not None:
        bad = bad & rows
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise number_error(name, i, arr[i], what)


def as_labels(value, n: int, name: str = "labels", n_from: str = "cls_logits") -> np.ndarray:
    """Anchor labels as an int8 ``(n,)`` array with values in {-1, 0, 1}."""
    arr = as_real_array(value, name)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{name} must have shape {shape_wanted('(N,)', n, n_from)}, got {arr.shape}"
        )
    bad = not_label(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise label_error(name, i, arr[i].item())
    return arr.astype(np.int8)


def as_bool_mask(value, n: int, name: str, n_from: str) -> np.ndarray:
    """A bool ``(n,)`` array; numbers must be exactly 0 or 1."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a boolean array: {exc}") from None
    if arr.dtype != np.bool_:
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
        ):
            raise ValueError(f"{name} must be boolean, got dtype {arr.dtype}")
        bad = not_binary(arr)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise binary_error(name, i, arr[i].item())
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{name} must have shape {shape_wanted('(N,)', n, n_from)}, got {arr.shape}"
        )
    return arr.astype(bool)


# --- value rules for any array type (numpy arrays here, torch tensors in hambox_torch) ----------
#
# Written with array operators and ``.all`` / ``.any`` over the last axis only, which numpy
# arrays and torch tensors share, so that each rule has one definition for both backends.

#: float32's largest finite value as a Python float (compares alike with float32 and float64).
_F32_MAX_FLOAT = float(np.finfo(np.float32).max)


def invalid_box_rows(boxes, allow_inverted: bool = False):
    """Boolean mask of the rows of a ``(..., 4)`` array that are not valid boxes.

    A row is invalid if a coordinate is NaN, infinite or beyond float32's range (what
    conversion to float32 makes infinite), or, unless ``allow_inverted``, if ``x1 < x0`` or
    ``y1 < y0``. The rule of :func:`as_boxes`; for numpy arrays :func:`first_invalid_box` is
    its fast path.

    Parameters
    ----------
    boxes : ndarray or torch.Tensor of shape (..., 4), float32 or float64
    allow_inverted : bool, default False

    Returns
    -------
    bool array of shape (...,), of the input's type

    Examples
    --------
    >>> invalid_box_rows(np.array([[0, 0, 1, 1], [0, 0, -1, 1], [0, np.nan, 1, 1]]))
    array([False,  True,  True])
    """
    bad = ~(abs(boxes) <= _F32_MAX_FLOAT).all(-1)  # NaN fails every comparison
    if not allow_inverted:
        bad = bad | (boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1])
    return bad


def not_finite(values):
    """Boolean mask of the NaN and infinite elements of a numeric array or tensor."""
    return ~(abs(values) < math.inf)


def not_label(labels):
    """Boolean mask of the anchor labels that are not -1, 0 or 1 (NaN included)."""
    return (labels != -1) & (labels != 0) & (labels != 1)


def not_binary(values):
    """Boolean mask of the elements of a numeric mask that are neither 0 nor 1."""
    return (values != 0) & (values != 1)


def outside_unit(values):
    """Boolean mask of the elements outside [0, 1] (NaN included)."""
    return ~((values >= 0) & (values <= 1))


def first_index(mask) -> tuple[int, ...] | None:
    """Index (a tuple) of the first True element of a bool array or tensor in C order, or
    None if there is none.

    >>> first_index(np.array([[False, False], [False, True]]))
    (1, 1)
    """
    if isinstance(mask, np.ndarray):
        hits = np.argwhere(mask)
        return tuple(int(v) for v in hits[0]) if hits.shape[0] else None
    hits = mask.nonzero()  # a tensor: (K, ndim), in C order
    return tuple(int(v) for v in hits[0].tolist()) if hits.shape[0] else None


def number_error(name: str, index, value, what: str = "") -> ValueError:
    """The error of a NaN or infinite value of ``name`` at ``index`` (``what`` is appended to
    the index)."""
    return ValueError(f"{name} has a NaN or infinite value at index {index}{what}: {value}")


def label_error(name: str, index, value) -> ValueError:
    """The error of an anchor label that is not -1, 0 or 1."""
    return ValueError(f"{name} must be -1, 0 or 1; {name}[{index}] is {value!r}")


def binary_error(name: str, index, value) -> ValueError:
    """The error of a mask element that is neither 0 nor 1."""
    return ValueError(f"{name} must be boolean (0 or 1); {name}[{index}] is {value!r}")


def range_error(name: str, index, value, what: str = "") -> ValueError:
    """The error of a value outside [0, 1] (or NaN); ``what`` qualifies the name."""
    return ValueError(
        f"{name}{what} must be finite and lie in [0, 1]; {name}[{index}] is {value!r}"
    )


def empty_box_error(name: str, row) -> ValueError:
    """:func:`~hambox_core.boxes.encode`'s error of a box of zero width or height."""
    return ValueError(f"{name} row {row} has zero width or height; it cannot be encoded")


def decode_overflow_error(name: str = "box_deltas") -> ValueError:
    """Post-processing's error for deltas that decode to infinite boxes."""
    return ValueError(f"{name} decode to non-finite boxes; the deltas are too large")


def compensated_error(index, label) -> ValueError:
    """The losses' error of a compensated anchor that is not a positive."""
    return ValueError(
        f"compensated must be a subset of the positives (labels == 1); anchor {index} is "
        f"compensated but has label {label}"
    )


def class_index_error(index, value, num_classes: int) -> ValueError:
    """The losses' error of a positive anchor's class outside ``[0, num_classes)``."""
    return ValueError(
        f"classes of positive anchors must lie in [0, {num_classes}); classes[{index}] is {value}"
    )


# --- scalars --------------------------------------------------------------------------------------


def check_real(value, name: str) -> float:
    """``value`` as a finite Python float (bools and non-numbers are rejected)."""
    out = as_number(value, name, "a real number")
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def check_non_negative(value, name: str) -> float:
    """``value`` as a finite float >= 0 (:func:`check_real`, then the sign)."""
    out = check_real(value, name)
    if out < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return out


def check_focal_parameters(alpha, gamma) -> tuple[float, float]:
    """The focal loss's ``alpha`` (in [0, 1], or negative to disable the weighting) and
    ``gamma`` (>= 0), as floats."""
    a = check_real(alpha, "alpha")
    if a > 1.0:
        raise ValueError(f"alpha must lie in [0, 1] (or be negative to disable it), got {alpha!r}")
    return a, check_non_negative(gamma, "gamma")


def check_mapping(value, name: str, what: str = "image name to array"):
    """``value`` unchanged, raising ``TypeError`` unless it is a mapping (of ``what``)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of {what}, got {type(value).__name__}")
    return value


def check_bool(value, name: str) -> bool:
    """``value`` as a bool, raising ``ValueError`` unless it is one (numpy's included)."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_count(value, name: str, *, allow_none: bool = False) -> int | None:
    """``value`` as an int >= 0 (or None when ``allow_none``), else ``ValueError``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        what = "an integer >= 0" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_variances(variances) -> np.ndarray:
    """The box coder's four variances as float32, raising ``ValueError`` unless they are four
    positive finite numbers."""
    v = np.asarray(variances, dtype=np.float64)
    if v.shape != (4,) or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"variances must be four positive numbers, got {variances!r}")
    return v.astype(np.float32)


def check_class_logits(shape, classes_given: bool) -> None:
    """The rule of both backends' losses for logits of ``shape``: ``(N,)``, or ``(N, C)`` with
    ``C >= 1`` and the positives' ``classes`` given.

    >>> check_class_logits((4, 2), classes_given=True)
    >>> check_class_logits((4, 2, 1), classes_given=True)
    Traceback (most recent call last):
    ...
    ValueError: cls_logits must have shape (N,) or (N, C), got (4, 2, 1)
    """
    shape = tuple(shape)
    if len(shape) not in (1, 2):
        raise ValueError(f"cls_logits must have shape (N,) or (N, C), got {shape}")
    if len(shape) == 2:
        if shape[1] < 1:
            raise ValueError(f"cls_logits must have at least one class, got shape {shape}")
        if not classes_given:
            raise ValueError(
                "cls_logits of shape (N, C), one logit per class, need classes=: each "
                "positive anchor's class"
            )
