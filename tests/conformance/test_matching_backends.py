"""Batched torch matchers against the core's per-image matchers.

labels, matched_gt, compensated and num_matched must be equal exactly; quality is the same
float32 IoU and is compared exactly as well. No case is set aside: both backends compute the
identical float32 IoU (same operations in the same order), so inputs near a threshold fall on
the same side in both.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from devices import DEVICES
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import box_arrays, predictions_for

import hambox_core
import hambox_torch.matching as tm
from hambox_torch.anchors import AnchorGenerator

FIELDS = ("labels", "matched_gt", "compensated", "quality", "num_matched")


def matcher_pairs(pos, neg, k=3, second=None, hq=0.5):
    """(torch matcher, core matcher) of every strategy with the same hyper-parameters."""
    nams_thr = 0.1 if second is None else second
    online = 0.8 if second is None else second
    return [
        (tm.SMSMatcher(pos, neg), hambox_core.SMSMatcher(pos, neg)),
        (tm.DMSMatcher(pos, neg), hambox_core.DMSMatcher(pos, neg)),
        (
            tm.NAMSMatcher(k, nams_thr, pos, neg),
            hambox_core.NAMSMatcher(k, nams_thr, pos, neg),
        ),
        (
            tm.HAMBoxMatcher(pos, k, online, hq, neg),
            hambox_core.HAMBoxMatcher(pos, k, online, hq, neg),
        ),
    ]


def pad(boxes_per_image, fill=7.0):
    """(B, G, 4) float32 with garbage in the padding, and the (B, G) validity mask."""
    g = max([len(f) for f in boxes_per_image] + [0])
    boxes = np.full((len(boxes_per_image), g, 4), fill, np.float32)  # padding overlaps anchors
    valid = np.zeros((len(boxes_per_image), g), bool)
    for b, f in enumerate(boxes_per_image):
        boxes[b, : len(f)] = f
        valid[b, : len(f)] = True
    return torch.from_numpy(boxes), torch.from_numpy(valid)


def check_batch(gen, hw, faces_per_image, pred_per_image, pairs, device):
    anchors_np = hambox_core.AnchorGenerator(
        gen.strides, gen.base_sizes, gen.scale, gen.ratios
    ).grid_anchors(hw)
    anchors = gen.grid_anchors(hw, device=device)
    gt, valid = pad(faces_per_image)
    pred = torch.from_numpy(np.stack(pred_per_image)).to(device)
    for torch_matcher, core_matcher in pairs:
        out = torch_matcher(anchors, gt.to(device), valid.to(device), pred)
        for b, faces in enumerate(faces_per_image):
            want = core_matcher(anchors_np, faces, pred_boxes=pred_per_image[b])
            for name in FIELDS:
                got = getattr(out, name)[b].cpu().numpy()
                exp = getattr(want, name)
                if name == "num_matched":
                    got = got[: len(faces)]
                    assert np.all(getattr(out, name)[b, len(faces) :].cpu().numpy() == 0)
                assert got.dtype == exp.dtype, name
                np.testing.assert_array_equal(got, exp, err_msg=f"{torch_matcher!r}.{name}")


def grid_anchors_np(gen, hw):
    return hambox_core.AnchorGenerator(
        gen.strides, gen.base_sizes, gen.scale, gen.ratios
    ).grid_anchors(hw)


@st.composite
def batches(draw, max_faces=20, hw_range=(16, 160)):
    """A generator, an image size, faces per image and predicted boxes per image."""
    gen = AnchorGenerator(ratios=draw(st.sampled_from([(1.0,), (1.0, 1.5)])))
    hw = (draw(st.integers(*hw_range)), draw(st.integers(*hw_range)))
    anchors = grid_anchors_np(gen, hw)
    faces = draw(
        st.lists(box_arrays(max_n=max_faces, lo=-20, hi=150, max_size=120), min_size=1, max_size=4)
    )
    pred = [draw(predictions_for(anchors, f)) for f in faces]
    return gen, hw, faces, pred


@pytest.mark.parametrize("device", DEVICES)
@given(
    batches(),
    st.sampled_from([(0.35, None), (0.5, 0.3), (0.35, 0.0), (0.0, None), (1.0, None)]),
    st.integers(1, 5),
    st.sampled_from([None, 0.0, 0.3, 0.6, 1.0]),
    st.sampled_from([0.5, 0.3, 0.9]),
)
def test_batched_matchers_equal_core(device, batch, thresholds, k, second, hq):
    gen, hw, faces, pred = batch
    pairs = matcher_pairs(*thresholds, k=k, second=second, hq=hq)
    check_batch(gen, hw, faces, pred, pairs, device)


@pytest.mark.parametrize("device", DEVICES)
@given(batches(max_faces=12, hw_range=(40, 120)), st.integers(1, 6))
def test_ties_across_face_chunks_and_short_tables(device, batch, k):
    """Every face repeated (reversed) and one face per chunk: ties must still go to the lower
    face index, and an earlier face keeps what it compensated. The candidate tables start at
    one entry, so the table-growing path runs too."""
    gen, hw, faces, pred = batch
    faces = [np.concatenate([f, f[::-1]]) for f in faces]
    saved = tm._CHUNK_ELEMENTS, tm._INITIAL_TABLE_LENGTH
    tm._CHUNK_ELEMENTS, tm._INITIAL_TABLE_LENGTH = 1, 1
    try:
        check_batch(gen, hw, faces, pred, matcher_pairs(0.35, None, k=k, second=0.0), device)
    finally:
        tm._CHUNK_ELEMENTS, tm._INITIAL_TABLE_LENGTH = saved


@pytest.mark.parametrize("device", DEVICES)
def test_long_chain_of_identical_faces(device):
    """40 copies of one face, each wanting 5 anchors from one shared candidate list: face g can
    only decide after faces 0..g-1, so the selection needs its full number of rounds."""
    gen = AnchorGenerator()
    hw = (128, 128)
    anchors = grid_anchors_np(gen, hw)
    face = np.array([[40.0, 40.0, 72.0, 76.0]], np.float32)
    faces = [np.repeat(face, 40, axis=0), face]
    # Every anchor predicts a box close to the face, so all anchors are candidates of all copies.
    rng = np.random.default_rng(1)
    pred = [
        (face + rng.uniform(-3, 3, (len(anchors), 4))).astype(np.float32),
        (face + rng.uniform(-3, 3, (len(anchors), 4))).astype(np.float32),
    ]
    for p in pred:
        p[:, 2:] = np.maximum(p[:, 2:], p[:, :2])
    check_batch(gen, hw, faces, pred, matcher_pairs(0.35, None, k=5, second=0.0), device)
    out = tm.HAMBoxMatcher(top_k=5, online_iou_thr=0.0)(
        gen.grid_anchors(hw, device=device),
        *[t.to(device) for t in pad(faces)],
        torch.from_numpy(np.stack(pred)).to(device),
    )
    comp_faces = out.matched_gt[0][out.compensated[0]]
    per_face = torch.bincount(comp_faces, minlength=40).cpu()
    need = (5 - out.num_matched[0].cpu()).clamp(min=0)
    assert torch.equal(per_face, need)  # every copy was topped up to 5, none beyond
    assert int((need > 0).sum()) >= 30  # ... and most copies took part in the chain


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_large_batch_equal_core(device):
    """34,125 anchors; a batch of 4 in which one image holds 2,000 faces and another none."""
    rng = np.random.default_rng(0)
    gen = AnchorGenerator()
    hw = (640, 640)
    anchors = grid_anchors_np(gen, hw)

    def faces(n):
        s = np.exp(rng.uniform(np.log(4), np.log(400), n))
        x, y = rng.uniform(-20, 640 - s), rng.uniform(-20, 640 - s)
        return np.stack([x, y, x + s, y + s * 1.3], 1).astype(np.float32)

    def predictions(f):
        # Jittered anchors, 5 % of them snapped close to a face (as a trained head would).
        size = anchors[:, 2:] - anchors[:, :2]
        pred = anchors + rng.normal(0, 0.1, anchors.shape) * np.tile(size, 2)
        if len(f):
            snap = rng.random(len(anchors)) < 0.05
            target = f[rng.integers(0, len(f), snap.sum())]
            pred[snap] = target + rng.normal(0, 0.03, target.shape) * np.tile(
                target[:, 2:] - target[:, :2], 2
            )
        pred[:, 2:] = np.maximum(pred[:, 2:], pred[:, :2])
        return pred.astype(np.float32)

    batch = [faces(2000), np.zeros((0, 4), np.float32), faces(30), faces(300)]
    pred = [predictions(f) for f in batch]
    check_batch(gen, hw, batch, pred, matcher_pairs(0.35, None), device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cls", [tm.SMSMatcher, tm.DMSMatcher, tm.NAMSMatcher, tm.HAMBoxMatcher])
def test_shapes_and_empty_batch(device, cls):
    anchors = AnchorGenerator().grid_anchors((64, 64), device=device)
    pred = anchors.expand(2, -1, -1).contiguous()
    out = cls()(
        anchors,
        torch.zeros(2, 0, 4, device=device),
        torch.zeros(2, 0, dtype=torch.bool, device=device),
        pred,
    )
    assert out.labels.shape == (2, len(anchors)) and out.labels.dtype == torch.int8
    assert out.quality.dtype == torch.float32 and out.compensated.dtype == torch.bool
    assert out.num_matched.shape == (2, 0)
    assert not out.labels.any() and bool((out.matched_gt == -1).all())
    assert out.labels.device.type == device


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


@pytest.mark.parametrize(
    "pred",
    [None, torch.zeros(1, 4, 4), torch.zeros(2, 5, 4), torch.zeros(1, 5, 4, dtype=torch.float64)],
)
def test_hambox_needs_pred_boxes_of_the_right_shape(pred):
    args = (torch.zeros(5, 4), torch.zeros(1, 1, 4), torch.ones(1, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="pred_boxes"):
        tm.HAMBoxMatcher()(*args, pred)


@pytest.mark.parametrize("device", DEVICES)
@given(
    batches(max_faces=10, hw_range=(32, 128)),
    st.lists(box_arrays(max_n=3, lo=-20, hi=140, max_size=80), min_size=4, max_size=4),
    st.sampled_from([0.5, 0.0, 0.25, 1.0]),
    st.integers(1, 4),
)
def test_ignore_regions_equal_core(device, batch, regions_per_image, ioa_thr, k):
    """Ignore regions, padded per image: the torch rule equals the core's, for every strategy
    (the second step may still take an ignored anchor in both)."""
    gen, hw, faces, pred = batch
    regions_per_image = regions_per_image[: len(faces)]
    anchors_np = grid_anchors_np(gen, hw)
    anchors = gen.grid_anchors(hw, device=device)
    gt, valid = pad(faces)
    regions, region_valid = pad(regions_per_image, fill=40.0)
    pairs = [
        (tm.SMSMatcher(ignore_ioa_thr=ioa_thr), hambox_core.SMSMatcher(ignore_ioa_thr=ioa_thr)),
        (tm.DMSMatcher(ignore_ioa_thr=ioa_thr), hambox_core.DMSMatcher(ignore_ioa_thr=ioa_thr)),
        (
            tm.NAMSMatcher(k, 0.1, ignore_ioa_thr=ioa_thr),
            hambox_core.NAMSMatcher(k, 0.1, ignore_ioa_thr=ioa_thr),
        ),
        (
            tm.HAMBoxMatcher(top_k=k, online_iou_thr=0.3, ignore_ioa_thr=ioa_thr),
            hambox_core.HAMBoxMatcher(top_k=k, online_iou_thr=0.3, ignore_ioa_thr=ioa_thr),
        ),
    ]
    pred_t = torch.from_numpy(np.stack(pred)).to(device)
    for torch_matcher, core_matcher in pairs:
        out = torch_matcher(
            anchors,
            gt.to(device),
            valid.to(device),
            pred_t,
            gt_ignore=regions.to(device),
            ignore_valid=region_valid.to(device),
        )
        for b, f in enumerate(faces):
            want = core_matcher(anchors_np, f, pred_boxes=pred[b], gt_ignore=regions_per_image[b])
            for name in ("labels", "matched_gt", "compensated", "quality"):
                np.testing.assert_array_equal(
                    getattr(out, name)[b].cpu().numpy(),
                    getattr(want, name),
                    err_msg=f"{torch_matcher!r}.{name}",
                )


def test_ignore_region_arguments_are_checked():
    anchors = AnchorGenerator().grid_anchors((32, 32))
    gt, valid = pad([np.zeros((0, 4), np.float32)])
    with pytest.raises(ValueError, match="gt_ignore"):
        tm.SMSMatcher()(anchors, gt, valid, gt_ignore=torch.zeros(1, 4))
    with pytest.raises(ValueError, match="ignore_valid"):
        tm.SMSMatcher()(
            anchors, gt, valid, gt_ignore=torch.zeros(1, 2, 4), ignore_valid=torch.ones(1, 3)
        )


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=30)
@given(
    batches(max_faces=12, hw_range=(24, 140)),
    st.lists(box_arrays(max_n=3, lo=-20, hi=150, max_size=80), min_size=4, max_size=4),
    st.sampled_from([(0.35, None, 0.5, 0.5), (0.0, None, 0.0, 0.0), (0.5, 0.3, 0.0, 1.0)]),
    st.sampled_from([(1, 1), (3, 2**20), (7, 5)]),
    st.randoms(use_true_random=False),
)
def test_tiles_find_every_overlapping_pair(device, batch, regions_per_image, thr, sizes, rnd):
    """The spatial tiles prune only pairs without overlap: tiny, odd-sized tiles and tiny
    chunks, anchors in a shuffled order, thresholds of 0 (where pairs without overlap matter,
    through the initial keys) — the result is still the core's."""
    gen, hw, faces, pred = batch
    regions_per_image = regions_per_image[: len(faces)]
    pos, neg, second, hq = thr
    perm = np.arange(len(grid_anchors_np(gen, hw)))
    rnd.shuffle(perm)
    anchors_np = grid_anchors_np(gen, hw)[perm]
    pred = [p[perm] for p in pred]
    gt, valid = pad(faces)
    regions, region_valid = pad(regions_per_image, fill=40.0)
    pairs = [
        (tm.SMSMatcher(pos, neg, second), hambox_core.SMSMatcher(pos, neg, second)),
        (tm.DMSMatcher(pos, neg, second), hambox_core.DMSMatcher(pos, neg, second)),
        (
            tm.NAMSMatcher(3, second, pos, neg, second),
            hambox_core.NAMSMatcher(3, second, pos, neg, second),
        ),
        (
            tm.HAMBoxMatcher(pos, 3, second, hq, neg, second),
            hambox_core.HAMBoxMatcher(pos, 3, second, hq, neg, second),
        ),
    ]
    saved = tm._TILE, tm._CHUNK_ELEMENTS
    tm._TILE, tm._CHUNK_ELEMENTS = sizes
    try:
        for torch_matcher, core_matcher in pairs:
            out = torch_matcher(
                torch.from_numpy(anchors_np).to(device),
                gt.to(device),
                valid.to(device),
                torch.from_numpy(np.stack(pred)).to(device),
                gt_ignore=regions.to(device),
                ignore_valid=region_valid.to(device),
            )
            for b, f in enumerate(faces):
                want = core_matcher(
                    anchors_np, f, pred_boxes=pred[b], gt_ignore=regions_per_image[b]
                )
                for name in FIELDS:
                    got = getattr(out, name)[b].cpu().numpy()
                    if name == "num_matched":
                        got = got[: len(f)]
                    np.testing.assert_array_equal(
                        got, getattr(want, name), err_msg=f"{torch_matcher!r}.{name}"
                    )
    finally:
        tm._TILE, tm._CHUNK_ELEMENTS = saved
