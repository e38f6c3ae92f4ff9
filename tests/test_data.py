"""hambox_torch.data: WIDER-format dataset, training transforms, collate and the loader.

Tiny WIDER-format folders are written in ``tmp_path`` with Pillow and the core's annotation
writer. Geometric transforms are checked against image content: a white rectangle drawn at a
face box must still lie under the transformed box.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from hambox_core.datasets import WiderAnnotation, write_wider_annotations
from hambox_torch.data import (
    Batch,
    Compose,
    DataAnchorSampling,
    DataAnchorSamplingOrCrop,
    DataWarning,
    DropSmallFaces,
    PhotometricDistort,
    RandomHorizontalFlip,
    RandomSquareCrop,
    WiderFaceDataset,
    build_train_loader,
    collate_detection,
    eval_transforms,
    make_collate,
    train_transforms,
)
from hambox_torch.data.transforms import render_window

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def write_wider(root, records, split="train", fmt="PNG"):
    """records: list of (name, HxWx3 uint8 array, xywh int list, invalid flags or None)."""
    anns = []
    for name, pixels, xywh, invalid in records:
        path = root / f"WIDER_{split}" / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, format=fmt)
        xywh = np.asarray(xywh, dtype=np.float64).reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        attrs = np.zeros((len(xywh), 6), np.int64)
        if invalid is not None:
            attrs[:, 3] = invalid
        anns.append(WiderAnnotation(name, boxes.astype(np.float32), attributes=attrs))
    split_dir = root / "wider_face_split"
    split_dir.mkdir(exist_ok=True)
    write_wider_annotations(split_dir / f"wider_face_{split}_bbx_gt.txt", anns)
    (root / f"WIDER_{split}" / "images").mkdir(parents=True, exist_ok=True)
    return root


def noise(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def rect_image(h, w, boxes):
    """A black uint8 image with white rectangles at integer xyxy ``boxes``, and its target."""
    img = torch.zeros(3, h, w, dtype=torch.uint8)
    for x0, y0, x1, y1 in boxes:
        img[:, y0:y1, x0:x1] = 255
    b = tv_tensors.BoundingBoxes(
        torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), format="XYXY", canvas_size=(h, w)
    )
    return tv_tensors.Image(img), {"boxes": b}


def small_set(tmp_path, n=6, seed=0):
    rng = np.random.default_rng(seed)
    records = []
    for k in range(n):
        h, w = int(rng.integers(60, 120)), int(rng.integers(60, 120))
        g = int(rng.integers(0, 4))
        wh = rng.integers(8, 30, (g, 2))
        xy = np.stack([rng.integers(0, w - wh[:, 0]), rng.integers(0, h - wh[:, 1])], 1)
        records.append((f"{k % 2}--Ev/img_{k}.jpg", noise(h, w, k), np.hstack([xy, wh]), None))
    return WiderFaceDataset(write_wider(tmp_path, records, fmt="JPEG"), "train", seed=seed)


# --------------------------------------------------------------------------------------------
# dataset: reading
# --------------------------------------------------------------------------------------------


def test_reader_round_trip_with_a_zero_face_image(tmp_path):
    a, b = noise(40, 50, 1), noise(30, 20, 2)
    root = write_wider(
        tmp_path,
        [
            ("0--Parade/a.jpg", a, [[10, 5, 20, 30], [0, 0, 50, 40]], None),
            ("1--Handshaking/b.jpg", b, [], None),
        ],
        split="val",
    )
    ds = WiderFaceDataset(root, "val")
    assert len(ds) == 2
    assert [ann.name for ann in ds.annotations] == ["0--Parade/a.jpg", "1--Handshaking/b.jpg"]
    assert ds.image_path(1) == root / "WIDER_val" / "images" / "1--Handshaking" / "b.jpg"

    image, target = ds[0]
    assert isinstance(image, tv_tensors.Image)
    assert image.dtype == torch.uint8 and tuple(image.shape) == (3, 40, 50)
    np.testing.assert_array_equal(image.permute(1, 2, 0).numpy(), a)  # PNG payload: lossless
    boxes = target["boxes"]
    assert isinstance(boxes, tv_tensors.BoundingBoxes)
    assert boxes.dtype == torch.float32 and boxes.format == tv_tensors.BoundingBoxFormat.XYXY
    assert tuple(boxes.canvas_size) == (40, 50)
    # xywh -> xyxy without "+1": x1 = x + w, y1 = y + h.
    assert boxes.tolist() == [[10.0, 5.0, 30.0, 35.0], [0.0, 0.0, 50.0, 40.0]]
    assert target["image_id"] == "0--Parade/a.jpg" and target["orig_size"] == (40, 50)

    image, target = ds[-1]
    assert tuple(image.shape) == (3, 30, 20)
    assert tuple(target["boxes"].shape) == (0, 4) and target["image_id"] == "1--Handshaking/b.jpg"
    with pytest.raises(IndexError):
        ds[2]


def test_invalid_faces_and_min_size(tmp_path):
    root = write_wider(
        tmp_path, [("e/a.jpg", noise(50, 50), [[1, 1, 10, 10], [20, 20, 4, 9]], [1, 0])]
    )
    assert WiderFaceDataset(root)[0][1]["boxes"].tolist() == [[20.0, 20.0, 24.0, 29.0]]
    kept = WiderFaceDataset(root, skip_invalid=False)[0][1]["boxes"]
    assert kept.tolist() == [[1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 24.0, 29.0]]
    small = WiderFaceDataset(root, skip_invalid=False, min_size=5)[0][1]["boxes"]
    assert small.tolist() == [[1.0, 1.0, 11.0, 11.0]]


def test_bad_arguments_raise(tmp_path):
    root = write_wider(tmp_path, [("e/a.jpg", noise(10, 10), [], None)])
    with pytest.raises(ValueError, match="split"):
        WiderFaceDataset(root, "test")
    with pytest.raises(ValueError, match="seed"):
        WiderFaceDataset(root, seed=-1)
    with pytest.raises(FileNotFoundError, match=r"wider_face_val_bbx_gt\.txt"):
        WiderFaceDataset(root, "val")


def test_corrupt_image_is_warned_counted_and_replaced_by_the_next(tmp_path):
    root = write_wider(
        tmp_path,
        [
            ("e/a.jpg", noise(20, 20, 0), [[1, 1, 5, 5]], None),
            ("e/broken.jpg", noise(20, 20, 1), [[2, 2, 5, 5]], None),
            ("e/c.jpg", noise(20, 20, 2), [[3, 3, 5, 5]], None),
            ("e/last.jpg", noise(20, 20, 3), [], None),
        ],
        fmt="JPEG",
    )
    broken = root / "WIDER_train" / "images" / "e" / "broken.jpg"
    broken.write_bytes(broken.read_bytes()[:100])  # truncated
    (root / "WIDER_train" / "images" / "e" / "last.jpg").write_bytes(b"not an image")
    ds = WiderFaceDataset(root)
    with pytest.warns(DataWarning, match="broken.jpg"):
        _, target = ds[1]
    assert target["image_id"] == "e/c.jpg" and target["boxes"].tolist() == [[3, 3, 8, 8]]
    assert ds.stats.unreadable_images == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ds[1][1]["image_id"] == "e/c.jpg"  # known bad: no second warning or count
    assert ds.stats.unreadable_images == 1
    with pytest.warns(DataWarning, match="last.jpg"):
        assert ds[3][1]["image_id"] == "e/a.jpg"  # wraps around to the first image
    assert ds.stats.unreadable_images == 2


def test_box_outside_image_is_clipped_and_degenerate_boxes_dropped(tmp_path):
    faces = [[40, 30, 20, 20], [5, 5, 10, 10], [60, 5, 10, 10], [8, 8, 0, 6]]
    root = write_wider(tmp_path, [("e/edge.jpg", noise(40, 50), faces, None)])
    ds = WiderFaceDataset(root)
    with pytest.warns(DataWarning, match="edge.jpg") as record:
        _, target = ds[0]
    assert len(record) == 1
    assert target["boxes"].tolist() == [[40.0, 30.0, 50.0, 40.0], [5.0, 5.0, 15.0, 15.0]]
    # Box 0 clipped; box 2 (wholly right of the image) clipped to zero area and dropped, box 3
    # has zero width in the file.
    assert (ds.stats.boxes_clipped, ds.stats.boxes_dropped) == (1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds[0]
    assert (ds.stats.boxes_clipped, ds.stats.boxes_dropped) == (1, 2)


def test_scan_counts_every_problem(tmp_path):
    root = write_wider(
        tmp_path,
        [
            ("e/a.jpg", noise(20, 20), [[15, 15, 10, 10]], None),
            ("e/b.jpg", noise(20, 20), [], None),
        ],
    )
    (root / "WIDER_train" / "images" / "e" / "b.jpg").write_bytes(b"")
    ds = WiderFaceDataset(root)
    with pytest.warns(DataWarning) as record:
        stats = ds.scan()
    assert {"a.jpg" in str(r.message) for r in record} == {True, False}
    assert (stats.unreadable_images, stats.boxes_clipped, stats.boxes_dropped) == (1, 1, 0)


# --------------------------------------------------------------------------------------------
# dataset: determinism
# --------------------------------------------------------------------------------------------


def assert_same_sample(s, t):
    assert torch.equal(s[0], t[0])
    assert torch.equal(s[1]["boxes"], t[1]["boxes"])
    assert s[1]["image_id"] == t[1]["image_id"]


def test_same_seed_epoch_index_gives_the_same_sample(tmp_path):
    ds = small_set(tmp_path)
    ds.transform = train_transforms(48)
    first = [ds[i] for i in range(len(ds))]
    torch.manual_seed(123)
    np.random.seed(7)  # noqa: NPY002 - global state must not matter
    again = [ds[i] for i in reversed(range(len(ds)))][::-1]
    for s, t in zip(first, again, strict=True):
        assert_same_sample(s, t)
    other = WiderFaceDataset(ds.root, transform=train_transforms(48), seed=ds.seed)
    assert_same_sample(other[2], first[2])

    ds.set_epoch(1)
    later = [ds[i] for i in range(len(ds))]
    assert not any(torch.equal(s[0], t[0]) for s, t in zip(first, later, strict=True))
    assert_same_sample(ds[(3, 0)], first[3])  # an explicit epoch in the key wins
    reseeded = WiderFaceDataset(ds.root, transform=train_transforms(48), seed=ds.seed + 1)
    assert not torch.equal(reseeded[2][0], first[2][0])


def test_torchvision_transforms_are_seeded_from_the_generator():
    image, target = rect_image(10, 20, [[1, 2, 5, 6]])
    t = Compose([v2.RandomHorizontalFlip(0.5)])
    state = torch.random.get_rng_state()
    outs = [t(image, target, np.random.default_rng(k))[1]["boxes"].tolist() for k in range(12)]
    assert torch.equal(torch.random.get_rng_state(), state)
    again = [t(image, target, np.random.default_rng(k))[1]["boxes"].tolist() for k in range(12)]
    assert outs == again
    assert {tuple(o[0]) for o in outs} == {(1.0, 2.0, 5.0, 6.0), (15.0, 2.0, 19.0, 6.0)}


# --------------------------------------------------------------------------------------------
# transforms
# --------------------------------------------------------------------------------------------


def test_flip_maps_x0_to_w_minus_x1_and_mirrors_pixels():
    image, target = rect_image(8, 30, [[2, 1, 7, 4], [20, 0, 30, 8]])
    out, t = RandomHorizontalFlip(1.0)(image, target, np.random.default_rng(0))
    assert t["boxes"].tolist() == [[23.0, 1.0, 28.0, 4.0], [0.0, 0.0, 10.0, 8.0]]
    assert torch.equal(out, image.flip(-1))
    same, t0 = RandomHorizontalFlip(0.0)(image, target, np.random.default_rng(0))
    assert torch.equal(same, image) and torch.equal(t0["boxes"], target["boxes"])


def test_render_window_pads_outside_the_image_with_fill():
    img = torch.full((3, 10, 10), 200, dtype=torch.uint8)
    out, (ax, ay, bx, by) = render_window(img, (-10, 0, 10, 20), (40, 40), fill=(1, 2, 3))
    assert (ax, ay, bx, by) == (2.0, 2.0, 20.0, 0.0)
    assert (out[:, :20, 20:] == 200).all()
    assert out[:, :, :20].tolist() == [[[c] * 20] * 40 for c in (1, 2, 3)]
    assert (out[:, 20:, 20:] == torch.tensor([1, 2, 3])[:, None, None]).all()


def check_boxes_on_content(out, boxes, tol=1.5):
    """White pixels of ``out`` lie within ``tol`` px of a box; each box's inside is white."""
    bright = (out.as_subclass(torch.Tensor).float().mean(0) > 0.5 * out.max()).numpy()
    covered = np.zeros_like(bright)
    h, w = bright.shape
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    for x0, y0, x1, y1 in boxes.tolist():
        covered |= (xs > x0 - tol) & (xs < x1 + tol) & (ys > y0 - tol) & (ys < y1 + tol)
        inner = (xs > x0 + tol) & (xs < x1 - tol) & (ys > y0 + tol) & (ys < y1 - tol)
        assert bright[inner].all()
    assert not (bright & ~covered).any()


