"""Anchor matching: the standard strategies SMS, DMS and NAMS, and HAMBox (paper Algorithm 1).

Every matcher is a callable with its hyper-parameters in ``__init__``; per image::

    result = matcher(anchors, gt_boxes, pred_boxes=None, gt_ignore=None)

**Step one** (shared by all four). Each anchor takes the face with which it has the highest
IoU (the lowest face index on ties). IoU >= ``pos_iou_thr`` makes it positive (label 1);
IoU < ``neg_iou_thr`` background (label 0); in between it is ignored (label -1). By default
``neg_iou_thr = pos_iou_thr``, so there is no ignored band. Anchors whose intersection with
an ignore region covers at least ``ignore_ioa_thr`` (0.5) of their area, and that are not
positive, become -1. ``num_matched[g]`` counts face ``g``'s step-one anchors (M in the paper).

**Second steps.**

* :class:`SMSMatcher` — none.
* :class:`DMSMatcher` — each face with M = 0, in index order, takes its single highest-IoU
  anchor (lowest anchor index on ties) if that IoU is > 0, even from another face; a later
  face therefore wins a contested anchor.
* :class:`NAMSMatcher` — S3FD's scale compensation: each face with M < N, in index order,
  takes anchors with IoU > ``low_iou_thr`` that are not already positive, in decreasing IoU
  (ties: lower anchor index), until it holds N.
* :class:`HAMBoxMatcher` — online high-quality anchor mining with the anchors' *predicted*
  boxes: each face with M < K, in index order, takes anchors whose predicted box has IoU > T
  with it and whose label is not already 1 (anchors compensated for an earlier face included),
  in decreasing IoU (ties: lower anchor index), at most K - M of them. Then the
  regression-aware ignore rule: a background anchor that was not compensated and whose
  predicted box has IoU >= ``high_quality_iou_thr`` with any face becomes -1.

Anchors taken in a second step are positives with ``compensated`` True, and ``matched_gt`` names
the face that took them last. ``quality`` is the IoU between a positive's matched face and
its predicted box (HAMBox) or the anchor itself (other matchers); 0 elsewhere.

All IoUs are computed in float32 exactly as :func:`hambox_core.boxes.box_iou` does; thresholds
are rounded to float32 and compared with them, so ``IoU == threshold`` counts as reaching it.

Speed: the anchors' feature-map grids are recognised from their values on every call
(:func:`hambox_core.grids.find_grids`: one vectorised pass over the array, which also checks
that they are valid boxes), whoever made them (:class:`~hambox_core.AnchorGenerator`,
torchvision, the user's own code, levels in any order); anchors on a grid are then found by
arithmetic, so a face costs only the anchors near it. Anchors on no grid, and the predicted
boxes of HAMBox, go through a spatial index built once per call in O(A). No (A, G) matrix is
formed, and the results are those of the dense computation, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _assign
from .grids import find_grids_kernel
from .validation import (
    as_boxes,
    box_array,
    check_boxes,
    check_fraction,
    check_iou_thresholds,
    check_positive_int,
)

__all__ = [
    "DMSMatcher",
    "HAMBoxMatcher",
    "MatchResult",
    "NAMSMatcher",
    "SMSMatcher",
    "match_images",
]

_NO_BOXES = np.zeros((0, 4), dtype=np.float32)


@dataclass(frozen=True, eq=False)
class MatchResult:
    """The outcome of matching one image's anchors to its faces.

    Attributes
    ----------
    labels : ndarray of shape (A,), int8
        1 positive, 0 background, -1 ignored (no classification loss).
    matched_gt : ndarray of shape (A,), int64
        Index of the face a positive anchor regresses to; -1 for every other anchor.
    compensated : ndarray of shape (A,), bool
        Positives added by the strategy's second step (a subset of ``labels == 1``).
    quality : ndarray of shape (A,), float32
        IoU of a positive's predicted box (HAMBox) or of the anchor itself (other matchers)
        with its matched face; 0 for non-positives.
    num_matched : ndarray of shape (G,), int64
        Anchors matched to each face in step one (M in the paper).
    """

    labels: np.ndarray
    matched_gt: np.ndarray
    compensated: np.ndarray
    quality: np.ndarray
    num_matched: np.ndarray

    @property
    def positive(self) -> np.ndarray:
        """Boolean mask (A,) of positive anchors."""
        return self.labels == 1

    @property
    def num_positive(self) -> int:
        """Number of positive anchors."""
        return int(np.count_nonzero(self.labels == 1))

    def positives_per_face(self) -> np.ndarray:
        """Final number of positive anchors of each face, (G,) int64 (after the second step)."""
        pos = self.matched_gt[self.labels == 1]
        return np.bincount(pos, minlength=self.num_matched.shape[0]).astype(np.int64)


def _prepare_anchors(anchors) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anchors as float32, their grid groups and the rest; raises on an invalid anchor.

    Anchors on a recognised grid were checked by the recogniser; the rest are checked here.
    """
    arr = box_array(anchors, "anchors")
    groups, rest = find_grids_kernel(arr, arr.reshape(-1))
    if rest.shape[0]:
        check_boxes(arr, "anchors", rows=rest, original=anchors)
    return arr, groups, rest


