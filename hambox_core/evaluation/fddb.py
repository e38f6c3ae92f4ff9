"""The FDDB evaluation: discrete and continuous ROC curves, as the official program computes them.

Source: the ``evaluation`` program distributed with FDDB (Vidit Jain and Erik Learned-Miller,
"FDDB: A Benchmark for Face Detection in Unconstrained Settings", UMass TR UM-CS-2010-009;
files ``evaluate.cpp``, ``Matching.cpp``, ``Results.cpp``, ``Hungarian.cpp``, ``EllipseR.cpp``,
``RectangleR.cpp``, ``Region.cpp``). By default :func:`evaluate` returns what that program
writes to ``DiscROC.txt`` / ``ContROC.txt``, number for number; this was checked against the
program itself, compiled against OpenCV 4.6 (``tests/fixtures/fddb_official``). What it computes:

* **Regions are pixel sets** (:mod:`~hambox_core.evaluation.fddb_regions`): each annotation
  ellipse and each detection (rectangle ``x y w h``, the program's ``-f 0``, or ellipse
  ``major minor angle cx cy``, its ``-f 1``) is drawn, filled, into a mask of the image's
  size (so regions are clipped to the image), ellipses by OpenCV's ``cvEllipse`` with a
  rounded centre, integer axes and a whole-degree angle. The overlap of a face and a detection
  is ``|A and D| / |A or D|`` in pixels. Image sizes are required.
* **Matching per threshold** (``Matching::runHungarian``): for every distinct detection score
  ``s`` of an image, the detections with score ``>= s`` are *valid*. Faces without overlap with
  any valid detection and detections without overlap with any face are left out; the rest form
  a matrix of overlaps with faces as rows and detections as columns (file order), transposed
  when there are more faces than detections, and ``matching`` chooses the solver:

  * ``"official"`` (default): Gerkey's Hungarian solver as the program runs it
    (:mod:`~hambox_core.evaluation.hungarian`), which stops early on some non-square matrices
    and then returns a matching of lower total overlap than the best one;
  * ``"optimal"``: a maximum-weight matching (:func:`scipy.optimize.linear_sum_assignment`);
    this is what hambox computed before and what papers' re-implementations usually compute.

  Matched pairs with overlap ``> 0`` count: the *continuous* score adds the overlap, the
  *discrete* score adds 1 when it is ``> 0.5``. False positives are the valid detections minus
  the discrete true positives (the program uses this count for both curves).
* **Merging** (``Results::merge``): the dataset curve has one point per distinct score over all
  images; each image contributes its counts at the lowest of its own thresholds that is ``>=``
  the point's score (zero if it has none). An image without detections contributes a point at
  threshold ``DBL_MAX`` (``numpy.finfo(float).max``) with no true or false positive, so the
  curve starts at ``(0, 0)`` whenever some image has no detection. The continuous sums are
  accumulated image by image in the annotations' order, as the program adds them, so they equal
  its doubles exactly. The true positive rate divides by the number of annotated faces.
* **Summary number.** Papers quote the discrete true positive rate at 1,000 false positives:
  :meth:`ROC.tpr_at` returns the highest rate among the points with at most that many.

Detections and annotations are keyed by the FDDB image name (``2002/08/11/big/img_591``), in
the order of the annotations (the program's image list). Images of the annotations without
detections count as images without detections (warned); detections of images not in the
annotations are ignored (warned), as the program only walks its list.

Where the program cannot give a result, :func:`evaluate` raises :class:`ValueError` naming the
image: a face and a detection that both lie entirely outside the image (the overlap is 0 / 0,
on which the program never terminates), and a solver result that the program rejects
(``hungarian_check_feasibility`` fails: it asserts). Neither occurred in our random tests.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .._numba import njit
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
from ..validation import as_real_array, check_choice, check_mapping
from . import hungarian
from .fddb_regions import RASTERIZATIONS, check_image_hw, overlap_matrix

__all__ = [
    "DETECTION_FORMATS",
    "MATCHINGS",
    "ROC",
    "FDDBResult",
    "evaluate",
    "read_detections",
    "write_detections",
    "write_roc",
]

#: Detection formats: ``"rectangle"`` (``x y w h score``, the program's ``-f 0``) and
#: ``"ellipse"`` (``major minor angle cx cy score``, ``-f 1``).
DETECTION_FORMATS = ("rectangle", "ellipse")
#: Matching solvers: the program's (``"official"``) or a maximum-weight matching.
MATCHINGS = ("official", "optimal")

_DBL_MAX = float(np.finfo(np.float64).max)  # the program's threshold for images without detections
_WIDTH = {"rectangle": 5, "ellipse": 6}
_STATUS_INFEASIBLE = 100


@dataclass(frozen=True, eq=False)
class ROC:
    """One FDDB ROC curve, points ordered by decreasing score threshold.

    Attributes
    ----------
    kind : str
        ``"discrete"`` or ``"continuous"``.
    thresholds : ndarray of shape (K,), float64
        The distinct detection scores, decreasing; led by ``DBL_MAX`` when some image has no
        detection (the program's end point).
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
    """Both FDDB curves (see the module docstring) and the semantics they were computed with.

    Attributes
    ----------
    discrete, continuous : ROC
    matching : str
        ``"official"`` or ``"optimal"``.
    rasterization : str
        ``"opencv"`` (the program's) or ``"exact"``.
    detection_format : str
        ``"rectangle"`` or ``"ellipse"``.
    """

    discrete: ROC
    continuous: ROC
    matching: str = "official"
    rasterization: str = "opencv"
    detection_format: str = "rectangle"

    @property
    def official(self) -> bool:
        """True when both choices are the program's (the numbers papers report)."""
        return self.matching == "official" and self.rasterization == "opencv"


# --------------------------------------------------------------------------------------------
# per-image counts
# --------------------------------------------------------------------------------------------


@njit
def _official_counts(ious, scores, own):
    """Per own threshold (ascending): discrete TP, continuous TP, FP, with Gerkey's solver.

    Builds the matrix as ``Matching::runHungarian`` does. Returns a status (0 on success).
    """
    g, d = ious.shape
    k_count = own.shape[0]
    disc = np.zeros(k_count)
    cont = np.zeros(k_count)
    fp = np.zeros(k_count, np.int64)
    col_nonzero = np.zeros(d, np.bool_)
    for j in range(d):
        s = 0.0
        for i in range(g):
            s += ious[i, j]
        col_nonzero[j] = s != 0
    cols = np.empty(d, np.int64)
    rows = np.empty(g, np.int64)
    last = -1
    d_val = 0.0
    c_val = 0.0
    for k in range(k_count):
        thr = own[k]
        n_valid = 0
        n_cols = 0
        for j in range(d):
            if scores[j] >= thr:
                n_valid += 1
                if col_nonzero[j]:
                    cols[n_cols] = j
                    n_cols += 1
        # the valid columns shrink as the threshold rises: same count, same matrix
        if n_cols != last:
            last = n_cols
            n_rows = 0
            for i in range(g):
                s = 0.0
                for t in range(n_cols):
                    s += ious[i, cols[t]]
                if s != 0:
                    rows[n_rows] = i
                    n_rows += 1
            transpose = n_rows > n_cols
            if transpose:
                mat = np.empty((n_cols, n_rows))
                for a in range(n_cols):
                    for b in range(n_rows):
                        mat[a, b] = ious[rows[b], cols[a]]
            else:
                mat = np.empty((n_rows, n_cols))
                for a in range(n_rows):
                    for b in range(n_cols):
                        mat[a, b] = ious[rows[a], cols[b]]
            q = np.zeros(mat.shape, np.int8)
            status = hungarian.solve_marks(mat, q)
            if status != 0:
                return status, disc, cont, fp
            if not hungarian.marks_feasible(q):
                return _STATUS_INFEASIBLE, disc, cont, fp
            assigned = np.empty(mat.shape[0], np.int64)
            hungarian.assignment_from_marks(q, assigned)
            d_val = 0.0
            c_val = 0.0
            for a in range(mat.shape[0]):
                v = mat[a, assigned[a]]
                if v > 0:
                    c_val += v
                    if v > 0.5:
                        d_val += 1.0
        disc[k] = d_val
        cont[k] = c_val
        fp[k] = n_valid - np.int64(d_val)
    return 0, disc, cont, fp


def _optimal_counts(ious, scores, own):
    """As :func:`_official_counts`, with a maximum-weight matching."""
    from scipy.optimize import linear_sum_assignment

    disc = np.zeros(own.shape[0])
    cont = np.zeros(own.shape[0])
    fp = np.zeros(own.shape[0], np.int64)
    col_nonzero = ious.sum(axis=0) != 0 if ious.shape[0] else np.zeros(len(scores), bool)
    last = None
    value = (0.0, 0.0)
    for k, s in enumerate(own.tolist()):
        valid = scores >= s
        cols = np.flatnonzero(valid & col_nonzero)
        if last is None or cols.shape != last.shape:
            sub = ious[:, cols]
            sub = sub[(sub != 0).any(axis=1)]
            c = dv = 0.0
            if sub.size:
                ri, ci = linear_sum_assignment(sub, maximize=True)
                for v in sub[ri, ci].tolist():  # in face order
                    if v > 0:
                        c += v
                        dv += v > 0.5
            value = (dv, c)
            last = cols
        disc[k], cont[k] = value
        fp[k] = int(np.count_nonzero(valid)) - int(value[0])
    return disc, cont, fp


@njit
def _merge(thresholds, offsets, own, disc, cont, fp):
    """``Results::merge`` over the images in order: the curve at each (decreasing) threshold.

    Image ``m`` owns ``own[offsets[m]:offsets[m + 1]]`` (ascending) with its counts there; at a
    threshold it contributes its counts at its lowest own threshold ``>=`` it. Sums run image
    by image, in order, like the program's additions, so the doubles are the program's.
    """
    k_count = thresholds.shape[0]
    tp_cont = np.zeros(k_count)
    # the integer counts (exact in any order) as steps at each image's own thresholds
    step_disc = np.zeros(k_count + 1)
    step_fp = np.zeros(k_count + 1, np.int64)
    ascending = thresholds[::-1]
    for m in range(offsets.shape[0] - 1):
        # own threshold p covers the global indices [pos(p), pos(p - 1)) (decreasing order)
        end = k_count
        prev_disc = 0.0
        prev_fp = 0
        for p in range(offsets[m + 1] - 1, offsets[m] - 1, -1):
            start = k_count - 1 - np.searchsorted(ascending, own[p])
            step_disc[start] += disc[p] - prev_disc
            step_fp[start] += fp[p] - prev_fp
            prev_disc = disc[p]
            prev_fp = fp[p]
        for p in range(offsets[m], offsets[m + 1]):
            start = k_count - 1 - np.searchsorted(ascending, own[p])
            c = cont[p]
            if c != 0.0:  # adding 0 changes no sum
                for k in range(start, end):
                    tp_cont[k] += c
            end = start
    return np.cumsum(step_disc)[:k_count], tp_cont, np.cumsum(step_fp)[:k_count]


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


def _check_array(arr, what: str, name, width: int) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype == object or not (
        np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
    ):
        raise ValueError(f"{what}[{name!r}] must hold real numbers, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.size == 0:
        a = a.reshape(0, width)
    if a.ndim != 2 or a.shape[1] != width:
        raise ValueError(f"{what}[{name!r}] must have shape (N, {width}), got {a.shape}")
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}[{name!r}] row {row} holds a non-finite value: {a[row]}")
    return a


def _check_sizes(a: np.ndarray, what: str, name, cols: tuple[int, int], label: str) -> None:
    bad = (a[:, cols[0]] < 0) | (a[:, cols[1]] < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}[{name!r}] row {row}: {label} must be >= 0, got {a[row]}")


def _check_range(a: np.ndarray, what: str, name, cols, values=None) -> None:
    """Values the program draws with C ints (coordinates, axes) must fit in 32 bits."""
    v = a if values is None else values
    bad = (np.abs(v[:, list(cols)]) >= 2.0**31).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{what}[{name!r}] row {row} holds a value beyond the program's 32-bit pixel "
            f"coordinates (|v| < 2**31): {a[row]}"
        )


