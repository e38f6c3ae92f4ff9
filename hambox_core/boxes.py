"""Box operations on numpy arrays.

All boxes are ``(x0, y0, x1, y1)`` in continuous pixel coordinates with ``x1 >= x0`` and
``y1 >= y0``; the area is ``(x1 - x0) * (y1 - y0)`` (no "+1"), as in torchvision. Every function
computes in float32 with a fixed order of operations, which the torch backend repeats, so that the
two backends agree to the last bit or within one rounding step.

Regression targets are Faster R-CNN deltas divided by the variances ``(0.1, 0.1, 0.2, 0.2)``:

.. math::

    t_x = \\frac{g_{cx} - a_{cx}}{a_w v_0},\\quad t_y = \\frac{g_{cy} - a_{cy}}{a_h v_1},\\quad
    t_w = \\frac{\\log(g_w / a_w)}{v_2},\\quad t_h = \\frac{\\log(g_h / a_h)}{v_3}

:func:`decode` inverts :func:`encode`; before exponentiating it clamps ``t_w v_2`` and
``t_h v_3`` at :data:`BBOX_XFORM_CLIP` so that a diverging network cannot produce infinite boxes.
"""

from __future__ import annotations

import math

import numpy as np

from .validation import as_boxes, check_image_hw, check_variances, empty_box_error

__all__ = [
    "BBOX_XFORM_CLIP",
    "DEFAULT_VARIANCES",
    "box_area",
    "box_ioa",
    "box_iou",
    "clip_boxes",
    "cxcywh_to_xyxy",
    "decode",
    "encode",
    "xywh_to_xyxy",
    "xyxy_to_cxcywh",
    "xyxy_to_xywh",
]

#: Upper clamp of the log-scale deltas ``dw, dh`` in :func:`decode`: a box may grow at most
#: 1000/16 times its anchor (the constant of Faster R-CNN and detectron2), which keeps ``exp``
#: finite for any network output.
BBOX_XFORM_CLIP = math.log(1000.0 / 16)

#: Variances dividing the ``(dx, dy, dw, dh)`` deltas (SSD / S3FD convention).
DEFAULT_VARIANCES = (0.1, 0.1, 0.2, 0.2)


