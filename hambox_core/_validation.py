"""Input checks shared by the public functions of :mod:`hambox_core`.

Every public entry point converts its inputs here, so that bad input raises a
:class:`ValueError` that names the offending argument instead of failing deep
inside a numba kernel. Nothing here modifies its input: arrays that need a new
dtype or layout are copied.
"""

from __future__ import annotations

import numpy as np

from ._numba import njit, njit_inline

__all__ = [
    "ALL_ROWS",
    "F32_MAX",
    "as_boxes",
    "box_array",
    "check_boxes",
    "check_choice",
    "check_fraction",
    "check_image_hw",
    "check_image_size",
    "check_iou_thresholds",
    "check_positive_int",
    "check_threshold",
    "first_invalid_box",
    "raise_invalid_box",
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
        The input itself when it already has that dtype and layout, otherwise a copy.

    Raises
    ------
    ValueError
        If the shape is not ``(N, 4)`` or the dtype is not real numeric.
    """
    arr = np.asarray(value)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def raise_invalid_box(boxes: np.ndarray, row: int, name: str, original=None) -> None:
    """Raise the ``ValueError`` that describes row ``row`` of ``boxes``, an invalid box.

    ``original`` (the caller's array before conversion to float32) is quoted when given.
    """
    shown = boxes[row] if original is None else np.asarray(original)[row]
    if not np.isfinite(boxes[row]).all():
        raise ValueError(f"{name} has a NaN or infinite coordinate in row {row}: {shown}")
    raise ValueError(f"{name} must satisfy x1 >= x0 and y1 >= y0; row {row} is {shown}")


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


def check_fraction(value, name: str) -> float:
    """Return ``value`` as a float, raising ``ValueError`` unless it lies in [0, 1]."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= out <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return out


def check_threshold(value, name: str) -> float:
    """Return ``value`` as a float, raising ``ValueError`` unless it lies in (0, 1].

    For thresholds that a quantity in [0, 1] must reach (``>=``): 0 would accept everything,
    and NaN or infinity nothing sensible.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}") from None
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
