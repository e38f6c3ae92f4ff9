"""Batched anchor matching on tensors: SMS, DMS, NAMS and HAMBox, exactly as
:mod:`hambox_core.matching`.

``matcher(anchors (A, 4), gt_boxes (B, G, 4), gt_valid (B, G) bool, pred_boxes=None) ->
MatchResult`` with every field gaining a leading batch dimension. Padded faces
(``gt_valid`` False) never match, whatever their values (NaN included). Everything stays on the
inputs' device and there is no loop over images or individual faces. Inputs are checked with
the core's rules and messages first (see :mod:`hambox_torch.validation`): float32 tensors of the
documented shapes on one device, valid boxes (finite, ``x1 >= x0``, ``y1 >= y0``) for the
anchors, the real faces, the predicted boxes and the real ignore regions — one read from the
device for all of them. IoUs are computed in float32 in the core's order of
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
(``torch.equal``) — typically two per call.

Which pairs are computed: spatial tiles
---------------------------------------
No (B, A, G) IoU tensor is formed. The boxes (the anchors; for HAMBox's second step each
image's predicted boxes) are sorted by size class (the power of two of their larger side),
then by rows of that size, then by ``x0``, and cut into tiles of 128 (any input order gives
compact tiles). A face is paired with the tiles whose bounding box it overlaps with positive
width and height — every box with a positive intersection lies in one (float32 ``min`` and
``max`` are exact, the subtraction monotone) — and, where a strategy's result cannot depend on
IoUs below a floor (``neg_iou_thr`` for step one, ``min(neg_iou_thr, low_iou_thr)`` for NAMS,
``min(online_iou_thr, high_quality_iou_thr)`` for HAMBox's predicted boxes; 0 for DMS, whose
unmatched faces take their best anchor however low), with the tiles where some box's area is
close enough to the face's to reach the floor (IoU <= smaller area / larger area, checked in
float64 with a margin). IoUs are computed exactly (the core's float32 operations) for the boxes
of the paired tiles only; a pair that is not computed has IoU 0 or below the floor, which the
initial values of the maxima stand for, so every output equals the dense computation's.

Cost: time and memory proportional to the paired tiles' boxes, not to A x G: 5,000 faces on
196,560 anchors (one 1536 x 1536 image) take 2.5 s and 255 MB on one CPU thread for HAMBox,
1.6 s and 207 MB for SMS (the dense form: 127-266 s and 2.1 GB, 54-94 s and 1.5 GB; the core:
a few hundredths of a second; ``bench/torch_matching.py --huge``). Values are computed in chunks of
``2**21`` (pairs x tile length), which bounds every temporary. Host synchronisations: one for
the input checks, one per chunk of faces for the number of pairs (``nonzero``) and, for NAMS
and HAMBox, one per chunk for the candidates and one per selection round.

Ignore regions (``gt_ignore``, padded per image with ``ignore_valid``) follow the core's rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hambox_core.validation import check_fraction, check_iou_thresholds, check_positive_int

from .boxes import box_ioa, box_iou
from .validation import ValueChecks, check_shape, same_device, tensor_arg

__all__ = ["DMSMatcher", "HAMBoxMatcher", "MatchResult", "NAMSMatcher", "SMSMatcher"]

# Values (pairs x tile length) computed per chunk; bounds the memory of every pass.
_CHUNK_ELEMENTS = 2**21
# Boxes per spatial tile.
_TILE = 128
# Relative margin of the IoU bound that prunes tiles (float32 IoUs are within 1e-6 of exact).
_BOUND_MARGIN = 1e-4
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


# --- spatial tiles: which (box, face) pairs can overlap ------------------------------------------


@dataclass
class _Tiles:
    """Boxes sorted into spatially coherent tiles of ``_TILE`` boxes.

    ``index`` (Bt, nT, T) int64 is each slot's original box index (-1 for padding slots),
    ``boxes`` (Bt, nT, T, 4) the sorted boxes (padding slots repeat a real box of the tile),
    ``bounds`` (Bt, nT, 4) each tile's bounding box, ``areas`` (Bt, nT, 2) float64 the least
    and largest box area in the tile. ``Bt`` is 1 for the anchors shared by a batch, ``B``
    for per-image boxes (predicted boxes).
    """

    index: torch.Tensor
    boxes: torch.Tensor
    bounds: torch.Tensor
    areas: torch.Tensor


def _tiles(boxes: torch.Tensor) -> _Tiles:
    """Tiles of ``boxes`` (Bt, A, 4), A > 0: sorted by size class (powers of two of the larger
    side), then by rows of that size, then by x0, so that a tile covers a compact region
    whatever order the boxes came in. The order only affects speed: every overlapping pair is
    found whatever it is, and ties are broken by original indices."""
    num_sets, num_boxes = boxes.shape[:2]
    w = boxes[..., 2] - boxes[..., 0]
    h = boxes[..., 3] - boxes[..., 1]
    side = torch.maximum(w, h).clamp(min=1.0)
    size_class = torch.floor(torch.log2(side))
    row = torch.floor(boxes[..., 1] / torch.exp2(size_class))
    order = torch.argsort(boxes[..., 0], dim=1, stable=True)
    for key in (row, size_class):  # stable sorts: the last key is the major one
        order = order.gather(1, torch.argsort(key.gather(1, order), dim=1, stable=True))
    tail = (-num_boxes) % _TILE
    if tail:  # pad with the last box of the last tile (it cannot widen the tile's bounds)
        order = torch.cat([order, order[:, -1:].expand(num_sets, tail)], dim=1)
    num_tiles = order.shape[1] // _TILE
    index = order.clone()
    if tail:
        index[:, num_boxes:] = -1
    sorted_boxes = boxes.gather(1, order.unsqueeze(-1).expand(-1, -1, 4))
    sorted_boxes = sorted_boxes.view(num_sets, num_tiles, _TILE, 4)
    bounds = torch.cat(
        [sorted_boxes[..., :2].amin(dim=2), sorted_boxes[..., 2:].amax(dim=2)], dim=-1
    )
    area = _area64(sorted_boxes)
    areas = torch.stack([area.amin(dim=2), area.amax(dim=2)], dim=-1)
    return _Tiles(index.view(num_sets, num_tiles, _TILE), sorted_boxes, bounds, areas)


def _area64(boxes: torch.Tensor) -> torch.Tensor:
    b = boxes.double()
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def _overlapping(tiles: _Tiles, faces: torch.Tensor, face_valid: torch.Tensor, floor=0.0):
    """``(image, face, tile)`` index tensors of the real faces (B, G, 4) whose intersection
    with a tile's bounding box has positive width and height: every box with a positive
    intersection with a face lies in such a tile (float32 ``min`` / ``max`` are exact and the
    subtraction is monotone). With ``floor > 0``, also leaves out the tiles where no box can
    reach an IoU of ``floor`` with the face: IoU <= min(area) / max(area), bounded per tile
    from its least and largest area in float64 with a margin far above float32's rounding.
    Reads the pair count from the device (one synchronisation)."""
    num_images, num_gt = face_valid.shape
    num_tiles = tiles.bounds.shape[1]
    bounds = tiles.bounds.unsqueeze(1)  # (Bt, 1, nT, 4)
    lo_area, hi_area = tiles.areas.unsqueeze(1).unbind(-1)  # (Bt, 1, nT) each
    parts = []
    step = max(1, _CHUNK_ELEMENTS // max(1, num_images * num_tiles))
    for lo in range(0, num_gt, step):
        f = faces[:, lo : lo + step].unsqueeze(2)  # (B, C, 1, 4)
        iw = torch.minimum(f[..., 2], bounds[..., 2]) - torch.maximum(f[..., 0], bounds[..., 0])
        ih = torch.minimum(f[..., 3], bounds[..., 3]) - torch.maximum(f[..., 1], bounds[..., 1])
        hit = (iw > 0) & (ih > 0) & face_valid[:, lo : lo + step, None]
        if floor > 0:
            area = _area64(f)  # (B, C, 1)
            ratio = torch.where(
                area < lo_area, area / lo_area, torch.where(area > hi_area, hi_area / area, 1.0)
            )
            hit &= ratio * (1 + _BOUND_MARGIN) >= floor
        b, g, t = torch.nonzero(hit, as_tuple=True)
        parts.append((b, g + lo, t))
    return tuple(torch.cat(p) for p in zip(*parts, strict=True))


def _pair_chunks(tiles: _Tiles, faces: torch.Tensor, pairs, value_fn):
    """Per chunk of overlapping (image, face, tile) pairs: ``(image (C,), face (C,), box index
    (C, T) with -1 for padding, values (C, T))`` with ``value_fn(tile boxes (C, T, 4), faces
    (C, 1, 4)) -> (C, T, 1)``; a chunk holds about ``_CHUNK_ELEMENTS`` values."""
    b, g, t = pairs
    shared = tiles.boxes.shape[0] == 1
    rows = max(1, _CHUNK_ELEMENTS // _TILE)
    for lo in range(0, b.shape[0], rows):
        cb, cg, ct = b[lo : lo + rows], g[lo : lo + rows], t[lo : lo + rows]
        tb = torch.zeros_like(cb) if shared else cb
        values = value_fn(tiles.boxes[tb, ct], faces[cb, cg].unsqueeze(1))[..., 0]
        yield cb, cg, tiles.index[tb, ct], values


def _value_key(values: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """int64 keys ordering by value (non-negative float32) and then by ``code`` (< 2**32)."""
    return (values.contiguous().view(torch.int32).to(torch.int64) << _INDEX_BITS) | code


def _key_value(key: torch.Tensor) -> torch.Tensor:
    return (key >> _INDEX_BITS).to(torch.int32).view(torch.float32)


def _iou(boxes, faces):
    return box_iou(boxes, faces, check=False)


def _ioa(boxes, regions):
    return box_ioa(boxes, regions, check=False)


# --- step one ---------------------------------------------------------------------------------


@dataclass
class _StepOne:
    labels: torch.Tensor  # (B, A) int8
    matched: torch.Tensor  # (B, A) int64
    quality: torch.Tensor  # (B, A) float32, anchor IoU of positives
    num_matched: torch.Tensor  # (B, G) int64
    face_best: torch.Tensor  # (B, G) float32, each face's max anchor IoU (-1 for padding)
    face_arg: torch.Tensor  # (B, G) int64, its first arg-max anchor
    tiles: _Tiles | None  # the anchors' tiles
    pairs: tuple | None  # the (image, face, tile) pairs that can overlap


def _step_one(anchors, gt_boxes, gt_valid, pos32, neg32, floor: float) -> _StepOne:
    """Each anchor's best face (lowest index on ties), each face's best anchor (lowest index on
    ties), from the overlapping pairs only: a pair that does not overlap has IoU 0, which the
    initial keys stand for (an anchor without overlap has IoU 0 with the first real face; a
    face without overlap has its maximum 0 at anchor 0), exactly as the dense maxima.

    With ``floor > 0`` the pairs that cannot reach an IoU of ``floor`` are left out as well:
    ``floor`` is at most ``neg_iou_thr``, so the labels, matched faces and quality stay exact
    (an anchor whose best pair was left out is background either way), but the faces' maxima
    then cover only the pairs kept (DMS, which needs them, uses ``floor = 0``)."""
    num_images, num_gt = gt_valid.shape
    num_anchors = anchors.shape[0]
    device = anchors.device
    gt_index = torch.arange(num_gt, device=device)
    any_valid = gt_valid.any(dim=1, keepdim=True)
    # The first real face (num_gt where none; the padded column keeps amin defined for G = 0).
    first_valid = torch.cat(
        [
            torch.where(gt_valid, gt_index, num_gt),
            gt_valid.new_full((num_images, 1), num_gt, dtype=torch.int64),
        ],
        dim=1,
    ).amin(dim=1, keepdim=True)
    # Per anchor (column num_anchors collects padding slots): key of (IoU, -face).
    anchor_key = torch.where(any_valid, _INDEX_MASK - first_valid, -1).expand(
        num_images, num_anchors + 1
    )
    anchor_key = anchor_key.contiguous()
    # Per face: value 0 at anchor 0 for real faces, -1 for padding.
    face_key = torch.where(gt_valid, _INDEX_MASK, -1).contiguous()
    tiles = pairs = None
    if num_anchors and num_gt:
        tiles = _tiles(anchors.unsqueeze(0))
        pairs = _overlapping(tiles, gt_boxes, gt_valid, floor)
        for b, g, index, iou in _pair_chunks(tiles, gt_boxes, pairs, _iou):
            slot = torch.where(index >= 0, index, num_anchors)
            by_anchor = _value_key(iou, (_INDEX_MASK - g)[:, None].expand_as(slot))
            anchor_key.view(-1).scatter_reduce_(
                0,
                (b[:, None] * (num_anchors + 1) + slot).reshape(-1),
                by_anchor.reshape(-1),
                reduce="amax",
            )
            by_face = torch.where(index >= 0, _value_key(iou, _INDEX_MASK - slot), -1)
            face_key.view(-1).scatter_reduce_(0, b * num_gt + g, by_face.amax(dim=1), reduce="amax")
    anchor_key = anchor_key[:, :num_anchors]
    has = anchor_key >= 0
    best = torch.where(has, _key_value(anchor_key), -1.0)
    best_g = torch.where(has, _INDEX_MASK - (anchor_key & _INDEX_MASK), 0)
    if num_anchors:
        face_best = torch.where(face_key >= 0, _key_value(face_key), -1.0)
        face_arg = torch.where(face_key >= 0, _INDEX_MASK - (face_key & _INDEX_MASK), 0)
    else:
        face_best = torch.full((num_images, num_gt), -1.0, dtype=torch.float32, device=device)
        face_arg = torch.zeros((num_images, num_gt), dtype=torch.int64, device=device)
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
    return _StepOne(labels, matched, quality, counts[:, :num_gt], face_best, face_arg, tiles, pairs)


def _covered(anchors, tiles, regions, region_valid, ioa_thr: float) -> torch.Tensor:
    """(B, A) bool: anchors that some valid region covers for at least ``ioa_thr`` of their
    area (float32 IoA against the float32 threshold, as the core). Only overlapping pairs can
    have IoA > 0; a threshold of 0 covers every anchor of an image with a region."""
    num_images = regions.shape[0]
    num_anchors = anchors.shape[0]
    thr32 = torch.tensor(ioa_thr, dtype=torch.float32, device=anchors.device)
    if tiles is None and num_anchors:
        tiles = _tiles(anchors.unsqueeze(0))
    if ioa_thr <= 0:
        return region_valid.any(dim=1, keepdim=True).expand(num_images, num_anchors)
    covered = torch.zeros(num_images * (num_anchors + 1), dtype=torch.int8, device=anchors.device)
    if num_anchors and regions.shape[1]:
        pairs = _overlapping(tiles, regions, region_valid)
        for b, _, index, ioa in _pair_chunks(tiles, regions, pairs, _ioa):
            slot = torch.where(index >= 0, index, num_anchors)
            hit = (ioa >= thr32).to(torch.int8)
            covered.scatter_reduce_(
                0,
                (b[:, None] * (num_anchors + 1) + slot).reshape(-1),
                hit.reshape(-1),
                reduce="amax",
            )
    return covered.view(num_images, num_anchors + 1)[:, :num_anchors].bool()


# --- the second step of NAMS and HAMBox -------------------------------------------------------


@dataclass
class _Candidates:
    """Every face's candidates, grouped by face and best first: ``segment`` (P,) the face
    (``image * G + face``) in increasing order, ``key`` (P,) the (value, -anchor) key, in
    decreasing order within a face, ``start`` (B * G + 1,) where each face's run begins."""

    segment: torch.Tensor
    key: torch.Tensor
    start: torch.Tensor


