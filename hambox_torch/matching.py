"""Batched anchor matching on tensors: SMS, DMS, NAMS and HAMBox, exactly as
:mod:`hambox_core.matching`.

``matcher(anchors (A, 4), gt_boxes (B, G, 4), gt_valid (B, G) bool, pred_boxes=None) ->
MatchResult`` with every field gaining a leading batch dimension. Padded faces
(``gt_valid`` False) never match. Everything stays on the inputs' device and there is no loop
over images or individual faces. IoUs are computed in float32 in the core's order of
operations, and ties are broken as the core breaks them (lowest face index per anchor, lowest
anchor index per face, a later face wins a contested DMS anchor, an earlier face keeps an anchor
it compensated), so the discrete outputs equal the core's exactly.

How the sequential second step of NAMS and HAMBox stays exact
-------------------------------------------------------------
Algorithm 1 visits faces in index order and gives each under-matched face its best ``K - M``
candidates that no earlier face took. Each face's choice depends on the choices of the faces
before it, so the selection is a fixed point: ``S_g = top(K - M_g, candidates_g minus the union
of S_f for f < g)``. The sequential answer is the *only* fixed point (by induction over ``g``),
and Jacobi rounds — every face recomputes its choice from the previous round's choices of the
faces before it, all faces and images at once — reach it: after round ``r`` the first ``r``
faces are final, and in practice, where only faces whose candidates overlap interact, two rounds
suffice (the second confirms the first). Each face's candidates are kept as a table of its best
``L`` candidates (IoU descending, lower anchor index first, through one int64 sort key per
(anchor, face) pair); if a face runs out of its table while candidates remain beyond it, ``L``
is quadrupled and the step repeated.

The price of exactness: a greedy selection in face order is inherently sequential (no fixed
number of parallel rounds solves every input), so the number of rounds depends on the data.
The NAMS and HAMBox matchers therefore read one boolean per round back from the device
(``torch.equal``) — typically two per call. SMS and DMS never synchronise with the host.

Memory: IoU tensors (B, A, C) are formed in chunks of C faces sized so that one chunk holds
about ``2**26`` elements; the chunk count depends only on the shapes.

Ignore regions (``gt_ignore``, padded per image with ``ignore_valid``) follow the core's rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hambox_core.validation import check_fraction, check_iou_thresholds, check_positive_int

from .boxes import box_ioa, box_iou
from .validation import ValueChecks, check_shape, same_device, tensor_arg

__all__ = ["DMSMatcher", "HAMBoxMatcher", "MatchResult", "NAMSMatcher", "SMSMatcher"]

_CHUNK_ELEMENTS = 2**26
# Anchor indices live in the low 32 bits of a sort key (see _candidate_table).
_INDEX_BITS = 32
_INDEX_MASK = (1 << _INDEX_BITS) - 1
# Candidates kept per face at first (a face needs at most K; the rest absorb anchors taken by
# earlier faces). A longer table is built only when some face exhausts this one.
_INITIAL_TABLE_LENGTH = 16


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Batched matching outcome; the fields of :class:`hambox_core.MatchResult` with a batch dim.

    Attributes
    ----------
    labels : Tensor[B, A] int8
    matched_gt : Tensor[B, A] int64
    compensated : Tensor[B, A] bool
    quality : Tensor[B, A] float32
    num_matched : Tensor[B, G] int64
    """

    labels: torch.Tensor
    matched_gt: torch.Tensor
    compensated: torch.Tensor
    quality: torch.Tensor
    num_matched: torch.Tensor


def _shape(x):
    return tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__


def _check_boxes_arg(t, name: str, want: str, ndim: int) -> None:
    """A float32 tensor of ``ndim`` dimensions, the last of size 4."""
    tensor_arg(t, name)
    check_shape(t, name, want, t.ndim == ndim and t.shape[-1] == 4)
    if t.dtype != torch.float32:
        raise ValueError(f"{name} must be float32, got {t.dtype}")


def _check_mask_arg(t, name: str, shape) -> None:
    tensor_arg(t, name)
    if t.dtype != torch.bool:
        raise ValueError(f"{name} must be a bool Tensor, got {t.dtype}")
    check_shape(t, name, str(tuple(shape)), tuple(t.shape) == tuple(shape))


