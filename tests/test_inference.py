"""The inference API: input kinds, batching, padding, the test protocols' geometry, box voting."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from PIL import Image
from strategies import box_arrays

from hambox_core.evaluation import widerface as wider_eval
from hambox_torch.inference import (
    VGA,
    Detections,
    Detector,
    MultiScaleFlip,
    SingleScale,
    box_vote,
    get_protocol,
    write_prediction_folder,
)
from hambox_torch.inference.protocols import Pass
from hambox_torch.models import build_detector
from hambox_torch.pipeline import DetectionSettings
from hambox_torch.postprocess import postprocess_detections
from hambox_torch.recipe.checkpoint import CheckpointError, save_checkpoint

# A random model scores every anchor about the prior: keep them all so that there is much to
# compare.
LOOSE = DetectionSettings(score_thr=0.0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = build_detector(backbone="resnet18", channels=16).eval()
    # A random head scores every anchor near the prior (0.01), so near-ties would decide the
    # order of detections; larger face-logit weights spread the scores over (0, 1).
    with torch.no_grad():
        model.head.cls.predict.weight.mul_(40.0)
    return model


def _picture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth RGB uint8 picture with a bright block (something for the model to look at)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (h + w)], axis=-1)
    noise = rng.integers(0, 40, size=(h, w, 3))
    pic = np.clip(base + noise, 0, 255).astype(np.uint8)
    pic[h // 4 : h // 2, w // 3 : w // 2] = 250
    return pic


def _same(a: Detections, b: Detections) -> None:
    assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)


def _close(a: Detections, b: Detections) -> None:
    assert a.boxes.shape == b.boxes.shape
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


# --- inputs ----------------------------------------------------------------------------------


def test_every_input_kind_gives_the_same_boxes(model):
    pic = _picture(50, 70)
    # One image per forward pass: batched convolutions may round differently (see the
    # batching test), and this test is about identical pixels giving identical boxes.
    detector = Detector(model, settings=LOOSE, batch_size=1)
    ref = detector.detect(pic)
    assert isinstance(ref, Detections) and ref.boxes.dtype == np.float32
    assert ref.boxes.shape[1] == 4 and ref.boxes.shape[0] == ref.scores.shape[0] > 0
    rgba = Image.fromarray(pic).convert("RGBA")
    same_picture = [
        Image.fromarray(pic),
        rgba,  # any mode is converted to RGB
        torch.from_numpy(pic).permute(2, 0, 1),
        torch.from_numpy(pic).permute(2, 0, 1).float() / 255,
        pic.astype(np.float32) / 255,
    ]
    for result in detector.detect(same_picture):
        _same(result, ref)
    # Boxes lie in the image, scores decrease.
    assert (ref.boxes[:, :2] >= 0).all() and (ref.boxes[:, 2] <= 70).all()
    assert (ref.boxes[:, 3] <= 50).all() and (np.diff(ref.scores) <= 0).all()


def test_a_grey_picture_is_converted_to_rgb(model):
    grey = Image.fromarray(_picture(40, 40)[..., 0])
    rgb = np.repeat(np.asarray(grey)[..., None], 3, axis=2)
    detector = Detector(model, settings=LOOSE, batch_size=1)
    _same(detector.detect(grey), detector.detect(rgb))


def test_a_16_bit_picture_keeps_its_range(model):
    grey8 = _picture(40, 40)[..., 0]
    grey16 = Image.fromarray(grey8.astype(np.uint16) * 257)  # the same picture in 16 bits
    rgb = np.repeat(grey8[..., None], 3, axis=2)
    detector = Detector(model, settings=LOOSE, batch_size=1)
    _same(detector.detect(grey16), detector.detect(rgb))


def test_one_image_in_one_result_out_and_lists_stay_lists(model):
    detector = Detector(model)
    assert detector.detect([]) == []
    assert detector.detect(()) == []
    out = detector.detect((_picture(32, 32),))
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], Detections)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((20, 20), np.uint8), "shape (H, W, 3)"),
        (np.zeros((20, 20, 4), np.uint8), "shape (H, W, 3)"),
        (torch.zeros(4, 20, 20), "shape (3, H, W)"),
        (torch.zeros(1, 3, 20, 20), "shape (3, H, W)"),
        (np.zeros((0, 20, 3), np.uint8), "empty"),
        (np.full((20, 20, 3), -0.5, np.float32), "[0, 1]"),
        (np.full((20, 20, 3), 3.0, np.float32), "[0, 1]"),
        (np.full((20, 20, 3), np.nan, np.float32), "NaN"),
        (torch.full((3, 20, 20), math.inf), "NaN or infinite"),
        (np.zeros((20, 20, 3), np.int32), "uint8 or floating point"),
    ],
)
def test_bad_images_are_named(model, bad, message):
    detector = Detector(model)
    with pytest.raises(ValueError, match="images\\[1\\]") as info:
        detector.detect([_picture(20, 20), bad])
    assert message in str(info.value)
    with pytest.raises(ValueError, match=r"^image "):
        detector.detect(bad)


def test_bad_arguments(model):
    with pytest.raises(TypeError, match="images\\[0\\]"):
        Detector(model).detect(["a.jpg"])
    with pytest.raises(ValueError, match="protocol must be one of single, vga, multiscale"):
        Detector(model, protocol="tta")
    with pytest.raises(ValueError, match="batch_size"):
        Detector(model, batch_size=0)
    with pytest.raises(ValueError, match="settings"):
        Detector(model, settings={"score_thr": 0.5})
    with pytest.raises(ValueError, match="not a torch device"):
        Detector(model, device="gpu7")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_without_cuda_is_a_clear_error(model):
    with pytest.raises(ValueError, match="CUDA is not available"):
        Detector(model, device="cuda")


# --- batching and padding --------------------------------------------------------------------


def test_batched_equals_one_by_one(model):
    # 60x90 and 100x120 share a padded size (128 x 128); 140x40 does not.
    pics = [_picture(60, 90, 1), _picture(140, 40, 2), _picture(100, 120, 3), _picture(60, 90, 4)]
    batched = Detector(model, settings=LOOSE, batch_size=3).detect(pics)
    alone = [Detector(model, settings=LOOSE, batch_size=1).detect(p) for p in pics]
    for a, b in zip(batched, alone, strict=True):
        _close(a, b)


def test_no_padding_for_a_multiple_of_the_stride_and_zero_padding_otherwise(model):
    stride = max(model.anchor_generator.strides)
    image = torch.from_numpy(_picture(stride, 2 * stride)).permute(2, 0, 1).float() / 255
    (boxes, scores) = Detector(model, settings=LOOSE).detect_tensors([image])[0]
    # The obvious way: the model on the image itself, decoded, clipped.
    with torch.no_grad():
        out = model(image[None])
    hw = (stride, 2 * stride)
    anchors = model.anchors(hw, "cpu")
    per_level = [int(n) for n in model.anchor_generator.num_anchors_per_level(hw)]
    ((ref_boxes, ref_scores),) = postprocess_detections(
        out.cls_logits, out.box_deltas, anchors, per_level, score_thr=0.0, nms_iou_thr=0.4,
        image_hw=hw,
    )  # fmt: skip
    torch.testing.assert_close(boxes, ref_boxes)
    torch.testing.assert_close(scores, ref_scores)
    # A smaller image is the zero-padded one's output, clipped to the smaller image before NMS.
    small = image[:, : stride - 30, : 2 * stride - 50]
    padded = torch.zeros_like(image)
    padded[:, : stride - 30, : 2 * stride - 50] = small
    (b_small, s_small) = Detector(model, settings=LOOSE).detect_tensors([small])[0]
    with torch.no_grad():
        out = model(padded[None])
    ((b_pad, s_pad),) = postprocess_detections(
        out.cls_logits, out.box_deltas, anchors, per_level, score_thr=0.0, nms_iou_thr=0.4,
        image_hw=(stride - 30, 2 * stride - 50),
    )  # fmt: skip
    torch.testing.assert_close(b_small, b_pad)
    torch.testing.assert_close(s_small, s_pad)
    assert bool(((b_small[:, 2:] - b_small[:, :2]) >= 1.0).all())  # no sliver at the border


def test_the_model_mode_is_restored(model):
    model.train()
    try:
        Detector(model).detect(_picture(32, 32))
        assert model.training
    finally:
        model.eval()


# --- protocol geometry, with a step whose output we control --------------------------------


def bright_box_step(images):
    """A stand-in detector: the bounding box of the pixels brighter than 0.5, score 0.9."""
    out = []
    for im in images:
        ys, xs = torch.nonzero(im[0] > 0.5, as_tuple=True)
        if len(ys) == 0:
            out.append((torch.zeros(0, 4), torch.zeros(0)))
            continue
        box = torch.tensor([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], dtype=torch.float32)
        out.append((box, torch.tensor([0.9])))
    return out


def _white_box(h, w, box):
    x0, y0, x1, y1 = box
    image = torch.zeros(3, h, w)
    image[:, y0:y1, x0:x1] = 1.0
    return image


@pytest.mark.parametrize(
    ("hw", "box", "resized"),
    [
        ((768, 1024), (100, 200, 180, 260), (480, 640)),  # shrunk (a WIDER image)
        ((1024, 683), (30, 500, 130, 650), (640, 427)),  # portrait
        ((120, 160), (20, 30, 60, 90), (480, 640)),  # enlarged, as SCRFD does
    ],
)
def test_vga_resizes_the_long_side_to_640_and_maps_boxes_back(hw, box, resized):
    seen = []

    def step(images):
        seen.extend(tuple(im.shape[1:]) for im in images)
        return bright_box_step(images)

    ((boxes, scores),) = VGA().detect([_white_box(*hw, box)], step)
    assert seen == [resized]
    scale = resized[1] / hw[1]
    np.testing.assert_allclose(boxes[0].numpy(), box, atol=1.0 / scale + 0.5)
    assert scores.tolist() == pytest.approx([0.9])


def test_vga_fit_in_640_by_480():
    assert VGA(max_size=(640, 480)).scale((600, 700)) == pytest.approx(0.8)
    assert VGA().scale((600, 700)) == pytest.approx(640 / 700)
    with pytest.raises(ValueError, match="max_size"):
        VGA(max_size=(480, 640))


class _OnlyFlip(MultiScaleFlip):
    def passes(self, hw):
        return [Pass(1.0, True, "all")]


def test_a_flipped_pass_maps_boxes_back_exactly():
    image = _white_box(60, 100, (7, 11, 30, 40))
    seen = []

    def step(images):
        seen.append(images[0])
        return bright_box_step(images)

    ((boxes, scores),) = _OnlyFlip(keep_singletons=True).detect([image], step)
    # The step saw the mirror image (box at x = 100 - 30 .. 100 - 7) ...
    assert bright_box_step(seen)[0][0].tolist() == [[70, 11, 93, 40]]
    # ... and the protocol mapped it back.
    assert boxes.tolist() == [[7, 11, 30, 40]] and scores.tolist() == pytest.approx([0.9])


def test_multiscale_finds_the_box_in_every_pass_and_votes_it_back():
    image = _white_box(90, 120, (40, 20, 80, 70))
    calls = []

    def step(images):
        calls.extend(tuple(im.shape[1:]) for im in images)
        return bright_box_step(images)

    protocol = MultiScaleFlip()
    ((boxes, scores),) = protocol.detect([image], step)
    passes = protocol.passes((90, 120))
    assert len(calls) == len(passes) == 5  # 1, flip, 0.5, 2, 3 (max_scale)
    assert calls[:2] == [(90, 120), (90, 120)] and calls[2] == (45, 60) and calls[-1] == (270, 360)
    np.testing.assert_allclose(boxes.numpy(), [[40, 20, 80, 70]], atol=1.0)
    assert scores.tolist() == pytest.approx([0.9])


def test_multiscale_size_filters():
    # A 20-pixel face: the shrunk pass drops it (longer side not above 30), the others keep it.
    small = _white_box(90, 120, (40, 20, 60, 40))
    found = []

    def step(images):
        out = bright_box_step(images)
        found.extend(len(s) for _, s in out)
        return out

    ((boxes, _),) = MultiScaleFlip().detect([small], step)
    assert len(boxes) == 1 and found == [1, 1, 1, 1, 1]
    # With singletons kept, a face seen by the shrunk pass only survives unless it is small.
    protocol = MultiScaleFlip(keep_singletons=True)

    def only_shrunk(images):
        out = bright_box_step(images)
        return [r if im.shape[1] == 45 else (torch.zeros(0, 4), torch.zeros(0)) for r, im in
                zip(out, images, strict=True)]  # fmt: skip

    assert len(protocol.detect([small], only_shrunk)[0][0]) == 0
    big = _white_box(90, 120, (10, 10, 60, 60))
    assert len(protocol.detect([big], only_shrunk)[0][0]) == 1


@pytest.mark.parametrize(
    ("hw", "max_scale", "expected"),
    [
        # m = sqrt(1700 * 1200 / (768 * 1024)) = 1.61: base 1, flip, shrink 0.5, enlarge m.
        ((768, 1024), 3.0, [(1.0, False, "all"), (1.0, True, "all"), (0.5, False, "large"),
                       (1.6106, False, "small")]),
        # m = 3 (capped): 2, then doubling reaches 4 >= m, so m itself.
        ((60, 90), 3.0, [(1.0, False, "all"), (1.0, True, "all"), (0.5, False, "large"),
                    (2.0, False, "small"), (3.0, False, "small")]),
        # A huge image, m = 0.4123 < 0.75: everything shrunk, the "enlarged" pass keeps large.
        ((3000, 4000), 3.0, [(0.4123, False, "all"), (0.4123, True, "all"),
                        (0.2062, False, "large"), (0.3092, False, "large")]),
        # With the cap raised to 6, m = sqrt(1700 * 1200 / (600 * 111)) = 5.53: 2, 4, then m.
        ((600, 111), 6.0, [(1.0, False, "all"), (1.0, True, "all"), (0.5, False, "large"),
                           (2.0, False, "small"), (4.0, False, "small"),
                           (5.5345, False, "small")]),
    ],
)  # fmt: skip
def test_multiscale_passes_follow_the_reference_schedule(hw, max_scale, expected):
    protocol = MultiScaleFlip(max_scale=max_scale)
    got = [(round(p.scale, 4), p.flip, p.keep) for p in protocol.passes(hw)]
    assert got == expected
    for p in protocol.passes(hw):
        assert p.scale**2 * hw[0] * hw[1] <= protocol.max_pixels * (1 + 1e-9)


def test_protocols_by_name_and_their_metadata():
    assert get_protocol("single") == SingleScale()
    assert get_protocol("vga") == VGA() != VGA(max_size=(640, 480))
    assert get_protocol("multiscale").to_dict()["vote_iou"] == 0.3
    p = MultiScaleFlip(vote_iou=0.5)
    assert get_protocol(p) is p
    for name in ("single", "vga", "multiscale"):
        d = get_protocol(name).to_dict()
        assert d["name"] == name and json.loads(json.dumps(d)) == d


def test_protocols_run_the_real_model_and_stay_inside_the_image(model):
    pics = [_picture(50, 70, 5), _picture(90, 40, 6)]
    # Small limits keep the passes small (the defaults enlarge these pictures up to 3x).
    for protocol in (VGA(max_size=(128, 128)), MultiScaleFlip(max_pixels=100 * 100)):
        results = Detector(model, protocol, LOOSE).detect(pics)
        for pic, r in zip(pics, results, strict=True):
            h, w = pic.shape[:2]
            assert len(r.boxes) > 0 and (np.diff(r.scores) <= 0).all()
            assert (r.boxes >= 0).all() and (r.boxes[:, [0, 2]] <= w).all()
            assert (r.boxes[:, [1, 3]] <= h).all()


# --- box voting against the obvious loop ----------------------------------------------------


def _iou64(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def reference_vote(boxes, scores, iou_thr, keep_singletons, max_detections):
    """The reference scripts' ``bbox_vote``, written as plainly as possible (no "+1")."""
    rest = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable: ties by index
    out_boxes, out_scores = [], []
    while rest:
        top = rest[0]
        group = [i for i in rest if i == top or _iou64(boxes[top], boxes[i]) >= iou_thr]
        rest = [i for i in rest if i not in group]
        if len(group) == 1 and not keep_singletons:
            continue
        total = sum(scores[i] for i in group)
        if total > 0:
            merged = [sum(boxes[i][c] * scores[i] for i in group) / total for c in range(4)]
        else:
            merged = list(boxes[top])
        out_boxes.append(merged)
        out_scores.append(max(scores[i] for i in group))
    return out_boxes[:max_detections], out_scores[:max_detections]


