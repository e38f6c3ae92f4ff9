"""VOC average precision and the AFW / PASCAL Face evaluation protocol.

:func:`voc_ap` is the all-point interpolated AP of PASCAL VOC (``VOCap.m`` of the VOC 2010+
devkit, which the WIDER FACE tools copy): pad recall with 0 and 1 and precision with 0 and 0,
replace each precision by the maximum of itself and every later one, and sum precision times
the recall step where recall changes. Like MATLAB's ``max``, the running maximum ignores NaN
(a NaN precision, 0/0 before the first proposal, never enters the sum).

:func:`evaluate_face_ap` is the protocol that face-detection papers (HAMBox included) use for
AFW (Zhu and Ramanan, CVPR 2012) and PASCAL Face (Yan et al., 2014), as implemented by the
``face-eval`` toolbox of Mathias, Benenson, Pedersoli and Van Gool ("Face detection without
bells and whistles", ECCV 2014; files ``plot_AP.py``, ``VOCpr.py``, ``util.py``,
``database.py``), with its default options:

* **Ignored faces**: a face narrower or shorter than ``min_size = 30`` pixels (``x1 - x0`` or
  ``y1 - y0``, no "+1") is ignored, as is any face the annotation itself flags (the fifth
  column of the annotation array, the ``ignore`` flag of the toolbox's re-annotations). A
  detection matched to an ignored face is neither a true nor a false positive.
* **Small detections dropped** (``filterdet``): with ``min_pix = int(sqrt(0.5 * 30 * 30)) = 21``,
  a detection is kept only if its width *or* its height (``x1 - x0``, ``y1 - y0``) exceeds 21.
* **Matching** (``VOCprRecord``): detections of all images are visited in decreasing score
  (stable: ties keep their input order, images in mapping order, rows in array order); each
  takes the face of highest IoU, the *last* face on ties (the toolbox compares with ``>=``).
  The IoU uses the "+1" pixel convention of ``util.overlap``: sides ``|x1 - x0| + 1``, an
  intersection only when the boxes overlap strictly (``x1 > x0'`` on both sides and axes), of
  ``(min(x1) - max(x0) + 1) * (...)``. The detection is a true positive if the IoU is strictly
  above ``0.5`` and the face is not ignored and not yet detected, nothing if the face is
  ignored, else a false positive. Detections of images without faces (or unknown to the
  annotations) are false positives.
* **Box calibration** (``evaluate_optim``): detectors draw boxes in different styles, so the
  toolbox fits the detections to the annotation style: each round evaluates, then takes the
  mean over true positives of ``tx = (gt_cx - det_cx) / det_w``, ``ty`` likewise,
  ``sx = gt_w / det_w``, ``sy = gt_h / det_h``, and moves and scales every detection box
  (centre ``+= (tx * w, ty * h)``, half-sides ``*= (sx, sy)``). With ``iter = 5`` rounds the
  reported precision-recall is that of the fifth evaluation, i.e. of the boxes calibrated four
  times (the fifth fit is computed but not applied); ``calibration_iterations=1`` means no
  calibration. *Choice*: a round without true positives fits the identity (the toolbox takes the
  mean of nothing, NaN, which makes every later detection a false positive; both give AP 0).
* **AP**: :func:`voc_ap` of ``recall = cumsum(tp) / faces`` and
  ``precision = cumsum(tp) / (cumsum(tp) + cumsum(fp))`` over the sorted detections, where
  ``faces`` counts the faces that are not ignored.

* **Sum**: the toolbox's ``VOCap`` adds the terms with ``numpy.sum`` (pairwise), so
  :func:`evaluate_face_ap` calls :func:`voc_ap` with ``summation="pairwise"`` (the WIDER FACE
  tools sum left to right, the default). When every face is ignored the recall is 0 / 0 and the
  AP NaN, as in the toolbox.

Checked against the toolbox itself (its Python code, run under Python 3 with three mechanical
edits: ``cmp`` sort, ``has_key``, ``print``), on its own AFW and PASCAL Face annotations with
its ``min_size`` 30 and 5 rounds, and the detection files it ships for DPM, HeadHunter, the
baseline and Face++ (8 runs): every AP equal to the last bit (for example HeadHunter
0.9714158 on AFW and 0.8962989 on PASCAL Face). What differs, by design: detections are a
mapping, so score ties *across* images are visited in mapping order, where the toolbox keeps
the line order of its file (the same when each image's lines are contiguous, as in every file
the toolbox ships); a round without true positives fits the identity (the toolbox's NaN makes
the AP 0 too); detection lines may be separated by any whitespace (the toolbox splits on single
spaces). The toolbox keys its annotations by the image file's base name without extension; the
mapping keys here are the caller's.

Detections and annotations are xyxy boxes in pixels. The toolbox's detection text format is
read by :func:`read_face_eval_detections`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..datasets._text import detection_rows, fail, format_number, parse_floats, read_text_lines
from ..validation import (
    as_real_vector,
    check_choice,
    check_mapping,
    check_non_negative,
    check_positive_int,
    check_threshold,
)

__all__ = [
    "FaceAPResult",
    "evaluate_face_ap",
    "read_face_eval_detections",
    "voc_ap",
    "write_face_eval_detections",
]


def voc_ap(recall, precision, *, summation: str = "sequential") -> float:
    """All-point interpolated average precision (``VOCap.m``).

    Parameters
    ----------
    recall : array_like of shape (K,)
        Recall values in [0, 1], non-decreasing.
    precision : array_like of shape (K,)
        Precision at each recall value, in [0, 1]; NaN entries (0/0, before the first counted
        proposal) are allowed and ignored by the running maximum, as MATLAB's ``max`` ignores
        them.
    summation : {"sequential", "pairwise"}, default "sequential"
        How the terms are added: left to right, as MATLAB's and Octave's ``sum`` do (the WIDER
        FACE tools), or numpy's pairwise ``np.sum``, as the Python ``VOCap`` of the
        ``face-eval`` toolbox does (AFW / PASCAL Face). They can differ in the last bit.

    Returns
    -------
    float
        ``sum((r[i] - r[i - 1]) * p_interp[i])`` over the indices where recall changes, with
        recall padded by 0 and 1 and precision by 0 and 0.

    Raises
    ------
    ValueError
        If an argument is not a 1-d array of real numbers, the shapes differ, a recall is NaN or
        outside [0, 1] or decreases, a precision is outside [0, 1] (or infinite), or
        ``summation`` is unknown.

    Examples
    --------
    >>> voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3])
    0.8333333333333333
    >>> voc_ap([], [])
    0.0
    """
    check_choice(summation, "summation", ("sequential", "pairwise"))
    rec = as_real_vector(recall, "recall")
    prec = as_real_vector(precision, "precision")
    if rec.shape != prec.shape:
        raise ValueError(f"recall and precision differ in shape: {rec.shape} vs {prec.shape}")
    bad = ~((rec >= 0) & (rec <= 1))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"recall must lie in [0, 1]; recall[{k}] is {float(rec[k])!r}")
    if (np.diff(rec) < 0).any():
        k = int(np.flatnonzero(np.diff(rec) < 0)[0]) + 1
        raise ValueError(f"recall must not decrease; recall[{k}] < recall[{k - 1}]")
    bad = (prec < 0) | (prec > 1)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"precision must lie in [0, 1] (or be NaN); precision[{k}] is {float(prec[k])!r}"
        )
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.fmax.accumulate(mpre[::-1])[::-1]
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    terms = (mrec[idx] - mrec[idx - 1]) * mpre[idx]
    if not terms.size:
        return 0.0
    if summation == "pairwise":
        return float(np.sum(terms))
    # left to right, as MATLAB's and Octave's sum: cumsum accumulates sequentially
    return float(np.cumsum(terms)[-1])


@dataclass(frozen=True, eq=False)
class FaceAPResult:
    """Result of :func:`evaluate_face_ap`.

    Attributes
    ----------
    ap : float
        VOC all-point AP.
    precision, recall : ndarray of shape (D,), float64
        After each detection in score order (NaN precision before the first counted one).
    scores : ndarray of shape (D,), float64
        Detection scores in that order.
    num_faces : int
        Faces that are not ignored.
    calibration : ndarray of shape (iterations, 4), float64
        ``(tx, ty, sx, sy)`` fitted in each round; every row but the last was applied.
    boxes : ndarray of shape (D, 4), float64
        The evaluated (calibrated) detection boxes, xyxy, in score order.
    """

    ap: float
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    num_faces: int
    calibration: np.ndarray
    boxes: np.ndarray


def _overlap(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU matrix (D, G) of ``util.overlap`` ("+1" pixels, strict overlap test), float64."""
    dx0, dy0, dx1, dy1 = (det[:, None, k] for k in range(4))
    gx0, gy0, gx1, gy1 = (gt[None, :, k] for k in range(4))
    a1 = (np.abs(dx0 - dx1) + 1) * (np.abs(dy0 - dy1) + 1)
    a2 = (np.abs(gx0 - gx1) + 1) * (np.abs(gy0 - gy1) + 1)
    hit = (dy1 > gy0) & (gy1 > dy0) & (dx1 > gx0) & (gx1 > dx0)
    ia = (np.minimum(dx1, gx1) - np.maximum(dx0, gx0) + 1) * (
        np.minimum(dy1, gy1) - np.maximum(dy0, gy0) + 1
    )
    ia = np.where(hit, ia, 0.0)
    return ia / ((a1 + a2) - ia)


