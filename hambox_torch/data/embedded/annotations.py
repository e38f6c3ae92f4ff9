"""The annotations of a generated face: its WIDER attributes and its keep lists.

The attribute columns (the format's ``blur expression illumination invalid occlusion pose``)
are filled from what was generated (:func:`face_attributes`):

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
>>> face_attributes(size=30.0, blur_sigma=1.5, extreme_light=False, covered=0.1)
[1, 0, 0, 0, 1, 0]
"""

from __future__ import annotations

import numpy as np

from .difficulty import MIN_FACE

__all__ = ["face_attributes", "keep_lists"]

_MEDIUM_MIN, _EASY_MIN = 16, 40  # face sizes of the medium and easy settings


def face_attributes(
    *, size: float, blur_sigma: float, extreme_light: bool, covered: float
) -> list[int]:
    """The six WIDER attributes of a generated face (rules in the module text).

    Parameters
    ----------
    size : float
        ``sqrt(w * h)`` of the face box in pixels.
    blur_sigma : float
        The effective gaussian sigma in pixels (object and whole-image blur together).
    extreme_light : bool
        Whether the face, or the whole image, was made dark or low in contrast below 0.45.
    covered : float
        Fraction of the face's mask covered by what was pasted after it, in [0, 1].

    Returns
    -------
    list of 6 int
        ``blur expression illumination invalid occlusion pose``.
    """
    rel = blur_sigma / max(size, 1.0)
    blur = 0 if rel < 0.04 else (1 if rel < 0.08 else 2)
    occlusion = 0 if covered < 0.05 else (1 if covered <= 0.3 else 2)
    return [blur, 0, int(extreme_light), int(covered > 0.7), occlusion, 0]


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

    Raises
    ------
    ValueError
        If ``boxes`` and ``attributes`` have different numbers of rows.

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
    hard = (invalid == 0) & (size >= MIN_FACE)
    medium = hard & (size >= _MEDIUM_MIN) & (occ < 2)
    easy = medium & (size >= _EASY_MIN) & (occ == 0) & (blur < 2) & (light == 0)
    return {"easy": easy, "medium": medium, "hard": hard}