@pytest.mark.parametrize("make", [lambda: DataAnchorSampling(64), lambda: RandomSquareCrop(64)])
def test_crops_keep_boxes_on_the_image_content(make):
    transform = Compose([make(), RandomHorizontalFlip(0.5)])
    image, target = rect_image(90, 120, [[50, 30, 74, 58]])
    seen = 0
    for k in range(60):
        out, t = transform(image, target, np.random.default_rng(k))
        assert tuple(out.shape) == (3, 64, 64) and tuple(t["boxes"].canvas_size) == (64, 64)
        if len(t["boxes"]) == 1:
            seen += 1
            check_boxes_on_content(out, t["boxes"])
    assert seen >= 30


def test_check_boxes_on_content_detects_a_shifted_box():
    image, target = rect_image(40, 40, [[10, 10, 20, 20]])
    check_boxes_on_content(image, target["boxes"])
    with pytest.raises(AssertionError):
        check_boxes_on_content(image, target["boxes"] + 2)


def das_draws(das, n_faces, face_size, seed):
    """Repeat DataAnchorSampling's first draws: (chosen face, i_target, s_target)."""
    rng = np.random.default_rng(seed)
    chosen = int(rng.integers(n_faces))
    return (chosen, *das.draw_scale(face_size, rng))


def test_data_anchor_sampling_follows_the_pyramidbox_rule():
    das = DataAnchorSampling(256)
    # A 40 px face: the nearest anchor is 32 (index 1), so i_target is uniform in {0, 1, 2}
    # and s_target uniform in (s/2, 2s) for s = 16, 32 or 64.
    image, target = rect_image(300, 400, [[100, 200, 140, 240], [300, 20, 340, 60]])
    picks, indices, sizes = [], [], []
    for k in range(300):
        chosen, i_target, s_target = das_draws(das, 2, 40.0, k)
        _, t = das(image, target, np.random.default_rng(k))
        boxes = t["boxes"]
        wh = boxes[:, 2:] - boxes[:, :2]
        side = torch.sqrt(wh[:, 0] * wh[:, 1])
        # The chosen face is in the crop, entirely (it is smaller than the window), at the
        # drawn size up to the rounding of the crop to whole input pixels.
        match = (side - s_target).abs() <= 0.03 * s_target + 0.5
        assert match.any(), (k, s_target, boxes.tolist())
        hit = boxes[match][0]
        assert hit[0] >= 0 and hit[1] >= 0 and hit[2] <= 256 and hit[3] <= 256
        s_i = 16 * 2**i_target
        assert s_i / 2 < s_target < 2 * s_i
        picks.append(chosen)
        indices.append(i_target)
        sizes.append(float(side[match][0]))
    assert set(indices) == {0, 1, 2}
    counts = np.bincount(indices, minlength=3)
    assert (counts > 70).all(), counts  # uniform: 100 expected each
    assert 100 < sum(picks) < 200  # either face is chosen
    assert min(sizes) < 12 and max(sizes) > 100  # both ends of (8, 128) are reached


