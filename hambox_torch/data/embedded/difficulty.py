"""The generator's knobs: what a scene holds and how hard each object is to see.

Examples
--------
>>> Difficulty().crowd_size
(6.0, 20.0)
>>> Difficulty(p_blur=0.0).p_blur  # a variant without per-object blur
0.0
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_FACE", "Difficulty", "as_difficulty"]

#: The smallest face the generator makes, ``sqrt(w * h)`` in pixels: the floor of every face
#: size range of :class:`Difficulty`, and the hard setting's size floor
#: (:func:`~hambox_torch.data.embedded.annotations.keep_lists`).
MIN_FACE = 6


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
            if lo < MIN_FACE:
                raise ValueError(f"Difficulty.{name} must start at {MIN_FACE} px or more")
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


def as_difficulty(value) -> Difficulty:
    """``value`` if it is a :class:`Difficulty`, the defaults for ``None``.

    Raises
    ------
    ValueError
        For anything else, naming the argument ``difficulty``.
    """
    diff = Difficulty() if value is None else value
    if not isinstance(diff, Difficulty):
        raise ValueError(f"difficulty must be a Difficulty, got {type(diff).__name__}")
    return diff
