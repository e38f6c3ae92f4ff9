"""The four matchers against the dense reference in tests/reference/matching.py, and the
invariants a user relies on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import matching as ref
from strategies import (
    ANCHOR_KINDS,
    anchor_arrays,
    box_arrays,
    predictions_for,
    threshold_on_edge,
    torchvision_grid_anchors,
)

from hambox_core import (
    AnchorGenerator,
    DMSMatcher,
    HAMBoxMatcher,
    MatchResult,
    NAMSMatcher,
    SMSMatcher,
    match_images,
)
from hambox_core.boxes import box_ioa, box_iou

FIELDS = ("labels", "matched_gt", "compensated", "quality", "num_matched")
DTYPES = {
    "labels": np.int8,
    "matched_gt": np.int64,
    "compensated": np.bool_,
    "quality": np.float32,
    "num_matched": np.int64,
}


def assert_same(result: MatchResult, expected) -> None:
    """Discrete fields equal exactly; quality is the same float32 IoU, so exactly too."""
    for name, want in zip(FIELDS, expected, strict=True):
        got = getattr(result, name)
        assert got.dtype == DTYPES[name], name
        np.testing.assert_array_equal(got, want, err_msg=name)


# --- inputs -----------------------------------------------------------------------------------


@st.composite
def faces_for(draw, anchors, max_n=25):
    """Faces: random boxes, anchors trimmed on the lattice, and exact duplicates."""
    faces = list(draw(box_arrays(min_n=0, max_n=max_n, lo=-30, hi=190, max_size=150)))
    for _ in range(draw(st.integers(0, 4))):
        if len(anchors) == 0:
            break
        a = anchors[draw(st.integers(0, len(anchors) - 1))].astype(np.float64)
        trim = draw(st.integers(0, 64)) / 16.0
        x0 = min(a[0] + trim, a[2])
        y1 = max(a[3] - trim / 2, a[1])
        faces.append(np.array([x0, a[1], a[2], y1], np.float32))
    if faces and draw(st.booleans()):
        faces.append(faces[0])
    order = draw(st.permutations(range(len(faces))))
    return np.asarray([faces[k] for k in order], np.float32).reshape(-1, 4)


@st.composite
def problems(draw, with_pred=False, with_ignore=True, kinds=None):
    """Anchors of any kind (see ``strategies.anchor_arrays``), faces near them, predictions,
    ignore regions and thresholds, some of them exactly on an IoU that occurs."""
    anchors = draw(anchor_arrays(kinds))
    faces = draw(faces_for(anchors))
    ignore = None
    if with_ignore and draw(st.booleans()):
        ignore = draw(box_arrays(min_n=0, max_n=3, lo=-30, hi=190, max_size=120))
    pred = draw(predictions_for(anchors, faces)) if with_pred else None
    pos = threshold_on_edge(draw, anchors, faces, 0.35)
    neg = None
    if draw(st.integers(0, 3)) == 0:
        neg = draw(st.sampled_from([0.0, 0.1, 0.2, pos]))
        neg = min(neg, pos)
    return anchors, faces, pred, ignore, pos, neg


# --- fast == reference ------------------------------------------------------------------------


@given(problems())
def test_sms_matches_reference(problem):
    anchors, faces, _, ignore, pos, neg = problem
    result = SMSMatcher(pos, neg)(anchors, faces, gt_ignore=ignore)
    assert_same(result, ref.sms(anchors, faces, pos, neg, ignore))


@given(problems())
def test_dms_matches_reference(problem):
    anchors, faces, _, ignore, pos, neg = problem
    result = DMSMatcher(pos, neg)(anchors, faces, gt_ignore=ignore)
    assert_same(result, ref.dms(anchors, faces, pos, neg, ignore))


@given(problems(), st.integers(1, 6), st.sampled_from([0.0, 0.05, 0.1, 0.3]))
def test_nams_matches_reference(problem, n, low):
    anchors, faces, _, ignore, pos, neg = problem
    result = NAMSMatcher(n, low, pos, neg)(anchors, faces, gt_ignore=ignore)
    assert_same(result, ref.nams(anchors, faces, n, low, pos, neg, ignore))


@given(problems(with_pred=True), st.integers(1, 5), st.data())
def test_hambox_matches_reference(problem, k, data):
    anchors, faces, pred, ignore, pos, neg = problem
    online = data.draw(st.sampled_from([0.8, 0.5, 0.9, 0.0, 1.0]))
    hq = data.draw(st.sampled_from([0.5, 0.3, 0.8]))
    online = threshold_on_edge(data.draw, pred, faces, online)
    result = HAMBoxMatcher(pos, k, online, hq, neg)(anchors, faces, pred, ignore)
    assert_same(result, ref.hambox(anchors, faces, pred, pos, k, online, hq, neg, ignore))


@pytest.mark.parametrize("kind", ANCHOR_KINDS)
@settings(max_examples=15)
@given(data=st.data())
def test_every_anchor_kind_matches_reference_with_every_matcher(kind, data):
    """Anchors built as other code builds them (the grid recognised from their values, or not
    a grid at all) give the dense reference's results exactly, for all four matchers."""
    anchors, faces, pred, ignore, pos, neg = data.draw(problems(with_pred=True, kinds=[kind]))
    assert_same(
        SMSMatcher(pos, neg)(anchors, faces, gt_ignore=ignore),
        ref.sms(anchors, faces, pos, neg, ignore),
    )
    assert_same(
        DMSMatcher(pos, neg)(anchors, faces, gt_ignore=ignore),
        ref.dms(anchors, faces, pos, neg, ignore),
    )
    assert_same(
        NAMSMatcher(3, 0.1, pos, neg)(anchors, faces, gt_ignore=ignore),
        ref.nams(anchors, faces, 3, 0.1, pos, neg, ignore),
    )
    assert_same(
        HAMBoxMatcher(pos, 3, 0.8, 0.5, neg)(anchors, faces, pred, ignore),
        ref.hambox(anchors, faces, pred, pos, 3, 0.8, 0.5, neg, ignore),
    )