def test_data_anchor_sampling_large_face_keeps_its_centre():
    das = DataAnchorSampling(64)
    image, target = rect_image(400, 400, [[40, 60, 340, 330]])  # s_face ~ 285 -> i_anchor 4
    for k in range(40):
        out, t = das(image, target, np.random.default_rng(k))
        assert len(t["boxes"]) == 1
        check_boxes_on_content(out, t["boxes"])


def test_data_anchor_sampling_without_faces_gives_a_window_at_scale_one():
    image, target = rect_image(30, 50, [])
    out, t = DataAnchorSampling(64)(image, target, np.random.default_rng(0))
    assert tuple(out.shape) == (3, 64, 64) and tuple(t["boxes"].shape) == (0, 4)
    # The 30 x 50 black image is pasted unscaled somewhere in the window; the rest is fill.
    is_fill = (out == torch.tensor([123, 117, 104])[:, None, None]).all(0)
    assert int(is_fill.sum()) == 64 * 64 - 30 * 50
    assert int((out == 0).all(0).sum()) == 30 * 50


def test_random_square_crop_keeps_faces_whose_centre_is_inside():
    crop = RandomSquareCrop(50, scales=(0.5,))
    image, target = rect_image(100, 100, [[10, 10, 30, 30], [60, 60, 90, 90], [45, 5, 55, 15]])
    for k in range(30):
        rng = np.random.default_rng(k)
        _, t = crop(image, target, rng)
        assert 1 <= len(t["boxes"]) <= 2  # a 50 px crop cannot hold both big faces' centres
        assert (t["boxes"] >= 0).all() and (t["boxes"] <= 50).all()


