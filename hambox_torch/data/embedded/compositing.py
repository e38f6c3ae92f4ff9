"""Pasting faces and distractors onto the canvas: masks, tints, per-object degradations.

Every object, face or distractor alike, goes through the same steps, so that "a blended
ellipse" is no face cue:

1. **Shadow** (:func:`cast_shadow`, done for every object before any is pasted): an object
   that will be darkened first darkens the background around it, since in low light the
   surroundings are dark too.
2. **Crop.** The 25 px grey crop (flipped at random) is resampled so that its face area
   (:data:`~hambox_torch.data.embedded.sources.FACE_BOX`) lands on the integer box, tinted to
   a skin tone (or kept grey) and jittered in colour.
3. **Degradations**, each at random: gaussian blur, darkening or else low contrast towards the
   background, noise.
4. **Mask.** The patch is blended with a feathered elliptical alpha mask inscribed in the box
   (:func:`ellipse_alpha`), never pasted as a square.
5. **Occluder**, at random: a bar or blob of flat colour or background texture over one side
   of the box.

The :class:`Canvas` keeps, per face, the part of its mask that what was pasted after it left
visible; the occlusion attributes come from it.

Examples
--------
>>> canvas = Canvas(np.full((40, 40, 3), 0.5, np.float32), max_faces=1)
>>> u = np.full(NUM_DRAWS, 0.99)  # no flip, blur, darkening, noise or occluder
>>> crop = np.ones((25, 25), np.float32)
>>> effects = paste_object(np.random.default_rng(0), canvas, (10, 10, 20, 20), crop, u,
...                        Difficulty(), is_face=True)
>>> effects.blur_sigma, canvas.covered().tolist()
(0.0, [0.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .difficulty import Difficulty
from .sampling import lerp, uniform
from .sources import CROP_SIDE, FACE_BOX, texture_patch

__all__ = [
    "NUM_DRAWS",
    "Canvas",
    "ObjectEffects",
    "cast_shadow",
    "ellipse_alpha",
    "mask_region",
    "paste_object",
]

#: Uniform numbers drawn per object, in one call for all objects of an image: the decisions and
#: amounts of :func:`cast_shadow` and :func:`paste_object` (see there which is which).
NUM_DRAWS = 18

_ELLIPSE_SCALE = (0.98, 1.08)  # ellipse radii / half box sides
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


class Canvas:
    """The image being composed, and per face the part of its mask still visible.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), float32
        The background, values in [0, 1]; blended into in place.
    max_faces : int
        How many faces will be pasted at most.

    Attributes
    ----------
    image : ndarray of shape (H, W, 3), float32
    H, W : int
    face_alpha : list of ndarray
        Per pasted face, in pasting order, its alpha mask on its region.
    face_visible : list of ndarray
        Per pasted face, the fraction of each mask pixel not covered by what came after it.
    """

    def __init__(self, image: np.ndarray, max_faces: int):
        self.image = image
        self.H, self.W = image.shape[:2]
        self.regions = np.zeros((max(max_faces, 1), 4), dtype=np.int64)  # y0 y1 x0 x1
        self.face_alpha: list[np.ndarray] = []
        self.face_visible: list[np.ndarray] = []

    @property
    def face_regions(self) -> np.ndarray:
        """``(F, 4)`` int64 rows ``y0 y1 x0 x1`` of each pasted face's mask, pasting order."""
        return self.regions[: len(self.face_alpha)]

    def blend(self, y0, y1, x0, x1, patch, alpha, is_face: bool) -> None:
        """Blend ``patch`` ``(h, w, 3)`` with ``alpha`` ``(h, w)`` on rows ``y0:y1``, cols
        ``x0:x1``; record what it covers of the faces already there (and, with ``is_face``,
        the new face)."""
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
        """Per face (pasting order), the fraction of its mask's mass covered by what was pasted
        after it: ``(F,)`` float64 in [0, 1]."""
        out = np.zeros(len(self.face_alpha), dtype=np.float64)
        for i, (a, v) in enumerate(zip(self.face_alpha, self.face_visible, strict=True)):
            total = float(a.sum())
            out[i] = 1.0 - float((a * v).sum()) / total if total > 0 else 1.0
        return out


@dataclass(frozen=True)
class ObjectEffects:
    """What :func:`paste_object` did to an object that its attributes depend on.

    Attributes
    ----------
    blur_sigma : float
        The gaussian blur's sigma in image pixels (0: none).
    extreme_light : bool
        Darkened below a gain of 0.45, or its contrast cut below 0.45.
    """

    blur_sigma: float
    extreme_light: bool


