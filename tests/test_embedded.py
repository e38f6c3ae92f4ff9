"""The embedded WIDER-format data set: layout, boxes, identity split, determinism, caching, and
the default set's folder (``embedded_root`` / ``ensure_embedded``)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("PIL")
pytest.importorskip("skimage")

from PIL import Image

from hambox_core.datasets import ATTRIBUTE_NAMES, read_wider_annotations
from hambox_core.evaluation.widerface import SETTINGS, evaluate, load_ground_truth
from hambox_torch.data.embedded import (
    EVENTS,
    MANIFEST_NAME,
    Difficulty,
    embedded_root,
    ensure_embedded,
    face_pools,
    generate_embedded,
    keep_lists,
    read_manifest,
    render_image,
)

SMALL = ((128, 192), (128, 192))
TINY = ((64, 80), (64, 80))


def _tree(root):
    """``{relative path: bytes}`` of every file under ``root``."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("embedded")
    generate_embedded(root, seed=3, num_train=4, num_val=12, image_size=SMALL, progress=False)
    return root


def test_layout_is_what_the_wider_readers_read(small_set):
    root = small_set
    for split, n in (("train", 4), ("val", 12)):
        anns = read_wider_annotations(root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt")
        assert len(anns) == n
        listed = {a.name for a in anns}
        on_disk = {
            p.relative_to(root / f"WIDER_{split}" / "images").as_posix()
            for p in (root / f"WIDER_{split}" / "images").rglob("*.jpg")
        }
        assert listed == on_disk
        for ann in anns:
            event, file = ann.name.split("/")
            assert event in EVENTS.values()
            assert re.fullmatch(r"\d+--\w+", event)
            assert file.startswith(event.split("--")[0] + "_")
            with Image.open(root / f"WIDER_{split}" / "images" / ann.name) as im:
                assert im.format == "JPEG" and im.mode == "RGB"
                w, h = im.size
            assert SMALL[0][0] <= h <= SMALL[0][1] and SMALL[1][0] <= w <= SMALL[1][1]
            b = ann.boxes
            assert np.array_equal(b, np.round(b))  # integer boxes
            assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all()
            assert (b[:, 2] <= w).all() and (b[:, 3] <= h).all()
            assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
            assert ann.attributes.shape == (len(ann), 6)
        # WIDER lists images event by event
        events = [a.name.split("/")[0] for a in anns]
        assert events == sorted(events, key=lambda e: int(e.split("--")[0]))


def test_val_mat_files_round_trip_and_score_ground_truth_at_ap_1(small_set):
    gt_dir = small_set / "eval_tools" / "ground_truth"
    names = {p.name for p in gt_dir.iterdir()}
    assert names == {
        "wider_face_val.mat",
        "wider_easy_val.mat",
        "wider_medium_val.mat",
        "wider_hard_val.mat",
    }
    gt = load_ground_truth(gt_dir)
    anns = read_wider_annotations(small_set / "wider_face_split" / "wider_face_val_bbx_gt.txt")
    assert gt.keys() == [(a.name.split("/")[0], a.name.split("/")[1][:-4]) for a in anns]
    assert np.array_equal(gt.boxes, np.concatenate([a.xywh() for a in anns]))
    for s in SETTINGS:
        assert gt.num_faces(s) > 0, s
    # easy ⊂ medium ⊂ hard, and the files hold exactly keep_lists' rule
    assert not (gt.keep["easy"] & ~gt.keep["medium"]).any()
    assert not (gt.keep["medium"] & ~gt.keep["hard"]).any()
    # the per-face labels, as the official wider_face_val.mat holds them (breakdowns use them)
    assert set(gt.attributes) == set(ATTRIBUTE_NAMES)
    for col, name in enumerate(ATTRIBUTE_NAMES):
        assert np.array_equal(
            gt.attributes[name], np.concatenate([a.attributes[:, col] for a in anns])
        )
    rule = [keep_lists(a.boxes, a.attributes) for a in anns]
    for s in SETTINGS:
        assert np.array_equal(gt.keep[s], np.concatenate([r[s] for r in rule]))
    preds = {}
    for i, key in enumerate(gt.keys()):
        boxes = gt.image_boxes(i)
        preds[key] = np.concatenate([boxes, np.linspace(1, 0.5, len(boxes))[:, None]], axis=1)
    assert evaluate(preds, gt) == {"easy": 1.0, "medium": 1.0, "hard": 1.0}


def test_boxes_cover_the_pasted_face_masks():
    checked = 0
    for index in range(10):
        img = render_image(1, "val", index, image_size=SMALL, debug=True)
        H, W = img.image.shape[:2]
        assert len(img.alphas) == len(img.boxes)
        for (y0, x0, alpha), box in zip(img.alphas, img.boxes, strict=True):
            bx0, by0, bx1, by1 = box.tolist()
            ys, xs = np.nonzero(alpha >= 0.5)
            cy, cx = ys + y0 + 0.5, xs + x0 + 0.5  # pixel centres
            # the mask's core lies inside the box ...
            assert (cx >= bx0).all() and (cx <= bx1).all() and (cy >= by0).all()
            assert (cy <= by1).all()
            # ... and fills most of it (an inscribed ellipse covers pi/4 of its box)
            area = (bx1 - bx0) * (by1 - by0)
            assert len(ys) >= 0.35 * area, (index, box)
            my, mx = int((by0 + by1) / 2) - y0, int((bx0 + bx1) / 2) - x0
            assert alpha[my, mx] > 0.9
            # soft edge: the mask is not a square paste
            assert ((alpha > 0.02) & (alpha < 0.98)).any()
            assert 0 <= y0 and y0 + alpha.shape[0] <= H and 0 <= x0 and x0 + alpha.shape[1] <= W
            checked += 1
    assert checked > 15


def test_train_and_val_identities_are_disjoint():
    pools = face_pools()
    assert len(pools["train"]) == 80 and len(pools["val"]) == 20
    assert not set(pools["train"].tolist()) & set(pools["val"].tolist())
    assert set(pools["train"].tolist()) | set(pools["val"].tolist()) == set(range(100))
    for split in ("train", "val"):
        seen = set()
        for index in range(8):
            seen |= set(render_image(0, split, index, image_size=SMALL).identities.tolist())
        assert seen and seen <= set(pools[split].tolist()), split


def test_same_seed_gives_identical_files_other_seed_differs(tmp_path):
    kwargs = dict(num_train=2, num_val=2, image_size=TINY, progress=False)
    a = _tree(generate_embedded(tmp_path / "a", seed=5, **kwargs))
    b = _tree(generate_embedded(tmp_path / "b", seed=5, **kwargs))
    c = _tree(generate_embedded(tmp_path / "c", seed=6, **kwargs))
    assert a == b
    jpgs = [k for k in a if k.endswith(".jpg")]
    assert len(jpgs) == 4
    assert [a[k] for k in sorted(a) if k.endswith(".jpg")] != [
        c[k] for k in sorted(c) if k.endswith(".jpg")
    ]


def test_an_image_does_not_depend_on_the_set_size():
    a = render_image(2, "train", 7, image_size=TINY)
    b = render_image(2, "train", 7, image_size=TINY)
    other = render_image(2, "val", 7, image_size=TINY)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.image, other.image) or a.image.shape != other.image.shape


