"""The official WIDER FACE validation protocol, exactly, and fast.

Source: the MATLAB ``eval_tools`` distributed with WIDER FACE (Yang, Luo, Loy and Tang, "WIDER
FACE: A Face Detection Benchmark", CVPR 2016): ``wider_eval.m``, ``read_pred.m``,
``norm_score.m``, ``evaluation.m`` (with ``image_evaluation``, ``image_pr_info`` and
``dataset_pr_info``), ``boxoverlap.m`` and ``plot/VOCap.m``. This module computes what those
files compute when MATLAB runs them on the official files; every step below is theirs unless
marked *choice*. The results were compared with the tool itself, run under GNU Octave on the
real validation ground truth and on synthetic ground truth (``tests/fixtures/widerface_octave``).

1. **Ground truth** (:func:`~hambox_core.evaluation.widerface_truth.load_ground_truth`):
   ``wider_face_val.mat`` gives the 61 events, the image names and every face box ``x y w h``
   as **int32**; ``wider_{easy,medium,hard}_val.mat`` give, per image, the 1-based indices of
   the faces *kept* in that setting. Faces not kept are *ignored*: a detection matching one is
   neither a true nor a false positive. The loader checks that the four files agree (the MATLAB
   tool silently uses each setting file's own copy) and keeps the degenerate official boxes
   (zero width, one negative width, the ``0 0 0 0`` dummy face of images without faces), as the
   tool does.
2. **Predictions** (:mod:`~hambox_core.evaluation.widerface_predictions`): one file per image;
   each image's detections are sorted by decreasing raw score, ties keeping file order
   (MATLAB's ``sort`` is stable). A missing file means "no detections" (one
   ``MissingPredictionWarning``; MATLAB prints a line per file), and so does a count of 0.
3. **Score normalisation** (``norm_score.m``): one global min-max over *all* detections of all
   images, ``(s - min) / (max - min)``. The running maximum starts at ``realmin('single')`` and
   the minimum at ``realmax('single')``; under MATLAB's mixed-type rules this makes ``max``,
   ``min`` and the normalised scores **single precision** (scores are rounded to float32 before
   the subtraction, which and the division are float32 operations), and the maximum at least
   ``2**-126`` when every score is negative. When every detection has the same score (after
   that rounding) the tool divides 0 by 0: every normalised score is NaN, no detection passes
   any threshold and every AP is 0. We do the same and warn (``EqualScoresWarning``).
   Scores must fit in float32 (``|s| <= 3.4e38``), else :class:`ValueError`.
4. **Matching** (``image_evaluation`` and ``boxoverlap``): in score order, each detection takes
   the face that ``[max_overlap, idx] = max(boxoverlap(gt_bbx, pred))`` picks, with the "+1"
   pixel convention: corners ``x2 = x + w``, intersection ``(min(x2) - max(x1) + 1) * (...)``,
   areas ``(x2 - x1 + 1) * (y2 - y1 + 1)``, overlap 0 when a side of the intersection is
   ``<= 0``. If ``max_overlap >= 0.5``: an ignored face makes the detection "not a proposal";
   a kept face not yet recalled becomes recalled; a kept face already recalled leaves the
   detection a false positive. Images without faces or without detections are skipped
   entirely (their detections are not false positives). The arithmetic is chosen by
   ``semantics``:

   * ``"official"`` (default) — what MATLAB computes on the official files. ``face_bbx_list``
     is int32, and every MATLAB operation that mixes int32 and double returns int32, rounded
     half away from zero and saturated at the int32 range. So the face corners
     ``gt_bbx(:,1) + gt_bbx(:,3)`` are int32; ``max(a(:,1), b(1))`` and ``min`` round the
     detection's corner (the detection's corners ``x + w`` themselves are double); the
     intersection sides ``x2 - x1 + 1``, the intersection and the face area are int32; the
     detection's area is double until ``aarea + barea`` rounds the sum; ``inter ./ (...)``
     divides two int32 values, so the overlap is rounded: 0 or 1 for ordinary boxes
     (``round(0.5) = 1``), and ``max`` then takes the **first** face whose rounded overlap is 1,
     not the best one. Ground-truth boxes must hold int32 values (else :class:`ValueError`:
     round them, or use ``"float"``).
   * ``"float"`` — the same steps in float64, so ``max`` takes the face of highest overlap
     (the first one on ties). This is what the common Python ports compute, and what the
     MATLAB tool computes on ground truth stored as double. It is higher than the official AP
     by some tenths of a point (see the evaluation guide for measured numbers).

5. **PR curve** (``image_pr_info`` / ``dataset_pr_info``): for ``t = 1..1000`` the threshold is
   ``1 - t/1000`` (float64); per image, the detections with normalised score ``>= threshold``
   (a prefix of the sorted list) contribute their number of proposals and of recalled kept
   faces; sums over images give precision ``tp / proposals`` (NaN where there is no proposal,
   as in MATLAB) and recall ``tp / faces``, where ``faces`` counts every kept face of every
   image, detected or not.
6. **AP** (``VOCap.m``): VOC all-point interpolation,
   :func:`hambox_core.evaluation.ap.voc_ap`. A setting without kept faces has NaN recall and
   AP (``0 / 0``), as in MATLAB.

How it is fast: the face each detection matches depends only on the boxes, so it is found once
for the three settings by a numba kernel that also sorts each image
(:func:`~hambox_core.evaluation.widerface_kernels.sort_and_match`); each setting is then one
pass over the detections that drops each detection's counts into the bin of the first
threshold it passes, and the curve is a cumulative sum over the 1000 bins. This gives the same
integers as the official per-threshold loop because each image's passing detections form a
prefix of its sorted list. ``bench/evaluation.py`` measures it against a plain implementation.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..validation import check_choice, check_positive_int, check_threshold
from .ap import voc_ap
from .widerface_kernels import pr_histograms, sort_and_match, threshold_bins
from .widerface_predictions import as_prediction_array, read_predictions
from .widerface_predictions import read_prediction_file as read_prediction_file
from .widerface_predictions import write_predictions as write_predictions
from .widerface_truth import SETTINGS as SETTINGS
from .widerface_truth import WiderGroundTruth, check_int32_boxes, load_ground_truth
from .widerface_truth import write_ground_truth as write_ground_truth

# The re-exported names (SETTINGS, WiderGroundTruth, load_ground_truth, write_ground_truth,
# read_prediction_file, read_predictions, write_predictions) are documented on their own
# modules' pages. MissingPredictionWarning and EqualScoresWarning are public (import them to
# filter the warnings) but stay out of __all__: the API reference's module template renders
# classes, functions and constants only.
__all__ = [
    "AP_SUMMATION",
    "IOU_THRESHOLD",
    "NUM_THRESHOLDS",
    "SEMANTICS",
    "MatchedDetections",
    "PRCurve",
    "WiderAP",
    "check_settings",
    "evaluate",
    "evaluation_metadata",
    "match_detections",
    "pr_curves",
]

#: IoU a detection needs with a face (``>=``) to match it (``IoU_thresh`` in ``evaluation.m``).
IOU_THRESHOLD = 0.5
#: Number of score thresholds ``1 - t / 1000`` (``thresh_num`` in ``evaluation.m``).
NUM_THRESHOLDS = 1000
#: The box arithmetic of the matching step, with a one-line description each (module docs).
SEMANTICS = {
    "official": "the MATLAB eval_tools on the official int32 .mat boxes: int32 arithmetic "
    "rounded half away from zero and saturated, rounded IoU, first face with the largest "
    "rounded IoU",
    "float": "float64 box arithmetic, the face of highest IoU and numpy's pairwise sum of the "
    "AP terms, as the Python ports compute (the MATLAB tool on double boxes sums left to "
    "right: the AP can differ in the last bit)",
}
#: How :func:`~hambox_core.evaluation.ap.voc_ap` adds the AP terms under each semantics: left to
#: right as MATLAB's ``sum`` (the official tool), pairwise as ``numpy.sum`` (the Python ports).
AP_SUMMATION = {"official": "sequential", "float": "pairwise"}

_REALMIN_SINGLE = float(np.finfo(np.float32).tiny)  # realmin('single') = 2**-126
_REALMAX_SINGLE = float(np.finfo(np.float32).max)  # realmax('single')


class MissingPredictionWarning(UserWarning):
    """Some ground-truth images have no prediction (file); they count as "no detections"."""


class EqualScoresWarning(UserWarning):
    """Every detection has the same score: the official normalisation divides 0 by 0."""


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PRCurve:
    """The official PR curve of one setting (``pr_cruve`` of ``evaluation.m``) and its AP.

    Attributes
    ----------
    setting : str
    thresholds : ndarray of shape (T,), float64
        ``1 - t / T`` for ``t = 1..T``, decreasing.
    precision : ndarray of shape (T,), float64
        ``true_positives / proposals``; NaN where there is no proposal yet.
    recall : ndarray of shape (T,), float64
        ``true_positives / num_faces`` (NaN everywhere when ``num_faces`` is 0).
    proposals : ndarray of shape (T,), int64
        Detections at or above the threshold that did not match an ignored face.
    true_positives : ndarray of shape (T,), int64
        Kept faces recalled at or above the threshold.
    num_faces : int
        Kept faces in the setting.
    ap : float
        VOC all-point AP of the curve (``VOCap.m``); NaN when ``num_faces`` is 0.
    semantics : str
        The box arithmetic it was computed with, a key of :data:`SEMANTICS`.
    """

    setting: str
    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    proposals: np.ndarray
    true_positives: np.ndarray
    num_faces: int
    ap: float
    semantics: str

    def to_dict(self) -> dict:
        """The curve as JSON-ready Python objects (NaN written as None)."""

        def floats(a):
            return [None if v != v else v for v in a.tolist()]

        return {
            "setting": self.setting,
            "semantics": self.semantics,
            "ap": None if self.ap != self.ap else self.ap,
            "num_faces": self.num_faces,
            "thresholds": self.thresholds.tolist(),
            "precision": floats(self.precision),
            "recall": floats(self.recall),
            "proposals": self.proposals.tolist(),
            "true_positives": self.true_positives.tolist(),
        }


class WiderAP(dict):
    """AP per setting, ``{"easy": ap, "medium": ap, "hard": ap}``, that says how it was made.

    A plain :class:`dict` (it compares equal to one and serialises as one) with the evaluation
    parameters as attributes.

    Attributes
    ----------
    semantics : str
        A key of :data:`SEMANTICS`.
    iou_threshold : float
    num_thresholds : int
    """

    def __init__(self, aps, *, semantics: str, iou_threshold: float, num_thresholds: int):
        super().__init__(aps)
        self.semantics = semantics
        self.iou_threshold = iou_threshold
        self.num_thresholds = num_thresholds

    def metadata(self) -> dict:
        """:func:`evaluation_metadata` of these parameters, with the APs under ``"ap"``."""
        meta = evaluation_metadata(self.semantics, self.iou_threshold, self.num_thresholds)
        meta["ap"] = {k: (None if v != v else v) for k, v in self.items()}
        return meta

    def __repr__(self) -> str:
        return f"WiderAP({dict.__repr__(self)}, semantics={self.semantics!r})"

    def __reduce__(self):
        params = {
            "semantics": self.semantics,
            "iou_threshold": self.iou_threshold,
            "num_thresholds": self.num_thresholds,
        }
        return (_rebuild_wider_ap, (dict(self), params))


def _rebuild_wider_ap(aps, params):
    return WiderAP(aps, **params)


def evaluation_metadata(
    semantics: str = "official",
    iou_threshold: float = IOU_THRESHOLD,
    num_thresholds: int = NUM_THRESHOLDS,
) -> dict:
    """How a WIDER FACE AP was computed, as a JSON-ready dict (for ``protocol.json`` and CLIs).

    Parameters
    ----------
    semantics : {"official", "float"}, default "official"
    iou_threshold : float, default 0.5
    num_thresholds : int, default 1000

    Returns
    -------
    dict
        ``{"benchmark", "tool", "semantics", "semantics_description", "iou_threshold",
        "num_thresholds"}``.

    Examples
    --------
    >>> m = evaluation_metadata()
    >>> m["benchmark"], m["semantics"], m["iou_threshold"], m["num_thresholds"]
    ('WIDER FACE val', 'official', 0.5, 1000)
    """
    check_choice(semantics, "semantics", tuple(SEMANTICS))
    return {
        "benchmark": "WIDER FACE val",
        "tool": "WIDER FACE eval_tools (MATLAB), as hambox_core.evaluation.widerface computes it",
        "semantics": semantics,
        "semantics_description": SEMANTICS[semantics],
        "iou_threshold": check_threshold(iou_threshold, "iou_threshold"),
        "num_thresholds": check_positive_int(num_thresholds, "num_thresholds"),
    }


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


def _thresholds(num_thresholds: int) -> np.ndarray:
    # 1 - t/thresh_num in float64, the same two roundings as MATLAB
    return 1.0 - np.arange(1, num_thresholds + 1, dtype=np.float64) / float(num_thresholds)


def _normalise(scores: np.ndarray) -> np.ndarray:
    """``norm_score.m`` with MATLAB's single-precision semantics (see the module docstring)."""
    if scores.size == 0:
        return np.zeros(0, np.float64)
    top = np.float32(max(_REALMIN_SINGLE, float(scores.max())))
    bottom = np.float32(min(_REALMAX_SINGLE, float(scores.min())))
    den = top - bottom
    if not den > 0:
        warnings.warn(
            "every detection has the same score (after rounding to float32): the official "
            "score normalisation divides 0 by 0, so no detection passes any threshold and "
            "every AP is 0, as the MATLAB tool computes",
            EqualScoresWarning,
            stacklevel=4,
        )
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return ((scores.astype(np.float32) - bottom) / den).astype(np.float64)