def test_das_or_crop_chooses_by_probability():
    image, target = rect_image(200, 200, [[90, 90, 110, 110]])
    never = DataAnchorSamplingOrCrop(0.0, 64, scales=(1.0,))
    for k in range(5):
        _, t = never(image, target, np.random.default_rng(k))
        expected = torch.tensor([[28.8, 28.8, 35.2, 35.2]])  # the whole image, scaled 0.32x
        torch.testing.assert_close(t["boxes"].as_subclass(torch.Tensor), expected)
    always = DataAnchorSamplingOrCrop(1.0, 64, scales=(1.0,))
    sides = {
        round(float(b[2] - b[0]), 1)
        for k in range(10)
        for b in always(image, target, np.random.default_rng(k))[1]["boxes"]
    }
    assert len(sides) > 5


def test_drop_small_faces_uses_the_shorter_side():
    image, _ = rect_image(50, 50, [])
    boxes = [[0, 0, 10, 5], [0, 0, 6, 20], [0, 0, 5.9, 20]]
    target = {"boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(50, 50))}
    _, t = DropSmallFaces(6.0)(image, target, np.random.default_rng(0))
    assert t["boxes"].tolist() == [[0.0, 0.0, 6.0, 20.0]]


def mid_image(seed=0):
    g = torch.Generator().manual_seed(seed)
    return tv_tensors.Image(torch.rand(3, 16, 16, generator=g) * 0.5 + 0.25)


def test_photometric_steps_match_their_definitions():
    x = mid_image()
    tgt = {"boxes": torch.zeros(0, 4)}

    def single(**kw):
        base = dict(brightness=0.0, contrast=(1.0, 1.0), saturation=(1.0, 1.0), hue=0.0)
        return PhotometricDistort(1.0, **{**base, **kw})

    rng = np.random.default_rng(0)
    out, _ = single(brightness=0.1)(x, tgt, rng)
    delta = np.random.default_rng(0)
    delta.random()
    d = delta.uniform(-0.1, 0.1)
    torch.testing.assert_close(out, (x + d).clamp(0, 1), atol=1e-6, rtol=0)

    for kw, ref in [
        (dict(contrast=(1.4, 1.4)), lambda t: TF.adjust_contrast(t, 1.4)),
        (dict(saturation=(0.3, 0.3)), lambda t: TF.adjust_saturation(t, 0.3)),
    ]:
        out, _ = single(**kw)(x, tgt, np.random.default_rng(1))
        # torchvision's grey weights are 0.2989/0.587/0.114 (ours 0.299): a 1e-4 difference.
        torch.testing.assert_close(out, ref(x.as_subclass(torch.Tensor)), atol=5e-4, rtol=0)

    out, _ = single(hue=18.0)(x, tgt, np.random.default_rng(2))
    luma = torch.tensor([0.299, 0.587, 0.114])[:, None, None]
    torch.testing.assert_close((out * luma).sum(0), (x * luma).sum(0), atol=1e-5, rtol=0)
    assert (out - x).abs().max() > 1e-3


def test_photometric_output_and_probability():
    x = tv_tensors.Image(torch.randint(0, 256, (3, 20, 24), dtype=torch.uint8))
    tgt = {"boxes": torch.zeros(0, 4)}
    out, _ = PhotometricDistort(0.0)(x, tgt, np.random.default_rng(0))
    assert out.dtype == torch.float32
    as_float = TF.to_dtype(x.as_subclass(torch.Tensor), torch.float32, scale=True)
    assert torch.equal(out, as_float)
    changed = 0
    for k in range(20):
        out, _ = PhotometricDistort()(x, tgt, np.random.default_rng(k))
        assert out.dtype == torch.float32 and out.min() >= 0 and out.max() <= 1
        changed += not torch.equal(out, as_float)
    assert 14 <= changed < 20  # all four steps skipped with probability 1/16


def test_train_and_eval_pipelines_output():
    image, target = rect_image(70, 90, [[10, 10, 40, 40], [60, 50, 64, 54]])
    for k in range(10):
        out, t = train_transforms(32, min_face=3.0)(image, target, np.random.default_rng(k))
        assert out.dtype == torch.float32 and tuple(out.shape) == (3, 32, 32)
        assert out.min() >= 0 and out.max() <= 1
        wh = t["boxes"][:, 2:] - t["boxes"][:, :2]
        assert (wh >= 3.0).all()
    out, t = eval_transforms()(image, target, np.random.default_rng(0))
    as_float = TF.to_dtype(image.as_subclass(torch.Tensor), torch.float32, scale=True)
    assert tuple(out.shape) == (3, 70, 90) and torch.equal(out, as_float)
    assert torch.equal(t["boxes"], target["boxes"])


def test_transforms_reject_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        DataAnchorSampling(0)
    with pytest.raises(ValueError, match="p must"):
        RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match="min_size"):
        DropSmallFaces(-1)
    image, _ = rect_image(10, 10, [[1, 1, 2, 2]])
    bad = {"boxes": tv_tensors.BoundingBoxes([[1, 1, 2, 2]], format="XYXY", canvas_size=(5, 5))}
    with pytest.raises(ValueError, match="canvas_size"):
        RandomSquareCrop(8)(image, bad, np.random.default_rng(0))


