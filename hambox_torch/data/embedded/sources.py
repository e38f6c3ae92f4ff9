"""The material scikit-image ships, and the crops and backgrounds drawn from it.

* Faces: the first 100 of the 200 grey 25x25 crops of :func:`skimage.data.lfw_subset`, split
  into 80 train and 20 val identities by a fixed permutation (:func:`face_pools`). The face
  area of a crop is :data:`FACE_BOX`.
* Distractors: its 100 non-face crops, block-scrambled face crops of the same split, and grey
  crops of the background photographs (:func:`distractor_crop`).
* Backgrounds: random crops of its photographs and textures, colour-shifted, sometimes two
  blended (:func:`background`). The two that show a real person (``astronaut``, ``camera``)
  are used only in regions without the face, which would otherwise be an unannotated face.

Examples
--------
>>> crops = lfw_crops()
>>> crops.shape, crops.dtype, NUM_FACES
((200, 25, 25), dtype('float32'), 100)
>>> background(np.random.default_rng(0), 48, 64).shape
(48, 64, 3)
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = [
    "CROP_SIDE",
    "FACE_BOX",
    "NUM_FACES",
    "background",
    "background_sources",
    "distractor_crop",
    "face_crop",
    "face_pools",
    "lfw_crops",
    "texture_patch",
]

#: Side of an LFW crop in pixels.
CROP_SIDE = 25
#: ``lfw_subset()`` crops ``0..NUM_FACES - 1`` are faces, the next ``NUM_FACES`` are not.
NUM_FACES = 100
#: The face area of an LFW crop as fractions ``(x0, y0, x1, y1)`` of the crop: cheek to cheek,
#: eyebrows/forehead to chin (the crops are cut tight around the face). The annotated box is
#: where this area lands in the image.
FACE_BOX = (0.1, 0.06, 0.9, 0.96)

_FACE_SPLIT_SEED = 20200614  # fixed: the identity split never depends on the user's seed
_NUM_TRAIN_IDENTITIES = 80
_MAX_SOURCE_SIDE = 720  # larger source photographs are shrunk once, at load

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
def lfw_crops() -> np.ndarray:
    """The LFW crops of scikit-image, loaded once.

    Returns
    -------
    ndarray of shape (200, 25, 25), float32
        Grey values in [0, 1]: :data:`NUM_FACES` faces, then as many non-faces.

    Raises
    ------
    RuntimeError
        If the installed scikit-image ships crops of another shape.
    """
    from skimage import data

    crops = np.asarray(data.lfw_subset(), dtype=np.float32)
    if crops.shape != (2 * NUM_FACES, CROP_SIDE, CROP_SIDE):
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
    perm = np.random.default_rng(_FACE_SPLIT_SEED).permutation(NUM_FACES)
    return {
        "train": np.sort(perm[:_NUM_TRAIN_IDENTITIES]).astype(np.int64),
        "val": np.sort(perm[_NUM_TRAIN_IDENTITIES:]).astype(np.int64),
    }


@functools.lru_cache(maxsize=1)
def background_sources() -> tuple:
    """The background photographs and textures, loaded once.

    Returns
    -------
    tuple of (PIL.Image.Image, bool, PIL.Image.Image)
        Per source: the RGB image (at most 720 px on its long side), whether it was grey, and
        its grey version.
    """
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


def background(rng: np.random.Generator, H: int, W: int) -> np.ndarray:
    """A random background: a crop of a source, rescaled, flipped and colour-shifted.

    With probability 0.35 it is blended with a second such crop along a soft ramp at a random
    angle.

    Returns
    -------
    ndarray of shape (H, W, 3), float32
        RGB values in [0, 1].
    """
    from PIL import Image

    sources = background_sources()
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


def texture_patch(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A colour crop of a background source with random channel gains (occluders; cheap).

    Returns
    -------
    ndarray of shape (h, w, 3), float32
        RGB values in [0, 1.2].
    """
    from PIL import Image

    img, _, _ = background_sources()[int(rng.integers(len(background_sources())))]
    sw, sh = img.size
    side = rng.uniform(0.1, 0.6) * min(sw, sh)
    cw, ch = (side, side * h / w) if h <= w else (side * w / h, side)
    x0, y0 = rng.uniform(0, sw - cw), rng.uniform(0, sh - ch)
    out = img.resize((w, h), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    gains = rng.uniform(0.6, 1.2, 3).astype(np.float32) * np.float32(1.0 / 255.0)
    return np.asarray(out, dtype=np.float32) * gains


def face_crop(rng: np.random.Generator, pool: np.ndarray) -> tuple[int, np.ndarray]:
    """A face crop drawn from ``pool`` (a split's identities, :func:`face_pools`).

    Returns
    -------
    identity : int
        The crop's index in :func:`lfw_crops`.
    crop : ndarray of shape (25, 25), float32
    """
    ident = int(pool[int(rng.integers(len(pool)))])
    return ident, lfw_crops()[ident]


def distractor_crop(rng: np.random.Generator, pool: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """A grey 25x25 crop that is no face, of one of three kinds.

    Parameters
    ----------
    rng : numpy.random.Generator
    pool : ndarray of shape (K,), int
        The split's face identities (:func:`face_pools`), for scrambled faces.
    kinds : ndarray of shape (3,), float
        Probabilities (summing to 1) of a non-face LFW crop (rotated by a multiple of 90
        degrees), a block-scrambled face crop of ``pool``, and a grey crop of a background
        source at a random scale.

    Returns
    -------
    ndarray of shape (25, 25), float32
    """
    lfw = lfw_crops()
    kind = int(rng.choice(3, p=kinds))
    if kind == 0:
        return np.rot90(lfw[NUM_FACES + int(rng.integers(NUM_FACES))], int(rng.integers(4)))
    if kind == 1:
        return _scrambled(rng, lfw[int(pool[int(rng.integers(len(pool)))])])
    return _texture_crop(rng)


def _texture_crop(rng) -> np.ndarray:
    """A ``(25, 25)`` grey crop of a background source at a random scale."""
    from PIL import Image

    _, _, img = background_sources()[int(rng.integers(len(background_sources())))]
    sw, sh = img.size
    side = rng.uniform(12, min(sw, sh) / 2)
    x0, y0 = rng.uniform(0, sw - side), rng.uniform(0, sh - side)
    out = img.resize((CROP_SIDE, CROP_SIDE), Image.BILINEAR, box=(x0, y0, x0 + side, y0 + side))
    return np.asarray(out, dtype=np.float32) * (1.0 / 255.0)


def _scrambled(rng, crop: np.ndarray) -> np.ndarray:
    """A face crop cut into 5x5 blocks of 5 px and shuffled: skin texture without a face."""
    blocks = crop.reshape(5, 5, 5, 5).transpose(0, 2, 1, 3).reshape(25, 5, 5)
    blocks = blocks[rng.permutation(25)]
    return blocks.reshape(5, 5, 5, 5).transpose(0, 2, 1, 3).reshape(CROP_SIDE, CROP_SIDE).copy()