def _gather(preds: Mapping, gt: WiderGroundTruth) -> tuple[np.ndarray, np.ndarray]:
    """Predictions in ground-truth image order: ``(P, 5)`` float64 rows and ``(I + 1,)`` offsets."""
    keys = gt.keys()
    known = set(keys)
    unknown = [k for k in preds if k not in known]
    if unknown:
        warnings.warn(
            f"{len(unknown)} prediction entries have no ground-truth image and are ignored "
            f"(e.g. {unknown[0]!r}); keys are (event, image_stem)",
            UserWarning,
            stacklevel=4,
        )
    arrays = []
    missing = []
    counts = np.zeros(len(keys), np.int64)
    for i, key in enumerate(keys):
        arr = preds.get(key)
        if arr is None:
            missing.append(key)
            continue
        a = as_prediction_array(arr, key)
        counts[i] = a.shape[0]
        if a.shape[0]:
            arrays.append(a)
    if missing:
        warnings.warn(
            f"{len(missing)} of {len(keys)} images have no predictions (e.g. "
            f"{'/'.join(missing[0])}); they count as images without detections",
            MissingPredictionWarning,
            stacklevel=4,
        )
    offsets = np.zeros(len(keys) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    pred = np.concatenate(arrays, axis=0) if arrays else np.zeros((0, 5), np.float64)
    bad = ~np.isfinite(pred).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        i = int(np.searchsorted(offsets, row, side="right") - 1)
        event, stem = keys[i]
        raise ValueError(
            f"predictions of {event}/{stem} hold a non-finite value in row {row - offsets[i]}"
        )
    big = np.abs(pred[:, 4]) > _REALMAX_SINGLE
    if big.any():
        row = int(np.flatnonzero(big)[0])
        i = int(np.searchsorted(offsets, row, side="right") - 1)
        raise ValueError(
            f"predictions of {'/'.join(keys[i])}: score {pred[row, 4]!r} does not fit in single "
            "precision, which the official score normalisation uses"
        )
    return pred, offsets


@dataclass(frozen=True, eq=False)
class MatchedDetections:
    """Predictions sorted, matched and binned once; a PR curve for any keep mask from them.

    Made by :func:`match_detections`. Which face a detection matches does not depend on which
    faces a setting keeps, so one matching serves every setting and every breakdown
    (:mod:`hambox_core.evaluation.widerface_breakdown`).

    Attributes
    ----------
    gt : WiderGroundTruth
    semantics : str
    iou_threshold : float
    thresholds : ndarray of shape (T,), float64
    best : ndarray of shape (P,), int64
        Per detection in sorted order, the matched face (see
        :func:`~hambox_core.evaluation.widerface_kernels.sort_and_match`).
    bins : ndarray of shape (P,), int64
        Per detection, the first threshold its normalised score passes (``T``: none).
    """

    gt: WiderGroundTruth
    semantics: str
    iou_threshold: float
    thresholds: np.ndarray
    best: np.ndarray
    bins: np.ndarray

    def curve(self, keep: np.ndarray, setting: str) -> PRCurve:
        """The PR curve and AP when the faces of ``keep`` count and the others are ignored.

        Parameters
        ----------
        keep : ndarray of shape (F,), bool
            Which faces of ``gt`` count (``gt.keep[setting]`` for an official setting).
        setting : str
            The name the curve carries.
        """
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.gt.boxes.shape[0],):
            raise ValueError(f"keep must have shape ({self.gt.boxes.shape[0]},), got {keep.shape}")
        t = self.thresholds.shape[0]
        props, hits = pr_histograms(self.best, self.bins, keep, t)
        proposals = np.cumsum(props[:t])
        tp = np.cumsum(hits[:t])
        faces = int(np.count_nonzero(keep))
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = tp / proposals.astype(np.float64)
            recall = tp / np.float64(faces)
        return PRCurve(
            setting=setting,
            thresholds=self.thresholds,
            precision=precision,
            recall=recall,
            proposals=proposals,
            true_positives=tp,
            num_faces=faces,
            ap=voc_ap(recall, precision, summation=AP_SUMMATION[self.semantics])
            if faces
            else float("nan"),
            semantics=self.semantics,
        )