def _image_overlaps(ell, det, hw, name, detection_format, rasterization) -> np.ndarray:
    try:
        ious = overlap_matrix(
            ell, det, hw, detection_format=detection_format, rasterization=rasterization
        )
    except ValueError as exc:
        raise ValueError(f"image {name!r}: {exc}") from None
    empty = np.isnan(ious)
    if empty.any():
        i, j = (int(v[0]) for v in np.nonzero(empty))
        raise ValueError(
            f"image {name!r}: face {i} and detection {j} both lie outside the image (no pixel), "
            "so their overlap is 0 / 0, on which the official program never terminates"
        )
    return ious


def evaluate(
    detections: Mapping,
    annotations: Mapping,
    image_sizes: Mapping,
    *,
    detection_format: str = "rectangle",
    matching: str = "official",
    rasterization: str = "opencv",
) -> FDDBResult:
    """Discrete and continuous FDDB ROC curves (by default exactly the official program's).

    Parameters
    ----------
    detections : mapping of str to array_like of shape (N, 5) or (N, 6)
        Per image, ``x y w h score`` rectangles (``detection_format="rectangle"``) or
        ``major_radius minor_radius angle center_x center_y score`` ellipses (``"ellipse"``),
        pixels and radians, in the order the detector wrote them (ties in the matching resolve
        by it, as in the program).
    annotations : mapping of str to array_like of shape (G, 5)
        Per image, ``major_radius minor_radius angle center_x center_y`` ellipses, as
        :func:`hambox_core.datasets.fddb.read_fddb_ellipses` returns; the mapping's order is
        the image list's.
    image_sizes : mapping of str to (int, int)
        ``(height, width)`` per annotated image: the program draws every region into a mask of
        the image's size.
    detection_format : {"rectangle", "ellipse"}, default "rectangle"
        The program's ``-f 0`` or ``-f 1``.
    matching : {"official", "optimal"}, default "official"
        Gerkey's solver as the program runs it, or a maximum-weight matching.
    rasterization : {"opencv", "exact"}, default "opencv"
        The program's OpenCV ellipses (needs ``pip install 'hambox[fddb]'``), or pixel
        centres inside the ellipse (no OpenCV; not the official number).

    Returns
    -------
    FDDBResult

    Raises
    ------
    ValueError
        On malformed arrays, negative sizes, values beyond the program's 32-bit pixel
        coordinates, a missing image size, an unknown option, or where the program would not
        give a result (see the module docstring); the message names the argument and image.
    TypeError
        If ``detections`` or ``annotations`` is not a mapping.
    ImportError
        With ``rasterization="opencv"`` when OpenCV is not installed.

    Examples
    --------
    >>> ann = {"img": [[20.0, 15.0, 1.5707963, 50.0, 50.0]], "empty": [[10.0, 8.0, 0.0, 20, 20]]}
    >>> det = {"img": [[36, 31, 28, 38, 0.9], [0, 0, 10, 10, 0.5]], "empty": []}
    >>> r = evaluate(det, ann, {"img": (100, 100), "empty": (40, 40)})
    >>> r.discrete.thresholds.tolist()[1:], r.discrete.false_positives.tolist()
    ([0.9, 0.5], [0, 0, 1])
    >>> r.discrete.true_positives.tolist(), r.discrete.tpr_at(1000)
    ([0.0, 1.0, 1.0], 0.5)
    """
    check_choice(detection_format, "detection_format", DETECTION_FORMATS)
    check_choice(matching, "matching", MATCHINGS)
    check_choice(rasterization, "rasterization", RASTERIZATIONS)
    check_mapping(detections, "detections")
    check_mapping(annotations, "annotations")
    if not isinstance(image_sizes, Mapping):
        raise ValueError(
            "image_sizes must map each image name to (height, width): the program draws "
            f"regions into image-sized masks; got {type(image_sizes).__name__}"
        )
    width = _WIDTH[detection_format]
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
    owns, discs, conts, fps = [], [], [], []
    num_faces = 0
    for n in names:
        ell = _check_array(annotations[n], "annotations", n, 5)
        _check_sizes(ell, "annotations", n, (0, 1), "ellipse radii")
        _check_range(ell, "annotations", n, (0, 1, 3, 4))
        det = _check_array(detections.get(n, np.zeros((0, width))), "detections", n, width)
        _check_sizes(
            det,
            "detections",
            n,
            (2, 3) if detection_format == "rectangle" else (0, 1),
            "rectangle sizes" if detection_format == "rectangle" else "ellipse radii",
        )
        if detection_format == "rectangle":
            corners = np.concatenate([det[:, :2], det[:, :2] + det[:, 2:4]], axis=1)
            _check_range(det, "detections", n, (0, 1, 2, 3), values=corners)
        else:
            _check_range(det, "detections", n, (0, 1, 3, 4))
        if n not in image_sizes:
            raise ValueError(f"image_sizes has no entry for {n!r}")
        hw = check_image_hw(image_sizes[n], f"image_sizes[{n!r}]")
        num_faces += ell.shape[0]
        if det.shape[0] == 0:
            # Results(imName, DBL_MAX, NULL, ...): a point with no true or false positive
            owns.append(np.array([_DBL_MAX]))
            discs.append(np.zeros(1))
            conts.append(np.zeros(1))
            fps.append(np.zeros(1, np.int64))
            continue
        ious = _image_overlaps(ell, det[:, :-1], hw, n, detection_format, rasterization)
        scores = np.ascontiguousarray(det[:, -1])
        own = np.unique(scores)
        if matching == "official":
            status, disc, cont, fp = _official_counts(np.ascontiguousarray(ious), scores, own)
            if status == _STATUS_INFEASIBLE:
                raise ValueError(
                    f"image {n!r}: Gerkey's solver left a row unassigned; the official program "
                    "asserts here ('Not yet implemented')"
                )
            if status != 0:
                raise hungarian.HungarianError(f"image {n!r}: {hungarian.MESSAGES[status]}")
        else:
            disc, cont, fp = _optimal_counts(ious, scores, own)
        owns.append(own)
        discs.append(disc)
        conts.append(cont)
        fps.append(fp)
    if owns:
        thresholds = np.unique(np.concatenate(owns))[::-1].copy()
        offsets = np.cumsum([0] + [o.shape[0] for o in owns]).astype(np.int64)
        tp_disc, tp_cont, fp_all = _merge(
            thresholds,
            offsets,
            np.concatenate(owns),
            np.concatenate(discs),
            np.concatenate(conts),
            np.concatenate(fps),
        )
    else:
        thresholds = np.zeros(0)
        tp_disc = tp_cont = np.zeros(0)
        fp_all = np.zeros(0, np.int64)
    disc_roc = ROC("discrete", thresholds, tp_disc, fp_all, num_faces)
    cont_roc = ROC("continuous", thresholds, tp_cont, fp_all, num_faces)
    return FDDBResult(disc_roc, cont_roc, matching, rasterization, detection_format)


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


