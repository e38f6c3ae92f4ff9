"""FDDB regions as pixel sets, drawn the way the official ``evaluate`` program draws them.

The program (``EllipseR.cpp``, ``RectangleR.cpp``, ``Region.cpp``, ``Matching.cpp``) draws each
region, filled, into an 8-bit mask of the image's size and takes the overlap of two regions as
``cvCountNonZero(A and D) / cvCountNonZero(A or D)``:

* **Ellipse** ``major minor angle cx cy`` (annotations, and detections with ``-f 1``): the
  reader turns the angle (radians) into ``t = (M_PI - angle) * 180 / M_PI`` and the region
  calls ``cvEllipse(mask, cvPointFrom32f(cvPoint2D32f(cx, cy)), cvSize((int)major,
  (int)minor), 180 - t, 0, 360, color, CV_FILLED)``: the centre is rounded (``cvRound`` of the
  float32 value, half to even), the axes are truncated to integers, OpenCV rounds the angle to
  a whole degree and fills a polygon of 5 to 90 degree steps. With
  ``rasterization="opencv"`` (the default) we make that very call through OpenCV's Python
  binding, into a mask of the image's size (so memory is bounded by the image, whatever the
  radius), and keep the ellipse's window of it.
* **Rectangle** ``x y w h`` (detections, ``-f 0``): ``cvRectangle(mask, cvPointFrom32f(x, y),
  cvPointFrom32f(x + w, y + h), color, CV_FILLED)`` covers the pixels between the two rounded
  corners, both included, clipped to the image; we compute that set directly (it equals
  OpenCV's fill pixel for pixel).
* ``rasterization="exact"`` is hambox's earlier rule, kept for comparison and for use without
  OpenCV: same rounded centre, truncated axes and whole-degree angle, but a pixel is inside
  when its centre satisfies the ellipse inequality (boundary included). It has about 2 % fewer
  pixels than OpenCV's polygon on average, 13 % for small faces, and is not the official number.

OpenCV is an optional dependency (``pip install hambox[fddb]``, ``opencv-python-headless``),
imported on first use. The version pinned there, 4.13.0.92, was checked pixel for pixel
against the program compiled with the system OpenCV 4.6.0 (20,000 random ellipses: sizes 0 to
300 px, every angle, centres on and off the image); 4.10.0.84, 4.12.0.88 and 5.0.0.93 gave the
same pixels.

Bad input raises :class:`ValueError`: negative sizes, non-finite values, values beyond the
32-bit integers the program draws with (where it would overflow), and a non-positive image size.
"""

from __future__ import annotations

import math

import numpy as np

from ..validation import as_number, check_choice, check_image_size

__all__ = [
    "RASTERIZATIONS",
    "check_image_hw",
    "ellipse_region",
    "overlap_matrix",
    "rectangle_region",
]

#: The accepted values of ``rasterization``.
RASTERIZATIONS = ("opencv", "exact")

_INT_LIMIT = 2**31  # the program draws with C ints: coordinates and axes must fit
_RIGHT_ANGLES = {0: (1.0, 0.0), 90: (0.0, 1.0), 180: (-1.0, 0.0), 270: (0.0, -1.0)}
_OPENCV_MISSING = (
    "the official FDDB ellipse rasterisation needs OpenCV: pip install 'hambox[fddb]' "
    "(opencv-python-headless), or pass rasterization='exact' (not the official number)"
)


def _cv2():
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(_OPENCV_MISSING) from exc
    return cv2


def check_image_hw(image_hw, name: str = "image_hw") -> tuple[int, int]:
    """``(height, width)`` of an image the program draws into: two integers in [1, 2**31)."""
    h, w = check_image_size(image_hw, name)
    if h < 1 or w < 1 or h >= _INT_LIMIT or w >= _INT_LIMIT:
        raise ValueError(
            f"{name} must be two integers in [1, 2**31) (height, width), got {image_hw!r}"
        )
    return h, w


