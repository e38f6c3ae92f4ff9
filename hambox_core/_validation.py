"""Input checks shared by the public functions of :mod:`hambox_core`.

Every public entry point converts its inputs here, so that bad input raises a
:class:`ValueError` that names the offending argument instead of failing deep
inside a numba kernel. Nothing here modifies its input: arrays that need a new
dtype or layout are copied.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "as_boxes",
    "check_choice",
    "check_fraction",
    "check_positive_int",
    "check_threshold",
]


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
        or infinite, or (unless ``allow_inverted``) a box has ``x1 < x0`` or ``y1 < y0``.
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
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if out.shape[0] == 0:
        return out
    finite = np.isfinite(out)
    if not finite.all():
        row = int(np.nonzero(~finite.all(axis=1))[0][0])
        raise ValueError(f"{name} has a NaN or infinite coordinate in row {row}: {arr[row]}")
    if not allow_inverted:
        bad = (out[:, 2] < out[:, 0]) | (out[:, 3] < out[:, 1])
        if bad.any():
            row = int(np.nonzero(bad)[0][0])
            raise ValueError(f"{name} must satisfy x1 >= x0 and y1 >= y0; row {row} is {arr[row]}")
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