def box_area(boxes) -> np.ndarray:
    """Area of each box.

    Parameters
    ----------
    boxes : array_like of shape (N, 4)
        xyxy boxes with ``x1 >= x0`` and ``y1 >= y0``.

    Returns
    -------
    ndarray of shape (N,), float32
        ``(x1 - x0) * (y1 - y0)``.

    Examples
    --------
    >>> box_area([[0, 0, 2, 3]])
    array([6.], dtype=float32)
    """
    b = as_boxes(boxes, "boxes")
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection areas (N, M) of float32 xyxy boxes, computed in float32."""
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    zero = np.float32(0.0)
    return np.maximum(iw, zero) * np.maximum(ih, zero)


def box_iou(boxes1, boxes2) -> np.ndarray:
    """Pairwise intersection over union.

    The dense (N, M) matrix; the matchers never build it. ``IoU = inter / (area1 + area2 -
    inter)`` in float32 in exactly that order; a pair whose union is 0 (two empty boxes) has
    IoU 0.

    Parameters
    ----------
    boxes1 : array_like of shape (N, 4)
        xyxy boxes.
    boxes2 : array_like of shape (M, 4)
        xyxy boxes.

    Returns
    -------
    ndarray of shape (N, M), float32

    Examples
    --------
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]])
    array([[0.33333334, 0.        ]], dtype=float32)
    """
    a = as_boxes(boxes1, "boxes1")
    b = as_boxes(boxes2, "boxes2")
    inter = _intersection(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = (area_a[:, None] + area_b[None, :]) - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def box_ioa(boxes, regions) -> np.ndarray:
    """Pairwise intersection over the area of the first argument.

    ``IoA[i, j] = inter(boxes[i], regions[j]) / area(boxes[i])``: the fraction of box ``i``
    covered by region ``j``. This is the quantity the matchers compare against ignore regions.
    A box of area 0 has IoA 0.

    Parameters
    ----------
    boxes : array_like of shape (N, 4)
        xyxy boxes (anchors).
    regions : array_like of shape (M, 4)
        xyxy boxes (ignore regions).

    Returns
    -------
    ndarray of shape (N, M), float32

    Examples
    --------
    >>> box_ioa([[0, 0, 2, 2]], [[1, 0, 10, 10]])
    array([[0.5]], dtype=float32)
    """
    a = as_boxes(boxes, "boxes")
    r = as_boxes(regions, "regions")
    inter = _intersection(a, r)
    area_a = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None]
    out = np.zeros_like(inter)
    np.divide(inter, np.broadcast_to(area_a, inter.shape), out=out, where=area_a > 0)
    return out


def _centre_size(b: np.ndarray):
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    half = np.float32(0.5)
    return b[:, 0] + half * w, b[:, 1] + half * h, w, h


def encode(anchors, gt_boxes, variances=DEFAULT_VARIANCES) -> np.ndarray:
    """Regression targets that move each anchor onto its ground-truth box.

    Parameters
    ----------
    anchors : array_like of shape (N, 4)
        xyxy anchors with positive width and height.
    gt_boxes : array_like of shape (N, 4)
        xyxy target boxes, one per anchor, with positive width and height.
    variances : sequence of 4 floats, default (0.1, 0.1, 0.2, 0.2)
        Divisors of ``(dx, dy, dw, dh)``.

    Returns
    -------
    ndarray of shape (N, 4), float32
        ``(dx, dy, dw, dh)`` deltas; :func:`decode` maps them back.

    Raises
    ------
    ValueError
        If shapes differ or a box has zero width or height (its log-size is undefined).

    Examples
    --------
    >>> encode([[0, 0, 10, 10]], [[1, 0, 11, 20]])
    array([[1.      , 5.      , 0.      , 3.465736]], dtype=float32)
    """
    a = as_boxes(anchors, "anchors")
    g = as_boxes(gt_boxes, "gt_boxes")
    if a.shape != g.shape:
        raise ValueError(
            f"anchors and gt_boxes must have the same shape, got {a.shape} and {g.shape}"
        )
    v = check_variances(variances)
    acx, acy, aw, ah = _centre_size(a)
    gcx, gcy, gw, gh = _centre_size(g)
    for name, w, h in (("anchors", aw, ah), ("gt_boxes", gw, gh)):
        bad = (w <= 0) | (h <= 0)
        if bad.any():
            raise empty_box_error(name, int(np.nonzero(bad)[0][0]))
    out = np.empty_like(a)
    out[:, 0] = (gcx - acx) / aw / v[0]
    out[:, 1] = (gcy - acy) / ah / v[1]
    out[:, 2] = np.log(gw / aw) / v[2]
    out[:, 3] = np.log(gh / ah) / v[3]
    return out


def decode(anchors, deltas, variances=DEFAULT_VARIANCES) -> np.ndarray:
    """Boxes obtained by applying regression deltas to anchors (the inverse of :func:`encode`).

    Parameters
    ----------
    anchors : array_like of shape (N, 4)
        xyxy anchors.
    deltas : array_like of shape (N, 4)
        ``(dx, dy, dw, dh)`` as produced by :func:`encode` or a network's box head.
    variances : sequence of 4 floats, default (0.1, 0.1, 0.2, 0.2)
        Multipliers of ``(dx, dy, dw, dh)``.

    Returns
    -------
    ndarray of shape (N, 4), float32
        xyxy boxes. ``dw * v2`` and ``dh * v3`` are clamped at :data:`BBOX_XFORM_CLIP` first.

    Examples
    --------
    >>> anchors = [[0, 0, 10, 10]]
    >>> decode(anchors, encode(anchors, [[1, 0, 11, 20]]))
    array([[ 1.,  0., 11., 20.]], dtype=float32)
    """
    a = as_boxes(anchors, "anchors")
    d = as_boxes(deltas, "deltas", allow_inverted=True)
    if a.shape != d.shape:
        raise ValueError(
            f"anchors and deltas must have the same shape, got {a.shape} and {d.shape}"
        )
    v = check_variances(variances)
    acx, acy, aw, ah = _centre_size(a)
    clip = np.float32(BBOX_XFORM_CLIP)
    pcx = d[:, 0] * v[0] * aw + acx
    pcy = d[:, 1] * v[1] * ah + acy
    pw = np.exp(np.minimum(d[:, 2] * v[2], clip)) * aw
    ph = np.exp(np.minimum(d[:, 3] * v[3], clip)) * ah
    half = np.float32(0.5)
    out = np.empty_like(a)
    out[:, 0] = pcx - half * pw
    out[:, 1] = pcy - half * ph
    out[:, 2] = pcx + half * pw
    out[:, 3] = pcy + half * ph
    return out


def xyxy_to_xywh(boxes) -> np.ndarray:
    """``(x0, y0, x1, y1)`` → ``(x0, y0, w, h)``; (N, 4) float32 in and out.

    Examples
    --------
    >>> xyxy_to_xywh([[1, 2, 4, 8]])
    array([[1., 2., 3., 6.]], dtype=float32)
    """
    b = as_boxes(boxes, "boxes")
    out = b.copy()
    out[:, 2:] -= b[:, :2]
    return out


def xywh_to_xyxy(boxes) -> np.ndarray:
    """``(x0, y0, w, h)`` → ``(x0, y0, x1, y1)``; (N, 4) float32 in and out, ``w, h >= 0``.

    Examples
    --------
    >>> xywh_to_xyxy([[1, 2, 3, 6]])
    array([[1., 2., 4., 8.]], dtype=float32)
    """
    b = as_boxes(boxes, "boxes", allow_inverted=True)
    if (b[:, 2:] < 0).any():
        raise ValueError("boxes must have non-negative width and height")
    out = b.copy()
    out[:, 2:] += b[:, :2]
    return out


def xyxy_to_cxcywh(boxes) -> np.ndarray:
    """``(x0, y0, x1, y1)`` → ``(cx, cy, w, h)``; (N, 4) float32 in and out.

    Examples
    --------
    >>> xyxy_to_cxcywh([[0, 0, 4, 2]])
    array([[2., 1., 4., 2.]], dtype=float32)
    """
    b = as_boxes(boxes, "boxes")
    cx, cy, w, h = _centre_size(b)
    return np.stack([cx, cy, w, h], axis=1)


def cxcywh_to_xyxy(boxes) -> np.ndarray:
    """``(cx, cy, w, h)`` → ``(x0, y0, x1, y1)``; (N, 4) float32 in and out, ``w, h >= 0``.

    Examples
    --------
    >>> cxcywh_to_xyxy([[2, 1, 4, 2]])
    array([[0., 0., 4., 2.]], dtype=float32)
    """
    b = as_boxes(boxes, "boxes", allow_inverted=True)
    if (b[:, 2:] < 0).any():
        raise ValueError("boxes must have non-negative width and height")
    half = np.float32(0.5)
    hw, hh = half * b[:, 2], half * b[:, 3]
    return np.stack([b[:, 0] - hw, b[:, 1] - hh, b[:, 0] + hw, b[:, 1] + hh], axis=1)


def clip_boxes(boxes, image_hw) -> np.ndarray:
    """Clip boxes to the image rectangle ``[0, W] x [0, H]``.

    Parameters
    ----------
    boxes : array_like of shape (N, 4)
        xyxy boxes.
    image_hw : tuple of 2 numbers
        ``(height, width)`` of the image, both >= 0.

    Returns
    -------
    ndarray of shape (N, 4), float32
        A new array; boxes wholly outside collapse to zero area on the border.

    Examples
    --------
    >>> clip_boxes([[-5, 2, 30, 40]], (32, 20))
    array([[ 0.,  2., 20., 32.]], dtype=float32)
    """
    b = as_boxes(boxes, "boxes")
    h, w = check_image_hw(image_hw)
    out = b.copy()
    np.clip(out[:, 0::2], 0, w, out=out[:, 0::2])
    np.clip(out[:, 1::2], 0, h, out=out[:, 1::2])
    return out
