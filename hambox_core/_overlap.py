"""Scalar box geometry and float32 overlap measures used inside numba kernels.

They repeat :func:`hambox_core.boxes.box_iou` and :func:`hambox_core.boxes.box_ioa` operation for
operation (float32 throughout), so a kernel's IoU equals the dense matrix entry bit for bit.
"""

from __future__ import annotations

import numpy as np

from ._numba import njit

F32_ZERO = np.float32(0.0)


@njit
def box_geometry(boxes, i):
    """Centre ``(cx, cy)`` and size ``(w, h)`` of row ``i`` of a float32 (N, 4) array (float64)."""
    x0 = np.float64(boxes[i, 0])
    y0 = np.float64(boxes[i, 1])
    x1 = np.float64(boxes[i, 2])
    y1 = np.float64(boxes[i, 3])
    return (x0 + x1) * 0.5, (y0 + y1) * 0.5, x1 - x0, y1 - y0


@njit
def box_area_f32(boxes, i):
    """Area of row ``i`` of a float32 (N, 4) array, in float32."""
    return (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])


@njit
def intersection_f32(ax0, ay0, ax1, ay1, bx0, by0, bx1, by1):
    """Intersection area of two xyxy boxes given as float32 scalars (0 when disjoint)."""
    iw = min(ax1, bx1) - max(ax0, bx0)
    ih = min(ay1, by1) - max(ay0, by0)
    if iw <= F32_ZERO or ih <= F32_ZERO:
        return F32_ZERO
    return iw * ih


@njit
def iou_rows(a, i, area_a, b, j, area_b):
    """IoU of ``a[i]`` and ``b[j]`` (float32 (N, 4) arrays) given both areas; 0 if union is 0."""
    inter = intersection_f32(a[i, 0], a[i, 1], a[i, 2], a[i, 3], b[j, 0], b[j, 1], b[j, 2], b[j, 3])
    union = (area_a + area_b) - inter
    if union <= F32_ZERO:
        return F32_ZERO
    return inter / union


@njit
def ioa_rows(a, i, area_a, b, j):
    """Intersection of ``a[i]`` and ``b[j]`` over the area of ``a[i]``; 0 if that area is 0."""
    if area_a <= F32_ZERO:
        return F32_ZERO
    inter = intersection_f32(a[i, 0], a[i, 1], a[i, 2], a[i, 3], b[j, 0], b[j, 1], b[j, 2], b[j, 3])
    return inter / area_a
