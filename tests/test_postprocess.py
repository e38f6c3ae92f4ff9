"""NMS and detection post-processing against the plain references in tests/reference/nms.py,
hand-built threshold cases, and torchvision's ``ops.nms`` when it is installed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference.nms import batched_nms_reference, nms_reference, score_order
from scipy.special import expit
from strategies import box_arrays

from hambox_core.boxes import box_iou, clip_boxes, decode
from hambox_core.postprocess import batched_nms, nms, postprocess_detections

F32 = np.float32

# --- strategies --------------------------------------------------------------------------------

thresholds = st.one_of(
    st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]),
    st.floats(0.0, 1.0, allow_nan=False),
)


@st.composite
def scored_boxes(draw, max_n: int = 40):
    """Crowded boxes (so NMS has work to do) and scores that are often tied."""
    boxes = draw(box_arrays(max_n=max_n, lo=0.0, hi=80.0, max_size=60.0))
    n = boxes.shape[0]
    tied = st.integers(0, 4).map(lambda k: k / 4.0)
    spread = st.floats(-10.0, 10.0, allow_nan=False, width=32)
    scores = draw(st.lists(st.one_of(tied, spread), min_size=n, max_size=n))
    return boxes, np.asarray(scores, dtype=F32)


def boxes_with_distinct_scores(rng, n: int, *, lattice: bool = False):
    """Random crowded boxes; scores a permutation, so that no tie can be broken differently."""
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(0, 80, (n, 2))
    if lattice:
        xy, wh = np.round(xy * 4) / 4, np.round(wh * 4) / 4
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(F32)
    scores = (rng.permutation(n) / n).astype(F32)
    return boxes, scores


# --- nms against the reference ------------------------------------------------------------------


@given(scored_boxes(), thresholds)
def test_nms_matches_reference(data, iou_thr):
    boxes, scores = data
    keep = nms(boxes, scores, iou_thr)
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, nms_reference(boxes, scores, iou_thr))


@given(scored_boxes(), thresholds)
def test_nms_invariants(data, iou_thr):
    """Kept boxes are in score order, unique, and pairwise at most iou_thr apart."""
    boxes, scores = data
    keep = nms(boxes, scores, iou_thr)
    assert len(set(keep.tolist())) == keep.shape[0]
    assert np.all(np.diff(scores[keep].astype(np.float64)) <= 0)
    iou = box_iou(boxes[keep], boxes[keep]).astype(np.float64)
    np.fill_diagonal(iou, 0.0)
    assert np.all(iou <= iou_thr)
    # Every suppressed box overlaps a kept box that ranks above it by more than iou_thr.
    rank = {i: r for r, i in enumerate(score_order(scores))}
    full = box_iou(boxes, boxes).astype(np.float64)
    for j in set(range(boxes.shape[0])) - set(keep.tolist()):
        assert any(rank[i] < rank[j] and full[i, j] > iou_thr for i in keep)


@pytest.mark.parametrize("iou_thr", [0.0, 0.5, 1.0])
def test_nms_empty(iou_thr):
    for boxes, scores in [(np.zeros((0, 4), F32), np.zeros(0, F32)), ([], [])]:
        keep = nms(boxes, scores, iou_thr)
        assert keep.shape == (0,)
        assert keep.dtype == np.int64


def test_nms_accepts_other_dtypes_and_layouts():
    rng = np.random.default_rng(3)
    boxes, scores = boxes_with_distinct_scores(rng, 60, lattice=True)
    want = nms(boxes, scores, 0.4)
    np.testing.assert_array_equal(nms(boxes.astype(np.float64), scores, 0.4), want)
    np.testing.assert_array_equal(nms(np.asfortranarray(boxes), scores.tolist(), 0.4), want)
    np.testing.assert_array_equal(nms(boxes[::-1][::-1], scores.astype(np.float64), 0.4), want)
    # Integer scores rank like floats.
    np.testing.assert_array_equal(nms(boxes, np.argsort(np.argsort(scores)), 0.4), want)


# --- hand-built threshold cases (every coordinate and IoU exact in float32) ---------------------

# IoU([0, 0, 2, 1], [0, 0, 1, 1]) = 1 / 2 exactly; [0, 0, 4, 1] vs [0, 0, 1, 1] is 1 / 4.
HALF = np.array([[0, 0, 2, 1], [0, 0, 1, 1]], dtype=F32)
QUARTER = np.array([[0, 0, 4, 1], [0, 0, 1, 1]], dtype=F32)
TWO = np.array([1.0, 0.5], dtype=F32)


@pytest.mark.parametrize(("boxes", "iou"), [(HALF, 0.5), (QUARTER, 0.25)])
def test_iou_equal_to_threshold_keeps_both(boxes, iou):
    np.testing.assert_array_equal(nms(boxes, TWO, iou), [0, 1])
    np.testing.assert_array_equal(nms(boxes, TWO, np.nextafter(iou, 0.0)), [0])
    np.testing.assert_array_equal(nms(boxes, TWO, np.nextafter(iou, 1.0)), [0, 1])


def test_iou_just_above_threshold_suppresses():
    # inter = 1 + 2**-10, union = 2: IoU = 0.5 + 2**-11, exact in float32.
    boxes = np.array([[0, 0, 2, 1], [0, 0, 1 + 2.0**-10, 1]], dtype=F32)
    np.testing.assert_array_equal(nms(boxes, TWO, 0.5), [0])
    np.testing.assert_array_equal(nms(boxes, TWO, 0.5 + 2.0**-11), [0, 1])


def test_threshold_compared_exactly_against_float32_iou():
    """IoU 1/3 rounds up in float32 to 0.33333334 > 1/3, so it is suppressed at 1/3 (as in
    torchvision, whose kernel compares float against double)."""
    boxes = np.array([[0, 0, 2, 1], [1, 0, 3, 1]], dtype=F32)
    assert float(F32(1) / F32(3)) > 1 / 3
    np.testing.assert_array_equal(nms(boxes, TWO, 1 / 3), [0])
    np.testing.assert_array_equal(nms(boxes, TWO, float(F32(1) / F32(3))), [0, 1])


# Found by search: here ``(area_a + area_b) - inter`` and ``area_a + (area_b - inter)`` round
# differently in float32, and so do the two IoUs (0.43151769 vs 0.43151775).
ORDER_SENSITIVE = np.array([[0, 0, 32.234375, 38.828125], [0, 0, 62.125, 46.6875]], dtype=F32)
ORDER_SENSITIVE_IOU = 0.43151769042015076


def test_iou_uses_the_documented_operation_order():
    a, b = ORDER_SENSITIVE
    area_a, area_b = (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])
    inter = area_a  # box a lies inside box b
    assert float(inter / ((area_a + area_b) - inter)) == ORDER_SENSITIVE_IOU
    assert float(inter / (area_a + (area_b - inter))) > ORDER_SENSITIVE_IOU
    for scores in (TWO, TWO[::-1]):
        kept = np.sort(nms(ORDER_SENSITIVE, scores, ORDER_SENSITIVE_IOU))
        np.testing.assert_array_equal(kept, [0, 1])
        assert nms(ORDER_SENSITIVE, scores, np.nextafter(ORDER_SENSITIVE_IOU, 0.0)).shape == (1,)


def test_threshold_extremes():
    touching = np.array([[0, 0, 1, 1], [1, 0, 2, 1], [0.5, 0, 1.5, 1]], dtype=F32)
    scores = np.array([3, 2, 1], dtype=F32)
    # 0: any positive overlap suppresses, touching (zero intersection) does not.
    np.testing.assert_array_equal(nms(touching, scores, 0.0), [0, 1])
    # 1: nothing is suppressed, not even an exact duplicate (IoU 1 is not > 1).
    dup = np.array([[0, 0, 5, 5], [0, 0, 5, 5]], dtype=F32)
    np.testing.assert_array_equal(nms(dup, TWO, 1.0), [0, 1])
    np.testing.assert_array_equal(nms(dup, TWO, np.nextafter(1.0, 0.0)), [0])


def test_zero_area_boxes_never_suppress_or_get_suppressed():
    boxes = np.array([[2, 2, 2, 2], [2, 2, 2, 2], [0, 0, 4, 4], [1, 1, 1, 3]], dtype=F32)
    scores = np.array([4, 3, 2, 1], dtype=F32)
    np.testing.assert_array_equal(nms(boxes, scores, 0.0), [0, 1, 2, 3])


def test_tied_scores_resolve_to_lower_index():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 6, 6], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=F32)
    scores = np.array([0.5, 0.9, 0.5, 0.5], dtype=F32)
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [1, 0])
    scores = np.array([0.5, 0.9, 0.7, 0.5], dtype=F32)
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [1, 2])
    # Signed zeros are equal scores too.
    np.testing.assert_array_equal(nms(boxes[[0, 2]], np.array([-0.0, 0.0]), 0.5), [0])


# --- torchvision ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("iou_thr", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_equals_torchvision(seed, iou_thr):
    torch = pytest.importorskip("torch")
    tv_ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(seed)
    boxes, scores = boxes_with_distinct_scores(rng, 500)
    want = tv_ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou_thr).numpy()
    np.testing.assert_array_equal(nms(boxes, scores, iou_thr), want)


def test_threshold_cases_equal_torchvision():
    torch = pytest.importorskip("torch")
    tv_ops = pytest.importorskip("torchvision.ops")
    cases = [
        (HALF, 0.5),
        (QUARTER, 0.25),
        (np.array([[0, 0, 2, 1], [1, 0, 3, 1]], dtype=F32), 1 / 3),
        (np.array([[0, 0, 3, 1], [0, 0, 10, 1]], dtype=F32), 0.3),  # IoU 3/10 rounds up
        (ORDER_SENSITIVE, ORDER_SENSITIVE_IOU),
    ]
    for boxes, thr in cases:
        want = tv_ops.nms(torch.from_numpy(boxes), torch.from_numpy(TWO), thr).numpy()
        np.testing.assert_array_equal(nms(boxes, TWO, thr), want)


@pytest.mark.parametrize("seed", range(4))
def test_batched_nms_equals_torchvision(seed):
    """On a 1/4-pixel lattice torchvision's coordinate offsets are exact, so the two agree."""
    torch = pytest.importorskip("torch")
    tv_ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(seed)
    boxes, scores = boxes_with_distinct_scores(rng, 400, lattice=True)
    idxs = rng.integers(0, 5, 400)
    want = tv_ops.batched_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(idxs), 0.5
    ).numpy()
    np.testing.assert_array_equal(batched_nms(boxes, scores, idxs, 0.5), want)