def _cv_round(v: float) -> int:
    """``cvRound`` of the float32 value (``cvPointFrom32f``): half to even."""
    return int(np.rint(np.float32(v)))


def _checked_point(v: float, what: str) -> int:
    if not math.isfinite(v) or abs(v) >= _INT_LIMIT:
        raise ValueError(
            f"{what} must be finite and within the program's 32-bit pixel coordinates "
            f"(|v| < 2**31), got {v!r}"
        )
    p = _cv_round(v)
    if abs(p) >= _INT_LIMIT:
        raise ValueError(f"{what} rounds to {p}, beyond the program's 32-bit pixel coordinates")
    return p


def _checked_axis(v: float, what: str) -> int:
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{what} must be a finite size >= 0, got {v!r}")
    if v >= _INT_LIMIT:
        raise ValueError(f"{what} {v!r} does not fit the program's 32-bit integer axes")
    return int(v)


def _official_degrees(angle: float) -> float:
    """The angle handed to ``cvEllipse``, computed in the program's order of operations."""
    t = (math.pi - angle) * 180.0 / math.pi
    return 180.0 - t


def rectangle_region(x, y, w, h, image_hw):
    """The pixels a filled FDDB detection rectangle covers, clipped to the image.

    Parameters
    ----------
    x, y, w, h : float
        The rectangle (pixels; ``w, h >= 0``).
    image_hw : tuple of int
        ``(height, width)`` of the image.

    Returns
    -------
    (x0, y0, mask) or None
        ``mask`` is a bool array of shape (rows, cols) whose top-left pixel is ``(x0, y0)``;
        None when the rectangle lies outside the image.

    Raises
    ------
    ValueError
        On a negative size, a non-finite value or a corner beyond 32-bit pixel coordinates.

    Examples
    --------
    >>> x0, y0, m = rectangle_region(1.4, 2.6, 2.0, 1.0, (10, 10))
    >>> x0, y0, m.shape
    (1, 3, (2, 3))
    """
    x, y, w, h = (as_number(v, n) for v, n in ((x, "x"), (y, "y"), (w, "w"), (h, "h")))
    win = _rect_window(x, y, w, h, check_image_hw(image_hw))
    if win is None:
        return None
    x0, y0, x1, y1 = win
    return x0, y0, np.ones((y1 - y0 + 1, x1 - x0 + 1), dtype=bool)


def _rect_window(x, y, w, h, hw):
    """Inclusive pixel window ``(x0, y0, x1, y1)`` of a rectangle within the image, or None."""
    if not (math.isfinite(w) and w >= 0 and math.isfinite(h) and h >= 0):
        raise ValueError(f"rectangle width and height must be finite and >= 0, got {w!r}, {h!r}")
    xa = _checked_point(x, "rectangle x")
    ya = _checked_point(y, "rectangle y")
    xb = _checked_point(x + w, "rectangle x + w")
    yb = _checked_point(y + h, "rectangle y + h")
    x0, y0 = max(min(xa, xb), 0), max(min(ya, yb), 0)
    x1, y1 = min(max(xa, xb), hw[1] - 1), min(max(ya, yb), hw[0] - 1)
    if x1 < x0 or y1 < y0:
        return None
    return x0, y0, x1, y1


def _ellipse_opencv(a, b, deg, ccx, ccy, hw, canvas):
    # the polygon stays within one pixel of the ellipse's circumscribed circle
    reach = max(a, b) + 2
    x0, y0 = max(ccx - reach, 0), max(ccy - reach, 0)
    x1, y1 = min(ccx + reach, hw[1] - 1), min(ccy + reach, hw[0] - 1)
    if x1 < x0 or y1 < y0:
        return None
    cv2 = _cv2()
    cv2.ellipse(canvas, (ccx, ccy), (a, b), deg, 0, 360, 1, -1)  # thickness -1: CV_FILLED
    window = canvas[y0 : y1 + 1, x0 : x1 + 1]
    mask = window.astype(bool)
    window[...] = 0  # the canvas is reused for the next region
    if not mask.any():
        return None
    return x0, y0, mask


