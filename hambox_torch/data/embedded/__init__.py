"""The embedded default data set: a deterministic WIDER FACE–format mini set, generated offline.

No face benchmark may be downloaded at run time, so the demo trains and evaluates on a small set
that this module composes from material scikit-image ships: the 100 face crops of
:func:`skimage.data.lfw_subset` (grey 25x25, first 100 of its 200 crops) as faces, its 100
non-face crops and other textures as distractors, and its photographs as backgrounds. It is a
smoke-scale benchmark, never to be quoted as WIDER FACE accuracy.

What :func:`generate_embedded` writes under ``root`` is exactly the WIDER FACE layout, so every
reader, the training recipe and the official evaluation run on it unchanged::

    WIDER_train/images/<event>/<event-id>_<Event>_hambox_<n>.jpg
    WIDER_val/images/<event>/<event-id>_<Event>_hambox_<n>.jpg
    wider_face_split/wider_face_train_bbx_gt.txt      (official 10-column rows)
    wider_face_split/wider_face_val_bbx_gt.txt
    eval_tools/ground_truth/wider_face_val.mat        (+ wider_{easy,medium,hard}_val.mat)
    hambox_embedded.json                              (manifest: version, parameters, counts)

How an image is made (every random choice comes from one generator seeded by ``(seed, split,
image index)``, so the same seed gives byte-identical files, and image ``n`` does not depend on
how many images are generated):

1. **Scene.** One of four, each its own event folder: ``0--Crowd`` (up to ~100 faces of 6-20 px
   in rows that grow towards the bottom, as in WIDER crowds), ``1--Portrait`` (1-3 large faces),
   ``2--Group`` (5-20 medium faces in 1-3 rows) and ``3--Scenery`` (no face, only distractors).
   Every scene with faces also gets a few faces at sizes log-uniform over the whole range.
2. **Background.** A random crop of a photograph or texture bundled with scikit-image (rescaled,
   flipped, colour-shifted; grey ones tinted), sometimes blended with a second one. The two
   photographs that show a real person (``astronaut``, ``camera``) are used only in regions
   without the face, which would otherwise be an unannotated face.
3. **Faces.** Train images use 80 of the 100 LFW face crops, val images the other 20 (a fixed
   permutation, :func:`face_pools`; every crop is its own identity, the subset has no labels).
   The annotated box is the central face area of the crop (:data:`FACE_BOX`, forehead to chin,
   cheek to cheek), what a WIDER annotator would draw; its size ``sqrt(w * h)`` is drawn per
   scene (log-uniform ranges of :class:`Difficulty`) and its aspect ``h / w`` from 1.0 to 1.3.
   The crop is resampled so that its face area lands on the integer box, tinted to a skin tone,
   jittered in colour, and **blended with a feathered elliptical alpha mask** inscribed in the
   box, never pasted as a square. Per object, at random: gaussian blur, darkening (with a soft
   shadow on the background around it) or else low contrast towards the background, noise, and
   an occluder (a bar or blob of flat colour or background texture) over part of the box.
4. **Distractors.** Non-face LFW crops, block-scrambled face crops of the same split and plain
   texture crops, at the sizes of the image's faces, through exactly the same mask, colour and
   degradation pipeline (crowd rows get some too), so that "a blended ellipse" is no face cue.
5. **Global.** Sometimes low light (gain and gamma), haze (low contrast) or blur over the whole
   image, and noise; then JPEG at a fixed quality.

Objects are pasted from the top of the image to the bottom, so front rows may cover the chins
of the rows behind a little. The attribute columns are filled from what was generated (the
format's ``blur expression illumination invalid occlusion pose``):

* ``blur``: 0, 1 or 2 as the effective gaussian sigma (object and global blur together) is
  below 4 %, below 8 % or at least 8 % of the face size. The softness that upscaling a 25 px
  crop gives large faces is not counted.
* ``illumination``: 1 (extreme) when the face was darkened below ``0.45`` of its brightness,
  its contrast cut below ``0.45``, or the whole image made dark or hazy to the same degree.
* ``occlusion``: from the fraction of the face's alpha mass covered by what was pasted after it
  (occluders, other faces, distractors): 0 below 5 %, 1 up to 30 %, 2 above (WIDER's "partial"
  and "heavy").
* ``invalid``: 1 when more than 70 % is covered (the layout avoids it; such a face is in no
  keep list). ``expression`` and ``pose`` are 0: the LFW crops are near-frontal.

The val keep lists (:func:`keep_lists`, by face size ``sqrt(w * h)`` of the integer box):
**hard** = every valid face (all are at least 6 px); **medium** = hard faces of at least
16 px that are not heavily occluded; **easy** = medium faces of at least 40 px without
occlusion, heavy blur or extreme illumination. So easy ⊂ medium ⊂ hard, as in the official
set.

Examples
--------
>>> img = render_image(0, "val", 3, image_size=((64, 64), (96, 96)))
>>> img.image.shape, img.image.dtype
((64, 96, 3), dtype('uint8'))
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hambox_core.datasets import WiderAnnotation, write_wider_annotations
from hambox_core.evaluation.widerface import SETTINGS, WiderGroundTruth, write_ground_truth

__all__ = [
    "EVENTS",
    "FACE_BOX",
    "GENERATOR_VERSION",
    "MANIFEST_NAME",
    "SCENES",
    "Difficulty",
    "SyntheticImage",
    "face_pools",
    "generate_embedded",
    "keep_lists",
    "main",
    "render_image",
]

#: Bump when a change makes the same parameters give other files (invalidates cached sets).
GENERATOR_VERSION = 2
#: The manifest file written last into ``root``; its presence marks a complete set.
MANIFEST_NAME = "hambox_embedded.json"
#: Scene types, in event-id order.
SCENES = ("crowd", "portrait", "group", "scenery")
#: Event folder of each scene, named like the official ``<id>--<Name>`` folders.
EVENTS = {
    "crowd": "0--Crowd",
    "portrait": "1--Portrait",
    "group": "2--Group",
    "scenery": "3--Scenery",
}
#: The face area of an LFW crop as fractions ``(x0, y0, x1, y1)`` of the crop: cheek to cheek,
#: eyebrows/forehead to chin (the crops are cut tight around the face). The annotated box is
#: where this area lands in the image.
FACE_BOX = (0.1, 0.06, 0.9, 0.96)

_CROP = 25  # side of an LFW crop in pixels
_NUM_FACES = 100  # lfw_subset(): crops 0..99 are faces, 100..199 are not
_FACE_SPLIT_SEED = 20200614  # fixed: the identity split never depends on the user's seed
_NUM_TRAIN_IDENTITIES = 80
_SPLIT_CODES = {"train": 0, "val": 1}
_MIN_FACE = 6  # the hard setting's size floor (every generated face is at least this big)
_MEDIUM_MIN, _EASY_MIN = 16, 40
_ELLIPSE_SCALE = (0.98, 1.08)  # ellipse radii / half box sides
_MAX_SOURCE_SIDE = 720  # larger source photographs are shrunk once, at load
_SKIN_TONES = np.array(  # RGB gains over the grey crop, light to dark
    [
        [1.10, 0.93, 0.82],
        [1.08, 0.88, 0.74],
        [1.05, 0.84, 0.68],
        [1.00, 0.78, 0.62],
        [0.92, 0.70, 0.55],
        [0.85, 0.62, 0.48],
    ],
    dtype=np.float32,
)


# --------------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difficulty:
    """The knobs of the generator: what a scene holds and how hard each object is to see.

    Sizes are ``sqrt(w * h)`` of a face box in pixels; ``(lo, hi)`` pairs are inclusive ranges
    (sizes drawn log-uniformly, the rest uniformly); ``p_*`` are per-object (or, for
    ``p_global_*``, per-image) probabilities. The same degradations apply to distractors.

    Attributes
    ----------
    scene_weights : tuple of 4 float
        Relative frequency of the scenes crowd, portrait, group, scenery (no face).
    crowd_faces, crowd_size : (int, int), (float, float)
        Faces per crowd and their sizes (back rows small, front rows bigger).
    portrait_faces, portrait_size, group_faces, group_size :
        The same for portraits and groups.
    extra_faces, extra_size :
        Faces added anywhere in every scene with faces, at sizes over the whole range.
    aspect : (float, float)
        Box aspect ``h / w``.
    max_overlap : float
        Largest intersection a face may have with another face, over the smaller box's area.
    distractors : (int, int)
        Distractors per image besides ``distractor_ratio`` per face.
    distractor_ratio : float
        Extra distractors per face (rounded).
    row_distractor : float
        Probability that a slot of a crowd or group row holds a distractor instead of a face.
    distractor_kinds : tuple of 3 float
        Relative frequency of non-face LFW crops, block-scrambled face crops, texture crops.
    feather : (float, float)
        Width of the mask's soft edge, as a fraction of the ellipse radius.
    p_gray, p_blur, blur :
        Probability to keep an object grey (no skin tint); probability and range of a gaussian
        blur, sigma as a fraction of the size.
    p_dark, dark_gain :
        Probability and range of darkening (the object and a soft shadow around it).
    p_low_contrast, contrast :
        Probability and range of a contrast cut towards the background (never on top of
        darkening, which would leave nothing to see).
    p_noise, noise :
        Probability and range of per-pixel noise (std, intensities in [0, 1]).
    p_occlusion, occlusion :
        Probability of an occluder and the fraction of the box side it covers.
    p_global_dark, global_dark_gain, p_global_haze, global_haze,
    p_global_blur, global_blur, p_global_noise, global_noise :
        Whole-image low light, haze (contrast factor), blur (sigma in pixels) and noise std.
    jpeg_quality : int
        Fixed JPEG quality of the written images.
    """

    scene_weights: tuple[float, float, float, float] = (0.2, 0.3, 0.4, 0.1)
    crowd_faces: tuple[int, int] = (20, 100)
    crowd_size: tuple[float, float] = (6.0, 20.0)
    portrait_faces: tuple[int, int] = (1, 4)
    portrait_size: tuple[float, float] = (48.0, 256.0)
    group_faces: tuple[int, int] = (4, 16)
    group_size: tuple[float, float] = (16.0, 96.0)
    extra_faces: tuple[int, int] = (1, 4)
    extra_size: tuple[float, float] = (6.0, 256.0)
    aspect: tuple[float, float] = (1.0, 1.3)
    max_overlap: float = 0.2
    distractors: tuple[int, int] = (2, 8)
    distractor_ratio: float = 0.3
    row_distractor: float = 0.1
    distractor_kinds: tuple[float, float, float] = (0.4, 0.3, 0.3)
    feather: tuple[float, float] = (0.15, 0.4)
    p_gray: float = 0.1
    p_blur: float = 0.3
    blur: tuple[float, float] = (0.02, 0.07)
    p_dark: float = 0.2
    dark_gain: tuple[float, float] = (0.25, 0.6)
    p_low_contrast: float = 0.2
    contrast: tuple[float, float] = (0.2, 0.6)
    p_noise: float = 0.3
    noise: tuple[float, float] = (0.02, 0.08)
    p_occlusion: float = 0.25
    occlusion: tuple[float, float] = (0.1, 0.5)
    p_global_dark: float = 0.1
    global_dark_gain: tuple[float, float] = (0.25, 0.6)
    p_global_haze: float = 0.08
    global_haze: tuple[float, float] = (0.35, 0.75)
    p_global_blur: float = 0.1
    global_blur: tuple[float, float] = (0.5, 1.2)
    p_global_noise: float = 0.5
    global_noise: tuple[float, float] = (0.005, 0.03)
    jpeg_quality: int = 85

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name.startswith("p_") or f.name in ("max_overlap", "row_distractor"):
                if not 0.0 <= float(v) <= 1.0:
                    raise ValueError(f"Difficulty.{f.name} must lie in [0, 1], got {v}")
            elif f.name in ("scene_weights", "distractor_kinds"):
                w = np.asarray(v, dtype=np.float64)
                expected = 4 if f.name == "scene_weights" else 3
                if w.shape != (expected,) or (w < 0).any() or not np.isfinite(w).all():
                    raise ValueError(
                        f"Difficulty.{f.name} must be {expected} non-negative weights, got {v}"
                    )
                if w.sum() <= 0:
                    raise ValueError(f"Difficulty.{f.name} must not be all zero")
            elif isinstance(v, tuple):
                if len(v) != 2 or not (0 <= v[0] <= v[1]) or not math.isfinite(v[1]):
                    raise ValueError(
                        f"Difficulty.{f.name} must be a range (lo, hi) with 0 <= lo <= hi, got {v}"
                    )
        for name in ("crowd_size", "portrait_size", "group_size", "extra_size"):
            lo, _ = getattr(self, name)
            if lo < _MIN_FACE:
                raise ValueError(f"Difficulty.{name} must start at {_MIN_FACE} px or more")
        for name in ("crowd_faces", "portrait_faces", "group_faces", "extra_faces", "distractors"):
            lo, hi = getattr(self, name)
            if int(lo) != lo or int(hi) != hi:
                raise ValueError(f"Difficulty.{name} must hold integers, got {(lo, hi)}")
        if self.aspect[0] <= 0:
            raise ValueError(f"Difficulty.aspect must be positive, got {self.aspect}")
        if not (0 < self.feather[0] and self.feather[1] <= 1):
            raise ValueError(f"Difficulty.feather must lie in (0, 1], got {self.feather}")
        if not 1 <= int(self.jpeg_quality) <= 95:
            raise ValueError(f"Difficulty.jpeg_quality must lie in 1..95, got {self.jpeg_quality}")

    def to_json(self) -> dict:
        """The parameters as a JSON-ready dict (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }


@dataclass(frozen=True, eq=False)
class SyntheticImage:
    """One generated image and its faces.

    Attributes
    ----------
    image : ndarray of shape (H, W, 3), uint8
        RGB pixels, before JPEG coding.
    boxes : ndarray of shape (N, 4), float32
        Faces as xyxy boxes with integer coordinates, inside the image.
    attributes : ndarray of shape (N, 6), int64
        ``blur expression illumination invalid occlusion pose`` per face (see the module text).
    identities : ndarray of shape (N,), int64
        Index of each face's crop in :func:`skimage.data.lfw_subset` (0..99).
    scene : str
        One of :data:`SCENES`.
    alphas : list of (int, int, ndarray) or None
        With ``debug=True``: per face, ``(y0, x0, alpha)`` where ``alpha`` (float32, values in
        [0, 1]) is the face's blending mask on the image rows ``y0:y0 + alpha.shape[0]`` and
        columns ``x0:x0 + alpha.shape[1]``.
    """

    image: np.ndarray
    boxes: np.ndarray
    attributes: np.ndarray
    identities: np.ndarray
    scene: str
    alphas: list | None = None


# --------------------------------------------------------------------------------------------
# material from scikit-image
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _lfw() -> np.ndarray:
    """``(200, 25, 25)`` float32 LFW crops in [0, 1]: 100 faces, then 100 non-faces."""
    from skimage import data

    crops = np.asarray(data.lfw_subset(), dtype=np.float32)
    if crops.shape != (2 * _NUM_FACES, _CROP, _CROP):
        raise RuntimeError(f"unexpected skimage.data.lfw_subset() shape {crops.shape}")
    return crops