# --- batched_nms ---------------------------------------------------------------------------------


@given(scored_boxes(), thresholds, st.data())
def test_batched_nms_is_nms_per_group(data, iou_thr, draw):
    boxes, scores = data
    n = boxes.shape[0]
    idxs = np.asarray(draw.draw(st.lists(st.integers(-2, 3), min_size=n, max_size=n)), np.int64)
    keep = batched_nms(boxes, scores, idxs, iou_thr)
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, batched_nms_reference(boxes, scores, idxs, iou_thr))
    # The same through the public nms, group by group.
    per_group = set()
    for g in np.unique(idxs):
        members = np.flatnonzero(idxs == g)
        per_group.update(members[nms(boxes[members], scores[members], iou_thr)].tolist())
    assert set(keep.tolist()) == per_group


def test_batched_nms_one_group_is_nms():
    rng = np.random.default_rng(7)
    boxes, scores = boxes_with_distinct_scores(rng, 200)
    np.testing.assert_array_equal(
        batched_nms(boxes, scores, np.full(200, 9), 0.3), nms(boxes, scores, 0.3)
    )


def test_batched_nms_groups_do_not_suppress_each_other():
    boxes = np.array([[0, 0, 10, 10]] * 3, dtype=F32)
    scores = np.array([0.2, 0.9, 0.5], dtype=F32)
    np.testing.assert_array_equal(batched_nms(boxes, scores, [1, 0, 1], 0.5), [1, 2])
    np.testing.assert_array_equal(batched_nms(boxes, scores, [1, 0, 2], 0.5), [1, 2, 0])
    keep = batched_nms(np.zeros((0, 4), F32), np.zeros(0, F32), np.zeros(0, np.int64), 0.5)
    assert keep.shape == (0,) and keep.dtype == np.int64