def _check_parameters(semantics, iou_threshold, num_thresholds) -> tuple[float, int]:
    check_choice(semantics, "semantics", tuple(SEMANTICS))
    return (
        check_threshold(iou_threshold, "iou_threshold"),
        check_positive_int(num_thresholds, "num_thresholds"),
    )


def check_settings(gt: WiderGroundTruth, settings) -> list[str]:
    """The settings to evaluate: ``settings`` checked against ``gt``, or all of ``gt``'s.

    Parameters
    ----------
    gt : WiderGroundTruth
    settings : sequence of str or None

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If ``settings`` is a string or names a setting ``gt`` has no keep list for.
    """
    if settings is None:
        return list(gt.settings)
    if isinstance(settings, str):
        raise ValueError(f"settings must be a sequence of setting names, got {settings!r}")
    settings = list(settings)
    for s in settings:
        if s not in gt.keep:
            raise ValueError(
                f"settings: the ground truth has no keep list for {s!r} (it has "
                f"{', '.join(gt.settings) or 'none'})"
            )
    return settings


def match_detections(
    preds,
    gt,
    *,
    semantics: str = "official",
    iou_threshold: float = IOU_THRESHOLD,
    num_thresholds: int = NUM_THRESHOLDS,
) -> MatchedDetections:
    """Sort, normalise and match the predictions once (steps 2 to 4 of the module docstring).

    Same arguments as :func:`pr_curves` except ``settings``.

    Returns
    -------
    MatchedDetections
    """
    if not isinstance(gt, WiderGroundTruth):
        gt = load_ground_truth(gt)
    iou_threshold, num_thresholds = _check_parameters(semantics, iou_threshold, num_thresholds)
    if semantics == "official":
        check_int32_boxes(gt, "gt", hint="or evaluate with semantics='float'")
    if isinstance(preds, str | os.PathLike):
        preds = read_predictions(preds, gt)
    elif not isinstance(preds, Mapping):
        raise TypeError(
            f"preds must be a mapping (event, image_stem) -> rows or a folder, got "
            f"{type(preds).__name__}"
        )
    pred, offsets = _gather(preds, gt)
    order, best = sort_and_match(
        pred, offsets, gt.boxes, gt.offsets, iou_threshold, semantics == "official"
    )
    thresholds = _thresholds(num_thresholds)
    bins = threshold_bins(_normalise(pred[order, 4]), thresholds)
    return MatchedDetections(gt, semantics, iou_threshold, thresholds, best, bins)