def read_detections(path, detection_format: str = "rectangle") -> dict[str, np.ndarray]:
    """Read an FDDB detection file: per image a name line, a count line and one row per detection.

    Rows are ``x y w h score`` (``detection_format="rectangle"``, the program's ``-f 0``) or
    ``major_radius minor_radius angle center_x center_y score`` (``"ellipse"``, ``-f 1``).
    Numbers must be plain decimal (``12``, ``-3.5``, ``1e-3``) and fit in float32.

    Parameters
    ----------
    path : str or os.PathLike
    detection_format : {"rectangle", "ellipse"}, default "rectangle"

    Returns
    -------
    dict of str to ndarray of shape (N, 5) or (N, 6), float64
        In file order.

    Raises
    ------
    ValueError
        On malformed input (file and line named), or an unknown ``detection_format``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> _ = f.write_text("2002/08/11/big/img_591\\n1\\n10 20 30 40 0.9\\n")
    >>> read_detections(f)["2002/08/11/big/img_591"].tolist()
    [[10.0, 20.0, 30.0, 40.0, 0.9]]
    """
    check_choice(detection_format, "detection_format", DETECTION_FORMATS)
    width = _WIDTH[detection_format]
    layout = "x y w h score" if width == 5 else "major minor angle center_x center_y score"
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
            if len(tokens) != width:
                raise fail(p, lineno, f"expected {layout!r}, got {len(tokens)} values")
            values = parse_floats(p, lineno, tokens, f"detection {k + 1} of {name!r}")
            sizes = values[2:4] if width == 5 else values[0:2]
            if sizes[0] < 0 or sizes[1] < 0:
                what = "width and height" if width == 5 else "radii"
                raise fail(p, lineno, f"detection {what} must be >= 0, got {sizes}")
            rows.append(values)
        out[name] = np.asarray(rows, dtype=np.float64).reshape(count, width)
    return out