# --------------------------------------------------------------------------------------------
# collate and loader
# --------------------------------------------------------------------------------------------


def test_collate_pads_images_and_boxes():
    a = (torch.full((3, 5, 7), 0.5), {"boxes": torch.tensor([[1.0, 1, 3, 3]]), "image_id": "a"})
    b = (
        torch.full((3, 9, 4), 255, dtype=torch.uint8),
        {"boxes": torch.tensor([[0.0, 0, 1, 1], [2, 2, 4, 4]]), "orig_size": (90, 40)},
    )
    out = collate_detection([a, b])
    assert isinstance(out, Batch) and len(out) == 2
    assert tuple(out.images.shape) == (2, 3, 9, 7) and out.images.dtype == torch.float32
    assert (out.images[0, :, :5, :7] == 0.5).all() and (out.images[0, :, 5:] == 0).all()
    assert (out.images[1, :, :, :4] == 1.0).all() and (out.images[1, :, :, 4:] == 0).all()
    assert out.gt_valid.tolist() == [[True, False], [True, True]]
    assert out.gt_boxes[0].tolist() == [[1, 1, 3, 3], [0, 0, 0, 0]]
    assert out.image_ids == ["a", ""]
    assert out.sizes.tolist() == [[5, 7], [9, 4]] and out.orig_sizes.tolist() == [[5, 7], [90, 40]]
    padded = make_collate(8)([a, b])
    assert tuple(padded.images.shape) == (2, 3, 16, 8)
    moved = out.to("meta")
    assert moved.images.device.type == "meta" and moved.gt_valid.dtype == torch.bool