def _ellipse_exact(a, b, deg, ccx, ccy, hw):
    d = round(deg) % 360
    # exact values at multiples of 90 degrees, so that axis-aligned boundary pixels stay inside
    c, s = _RIGHT_ANGLES.get(d) or (math.cos(math.radians(d)), math.sin(math.radians(d)))
    ex = math.ceil(math.sqrt((a * c) ** 2 + (b * s) ** 2))
    ey = math.ceil(math.sqrt((a * s) ** 2 + (b * c) ** 2))
    x0, y0 = max(ccx - ex, 0), max(ccy - ey, 0)
    x1, y1 = min(ccx + ex, hw[1] - 1), min(ccy + ey, hw[0] - 1)
    if x1 < x0 or y1 < y0:
        return None
    dx = np.arange(x0, x1 + 1, dtype=np.float64)[None, :] - ccx
    dy = np.arange(y0, y1 + 1, dtype=np.float64)[:, None] - ccy
    u = dx * c + dy * s
    v = -dx * s + dy * c
    # (u/a)^2 + (v/b)^2 <= 1 without dividing (a zero axis stays defined); the relative slack
    # of 1e-12 absorbs the rounding of cos and sin for pixels on the boundary
    mask = (u * b) ** 2 + (v * a) ** 2 <= float(a * b) ** 2 * (1.0 + 1e-12)
    if not mask.any():
        return None
    return x0, y0, mask


def _ellipse(major, minor, angle, cx, cy, hw, rasterization, canvas):
    a = _checked_axis(float(major), "ellipse major radius")
    b = _checked_axis(float(minor), "ellipse minor radius")
    if not math.isfinite(angle):
        raise ValueError(f"ellipse angle must be finite, got {angle!r}")
    ccx = _checked_point(float(cx), "ellipse center_x")
    ccy = _checked_point(float(cy), "ellipse center_y")
    deg = _official_degrees(float(angle))
    if rasterization == "opencv":
        return _ellipse_opencv(a, b, deg, ccx, ccy, hw, canvas)
    return _ellipse_exact(a, b, deg, ccx, ccy, hw)


def ellipse_region(major, minor, angle, cx, cy, image_hw, *, rasterization: str = "opencv"):
    """The pixels a filled FDDB ellipse covers within the image (see the module docstring).

    Parameters
    ----------
    major, minor : float
        Semi-axis lengths (``>= 0``); the major axis points along ``(cos angle, sin angle)``
        (y down).
    angle : float
        Radians.
    cx, cy : float
        Centre.
    image_hw : tuple of int
        ``(height, width)`` of the image: the region is drawn within it, so memory is bounded
        by the image whatever the radii.
    rasterization : {"opencv", "exact"}, default "opencv"
        ``"opencv"``: OpenCV's filled polygon, as the official program draws it (needs the
        ``fddb`` extra); ``"exact"``: pixel centres inside the ellipse.

    Returns
    -------
    (x0, y0, mask) or None
        As :func:`rectangle_region`.

    Raises
    ------
    ValueError
        On a negative radius, a non-finite value, a value beyond the program's 32-bit integers
        or a bad ``image_hw``.

    Examples
    --------
    The program's polygon covers more pixels than the pixel-centre rule:

    >>> x0, y0, m = ellipse_region(3.0, 2.0, 0.0, 5.0, 5.0, (10, 10))
    >>> x0, y0
    (2, 3)
    >>> print(m.astype(int))
    [[0 1 1 1 1 1 0]
     [1 1 1 1 1 1 1]
     [1 1 1 1 1 1 1]
     [1 1 1 1 1 1 1]
     [0 1 1 1 1 1 0]]
    >>> x0, y0, m = ellipse_region(3.0, 2.0, 0.0, 5.0, 5.0, (10, 10), rasterization="exact")
    >>> print(m.astype(int))
    [[0 0 0 1 0 0 0]
     [0 1 1 1 1 1 0]
     [1 1 1 1 1 1 1]
     [0 1 1 1 1 1 0]
     [0 0 0 1 0 0 0]]
    """
    check_choice(rasterization, "rasterization", RASTERIZATIONS)
    hw = check_image_hw(image_hw)
    major, minor, angle, cx, cy = (
        as_number(v, n)
        for v, n in ((major, "major"), (minor, "minor"), (angle, "angle"), (cx, "cx"), (cy, "cy"))
    )
    canvas = np.zeros(hw, np.uint8) if rasterization == "opencv" else None
    region = _ellipse(major, minor, angle, cx, cy, hw, rasterization, canvas)
    if region is None or rasterization == "exact":
        return region
    return _trim(region)