def write_detections(path, detections: Mapping) -> None:
    """Write detections in the FDDB detection format (rows of 5 or 6 values, as given).

    Parameters
    ----------
    path : str or os.PathLike
        Output file (overwritten).
    detections : mapping of str to array_like of shape (N, 5) or (N, 6)
        ``x y w h score`` rectangles or ``major minor angle cx cy score`` ellipses per image;
        every image in the mapping is written, with count 0 when it has no detection (the
        program needs every image of its list).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> write_detections(f, {"a/b": [[10, 20, 30, 40, 0.9]], "c/d": []})
    >>> f.read_text()
    'a/b\\n1\\n10 20 30 40 0.9\\nc/d\\n0\\n'
    """
    check_mapping(detections, "detections")
    chunks = []
    for name, arr in detections.items():
        a = as_real_array(arr, f"detections of {name!r}").astype(np.float64)
        width = a.shape[1] if a.ndim == 2 and a.shape[1] in (5, 6) else 5
        rows = detection_rows(name, a, width)
        # What evaluate accepts: a rectangle's w and h (columns 2, 3), an ellipse's radii (0, 1).
        table = np.asarray(rows, np.float64).reshape(-1, width)
        sizes = table[:, 2:4] if width == 5 else table[:, :2]
        if (sizes < 0).any():
            what = "width and height" if width == 5 else "radii"
            raise ValueError(f"detections of {name!r} must have a {what} >= 0")
        chunks.append(f"{name}\n{len(rows)}\n")
        chunks.extend(" ".join(format_number(v) for v in row) + "\n" for row in rows)
    with open(os.fspath(path), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(chunks))
