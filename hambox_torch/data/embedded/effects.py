"""Whole-image effects, applied once every object is pasted: low light, haze, blur, noise.

Each is drawn per image with the ``p_global_*`` probabilities of
:class:`~hambox_torch.data.embedded.difficulty.Difficulty`, in this order: haze (contrast cut
towards a random grey), low light (gamma and gain), gaussian blur, triangular noise. The image
then becomes 8-bit RGB; JPEG coding comes when it is written.

Examples
--------
>>> img = np.full((32, 32, 3), 0.5, np.float32)
>>> calm = Difficulty(p_global_haze=0, p_global_dark=0, p_global_blur=0, p_global_noise=0)
>>> out, effects = apply_image_effects(np.random.default_rng(0), img, calm)
>>> out.dtype, int(out[0, 0, 0]), effects
(dtype('uint8'), 128, ImageEffects(blur_sigma=0.0, extreme_light=False))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .difficulty import Difficulty
from .sampling import uniform

__all__ = ["ImageEffects", "apply_image_effects"]


@dataclass(frozen=True)
class ImageEffects:
    """What :func:`apply_image_effects` did that every face's attributes depend on.

    Attributes
    ----------
    blur_sigma : float
        Sigma of the whole-image gaussian blur in pixels (0: none).
    extreme_light : bool
        The image was made hazy (contrast factor) or dark (gain) below 0.45.
    """

    blur_sigma: float
    extreme_light: bool


def apply_image_effects(
    rng: np.random.Generator, image: np.ndarray, diff: Difficulty
) -> tuple[np.ndarray, ImageEffects]:
    """Haze, low light, blur and noise over the whole image, each at random; then 8 bits.

    Parameters
    ----------
    rng : numpy.random.Generator
    image : ndarray of shape (H, W, 3), float32
        RGB values in [0, 1] (not modified).
    diff : Difficulty

    Returns
    -------
    image : ndarray of shape (H, W, 3), uint8
    effects : ImageEffects
    """
    img, hazy = _haze(rng, image, diff)
    img, dark = _low_light(rng, img, diff)
    img, sigma = _blur(rng, img, diff)
    img = _noise(rng, img, diff)
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out, ImageEffects(blur_sigma=sigma, extreme_light=bool(hazy or dark))


def _haze(rng, img, diff: Difficulty):
    if not rng.random() < diff.p_global_haze:
        return img, False
    c = uniform(rng, diff.global_haze)
    target = np.float32(rng.uniform(0.3, 0.9))
    return target + np.float32(c) * (img - img.mean()), c < 0.45


def _low_light(rng, img, diff: Difficulty):
    if not rng.random() < diff.p_global_dark:
        return img, False
    gain = uniform(rng, diff.global_dark_gain)
    return np.clip(img, 0, 1) ** np.float32(rng.uniform(1.0, 1.5)) * np.float32(gain), gain < 0.45


def _blur(rng, img, diff: Difficulty):
    if not rng.random() < diff.p_global_blur:
        return img, 0.0
    from scipy.ndimage import gaussian_filter

    sigma = uniform(rng, diff.global_blur)
    return gaussian_filter(img, (sigma, sigma, 0), mode="nearest"), sigma


def _noise(rng, img, diff: Difficulty):
    if not rng.random() < diff.p_global_noise:
        return img
    std = uniform(rng, diff.global_noise)
    if std <= 0:
        return img
    # triangular noise (a sum of two uniforms, std ~ 1) is much cheaper than gaussian here
    tri = rng.integers(0, 256, img.shape, dtype=np.uint8).astype(np.float32)
    tri += rng.integers(0, 256, img.shape, dtype=np.uint8)
    return img + np.float32(std / 104.5) * (tri - np.float32(255.0))