def test_grid_mutated_in_place_between_calls_is_matched_on_its_new_values():
    """Nothing is cached: an anchor moved off its grid in place is matched where it now is."""
    anchors = AnchorGenerator().grid_anchors((128, 128))
    face = np.array([[40, 40, 61, 58]], np.float32)
    pred = anchors.copy()
    matchers = (SMSMatcher(), DMSMatcher(), NAMSMatcher(), HAMBoxMatcher())
    before = [m(anchors, face, pred) for m in matchers]
    assert not before[0].labels[3]
    anchors[3] = face[0]  # anchor 3 (top-left corner of P2) now sits exactly on the face
    pred[3] = face[0]
    after = [m(anchors, face, pred) for m in matchers]
    assert after[0].labels[3] == 1 and after[0].quality[3] == 1.0
    for result, expected in zip(
        after,
        (
            ref.sms(anchors, face),
            ref.dms(anchors, face),
            ref.nams(anchors, face),
            ref.hambox(anchors, face, pred),
        ),
        strict=True,
    ):
        assert_same(result, expected)
    anchors[3] = AnchorGenerator().grid_anchors((128, 128))[3]  # and back
    assert_same(matchers[0](anchors, face), ref.sms(anchors, face))
    assert not matchers[0](anchors, face).labels[3]


def test_numpy_torchvision_anchors_equal_torchvision():
    """The test strategies' torchvision-style anchors are torchvision's, bit for bit."""
    torch = pytest.importorskip("torch")
    from torchvision.models.detection.anchor_utils import AnchorGenerator as TVGenerator
    from torchvision.models.detection.image_list import ImageList

    sizes = ((32, 40, 50), (64, 81, 101), (128, 161, 203))
    ratios = ((0.5, 1.0, 2.0),) * 3
    hw = (200, 264)
    feature_hws = [(25, 33), (13, 17), (7, 9)]
    gen = TVGenerator(sizes, ratios)
    images = ImageList(torch.zeros(1, 3, *hw), [hw])
    maps = [torch.zeros(1, 8, *f) for f in feature_hws]
    expected = gen(images, maps)[0].numpy()
    np.testing.assert_array_equal(
        torchvision_grid_anchors(hw, feature_hws, sizes, ratios), expected
    )


# --- invariants -------------------------------------------------------------------------------