@given(
    boxes=box_arrays(max_n=25, lo=0.0, hi=120.0, max_size=80.0),
    data=st.data(),
    iou_thr=st.sampled_from([0.3, 0.5]),
    keep_singletons=st.booleans(),
    max_detections=st.integers(1, 30),
)
def test_box_vote_matches_the_reference(boxes, data, iou_thr, keep_singletons, max_detections):
    n = len(boxes)
    # Scores on a coarse lattice, so that ties happen.
    scores = (
        np.asarray(data.draw(st.lists(st.integers(0, 16), min_size=n, max_size=n)), np.float32) / 16
    )
    rows = boxes.astype(np.float64).tolist()
    for i in range(n):
        for j in range(n):
            # IoU within 1e-6 of the threshold may land on either side in float32: set aside.
            assume(abs(_iou64(rows[i], rows[j]) - iou_thr) > 1e-6)
    ref_boxes, ref_scores = reference_vote(
        rows, scores.astype(np.float64).tolist(), iou_thr, keep_singletons, max_detections
    )
    got_boxes, got_scores = box_vote(
        torch.from_numpy(boxes),
        torch.from_numpy(scores),
        iou_thr=iou_thr,
        keep_singletons=keep_singletons,
        max_detections=max_detections,
    )
    assert got_boxes.dtype == torch.float32 and got_boxes.shape == (len(ref_boxes), 4)
    np.testing.assert_allclose(got_boxes.numpy(), np.asarray(ref_boxes).reshape(-1, 4),
                               rtol=1e-6, atol=1e-4)  # fmt: skip
    assert got_scores.tolist() == pytest.approx(ref_scores)