def _trim(region):
    """Crop a region's mask to its bounding box of set pixels."""
    x0, y0, m = region
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    return (
        x0 + int(cols[0]),
        y0 + int(rows[0]),
        m[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1],
    )


def _mask_overlap(r1, r2) -> int:
    ax, ay, am = r1
    bx, by, bm = r2
    x0, y0 = max(ax, bx), max(ay, by)
    x1 = min(ax + am.shape[1], bx + bm.shape[1])
    y1 = min(ay + am.shape[0], by + bm.shape[0])
    if x1 <= x0 or y1 <= y0:
        return 0
    return int(
        np.count_nonzero(
            am[y0 - ay : y1 - ay, x0 - ax : x1 - ax] & bm[y0 - by : y1 - by, x0 - bx : x1 - bx]
        )
    )


def overlap_matrix(
    ellipses, detections, image_hw, *, detection_format: str = "rectangle", rasterization="opencv"
) -> np.ndarray:
    """Overlap ratios ``|A and D| / |A or D|`` in pixels between faces and detections.

    Parameters
    ----------
    ellipses : ndarray of shape (G, 5), float64
        ``major minor angle cx cy`` per face.
    detections : ndarray of shape (D, 4) or (D, 5), float64
        ``x y w h`` rectangles (``detection_format="rectangle"``) or ``major minor angle cx
        cy`` ellipses (``"ellipse"``); further columns (the score) are ignored.
    image_hw : tuple of int
        ``(height, width)``.
    detection_format : {"rectangle", "ellipse"}, default "rectangle"
    rasterization : {"opencv", "exact"}, default "opencv"

    Returns
    -------
    ndarray of shape (G, D), float64
        NaN where both regions are empty (a face and a detection both outside the image): the
        program divides 0 by 0 there.

    Examples
    --------
    >>> ov = overlap_matrix(np.array([[20.0, 15.0, 1.5707963, 50, 50]]),
    ...                     np.array([[36.0, 31, 28, 38], [0, 0, 10, 10]]), (100, 100))
    >>> ov.shape, bool(ov[0, 0] > 0.5), float(ov[0, 1])
    ((1, 2), True, 0.0)
    """
    check_choice(rasterization, "rasterization", RASTERIZATIONS)
    check_choice(detection_format, "detection_format", ("rectangle", "ellipse"))
    hw = check_image_hw(image_hw)
    ell = np.asarray(ellipses, dtype=np.float64).reshape(-1, 5)
    det = np.asarray(detections, dtype=np.float64)
    det = det.reshape(det.shape[0] if det.ndim == 2 else 0, -1) if det.size else det.reshape(0, 5)
    g, d = ell.shape[0], det.shape[0]
    canvas = np.zeros(hw, np.uint8) if rasterization == "opencv" else None
    faces = [_ellipse(*e, hw, rasterization, canvas) for e in ell.tolist()]
    out = np.zeros((g, d), np.float64)
    if g == 0 or d == 0:
        return out
    face_area = np.array([0 if f is None else int(np.count_nonzero(f[2])) for f in faces])
    if detection_format == "rectangle":
        inter, det_area = _rectangle_overlaps(faces, det, hw)
    else:
        regions = [_ellipse(*e[:5], hw, rasterization, canvas) for e in det.tolist()]
        det_area = np.array([0 if r is None else int(np.count_nonzero(r[2])) for r in regions])
        inter = np.zeros((g, d), np.int64)
        for i, f in enumerate(faces):
            if f is None:
                continue
            for j, r in enumerate(regions):
                if r is not None:
                    inter[i, j] = _mask_overlap(f, r)
    union = face_area[:, None] + det_area[None, :] - inter
    with np.errstate(invalid="ignore"):
        out = inter / union  # int64 / int64: both converted to float64, as the program does
    return out


