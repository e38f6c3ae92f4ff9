"""hambox_torch.boxes against hambox_core.boxes on identical float32 inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from devices import DEVICES, HAS_CUDA
from hypothesis import given
from strategies import box_arrays

import hambox_core.boxes as core
import hambox_torch.boxes as tb
from hambox_torch.anchors import AnchorGenerator

# One tolerance table (float32): exact where the operations are the same IEEE operations,
# rtol/atol of docs/guide/choices.rst where log/exp implementations may differ by an ulp.
RTOL, ATOL = 1e-5, 1e-6


@given(box_arrays(max_n=40), box_arrays(max_n=40))
def test_iou_and_ioa_bit_exact(a, b):
    for dev in ["cpu"] + (["cuda"] if HAS_CUDA else []):
        ta, tb_ = torch.from_numpy(a).to(dev), torch.from_numpy(b).to(dev)
        np.testing.assert_array_equal(tb.box_iou(ta, tb_).cpu().numpy(), core.box_iou(a, b))
        np.testing.assert_array_equal(tb.box_ioa(ta, tb_).cpu().numpy(), core.box_ioa(a, b))


@given(box_arrays(min_n=1, max_n=40, min_size=1.0))
def test_encode_decode_agree(anchors):
    rng = np.random.default_rng(len(anchors))
    deltas = rng.normal(0, 3, anchors.shape).astype(np.float32)
    deltas[:, 2:] = np.clip(deltas[:, 2:], -6, 30)
    boxes = core.decode(anchors, deltas)
    ta, td = torch.from_numpy(anchors), torch.from_numpy(deltas)
    scale = float(np.abs(boxes).max()) + 1.0
    np.testing.assert_allclose(tb.decode(ta, td).numpy(), boxes, rtol=RTOL, atol=ATOL * scale)
    gt = core.decode(anchors, (deltas / 4).astype(np.float32))
    np.testing.assert_allclose(
        tb.encode(ta, torch.from_numpy(gt)).numpy(), core.encode(anchors, gt), rtol=RTOL, atol=1e-4
    )


@pytest.mark.parametrize("device", DEVICES)
def test_anchor_tensors_equal_core(device):
    from hambox_core import AnchorGenerator as CoreGenerator

    t = AnchorGenerator(ratios=(1.0, 1.5)).grid_anchors((100, 130), device=device)
    c = CoreGenerator(ratios=(1.0, 1.5)).grid_anchors((100, 130))
    assert t.device.type == device and t.dtype == torch.float32
    np.testing.assert_array_equal(t.cpu().numpy(), c)


@pytest.mark.parametrize("bad", [torch.zeros(3, 5), torch.zeros(3, 4, dtype=torch.int64), [1, 2]])
def test_bad_boxes_name_the_argument(bad):
    with pytest.raises((ValueError, TypeError), match="boxes1"):
        tb.box_iou(bad, torch.zeros(1, 4))
