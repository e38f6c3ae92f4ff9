"""Box operations: hand-computed values, round trips and conversions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import box_arrays

from hambox_core.boxes import (
    BBOX_XFORM_CLIP,
    box_area,
    box_ioa,
    box_iou,
    clip_boxes,
    cxcywh_to_xyxy,
    decode,
    encode,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)


def test_iou_and_ioa_by_hand():
    a = [[0, 0, 2, 2]]
    b = [[1, 0, 3, 2], [5, 5, 6, 6], [0, 0, 2, 2], [0, 0, 1, 1]]
    np.testing.assert_array_equal(box_iou(a, b), np.float32([[1 / 3, 0, 1, 1 / 4]]))
    np.testing.assert_array_equal(box_ioa(a, b), np.float32([[1 / 2, 0, 1, 1 / 4]]))
    np.testing.assert_array_equal(box_ioa(b, a)[:, 0], np.float32([1 / 2, 0, 1, 1]))


def test_degenerate_boxes_have_zero_overlap():
    empty = [[1, 1, 1, 1]]
    assert box_iou(empty, empty)[0, 0] == 0
    assert box_ioa(empty, [[0, 0, 5, 5]])[0, 0] == 0
    assert box_iou([[0, 0, 1, 1]], [[1, 0, 2, 1]])[0, 0] == 0  # touching edges


def test_empty_inputs_keep_shapes():
    assert box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
    assert box_ioa([[0, 0, 1, 1]], np.zeros((0, 4))).shape == (1, 0)
    assert box_area([]).shape == (0,)
    assert decode(np.zeros((0, 4)), np.zeros((0, 4))).dtype == np.float32


@given(box_arrays(max_n=20), box_arrays(max_n=20))
def test_iou_is_symmetric_and_bounded(a, b):
    m = box_iou(a, b)
    assert m.dtype == np.float32 and m.shape == (len(a), len(b))
    np.testing.assert_array_equal(m, box_iou(b, a).T)
    assert np.all((m >= 0) & (m <= 1))


@given(box_arrays(max_n=20, min_size=0.5), box_arrays(max_n=20, min_size=0.5))
def test_iou_matches_exact_rational_arithmetic(a, b):
    """float32 IoU within a few ulps of the exact value (coordinates are float32-exact)."""
    m = box_iou(a, b)
    for i in range(len(a)):
        for j in range(len(b)):
            iw = max(0.0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
            ih = max(0.0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
            inter = float(iw) * float(ih)
            area = lambda r: float(r[2] - r[0]) * float(r[3] - r[1])  # noqa: E731
            exact = inter / (area(a[i]) + area(b[j]) - inter)
            assert m[i, j] == pytest.approx(exact, rel=1e-6, abs=1e-7)


@given(
    box_arrays(min_n=1, max_n=30, min_size=1.0),
    st.integers(0, 2**32 - 1),
)
def test_encode_decode_round_trip(anchors, seed):
    rng = np.random.default_rng(seed)
    size = anchors[:, 2:] - anchors[:, :2]
    centre = anchors[:, :2] + size / 2 + rng.normal(0, 1, size.shape) * size
    wh = size * np.exp(rng.uniform(-2, 2, size.shape))
    gt = np.concatenate([centre - wh / 2, centre + wh / 2], 1).astype(np.float32)
    back = decode(anchors, encode(anchors, gt))
    scale = np.abs(gt).max() + 1
    np.testing.assert_allclose(back, gt, rtol=1e-5, atol=1e-5 * scale)


def test_encode_by_hand_and_variances():
    d = encode([[0, 0, 10, 10]], [[1, 0, 11, 20]])
    np.testing.assert_allclose(d, [[1.0, 5.0, 0.0, math.log(2) / 0.2]], rtol=1e-6)
    d1 = encode([[0, 0, 10, 10]], [[1, 0, 11, 20]], variances=(1, 1, 1, 1))
    np.testing.assert_allclose(d1, [[0.1, 0.5, 0.0, math.log(2)]], rtol=1e-6)


def test_decode_clamps_log_scale():
    anchors = [[0, 0, 16, 16]]
    huge = decode(anchors, [[0, 0, 1e6, 1e6]])
    np.testing.assert_allclose(huge[0, 2] - huge[0, 0], 1000.0, rtol=1e-5)
    assert np.isfinite(huge).all()
    assert BBOX_XFORM_CLIP == pytest.approx(math.log(1000 / 16))
    tiny = decode(anchors, [[0, 0, -1e6, -1e6]])
    assert np.all(tiny[:, 2:] >= tiny[:, :2])


@given(box_arrays(max_n=20))
def test_format_conversions_invert(boxes):
    np.testing.assert_allclose(xywh_to_xyxy(xyxy_to_xywh(boxes)), boxes, atol=1e-3)
    np.testing.assert_allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(boxes)), boxes, atol=1e-3)


def test_clip():
    out = clip_boxes([[-5, 2, 30, 40], [50, 50, 60, 60]], (32, 20))
    np.testing.assert_array_equal(out, [[0, 2, 20, 32], [20, 32, 20, 32]])


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: box_iou([[0, 0, 1]], [[0, 0, 1, 1]]), "boxes1"),
        (lambda: box_iou([[0, 0, 1, 1]], [[0, 0, np.nan, 1]]), "boxes2"),
        (lambda: box_area([[2, 0, 1, 1]]), "boxes"),
        (lambda: encode([[0, 0, 0, 1]], [[0, 0, 1, 1]]), "anchors"),
        (lambda: encode([[0, 0, 1, 1]], [[0, 0, 1, 1], [0, 0, 1, 1]]), "gt_boxes"),
        (lambda: decode([[0, 0, 1, 1]], [[0, 0, np.inf, 0]]), "deltas"),
        (lambda: decode([[0, 0, 1, 1]], [[0, 0, 0, 0]], variances=(1, 1, 0, 1)), "variances"),
        (lambda: clip_boxes([[0, 0, 1, 1]], (-1, 5)), "image_hw"),
        (lambda: xywh_to_xyxy([[0, 0, -1, 1]]), "non-negative"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_inputs_are_not_modified():
    a = np.array([[0, 0, 10, 10]], np.float32)
    g = np.array([[1, 1, 5, 9]], np.float32)
    a0, g0 = a.copy(), g.copy()
    decode(a, encode(a, g))
    xyxy_to_xywh(a)
    clip_boxes(g, (4, 4))
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(g, g0)