def _rect_windows(det, hw) -> np.ndarray:
    """Inclusive pixel windows ``(x0, y0, x1, y1)`` (D, 4) int64 of rectangles within the
    image; ``(0, 0, -1, -1)`` for a rectangle outside it. Vectorised :func:`_rect_window`."""
    x, y, w, h = (det[:, k] for k in range(4))
    if not (np.isfinite(det[:, :4]).all() and (w >= 0).all() and (h >= 0).all()):
        row = int(np.flatnonzero(~(np.isfinite(det[:, :4]).all(axis=1) & (w >= 0) & (h >= 0)))[0])
        _rect_window(*det[row, :4].tolist(), hw)  # raises with the message of the scalar path
    ends = np.stack([x, y, x + w, y + h], axis=1)
    if (np.abs(ends) >= _INT_LIMIT).any():
        row = int(np.flatnonzero((np.abs(ends) >= _INT_LIMIT).any(axis=1))[0])
        _rect_window(*det[row, :4].tolist(), hw)
    with np.errstate(over="ignore"):
        pts = np.rint(ends.astype(np.float32)).astype(np.int64)  # cvRound of the float32 values
    if (np.abs(pts) >= _INT_LIMIT).any():
        row = int(np.flatnonzero((np.abs(pts) >= _INT_LIMIT).any(axis=1))[0])
        _rect_window(*det[row, :4].tolist(), hw)
    box = np.empty((det.shape[0], 4), np.int64)
    box[:, 0] = np.maximum(np.minimum(pts[:, 0], pts[:, 2]), 0)
    box[:, 1] = np.maximum(np.minimum(pts[:, 1], pts[:, 3]), 0)
    box[:, 2] = np.minimum(np.maximum(pts[:, 0], pts[:, 2]), hw[1] - 1)
    box[:, 3] = np.minimum(np.maximum(pts[:, 1], pts[:, 3]), hw[0] - 1)
    empty = (box[:, 2] < box[:, 0]) | (box[:, 3] < box[:, 1])
    box[empty] = (0, 0, -1, -1)
    return box


def _rectangle_overlaps(faces, det, hw):
    """Pixel counts ``|A and D|`` (G, D) and ``|D|`` (D,) for rectangle detections."""
    d = det.shape[0]
    box = _rect_windows(det, hw)
    det_area = (box[:, 2] - box[:, 0] + 1) * (box[:, 3] - box[:, 1] + 1)
    inter = np.zeros((len(faces), d), np.int64)
    for i, f in enumerate(faces):
        if f is None:
            continue
        fx, fy, m = f
        integral = np.zeros((m.shape[0] + 1, m.shape[1] + 1), np.int64)
        integral[1:, 1:] = np.cumsum(np.cumsum(m, axis=0, dtype=np.int64), axis=1)
        # the rectangles' windows in the face mask's coordinates, clipped to it
        cx0 = np.clip(box[:, 0] - fx, 0, m.shape[1])
        cx1 = np.clip(box[:, 2] - fx + 1, 0, m.shape[1])
        cy0 = np.clip(box[:, 1] - fy, 0, m.shape[0])
        cy1 = np.clip(box[:, 3] - fy + 1, 0, m.shape[0])
        hit = (cx1 > cx0) & (cy1 > cy0)
        s = integral[cy1, cx1] - integral[cy0, cx1] - integral[cy1, cx0] + integral[cy0, cx0]
        inter[i] = np.where(hit, s, 0)
    return inter, det_area