@given(problems(with_pred=True))
def test_invariants(problem):
    anchors, faces, pred, ignore, pos, neg = problem
    sms = SMSMatcher(pos, neg)(anchors, faces, gt_ignore=ignore)
    dms = DMSMatcher(pos, neg)(anchors, faces, gt_ignore=ignore)
    k = 3
    ham = HAMBoxMatcher(pos, k, 0.8, 0.5, neg)(anchors, faces, pred, ignore)
    nams = NAMSMatcher(k, 0.1, pos, neg)(anchors, faces, gt_ignore=ignore)
    # SMS positives are a subset of DMS positives (and of every strategy's).
    for other in (dms, nams, ham):
        assert np.all(other.labels[sms.positive] == 1)
        np.testing.assert_array_equal(other.num_matched, sms.num_matched)
    # Compensated anchors are positives; non-positives carry no face and no quality.
    for r in (sms, dms, nams, ham):
        assert np.all(r.labels[r.compensated] == 1)
        assert np.all(r.matched_gt[r.labels != 1] == -1)
        assert np.all(r.quality[r.labels != 1] == 0)
        assert np.all((r.matched_gt[r.positive] >= 0) & (r.matched_gt[r.positive] < len(faces)))
        assert not sms.compensated.any()
    # DMS: a face without step-one anchors that overlaps any anchor gets its best anchor,
    # unless a later face claimed the same anchor (docs/guide/choices.rst: a later face wins).
    if len(anchors) and len(faces):
        iou = box_iou(anchors, faces)
        for g in range(len(faces)):
            if sms.num_matched[g] == 0 and iou[:, g].max() > 0:
                best = int(np.argmax(iou[:, g]))
                assert dms.labels[best] == 1
                assert dms.matched_gt[best] >= g
    # Mining never gives a face more than K - M anchors beyond its step-one ones.
    comp_per_face = np.bincount(ham.matched_gt[ham.compensated], minlength=len(faces))
    assert np.all(comp_per_face <= np.maximum(k - sms.num_matched, 0))
    comp_nams = np.bincount(nams.matched_gt[nams.compensated], minlength=len(faces))
    assert np.all(comp_nams <= np.maximum(k - sms.num_matched, 0))
    # HAMBox compensated anchors' predictions beat T; their quality is that IoU.
    if ham.compensated.any():
        idx = np.nonzero(ham.compensated)[0]
        piou = box_iou(pred[idx], faces)[np.arange(len(idx)), ham.matched_gt[idx]]
        assert np.all(piou > np.float32(0.8))
        np.testing.assert_array_equal(ham.quality[idx], piou)


@given(problems(with_pred=True))
def test_inputs_are_not_modified(problem):
    anchors, faces, pred, ignore, pos, neg = problem
    copies = [None if x is None else np.array(x, copy=True) for x in (anchors, faces, pred, ignore)]
    HAMBoxMatcher(pos, neg_iou_thr=neg)(anchors, faces, pred, ignore)
    DMSMatcher(pos, neg)(anchors, faces, gt_ignore=ignore)
    for before, after in zip(copies, (anchors, faces, pred, ignore), strict=True):
        if before is not None:
            np.testing.assert_array_equal(before, after)


# --- hand-built cases -------------------------------------------------------------------------


def test_iou_exactly_on_threshold_is_positive():
    anchors = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32).copy()
    faces = np.array([[0, 0, 10, 3.5], [0, 0, 10, 5]], np.float32)  # IoU 0.35 and 0.5
    r = SMSMatcher(0.35)(anchors[:1], faces[:1])
    assert r.labels.tolist() == [1] and r.quality.tolist() == [np.float32(0.35)]
    r = SMSMatcher(0.5)(anchors, faces)
    # Both anchors' best face is face 1 (IoU 0.5, exactly the threshold).
    assert r.labels.tolist() == [1, 1] and r.matched_gt.tolist() == [1, 1]
    r = SMSMatcher(0.5000001)(anchors, faces)
    assert r.labels.tolist() == [0, 0]


def test_tie_between_faces_goes_to_lower_index():
    anchors = AnchorGenerator().grid_anchors((64, 64))
    face = np.array([[10, 10, 20, 20]], np.float32)
    r = SMSMatcher()(anchors, np.concatenate([face, face]))
    assert r.num_matched.tolist() == [r.num_positive, 0]
    assert np.all(r.matched_gt[r.positive] == 0)


def test_dms_later_face_wins_contested_anchor():
    anchors = AnchorGenerator().grid_anchors((64, 64))
    tiny = np.array([[30, 30, 32, 32], [30, 30, 32, 32]], np.float32)  # no step-one match
    r = DMSMatcher()(anchors, tiny)
    assert r.num_matched.tolist() == [0, 0]
    assert r.num_positive == 1 and r.matched_gt[r.positive].tolist() == [1]