def _check_boxes(arr, name: str, key, cols: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype == object or not (
        np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
    ):
        raise ValueError(f"{name} of {key!r} must hold real numbers, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.size == 0:
        a = a.reshape(0, cols[0])
    if a.ndim != 2 or a.shape[1] not in cols:
        raise ValueError(f"{name} of {key!r} must have shape (N, {' or '.join(map(str, cols))})")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} of {key!r} hold a non-finite value")
    if ((a[:, 2] < a[:, 0]) | (a[:, 3] < a[:, 1])).any():
        raise ValueError(f"{name} of {key!r} must satisfy x1 >= x0 and y1 >= y0")
    return a


def _evaluate_once(boxes, order, image_of, gts, ignored, iou_threshold):
    """One ``VOCprRecordOptim`` pass: tp/fp per detection (in ``order``) and TP statistics."""
    n = order.shape[0]
    tp = np.zeros(n)
    fp = np.zeros(n)
    stats = []
    rank_of = np.empty(n, np.int64)
    rank_of[order] = np.arange(n)
    # group the sorted detections by image; within an image keep the global (score) order
    by_image: dict[int, list[int]] = {}
    for r in order.tolist():
        by_image.setdefault(int(image_of[r]), []).append(r)
    for img, rows in by_image.items():
        gt = gts[img] if img >= 0 else None
        if gt is None or gt.shape[0] == 0:
            fp[rank_of[rows]] = 1
            continue
        ious = _overlap(boxes[rows], gt)
        g_count = gt.shape[0]
        best = g_count - 1 - np.argmax(ious[:, ::-1], axis=1)  # last face on ties
        top = ious[np.arange(len(rows)), best]
        detected = np.zeros(g_count, bool)
        ign = ignored[img]
        for k, r in enumerate(rows):
            if top[k] > iou_threshold:
                g = int(best[k])
                if ign[g]:
                    continue
                if detected[g]:
                    fp[rank_of[r]] = 1
                    continue
                detected[g] = True
                tp[rank_of[r]] = 1
                d = boxes[r]
                f = gt[g]
                dw = d[2] - d[0]
                dh = d[3] - d[1]
                stats.append(
                    (
                        ((f[2] + f[0]) / 2.0 - (d[2] + d[0]) / 2.0) / dw,
                        ((f[3] + f[1]) / 2.0 - (d[3] + d[1]) / 2.0) / dh,
                        (f[2] - f[0]) / dw,
                        (f[3] - f[1]) / dh,
                    )
                )
            else:
                fp[rank_of[r]] = 1
    return tp, fp, stats


def evaluate_face_ap(
    detections: Mapping,
    annotations: Mapping,
    *,
    min_size: float = 30,
    iou_threshold: float = 0.5,
    calibration_iterations: int = 5,
) -> FaceAPResult:
    """AP under the AFW / PASCAL Face protocol of the ``face-eval`` toolbox.

    Parameters
    ----------
    detections : mapping of str to array_like of shape (N, 5)
        Per image, ``x0 y0 x1 y1 score`` rows (pixels, ``x1 >= x0``, ``y1 >= y0``).
    annotations : mapping of str to array_like of shape (G, 4) or (G, 5)
        Per image, ``x0 y0 x1 y1`` faces, optionally with a fifth column that is non-zero for
        faces the annotation marks as ignored.
    min_size : float, default 30
        Faces with width or height below it are ignored; detections no wider and no taller
        than ``int(sqrt(0.5 * min_size ** 2))`` are dropped.
    iou_threshold : float, default 0.5
        A detection matches a face when the IoU is strictly greater.
    calibration_iterations : int, default 5
        Rounds of evaluation and box calibration (1: no calibration).

    Returns
    -------
    FaceAPResult

    Raises
    ------
    ValueError
        On malformed arrays (shape, non-finite values, inverted boxes).

    Examples
    --------
    >>> ann = {"img1": [[10, 10, 110, 110]], "img2": [[0, 0, 50, 50], [200, 200, 210, 210]]}
    >>> det = {"img1": [[12, 8, 112, 108, 0.9]], "img2": [[0, 0, 52, 52, 0.8],
    ...                                                   [200, 200, 212, 212, 0.95]]}
    >>> r = evaluate_face_ap(det, ann, calibration_iterations=1)
    >>> r.ap, r.num_faces
    (1.0, 2)
    """
    calibration_iterations = check_positive_int(calibration_iterations, "calibration_iterations")
    iou_threshold = check_threshold(iou_threshold, "iou_threshold")
    min_size = check_non_negative(min_size, "min_size")
    check_mapping(detections, "detections")
    check_mapping(annotations, "annotations")
    names = list(annotations)
    index = {n: i for i, n in enumerate(names)}
    gts, ignored = [], []
    for n in names:
        a = _check_boxes(annotations[n], "annotations", n, (4, 5))
        w = a[:, 2] - a[:, 0]
        h = a[:, 3] - a[:, 1]
        ign = (w < min_size) | (h < min_size)
        if a.shape[1] == 5:
            ign |= a[:, 4] != 0
        gts.append(np.ascontiguousarray(a[:, :4]))
        ignored.append(ign)
    num_faces = int(sum(int((~i).sum()) for i in ignored))

    min_pix = int(math.sqrt(0.5 * min_size * min_size))
    parts, images, unknown = [], [], 0
    for n, arr in detections.items():
        d = _check_boxes(arr, "detections", n, (5,))
        keep = ((d[:, 2] - d[:, 0]) > min_pix) | ((d[:, 3] - d[:, 1]) > min_pix)
        d = d[keep]
        img = index.get(n, -1)
        if img < 0 and d.shape[0]:
            unknown += 1
        parts.append(d)
        images.append(np.full(d.shape[0], img, np.int64))
    if unknown:
        warnings.warn(
            f"detections of {unknown} image(s) not in the annotations count as false positives",
            UserWarning,
            stacklevel=2,
        )
    det = np.concatenate(parts) if parts else np.zeros((0, 5))
    image_of = np.concatenate(images) if images else np.zeros(0, np.int64)
    boxes = det[:, :4].copy()
    scores = det[:, 4].copy()
    order = np.argsort(-scores, kind="stable")

    calib = np.zeros((calibration_iterations, 4))
    for it in range(calibration_iterations):
        tp, fp, stats = _evaluate_once(boxes, order, image_of, gts, ignored, iou_threshold)
        if stats:
            table = np.asarray(stats, dtype=np.float64)
            # numpy.mean of each list, as the toolbox does (pairwise sum over a 1-d array)
            tx, ty, sx, sy = (float(np.mean(np.ascontiguousarray(table[:, k]))) for k in range(4))
        else:
            tx, ty, sx, sy = 0.0, 0.0, 1.0, 1.0
        calib[it] = (tx, ty, sx, sy)
        if it + 1 < calibration_iterations:
            hw = (boxes[:, 2] - boxes[:, 0]) / 2.0
            hh = (boxes[:, 3] - boxes[:, 1]) / 2.0
            cx = (boxes[:, 2] + boxes[:, 0]) / 2.0 + tx * hw * 2
            cy = (boxes[:, 3] + boxes[:, 1]) / 2.0 + ty * hh * 2
            boxes = np.stack([cx - hw * sx, cy - hh * sy, cx + hw * sx, cy + hh * sy], axis=1)
    ctp = np.cumsum(tp)
    cfp = np.cumsum(fp)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = ctp / num_faces
        precision = ctp / (cfp + ctp)
    if num_faces == 0 and recall.size:
        ap = math.nan  # recall 0 / 0 everywhere: the toolbox's VOCap returns NaN too
    else:
        ap = voc_ap(recall, precision, summation="pairwise")  # the toolbox's numpy.sum
    return FaceAPResult(
        ap=ap,
        precision=precision,
        recall=recall,
        scores=scores[order],
        num_faces=num_faces,
        calibration=calib,
        boxes=boxes[order],
    )


def read_face_eval_detections(path) -> dict[str, np.ndarray]:
    """Read the ``face-eval`` detection text format: ``name score x0 y0 x1 y1`` per line.

    The name is cut at its first ``.`` (``img.jpg`` becomes ``img``), as the toolbox does.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict of str to ndarray of shape (N, 5), float64
        ``x0 y0 x1 y1 score`` rows per image, in file order.

    Raises
    ------
    ValueError
        If a line does not hold a name and five finite numbers (file and line named).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "dets.txt"
    >>> _ = f.write_text("img1.jpg 0.9 10 10 110 110\\nimg1.jpg 0.3 5 5 40 40\\n")
    >>> read_face_eval_detections(f)["img1"][:, 4].tolist()
    [0.9, 0.3]
    """
    p, lines = read_text_lines(path)
    rows: dict[str, list[list[float]]] = {}
    for lineno, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 6:
            raise fail(p, lineno, f"expected 'name score x0 y0 x1 y1', got {len(tokens)} values")
        score, x0, y0, x1, y1 = parse_floats(p, lineno, tokens[1:], "detection")
        rows.setdefault(tokens[0].split(".")[0], []).append([x0, y0, x1, y1, score])
    return {k: np.asarray(v, dtype=np.float64) for k, v in rows.items()}


def write_face_eval_detections(path, detections: Mapping) -> None:
    """Write detections (``x0 y0 x1 y1 score`` rows per image) in the ``face-eval`` format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "dets.txt"
    >>> write_face_eval_detections(f, {"img1": [[10, 10, 110, 110, 0.9]]})
    >>> f.read_text()
    'img1 0.9 10 10 110 110\\n'
    """
    check_mapping(detections, "detections")
    out = []
    for name, arr in detections.items():
        arr = _check_boxes(arr, "detections", name, (5,))  # what evaluate_face_ap accepts
        for x0, y0, x1, y1, s in detection_rows(name, arr):
            out.append(" ".join([name, *(format_number(v) for v in (s, x0, y0, x1, y1))]) + "\n")
    with open(os.fspath(path), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(out))
