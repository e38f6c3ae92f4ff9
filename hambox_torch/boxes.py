"""Box operations on tensors, mirroring :mod:`hambox_core.boxes` operation for operation.

Same conventions as the core: ``(x0, y0, x1, y1)`` boxes, area ``(x1 - x0) * (y1 - y0)``, float32
arithmetic in the same order, so both backends agree to the last bit (IoU) or within a rounding
step (``log`` / ``exp`` in :func:`encode` / :func:`decode`). Every function accepts leading
batch dimensions and works on any device.

Inputs are checked with the core's rules and messages (:mod:`hambox_torch.validation`): a
tensor of a floating dtype shaped ``(..., 4)``, on one device, whose boxes are finite with
``x1 >= x0`` and ``y1 >= y0`` (:func:`decode`'s deltas: finite), and :func:`encode`'s boxes of
positive width and height. The value checks cost one device synchronisation per call;
``check=False`` skips them for inputs already checked (the matchers' inner loops do).
"""

from __future__ import annotations

import math

import torch

from hambox_core.boxes import BBOX_XFORM_CLIP, DEFAULT_VARIANCES
from hambox_core.validation import empty_box_error

from .validation import ValueChecks, check_floating, same_device, tensor_arg

__all__ = [
    "box_area",
    "box_ioa",
    "box_iou",
    "check_box_tensor",
    "decode",
    "encode",
]


def check_box_tensor(boxes: torch.Tensor, name: str) -> torch.Tensor:
    """``boxes`` itself if it is a floating-point ``Tensor[..., 4]``: ``TypeError`` for another
    type, ``ValueError`` naming ``name`` for another shape or dtype. Values are not read (that
    would synchronise with the device): :class:`~hambox_torch.validation.ValueChecks` does."""
    tensor_arg(boxes, name)
    if boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (..., 4), got {tuple(boxes.shape)}")
    check_floating(boxes, name)
    return boxes


