"""The core's input rules (:mod:`hambox_core.validation`) applied to tensors.

The torch operations check their inputs before any kernel runs, with the core's rules and
messages, so that the two backends reject the same inputs in the same words:

* types, shapes, dtypes and devices from the tensors' metadata (:func:`tensor_arg`,
  :func:`check_shape`, :func:`same_device`): free;
* values — NaN, infinity, ``x1 < x0``, labels, 0/1 masks, fractions — with the core's rule
  expressions (:func:`hambox_core.validation.invalid_box_rows` and its siblings, written with
  array operators) evaluated on the tensors' own device. A function collects its value checks
  in a :class:`ValueChecks` and :meth:`~ValueChecks.run` reduces each to one bool and reads
  them back together: **one device synchronisation per call**, the cost of a check (plus one
  pass over the checked tensors). Only when a check fails is the first bad element located
  (a second read) and described with the core's message builder.

While ``torch.compile`` or ``torch.export`` trace a function, the value checks are skipped (a
traced graph cannot branch on data); shapes and dtypes are still checked.

Padding (faces or regions whose validity mask is False) is never checked: its values are
ignored, whatever they hold.
"""

from __future__ import annotations

import torch

from hambox_core.validation import (
    binary_error,
    box_error,
    first_index,
    invalid_box_rows,
    label_error,
    not_binary,
    not_finite,
    not_label,
    number_error,
    outside_unit,
    range_error,
)

__all__ = [
    "ValueChecks",
    "check_floating",
    "check_scored_boxes",
    "check_shape",
    "same_device",
    "tensor_arg",
    "tracing",
]


def tensor_arg(value, name: str) -> torch.Tensor:
    """``value`` if it is a tensor, else ``TypeError`` naming ``name``.

    >>> tensor_arg([1.0], "scores")
    Traceback (most recent call last):
    ...
    TypeError: scores must be a torch.Tensor, got list
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def check_shape(t: torch.Tensor, name: str, want: str, ok: bool) -> None:
    """``ValueError`` naming ``name`` and the wanted shape unless ``ok``."""
    if not ok:
        raise ValueError(f"{name} must have shape {want}, got {tuple(t.shape)}")


def check_floating(t: torch.Tensor, name: str) -> None:
    """``ValueError`` unless ``t`` has a floating-point dtype."""
    if not t.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {t.dtype}")


def check_scored_boxes(boxes, scores) -> ValueChecks:
    """``boxes`` a floating Tensor[N, 4] and ``scores`` a floating Tensor[N] on its device (NMS,
    box voting); returns the value checks queued (valid boxes, finite scores) for the caller to
    extend and run."""
    tensor_arg(boxes, "boxes")
    check_shape(boxes, "boxes", "(N, 4)", boxes.ndim == 2 and boxes.shape[1] == 4)
    check_floating(boxes, "boxes")
    tensor_arg(scores, "scores")
    n = boxes.shape[0]
    check_shape(scores, "scores", f"({n},)", tuple(scores.shape) == (n,))
    check_floating(scores, "scores")
    same_device(("boxes", boxes), ("scores", scores))
    return ValueChecks().boxes(boxes, "boxes").finite(scores, "scores")


def same_device(*named) -> None:
    """``ValueError`` naming the first of the ``(name, tensor)`` pairs (None tensors skipped)
    that is not on the first one's device."""
    named = [(n, t) for n, t in named if t is not None]
    if not named:
        return
    first, device = named[0][0], named[0][1].device
    for name, t in named[1:]:
        if t.device != device:
            raise ValueError(f"{name} must be on the device of {first} ({device}), got {t.device}")


def tracing() -> bool:
    """Whether ``torch.compile`` / ``torch.export`` is tracing (value checks are skipped)."""
    compiler = getattr(torch, "compiler", None)
    if compiler is None:
        return False
    for probe in ("is_compiling", "is_exporting", "is_dynamo_compiling"):
        fn = getattr(compiler, probe, None)
        if fn is not None and fn():
            return True
    return False


def _where(index: tuple[int, ...]) -> str:
    if len(index) == 1:
        return f"row {index[0]}"
    if len(index) == 2:
        return f"row {index[1]} of image {index[0]}"
    return f"row {index}"