def ellipse_alpha(box, radius_scale, feather, y0, x0, h, w) -> np.ndarray:
    """The smooth-stepped elliptical mask of ``box`` on the image rows/cols ``y0:y0+h, x0:x0+w``.

    Parameters
    ----------
    box : (float, float, float, float)
        ``(x0, y0, w, h)``; the ellipse is centred on it with radii ``radius_scale`` times the
        half sides.
    radius_scale : float
    feather : float
        Width of the soft edge (1 inside, 0 outside), a fraction of the radius, in (0, 1].
    y0, x0, h, w : int
        The image region the mask covers.

    Returns
    -------
    ndarray of shape (h, w), float32
        Values in [0, 1].
    """
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


def mask_region(box, scale, H, W) -> tuple[int, int, int, int]:
    """Integer rows and cols ``(y0, y1, x0, x1)`` covering the ellipse of ``box`` at ``scale``,
    clipped to an ``H x W`` image."""
    bx, by, bw, bh = box
    cx, cy = bx + bw / 2, by + bh / 2
    rx, ry = bw / 2 * scale, bh / 2 * scale
    x0, x1 = max(int(math.floor(cx - rx)), 0), min(int(math.ceil(cx + rx)), W)
    y0, y1 = max(int(math.floor(cy - ry)), 0), min(int(math.ceil(cy + ry)), H)
    return y0, y1, x0, x1


def cast_shadow(canvas: Canvas, box, u: np.ndarray, diff: Difficulty) -> None:
    """Darken the background around an object that will be darkened (before any is pasted).

    A dark face on a bright background would be a blob easy to find; in low light the
    surroundings are dark too. Done before any object is pasted, so no face is darkened by
    another one's shadow. ``u`` is the object's :data:`NUM_DRAWS` numbers; ``u[11]`` decides
    the darkening and ``u[12]`` its gain, as in :func:`paste_object`.
    """
    if u[11] >= diff.p_dark:
        return
    # half as deep as the object's darkening, fading out over the whole radius
    depth = 0.5 * (1.0 - lerp(u[12], diff.dark_gain))
    y0, y1, x0, x1 = mask_region(box, 2.0, canvas.H, canvas.W)
    shadow = ellipse_alpha(box, 2.0, 1.0, y0, x0, y1 - y0, x1 - x0)
    canvas.image[y0:y1, x0:x1] *= (1.0 - shadow * np.float32(depth))[:, :, None]


def paste_object(
    rng: np.random.Generator,
    canvas: Canvas,
    box,
    crop: np.ndarray,
    u: np.ndarray,
    diff: Difficulty,
    is_face: bool,
) -> ObjectEffects:
    """Tint, degrade and blend one face or distractor onto ``canvas``.

    Parameters
    ----------
    rng : numpy.random.Generator
        For the noise and the occluder.
    canvas : Canvas
    box : (int, int, int, int)
        Integer ``(x0, y0, w, h)`` where the crop's face area lands.
    crop : ndarray of shape (25, 25), float
        Grey crop, values in [0, 1].
    u : ndarray of shape (NUM_DRAWS,), float
        The object's uniform numbers in [0, 1): ``u[0]`` flip, ``u[1:3]`` blur and its sigma,
        ``u[3]`` feather, ``u[4]`` ellipse scale, ``u[5:11]`` grey or skin tone and colour
        jitter, ``u[11:13]`` darkening and its gain, ``u[13:15]`` low contrast and its factor,
        ``u[15:17]`` noise and its std, ``u[17]`` occluder.
    diff : Difficulty
    is_face : bool
        Whether ``canvas`` records the object as a face.

    Returns
    -------
    ObjectEffects
    """
    H, W = canvas.H, canvas.W
    size = math.sqrt(box[2] * box[3])
    if u[0] < 0.5:
        crop = crop[:, ::-1]
    blur = size * lerp(u[2], diff.blur) if u[1] < diff.p_blur else 0.0
    feather = min(lerp(u[3], diff.feather) + 1.5 * blur / max(size, 1.0), 0.45)
    # the mask's 0.5 level (at radius scale * (1 - feather / 2)) never leaves the box
    scale = min(lerp(u[4], _ELLIPSE_SCALE), 1.0 / (1.0 - feather / 2))
    y0, y1, x0, x1 = mask_region(box, scale, H, W)
    alpha = ellipse_alpha(box, scale, feather, y0, x0, y1 - y0, x1 - x0)
    if blur > 0:
        crop = _blur_crop(crop, box, blur)
    grey = _resample(crop, box, y0, y1, x0, x1)
    if u[5] < diff.p_gray:
        tone = np.ones(3, np.float32)
    else:
        tone = _SKIN_TONES[min(int(u[6] * len(_SKIN_TONES)), len(_SKIN_TONES) - 1)]
        tone = tone * (0.94 + 0.12 * u[7:10]).astype(np.float32)
    patch = grey[:, :, None] * (tone * np.float32(lerp(u[10], (0.75, 1.15))))
    extreme_light = False
    if u[11] < diff.p_dark:
        gain = lerp(u[12], diff.dark_gain)
        extreme_light = gain < 0.45
        patch *= np.float32(gain)
    if u[13] < diff.p_low_contrast and not u[11] < diff.p_dark:  # one of the two at most
        c = lerp(u[14], diff.contrast)
        extreme_light |= c < 0.45
        m = patch.mean(axis=(0, 1))
        bg = canvas.image[y0:y1, x0:x1].mean(axis=(0, 1))
        patch = (m + np.float32(1.0 - c) * (bg - m)) + np.float32(c) * (patch - m)
    if u[15] < diff.p_noise:
        std = np.float32(lerp(u[16], diff.noise))
        patch += std * rng.standard_normal(patch.shape, dtype=np.float32)
    np.clip(patch, 0.0, 1.0, out=patch)
    canvas.blend(y0, y1, x0, x1, patch, alpha, is_face)
    if u[17] < diff.p_occlusion:
        _occluder(rng, canvas, box, diff)
    return ObjectEffects(blur_sigma=float(blur), extreme_light=bool(extreme_light))