def _candidates(chunks, excluded, thr32, num_images, num_gt, num_anchors, on_chunk=None):
    """Candidates (value > ``thr32``, anchor not ``excluded``) from the overlapping pairs'
    ``chunks`` (see :func:`_pair_chunks`); ``on_chunk(image, index, values)`` sees each chunk
    (HAMBox's high-quality rule). Only overlapping pairs can have a value above a threshold
    >= 0."""
    segments, keys = [], []
    for b, g, index, values in chunks:
        if on_chunk is not None:
            on_chunk(b, index, values)
        slot = torch.where(index >= 0, index, 0)
        usable = (index >= 0) & (values > thr32) & ~excluded[b[:, None], slot]
        segments.append((b * num_gt + g)[:, None].expand_as(slot)[usable])
        keys.append(_value_key(values, _INDEX_MASK - slot)[usable])
    device = excluded.device
    segment = torch.cat(segments) if segments else torch.zeros(0, dtype=torch.int64, device=device)
    key = torch.cat(keys) if keys else torch.zeros(0, dtype=torch.int64, device=device)
    order = torch.argsort(key, descending=True, stable=True)
    order = order[torch.argsort(segment[order], stable=True)]
    segment, key = segment[order], key[order]
    counts = torch.bincount(segment, minlength=num_images * num_gt)
    start = torch.zeros(num_images * num_gt + 1, dtype=torch.int64, device=device)
    start[1:] = counts.cumsum(0)
    return _Candidates(segment, key, start)