# --- postprocess_detections ----------------------------------------------------------------------


def postprocess_reference(
    logits,
    deltas,
    anchors,
    counts,
    score_thr,
    top_k,
    iou_thr,
    max_det,
    image_hw,
    variances,
    min_box_size=1.0,
):
    """The documented steps written out plainly."""
    scores = expit(np.asarray(logits, dtype=np.float64)).astype(F32)
    chosen = []
    start = 0
    for c in counts:
        level = [i for i in range(start, start + c) if scores[i] > F32(score_thr)]
        level.sort(key=lambda i: (-float(scores[i]), i))
        if top_k is not None:
            level = level[:top_k]
        chosen.extend(sorted(level))
        start += c
    if not chosen:
        return np.zeros((0, 4), F32), np.zeros(0, F32)
    chosen = np.array(sorted(chosen))
    boxes = decode(np.asarray(anchors)[chosen], np.asarray(deltas)[chosen], variances)
    if image_hw is not None:
        boxes = clip_boxes(boxes, image_hw)
    sizes = [
        (F32(b[2]) - F32(b[0]), F32(b[3]) - F32(b[1])) for b in boxes
    ]  # float32 widths and heights, box by box
    big = [i for i, (w, h) in enumerate(sizes) if w >= F32(min_box_size) and h >= F32(min_box_size)]
    boxes, chosen = boxes[big], chosen[big]
    keep = nms_reference(boxes, scores[chosen], iou_thr)
    if max_det is not None:
        keep = keep[:max_det]
    return boxes[keep], scores[chosen][keep]


