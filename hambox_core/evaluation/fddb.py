"""The FDDB evaluation: discrete and continuous ROC curves.

Source: the ``evaluation`` program distributed with FDDB (Vidit Jain and Erik Learned-Miller,
"FDDB: A Benchmark for Face Detection in Unconstrained Settings", UMass TR UM-CS-2010-009;
files ``evaluate.cpp``, ``Matching.cpp``, ``Results.cpp``, ``EllipseR.cpp``,
``RectangleR.cpp``, ``Region.cpp``), run with rectangle detections (``-f 0``, the format every
recent face detector submits). What it computes, and what we compute:

* **Regions are pixel sets.** Each annotation ellipse and each detection rectangle is drawn,
  filled, into a mask of the image's size, and the overlap of two regions is
  ``|A and D| / |A or D|`` in pixels, so regions are clipped to the image. The original draws
  with OpenCV: the ellipse centre is rounded to the nearest integer (``cvRound`` of the float32
  value), the semi-axes are truncated to integers, and the angle becomes
  ``180 - (pi - angle) * 180 / pi`` degrees, rounded to a whole degree by OpenCV 1.x/2.x, which
  is the annotation angle in degrees; a rectangle ``x y w h`` covers the pixels between the
  rounded corners ``(x, y)`` and ``(x + w, y + h)``, both included. *Choice*: we rasterise the
  same rounded ellipse exactly (a pixel is inside when its centre satisfies the ellipse
  inequality, boundary included) instead of reproducing OpenCV's 72-gon polygon fill, so pixel
  counts can differ from the original's along the ellipse boundary; rectangles are exact.
  Without image sizes (``image_sizes=None``, *choice*) nothing is clipped.
* **Matching per threshold.** For every distinct detection score ``s`` of an image, the
  detections with score ``>= s`` are matched to the faces by a maximum-weight bipartite matching
  on the overlap ratios (the original's Hungarian algorithm;
  :func:`scipy.optimize.linear_sum_assignment` here). Matched pairs with ratio ``> 0`` count:
  the *continuous* score adds the ratio, the *discrete* score adds 1 when the ratio is
  ``> 0.5``. False positives are the detections at or above ``s`` minus the discrete true
  positives (the original uses this count for both curves). *Choice*: when several matchings
  reach the same total weight, which one is chosen is up to the solver, in the original as here.
* **Merging.** The dataset curve has one point per distinct score over all images: each image
  contributes its counts at the lowest of its own thresholds that is ``>=`` the point's score
  (zero if it has none), which is what the original's ``Results::merge`` computes. The true
  positive rate divides by the number of annotated faces of all images. *Choice*: the original
  also appends a ``(0, 0)`` point with threshold ``DBL_MAX`` when an image has no detection; we
  leave it out.
* **Summary number.** Papers quote the discrete true positive rate at 1,000 false positives:
  :meth:`ROC.tpr_at` returns the highest rate among the points with at most that many false
  positives.

Detections and annotations are keyed by the FDDB image name (``2002/08/11/big/img_591``).
Images of the annotations without detections count as images without detections (warned);
detections of images not in the annotations are ignored (warned), as the original only walks
its image list.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..datasets._text import (
    LineReader,
    detection_rows,
    fail,
    format_number,
    is_number,
    parse_count,
    parse_floats,
    read_text_lines,
)

__all__ = [
    "ROC",
    "FDDBResult",
    "ellipse_region",
    "evaluate",
    "read_detections",
    "rectangle_region",
    "write_detections",
    "write_roc",
]

_M_PI = math.pi
_RIGHT_ANGLES = {0: (1.0, 0.0), 90: (0.0, 1.0), 180: (-1.0, 0.0), 270: (0.0, -1.0)}


@dataclass(frozen=True, eq=False)
class ROC:
    """One FDDB ROC curve, points ordered by decreasing score threshold.

    Attributes
    ----------
    kind : str
        ``"discrete"`` or ``"continuous"``.
    thresholds : ndarray of shape (K,), float64
        The distinct detection scores, decreasing.
    true_positives : ndarray of shape (K,), float64
        Summed scores of matched pairs (integers for the discrete curve).
    false_positives : ndarray of shape (K,), int64
    num_faces : int
        Annotated faces over all images.
    """

    kind: str
    thresholds: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray
    num_faces: int

    @property
    def tpr(self) -> np.ndarray:
        """True positive rate ``true_positives / num_faces`` (0 when there are no faces)."""
        if self.num_faces == 0:
            return np.zeros_like(self.true_positives)
        return self.true_positives / self.num_faces

    def tpr_at(self, false_positives: int = 1000) -> float:
        """Highest true positive rate among the points with at most ``false_positives`` FPs."""
        ok = self.false_positives <= false_positives
        return float(self.tpr[ok].max()) if ok.any() else 0.0


@dataclass(frozen=True, eq=False)
class FDDBResult:
    """Both FDDB curves (see the module docstring)."""

    discrete: ROC
    continuous: ROC


# --------------------------------------------------------------------------------------------
# rasterisation
# --------------------------------------------------------------------------------------------


def _clip_window(x0, y0, x1, y1, image_hw):
    """Inclusive pixel window clipped to the image; None when empty."""
    if image_hw is not None:
        h, w = image_hw
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, w - 1), min(y1, h - 1)
    if x1 < x0 or y1 < y0:
        return None
    return x0, y0, x1, y1


def _cv_round(v: float) -> int:
    # cvRound of a float32 (cvPointFrom32f): round half to even, as lrint does
    return int(np.rint(np.float32(v)))


def rectangle_region(x, y, w, h, image_hw=None):
    """The pixels a filled FDDB rectangle covers.

    Parameters
    ----------
    x, y, w, h : float
        The detection rectangle.
    image_hw : tuple of int, optional
        ``(height, width)`` to clip to.

    Returns
    -------
    (x0, y0, mask) or None
        ``mask`` is a bool array of shape (rows, cols) whose top-left pixel is ``(x0, y0)``;
        None when the rectangle lies outside the image.

    Examples
    --------
    >>> x0, y0, m = rectangle_region(1.4, 2.6, 2.0, 1.0)
    >>> x0, y0, m.shape
    (1, 3, (2, 3))
    """
    xa, ya = _cv_round(x), _cv_round(y)
    xb, yb = _cv_round(x + w), _cv_round(y + h)
    win = _clip_window(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb), image_hw)
    if win is None:
        return None
    x0, y0, x1, y1 = win
    return x0, y0, np.ones((y1 - y0 + 1, x1 - x0 + 1), dtype=bool)


def ellipse_region(major, minor, angle, cx, cy, image_hw=None):
    """The pixels a filled FDDB annotation ellipse covers.

    The centre is rounded and the semi-axes truncated as the original does; the angle (radians)
    is rounded to a whole degree; a pixel is inside when its centre satisfies the ellipse
    inequality (boundary included).

    Parameters
    ----------
    major, minor : float
        Semi-axis lengths; the major axis points along ``(cos angle, sin angle)`` (y down).
    angle : float
        Radians.
    cx, cy : float
        Centre.
    image_hw : tuple of int, optional
        ``(height, width)`` to clip to.

    Returns
    -------
    (x0, y0, mask) or None
        As :func:`rectangle_region`.

    Examples
    --------
    >>> x0, y0, m = ellipse_region(2.0, 1.0, 0.0, 5.0, 5.0)
    >>> x0, y0, m.astype(int).tolist()
    (3, 4, [[0, 0, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 0, 0]])
    """
    a = int(major)
    b = int(minor)
    ccx, ccy = _cv_round(cx), _cv_round(cy)
    deg = round(180.0 - (_M_PI - angle) * 180.0 / _M_PI) % 360
    # exact values at multiples of 90 degrees, so that axis-aligned boundary pixels stay inside
    c, s = _RIGHT_ANGLES.get(deg) or (math.cos(math.radians(deg)), math.sin(math.radians(deg)))
    ex = math.ceil(math.sqrt((a * c) ** 2 + (b * s) ** 2))
    ey = math.ceil(math.sqrt((a * s) ** 2 + (b * c) ** 2))
    win = _clip_window(ccx - ex, ccy - ey, ccx + ex, ccy + ey, image_hw)
    if win is None:
        return None
    x0, y0, x1, y1 = win
    dx = np.arange(x0, x1 + 1, dtype=np.float64)[None, :] - ccx
    dy = np.arange(y0, y1 + 1, dtype=np.float64)[:, None] - ccy
    u = dx * c + dy * s
    v = -dx * s + dy * c
    # (u/a)^2 + (v/b)^2 <= 1, written without dividing so that a zero axis stays defined; the
    # relative slack of 1e-12 absorbs the rounding of cos and sin for pixels on the boundary
    mask = (u * b) ** 2 + (v * a) ** 2 <= float(a * b) ** 2 * (1.0 + 1e-12)
    if not mask.any():
        return None
    return x0, y0, mask


def _overlap_ratio(r1, r2) -> float:
    if r1 is None or r2 is None:
        return 0.0
    ax, ay, am = r1
    bx, by, bm = r2
    x0, y0 = max(ax, bx), max(ay, by)
    x1 = min(ax + am.shape[1], bx + bm.shape[1])
    y1 = min(ay + am.shape[0], by + bm.shape[0])
    inter = 0
    if x1 > x0 and y1 > y0:
        inter = int(
            np.count_nonzero(
                am[y0 - ay : y1 - ay, x0 - ax : x1 - ax] & bm[y0 - by : y1 - by, x0 - bx : x1 - bx]
            )
        )
    union = int(np.count_nonzero(am)) + int(np.count_nonzero(bm)) - inter
    return inter / union if union > 0 else 0.0


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


def _check_array(arr, what, name, width):
    a = np.asarray(arr)
    if a.dtype == object or not (
        np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
    ):
        raise ValueError(f"{what} of {name!r} must hold real numbers, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.size == 0:
        a = a.reshape(0, width)
    if a.ndim != 2 or a.shape[1] != width:
        raise ValueError(f"{what} of {name!r} must have shape (N, {width}), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} of {name!r} hold a non-finite value")
    return a


def _image_counts(ious: np.ndarray, scores: np.ndarray):
    """Per own threshold (distinct scores, decreasing): discrete TP, continuous TP, FP."""
    from scipy.optimize import linear_sum_assignment

    own = np.unique(scores)[::-1]
    disc = np.zeros(own.shape[0])
    cont = np.zeros(own.shape[0])
    fp = np.zeros(own.shape[0], np.int64)
    nonzero_col = (ious != 0).any(axis=0) if ious.shape[0] else np.zeros(len(scores), bool)
    last_cols = None
    last = (0.0, 0.0)
    for k, s in enumerate(own.tolist()):
        valid = scores >= s
        cols = np.flatnonzero(valid & nonzero_col)
        if last_cols is None or cols.shape != last_cols.shape or (cols != last_cols).any():
            sub = ious[:, cols]
            rows = np.flatnonzero((sub != 0).any(axis=1))
            sub = sub[rows]
            d = c = 0.0
            if sub.size:
                ri, ci = linear_sum_assignment(sub, maximize=True)
                w = sub[ri, ci]
                w = w[w > 0]
                c = float(np.sum(w))
                d = float(np.count_nonzero(w > 0.5))
            last = (d, c)
            last_cols = cols
        disc[k], cont[k] = last
        fp[k] = int(np.count_nonzero(valid)) - int(last[0])
    return own, disc, cont, fp


def evaluate(
    detections: Mapping,
    annotations: Mapping,
    image_sizes: Mapping | None = None,
) -> FDDBResult:
    """Discrete and continuous FDDB ROC curves.

    Parameters
    ----------
    detections : mapping of str to array_like of shape (N, 5)
        Per image, ``x y w h score`` rectangles (pixels).
    annotations : mapping of str to array_like of shape (G, 5)
        Per image, ``major_radius minor_radius angle center_x center_y`` ellipses, as
        :func:`hambox_core.datasets.fddb.read_fddb_ellipses` returns.
    image_sizes : mapping of str to (int, int), optional
        ``(height, width)`` per image; regions are clipped to it like the original's
        image-sized masks. Without it nothing is clipped.

    Returns
    -------
    FDDBResult

    Raises
    ------
    ValueError
        On malformed arrays or a missing image size.

    Examples
    --------
    >>> ann = {"img": [[20.0, 15.0, math.pi / 2, 50.0, 50.0]]}
    >>> det = {"img": [[36, 31, 28, 38, 0.9], [0, 0, 10, 10, 0.5]]}
    >>> r = evaluate(det, ann, {"img": (100, 100)})
    >>> r.discrete.true_positives.tolist(), r.discrete.false_positives.tolist()
    ([1.0, 1.0], [0, 1])
    >>> r.discrete.tpr_at(1000)
    1.0
    """
    names = list(annotations)
    missing = [n for n in names if n not in detections]
    if missing:
        warnings.warn(
            f"{len(missing)} of {len(names)} images have no detections (e.g. {missing[0]!r}); "
            "they count as images without detections",
            UserWarning,
            stacklevel=2,
        )
    extra = [n for n in detections if n not in annotations]
    if extra:
        warnings.warn(
            f"detections of {len(extra)} image(s) not in the annotations are ignored "
            f"(e.g. {extra[0]!r})",
            UserWarning,
            stacklevel=2,
        )
    per_image = []
    num_faces = 0
    all_scores = []
    for n in names:
        ell = _check_array(annotations[n], "annotations", n, 5)
        if (ell[:, :2] < 0).any():
            raise ValueError(f"annotations of {n!r}: ellipse radii must be >= 0")
        det = _check_array(detections.get(n, np.zeros((0, 5))), "detections", n, 5)
        hw = None
        if image_sizes is not None:
            if n not in image_sizes:
                raise ValueError(f"no image size for {n!r}")
            hw = tuple(int(v) for v in image_sizes[n])
        num_faces += ell.shape[0]
        if det.shape[0] == 0:
            continue
        a_regions = [ellipse_region(*e, image_hw=hw) for e in ell.tolist()]
        d_regions = [rectangle_region(*d[:4], image_hw=hw) for d in det.tolist()]
        ious = np.array(
            [[_overlap_ratio(ra, rd) for rd in d_regions] for ra in a_regions], dtype=np.float64
        ).reshape(len(a_regions), len(d_regions))
        per_image.append(_image_counts(ious, det[:, 4]))
        all_scores.append(det[:, 4])
    thresholds = (
        np.unique(np.concatenate(all_scores))[::-1] if all_scores else np.zeros(0, np.float64)
    )
    k = thresholds.shape[0]
    d_disc = np.zeros(k + 1)
    d_cont = np.zeros(k + 1)
    d_fp = np.zeros(k + 1, np.int64)
    asc = thresholds[::-1]
    for own, disc, cont, fp in per_image:
        pos = k - 1 - np.searchsorted(asc, own)  # index of each own score in `thresholds`
        np.add.at(d_disc, pos, np.diff(disc, prepend=0.0))
        np.add.at(d_cont, pos, np.diff(cont, prepend=0.0))
        np.add.at(d_fp, pos, np.diff(fp, prepend=0))
    disc_roc = ROC("discrete", thresholds, np.cumsum(d_disc[:k]), np.cumsum(d_fp[:k]), num_faces)
    cont_roc = ROC(
        "continuous", thresholds, np.cumsum(d_cont[:k]), disc_roc.false_positives, num_faces
    )
    return FDDBResult(discrete=disc_roc, continuous=cont_roc)


def write_roc(path, roc: ROC) -> None:
    """Write a curve like the original's ``DiscROC.txt`` / ``ContROC.txt``.

    Lines ``tpr fp threshold`` (the continuous file of the original has no threshold column;
    we write it for both), by increasing threshold as the original does.
    """
    tpr = roc.tpr
    lines = [
        f"{format_number(t)} {int(f)} {format_number(s)}\n"
        for t, f, s in zip(
            tpr[::-1].tolist(),
            roc.false_positives[::-1].tolist(),
            roc.thresholds[::-1].tolist(),
            strict=True,
        )
    ]
    with open(os.fspath(path), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(lines))


# --------------------------------------------------------------------------------------------
# detection files
# --------------------------------------------------------------------------------------------


def read_detections(path) -> dict[str, np.ndarray]:
    """Read an FDDB detection file: name line, count line, ``x y w h score`` rows per image.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict of str to ndarray of shape (N, 5), float64

    Raises
    ------
    ValueError
        On malformed input (file and line named).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> _ = f.write_text("2002/08/11/big/img_591\\n1\\n10 20 30 40 0.9\\n")
    >>> read_detections(f)["2002/08/11/big/img_591"].tolist()
    [[10.0, 20.0, 30.0, 40.0, 0.9]]
    """
    p, lines = read_text_lines(path)
    reader = LineReader(p, lines)
    out: dict[str, np.ndarray] = {}
    seen: dict[str, int] = {}
    while (item := reader.next()) is not None:
        name_line, line = item
        tokens = line.split()
        if len(tokens) != 1 or is_number(tokens[0]):
            raise fail(p, name_line, f"expected an image name (one token), got {line.strip()!r}")
        name = tokens[0]
        if name in seen:
            raise fail(p, name_line, f"image {name!r} already listed on line {seen[name]}")
        seen[name] = name_line
        count_line, line = reader.expect(f"the detection count of {name!r}")
        count = parse_count(p, count_line, line, "detection count")
        rows = []
        for k in range(count):
            lineno, line = reader.expect(f"detection {k + 1} of {count} of {name!r}")
            tokens = line.split()
            if len(tokens) != 5:
                raise fail(p, lineno, f"expected 'x y w h score', got {len(tokens)} values")
            rows.append(parse_floats(p, lineno, tokens, f"detection {k + 1} of {name!r}"))
        out[name] = np.asarray(rows, dtype=np.float64).reshape(count, 5)
    return out


def write_detections(path, detections: Mapping) -> None:
    """Write detections (``x y w h score`` rows per image) in the FDDB detection format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> write_detections(f, {"a/b": [[10, 20, 30, 40, 0.9]]})
    >>> f.read_text()
    'a/b\\n1\\n10 20 30 40 0.9\\n'
    """
    chunks = []
    for name, arr in detections.items():
        rows = detection_rows(name, arr)
        chunks.append(f"{name}\n{len(rows)}\n")
        chunks.extend(" ".join(format_number(v) for v in row) + "\n" for row in rows)
    with open(os.fspath(path), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(chunks))