def test_empty_ground_truth_is_all_background():
    anchors = AnchorGenerator().grid_anchors((128, 128))
    pred = anchors.copy()
    for m in (SMSMatcher(), DMSMatcher(), NAMSMatcher(), HAMBoxMatcher()):
        r = m(anchors, np.zeros((0, 4), np.float32), pred)
        assert r.labels.shape == (len(anchors),) and not r.labels.any()
        assert (r.matched_gt == -1).all() and r.num_matched.shape == (0,)


def test_zero_anchors_give_empty_arrays():
    faces = np.array([[0, 0, 10, 10]], np.float32)
    for m in (SMSMatcher(), DMSMatcher(), NAMSMatcher(), HAMBoxMatcher()):
        r = m(np.zeros((0, 4), np.float32), faces, np.zeros((0, 4), np.float32))
        for name in FIELDS[:4]:
            assert getattr(r, name).shape == (0,) and getattr(r, name).dtype == DTYPES[name]
        assert r.num_matched.tolist() == [0]


def test_ignore_region_ignores_background_but_keeps_positives():
    anchors = AnchorGenerator().grid_anchors((64, 64))
    face = np.array([[8, 8, 30, 30]], np.float32)
    region = np.array([[0, 0, 64, 64]], np.float32)
    r = SMSMatcher()(anchors, face, gt_ignore=region)
    inside = box_ioa(anchors, region)[:, 0] >= 0.5
    assert 0 < inside.sum() < len(anchors)
    assert r.num_positive > 0
    assert np.all(r.labels[r.positive] == 1)
    assert np.all(r.labels[~r.positive & inside] == -1)
    assert np.all(r.labels[~inside & ~r.positive] == 0)


def test_hambox_requires_pred_boxes():
    anchors = AnchorGenerator().grid_anchors((64, 64))
    with pytest.raises(ValueError, match="pred_boxes"):
        HAMBoxMatcher()(anchors, [[0, 0, 10, 10]])
    with pytest.raises(ValueError, match="pred_boxes"):
        HAMBoxMatcher()(anchors, [[0, 0, 10, 10]], anchors[:-1])


def test_match_images_loops_over_the_batch():
    anchors = AnchorGenerator().grid_anchors((64, 64))
    faces = [np.array([[8, 8, 30, 30]], np.float32), np.zeros((0, 4), np.float32)]
    out = match_images(SMSMatcher(), anchors, faces)
    assert len(out) == 2 and out[0].num_positive > 0 and out[1].num_positive == 0
    with pytest.raises(ValueError, match="pred_boxes_per_image"):
        match_images(HAMBoxMatcher(), anchors, faces, [anchors])


# --- bad input --------------------------------------------------------------------------------