def test_manifest_caches_and_regenerates(tmp_path):
    root = tmp_path / "set"
    kwargs = dict(seed=0, num_train=1, num_val=2, image_size=TINY, progress=False)
    generate_embedded(root, **kwargs)
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest["complete"] and manifest["counts"]["val"]["images"] == 2
    jpg = next((root / "WIDER_train").rglob("*.jpg"))
    stamp = jpg.stat().st_mtime_ns
    (root / "marker").write_text("kept")  # a cached call touches nothing
    generate_embedded(root, **kwargs)
    assert jpg.stat().st_mtime_ns == stamp
    # other parameters: regenerated in place
    generate_embedded(root, **{**kwargs, "num_val": 3})
    anns = read_wider_annotations(root / "wider_face_split" / "wider_face_val_bbx_gt.txt")
    assert len(anns) == 3
    assert json.loads((root / MANIFEST_NAME).read_text())["params"]["num_val"] == 3
    # an interrupted run (manifest not complete) is regenerated
    m = json.loads((root / MANIFEST_NAME).read_text())
    (root / MANIFEST_NAME).write_text(json.dumps({**m, "complete": False}))
    generate_embedded(root, **{**kwargs, "num_val": 3})
    assert json.loads((root / MANIFEST_NAME).read_text())["complete"]


def _public_tree(root):
    """:func:`_tree` without the generator's staging folders (what a reader of the set sees)."""
    return {k: v for k, v in _tree(root).items() if not k.startswith(".hambox_embedded.staging")}