@st.composite
def head_outputs(draw):
    anchors = draw(box_arrays(max_n=60, lo=0.0, hi=120.0, min_size=1.0, max_size=60.0))
    a = anchors.shape[0]
    cuts = sorted(draw(st.lists(st.integers(0, a), max_size=4)))
    counts = np.diff([0, *cuts, a]).tolist()
    logit = st.one_of(
        st.sampled_from([-3.0, 0.0, 1.0, 2.0]),  # ties
        st.floats(-6.0, 6.0, allow_nan=False, width=32),
    )
    logits = np.asarray(draw(st.lists(logit, min_size=a, max_size=a)), dtype=F32)
    delta = st.floats(-2.0, 2.0, allow_nan=False, width=32)
    deltas = np.asarray(draw(st.lists(delta, min_size=4 * a, max_size=4 * a)), F32)
    return logits, deltas.reshape(a, 4), anchors, counts


@given(
    head_outputs(),
    st.sampled_from([0.0, 0.05, 0.5, 0.9]),
    st.sampled_from([None, 0, 1, 3, 1000]),
    st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    st.sampled_from([None, 0, 2, 750]),
    st.sampled_from([None, (50, 80), (0, 0)]),
    st.sampled_from([(0.1, 0.1, 0.2, 0.2), (1.0, 1.0, 1.0, 1.0)]),
    st.sampled_from([0.0, 1.0, 3.0]),
)
def test_postprocess_matches_reference(
    head, score_thr, top_k, iou_thr, max_det, image_hw, variances, min_box_size
):
    logits, deltas, anchors, counts = head
    boxes, scores = postprocess_detections(
        logits,
        deltas,
        anchors,
        counts,
        score_thr=score_thr,
        pre_nms_top_k=top_k,
        nms_iou_thr=iou_thr,
        max_detections=max_det,
        image_hw=image_hw,
        variances=variances,
        min_box_size=min_box_size,
    )
    want_boxes, want_scores = postprocess_reference(
        logits,
        deltas,
        anchors,
        counts,
        score_thr,
        top_k,
        iou_thr,
        max_det,
        image_hw,
        variances,
        min_box_size,
    )
    assert boxes.dtype == F32 and scores.dtype == F32
    assert boxes.shape == (scores.shape[0], 4)
    np.testing.assert_array_equal(boxes, want_boxes)
    np.testing.assert_array_equal(scores, want_scores)
    assert np.all(np.diff(scores) <= 0)


