"""Recognising anchor grids from their values (hambox_core.grids), and the box checks the
matchers rely on. Matching results on every kind of anchors are tested in test_matching.py."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import anchor_arrays, torchvision_grid_anchors

from hambox_core import AnchorGenerator
from hambox_core.grids import CX, CY, DEV, FH, FW, NSHAPE, SHAPE, START, SX, SY, H, W, find_grids
from hambox_core.validation import ALL_ROWS, first_invalid_box


def covered(grids) -> np.ndarray:
    """Indices of the anchors on the recognised grids, in the order of the group table."""
    out = []
    for g in grids.groups:
        start, fh, fw, n, k = (int(v) for v in g[[START, FH, FW, NSHAPE, SHAPE]])
        r, c = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        out.append(start + (r.ravel() * fw + c.ravel()) * n + k)
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def single_location_anchors(gen: AnchorGenerator, hw) -> int:
    """Anchors on levels with one location (no second location to recognise a grid from)."""
    return sum(gen.num_anchors_per_location for fh, fw in gen.feature_shapes(hw) if fh * fw == 1)


@given(anchor_arrays())
def test_groups_and_rest_partition_the_anchors(anchors):
    grids = find_grids(anchors)
    both = np.concatenate([covered(grids), grids.rest])
    np.testing.assert_array_equal(np.sort(both), np.arange(len(anchors)))
    assert np.all(np.diff(grids.rest) > 0)
    assert grids.num_on_grids == len(anchors) - len(grids.rest)


@given(anchor_arrays())
def test_every_grid_anchor_lies_within_dev_of_its_formula(anchors):
    """The bound the matchers widen their windows by holds, in exact arithmetic."""
    a = np.asarray(anchors, np.float32)
    grids = find_grids(a)
    for g in grids.groups:
        start, fh, fw, n, k = (int(v) for v in g[[START, FH, FW, NSHAPE, SHAPE]])
        dev = Fraction(g[DEV])
        x0 = Fraction(g[CX]) - Fraction(g[W]) / 2
        y0 = Fraction(g[CY]) - Fraction(g[H]) / 2
        for r in range(fh):
            for c in range(fw):
                box = a[start + (r * fw + c) * n + k]
                fx0 = x0 + c * Fraction(g[SX])
                fy0 = y0 + r * Fraction(g[SY])
                formula = (fx0, fy0, fx0 + Fraction(g[W]), fy0 + Fraction(g[H]))
                for got, want in zip(box, formula, strict=True):
                    assert abs(Fraction(float(got)) - want) <= dev


@given(
    st.sampled_from(
        [
            AnchorGenerator(),
            AnchorGenerator(strides=(4, 8, 16), base_sizes=(16, 32, 64), ratios=(1.0, 1.5)),
            AnchorGenerator(strides=(8, 16), base_sizes=(20, 44), scale=0.9, ratios=(0.5, 1, 2)),
        ]
    ),
    st.integers(0, 300),
    st.integers(0, 300),
)
def test_hambox_grids_are_recognised_whole(gen, h, w):
    grids = find_grids(gen.grid_anchors((h, w)))
    assert len(grids.rest) == single_location_anchors(gen, (h, w))


def test_paper_anchors_and_their_copies_are_one_group_per_level():
    anchors = AnchorGenerator().grid_anchors((640, 640))
    for variant in (
        anchors,
        anchors.copy(),
        anchors.astype(np.float64),
        np.repeat(anchors, 2, 0)[::2],
    ):
        grids = find_grids(variant)
        assert len(grids.groups) == 6 and len(grids.rest) == 0
        np.testing.assert_array_equal(grids.groups[:, FH], [160, 80, 40, 20, 10, 5])
        np.testing.assert_allclose(grids.groups[:, SX], [4, 8, 16, 32, 64, 128], rtol=1e-6)


def test_torchvision_retinanet_grid_is_recognised_whole():
    sizes = tuple((s, round(s * 2 ** (1 / 3)), round(s * 2 ** (2 / 3))) for s in (32, 64, 128))
    feature_hws = [(80, 80), (40, 40), (20, 20)]
    anchors = torchvision_grid_anchors((640, 640), feature_hws, sizes, ((0.5, 1.0, 2.0),) * 3)
    grids = find_grids(anchors)
    assert len(grids.rest) == 0
    assert len(grids.groups) == 27  # 3 levels x 9 anchors per location
    np.testing.assert_array_equal(grids.groups[:9, NSHAPE], 9)
    assert grids.groups[0, CX] == 0.0  # corner-centred cells


def test_shuffled_and_column_major_levels_are_recognised():
    gen = AnchorGenerator()
    anchors = gen.grid_anchors((320, 256))
    levels = np.split(anchors, np.cumsum(gen.num_anchors_per_level((320, 256)))[:-1])
    shuffled = np.concatenate(levels[::-1])
    assert len(find_grids(shuffled).rest) == 0
    fh, fw = gen.feature_shapes((320, 256))[0]
    column_major = levels[0].reshape(fh, fw, 4).transpose(1, 0, 2).reshape(-1, 4)
    grids = find_grids(column_major)  # each column is a one-column level
    assert len(grids.rest) == 0 and len(grids.groups) == fw


@pytest.mark.parametrize("q", [0, 1, 2, 3])
def test_one_ulp_off_the_grid_is_absorbed(q):
    anchors = AnchorGenerator().grid_anchors((64, 64)).copy()
    before = find_grids(anchors)
    i = 37
    anchors[i, q] = np.nextafter(anchors[i, q], np.float32(np.inf if q >= 2 else -np.inf))
    grids = find_grids(anchors)
    np.testing.assert_array_equal(grids.rest, before.rest)  # P6, P7: one location each
    np.testing.assert_array_equal(grids.groups[:, :DEV], before.groups[:, :DEV])


def test_an_anchor_far_off_its_grid_sends_its_row_to_the_rest():
    gen = AnchorGenerator()
    anchors = gen.grid_anchors((64, 64)).copy()
    anchors[37] += np.float32(3.0)  # P2 is 16 x 16: anchor 37 is in row 2
    grids = find_grids(anchors)
    np.testing.assert_array_equal(grids.rest, [*range(32, 48), 340, 341])


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_anchors_are_never_on_a_grid(value):
    anchors = AnchorGenerator().grid_anchors((64, 64)).copy()
    anchors[37, 1] = value
    grids = find_grids(anchors)
    assert 37 in grids.rest
    assert 37 not in covered(grids)


def test_empty_and_tiny_arrays():
    for n in range(3):
        grids = find_grids(np.zeros((n, 4), np.float32))
        assert len(grids.groups) == 0 and len(grids.rest) == n
    with pytest.raises(ValueError, match="anchors"):
        find_grids(np.zeros((3, 5)))


# --- the box check ------------------------------------------------------------------------------


@st.composite
def boxes_with_defects(draw):
    n = draw(st.integers(0, 3000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    xy = rng.uniform(-100, 100, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0, 50, (n, 2))], 1).astype(np.float32)
    for _ in range(draw(st.integers(0, 3))):
        if n:
            i, q = rng.integers(0, n), rng.integers(0, 4)
            boxes[i, q] = draw(st.sampled_from([np.nan, np.inf, -np.inf, boxes[i, q ^ 2] - 1]))
    return boxes


@given(boxes_with_defects(), st.booleans())
def test_first_invalid_box_matches_numpy(boxes, allow_inverted):
    bad = ~np.isfinite(boxes).all(1)
    if not allow_inverted:
        bad |= (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    want = int(np.argmax(bad)) if bad.any() else -1
    assert first_invalid_box(boxes, ALL_ROWS, False, allow_inverted) == want
    rows = np.arange(len(boxes))[::3]
    sub = bad[rows]
    want_sub = int(rows[np.argmax(sub)]) if sub.any() else -1
    assert first_invalid_box(boxes, rows, True, allow_inverted) == want_sub