def face_pools() -> dict[str, np.ndarray]:
    """The disjoint face crops (identities) of each split: 80 for train, 20 for val.

    A fixed permutation of the 100 LFW face crops, independent of the generator's seed.

    Returns
    -------
    dict of str to ndarray of shape (K,), int64
        ``{"train": ..., "val": ...}``, sorted indices into :func:`skimage.data.lfw_subset`.

    Examples
    --------
    >>> pools = face_pools()
    >>> len(pools["train"]), len(pools["val"]), set(pools["train"]) & set(pools["val"])
    (80, 20, set())
    """
    perm = np.random.default_rng(_FACE_SPLIT_SEED).permutation(_NUM_FACES)
    return {
        "train": np.sort(perm[:_NUM_TRAIN_IDENTITIES]).astype(np.int64),
        "val": np.sort(perm[_NUM_TRAIN_IDENTITIES:]).astype(np.int64),
    }


# (name, rows, cols): astronaut and camera show a real face; only regions without it are used.
_BACKGROUNDS = (
    ("coffee", None, None),
    ("chelsea", None, None),
    ("cat", None, None),
    ("rocket", None, None),
    ("hubble_deep_field", None, None),
    ("immunohistochemistry", None, None),
    ("retina", None, None),
    ("coins", None, None),
    ("moon", None, None),
    ("brick", None, None),
    ("grass", None, None),
    ("gravel", None, None),
    ("page", None, None),
    ("text", None, None),
    ("clock", None, None),
    ("cell", None, None),
    ("horse", None, None),
    ("astronaut", slice(210, None), None),
    ("camera", slice(250, None), None),
    ("camera", None, slice(340, None)),
)


@functools.lru_cache(maxsize=1)
def _backgrounds() -> tuple:
    """The background sources as ``(RGB image, was_grey, grey image)`` (PIL images)."""
    from PIL import Image
    from skimage import data

    out = []
    for name, rows, cols in _BACKGROUNDS:
        arr = np.asarray(getattr(data, name)())
        if arr.dtype == bool:
            arr = np.where(arr, 200, 60).astype(np.uint8)
        elif arr.dtype != np.uint8:
            arr = np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8)
        grey = arr.ndim == 2
        if grey:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        arr = arr[:, :, :3]
        arr = arr[
            rows if rows is not None else slice(None), cols if cols is not None else slice(None)
        ]
        rgb = Image.fromarray(np.ascontiguousarray(arr))
        if max(rgb.size) > _MAX_SOURCE_SIDE:
            f = _MAX_SOURCE_SIDE / max(rgb.size)
            rgb = rgb.resize((round(rgb.size[0] * f), round(rgb.size[1] * f)), Image.BILINEAR)
        out.append((rgb, grey, rgb.convert("L")))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# small samplers
# --------------------------------------------------------------------------------------------