def anchors_grid(n: int, step: float = 20.0, size: float = 10.0):
    """``n`` disjoint square anchors in a row."""
    x = np.arange(n, dtype=F32) * F32(step)
    return np.stack([x, np.zeros_like(x), x + F32(size), np.full_like(x, size)], axis=1)


def test_postprocess_empty_inputs():
    for counts in ([], [0, 0]):
        boxes, scores = postprocess_detections(
            np.zeros(0, F32), np.zeros((0, 4), F32), np.zeros((0, 4), F32), counts
        )
        assert boxes.shape == (0, 4) and boxes.dtype == F32
        assert scores.shape == (0,) and scores.dtype == F32


def test_postprocess_all_below_threshold():
    anchors = anchors_grid(5)
    boxes, scores = postprocess_detections(np.full(5, -10.0), np.zeros((5, 4)), anchors, [5])
    assert boxes.shape == (0, 4) and boxes.dtype == F32
    assert scores.shape == (0,) and scores.dtype == F32
    # score == score_thr does not pass: sigmoid(0) = 0.5.
    boxes, scores = postprocess_detections(
        np.zeros(5), np.zeros((5, 4)), anchors, [5], score_thr=0.5
    )
    assert scores.shape == (0,)


def test_postprocess_max_detections_keeps_the_best():
    anchors = anchors_grid(10)
    logits = np.linspace(-2.0, 3.0, 10)[::-1].copy()
    boxes, scores = postprocess_detections(
        logits, np.zeros((10, 4)), anchors, [6, 4], max_detections=3
    )
    np.testing.assert_array_equal(boxes, anchors[:3])
    np.testing.assert_array_equal(scores, expit(logits[:3]).astype(F32))
    boxes, _ = postprocess_detections(logits, np.zeros((10, 4)), anchors, [6, 4])
    assert boxes.shape == (10, 4)


def test_postprocess_top_k_is_per_level():
    anchors = anchors_grid(6)
    logits = np.array([1.0, 3.0, 2.0, 0.5, 0.7, 0.6])
    boxes, _ = postprocess_detections(logits, np.zeros((6, 4)), anchors, [3, 3], pre_nms_top_k=1)
    np.testing.assert_array_equal(boxes, anchors[[1, 4]])
    boxes, _ = postprocess_detections(logits, np.zeros((6, 4)), anchors, [3, 3], pre_nms_top_k=0)
    assert boxes.shape == (0, 4)


def test_postprocess_ties_resolve_to_lower_anchor_index():
    # Overlapping anchors (pairwise IoU > 0.3) that can be told apart.
    anchors = np.array([[0, 0, 10, 10 + k] for k in range(4)], dtype=F32)
    logits = np.array([0.0, 1.0, 1.0, 1.0])
    # Level [2, 3] keeps anchor 2 (its top-1 under a tie); NMS keeps anchor 1 over anchor 2.
    boxes, scores = postprocess_detections(
        logits, np.zeros((4, 4)), anchors, [1, 1, 2], pre_nms_top_k=1
    )
    np.testing.assert_array_equal(boxes, anchors[[1]])
    np.testing.assert_array_equal(scores, expit([1.0]).astype(F32))
    boxes, _ = postprocess_detections(
        logits, np.zeros((4, 4)), anchors, [4], nms_iou_thr=1.0, pre_nms_top_k=2
    )
    np.testing.assert_array_equal(boxes, anchors[[1, 2]])


def test_postprocess_clips_to_image():
    anchors = np.array([[-8, -4, 24, 40], [100, 100, 120, 130]], dtype=F32)
    boxes, _ = postprocess_detections(
        np.array([2.0, 1.0]), np.zeros((2, 4)), anchors, [2], image_hw=(32, 110), min_box_size=0
    )
    np.testing.assert_array_equal(boxes, [[0, 0, 24, 32], [100, 32, 110, 32]])
    # By default the second box, clipped to zero height, is no detection.
    boxes, _ = postprocess_detections(
        np.array([2.0, 1.0]), np.zeros((2, 4)), anchors, [2], image_hw=(32, 110)
    )
    np.testing.assert_array_equal(boxes, [[0, 0, 24, 32]])
    unclipped, _ = postprocess_detections(np.array([2.0, 1.0]), np.zeros((2, 4)), anchors, [2])
    np.testing.assert_array_equal(unclipped, anchors)


