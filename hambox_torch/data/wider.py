"""WIDER FACE images and boxes as a torch dataset, robust to bad files and deterministic.

Layout of a root (the official one, and what :mod:`hambox_torch.data.embedded` writes)::

    root/WIDER_train/images/<event>/<name>.jpg
    root/WIDER_val/images/<event>/<name>.jpg
    root/wider_face_split/wider_face_train_bbx_gt.txt
    root/wider_face_split/wider_face_val_bbx_gt.txt

Annotations are read by :func:`hambox_core.datasets.read_wider_annotations`; boxes are
``x1 = x + w``, ``y1 = y + h`` (no "+1"). Images are decoded with Pillow in their stored pixel
orientation (EXIF rotation is not applied: the annotations refer to the stored pixels).

Bad input never stops an epoch and is never dropped silently:

* an image that cannot be read (missing, truncated, not an image) is reported by a
  :class:`DataWarning` naming the file, counted in ``WiderFaceDataset.stats``, and the
  sample is replaced by the next readable image in file order (the transform still draws from
  the requested index's generator);
* a face box partly outside its image is clipped to it (counted; one warning per file);
* a box with zero area (in the file, or after clipping) is dropped (counted, same warning).

Counts are of distinct files and boxes, made the first time a file is loaded *in this
process*: with DataLoader workers each worker counts in its own copy of the dataset. Call
:meth:`WiderFaceDataset.scan` in the main process for a complete count before training.

Randomness: sample ``i`` of epoch ``e`` is transformed with the generator
``numpy.random.default_rng((seed, e, i))`` (see :meth:`WiderFaceDataset.generator`), so it is
the same whatever the worker count or order. The epoch comes from ``set_epoch``, or from
the key itself: ``dataset[(i, e)]`` is what the sampler of
:func:`hambox_torch.data.collate.build_train_loader` asks for, which also works with
persistent workers.
"""

from __future__ import annotations

import operator
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors

from hambox_core.boxes import clip_boxes
from hambox_core.datasets import WiderAnnotation, read_wider_annotations

from .transforms import apply_transform

__all__ = [
    "IMAGE_EXTENSIONS",
    "DataStats",
    "DataWarning",
    "ImageReadWarning",
    "UnreadableImageError",
    "WiderFaceDataset",
    "find_image",
    "image_to_rgb",
    "read_image",
    "read_image_or_warn",
]

#: Image file extensions a WIDER-format folder may hold, in the order they are looked for.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

SPLITS = ("train", "val")


class DataWarning(UserWarning):
    """A problem in a data set's files that was worked around (named file, what was done)."""


@dataclass
class DataStats:
    """Counts of the input problems a dataset worked around (distinct files and boxes).

    Attributes
    ----------
    unreadable_images : int
        Images that could not be decoded and were replaced by the next readable one.
    boxes_clipped : int
        Face boxes partly outside their image, clipped to it.
    boxes_dropped : int
        Face boxes with zero area (in the file or after clipping), dropped.
    """

    unreadable_images: int = 0
    boxes_clipped: int = 0
    boxes_dropped: int = 0


class UnreadableImageError(OSError):
    """Raised by :func:`read_image` when a file is not a readable image."""


#: Integer modes of more than 8 bits and their full-scale value (Pillow's 16-bit modes).
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