def _loguniform(rng, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _uniform(rng, pair) -> float:
    return float(rng.uniform(pair[0], pair[1]))


def _randint(rng, pair) -> int:
    return int(rng.integers(int(pair[0]), int(pair[1]) + 1))


def _box_from_size(rng, cx: float, cy: float, size: float, diff: Difficulty, W: int, H: int):
    """Integer ``(x0, y0, w, h)`` of a box of ``size = sqrt(w h)`` centred near ``(cx, cy)``."""
    a = _uniform(rng, diff.aspect)
    size = max(size, _MIN_FACE)
    w = max(int(round(size / math.sqrt(a))), 1)
    h = max(int(round(size * math.sqrt(a))), 1)
    if w * h < _MIN_FACE**2:  # rounding must not take a face below the hard setting's floor
        h = -(-(_MIN_FACE**2) // w)
    if w > W or h > H:
        return None
    x0 = int(round(min(max(cx - w / 2, 0), W - w)))
    y0 = int(round(min(max(cy - h / 2, 0), H - h)))
    return (x0, y0, w, h)


def _overlaps(box, boxes: list, limit: float) -> bool:
    """Whether ``box`` covers more than ``limit`` of the smaller of it and any of ``boxes``."""
    if not boxes:
        return False
    b = np.asarray(boxes, dtype=np.float64)
    x0, y0, w, h = box
    iw = np.minimum(x0 + w, b[:, 0] + b[:, 2]) - np.maximum(x0, b[:, 0])
    ih = np.minimum(y0 + h, b[:, 1] + b[:, 3]) - np.maximum(y0, b[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    smaller = np.minimum(w * h, b[:, 2] * b[:, 3])
    return bool((inter > limit * smaller).any())


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------


def _rows(rng, H, W, n_target, s_first, s_last, growth, gap_x, gap_y, y_start, diff, faces, dis):
    """Fill rows of boxes from ``y_start`` downwards; sizes grow row by row towards ``s_last``."""
    s = s_first
    y = y_start
    placed = 0
    while placed < n_target:
        row_w = rng.uniform(0.5, 1.0) * W
        x_left = rng.uniform(0, W - row_w)
        step = s * rng.uniform(*gap_x)
        x = x_left + rng.uniform(0, step)
        h_row = s * 1.3
        if y + h_row > H:
            break
        while x + s < x_left + row_w and placed < n_target:
            size = s * rng.uniform(0.9, 1.1)
            cx = x + s / 2 + rng.uniform(-0.15, 0.15) * s
            cy = y + s / 2 + rng.uniform(-0.15, 0.15) * s
            box = _box_from_size(rng, cx, cy, size, diff, W, H)
            x += s * rng.uniform(*gap_x)
            if box is None or rng.random() < 0.1:  # an empty slot
                continue
            if rng.random() < diff.row_distractor:
                if not _overlaps(box, faces, diff.max_overlap):
                    dis.append(box)
                continue
            if not _overlaps(box, faces, diff.max_overlap):
                faces.append(box)
                placed += 1
        y += s * rng.uniform(*gap_y)
        s = min(s * rng.uniform(*growth), s_last)
    return placed


def _scatter(rng, H, W, n, size_of, diff, faces, avoid, limit):
    """Place ``n`` boxes uniformly at random, at most 20 tries each, avoiding ``avoid``."""
    out = []
    for _ in range(n):
        for _try in range(20):
            size = size_of()
            size = min(size, 0.9 * min(H, W) / math.sqrt(diff.aspect[1]))
            box = _box_from_size(rng, rng.uniform(0, W), rng.uniform(0, H), size, diff, W, H)
            if box is not None and not _overlaps(box, avoid + out, limit):
                out.append(box)
                break
    return out


def _layout(rng, scene, H, W, diff: Difficulty):
    """Face boxes and distractor boxes, integer ``(x0, y0, w, h)``."""
    faces: list = []
    dis: list = []
    lo_cap = 0.9 * min(H, W) / math.sqrt(diff.aspect[1])  # the largest box that fits
    if scene == "crowd":
        lo, hi = diff.crowd_size
        s_first = _loguniform(rng, lo, min(hi, lo * 1.8))
        _rows(
            rng, H, W, _randint(rng, diff.crowd_faces), s_first, hi, (1.05, 1.3),
            (1.1, 1.7), (1.25, 1.6), rng.uniform(0, 0.3) * H, diff, faces, dis,
        )  # fmt: skip
    elif scene == "group":
        lo, hi = diff.group_size
        s = min(_loguniform(rng, lo, hi), lo_cap)
        n = _randint(rng, diff.group_faces)
        _rows(
            rng, H, W, n, s, s * 1.25, (1.0, 1.12), (1.3, 2.2), (1.4, 2.0),
            rng.uniform(0.05, 0.5) * H, diff, faces, dis,
        )  # fmt: skip
    elif scene == "portrait":
        lo, hi = diff.portrait_size
        n = _randint(rng, diff.portrait_faces)
        faces += _scatter(
            rng, H, W, n, lambda: _loguniform(rng, lo, hi), diff, faces, [], diff.max_overlap
        )
    if scene != "scenery":
        lo, hi = diff.extra_size
        n = _randint(rng, diff.extra_faces)
        faces += _scatter(
            rng, H, W, n, lambda: _loguniform(rng, lo, hi), diff, faces, faces, diff.max_overlap
        )
    sizes = [math.sqrt(b[2] * b[3]) for b in faces]

    def distractor_size():
        if sizes:
            return sizes[int(rng.integers(len(sizes)))] * rng.uniform(0.8, 1.25)
        return _loguniform(rng, *diff.extra_size)

    n_dis = _randint(rng, diff.distractors) + int(round(diff.distractor_ratio * len(faces)))
    if scene == "scenery":
        n_dis += _randint(rng, diff.distractors)
    dis += _scatter(rng, H, W, n_dis, distractor_size, diff, faces, faces + dis, 0.1)
    return faces, dis


# --------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------


def _background(rng, H: int, W: int) -> np.ndarray:
    """A ``(H, W, 3)`` float32 background in [0, 1]."""
    from PIL import Image

    sources = _backgrounds()
    levels = np.arange(256, dtype=np.float64) / 255.0

    def one():
        img, grey, _ = sources[int(rng.integers(len(sources)))]
        sw, sh = img.size
        scale = rng.uniform(0.3, 1.0)
        cw = min(sw, sh * W / H) * scale
        ch = cw * H / W
        cx0 = rng.uniform(0, sw - cw)
        cy0 = rng.uniform(0, sh - ch)
        out = img.resize((W, H), Image.BILINEAR, box=(cx0, cy0, cx0 + cw, cy0 + ch))
        if rng.random() < 0.5:
            out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        # colour shift (per-channel gain, brightness, gamma) as one lookup table per channel
        gains = rng.uniform(0.75, 1.25, 3) if grey else rng.uniform(0.88, 1.12, 3)
        gains = gains * rng.uniform(0.7, 1.2)
        gamma = rng.uniform(0.8, 1.25)
        lut = np.clip(levels[None, :] * gains[:, None], 0, 1) ** gamma
        out = out.point(np.round(lut.reshape(-1) * 255).astype(np.int64).tolist())
        return np.asarray(out, dtype=np.float32) * np.float32(1.0 / 255.0)

    bg = one()
    if rng.random() < 0.35:  # blend with a second source along a soft ramp at a random angle
        other = one()
        ang = rng.uniform(0, 2 * math.pi)
        xs = (np.arange(W, dtype=np.float32) - W / 2) * np.float32(math.cos(ang))
        ys = (np.arange(H, dtype=np.float32) - H / 2) * np.float32(math.sin(ang))
        width = rng.uniform(0.05, 0.4) * max(H, W)
        shift = rng.uniform(-0.3, 0.3) * min(H, W)
        m = np.clip(0.5 + (ys[:, None] + xs[None, :] - shift) / width, 0, 1)[:, :, None]
        bg += m * (other - bg)
    return bg


def _texture_patch(rng, h: int, w: int) -> np.ndarray:
    """A ``(h, w, 3)`` float32 colour crop of a background source (occluders; cheap)."""
    from PIL import Image

    img, _, _ = _backgrounds()[int(rng.integers(len(_backgrounds())))]
    sw, sh = img.size
    side = rng.uniform(0.1, 0.6) * min(sw, sh)
    cw, ch = (side, side * h / w) if h <= w else (side * w / h, side)
    x0, y0 = rng.uniform(0, sw - cw), rng.uniform(0, sh - ch)
    out = img.resize((w, h), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    gains = rng.uniform(0.6, 1.2, 3).astype(np.float32) * np.float32(1.0 / 255.0)
    return np.asarray(out, dtype=np.float32) * gains


def _texture_crop(rng) -> np.ndarray:
    """A ``(25, 25)`` grey crop of a background source at a random scale."""
    from PIL import Image

    _, _, img = _backgrounds()[int(rng.integers(len(_backgrounds())))]
    sw, sh = img.size
    side = rng.uniform(12, min(sw, sh) / 2)
    x0, y0 = rng.uniform(0, sw - side), rng.uniform(0, sh - side)
    out = img.resize((_CROP, _CROP), Image.BILINEAR, box=(x0, y0, x0 + side, y0 + side))
    return np.asarray(out, dtype=np.float32) * (1.0 / 255.0)


def _scrambled(rng, crop: np.ndarray) -> np.ndarray:
    """A face crop cut into 5x5 blocks of 5 px and shuffled: skin texture without a face."""
    blocks = crop.reshape(5, 5, 5, 5).transpose(0, 2, 1, 3).reshape(25, 5, 5)
    blocks = blocks[rng.permutation(25)]
    return blocks.reshape(5, 5, 5, 5).transpose(0, 2, 1, 3).reshape(_CROP, _CROP).copy()


def _ellipse_alpha(box, radius_scale, feather, y0, x0, h, w):
    """Smooth-stepped elliptical mask of ``box`` on the image rows/cols ``y0:y0+h, x0:x0+w``."""
    bx, by, bw, bh = box
    cx, cy = bx + bw / 2, by + bh / 2
    rx, ry = bw / 2 * radius_scale, bh / 2 * radius_scale
    xs = ((np.arange(x0, x0 + w, dtype=np.float32) + 0.5 - cx) / rx) ** 2
    ys = ((np.arange(y0, y0 + h, dtype=np.float32) + 0.5 - cy) / ry) ** 2
    t = np.sqrt(ys[:, None] + xs[None, :])
    t -= 1.0
    t *= np.float32(-1.0 / feather)
    np.clip(t, 0.0, 1.0, out=t)
    return t * t * (3.0 - 2.0 * t)


def _region(box, scale, H, W):
    """Integer rows and cols ``(y0, y1, x0, x1)`` covering the ellipse of ``box`` at ``scale``."""
    bx, by, bw, bh = box
    cx, cy = bx + bw / 2, by + bh / 2
    rx, ry = bw / 2 * scale, bh / 2 * scale
    x0, x1 = max(int(math.floor(cx - rx)), 0), min(int(math.ceil(cx + rx)), W)
    y0, y1 = max(int(math.floor(cy - ry)), 0), min(int(math.ceil(cy + ry)), H)
    return y0, y1, x0, x1


def _resample(crop: np.ndarray, box, y0, y1, x0, x1) -> np.ndarray:
    """The crop resampled so that its :data:`FACE_BOX` area lands on ``box`` (image coords)."""
    from PIL import Image

    bx, by, bw, bh = box
    fx0, fy0, fx1, fy1 = FACE_BOX
    # image x -> crop x: (x - bx) / bw * (fx1 - fx0) * 25 + fx0 * 25
    kx, ky = (fx1 - fx0) * _CROP / bw, (fy1 - fy0) * _CROP / bh
    sx0 = min(max((x0 - bx) * kx + fx0 * _CROP, 0.0), _CROP)
    sx1 = min(max((x1 - bx) * kx + fx0 * _CROP, 0.0), _CROP)
    sy0 = min(max((y0 - by) * ky + fy0 * _CROP, 0.0), _CROP)
    sy1 = min(max((y1 - by) * ky + fy0 * _CROP, 0.0), _CROP)
    img = Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32))
    out = img.resize((x1 - x0, y1 - y0), Image.BICUBIC, box=(sx0, sy0, sx1, sy1))
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


class _Canvas:
    """The image being composed, and per face the part of its mask still visible."""

    def __init__(self, image: np.ndarray, max_faces: int):
        self.image = image
        self.H, self.W = image.shape[:2]
        self.regions = np.zeros((max(max_faces, 1), 4), dtype=np.int64)  # y0 y1 x0 x1
        self.face_alpha: list[np.ndarray] = []
        self.face_visible: list[np.ndarray] = []

    @property
    def face_regions(self) -> np.ndarray:
        return self.regions[: len(self.face_alpha)]

    def blend(self, y0, y1, x0, x1, patch, alpha, is_face: bool):
        region = self.image[y0:y1, x0:x1]
        a = alpha[:, :, None]
        region *= 1.0 - a
        region += a * patch
        r = self.face_regions
        if r.shape[0]:
            hit = (r[:, 0] < y1) & (r[:, 1] > y0) & (r[:, 2] < x1) & (r[:, 3] > x0)
            for i in np.flatnonzero(hit).tolist():
                fy0, fy1, fx0, fx1 = r[i].tolist()
                iy0, iy1, ix0, ix1 = max(y0, fy0), min(y1, fy1), max(x0, fx0), min(x1, fx1)
                self.face_visible[i][iy0 - fy0 : iy1 - fy0, ix0 - fx0 : ix1 - fx0] *= (
                    1.0 - alpha[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
                )
        if is_face:
            self.regions[len(self.face_alpha)] = (y0, y1, x0, x1)
            self.face_alpha.append(alpha)
            self.face_visible.append(np.ones_like(alpha))

    def covered(self) -> np.ndarray:
        """Per face, the fraction of its mask's mass covered by what was pasted after it."""
        out = np.zeros(len(self.face_alpha), dtype=np.float64)
        for i, (a, v) in enumerate(zip(self.face_alpha, self.face_visible, strict=True)):
            total = float(a.sum())
            out[i] = 1.0 - float((a * v).sum()) / total if total > 0 else 1.0
        return out


_NUM_DRAWS = 18  # uniform numbers drawn per object, in one call


def _lerp(u: float, pair) -> float:
    return pair[0] + u * (pair[1] - pair[0])


def _shadow(canvas: _Canvas, box, u: np.ndarray, diff: Difficulty) -> None:
    """Darken the background around an object that will be darkened (pass 1, before pasting).

    A dark face on a bright background would be a blob easy to find; in low light the
    surroundings are dark too. Done before any object is pasted, so no face is darkened by
    another one's shadow.
    """
    if u[11] >= diff.p_dark:
        return
    # half as deep as the object's darkening, fading out over the whole radius
    depth = 0.5 * (1.0 - _lerp(u[12], diff.dark_gain))
    y0, y1, x0, x1 = _region(box, 2.0, canvas.H, canvas.W)
    shadow = _ellipse_alpha(box, 2.0, 1.0, y0, x0, y1 - y0, x1 - x0)
    canvas.image[y0:y1, x0:x1] *= (1.0 - shadow * np.float32(depth))[:, :, None]


def _object(rng, canvas: _Canvas, box, crop, u: np.ndarray, diff: Difficulty, is_face) -> dict:
    """Tint, degrade and blend one face or distractor (pass 2); return what was done to it.

    ``u`` holds the object's :data:`_NUM_DRAWS` uniform numbers (decisions and amounts).
    """
    H, W = canvas.H, canvas.W
    size = math.sqrt(box[2] * box[3])
    info = {"blur_sigma": 0.0, "extreme_light": False}
    if u[0] < 0.5:
        crop = crop[:, ::-1]
    blur = size * _lerp(u[2], diff.blur) if u[1] < diff.p_blur else 0.0
    info["blur_sigma"] = blur
    feather = min(_lerp(u[3], diff.feather) + 1.5 * blur / max(size, 1.0), 0.45)
    # the mask's 0.5 level (at radius scale * (1 - feather / 2)) never leaves the box
    scale = min(_lerp(u[4], _ELLIPSE_SCALE), 1.0 / (1.0 - feather / 2))
    y0, y1, x0, x1 = _region(box, scale, H, W)
    alpha = _ellipse_alpha(box, scale, feather, y0, x0, y1 - y0, x1 - x0)
    if blur > 0:
        # blurring the 25 px crop (sigma in crop pixels) before resampling is the same blur
        # as on the patch, at a fraction of the cost for large faces
        from scipy.ndimage import gaussian_filter

        kx = (FACE_BOX[2] - FACE_BOX[0]) * _CROP / box[2]
        ky = (FACE_BOX[3] - FACE_BOX[1]) * _CROP / box[3]
        crop = gaussian_filter(np.asarray(crop, np.float32), (blur * ky, blur * kx), mode="nearest")
    grey = _resample(crop, box, y0, y1, x0, x1)
    if u[5] < diff.p_gray:
        tone = np.ones(3, np.float32)
    else:
        tone = _SKIN_TONES[min(int(u[6] * len(_SKIN_TONES)), len(_SKIN_TONES) - 1)]
        tone = tone * (0.94 + 0.12 * u[7:10]).astype(np.float32)
    patch = grey[:, :, None] * (tone * np.float32(_lerp(u[10], (0.75, 1.15))))
    if u[11] < diff.p_dark:
        gain = _lerp(u[12], diff.dark_gain)
        info["extreme_light"] = gain < 0.45
        patch *= np.float32(gain)
    if u[13] < diff.p_low_contrast and not u[11] < diff.p_dark:  # one of the two at most
        c = _lerp(u[14], diff.contrast)
        info["extreme_light"] |= c < 0.45
        m = patch.mean(axis=(0, 1))
        bg = canvas.image[y0:y1, x0:x1].mean(axis=(0, 1))
        patch = (m + np.float32(1.0 - c) * (bg - m)) + np.float32(c) * (patch - m)
    if u[15] < diff.p_noise:
        std = np.float32(_lerp(u[16], diff.noise))
        patch += std * rng.standard_normal(patch.shape, dtype=np.float32)
    np.clip(patch, 0.0, 1.0, out=patch)
    canvas.blend(y0, y1, x0, x1, patch, alpha, is_face)
    if u[17] < diff.p_occlusion:
        _occluder(rng, canvas, box, diff)
    return info


def _occluder(rng, canvas: _Canvas, box, diff: Difficulty) -> None:
    """Cover part of ``box`` from one side with a bar or blob of flat colour or texture."""
    H, W = canvas.H, canvas.W
    bx, by, bw, bh = box
    q = _uniform(rng, diff.occlusion)
    side = int(rng.integers(4))  # top, bottom, left, right
    ext = rng.uniform(0.0, 0.3)
    if side < 2:
        ox0, ox1 = bx - ext * bw, bx + bw * (1 + ext)
        oy0, oy1 = (by - 0.2 * bh, by + q * bh) if side == 0 else (by + (1 - q) * bh, by + 1.2 * bh)
    else:
        oy0, oy1 = by - ext * bh, by + bh * (1 + ext)
        ox0, ox1 = (bx - 0.2 * bw, bx + q * bw) if side == 2 else (bx + (1 - q) * bw, bx + 1.2 * bw)
    x0, x1 = max(int(math.floor(ox0)), 0), min(int(math.ceil(ox1)), W)
    y0, y1 = max(int(math.floor(oy0)), 0), min(int(math.ceil(oy1)), H)
    if y1 <= y0 or x1 <= x0:
        return
    h, w = y1 - y0, x1 - x0
    if rng.random() < 0.5:  # a soft-edged bar
        edge = max(0.6, 0.04 * math.sqrt(bw * bh))
        xs = np.arange(x0, x1, dtype=np.float32) + 0.5
        ys = np.arange(y0, y1, dtype=np.float32) + 0.5
        ax = np.clip(np.minimum(xs - ox0, ox1 - xs) / edge, 0, 1)
        ay = np.clip(np.minimum(ys - oy0, oy1 - ys) / edge, 0, 1)
        alpha = (ay[:, None] * ax[None, :]).astype(np.float32)
    else:  # a blob (a hand, the head of someone in front)
        ebox = (ox0, oy0, ox1 - ox0, oy1 - oy0)
        alpha = _ellipse_alpha(ebox, 1.0, _uniform(rng, diff.feather), y0, x0, h, w)
    if rng.random() < 0.5:
        colour = rng.uniform(0.0, 1.0, 3).astype(np.float32)
        ramp = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0), h, dtype=np.float32)
        patch = ramp[:, None, None] * colour[None, None, :] * np.ones((1, w, 1), np.float32)
        patch = patch + np.float32(0.03) * rng.standard_normal((h, w, 3), dtype=np.float32)
    else:
        patch = _texture_patch(rng, h, w)
    canvas.blend(y0, y1, x0, x1, np.clip(patch, 0, 1).astype(np.float32), alpha, False)


def _blur_level(sigma: float, size: float) -> int:
    rel = sigma / max(size, 1.0)
    return 0 if rel < 0.04 else (1 if rel < 0.08 else 2)


def _check_image_size(image_size) -> tuple[tuple[int, int], tuple[int, int]]:
    try:
        (h_lo, h_hi), (w_lo, w_hi) = image_size
        vals = [int(h_lo), int(h_hi), int(w_lo), int(w_hi)]
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"image_size must be ((h_min, h_max), (w_min, w_max)), got {image_size!r}"
        ) from exc
    if vals != [h_lo, h_hi, w_lo, w_hi] or not (
        32 <= vals[0] <= vals[1] and 32 <= vals[2] <= vals[3]
    ):
        raise ValueError(
            f"image_size must hold integer ranges lo <= hi with lo >= 32, got {image_size!r}"
        )
    return (vals[0], vals[1]), (vals[2], vals[3])


def render_image(
    seed: int,
    split: str,
    index: int,
    *,
    image_size=((320, 480), (320, 480)),
    difficulty: Difficulty | None = None,
    debug: bool = False,
) -> SyntheticImage:
    """Compose one image of the embedded data set (see the module text for how).

    Parameters
    ----------
    seed : int
        The data set's seed (non-negative).
    split : {"train", "val"}
        Decides which face crops are used (:func:`face_pools`).
    index : int
        The image's number within the split; with ``seed`` and ``split`` it seeds every choice.
    image_size : ((int, int), (int, int))
        Inclusive ranges of the height and the width, each at least 32.
    difficulty : Difficulty, optional
        The generator's knobs; :class:`Difficulty` ``()`` by default.
    debug : bool, default False
        Also return each face's alpha mask (``SyntheticImage.alphas``).

    Returns
    -------
    SyntheticImage
    """
    if split not in _SPLIT_CODES:
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if int(index) != index or index < 0:
        raise ValueError(f"index must be a non-negative integer, got {index!r}")
    (h_lo, h_hi), (w_lo, w_hi) = _check_image_size(image_size)
    diff = Difficulty() if difficulty is None else difficulty
    if not isinstance(diff, Difficulty):
        raise ValueError(f"difficulty must be a Difficulty, got {type(diff).__name__}")

    rng = np.random.default_rng([int(seed), _SPLIT_CODES[split], int(index)])
    H, W = int(rng.integers(h_lo, h_hi + 1)), int(rng.integers(w_lo, w_hi + 1))
    weights = np.asarray(diff.scene_weights, dtype=np.float64)
    scene = SCENES[int(rng.choice(len(SCENES), p=weights / weights.sum()))]
    faces, dis = _layout(rng, scene, H, W, diff)
    canvas = _Canvas(_background(rng, H, W), len(faces))

    lfw = _lfw()
    pool = face_pools()[split]
    kinds = np.asarray(diff.distractor_kinds, dtype=np.float64)
    kinds = kinds / kinds.sum()
    # paste from the top of the image down (front rows last), faces and distractors mixed
    objects = [(b, True) for b in faces] + [(b, False) for b in dis]
    order = sorted(range(len(objects)), key=lambda k: (objects[k][0][1] + objects[k][0][3], k))
    draws = rng.random((len(objects), _NUM_DRAWS))
    for k in order:  # pass 1: shadows of the objects that will be darkened
        _shadow(canvas, objects[k][0], draws[k], diff)
    face_info: dict[int, tuple[int, dict, int]] = {}
    for k in order:  # pass 2: the objects
        box, is_face = objects[k]
        if is_face:
            ident = int(pool[int(rng.integers(len(pool)))])
            crop = lfw[ident]
        else:
            kind = int(rng.choice(3, p=kinds))
            if kind == 0:
                crop = np.rot90(
                    lfw[_NUM_FACES + int(rng.integers(_NUM_FACES))], int(rng.integers(4))
                )
            elif kind == 1:
                crop = _scrambled(rng, lfw[int(pool[int(rng.integers(len(pool)))])])
            else:
                crop = _texture_crop(rng)
            ident = -1
        info = _object(rng, canvas, box, crop, draws[k], diff, is_face)
        if is_face:
            face_info[k] = (ident, info, len(canvas.face_alpha) - 1)

    # whole-image effects
    img = canvas.image
    global_blur = 0.0
    global_light = False
    if rng.random() < diff.p_global_haze:
        c = _uniform(rng, diff.global_haze)
        global_light |= c < 0.45
        target = np.float32(rng.uniform(0.3, 0.9))
        img = target + np.float32(c) * (img - img.mean())
    if rng.random() < diff.p_global_dark:
        gain = _uniform(rng, diff.global_dark_gain)
        global_light |= gain < 0.45
        img = np.clip(img, 0, 1) ** np.float32(rng.uniform(1.0, 1.5)) * np.float32(gain)
    if rng.random() < diff.p_global_blur:
        from scipy.ndimage import gaussian_filter

        global_blur = _uniform(rng, diff.global_blur)
        img = gaussian_filter(img, (global_blur, global_blur, 0), mode="nearest")
    std = _uniform(rng, diff.global_noise) if rng.random() < diff.p_global_noise else 0.0
    if std > 0:
        # triangular noise (a sum of two uniforms, std ~ 1) is much cheaper than gaussian here
        tri = rng.integers(0, 256, img.shape, dtype=np.uint8).astype(np.float32)
        tri += rng.integers(0, 256, img.shape, dtype=np.uint8)
        img = img + np.float32(std / 104.5) * (tri - np.float32(255.0))
    image = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)

    covered = canvas.covered()
    boxes, attrs, idents, alphas = [], [], [], []
    for k in sorted(face_info):  # layout order; j is the face's place in pasting order
        ident, info, j = face_info[k]
        x0, y0, w, h = objects[k][0]
        size = math.sqrt(w * h)
        sigma = math.hypot(info["blur_sigma"], global_blur)
        occ = covered[j]
        occlusion = 0 if occ < 0.05 else (1 if occ <= 0.3 else 2)
        attrs.append(
            [
                _blur_level(sigma, size),
                0,
                int(info["extreme_light"] or global_light),
                int(occ > 0.7),
                occlusion,
                0,
            ]
        )
        boxes.append([x0, y0, x0 + w, y0 + h])
        idents.append(ident)
        if debug:
            ry0, _, rx0, _ = canvas.face_regions[j].tolist()
            alphas.append((ry0, rx0, canvas.face_alpha[j]))
    return SyntheticImage(
        image=image,
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        attributes=np.asarray(attrs, dtype=np.int64).reshape(-1, 6),
        identities=np.asarray(idents, dtype=np.int64),
        scene=scene,
        alphas=alphas if debug else None,
    )