def _blur_crop(crop: np.ndarray, box, blur: float) -> np.ndarray:
    """The crop blurred so that, once resampled onto ``box``, the blur has sigma ``blur``.

    Blurring the 25 px crop (sigma in crop pixels) before resampling is the same blur as on
    the patch, at a fraction of the cost for large faces.
    """
    from scipy.ndimage import gaussian_filter

    kx = (FACE_BOX[2] - FACE_BOX[0]) * CROP_SIDE / box[2]
    ky = (FACE_BOX[3] - FACE_BOX[1]) * CROP_SIDE / box[3]
    return gaussian_filter(np.asarray(crop, np.float32), (blur * ky, blur * kx), mode="nearest")


def _resample(crop: np.ndarray, box, y0, y1, x0, x1) -> np.ndarray:
    """The crop resampled so that its :data:`FACE_BOX` area lands on ``box`` (image coords)."""
    from PIL import Image

    bx, by, bw, bh = box
    fx0, fy0, fx1, fy1 = FACE_BOX
    # image x -> crop x: (x - bx) / bw * (fx1 - fx0) * 25 + fx0 * 25
    kx, ky = (fx1 - fx0) * CROP_SIDE / bw, (fy1 - fy0) * CROP_SIDE / bh
    sx0 = min(max((x0 - bx) * kx + fx0 * CROP_SIDE, 0.0), CROP_SIDE)
    sx1 = min(max((x1 - bx) * kx + fx0 * CROP_SIDE, 0.0), CROP_SIDE)
    sy0 = min(max((y0 - by) * ky + fy0 * CROP_SIDE, 0.0), CROP_SIDE)
    sy1 = min(max((y1 - by) * ky + fy0 * CROP_SIDE, 0.0), CROP_SIDE)
    img = Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32))
    out = img.resize((x1 - x0, y1 - y0), Image.BICUBIC, box=(sx0, sy0, sx1, sy1))
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def _occluder(rng, canvas: Canvas, box, diff: Difficulty) -> None:
    """Cover part of ``box`` from one side with a bar or blob of flat colour or texture."""
    H, W = canvas.H, canvas.W
    bx, by, bw, bh = box
    q = uniform(rng, diff.occlusion)
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
        alpha = ellipse_alpha(ebox, 1.0, uniform(rng, diff.feather), y0, x0, h, w)
    if rng.random() < 0.5:
        colour = rng.uniform(0.0, 1.0, 3).astype(np.float32)
        ramp = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0), h, dtype=np.float32)
        patch = ramp[:, None, None] * colour[None, None, :] * np.ones((1, w, 1), np.float32)
        patch = patch + np.float32(0.03) * rng.standard_normal((h, w, 3), dtype=np.float32)
    else:
        patch = texture_patch(rng, h, w)
    canvas.blend(y0, y1, x0, x1, np.clip(patch, 0, 1).astype(np.float32), alpha, False)
