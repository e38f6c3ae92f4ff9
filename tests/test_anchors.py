"""Anchor grids, and the anchor statistics of paper Fig. 1 (``hambox_core.analysis``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import matching as ref
from strategies import box_arrays

from hambox_core import AnchorGenerator, anchor_statistics

WIDER_GT = Path(__file__).resolve().parents[2] / "shared" / "data" / "widerface_val_gt"


def naive_anchors(gen: AnchorGenerator, hw) -> np.ndarray:
    """Anchors by nested loops in the documented order: level, y, x, ratio."""
    rows = []
    for stride, base in zip(gen.strides, gen.base_sizes, strict=True):
        fh, fw = -(-hw[0] // stride), -(-hw[1] // stride)
        for y in range(fh):
            for x in range(fw):
                for r in gen.ratios:
                    side = gen.scale * base
                    w, h = side / np.sqrt(r), side * np.sqrt(r)
                    cx, cy = (x + 0.5) * stride, (y + 0.5) * stride
                    rows.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    return np.asarray(rows, np.float32).reshape(-1, 4)


@given(
    st.integers(0, 140),
    st.integers(0, 140),
    st.sampled_from([(1.0,), (1.0, 1.5), (0.5, 1.0, 2.0)]),
    st.sampled_from([0.68, 1.0, 0.3]),
)
def test_grid_order_and_values(h, w, ratios, scale):
    gen = AnchorGenerator(scale=scale, ratios=ratios)
    anchors = gen.grid_anchors((h, w))
    np.testing.assert_array_equal(anchors, naive_anchors(gen, (h, w)))
    assert sum(gen.num_anchors_per_level((h, w))) == len(anchors)


def test_paper_defaults():
    gen = AnchorGenerator()
    assert gen.num_anchors_per_level((640, 640)) == [25600, 6400, 1600, 400, 100, 25]
    sides = gen.anchor_shapes()[:, 0, 0]
    np.testing.assert_allclose(sides, 0.68 * np.array([16, 32, 64, 128, 256, 512]))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"strides": ()}, "strides"),
        ({"strides": (4, 8), "base_sizes": (16,)}, "base_sizes"),
        ({"strides": (0,), "base_sizes": (16,)}, "strides"),
        ({"strides": (4.5,), "base_sizes": (16,)}, "strides"),
        ({"scale": 0}, "scale"),
        ({"scale": float("nan")}, "scale"),
        ({"ratios": (1.0, -2.0)}, "ratios"),
        ({"base_sizes": (16, 32, 64, 128, 256, float("inf"))}, "base_sizes"),
    ],
)
def test_bad_generator_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AnchorGenerator(**kwargs)


@pytest.mark.parametrize("hw", [(-1, 10), (10,), (10.5, 3), "ab"])
def test_bad_image_size(hw):
    with pytest.raises(ValueError, match="image_hw"):
        AnchorGenerator().grid_anchors(hw)


def reference_statistics(images, scales, hws, thr):
    """Dense step one on each image's grid; counts per face."""
    mean, frac = [], []
    total = sum(len(g) for g in images)
    for scale in scales:
        gen = AnchorGenerator(scale=scale)
        counts = []
        for gt, hw in zip(images, hws, strict=True):
            if len(gt):
                counts.append(ref.step_one(gen.grid_anchors(hw), gt, thr)[3])
        c = np.concatenate(counts) if counts else np.zeros(0)
        mean.append(c.sum() / total if total else 0.0)
        frac.append((c > 0).sum() / total if total else 0.0)
    return np.array(mean), np.array(frac)


@given(st.lists(box_arrays(max_n=12, lo=0, hi=150, max_size=120), max_size=3))
def test_statistics_match_dense_reference(images):
    hws = [(300, 280)] * len(images)
    scales = [0.5, 0.68, 1.0]
    stats = anchor_statistics(images, scales, image_hws=hws, iou_thr=0.35)
    mean, frac = reference_statistics(images, scales, hws, 0.35)
    np.testing.assert_allclose(stats["mean_matched"], mean, rtol=1e-12)
    np.testing.assert_allclose(stats["frac_matched"], frac, rtol=1e-12)
    assert stats["num_faces"] == sum(len(g) for g in images)


def test_statistics_without_image_sizes_see_every_anchor():
    """Unbounded grids: a face far to the right still finds its anchors."""
    faces = np.array([[2000, 1500, 2040, 1540]], np.float32)
    stats = anchor_statistics([faces], [1.0])
    mean, _ = reference_statistics([faces], [1.0], [(1536 + 512, 2048 + 512)], 0.35)
    assert stats["frac_matched"][0] == 1.0
    assert stats["mean_matched"][0] == mean[0]


def test_statistics_bad_input():
    with pytest.raises(ValueError, match="scales"):
        anchor_statistics([], [])
    with pytest.raises(ValueError, match="iou_thr"):
        anchor_statistics([], [1.0], iou_thr=2)
    with pytest.raises(ValueError, match="image_hws"):
        anchor_statistics([np.zeros((0, 4))], [1.0], image_hws=[])
    with pytest.raises(ValueError, match=r"gt_boxes_per_image\[1\]"):
        anchor_statistics([np.zeros((0, 4)), [[0, 0, np.nan, 1]]], [1.0])


@pytest.mark.skipif(
    not (WIDER_GT / "wider_face_val.mat").is_file(),
    reason="official WIDER FACE val ground truth not available",
)
def test_statistics_on_real_wider_face_ground_truth():
    from scipy.io import loadmat

    mat = loadmat(WIDER_GT / "wider_face_val.mat")
    images = []
    for event in mat["face_bbx_list"][:8, 0]:
        for boxes in event[:5, 0]:
            b = boxes.astype(np.float32)
            images.append(np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1))
    stats = anchor_statistics(images, [0.5, 0.68, 1.0])
    assert stats["num_faces"] == sum(len(g) for g in images) > 100
    # Smaller anchors match more of WIDER FACE's many small faces (paper Fig. 1).
    assert stats["frac_matched"][0] > stats["frac_matched"][2]
    hws = [(int(g[:, 3].max()) + 600, int(g[:, 2].max()) + 600) for g in images]
    mean, frac = reference_statistics(images, [0.68], hws, 0.35)
    assert stats["mean_matched"][1] == pytest.approx(mean[0], rel=1e-12)
    assert stats["frac_matched"][1] == pytest.approx(frac[0], rel=1e-12)