def pr_curves(
    preds,
    gt,
    *,
    settings: Sequence[str] | None = None,
    semantics: str = "official",
    iou_threshold: float = IOU_THRESHOLD,
    num_thresholds: int = NUM_THRESHOLDS,
) -> dict[str, PRCurve]:
    """The official PR curves and APs, per setting.

    Parameters
    ----------
    preds : mapping or str or os.PathLike
        ``(event, image_stem) -> array_like (N, 5)`` of ``x y w h score`` rows in any order
        (pixels, any score range), or a prediction folder (read with
        :func:`~hambox_core.evaluation.widerface_predictions.read_predictions`). Images
        without an entry count as having no detections (one ``MissingPredictionWarning``);
        entries for unknown images are ignored (warned).
    gt : WiderGroundTruth or str or os.PathLike
        The ground truth, or the folder of the ``.mat`` files.
    settings : sequence of str, optional
        Default: every setting of ``gt``.
    semantics : {"official", "float"}, default "official"
        The box arithmetic of the matching (module docstring, step 4): ``"official"`` is the
        MATLAB tool on the official int32 files, ``"float"`` the float64 arithmetic of the
        Python ports.
    iou_threshold : float, default 0.5
        In (0, 1].
    num_thresholds : int, default 1000

    Returns
    -------
    dict of str to PRCurve
        Each curve carries ``semantics``.

    Raises
    ------
    ValueError
        On a malformed prediction array or file, a non-finite value, a score beyond float32,
        an argument out of range (named), or, with ``semantics="official"``, ground-truth boxes
        that are not int32 values.

    Warns
    -----
    MissingPredictionWarning
        If some images have no predictions.
    EqualScoresWarning
        If every detection has the same score (every AP is then 0, as in the official tool).

    Examples
    --------
    >>> gt = WiderGroundTruth.from_images(
    ...     [("0--Parade", "a")], [[[10, 10, 20, 20], [100, 100, 20, 20]]],
    ...     {"hard": [[True, True]]})
    >>> preds = {("0--Parade", "a"): [[10, 10, 20, 20, 0.9], [300, 300, 5, 5, 0.3]]}
    >>> c = pr_curves(preds, gt)["hard"]
    >>> c.proposals[[0, 599, 999]].tolist(), c.true_positives[[0, 999]].tolist(), c.ap
    ([1, 1, 2], [1, 1], 0.5)
    >>> c.semantics
    'official'
    """
    if not isinstance(gt, WiderGroundTruth):
        gt = load_ground_truth(gt)
    settings = check_settings(gt, settings)
    _check_parameters(semantics, iou_threshold, num_thresholds)
    matched = match_detections(
        preds, gt, semantics=semantics, iou_threshold=iou_threshold, num_thresholds=num_thresholds
    )
    return {s: matched.curve(gt.keep[s], s) for s in settings}


