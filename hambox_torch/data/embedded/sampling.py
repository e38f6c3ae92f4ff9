"""The small random draws every stage of the embedded generator shares.

Each takes the image's :class:`numpy.random.Generator` (or, for :func:`lerp`, a number already
drawn from it), so that one generator seeded by ``(seed, split, image index)`` decides
everything and the draws happen in a fixed order.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> 6.0 <= loguniform(rng, 6.0, 20.0) <= 20.0, randint(rng, (1, 4)) in (1, 2, 3, 4)
(True, True)
>>> lerp(0.25, (1.0, 3.0))
1.5
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["lerp", "loguniform", "randint", "uniform"]


def loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A number drawn log-uniformly from ``[lo, hi]`` (both positive): what face sizes use."""
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def uniform(rng: np.random.Generator, pair) -> float:
    """A number drawn uniformly from the range ``pair = (lo, hi)``."""
    return float(rng.uniform(pair[0], pair[1]))


def randint(rng: np.random.Generator, pair) -> int:
    """An integer drawn uniformly from the inclusive range ``pair = (lo, hi)``."""
    return int(rng.integers(int(pair[0]), int(pair[1]) + 1))


def lerp(u: float, pair):
    """``pair[0] + u * (pair[1] - pair[0])``: the point at fraction ``u`` of the range.

    With ``u`` a uniform number in [0, 1) this is a uniform draw from the range; the generator
    draws such numbers for each object in one call (see
    :data:`~hambox_torch.data.embedded.compositing.NUM_DRAWS`). The result keeps the type of
    ``u`` (a numpy scalar stays one).
    """
    return pair[0] + u * (pair[1] - pair[0])