def _check_inputs(anchors, gt_boxes, gt_valid):
    _check_boxes_arg(anchors, "anchors", "(A, 4)", 2)
    _check_boxes_arg(gt_boxes, "gt_boxes", "(B, G, 4)", 3)
    _check_mask_arg(gt_valid, "gt_valid", gt_boxes.shape[:2])
    same_device(("anchors", anchors), ("gt_boxes", gt_boxes), ("gt_valid", gt_valid))


def _check_pred(pred_boxes, anchors, gt_boxes):
    if pred_boxes is None:
        raise ValueError(
            "HAMBoxMatcher needs pred_boxes, the anchors' decoded predicted boxes (B, A, 4); "
            "it never falls back to SMS"
        )
    want = (gt_boxes.shape[0], anchors.shape[0], 4)
    _check_boxes_arg(pred_boxes, "pred_boxes", str(want), 3)
    check_shape(pred_boxes, "pred_boxes", str(want), tuple(pred_boxes.shape) == want)
    same_device(("anchors", anchors), ("pred_boxes", pred_boxes))


def _check_ignore(gt_ignore, ignore_valid, anchors, gt_boxes):
    """The ignore regions' arguments; returns ``ignore_valid`` (default: all real)."""
    _check_boxes_arg(gt_ignore, "gt_ignore", "(B, R, 4)", 3)
    if gt_ignore.shape[0] != gt_boxes.shape[0]:
        raise ValueError(
            f"gt_ignore must have one row of regions per image ({gt_boxes.shape[0]}), got "
            f"shape {tuple(gt_ignore.shape)}"
        )
    same_device(("anchors", anchors), ("gt_ignore", gt_ignore))
    if ignore_valid is None:
        return torch.ones(gt_ignore.shape[:2], dtype=torch.bool, device=anchors.device)
    _check_mask_arg(ignore_valid, "ignore_valid", gt_ignore.shape[:2])
    same_device(("anchors", anchors), ("ignore_valid", ignore_valid))
    return ignore_valid