def test_box_vote_examples():
    b = torch.tensor([[0.0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60], [51, 50, 61, 60]])
    s = torch.tensor([0.6, 0.2, 0.9, 0.1])
    boxes, scores = box_vote(b, s)
    # Groups in order of their top box's score; coordinates weighted by score.
    torch.testing.assert_close(boxes, torch.tensor([[50.1, 50, 60.1, 60], [0.5, 0, 10.5, 10]]))
    torch.testing.assert_close(scores, torch.tensor([0.9, 0.6]))
    # A box alone is dropped unless asked for; empty input gives empty output.
    assert len(box_vote(b[:1], s[:1])[0]) == 0
    assert box_vote(b[:1], s[:1], keep_singletons=True)[0].tolist() == [[0, 0, 10, 10]]
    e_boxes, e_scores = box_vote(torch.zeros(0, 4), torch.zeros(0))
    assert e_boxes.shape == (0, 4) and e_scores.shape == (0,)
    with pytest.raises(ValueError, match="scores must have shape"):
        box_vote(b, s[:2])


# --- prediction folders and checkpoints -------------------------------------------------------


def test_prediction_folder_round_trip(tmp_path, model):
    detector = Detector(model, VGA((96, 96)), checkpoint="run/ckpt.pt", config_name="tiny")
    found = detector.detect([_picture(40, 60), _picture(40, 40)])
    preds = {("0--Parade", "a"): found[0], ("1--Handshaking", "b"): found[1]}
    write_prediction_folder(tmp_path / "out", preds, detector.metadata())
    back = wider_eval.read_predictions(tmp_path / "out")
    for key, det in preds.items():
        b = det.boxes.astype(np.float64)
        np.testing.assert_allclose(back[key][:, :2], b[:, :2])
        np.testing.assert_allclose(back[key][:, 2:4], b[:, 2:] - b[:, :2])
        np.testing.assert_allclose(back[key][:, 4], det.scores)
    meta = json.loads((tmp_path / "out" / "protocol.json").read_text())
    assert meta["protocol"] == VGA((96, 96)).to_dict() and meta["protocol"]["name"] == "vga"
    assert meta["settings"]["score_thr"] == 0.01 and meta["settings"]["nms_iou_thr"] == 0.4
    assert meta["model"] == {"config_name": "tiny", "checkpoint": "run/ckpt.pt"}


def test_from_checkpoint(tmp_path, model):
    from hambox_torch.recipe.config import config_from_dict

    cfg = config_from_dict({"name": "tiny", "model": {"backbone": "resnet18", "channels": 16}})
    path = save_checkpoint(tmp_path / "c.pt", model=model, optimizer=None, iteration=3, config=cfg)
    detector = Detector.from_checkpoint(path, protocol="multiscale", settings=LOOSE)
    meta = detector.metadata()
    assert meta["model"] == {"config_name": "tiny", "checkpoint": str(path)}
    assert meta["protocol"]["name"] == "multiscale" and not detector.model.training
    pic = _picture(50, 70)
    _same(
        Detector(detector.model, settings=LOOSE).detect(pic),
        Detector(model, settings=LOOSE).detect(pic),
    )
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a hambox checkpoint"):
        Detector.from_checkpoint(foreign)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"corrupt\.pt"):
        Detector.from_checkpoint(corrupt)