# --------------------------------------------------------------------------------------------
# keep lists and writing
# --------------------------------------------------------------------------------------------


def keep_lists(boxes: np.ndarray, attributes: np.ndarray) -> dict[str, np.ndarray]:
    """The easy / medium / hard keep masks of one image's faces (rule in the module text).

    Parameters
    ----------
    boxes : ndarray of shape (N, 4)
        xyxy boxes.
    attributes : ndarray of shape (N, 6), int
        ``blur expression illumination invalid occlusion pose``.

    Returns
    -------
    dict of str to ndarray of shape (N,), bool
        ``{"easy": ..., "medium": ..., "hard": ...}`` with easy ⊂ medium ⊂ hard.

    Examples
    --------
    >>> boxes = np.array([[0, 0, 50, 60], [0, 0, 20, 20], [0, 0, 8, 8]], np.float32)
    >>> attrs = np.zeros((3, 6), np.int64)
    >>> {k: v.tolist() for k, v in keep_lists(boxes, attrs).items()}
    {'easy': [True, False, False], 'medium': [True, True, False], 'hard': [True, True, True]}
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    a = np.asarray(attributes).reshape(-1, 6)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"boxes has {b.shape[0]} rows but attributes has {a.shape[0]}")
    size = np.sqrt(np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None))
    blur, light, invalid, occ = a[:, 0], a[:, 2], a[:, 3], a[:, 4]
    hard = (invalid == 0) & (size >= _MIN_FACE)
    medium = hard & (size >= _MEDIUM_MIN) & (occ < 2)
    easy = medium & (size >= _EASY_MIN) & (occ == 0) & (blur < 2) & (light == 0)
    return {"easy": easy, "medium": medium, "hard": hard}


def _stem(scene: str, index: int) -> str:
    event = EVENTS[scene]
    eid, name = event.split("--")
    return f"{eid}_{name}_hambox_{index}"


def _params(seed, num_train, num_val, image_size, diff: Difficulty) -> dict:
    return {
        "generator": "hambox_torch.data.embedded",
        "version": GENERATOR_VERSION,
        "seed": int(seed),
        "num_train": int(num_train),
        "num_val": int(num_val),
        "image_size": [list(image_size[0]), list(image_size[1])],
        "difficulty": diff.to_json(),
    }


_OWN_PATHS = ("WIDER_train", "WIDER_val", "wider_face_split", "eval_tools", MANIFEST_NAME)


def _read_manifest(root: Path) -> dict | None:
    path = root / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_split(root: Path, split: str, n: int, seed, image_size, diff, bar) -> dict:
    from PIL import Image

    records = []
    for i in range(n):
        img = render_image(seed, split, i, image_size=image_size, difficulty=diff)
        event = EVENTS[img.scene]
        stem = _stem(img.scene, i)
        folder = root / f"WIDER_{split}" / "images" / event
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.image).save(
            folder / f"{stem}.jpg", format="JPEG", quality=int(diff.jpeg_quality)
        )
        img = dataclasses.replace(img, image=None)  # keep only the annotation in memory
        records.append((SCENES.index(img.scene), i, event, stem, img))
        if bar is not None:
            bar.update(1)
    records.sort(key=lambda r: (r[0], r[1]))  # WIDER lists images event by event
    anns = [
        WiderAnnotation(f"{event}/{stem}.jpg", img.boxes, attributes=img.attributes)
        for _, _, event, stem, img in records
    ]
    split_dir = root / "wider_face_split"
    split_dir.mkdir(parents=True, exist_ok=True)
    write_wider_annotations(split_dir / f"wider_face_{split}_bbx_gt.txt", anns)
    if split == "val":
        keeps = [keep_lists(img.boxes, img.attributes) for *_, img in records]
        xywh = [a.xywh() for a in anns]
        gt = WiderGroundTruth.from_images(
            [(event, stem) for _, _, event, stem, _ in records],
            xywh,
            {s: [k[s] for k in keeps] for s in SETTINGS},
            events=[EVENTS[s] for s in SCENES if any(r[2] == EVENTS[s] for r in records)],
        )
        gt_dir = root / "eval_tools" / "ground_truth"
        write_ground_truth(gt_dir, gt)  # reproducible bytes (fixed MAT header text)
    faces = sum(len(img.boxes) for *_, img in records)
    counts = {"images": n, "faces": int(faces)}
    if split == "val":
        for s in SETTINGS:
            counts[f"faces_{s}"] = int(sum(int(k[s].sum()) for k in keeps))
    return counts


def generate_embedded(
    root,
    *,
    seed: int = 0,
    num_train: int = 800,
    num_val: int = 200,
    image_size=((320, 480), (320, 480)),
    difficulty: Difficulty | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write the embedded WIDER FACE–format data set under ``root`` (or reuse it).

    Parameters
    ----------
    root : str or os.PathLike
        Output folder; created if needed.
    seed : int, default 0
        Seed of every random choice; the same parameters give byte-identical files.
    num_train, num_val : int, default 800 and 200
        Images per split (at least 1 each).
    image_size : ((int, int), (int, int)), default ((320, 480), (320, 480))
        Inclusive ranges of image height and width.
    difficulty : Difficulty, optional
        The generator's knobs; :class:`Difficulty` ``()`` by default.
    overwrite : bool, default False
        Replace the folder's WIDER content even if ``root`` holds something not made here.
    progress : bool, default True
        Show a progress bar (tqdm) on stderr.

    Returns
    -------
    pathlib.Path
        ``root``. If its manifest (:data:`MANIFEST_NAME`) records the same parameters and
        generator version, nothing is generated again; if it records others, the set is
        regenerated.

    Raises
    ------
    FileExistsError
        If ``root`` is a non-empty folder without a manifest of this generator (another data
        set, perhaps the real WIDER FACE) and ``overwrite`` is False.
    ValueError
        On a bad argument.

    Examples
    --------
    >>> import tempfile
    >>> root = generate_embedded(tempfile.mkdtemp(), num_train=2, num_val=2,
    ...                          image_size=((64, 64), (64, 64)), progress=False)
    >>> sorted(p.name for p in root.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['WIDER_train', 'WIDER_val', 'eval_tools', 'hambox_embedded.json', 'wider_face_split']
    """
    for name, n in (("num_train", num_train), ("num_val", num_val)):
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    image_size = _check_image_size(image_size)
    diff = Difficulty() if difficulty is None else difficulty
    if not isinstance(diff, Difficulty):
        raise ValueError(f"difficulty must be a Difficulty, got {type(diff).__name__}")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ValueError(f"root {root} exists and is not a folder")
    params = _params(seed, num_train, num_val, image_size, diff)
    manifest = _read_manifest(root)
    ours = manifest is not None and manifest.get("generator") == params["generator"]
    if ours and manifest.get("complete") and manifest.get("params") == params:
        return root
    if not ours and root.exists() and any(root.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{root} holds files that were not made by the embedded generator; pass "
            "overwrite=True (or --overwrite) to replace its WIDER_*, wider_face_split and "
            "eval_tools folders, or choose an empty folder"
        )
    root.mkdir(parents=True, exist_ok=True)
    for name in _OWN_PATHS:
        p = root / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    (root / MANIFEST_NAME).write_text(
        json.dumps({"generator": params["generator"], "complete": False, "params": params}),
        encoding="utf-8",
    )
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=num_train + num_val, desc="embedded data set", unit="img")
    try:
        counts = {
            "train": _write_split(root, "train", num_train, seed, image_size, diff, bar),
            "val": _write_split(root, "val", num_val, seed, image_size, diff, bar),
        }
    finally:
        if bar is not None:
            bar.close()
    manifest = {
        "generator": params["generator"],
        "complete": True,
        "params": params,
        "counts": counts,
    }
    (root / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return root


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hambox_torch.data.embedded --out DIR [--seed N] ...``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m hambox_torch.data.embedded",
        description="Write the embedded WIDER FACE-format demo data set (faces from "
        "scikit-image's LFW crops on its photographs). A second run with the same parameters "
        "returns at once.",
    )
    parser.add_argument("--out", required=True, help="output folder (the WIDER FACE root)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--num-train", type=int, default=800, help="train images (default 800)")
    parser.add_argument("--num-val", type=int, default=200, help="val images (default 200)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a folder not made by this generator"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        root = generate_embedded(
            args.out,
            seed=args.seed,
            num_train=args.num_train,
            num_val=args.num_val,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    manifest = _read_manifest(root) or {}
    print(json.dumps({"root": str(root), "counts": manifest.get("counts")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