def _check_broadcast(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str, batch=False):
    """``ValueError`` unless the shapes broadcast (only the leading dimensions with ``batch``:
    pairwise operations pair their last-but-one dimensions)."""
    sa, sb = (tuple(a.shape[:-2]), tuple(b.shape[:-2])) if batch else (a.shape, b.shape)
    try:
        torch.broadcast_shapes(sa, sb)
    except RuntimeError:
        what = "leading dimensions" if batch else "shapes"
        raise ValueError(
            f"{name_a} and {name_b} must have broadcastable {what}, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        ) from None


def _check_values(*named, deltas: str | None = None) -> None:
    """Boxes (and the deltas named ``deltas``, finite in any order) checked in one read."""
    checks = ValueChecks()
    for name, t in named:
        checks.boxes(t, name, allow_inverted=name == deltas)
    checks.run()


def _area(b: torch.Tensor) -> torch.Tensor:
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def box_area(boxes: torch.Tensor, *, check: bool = True) -> torch.Tensor:
    """Area of each box: Tensor[..., 4] xyxy → Tensor[...] in the input's dtype.

    ``check=False`` skips the value check (finite boxes with ``x1 >= x0``, ``y1 >= y0``).
    """
    b = check_box_tensor(boxes, "boxes")
    if check:
        _check_values(("boxes", b))
    return _area(b)


def _intersection(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise intersections of a (..., N, 4) and b (..., M, 4): (..., N, M)."""
    a_ = a.unsqueeze(-2)
    b_ = b.unsqueeze(-3)
    iw = torch.minimum(a_[..., 2], b_[..., 2]) - torch.maximum(a_[..., 0], b_[..., 0])
    ih = torch.minimum(a_[..., 3], b_[..., 3]) - torch.maximum(a_[..., 1], b_[..., 1])
    return iw.clamp(min=0) * ih.clamp(min=0)


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor, *, check: bool = True) -> torch.Tensor:
    """Pairwise IoU, ``inter / ((area1 + area2) - inter)``; 0 where the union is 0.

    Parameters
    ----------
    boxes1 : Tensor[..., N, 4]
        xyxy boxes, float32.
    boxes2 : Tensor[..., M, 4]
        xyxy boxes, float32, with leading dimensions broadcastable against ``boxes1``'s, on
        ``boxes1``'s device.
    check : bool, default True
        Check that the boxes are finite with ``x1 >= x0`` and ``y1 >= y0`` (one device
        synchronisation); False for boxes already checked.

    Returns
    -------
    Tensor[..., N, M]
    """
    a = check_box_tensor(boxes1, "boxes1")
    b = check_box_tensor(boxes2, "boxes2")
    same_device(("boxes1", a), ("boxes2", b))
    _check_broadcast(a, b, "boxes1", "boxes2", batch=True)
    if check:
        _check_values(("boxes1", a), ("boxes2", b))
    inter = _intersection(a, b)
    union = (_area(a).unsqueeze(-1) + _area(b).unsqueeze(-2)) - inter
    # union == 0 only for two empty boxes, where inter == 0 too: 0 / 0 = NaN becomes 0.
    return torch.nan_to_num(inter / union, nan=0.0)


def box_ioa(boxes: torch.Tensor, regions: torch.Tensor, *, check: bool = True) -> torch.Tensor:
    """Pairwise intersection over the area of ``boxes`` (0 for empty boxes): Tensor[..., N, M].

    ``check`` as in :func:`box_iou`.
    """
    a = check_box_tensor(boxes, "boxes")
    r = check_box_tensor(regions, "regions")
    same_device(("boxes", a), ("regions", r))
    _check_broadcast(a, r, "boxes", "regions", batch=True)
    if check:
        _check_values(("boxes", a), ("regions", r))
    inter = _intersection(a, r)
    area = _area(a).unsqueeze(-1)
    return torch.where(area > 0, inter / torch.where(area > 0, area, 1), 0)


def _variances(variances, like: torch.Tensor) -> torch.Tensor:
    # Checked on Python floats, not with tensor ops, so that decode traces under torch.export
    # (dynamo cannot branch on a tensor's value; hambox_torch.export relies on this).
    try:
        raw = variances.tolist() if isinstance(variances, torch.Tensor) else variances
        v = [float(x) for x in raw] if not isinstance(raw, str) else []
    except (TypeError, ValueError):
        v = []
    if len(v) != 4 or not all(math.isfinite(x) and x > 0 for x in v):
        raise ValueError(f"variances must be four positive numbers, got {variances!r}")
    return torch.tensor(v, dtype=torch.float64).to(dtype=like.dtype, device=like.device)


def _centre_size(b: torch.Tensor):
    w = b[..., 2] - b[..., 0]
    h = b[..., 3] - b[..., 1]
    return b[..., 0] + 0.5 * w, b[..., 1] + 0.5 * h, w, h


def encode(
    anchors: torch.Tensor, gt_boxes: torch.Tensor, variances=DEFAULT_VARIANCES, *, check=True
):
    """Regression targets (dx, dy, dw, dh) moving ``anchors`` onto ``gt_boxes``.

    Tensor[..., 4] in, Tensor[..., 4] out (shapes broadcast); see
    :func:`hambox_core.boxes.encode`. With ``check`` (one device synchronisation), boxes must
    be finite, ordered and of positive width and height, as in the core; ``check=False``
    skips that (boxes of zero width or height then give non-finite targets).
    """
    a = check_box_tensor(anchors, "anchors")
    g = check_box_tensor(gt_boxes, "gt_boxes")
    same_device(("anchors", a), ("gt_boxes", g))
    _check_broadcast(a, g, "anchors", "gt_boxes")
    v = _variances(variances, a)
    acx, acy, aw, ah = _centre_size(a)
    gcx, gcy, gw, gh = _centre_size(g)
    if check:
        checks = ValueChecks().boxes(a, "anchors").boxes(g, "gt_boxes")
        for name, w, h in (("anchors", aw, ah), ("gt_boxes", gw, gh)):
            checks.custom(
                (w <= 0) | (h <= 0),
                lambda i, name=name: empty_box_error(name, i[0] if len(i) == 1 else i),
            )
        checks.run()
    return torch.stack(
        [
            (gcx - acx) / aw / v[0],
            (gcy - acy) / ah / v[1],
            torch.log(gw / aw) / v[2],
            torch.log(gh / ah) / v[3],
        ],
        dim=-1,
    )


def decode(anchors: torch.Tensor, deltas: torch.Tensor, variances=DEFAULT_VARIANCES, *, check=True):
    """Boxes from anchors and deltas (inverse of :func:`encode`), dw and dh clamped first.

    Tensor[..., 4] in, Tensor[..., 4] out (shapes broadcast), in the deltas' dtype; see
    :func:`hambox_core.boxes.decode`. ``check`` (one device synchronisation): anchors are
    valid boxes and deltas finite, as in the core.
    """
    a = check_box_tensor(anchors, "anchors")
    d = check_box_tensor(deltas, "deltas")
    same_device(("anchors", a), ("deltas", d))
    _check_broadcast(a, d, "anchors", "deltas")
    if check:
        _check_values(("anchors", a), ("deltas", d), deltas="deltas")
    a = a.to(d.dtype)
    v = _variances(variances, d)
    acx, acy, aw, ah = _centre_size(a)
    pcx = d[..., 0] * v[0] * aw + acx
    pcy = d[..., 1] * v[1] * ah + acy
    pw = torch.exp(torch.clamp(d[..., 2] * v[2], max=BBOX_XFORM_CLIP)) * aw
    ph = torch.exp(torch.clamp(d[..., 3] * v[3], max=BBOX_XFORM_CLIP)) * ah
    return torch.stack([pcx - 0.5 * pw, pcy - 0.5 * ph, pcx + 0.5 * pw, pcy + 0.5 * ph], dim=-1)