def _prepare_optional(boxes, name: str) -> np.ndarray:
    if boxes is None:
        return _NO_BOXES
    return as_boxes(boxes, name)


class _Matcher:
    """Step one and the call protocol shared by the four strategies."""

    _strategy = _assign.SMS

    def __init__(
        self,
        pos_iou_thr: float = 0.35,
        neg_iou_thr: float | None = None,
        ignore_ioa_thr: float = 0.5,
    ) -> None:
        self.pos_iou_thr, self.neg_iou_thr = check_iou_thresholds(pos_iou_thr, neg_iou_thr)
        self.ignore_ioa_thr = check_fraction(ignore_ioa_thr, "ignore_ioa_thr")

    def _second_step_params(self) -> tuple[int, float, float]:
        return 0, 0.0, 0.0

    def _pred(self, pred_boxes, num_anchors: int) -> np.ndarray:
        return _NO_BOXES

    def __call__(self, anchors, gt_boxes, pred_boxes=None, gt_ignore=None) -> MatchResult:
        """Match one image.

        Parameters
        ----------
        anchors : array_like of shape (A, 4)
            xyxy anchors, float32 (``AnchorGenerator.grid_anchors`` output is fastest).
        gt_boxes : array_like of shape (G, 4)
            xyxy faces; ``G`` may be 0 (every anchor is background).
        pred_boxes : array_like of shape (A, 4), optional
            Each anchor's decoded predicted box (required by :class:`HAMBoxMatcher`, accepted
            and ignored by the others so that training code can call any matcher alike).
        gt_ignore : array_like of shape (R, 4), optional
            Ignore regions (crowds, invalid faces): non-positive anchors covered by one for at
            least ``ignore_ioa_thr`` of their area get label -1.

        Returns
        -------
        MatchResult
        """
        anchors, groups, rest = _prepare_anchors(anchors)
        gt = as_boxes(gt_boxes, "gt_boxes")
        regions = _prepare_optional(gt_ignore, "gt_ignore")
        pred = self._pred(pred_boxes, anchors.shape[0])
        top_k, second_thr, hq_thr = self._second_step_params()
        out = _assign.match_kernel(
            anchors,
            groups,
            rest,
            gt,
            regions,
            pred,
            self._strategy,
            self.pos_iou_thr,
            self.neg_iou_thr,
            self.ignore_ioa_thr,
            top_k,
            second_thr,
            hq_thr,
        )
        return MatchResult(*out)

    def _params_repr(self) -> str:
        return (
            f"pos_iou_thr={self.pos_iou_thr}, neg_iou_thr={self.neg_iou_thr}, "
            f"ignore_ioa_thr={self.ignore_ioa_thr}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._params_repr()})"


class SMSMatcher(_Matcher):
    """Standard matching, step one only (IoU threshold).

    Parameters
    ----------
    pos_iou_thr : float, default 0.35
        IoU at or above which an anchor is positive.
    neg_iou_thr : float, optional
        IoU below which an anchor is background; defaults to ``pos_iou_thr`` (no ignored band).
    ignore_ioa_thr : float, default 0.5
        Fraction of an anchor's area an ignore region must cover to ignore it.

    Examples
    --------
    >>> from hambox_core import AnchorGenerator, SMSMatcher
    >>> anchors = AnchorGenerator().grid_anchors((64, 64))
    >>> result = SMSMatcher()(anchors, [[10, 10, 32, 32]])
    >>> result.num_matched
    array([5])
    """

    _strategy = _assign.SMS


class DMSMatcher(_Matcher):
    """Dual matching: step one, then every unmatched face takes its best anchor.

    Parameters are those of :class:`SMSMatcher`.

    Examples
    --------
    >>> from hambox_core import AnchorGenerator, DMSMatcher
    >>> anchors = AnchorGenerator().grid_anchors((64, 64))
    >>> result = DMSMatcher()(anchors, [[10, 10, 13, 13]])
    >>> int(result.num_matched[0]), result.num_positive, bool(result.compensated.any())
    (0, 1, True)
    """

    _strategy = _assign.DMS


class NAMSMatcher(_Matcher):
    """S3FD's scale-compensation matching: under-matched faces take their next-best anchors.

    Parameters
    ----------
    num_per_face : int, default 3
        N: the number of anchors a face is topped up to (S3FD uses the mean number of step-one
        matches; 3 is that mean for the paper's anchors on WIDER FACE scale faces).
    low_iou_thr : float, default 0.1
        Compensated anchors need IoU strictly above this.
    pos_iou_thr, neg_iou_thr, ignore_ioa_thr
        As in :class:`SMSMatcher`.

    Examples
    --------
    >>> from hambox_core import AnchorGenerator, NAMSMatcher
    >>> anchors = AnchorGenerator().grid_anchors((64, 64))
    >>> result = NAMSMatcher(num_per_face=3)(anchors, [[10, 10, 15, 15]])
    >>> result.positives_per_face()
    array([3])
    """

    _strategy = _assign.NAMS

    def __init__(
        self,
        num_per_face: int = 3,
        low_iou_thr: float = 0.1,
        pos_iou_thr: float = 0.35,
        neg_iou_thr: float | None = None,
        ignore_ioa_thr: float = 0.5,
    ) -> None:
        super().__init__(pos_iou_thr, neg_iou_thr, ignore_ioa_thr)
        self.num_per_face = check_positive_int(num_per_face, "num_per_face")
        self.low_iou_thr = check_fraction(low_iou_thr, "low_iou_thr")

    def _second_step_params(self) -> tuple[int, float, float]:
        return self.num_per_face, self.low_iou_thr, 0.0

    def _params_repr(self) -> str:
        return (
            f"num_per_face={self.num_per_face}, low_iou_thr={self.low_iou_thr}, "
            + super()._params_repr()
        )


class HAMBoxMatcher(_Matcher):
    """HAMBox: online high-quality anchor mining (paper Algorithm 1) and its ignore rule.

    Parameters
    ----------
    pos_iou_thr : float, default 0.35
        Step-one IoU threshold.
    top_k : int, default 3
        K: faces with fewer than K step-one anchors are compensated up to K.
    online_iou_thr : float, default 0.8
        T: a compensated anchor's predicted box must have IoU > T with the face.
    high_quality_iou_thr : float, default 0.5
        Background anchors (not compensated) whose predicted box reaches this IoU with any
        face are ignored (paper Eq. 1: background counts only where F_i < 0.5).
    neg_iou_thr, ignore_ioa_thr
        As in :class:`SMSMatcher`.

    Notes
    -----
    ``pred_boxes`` is required: the anchors' regressed boxes, decoded (for example with
    :func:`hambox_core.boxes.decode`) and detached from any gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from hambox_core import AnchorGenerator, HAMBoxMatcher
    >>> anchors = AnchorGenerator().grid_anchors((64, 64))
    >>> face = np.array([[10, 10, 15, 15]], dtype=np.float32)
    >>> pred = anchors.copy()
    >>> pred[7] = face[0]                     # one anchor already regresses onto the face
    >>> result = HAMBoxMatcher()(anchors, face, pred_boxes=pred)
    >>> int(result.num_matched[0]), bool(result.compensated[7]), float(result.quality[7])
    (0, True, 1.0)
    """

    _strategy = _assign.HAMBOX

    def __init__(
        self,
        pos_iou_thr: float = 0.35,
        top_k: int = 3,
        online_iou_thr: float = 0.8,
        high_quality_iou_thr: float = 0.5,
        neg_iou_thr: float | None = None,
        ignore_ioa_thr: float = 0.5,
    ) -> None:
        super().__init__(pos_iou_thr, neg_iou_thr, ignore_ioa_thr)
        self.top_k = check_positive_int(top_k, "top_k")
        self.online_iou_thr = check_fraction(online_iou_thr, "online_iou_thr")
        self.high_quality_iou_thr = check_fraction(high_quality_iou_thr, "high_quality_iou_thr")

    def _second_step_params(self) -> tuple[int, float, float]:
        return self.top_k, self.online_iou_thr, self.high_quality_iou_thr

    def _pred(self, pred_boxes, num_anchors: int) -> np.ndarray:
        if pred_boxes is None:
            raise ValueError(
                "HAMBoxMatcher needs pred_boxes, the anchors' decoded predicted boxes (A, 4); "
                "it never falls back to SMS"
            )
        pred = as_boxes(pred_boxes, "pred_boxes")
        if pred.shape[0] != num_anchors:
            raise ValueError(
                f"pred_boxes must have one box per anchor: got {pred.shape[0]} boxes for "
                f"{num_anchors} anchors"
            )
        return pred

    def _params_repr(self) -> str:
        return (
            f"pos_iou_thr={self.pos_iou_thr}, top_k={self.top_k}, "
            f"online_iou_thr={self.online_iou_thr}, "
            f"high_quality_iou_thr={self.high_quality_iou_thr}, "
            f"neg_iou_thr={self.neg_iou_thr}, ignore_ioa_thr={self.ignore_ioa_thr}"
        )


def match_images(
    matcher, anchors, gt_boxes_per_image, pred_boxes_per_image=None, gt_ignore_per_image=None
) -> list[MatchResult]:
    """Match every image of a batch with the same anchors.

    Parameters
    ----------
    matcher : callable
        One of the matchers of this module.
    anchors : array_like of shape (A, 4)
        Anchors shared by all images.
    gt_boxes_per_image : sequence of array_like of shape (G_i, 4)
        Faces of each image.
    pred_boxes_per_image : sequence of array_like of shape (A, 4), optional
        Predicted boxes of each image (HAMBox).
    gt_ignore_per_image : sequence of array_like of shape (R_i, 4), optional
        Ignore regions of each image.

    Returns
    -------
    list of MatchResult
        One per image, in order.

    Raises
    ------
    ValueError
        As the matcher does, the message prefixed with ``image k:``; also if the per-image
        sequences differ in length.
    TypeError
        If a per-image argument is not a sequence.
    """
    n = _sequence_length(gt_boxes_per_image, "gt_boxes_per_image")
    for name, seq in (
        ("pred_boxes_per_image", pred_boxes_per_image),
        ("gt_ignore_per_image", gt_ignore_per_image),
    ):
        if seq is not None and _sequence_length(seq, name) != n:
            raise ValueError(f"{name} has {len(seq)} entries for {n} images")
    results = []
    for k in range(n):
        pred = None if pred_boxes_per_image is None else pred_boxes_per_image[k]
        ignore = None if gt_ignore_per_image is None else gt_ignore_per_image[k]
        try:
            results.append(matcher(anchors, gt_boxes_per_image[k], pred, ignore))
        except ValueError as exc:  # say which image; the message names the argument
            raise ValueError(f"image {k}: {exc}") from exc
    return results


def _sequence_length(seq, name: str) -> int:
    """``len(seq)`` of a sequence of per-image arrays, else ``TypeError`` naming it."""
    if isinstance(seq, str) or not hasattr(seq, "__len__") or not hasattr(seq, "__getitem__"):
        raise TypeError(f"{name} must be a sequence with one array per image, got {seq!r:.60}")
    return len(seq)
