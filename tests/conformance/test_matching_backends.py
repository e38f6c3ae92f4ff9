"""Batched torch matchers against the core's per-image matchers.

labels, matched_gt, compensated and num_matched must be equal exactly; quality is the same
float32 IoU and is compared exactly as well. No case is set aside: both backends compute the
identical float32 IoU, so inputs near a threshold fall on the same side in both.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from devices import DEVICES
from hypothesis import given
from hypothesis import strategies as st
from strategies import box_arrays

import hambox_core
import hambox_torch.matching as tm
from hambox_torch.anchors import AnchorGenerator

PAIRS = [(tm.SMSMatcher, hambox_core.SMSMatcher), (tm.DMSMatcher, hambox_core.DMSMatcher)]
FIELDS = ("labels", "matched_gt", "compensated", "quality", "num_matched")


def pad(faces_per_image):
    """(B, G, 4) float32 with garbage in the padding, and the (B, G) validity mask."""
    g = max([len(f) for f in faces_per_image] + [0])
    boxes = np.full((len(faces_per_image), g, 4), 7.0, np.float32)  # padding overlaps anchors
    valid = np.zeros((len(faces_per_image), g), bool)
    for b, f in enumerate(faces_per_image):
        boxes[b, : len(f)] = f
        valid[b, : len(f)] = True
    return torch.from_numpy(boxes), torch.from_numpy(valid)


def check_batch(gen, hw, faces_per_image, pos, neg, device):
    anchors_np = hambox_core.AnchorGenerator(
        gen.strides, gen.base_sizes, gen.scale, gen.ratios
    ).grid_anchors(hw)
    anchors = gen.grid_anchors(hw, device=device)
    gt, valid = pad(faces_per_image)
    for torch_cls, core_cls in PAIRS:
        out = torch_cls(pos, neg)(anchors, gt.to(device), valid.to(device))
        for b, faces in enumerate(faces_per_image):
            want = core_cls(pos, neg)(anchors_np, faces)
            for name in FIELDS:
                got = getattr(out, name)[b].cpu().numpy()
                exp = getattr(want, name)
                if name == "num_matched":
                    got = got[: len(faces)]
                    assert np.all(getattr(out, name)[b, len(faces) :].cpu().numpy() == 0)
                assert got.dtype == exp.dtype, name
                np.testing.assert_array_equal(got, exp, err_msg=f"{torch_cls.__name__}.{name}")


@pytest.mark.parametrize("device", DEVICES)
@given(
    st.lists(box_arrays(max_n=20, lo=-20, hi=150, max_size=120), min_size=1, max_size=4),
    st.integers(16, 160),
    st.integers(16, 160),
    st.sampled_from([(0.35, None), (0.5, 0.3), (0.35, 0.0), (0.0, None), (1.0, None)]),
    st.sampled_from([(1.0,), (1.0, 1.5)]),
)
def test_batched_matchers_equal_core(device, faces, h, w, thresholds, ratios):
    gen = AnchorGenerator(ratios=ratios)
    check_batch(gen, (h, w), faces, thresholds[0], thresholds[1], device)


@pytest.mark.parametrize("device", DEVICES)
@given(st.lists(box_arrays(min_n=2, max_n=12, lo=0, hi=100, max_size=60), min_size=1, max_size=3))
def test_ties_across_face_chunks(device, faces):
    """One face per chunk, duplicated faces: ties must still go to the lower face index."""
    faces = [np.concatenate([f, f[::-1]]) for f in faces]
    original = tm._CHUNK_ELEMENTS
    tm._CHUNK_ELEMENTS = 1
    try:
        check_batch(AnchorGenerator(), (120, 120), faces, 0.35, None, device)
    finally:
        tm._CHUNK_ELEMENTS = original


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_large_batch_equal_core(device):
    """34,125 anchors; a batch of 4 in which one image holds 2,000 faces and another none."""
    rng = np.random.default_rng(0)

    def faces(n):
        s = np.exp(rng.uniform(np.log(4), np.log(400), n))
        x, y = rng.uniform(-20, 640 - s), rng.uniform(-20, 640 - s)
        return np.stack([x, y, x + s, y + s * 1.3], 1).astype(np.float32)

    batch = [faces(2000), np.zeros((0, 4), np.float32), faces(30), faces(300)]
    check_batch(AnchorGenerator(), (640, 640), batch, 0.35, None, device)


@pytest.mark.parametrize("device", DEVICES)
def test_shapes_and_empty_batch(device):
    anchors = AnchorGenerator().grid_anchors((64, 64), device=device)
    out = tm.DMSMatcher()(
        anchors,
        torch.zeros(2, 0, 4, device=device),
        torch.zeros(2, 0, dtype=torch.bool, device=device),
    )
    assert out.labels.shape == (2, len(anchors)) and out.labels.dtype == torch.int8
    assert out.num_matched.shape == (2, 0)
    assert not out.labels.any() and bool((out.matched_gt == -1).all())


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((torch.zeros(5, 3), torch.zeros(1, 1, 4), torch.ones(1, 1, dtype=torch.bool)), "anchors"),
        ((torch.zeros(5, 4), torch.zeros(1, 4), torch.ones(1, 1, dtype=torch.bool)), "gt_boxes"),
        ((torch.zeros(5, 4), torch.zeros(1, 1, 4), torch.ones(1, 2, dtype=torch.bool)), "gt_valid"),
        ((torch.zeros(5, 4), torch.zeros(1, 1, 4), torch.ones(1, 1)), "gt_valid"),
        (
            (
                torch.zeros(5, 4, dtype=torch.float64),
                torch.zeros(1, 1, 4),
                torch.ones(1, 1, dtype=torch.bool),
            ),
            "anchors",
        ),
    ],
)
def test_bad_input_names_the_argument(args, name):
    with pytest.raises(ValueError, match=name):
        tm.SMSMatcher()(*args)