def test_postprocess_drops_boxes_below_min_box_size():
    anchors = np.array([[0, 0, 0.5, 10], [0, 0, 10, 0.99], [20, 0, 21, 1], [40, 0, 41, 3]], F32)
    kwargs = {"score_thr": 0.0}
    boxes, _ = postprocess_detections(np.zeros(4), np.zeros((4, 4)), anchors, [4], **kwargs)
    np.testing.assert_array_equal(boxes, anchors[[2, 3]])
    boxes, _ = postprocess_detections(
        np.zeros(4), np.zeros((4, 4)), anchors, [4], min_box_size=2.0, **kwargs
    )
    np.testing.assert_array_equal(boxes, np.zeros((0, 4), F32))
    boxes, _ = postprocess_detections(
        np.zeros(4), np.zeros((4, 4)), anchors, [4], min_box_size=0.0, **kwargs
    )
    assert boxes.shape == (4, 4)
    with pytest.raises(ValueError, match="min_box_size"):
        postprocess_detections(np.zeros(4), np.zeros((4, 4)), anchors, [4], min_box_size=-1)


def test_postprocess_decodes_the_deltas():
    anchors = np.array([[0, 0, 10, 10]], dtype=F32)
    deltas = np.array([[1.0, -1.0, 0.0, np.log(2.0) / 0.2]], dtype=F32)
    boxes, _ = postprocess_detections([5.0], deltas, anchors, [1])
    np.testing.assert_allclose(boxes, [[1, -6, 11, 14]], rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(boxes, decode(anchors, deltas))


def test_postprocess_extreme_logits_are_stable():
    """No overflow warning (warnings are errors here) and sigmoid saturates cleanly."""
    anchors = anchors_grid(3)
    boxes, scores = postprocess_detections(
        np.array([1e4, -1e4, 88.0]), np.zeros((3, 4)), anchors, [3], score_thr=0.0
    )
    np.testing.assert_array_equal(scores, [1.0, 1.0])
    np.testing.assert_array_equal(boxes, anchors[[0, 2]])


# --- argument checking ---------------------------------------------------------------------------

B3 = anchors_grid(3)
S3 = np.array([0.3, 0.2, 0.1], dtype=F32)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"boxes": np.zeros((3, 5), F32)}, "boxes"),
        ({"boxes": np.zeros(3, F32)}, "boxes"),
        ({"boxes": np.array([[0, 0, np.nan, 1]] * 3, F32)}, "boxes"),
        ({"boxes": np.array([[0, 0, np.inf, 1]] * 3, F32)}, "boxes"),
        ({"boxes": np.array([[2, 0, 1, 1]] * 3, F32)}, "boxes"),
        ({"boxes": np.array([["a"] * 4] * 3)}, "boxes"),
        ({"scores": np.array([0.3, np.nan, 0.1])}, "scores"),
        ({"scores": np.array([0.3, np.inf, 0.1])}, "scores"),
        ({"scores": np.zeros(2)}, "scores"),
        ({"scores": np.zeros((3, 1))}, "scores"),
        ({"scores": np.array([True, False, True])}, "scores"),
        ({"scores": np.array(["a", "b", "c"])}, "scores"),
        ({"iou_thr": -0.1}, "iou_thr"),
        ({"iou_thr": 1.5}, "iou_thr"),
        ({"iou_thr": float("nan")}, "iou_thr"),
        ({"iou_thr": "high"}, "iou_thr"),
    ],
)
def test_nms_errors_name_the_argument(kwargs, name):
    args = {"boxes": B3, "scores": S3, "iou_thr": 0.5, **kwargs}
    with pytest.raises(ValueError, match=name):
        nms(**args)
    with pytest.raises(ValueError, match=name):
        batched_nms(idxs=np.zeros(3, np.int64), **args)