def _face_chunks(num_images: int, num_anchors: int, num_gt: int):
    """Slices of faces whose (B, A, C) IoU tensor holds about ``_CHUNK_ELEMENTS`` elements."""
    chunk = max(1, _CHUNK_ELEMENTS // max(1, num_images * num_anchors))
    return [slice(s, min(s + chunk, num_gt)) for s in range(0, num_gt, chunk)]


@dataclass
class _StepOne:
    labels: torch.Tensor  # (B, A) int8
    matched: torch.Tensor  # (B, A) int64
    quality: torch.Tensor  # (B, A) float32, anchor IoU of positives
    num_matched: torch.Tensor  # (B, G) int64
    face_best: torch.Tensor  # (B, G) float32, each face's max anchor IoU (-1 for padding)
    face_arg: torch.Tensor  # (B, G) int64, its first arg-max anchor


def _step_one(anchors, gt_boxes, gt_valid, pos32, neg32) -> _StepOne:
    num_images, num_gt = gt_boxes.shape[:2]
    num_anchors = anchors.shape[0]
    device = anchors.device
    # Running best face per anchor over chunks of faces (strict > keeps the earlier face on
    # ties, and torch.max returns the first maximum inside a chunk).
    best = torch.full((num_images, num_anchors), -1.0, dtype=torch.float32, device=device)
    best_g = torch.zeros((num_images, num_anchors), dtype=torch.int64, device=device)
    face_best = torch.full((num_images, num_gt), -1.0, dtype=torch.float32, device=device)
    face_arg = torch.zeros((num_images, num_gt), dtype=torch.int64, device=device)
    if num_anchors:
        for sl in _face_chunks(num_images, num_anchors, num_gt):
            iou = box_iou(anchors.unsqueeze(0), gt_boxes[:, sl], check=False)  # (B, A, C)
            iou = iou.masked_fill(~gt_valid[:, None, sl], -1.0)
            cmax, carg = iou.max(dim=2)
            better = cmax > best
            best = torch.where(better, cmax, best)
            best_g = torch.where(better, carg + sl.start, best_g)
            face_best[:, sl], face_arg[:, sl] = iou.max(dim=1)
    positive = best >= pos32
    labels = torch.where(
        positive,
        torch.ones_like(best, dtype=torch.int8),
        torch.where(best < neg32, 0, -1).to(torch.int8),
    )
    matched = torch.where(positive, best_g, -1)
    quality = torch.where(positive, best, 0.0)
    slot = torch.where(positive, best_g, num_gt)  # column num_gt collects non-positives
    counts = torch.zeros((num_images, num_gt + 1), dtype=torch.int64, device=device)
    counts.scatter_add_(1, slot, torch.ones_like(slot))
    return _StepOne(labels, matched, quality, counts[:, :num_gt], face_best, face_arg)


def _covered(anchors, regions, region_valid, ioa_thr: float) -> torch.Tensor:
    """(B, A) bool: anchors that some valid region covers for at least ``ioa_thr`` of their
    area (float32 IoA against the float32 threshold, as the core)."""
    num_images, num_regions = regions.shape[:2]
    thr32 = torch.tensor(ioa_thr, dtype=torch.float32, device=anchors.device)
    covered = torch.zeros((num_images, anchors.shape[0]), dtype=torch.bool, device=anchors.device)
    for sl in _face_chunks(num_images, anchors.shape[0], num_regions):
        ioa = box_ioa(anchors.unsqueeze(0), regions[:, sl], check=False)  # (B, A, C)
        covered |= ((ioa >= thr32) & region_valid[:, None, sl]).any(dim=2)
    return covered


def _candidate_table(values_of, excluded, thr32, gt_valid, length, num_anchors, on_chunk=None):
    """Each face's best ``length`` candidates: anchors not ``excluded`` with value > ``thr32``.

    ``values_of(sl)`` gives the (B, A, C) float32 values (IoUs, all >= 0 for valid faces) of the
    faces in slice ``sl``. Candidates are ordered by value descending, then anchor index
    ascending: the key ``(value bits << 32) | (2**32 - 1 - anchor)`` is unique per anchor and,
    as IEEE bits of non-negative floats order like the floats, sorts in exactly that order.

    Returns ``(index, value, ok)``, each (B, G, L): anchor index (``num_anchors`` where not
    ``ok``), value, and whether the slot holds a candidate. ``on_chunk(sl, values)`` sees each
    chunk's values (used by HAMBox for quantities needing every face's values).
    """
    num_images, num_gt = gt_valid.shape
    device = gt_valid.device
    keys = torch.full((num_images, num_gt, length), -1, dtype=torch.int64, device=device)
    anchor_code = _INDEX_MASK - torch.arange(num_anchors, device=device)  # (A,)
    for sl in _face_chunks(num_images, num_anchors, num_gt):
        values = values_of(sl)
        if on_chunk is not None:
            on_chunk(sl, values)
        usable = (values > thr32) & ~excluded[:, :, None] & gt_valid[:, None, sl]
        key = (values.view(torch.int32).to(torch.int64) << _INDEX_BITS) | anchor_code[:, None]
        key = torch.where(usable, key, -1)
        keys[:, sl] = key.topk(length, dim=1).values.transpose(1, 2)
    ok = keys >= 0
    index = torch.where(ok, _INDEX_MASK - (keys & _INDEX_MASK), num_anchors)
    value = (keys >> _INDEX_BITS).to(torch.int32).view(torch.float32)
    return index, torch.where(ok, value, 0.0), ok


def _first_selector(index, selected, num_anchors):
    """Per anchor, the lowest face index selecting it; ``G`` (no face) elsewhere: (B, A + 1)."""
    num_images, num_gt, _ = index.shape
    face = torch.arange(num_gt, device=index.device).view(1, num_gt, 1).expand_as(index)
    owner = torch.full(
        (num_images, num_anchors + 1), num_gt, dtype=torch.int64, device=index.device
    )
    slot = torch.where(selected, index, num_anchors).reshape(num_images, -1)
    owner.scatter_reduce_(1, slot, face.reshape(num_images, -1), reduce="amin")
    return owner


def _select_in_face_order(index, ok, need, num_anchors):
    """Fixed point of "face g takes its first ``need[g]`` candidates no earlier face took".

    Returns ``(selected (B, G, L) bool, exhausted)`` where ``exhausted`` (a 0-d bool tensor)
    says that some face wanted more candidates than its table held while the table was full,
    so the table was too short to decide.
    """
    num_images, num_gt, _ = index.shape
    face = torch.arange(num_gt, device=index.device).view(1, num_gt, 1)
    selected = torch.zeros_like(ok)
    # After round r the first r faces are final, so G + 1 rounds always reach and confirm the
    # fixed point; in practice two do.
    for _ in range(num_gt + 1):
        owner = _first_selector(index, selected, num_anchors)
        taken_before = owner.gather(1, index.reshape(num_images, -1)).view_as(index) < face
        free = ok & ~taken_before
        new = free & (free.cumsum(dim=2) <= need[:, :, None])
        if torch.equal(new, selected):
            break
        selected = new
    short = selected.sum(dim=2) < need
    exhausted = (short & ok[:, :, -1]).any()
    return selected, exhausted


def _compensate(values_of, excluded, thr32, need, gt_valid, num_anchors, on_chunk=None):
    """The second step of NAMS and HAMBox: (owner (B, A), value (B, A)) of compensated anchors.

    ``owner`` is the compensating face (``G`` where none), ``value`` its candidate value.
    """
    num_images = gt_valid.shape[0]
    length = min(num_anchors, _INITIAL_TABLE_LENGTH)
    while True:
        index, value, ok = _candidate_table(
            values_of, excluded, thr32, gt_valid, length, num_anchors, on_chunk
        )
        on_chunk = None  # quantities over all faces are complete after the first pass
        selected, exhausted = _select_in_face_order(index, ok, need, num_anchors)
        if length == num_anchors or not bool(exhausted):
            break
        length = min(num_anchors, 4 * length)
    owner = _first_selector(index, selected, num_anchors)[:, :num_anchors]
    # At the fixed point no two faces select one anchor, so a scatter is unambiguous.
    won_value = torch.zeros((num_images, num_anchors + 1), dtype=torch.float32, device=ok.device)
    slot = torch.where(selected, index, num_anchors).reshape(num_images, -1)
    won_value.scatter_(1, slot, torch.where(selected, value, 0.0).reshape(num_images, -1))
    return owner, won_value[:, :num_anchors]


class _Matcher:
    """Step one and the call protocol shared by the four strategies."""

    def __init__(
        self,
        pos_iou_thr: float = 0.35,
        neg_iou_thr: float | None = None,
        ignore_ioa_thr: float = 0.5,
    ) -> None:
        self.pos_iou_thr, self.neg_iou_thr = check_iou_thresholds(pos_iou_thr, neg_iou_thr)
        self.ignore_ioa_thr = check_fraction(ignore_ioa_thr, "ignore_ioa_thr")

    def _params_repr(self) -> str:
        return (
            f"pos_iou_thr={self.pos_iou_thr}, neg_iou_thr={self.neg_iou_thr}, "
            f"ignore_ioa_thr={self.ignore_ioa_thr}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._params_repr()})"

    def __call__(
        self, anchors, gt_boxes, gt_valid, pred_boxes=None, gt_ignore=None, ignore_valid=None
    ) -> MatchResult:
        """Match a batch.

        Parameters
        ----------
        anchors : Tensor[A, 4]
            xyxy anchors, float32, shared by the batch.
        gt_boxes : Tensor[B, G, 4]
            xyxy faces, float32, padded to a common ``G`` (the padding's values are ignored).
        gt_valid : Tensor[B, G] bool
            Which faces are real.
        pred_boxes : Tensor[B, A, 4], optional
            Each anchor's decoded predicted box, float32, no gradient needed (required by
            :class:`HAMBoxMatcher`, accepted and ignored by the others).
        gt_ignore : Tensor[B, R, 4], optional
            Ignore regions (crowds, invalid faces), float32, padded to a common ``R``: after
            step one, anchors that are not positive and that a region covers for at least
            ``ignore_ioa_thr`` of their area get label -1 (the second step may still take
            them), as in the core.
        ignore_valid : Tensor[B, R] bool, optional
            Which regions are real; default: all of them.

        Returns
        -------
        MatchResult
            Fields (B, A) and ``num_matched`` (B, G) (0 for padded faces).
        """
        _check_inputs(anchors, gt_boxes, gt_valid)
        uses_pred = self._check_pred(pred_boxes, anchors, gt_boxes)
        checks = ValueChecks().boxes(anchors, "anchors").boxes(gt_boxes, "gt_boxes", valid=gt_valid)
        if uses_pred:
            checks.boxes(pred_boxes, "pred_boxes")
        if gt_ignore is not None:
            ignore_valid = _check_ignore(gt_ignore, ignore_valid, anchors, gt_boxes)
            checks.boxes(gt_ignore, "gt_ignore", valid=ignore_valid)
        checks.run()  # one synchronisation for all the value checks
        device = anchors.device
        pos32 = torch.tensor(self.pos_iou_thr, dtype=torch.float32, device=device)
        neg32 = torch.tensor(self.neg_iou_thr, dtype=torch.float32, device=device)
        one = _step_one(anchors, gt_boxes, gt_valid, pos32, neg32)
        if gt_ignore is not None:
            covered = _covered(anchors, gt_ignore, ignore_valid, self.ignore_ioa_thr)
            one.labels = torch.where(covered & (one.labels != 1), -1, one.labels).to(torch.int8)
        result = MatchResult(
            one.labels,
            one.matched,
            torch.zeros_like(one.labels, dtype=torch.bool),
            one.quality,
            one.num_matched,
        )
        if anchors.shape[0] == 0 or gt_boxes.shape[1] == 0:
            return self._no_second_step(result, anchors, gt_boxes, pred_boxes)
        return self._second_step(result, one, anchors, gt_boxes, gt_valid, pred_boxes)

    def _check_pred(self, pred_boxes, anchors, gt_boxes) -> bool:
        """Check ``pred_boxes`` if this strategy uses them; whether it does."""
        return False

    def _no_second_step(self, result, anchors, gt_boxes, pred_boxes) -> MatchResult:
        return result

    def _second_step(self, result, one, anchors, gt_boxes, gt_valid, pred_boxes) -> MatchResult:
        return result


def _with_compensation(result: MatchResult, owner, value, num_gt: int) -> MatchResult:
    """``result`` with the anchors of ``owner < num_gt`` made compensated positives."""
    won = owner < num_gt
    return MatchResult(
        labels=torch.where(won, torch.ones_like(result.labels), result.labels),
        matched_gt=torch.where(won, owner, result.matched_gt),
        compensated=won,
        quality=torch.where(won, value, result.quality),
        num_matched=result.num_matched,
    )


class SMSMatcher(_Matcher):
    """Standard matching, step one only; see :class:`hambox_core.SMSMatcher`.

    Examples
    --------
    >>> import torch
    >>> from hambox_torch.anchors import AnchorGenerator
    >>> from hambox_torch.matching import SMSMatcher
    >>> anchors = AnchorGenerator().grid_anchors((64, 64))
    >>> faces = torch.tensor([[[10.0, 10.0, 21.0, 21.0], [0.0, 0.0, 0.0, 0.0]]])
    >>> out = SMSMatcher()(anchors, faces, torch.tensor([[True, False]]))
    >>> out.labels.shape, out.num_matched.tolist()
    (torch.Size([1, 342]), [[4, 0]])
    """


class DMSMatcher(_Matcher):
    """Dual matching (step one, then unmatched faces take their best anchor, a later face
    winning a contested one); see :class:`hambox_core.DMSMatcher`."""

    def _second_step(self, result, one, anchors, gt_boxes, gt_valid, pred_boxes) -> MatchResult:
        num_images, num_gt = gt_valid.shape
        num_anchors = anchors.shape[0]
        device = anchors.device
        # Faces without step-one anchors claim their best anchor; the highest claiming face
        # index wins an anchor (faces are processed in index order in the core).
        claims = gt_valid & (one.num_matched == 0) & (one.face_best > 0)
        face_idx = torch.arange(num_gt, device=device).expand(num_images, num_gt)
        target = torch.where(claims, one.face_arg, num_anchors)
        winner = torch.full((num_images, num_anchors + 1), -1, dtype=torch.int64, device=device)
        winner.scatter_reduce_(1, target, torch.where(claims, face_idx, -1), reduce="amax")
        winner = winner[:, :num_anchors]
        owner = torch.where(winner >= 0, winner, num_gt)
        value = torch.gather(one.face_best, 1, winner.clamp(min=0))
        return _with_compensation(result, owner, value, num_gt)


class NAMSMatcher(_Matcher):
    """S3FD's scale compensation on tensors; see :class:`hambox_core.NAMSMatcher`.

    Faces with fewer than ``num_per_face`` step-one anchors take, in decreasing anchor IoU,
    anchors with IoU > ``low_iou_thr`` that are not positive yet, an earlier face keeping what
    it took. Reads one boolean per selection round from the device (see the module notes).
    """

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

    def _params_repr(self) -> str:
        return (
            f"num_per_face={self.num_per_face}, low_iou_thr={self.low_iou_thr}, "
            + super()._params_repr()
        )

    def _second_step(self, result, one, anchors, gt_boxes, gt_valid, pred_boxes) -> MatchResult:
        num_gt = gt_valid.shape[1]
        need = torch.where(gt_valid, (self.num_per_face - one.num_matched).clamp(min=0), 0)
        low32 = torch.tensor(self.low_iou_thr, dtype=torch.float32, device=anchors.device)
        owner, value = _compensate(
            lambda sl: box_iou(anchors.unsqueeze(0), gt_boxes[:, sl], check=False),
            result.labels == 1,
            low32,
            need,
            gt_valid,
            anchors.shape[0],
        )
        return _with_compensation(result, owner, value, num_gt)


class HAMBoxMatcher(_Matcher):
    """HAMBox online high-quality anchor mining on tensors; see :class:`hambox_core.HAMBoxMatcher`.

    ``pred_boxes`` (B, A, 4) is required. Step-one positives get the IoU of their predicted box
    with their face as quality; faces with fewer than ``top_k`` step-one anchors take, in
    decreasing predicted-box IoU, anchors whose predicted box has IoU > ``online_iou_thr`` and
    that are not positive yet, an earlier face keeping what it took; then background anchors
    whose predicted box reaches ``high_quality_iou_thr`` with any face are ignored. Reads one
    boolean per selection round from the device (see the module notes).
    """

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

    def _params_repr(self) -> str:
        return (
            f"pos_iou_thr={self.pos_iou_thr}, top_k={self.top_k}, "
            f"online_iou_thr={self.online_iou_thr}, "
            f"high_quality_iou_thr={self.high_quality_iou_thr}, neg_iou_thr={self.neg_iou_thr}, "
            f"ignore_ioa_thr={self.ignore_ioa_thr}"
        )

    def _check_pred(self, pred_boxes, anchors, gt_boxes) -> bool:
        _check_pred(pred_boxes, anchors, gt_boxes)
        return True

    def _second_step(self, result, one, anchors, gt_boxes, gt_valid, pred_boxes) -> MatchResult:
        num_gt = gt_valid.shape[1]
        device = anchors.device
        positive = result.labels == 1
        # Quality of step-one positives: IoU of the predicted box with the matched face.
        matched_box = torch.gather(
            gt_boxes, 1, result.matched_gt.clamp(min=0).unsqueeze(-1).expand(-1, -1, 4)
        )
        own_iou = box_iou(pred_boxes.unsqueeze(-2), matched_box.unsqueeze(-2), check=False)[
            ..., 0, 0
        ]
        result = MatchResult(
            result.labels,
            result.matched_gt,
            result.compensated,
            torch.where(positive, own_iou, 0.0),
            result.num_matched,
        )
        hq32 = torch.tensor(self.high_quality_iou_thr, dtype=torch.float32, device=device)
        online32 = torch.tensor(self.online_iou_thr, dtype=torch.float32, device=device)
        high_quality = torch.zeros_like(positive)

        def note_high_quality(sl, values):
            hit = (values >= hq32) & gt_valid[:, None, sl]
            high_quality.logical_or_(hit.any(dim=2))

        need = torch.where(gt_valid, (self.top_k - one.num_matched).clamp(min=0), 0)
        owner, value = _compensate(
            lambda sl: box_iou(pred_boxes, gt_boxes[:, sl], check=False),
            positive,
            online32,
            need,
            gt_valid,
            anchors.shape[0],
            on_chunk=note_high_quality,
        )
        result = _with_compensation(result, owner, value, num_gt)
        # The regression-aware ignore rule (paper 3.3): background whose predicted box is
        # already good is not pushed towards background.
        ignore = (result.labels == 0) & ~result.compensated & high_quality
        labels = torch.where(ignore, torch.full_like(result.labels, -1), result.labels)
        return MatchResult(
            labels, result.matched_gt, result.compensated, result.quality, result.num_matched
        )

    def _no_second_step(self, result, anchors, gt_boxes, pred_boxes) -> MatchResult:
        return result