GOOD = np.array([[0, 0, 10, 10]], np.float32)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"gt_boxes": [[0, 0, np.nan, 10]]}, "gt_boxes"),
        ({"gt_boxes": [[0, 0, np.inf, 10]]}, "gt_boxes"),
        ({"gt_boxes": [[5, 0, 1, 10]]}, "gt_boxes"),
        ({"gt_boxes": [[0, 0, 10]]}, "gt_boxes"),
        ({"gt_boxes": np.zeros((2, 4, 1))}, "gt_boxes"),
        ({"gt_boxes": [["a", "b", "c", "d"]]}, "gt_boxes"),
        ({"anchors": [[0, 0, np.nan, 1]]}, "anchors"),
        ({"anchors": [[3, 0, 1, 1]]}, "anchors"),
        ({"anchors": np.zeros((3, 5))}, "anchors"),
        ({"gt_ignore": [[0, 0, -1, 1]]}, "gt_ignore"),
        ({"pred_boxes": [[0, 0, np.nan, 1]]}, "pred_boxes"),
        ({"pred_boxes": [[0, 0, 1, 1], [0, 0, 1, 1]]}, "pred_boxes"),
        ({"pred_boxes": [[2, 0, 1, 1]]}, "pred_boxes"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    args = {"anchors": GOOD, "gt_boxes": GOOD, "pred_boxes": GOOD, "gt_ignore": None}
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        HAMBoxMatcher()(**args)


@pytest.mark.parametrize(
    ("factory", "name"),
    [
        (lambda: SMSMatcher(pos_iou_thr=1.5), "pos_iou_thr"),
        (lambda: SMSMatcher(pos_iou_thr=-0.1), "pos_iou_thr"),
        (lambda: SMSMatcher(pos_iou_thr=float("nan")), "pos_iou_thr"),
        (lambda: SMSMatcher(0.3, neg_iou_thr=0.4), "neg_iou_thr"),
        (lambda: SMSMatcher(ignore_ioa_thr=2), "ignore_ioa_thr"),
        (lambda: NAMSMatcher(num_per_face=0), "num_per_face"),
        (lambda: NAMSMatcher(low_iou_thr=1.1), "low_iou_thr"),
        (lambda: HAMBoxMatcher(top_k=0), "top_k"),
        (lambda: HAMBoxMatcher(top_k=2.5), "top_k"),
        (lambda: HAMBoxMatcher(online_iou_thr=-1), "online_iou_thr"),
        (lambda: HAMBoxMatcher(high_quality_iou_thr=3), "high_quality_iou_thr"),
    ],
)
def test_bad_hyper_parameters_name_the_argument(factory, name):
    with pytest.raises(ValueError, match=name):
        factory()


# --- large fixed cases ------------------------------------------------------------------------


def _random_faces(rng, n, extent=640.0):
    s = np.exp(rng.uniform(np.log(6), np.log(400), n))
    x = rng.uniform(-0.1 * s, extent - 0.9 * s)
    y = rng.uniform(-0.1 * s, extent - 0.9 * s)
    h = s * rng.uniform(1.0, 1.5, n)
    return np.stack([x, y, x + s, y + h], 1).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("num_faces", [0, 1, 100, 2000])
def test_large_images_match_reference(num_faces):
    rng = np.random.default_rng(num_faces)
    anchors = AnchorGenerator().grid_anchors((320, 320))
    faces = _random_faces(rng, num_faces, 320.0)
    jitter = rng.normal(0, 2.0, anchors.shape).astype(np.float32)
    pred = anchors + jitter
    pred[:, 2:] = np.maximum(pred[:, 2:], pred[:, :2])
    if num_faces:
        snap = rng.random(len(anchors)) < 0.02
        pred[snap] = faces[rng.integers(0, num_faces, snap.sum())]
    assert_same(SMSMatcher()(anchors, faces), ref.sms(anchors, faces))
    assert_same(DMSMatcher()(anchors, faces), ref.dms(anchors, faces))
    assert_same(NAMSMatcher()(anchors, faces), ref.nams(anchors, faces))
    assert_same(HAMBoxMatcher()(anchors, faces, pred), ref.hambox(anchors, faces, pred))


@pytest.mark.slow
@pytest.mark.parametrize("num_faces", [1, 300])
def test_large_torchvision_retinanet_anchors_match_reference(num_faces):
    """RetinaNet's anchors (9 per location, 5 levels) of a 320 x 320 image, shuffled levels."""
    rng = np.random.default_rng(num_faces)
    hw = (320, 320)
    feature_hws = [(-(-320 // s),) * 2 for s in (8, 16, 32, 64, 128)]
    sizes = tuple(
        (s, round(s * 2 ** (1 / 3)), round(s * 2 ** (2 / 3))) for s in (32, 64, 128, 256, 512)
    )
    anchors = torchvision_grid_anchors(hw, feature_hws, sizes, ((0.5, 1.0, 2.0),) * 5)
    faces = _random_faces(rng, num_faces, 320.0)
    pred = anchors + rng.normal(0, 2.0, anchors.shape).astype(np.float32)
    pred[:, 2:] = np.maximum(pred[:, 2:], pred[:, :2])
    assert_same(SMSMatcher()(anchors, faces), ref.sms(anchors, faces))
    assert_same(DMSMatcher()(anchors, faces), ref.dms(anchors, faces))
    assert_same(NAMSMatcher()(anchors, faces), ref.nams(anchors, faces))
    assert_same(HAMBoxMatcher()(anchors, faces, pred), ref.hambox(anchors, faces, pred))


def test_statistics_anchor_generator_shapes():
    gen = AnchorGenerator()
    assert sum(gen.num_anchors_per_level((640, 640))) == 34125
    assert gen.feature_shapes((641, 100))[0] == (161, 25)
    anchors = gen.grid_anchors((640, 640))
    assert anchors.flags.writeable and anchors.flags.c_contiguous
    np.testing.assert_allclose(anchors[0], [2 - 5.44, 2 - 5.44, 2 + 5.44, 2 + 5.44], rtol=1e-6)