def _candidate_table(cands: _Candidates, length: int, num_images, num_gt, num_anchors):
    """Each face's best ``length`` candidates: ``(index, value, ok)``, each (B, G, L): anchor
    index (``num_anchors`` where not ``ok``), value, and whether the slot holds one."""
    device = cands.key.device
    keys = torch.full((num_images * num_gt * length,), -1, dtype=torch.int64, device=device)
    rank = torch.arange(cands.key.shape[0], device=device) - cands.start[cands.segment]
    keep = rank < length
    keys[cands.segment[keep] * length + rank[keep]] = cands.key[keep]
    keys = keys.view(num_images, num_gt, length)
    ok = keys >= 0
    index = torch.where(ok, _INDEX_MASK - (keys & _INDEX_MASK), num_anchors)
    return index, torch.where(ok, _key_value(keys), 0.0), ok


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


def _compensate(cands: _Candidates, need, gt_valid, num_anchors):
    """The second step of NAMS and HAMBox: (owner (B, A), value (B, A)) of compensated anchors.

    ``owner`` is the compensating face (``G`` where none), ``value`` its candidate value.
    """
    num_images, num_gt = gt_valid.shape
    length = min(num_anchors, _INITIAL_TABLE_LENGTH)
    while True:
        index, value, ok = _candidate_table(cands, length, num_images, num_gt, num_anchors)
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
        one = _step_one(anchors, gt_boxes, gt_valid, pos32, neg32, self._floor())
        if gt_ignore is not None:
            covered = _covered(anchors, one.tiles, gt_ignore, ignore_valid, self.ignore_ioa_thr)
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

    def _floor(self) -> float:
        """The anchor IoU below which a pair cannot change this strategy's result."""
        return self.neg_iou_thr

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

    def _floor(self) -> float:
        return 0.0  # unmatched faces take their best anchor, however low its IoU

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

    def _floor(self) -> float:
        return min(self.neg_iou_thr, self.low_iou_thr)  # the candidates reuse step one's pairs

    def _second_step(self, result, one, anchors, gt_boxes, gt_valid, pred_boxes) -> MatchResult:
        num_gt = gt_valid.shape[1]
        num_images, num_anchors = result.labels.shape
        need = torch.where(gt_valid, (self.num_per_face - one.num_matched).clamp(min=0), 0)
        low32 = torch.tensor(self.low_iou_thr, dtype=torch.float32, device=anchors.device)
        chunks = _pair_chunks(one.tiles, gt_boxes, one.pairs, _iou)
        cands = _candidates(chunks, result.labels == 1, low32, num_images, num_gt, num_anchors)
        owner, value = _compensate(cands, need, gt_valid, num_anchors)
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
        num_images, num_anchors = positive.shape
        hq32 = torch.tensor(self.high_quality_iou_thr, dtype=torch.float32, device=device)
        online32 = torch.tensor(self.online_iou_thr, dtype=torch.float32, device=device)
        # Predicted boxes reaching hq32 with a real face; only overlapping pairs can when
        # hq32 > 0, every anchor of an image with a face when it is 0.
        high_quality = torch.zeros(num_images * (num_anchors + 1), dtype=torch.int8, device=device)

        def note_high_quality(b, index, values):
            slot = torch.where(index >= 0, index, num_anchors)
            high_quality.scatter_reduce_(
                0,
                (b[:, None] * (num_anchors + 1) + slot).reshape(-1),
                (values >= hq32).to(torch.int8).reshape(-1),
                reduce="amax",
            )

        tiles = _tiles(pred_boxes)
        floor = min(self.online_iou_thr, self.high_quality_iou_thr)
        pairs = _overlapping(tiles, gt_boxes, gt_valid, floor)
        chunks = _pair_chunks(tiles, gt_boxes, pairs, _iou)
        cands = _candidates(
            chunks, positive, online32, num_images, num_gt, num_anchors, note_high_quality
        )
        high_quality = high_quality.view(num_images, num_anchors + 1)[:, :num_anchors].bool()
        if self.high_quality_iou_thr <= 0:
            high_quality = gt_valid.any(dim=1, keepdim=True).expand_as(high_quality)
        need = torch.where(gt_valid, (self.top_k - one.num_matched).clamp(min=0), 0)
        owner, value = _compensate(cands, need, gt_valid, num_anchors)
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