@pytest.mark.parametrize(
    "idxs", [np.zeros(2, np.int64), np.zeros(3, F32), np.zeros((3, 1), np.int64), [True] * 3]
)
def test_batched_nms_bad_idxs(idxs):
    with pytest.raises(ValueError, match="idxs"):
        batched_nms(B3, S3, idxs, 0.5)


GOOD = {
    "cls_logits": np.array([1.0, 2.0, 3.0]),
    "box_deltas": np.zeros((3, 4)),
    "anchors": B3,
    "num_anchors_per_level": [2, 1],
}


POSTPROCESS_BAD = [
    ({"cls_logits": np.zeros((3, 1))}, "cls_logits"),
    ({"cls_logits": np.array([1.0, np.nan, 0.0])}, "cls_logits"),
    ({"cls_logits": np.array([1.0, np.inf, 0.0])}, "cls_logits"),
    ({"cls_logits": np.array(["a", "b", "c"])}, "cls_logits"),
    ({"box_deltas": np.zeros((2, 4))}, "box_deltas"),
    ({"box_deltas": np.zeros((3, 3))}, "box_deltas"),
    ({"box_deltas": np.full((3, 4), np.nan)}, "box_deltas"),
    ({"anchors": B3[:2]}, "anchors"),
    ({"anchors": B3[:, ::-1]}, "anchors"),
    ({"num_anchors_per_level": [2, 2]}, "num_anchors_per_level"),
    ({"num_anchors_per_level": [4, -1]}, "num_anchors_per_level"),
    ({"num_anchors_per_level": [1.5, 1.5]}, "num_anchors_per_level"),
    ({"num_anchors_per_level": 3}, "num_anchors_per_level"),
    ({"num_anchors_per_level": ["2", "1"]}, "num_anchors_per_level"),
    ({"score_thr": 1.5}, "score_thr"),
    ({"score_thr": -0.01}, "score_thr"),
    ({"pre_nms_top_k": -1}, "pre_nms_top_k"),
    ({"pre_nms_top_k": 2.5}, "pre_nms_top_k"),
    ({"pre_nms_top_k": True}, "pre_nms_top_k"),
    ({"nms_iou_thr": 2.0}, "nms_iou_thr"),
    ({"max_detections": -3}, "max_detections"),
    ({"max_detections": "all"}, "max_detections"),
    ({"image_hw": (10,)}, "image_hw"),
    ({"image_hw": (-1, 10)}, "image_hw"),
    ({"variances": (0.1, 0.1, 0.2)}, "variances"),
    ({"variances": (0.1, 0.1, 0.2, -0.2)}, "variances"),
]


@pytest.mark.parametrize(("kwargs", "name"), POSTPROCESS_BAD)
def test_postprocess_errors_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        postprocess_detections(**{**GOOD, **kwargs})
    if name != "score_thr":
        # Checked up front, even when no anchor passes the score threshold.
        with pytest.raises(ValueError, match=name):
            postprocess_detections(**{**GOOD, "score_thr": 1.0, **kwargs})


def test_postprocess_deltas_that_decode_to_infinity():
    deltas = np.array([[3e38, 0, 0, 0]] * 3)
    anchors = np.array([[0, 0, 1000, 1000]] * 3)
    with pytest.raises(ValueError, match="box_deltas"):
        postprocess_detections(**{**GOOD, "box_deltas": deltas, "anchors": anchors})


def test_inputs_are_not_modified():
    rng = np.random.default_rng(11)
    boxes, scores = boxes_with_distinct_scores(rng, 100)
    idxs = rng.integers(0, 3, 100)
    logits = rng.normal(size=100).astype(F32)
    deltas = rng.normal(size=(100, 4)).astype(F32)
    arrays = [boxes, scores, idxs, logits, deltas]
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.setflags(write=False)  # any in-place write would raise
    nms(boxes, scores, 0.5)
    batched_nms(boxes, scores, idxs, 0.5)
    postprocess_detections(logits, deltas, boxes, [60, 40], image_hw=(100, 100))
    for a, c in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_import_does_not_pull_in_torch():
    code = (
        "import sys, hambox_core.postprocess as p; "
        "p.nms([[0, 0, 1, 1]], [1.0], 0.5); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
