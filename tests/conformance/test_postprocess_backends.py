"""hambox_torch.postprocess against hambox_core.postprocess."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from devices import DEVICES
from hypothesis import given
from hypothesis import strategies as st
from strategies import box_arrays

import hambox_core.postprocess as core
import hambox_torch.postprocess as tp
from hambox_core import AnchorGenerator


@pytest.mark.parametrize("device", DEVICES)
@given(
    box_arrays(max_n=60, max_size=80),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.0, 0.3, 0.5, 1.0]),
)
def test_nms_equals_core_with_ties(device, boxes, seed, thr):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 5, len(boxes)).astype(np.float32)  # many ties on purpose
    want = core.nms(boxes, scores, thr)
    got = tp.nms(torch.from_numpy(boxes).to(device), torch.from_numpy(scores).to(device), thr)
    np.testing.assert_array_equal(got.cpu().numpy(), want)


@pytest.mark.parametrize("device", DEVICES)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.sampled_from([None, 5, 50]))
def test_postprocess_equals_core(device, seed, batch, top_k):
    rng = np.random.default_rng(seed)
    gen = AnchorGenerator()
    anchors = gen.grid_anchors((96, 128))
    counts = gen.num_anchors_per_level((96, 128))
    logits = rng.normal(-2, 2, (batch, len(anchors))).astype(np.float32)
    deltas = rng.normal(0, 0.5, (batch, len(anchors), 4)).astype(np.float32)
    got = tp.postprocess_detections(
        torch.from_numpy(logits).to(device),
        torch.from_numpy(deltas).to(device),
        torch.from_numpy(anchors.copy()).to(device),
        counts,
        pre_nms_top_k=top_k,
        image_hw=(96, 128),
    )
    for b in range(batch):
        want_boxes, want_scores = core.postprocess_detections(
            logits[b], deltas[b], anchors, counts, pre_nms_top_k=top_k, image_hw=(96, 128)
        )
        boxes, scores = (t.cpu().numpy() for t in got[b])
        np.testing.assert_array_equal(scores, want_scores)
        np.testing.assert_allclose(boxes, want_boxes, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.0, 1.0, 2.5]))
def test_small_and_clipped_boxes_are_dropped_alike(device, seed, min_box_size):
    """Deltas that shrink boxes to slivers, and anchors past the image border that clip to
    nothing: both backends drop the same boxes before NMS. (A decoded width within an ulp of
    ``min_box_size`` could fall on either side; the seeds drawn here never put one there.)"""
    rng = np.random.default_rng(seed)
    gen = AnchorGenerator()
    anchors = gen.grid_anchors((96, 128))
    counts = gen.num_anchors_per_level((96, 128))
    logits = rng.normal(0, 2, (2, len(anchors))).astype(np.float32)
    deltas = rng.normal(0, 0.5, (2, len(anchors), 4)).astype(np.float32)
    deltas[:, ::3, 2:] = -12.0  # exp(-12 * 0.2) of the anchor size: well below a pixel
    hw = [(96, 100), (60, 128)]  # padded batch: the images are smaller than the grid
    got = tp.postprocess_detections(
        torch.from_numpy(logits).to(device),
        torch.from_numpy(deltas).to(device),
        torch.from_numpy(anchors.copy()).to(device),
        counts,
        image_hw=hw,
        min_box_size=min_box_size,
    )
    for b in range(2):
        want_boxes, want_scores = core.postprocess_detections(
            logits[b], deltas[b], anchors, counts, image_hw=hw[b], min_box_size=min_box_size
        )
        boxes, scores = (t.cpu().numpy() for t in got[b])
        np.testing.assert_array_equal(scores, want_scores)
        np.testing.assert_allclose(boxes, want_boxes, rtol=1e-5, atol=1e-4)
        if min_box_size > 0:
            sides = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
            assert (sides >= min_box_size).all()


def test_bad_shapes_name_the_argument():
    with pytest.raises(ValueError, match="box_deltas"):
        tp.postprocess_detections(torch.zeros(1, 5), torch.zeros(1, 4, 4), torch.zeros(5, 4), [5])
    with pytest.raises(ValueError, match="num_anchors_per_level"):
        tp.postprocess_detections(torch.zeros(1, 5), torch.zeros(1, 5, 4), torch.zeros(5, 4), [4])
    with pytest.raises(ValueError, match="iou_thr"):
        tp.nms(torch.zeros(2, 4), torch.zeros(2), 1.5)