def _flat(index: tuple[int, ...]):
    return index[0] if len(index) == 1 else index


class ValueChecks:
    """Value checks of several tensors, read back from the device in one synchronisation.

    Each method queues a check (a bool mask computed on the tensor's device) and returns the
    collection; :meth:`run` raises the first failing check's ``ValueError``.

    Examples
    --------
    >>> boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, float("nan"), 1.0]])
    >>> ValueChecks().boxes(boxes, "boxes").run()
    Traceback (most recent call last):
    ...
    ValueError: boxes has a NaN or infinite coordinate in row 1: [ 0.  0. nan  1.]
    """

    def __init__(self) -> None:
        self._checks: list[tuple[torch.Tensor, object]] = []

    def _add(self, bad: torch.Tensor, error) -> ValueChecks:
        if bad.numel():
            self._checks.append((bad, error))
        return self

    def boxes(self, t, name: str, *, valid=None, allow_inverted: bool = False) -> ValueChecks:
        """Rows of ``t`` (..., 4) are valid boxes (only where ``valid``, of shape ``t``'s
        leading dimensions, is True), as :func:`hambox_core.validation.as_boxes` requires."""
        x = t.detach()
        if x.dtype not in (torch.float32, torch.float64):
            x = x.float()
        bad = invalid_box_rows(x, allow_inverted)
        if valid is not None:
            bad = bad & valid
        return self._add(bad, lambda i: _box_error(name, i, t, x))

    def finite(self, t, name: str, *, rows=None, what: str = "") -> ValueChecks:
        """Every element (every row of a 2-d ``t``; only where the mask ``rows`` is set) is
        finite, as :func:`hambox_core.validation.check_finite`."""
        x = t.detach()
        bad = not_finite(x)
        if bad.ndim == 2:
            bad = bad.any(-1)
        if rows is not None:
            bad = bad & rows
        return self._add(bad, lambda i: number_error(name, _flat(i), _shown(x[i]), what))

    def labels(self, t, name: str = "labels") -> ValueChecks:
        """Every element is -1, 0 or 1 (:func:`hambox_core.validation.as_labels`)."""
        x = t.detach()
        return self._add(not_label(x), lambda i: label_error(name, _flat(i), x[i].item()))

    def binary(self, t, name: str) -> ValueChecks:
        """A numeric mask holds only 0 and 1 (bool tensors need no check)."""
        if t.dtype == torch.bool:
            return self
        x = t.detach()
        return self._add(not_binary(x), lambda i: binary_error(name, _flat(i), x[i].item()))

    def unit(self, t, name: str, *, where=None, what: str = "") -> ValueChecks:
        """Every element (where ``where`` is set) is finite and in [0, 1]."""
        x = t.detach()
        bad = outside_unit(x)
        if where is not None:
            bad = bad & where
        return self._add(bad, lambda i: range_error(name, _flat(i), x[i].item(), what))

    def custom(self, bad: torch.Tensor, error) -> ValueChecks:
        """A check of one's own: ``bad`` a bool mask, ``error(index)`` the exception."""
        return self._add(bad, error)

    def run(self) -> None:
        """Read every check back (one synchronisation) and raise the first failure."""
        checks, self._checks = self._checks, []
        checks = [(bad, error) for bad, error in checks if bad.device.type != "meta"]
        if not checks or tracing():
            return
        device = checks[0][0].device
        flags = torch.stack([bad.any().to(device) for bad, _ in checks]).tolist()
        for failed, (bad, error) in zip(flags, checks, strict=True):
            if failed:
                raise error(first_index(bad))


def _box_error(name: str, index, given: torch.Tensor, checked: torch.Tensor) -> ValueError:
    """The core's message, quoting the row as given (as a numpy row, like the core)."""
    row = given[index].detach().cpu()
    shown = row.numpy() if row.dtype in (torch.float16, torch.float32, torch.float64) else row
    return box_error(name, _where(index), checked[index].tolist(), shown)


def _shown(row: torch.Tensor):
    return row.item() if row.ndim == 0 else row.tolist()