def test_collate_batch_without_faces():
    out = collate_detection([(torch.zeros(3, 4, 4), {"boxes": torch.zeros(0, 4)})] * 3)
    assert tuple(out.gt_boxes.shape) == (3, 0, 4) and tuple(out.gt_valid.shape) == (3, 0)
    with pytest.raises(ValueError, match="pad_to"):
        collate_detection([], pad_to=0)


def epoch_batches(loader, epoch, start_batch=0):
    loader.set_epoch(epoch, start_batch)
    return list(loader)


def assert_same_batches(xs, ys):
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys, strict=True):
        assert x.image_ids == y.image_ids
        assert torch.equal(x.images, y.images)
        assert torch.equal(x.gt_boxes, y.gt_boxes) and torch.equal(x.gt_valid, y.gt_valid)


def test_loader_batches_do_not_depend_on_workers_and_resume_exactly(tmp_path):
    ds = small_set(tmp_path, n=8)
    ds.transform = train_transforms(32)
    serial = build_train_loader(ds, 2, workers=0, seed=5)
    parallel = build_train_loader(ds, 2, workers=2, seed=5)
    e1 = epoch_batches(serial, 1)
    assert len(e1) == 4
    assert_same_batches(e1, epoch_batches(parallel, 1))
    assert_same_batches(e1[2:], epoch_batches(serial, 1, start_batch=2))
    e2 = epoch_batches(serial, 2)
    assert [b.image_ids for b in e1] != [b.image_ids for b in e2]
    assert sorted(i for b in e2 for i in b.image_ids) == sorted(a.name for a in ds.annotations)
