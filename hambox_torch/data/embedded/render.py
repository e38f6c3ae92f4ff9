"""Composing one image of the embedded data set, step by step.

:func:`render_image` makes one image and its annotations.

Every random choice comes from one generator seeded by ``(seed, split, image index)``, so the
same seed gives byte-identical images, and image ``n`` does not depend on how many images are
generated. The steps, each in the module named:

1. the image size, the scene and where its faces and distractors go (:mod:`.layout`);
2. the background (:func:`~hambox_torch.data.embedded.sources.background`);
3. the shadows of the objects that will be darkened, then the objects themselves, pasted from
   the top of the image to the bottom so that front rows may cover the chins of the rows
   behind a little (:mod:`.compositing`; face crops and distractor crops from
   :mod:`.sources`);
4. the whole-image effects (:mod:`.effects`);
5. each face's box, attributes and identity (:mod:`.annotations`).

Examples
--------
>>> img = render_image(0, "val", 3, image_size=((64, 64), (96, 96)))
>>> img.image.shape, img.image.dtype, img.boxes.shape[1], img.attributes.shape[1]
((64, 96, 3), dtype('uint8'), 4, 6)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .annotations import face_attributes
from .compositing import NUM_DRAWS, Canvas, ObjectEffects, cast_shadow, paste_object
from .difficulty import Difficulty, as_difficulty
from .effects import ImageEffects, apply_image_effects
from .layout import draw_scene, layout_scene
from .sources import background, distractor_crop, face_crop, face_pools

__all__ = ["SyntheticImage", "check_image_size", "check_nonnegative_int", "render_image"]

_SPLIT_CODES = {"train": 0, "val": 1}  # the split's place in the image's seed


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
        ``blur expression illumination invalid occlusion pose`` per face
        (:mod:`~hambox_torch.data.embedded.annotations` gives the rules).
    identities : ndarray of shape (N,), int64
        Index of each face's crop in :func:`skimage.data.lfw_subset` (0..99).
    scene : str
        One of :data:`~hambox_torch.data.embedded.layout.SCENES`.
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


def check_image_size(image_size) -> tuple[tuple[int, int], tuple[int, int]]:
    """``image_size`` as ``((h_min, h_max), (w_min, w_max))`` ints, each at least 32.

    Raises
    ------
    ValueError
        Naming ``image_size``, if it is not two integer ranges ``lo <= hi`` with ``lo >= 32``.
    """
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


def check_nonnegative_int(value, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an integer >= 0 (``2.0`` is)."""
    if int(value) != value or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def render_image(
    seed: int,
    split: str,
    index: int,
    *,
    image_size=((320, 480), (320, 480)),
    difficulty: Difficulty | None = None,
    debug: bool = False,
) -> SyntheticImage:
    """Compose one image of the embedded data set (the steps are in the module text).

    Parameters
    ----------
    seed : int
        The data set's seed (non-negative).
    split : {"train", "val"}
        Decides which face crops are used
        (:func:`~hambox_torch.data.embedded.sources.face_pools`).
    index : int
        The image's number within the split; with ``seed`` and ``split`` it seeds every choice.
    image_size : ((int, int), (int, int))
        Inclusive ranges of the height and the width, each at least 32.
    difficulty : Difficulty, optional
        The generator's knobs; :class:`~hambox_torch.data.embedded.difficulty.Difficulty`
        ``()`` by default.
    debug : bool, default False
        Also return each face's alpha mask (``SyntheticImage.alphas``).

    Returns
    -------
    SyntheticImage

    Raises
    ------
    ValueError
        On a bad argument, naming it.
    """
    if split not in _SPLIT_CODES:
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    check_nonnegative_int(seed, "seed")
    check_nonnegative_int(index, "index")
    (h_lo, h_hi), (w_lo, w_hi) = check_image_size(image_size)
    diff = as_difficulty(difficulty)

    rng = np.random.default_rng([int(seed), _SPLIT_CODES[split], int(index)])
    H, W = int(rng.integers(h_lo, h_hi + 1)), int(rng.integers(w_lo, w_hi + 1))
    scene = draw_scene(rng, diff)
    faces, distractors = layout_scene(rng, scene, H, W, diff)
    canvas = Canvas(background(rng, H, W), len(faces))
    objects = [(b, True) for b in faces] + [(b, False) for b in distractors]
    pasted = _paste_objects(rng, canvas, objects, face_pools()[split], diff)
    image, effects = apply_image_effects(rng, canvas.image, diff)
    return _annotate(image, scene, objects, pasted, canvas, effects, debug)


@dataclass(frozen=True)
class _PastedFace:
    identity: int
    effects: ObjectEffects
    order: int  # the face's place in pasting order (the canvas' index)


def _paste_objects(rng, canvas: Canvas, objects: list, pool, diff) -> dict[int, _PastedFace]:
    """Shadows, then the objects, top of the image first; per face (its index in ``objects``)
    what was pasted."""
    kinds = np.asarray(diff.distractor_kinds, dtype=np.float64)
    kinds = kinds / kinds.sum()
    # paste from the top of the image down (front rows last), faces and distractors mixed
    order = sorted(range(len(objects)), key=lambda k: (objects[k][0][1] + objects[k][0][3], k))
    draws = rng.random((len(objects), NUM_DRAWS))
    for k in order:
        cast_shadow(canvas, objects[k][0], draws[k], diff)
    pasted: dict[int, _PastedFace] = {}
    for k in order:
        box, is_face = objects[k]
        if is_face:
            ident, crop = face_crop(rng, pool)
        else:
            crop = distractor_crop(rng, pool, kinds)
        effects = paste_object(rng, canvas, box, crop, draws[k], diff, is_face)
        if is_face:
            pasted[k] = _PastedFace(ident, effects, len(canvas.face_alpha) - 1)
    return pasted


def _annotate(image, scene, objects, pasted, canvas: Canvas, effects: ImageEffects, debug):
    """The :class:`SyntheticImage` of the composed ``image``: faces in layout order."""
    covered = canvas.covered()
    boxes, attrs, idents, alphas = [], [], [], []
    for k in sorted(pasted):
        face = pasted[k]
        x0, y0, w, h = objects[k][0]
        attrs.append(
            face_attributes(
                size=math.sqrt(w * h),
                blur_sigma=math.hypot(face.effects.blur_sigma, effects.blur_sigma),
                extreme_light=face.effects.extreme_light or effects.extreme_light,
                covered=covered[face.order],
            )
        )
        boxes.append([x0, y0, x0 + w, y0 + h])
        idents.append(face.identity)
        if debug:
            ry0, _, rx0, _ = canvas.face_regions[face.order].tolist()
            alphas.append((ry0, rx0, canvas.face_alpha[face.order]))
    return SyntheticImage(
        image=image,
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        attributes=np.asarray(attrs, dtype=np.int64).reshape(-1, 6),
        identities=np.asarray(idents, dtype=np.int64),
        scene=scene,
        alphas=alphas if debug else None,
    )