def _to_uint8(values: np.ndarray, full_scale: float | None) -> np.ndarray:
    """Grey values of any range as uint8: divided by ``full_scale / 255``, or (``None``)
    stretched from their own minimum and maximum."""
    v = values.astype(np.float64)
    if full_scale is None:
        lo, hi = float(v.min()), float(v.max())
        v = (v - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(v)
    else:
        v = v * (255.0 / full_scale)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def image_to_rgb(im: Image.Image) -> np.ndarray:
    """A decoded Pillow image as ``(H, W, 3)`` uint8 RGB, with its modes' real ranges.

    8-bit modes (``1``, ``L``, ``P``, ``RGB``, ``RGBA``, ``CMYK``, ``YCbCr``, ``LA``, ...) go
    through Pillow's conversion (alpha dropped). Pillow's own conversion of the wider modes
    clips at 255, so they are scaled here instead: 16-bit grey (``I;16*``) by 255 / 65535;
    32-bit integer grey (``I``) the same when its values lie in [0, 65535] (what 16-bit PNG
    and TIFF files decode to), else stretched from its minimum to its maximum; float grey
    (``F``) by 255 when its values lie in [0, 1], kept when in [0, 255], else stretched. NaN
    values in an ``F`` image make it unreadable.

    Examples
    --------
    >>> im = Image.fromarray(np.array([[0, 32768, 65535]], np.uint16))
    >>> image_to_rgb(im)[0, :, 0].tolist()
    [0, 128, 255]
    """
    if im.mode == "RGB":
        return np.array(im)
    if im.mode in _SIXTEEN_BIT_MODES or im.mode in ("I", "F"):
        grey = np.array(im)
        if grey.dtype.kind == "f" and not np.isfinite(grey).all():
            raise ValueError(f"a float image ({im.mode}) with NaN or infinite values")
        lo = float(grey.min()) if grey.size else 0.0
        hi = float(grey.max()) if grey.size else 0.0
        if im.mode in _SIXTEEN_BIT_MODES or (im.mode == "I" and lo >= 0 and hi <= 65535):
            full: float | None = 65535.0
        elif im.mode == "F" and lo >= 0 and hi <= 1:
            full = 1.0
        elif im.mode == "F" and lo >= 0 and hi <= 255:
            full = 255.0
        else:
            full = None
        grey8 = _to_uint8(grey, full)
        return np.repeat(grey8[:, :, None], 3, axis=2)
    return np.array(im.convert("RGB"))


def read_image(path) -> tv_tensors.Image:
    """Decode an image file to RGB.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    tv_tensors.Image of shape (3, H, W), uint8
        A channels-last view (strides ``(1, 3 W, 3)``) of the decoded pixels, without a copy.
        Modes wider than 8 bits keep their range (a 16-bit PNG's 65535 is 255, not every value
        above 255 clipped to it; :func:`image_to_rgb`).

    Raises
    ------
    UnreadableImageError
        If the file is missing or is not a complete image Pillow can decode.
    """
    try:
        with Image.open(path) as im:
            im.load()
            arr = image_to_rgb(im)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UnreadableImageError(f"{os.fspath(path)}: {exc}") from exc
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise UnreadableImageError(f"{os.fspath(path)}: decoded to shape {arr.shape}")
    return tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1))


class ImageReadWarning(UserWarning):
    """An image could not be read; the caller goes on without it (and says how it counts)."""


def read_image_or_warn(path, consequence: str = "counted as no detections"):
    """:func:`read_image` as float RGB in [0, 1], or ``None`` with an :class:`ImageReadWarning`.

    Parameters
    ----------
    path : str or os.PathLike
    consequence : str
        What the caller does with an unreadable image (ends the warning's message).

    Returns
    -------
    Tensor[3, H, W] float32 or None
    """
    try:
        image = read_image(path)
    except UnreadableImageError as exc:
        warnings.warn(f"{exc}; {consequence}", ImageReadWarning, stacklevel=2)
        return None
    return image.as_subclass(torch.Tensor).float().div_(255.0)


def find_image(image_dir, event: str, stem: str) -> Path:
    """The file of image ``stem`` of ``event`` under ``image_dir`` (``<event>/<stem>.<ext>``).

    The first of :data:`IMAGE_EXTENSIONS` that exists; the ``.jpg`` name when none does (so
    that reading it reports the missing file).
    """
    folder = Path(image_dir) / event
    for ext in IMAGE_EXTENSIONS:
        p = folder / f"{stem}{ext}"
        if p.exists():
            return p
    return folder / f"{stem}.jpg"