def test_regeneration_keeps_the_old_set_until_the_new_one_is_complete(tmp_path, monkeypatch):
    from hambox_torch.data.embedded import writer

    root = tmp_path / "set"
    kwargs = dict(seed=0, num_train=1, num_val=2, image_size=TINY, progress=False)
    old = _public_tree(generate_embedded(root, **kwargs))
    seen = []
    real = writer._write_images

    def spy(where, *args):
        # while the new set is rendered elsewhere, a reader of root finds the old files as they were
        seen.append((where != root, _public_tree(root) == old))
        return real(where, *args)

    monkeypatch.setattr(writer, "_write_images", spy)
    generate_embedded(root, **{**kwargs, "num_val": 3})
    assert seen == [(True, True), (True, True)]  # train, then val
    anns = read_wider_annotations(root / "wider_face_split" / "wider_face_val_bbx_gt.txt")
    assert len(anns) == 3 and read_manifest(root)["complete"]
    assert not list(root.glob(".hambox_embedded.staging-*"))  # nothing left behind


def test_an_interrupted_generation_leaves_the_old_set(tmp_path, monkeypatch):
    from hambox_torch.data.embedded import writer

    root = tmp_path / "set"
    kwargs = dict(seed=0, num_train=1, num_val=1, image_size=TINY, progress=False)
    old = _tree(generate_embedded(root, **kwargs))

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "_write_images", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate_embedded(root, **{**kwargs, "num_val": 2})
    assert _tree(root) == old  # the old set, complete, and no staging folder
    monkeypatch.undo()
    # A staging folder left by a killed process: removed by the next generation, and it does
    # not make an otherwise empty folder look like someone else's data.
    fresh = tmp_path / "fresh"
    (fresh / ".hambox_embedded.staging-killed" / "WIDER_val").mkdir(parents=True)
    generate_embedded(fresh, **kwargs)
    assert read_manifest(fresh)["complete"]
    assert not list(fresh.glob(".hambox_embedded.staging-*"))


def test_two_generators_at_once_render_the_set_once(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from hambox_torch.data.embedded import writer

    rendered = []
    real = writer.render_image

    def counting(*args, **kwargs):
        rendered.append(args[1:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "render_image", counting)
    root = tmp_path / "set"
    kwargs = dict(seed=0, num_train=1, num_val=2, image_size=TINY, progress=False)
    with ThreadPoolExecutor(2) as pool:
        roots = list(pool.map(lambda _: generate_embedded(root, **kwargs), range(2)))
    assert roots == [root, root]
    # the lock makes the second wait and then reuse the first one's set
    assert sorted(rendered) == [("train", 0), ("val", 0), ("val", 1)]
    assert read_manifest(root)["complete"]


def test_foreign_folder_is_refused_unless_overwrite(tmp_path):
    root = tmp_path / "wider"
    (root / "WIDER_val").mkdir(parents=True)
    (root / "WIDER_val" / "real.jpg").write_bytes(b"x")
    (root / "notes.txt").write_text("mine")
    kwargs = dict(num_train=1, num_val=1, image_size=TINY, progress=False)
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_embedded(root, **kwargs)
    assert (root / "WIDER_val" / "real.jpg").exists()
    generate_embedded(root, overwrite=True, **kwargs)
    assert not (root / "WIDER_val" / "real.jpg").exists()
    assert (root / "notes.txt").read_text() == "mine"  # only the WIDER paths are replaced
    assert (root / MANIFEST_NAME).exists()


def test_face_sizes_span_6_to_256_px():
    sizes, attrs = [], []
    for index in range(40):
        img = render_image(0, "train", index)
        b = img.boxes.astype(np.float64)
        sizes.append(np.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])))
        attrs.append(img.attributes)
    sizes = np.concatenate(sizes)
    attrs = np.concatenate(attrs)
    assert sizes.min() >= 6
    assert np.percentile(sizes, 10) <= 10  # crowds of small faces
    assert sizes.max() >= 150
    assert ((sizes >= 16) & (sizes < 64)).sum() > 0.1 * len(sizes)
    # every degradation shows up in the honest attributes
    assert (attrs[:, 0] > 0).any() and (attrs[:, 2] > 0).any() and (attrs[:, 4] == 1).any()
    assert (attrs[:, 4] == 2).any()