def evaluate(
    preds,
    gt,
    *,
    settings: Sequence[str] | None = None,
    semantics: str = "official",
    iou_threshold: float = IOU_THRESHOLD,
    num_thresholds: int = NUM_THRESHOLDS,
) -> WiderAP:
    """Official WIDER FACE AP per setting: ``{"easy": ap, "medium": ap, "hard": ap}``.

    Same arguments as :func:`pr_curves`, which also returns the curves.

    Returns
    -------
    WiderAP
        A :class:`dict` of setting to AP whose ``semantics`` attribute (and
        :meth:`~WiderAP.metadata`) say how it was computed.

    Examples
    --------
    >>> gt = WiderGroundTruth.from_images(
    ...     [("0--Parade", "a")], [[[10, 10, 20, 20], [100, 100, 20, 20]]],
    ...     {"easy": [[True, False]], "hard": [[True, True]]})
    >>> preds = {("0--Parade", "a"): [[100, 100, 20, 20, 0.2], [11, 10, 20, 20, 0.9]]}
    >>> evaluate(preds, gt)
    WiderAP({'easy': 1.0, 'hard': 1.0}, semantics='official')
    >>> evaluate(preds, gt) == {"easy": 1.0, "hard": 1.0}
    True
    """
    curves = pr_curves(
        preds,
        gt,
        settings=settings,
        semantics=semantics,
        iou_threshold=iou_threshold,
        num_thresholds=num_thresholds,
    )
    return WiderAP(
        {s: c.ap for s, c in curves.items()},
        semantics=semantics,
        iou_threshold=float(iou_threshold),
        num_thresholds=int(num_thresholds),
    )