class WiderFaceDataset(torch.utils.data.Dataset):
    """Images and face boxes of one WIDER FACE split.

    Parameters
    ----------
    root : str or os.PathLike
        The folder holding ``WIDER_<split>/images`` and ``wider_face_split``.
    split : {"train", "val"}
    transform : DetectionTransform or callable, optional
        Applied as ``apply_transform(transform, image, target, rng)`` (see
        :mod:`hambox_torch.data.transforms`); None returns the decoded sample.
    min_size : float, default 0.0
        Faces whose shorter side (after clipping, in original pixels) is below this are left
        out of the targets (a choice, not a data problem: not counted or warned).
    skip_invalid : bool, default True
        Leave out faces flagged ``invalid`` in the annotation file.
    seed : int, default 0
        Non-negative; with the epoch and the index it seeds each sample's generator.

    Attributes
    ----------
    annotations : list of hambox_core.datasets.WiderAnnotation
        The annotation file as read (unfiltered), one per image, in file order; for evaluation.
    stats : DataStats
        Problems worked around so far in this process.
    epoch : int
        The epoch used by ``dataset[i]`` (set with ``set_epoch``).

    Notes
    -----
    ``dataset[i]`` returns ``(image, target)``: without a transform, ``image`` is a
    :class:`tv_tensors.Image` uint8 (3, H, W) RGB and ``target`` a dict with ``"boxes"``
    (:class:`tv_tensors.BoundingBoxes` float32 XYXY (G, 4), ``canvas_size=(H, W)``),
    ``"image_id"`` (the path relative to ``images/``, a str) and ``"orig_size"``
    (``(H, W)``, a tuple of int). ``dataset[(i, epoch)]`` uses that epoch instead of
    ``epoch``.
    """

    def __init__(
        self,
        root,
        split: str = "train",
        transform=None,
        *,
        min_size: float = 0.0,
        skip_invalid: bool = True,
        seed: int = 0,
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not (isinstance(min_size, int | float) and np.isfinite(min_size) and min_size >= 0):
            raise ValueError(f"min_size must be a finite number >= 0, got {min_size!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if transform is not None and not callable(transform):
            raise ValueError(f"transform must be callable or None, got {transform!r}")
        self.root = Path(root)
        self.split = split
        self.images_dir = self.root / f"WIDER_{split}" / "images"
        self.annotation_file = self.root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt"
        if not self.annotation_file.is_file():
            raise FileNotFoundError(f"annotation file not found: {self.annotation_file}")
        if not self.images_dir.is_dir():
            raise FileNotFoundError(f"image folder not found: {self.images_dir}")
        self.annotations: list[WiderAnnotation] = read_wider_annotations(self.annotation_file)
        self.transform = transform
        self.min_size = float(min_size)
        self.skip_invalid = bool(skip_invalid)
        self.seed = int(seed)
        self.epoch = 0
        self.stats = DataStats()
        self._unreadable: set[int] = set()
        self._box_checked: set[int] = set()

    def __len__(self) -> int:
        return len(self.annotations)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={os.fspath(self.root)!r}, split={self.split!r}, "
            f"images={len(self)}, seed={self.seed}, epoch={self.epoch})"
        )

    # ----------------------------------------------------------------------------------------

    def image_path(self, index: int) -> Path:
        """Path of image ``index`` (``images_dir / annotations[index].name``)."""
        return self.images_dir / self.annotations[self._index(index)].name

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose random draws ``dataset[i]`` makes (call before each epoch)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    def generator(self, index: int, epoch: int | None = None) -> np.random.Generator:
        """The generator sample ``index`` of ``epoch`` (default ``epoch``) draws from.

        It is ``numpy.random.default_rng((seed, epoch, index))``: reproducible from the three
        numbers alone, and independent across epochs and indices.
        """
        epoch = self.epoch if epoch is None else int(epoch)
        return np.random.default_rng((self.seed, epoch, self._index(index)))

    def _index(self, index) -> int:
        i = operator.index(index)
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {index} out of range for {n} images")
        return i

    def _parse_key(self, key) -> tuple[int, int]:
        if isinstance(key, tuple):
            if len(key) != 2:
                raise IndexError(f"key must be an index or (index, epoch), got {key!r}")
            return self._index(key[0]), operator.index(key[1])
        return self._index(key), self.epoch

    # ----------------------------------------------------------------------------------------

    def _faces(self, i: int, image_hw: tuple[int, int]) -> torch.Tensor:
        """Clean boxes of image ``i``: invalid skipped, clipped, zero-area dropped, min_size."""
        ann = self.annotations[i]
        boxes = ann.boxes
        if self.skip_invalid and ann.attributes is not None:
            boxes = boxes[ann.attributes[:, 3] == 0]
        proper = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        kept = boxes[proper]
        clipped = clip_boxes(kept, image_hw)
        changed = (clipped != kept).any(axis=1)
        nonzero = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
        n_clipped = int((changed & nonzero).sum())
        n_dropped = int((~proper).sum() + (~nonzero).sum())
        if (n_clipped or n_dropped) and i not in self._box_checked:
            self.stats.boxes_clipped += n_clipped
            self.stats.boxes_dropped += n_dropped
            h, w = image_hw
            what = []
            if n_clipped:
                what.append(f"{n_clipped} face box(es) reaching outside the {w}x{h} image clipped")
            if n_dropped:
                what.append(f"{n_dropped} face box(es) with zero area dropped")
            warnings.warn(f"{self.image_path(i)}: {'; '.join(what)}", DataWarning, stacklevel=4)
        self._box_checked.add(i)
        faces = clipped[nonzero]
        if self.min_size > 0:
            wh = faces[:, 2:] - faces[:, :2]
            faces = faces[wh.min(axis=1) >= self.min_size]
        return torch.from_numpy(np.ascontiguousarray(faces, dtype=np.float32)).reshape(-1, 4)

    def load(self, index: int):
        """Sample ``index`` without transform, or :class:`UnreadableImageError`.

        Unlike ``dataset[index]`` this does not substitute another image; the box checks are
        counted and warned as usual.
        """
        i = self._index(index)
        image = read_image(self.image_path(i))
        hw = (int(image.shape[-2]), int(image.shape[-1]))
        boxes = self._faces(i, hw)
        target = {
            "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=hw),
            "image_id": self.annotations[i].name,
            "orig_size": hw,
        }
        return image, target

    def _load_readable(self, i: int):
        n = len(self)
        for step in range(n):
            j = (i + step) % n
            if j in self._unreadable:
                continue
            try:
                return self.load(j)
            except UnreadableImageError as exc:
                self._unreadable.add(j)
                self.stats.unreadable_images += 1
                warnings.warn(
                    f"{self.image_path(j)}: cannot read the image ({exc.__cause__ or exc}); "
                    "using the next readable image instead",
                    DataWarning,
                    stacklevel=3,
                )
        raise RuntimeError(f"no readable image among the {n} images of {self.images_dir}")

    def __getitem__(self, key):
        i, epoch = self._parse_key(key)
        image, target = self._load_readable(i)
        if self.transform is not None:
            image, target = apply_transform(self.transform, image, target, self.generator(i, epoch))
        return image, target

    def scan(self) -> DataStats:
        """Decode every image once in this process and return the complete ``stats``.

        Warnings are issued as in ``dataset[i]``; nothing is cached except which files are
        unreadable. Costs one decode per image.
        """
        for i in range(len(self)):
            if i in self._unreadable:
                continue
            try:
                self.load(i)
            except UnreadableImageError as exc:
                self._unreadable.add(i)
                self.stats.unreadable_images += 1
                warnings.warn(
                    f"{self.image_path(i)}: cannot read the image ({exc.__cause__ or exc})",
                    DataWarning,
                    stacklevel=2,
                )
        return self.stats