def test_scenes_include_crowds_of_dozens_of_faces():
    crowd = Difficulty(scene_weights=(1, 0, 0, 0), extra_faces=(0, 0))
    img = render_image(0, "val", 0, difficulty=crowd)
    assert img.scene == "crowd" and len(img.boxes) >= 20
    scenery = Difficulty(scene_weights=(0, 0, 0, 1))
    empty = render_image(0, "val", 0, image_size=TINY, difficulty=scenery)
    assert empty.scene == "scenery" and empty.boxes.shape == (0, 4)


def test_keep_list_rule():
    boxes = np.array([[0, 0, 40, 40], [0, 0, 40, 40], [0, 0, 40, 40], [0, 0, 15, 16]], np.float32)
    attrs = np.zeros((4, 6), np.int64)
    attrs[1, 4] = 1  # partial occlusion: medium, not easy
    attrs[2, 4] = 2  # heavy occlusion: hard only
    keep = keep_lists(boxes, attrs)
    assert keep["easy"].tolist() == [True, False, False, False]
    assert keep["medium"].tolist() == [True, True, False, False]
    assert keep["hard"].tolist() == [True, True, True, True]
    attrs[0, 3] = 1  # invalid: in no list
    assert not any(keep_lists(boxes, attrs)[s][0] for s in SETTINGS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_train": 0}, "num_train"),
        ({"num_val": 1.5}, "num_val"),
        ({"seed": -1}, "seed"),
        ({"image_size": ((64, 32), (64, 64))}, "image_size"),
        ({"image_size": (64, 64)}, "image_size"),
        ({"difficulty": "hard"}, "difficulty"),
    ],
)
def test_bad_arguments_raise(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_embedded(tmp_path, progress=False, **kwargs)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("p_blur", 1.5),
        ("crowd_size", (3.0, 20.0)),
        ("blur", (0.1, 0.05)),
        ("scene_weights", (0, 0, 0, 0)),
    ],
)
def test_bad_difficulty_raises(field, value):
    with pytest.raises(ValueError, match=field):
        Difficulty(**{field: value})


def test_a_complete_set_with_a_file_deleted_is_regenerated(tmp_path):
    root = tmp_path / "set"
    kwargs = dict(seed=0, num_train=2, num_val=2, image_size=TINY, progress=False)
    before = _tree(generate_embedded(root, **kwargs))
    jpg = next((root / "WIDER_val").rglob("*.jpg"))
    jpg.unlink()
    (root / "eval_tools" / "ground_truth" / "wider_hard_val.mat").unlink()
    assert read_manifest(root)["complete"]  # the manifest alone still says complete
    assert _tree(generate_embedded(root, **kwargs)) == before


def test_read_manifest_of_a_folder_without_one(tmp_path):
    assert read_manifest(tmp_path) is None
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    assert read_manifest(tmp_path) is None


def test_embedded_root_follows_hambox_data(tmp_path, monkeypatch):
    monkeypatch.setenv("HAMBOX_DATA", str(tmp_path / "data"))
    assert embedded_root() == tmp_path / "data" / "embedded"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HAMBOX_DATA", "~/elsewhere")
    assert embedded_root() == tmp_path / "home" / "elsewhere" / "embedded"
    monkeypatch.delenv("HAMBOX_DATA")
    assert embedded_root() == tmp_path / "home" / ".cache" / "hambox" / "embedded"


def test_ensure_embedded_never_replaces_foreign_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HAMBOX_DATA", str(tmp_path))
    (tmp_path / "embedded" / "WIDER_val").mkdir(parents=True)
    (tmp_path / "embedded" / "WIDER_val" / "mine.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="overwrite"):
        ensure_embedded(progress=False)
    assert (tmp_path / "embedded" / "WIDER_val" / "mine.jpg").read_bytes() == b"x"


@pytest.mark.slow
def test_ensure_embedded_generates_the_default_set_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HAMBOX_DATA", str(tmp_path))
    root = ensure_embedded(progress=False)
    assert root == tmp_path / "embedded" == embedded_root()
    counts = read_manifest(root)["counts"]
    # the numbers docs/guide/embedded.rst quotes for the default set
    assert counts["train"] == {"images": 800, "faces": 15387}
    assert counts["val"] == {
        "images": 200,
        "faces": 3217,
        "faces_easy": 281,
        "faces_medium": 1086,
        "faces_hard": 3214,
    }
    manifest = root / MANIFEST_NAME
    stamp = manifest.stat().st_mtime_ns
    assert ensure_embedded(progress=False) == root  # complete: reused, nothing rewritten
    assert manifest.stat().st_mtime_ns == stamp
