"""The WIDER FACE validation ground truth: the official ``.mat`` files, read and written.

``wider_face_val.mat`` lists the 61 events, their images and every face box ``x y w h``
(``face_bbx_list``, **int32** in the official files), and six attribute labels per face
(``blur_label_list`` ... ``pose_label_list``, uint8); ``wider_{easy,medium,hard}_val.mat`` repeat
the listing and add ``gt_list``, per image the 1-based indices of the faces *kept* in that
setting. :func:`load_ground_truth` reads them into one flat :class:`WiderGroundTruth`;
:func:`write_ground_truth` writes the same layout and types back.

Files are read by :func:`hambox_core.evaluation.matfile.read_cell_variables`, in a child
process, so that a corrupt file gives a :class:`ValueError` naming it instead of a crash.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets._text import finite_matrix
from .matfile import MatCells, read_cell_variables

__all__ = [
    "ATTRIBUTES",
    "MAT_FILES",
    "SETTINGS",
    "WiderGroundTruth",
    "check_int32_boxes",
    "load_ground_truth",
    "write_ground_truth",
]

#: The three official settings, in the order the official tool evaluates them.
SETTINGS = ("easy", "medium", "hard")

#: The per-face attribute labels of ``wider_face_val.mat`` (variable ``<name>_label_list``) and
#: the meaning of each label value 0, 1, ... (``wider_face_split/readme.txt``).
ATTRIBUTES = {
    "blur": ("clear", "normal", "heavy"),
    "expression": ("typical", "exaggerate"),
    "illumination": ("normal", "extreme"),
    "occlusion": ("none", "partial", "heavy"),
    "pose": ("typical", "atypical"),
    "invalid": ("valid", "invalid"),
}

#: File name of the listing (``"all"``) and of each setting's keep lists.
MAT_FILES = {
    "all": "wider_face_val.mat",
    "easy": "wider_easy_val.mat",
    "medium": "wider_medium_val.mat",
    "hard": "wider_hard_val.mat",
}

_LISTING = ["event_list", "file_list", "face_bbx_list"]
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True, eq=False)
class WiderGroundTruth:
    """The WIDER FACE validation ground truth, flattened for fast evaluation.

    Attributes
    ----------
    events : tuple of str
        Event folder names, e.g. ``"0--Parade"``, in the official order.
    image_events : ndarray of shape (I,), int64
        Index into ``events`` of each image.
    image_names : tuple of str
        Image stems (no extension), e.g. ``"0_Parade_marchingband_1_465"``, in official order.
    boxes : ndarray of shape (F, 4), float64
        Every face as ``x y w h`` (the ``.mat`` integers), image after image.
    offsets : ndarray of shape (I + 1,), int64
        Image ``i`` owns ``boxes[offsets[i]:offsets[i + 1]]``.
    keep : dict of str to ndarray of shape (F,), bool
        Per setting, the faces that count; the others are ignored.
    attributes : dict of str to ndarray of shape (F,), int64
        Per attribute of :data:`ATTRIBUTES` that the files carry, each face's label
        (``attributes["blur"][f]`` is 0, 1 or 2); empty when the files carry none.

    Examples
    --------
    >>> gt = WiderGroundTruth.from_images(
    ...     [("0--Parade", "a"), ("0--Parade", "b")],
    ...     [[[10, 10, 20, 20], [50, 50, 5, 5]], [[0, 0, 30, 30]]],
    ...     {"easy": [[True, False], [True]], "hard": [[True, True], [True]]},
    ... )
    >>> len(gt), gt.num_faces("easy"), gt.num_faces("hard"), gt.settings
    (2, 2, 3, ('easy', 'hard'))
    """

    events: tuple[str, ...]
    image_events: np.ndarray
    image_names: tuple[str, ...]
    boxes: np.ndarray
    offsets: np.ndarray
    keep: dict[str, np.ndarray]
    attributes: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.image_names)

    @property
    def settings(self) -> tuple[str, ...]:
        """The settings this ground truth has keep lists for."""
        return tuple(self.keep)

    def keys(self) -> list[tuple[str, str]]:
        """``(event, image_stem)`` of every image, in order: the keys of a predictions mapping."""
        return [
            (self.events[e], n)
            for e, n in zip(self.image_events.tolist(), self.image_names, strict=True)
        ]

    def num_faces(self, setting: str) -> int:
        """Number of faces kept in ``setting`` (the recall denominator)."""
        return int(np.count_nonzero(self.keep[setting]))

    def image_boxes(self, i: int) -> np.ndarray:
        """Faces of image ``i`` as float64 ``x y w h``, shape ``(G, 4)``."""
        return self.boxes[self.offsets[i] : self.offsets[i + 1]]

    def head(self, n: int) -> WiderGroundTruth:
        """The first ``n`` images (every keep list and attribute cut alike; events unchanged).

        Evaluating on them is the official protocol applied to those images only.
        """
        n = min(max(int(n), 0), len(self))
        end = int(self.offsets[n])
        return WiderGroundTruth(
            events=self.events,
            image_events=self.image_events[:n],
            image_names=self.image_names[:n],
            boxes=self.boxes[:end],
            offsets=self.offsets[: n + 1],
            keep={k: v[:end] for k, v in self.keep.items()},
            attributes={k: v[:end] for k, v in self.attributes.items()},
        )

    def subset(self, events: Sequence[str | int]) -> WiderGroundTruth:
        """The ground truth restricted to some events (names or indices), in the original order.

        Evaluating on a subset is the official protocol applied to those images only: the score
        normalisation then runs over the predictions of those images.
        """
        wanted = set()
        for e in events:
            if isinstance(e, str):
                if e not in self.events:
                    raise ValueError(f"unknown event {e!r}")
                wanted.add(self.events.index(e))
            else:
                if not 0 <= int(e) < len(self.events):
                    raise ValueError(f"event index {e} out of range 0..{len(self.events) - 1}")
                wanted.add(int(e))
        images = [i for i in range(len(self)) if int(self.image_events[i]) in wanted]

        def per_image(flat):
            return [flat[self.offsets[i] : self.offsets[i + 1]] for i in images]

        return WiderGroundTruth.from_images(
            [(self.events[self.image_events[i]], self.image_names[i]) for i in images],
            [self.image_boxes(i) for i in images],
            {s: per_image(k) for s, k in self.keep.items()},
            events=[self.events[e] for e in sorted(wanted)],
            attributes={a: per_image(v) for a, v in self.attributes.items()},
        )

    @classmethod
    def from_images(
        cls,
        keys: Sequence[tuple[str, str]],
        boxes: Sequence,
        keep: Mapping[str, Sequence],
        *,
        events: Sequence[str] | None = None,
        attributes: Mapping[str, Sequence] | None = None,
    ) -> WiderGroundTruth:
        """Build a ground truth from per-image lists.

        Parameters
        ----------
        keys : sequence of (str, str)
            ``(event, image_stem)`` per image.
        boxes : sequence of array_like of shape (G_i, 4)
            Faces of each image as ``x y w h`` (finite; any sign, like the official data).
            The official evaluation semantics needs int32 values (see
            :func:`hambox_core.evaluation.widerface.pr_curves`).
        keep : mapping of str to sequence of array_like of shape (G_i,), bool
            Per setting, per image, which faces count.
        events : sequence of str, optional
            Event order; by default the order in which ``keys`` first mention them.
        attributes : mapping of str to sequence of array_like of shape (G_i,), int, optional
            Per attribute of :data:`ATTRIBUTES`, per image, each face's label.

        Raises
        ------
        ValueError
            On inconsistent lengths, shapes, duplicate keys, non-finite boxes, an unknown
            attribute or a label out of its range.
        """
        keys = [(str(e), str(n)) for e, n in keys]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate (event, image) keys in the ground truth")
        if len(boxes) != len(keys):
            raise ValueError(f"{len(keys)} images but {len(boxes)} box arrays")
        if events is None:
            events = list(dict.fromkeys(e for e, _ in keys))
        events = tuple(events)
        ev_index = {e: i for i, e in enumerate(events)}
        for e, _ in keys:
            if e not in ev_index:
                raise ValueError(f"event {e!r} is not in events")
        arrays = []
        for (e, n), b in zip(keys, boxes, strict=True):
            arrays.append(finite_matrix(b, 4, f"boxes of {e}/{n}"))
        counts = np.array([a.shape[0] for a in arrays], dtype=np.int64)
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        flat = (
            np.ascontiguousarray(np.concatenate(arrays, axis=0))
            if arrays
            else np.zeros((0, 4), np.float64)
        )

        def per_face(name, per_image, dtype):
            if len(per_image) != len(keys):
                raise ValueError(f"{name}: {len(per_image)} lists for {len(keys)} images")
            parts = []
            for (e, n), m, c in zip(keys, per_image, counts.tolist(), strict=True):
                mm = np.asarray(m).reshape(-1)
                if mm.shape[0] != c:
                    raise ValueError(
                        f"{name}: the list of {e}/{n} has {mm.shape[0]} entries for {c} faces"
                    )
                parts.append(mm.astype(dtype))
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        keep_flat = {
            str(s): per_face(f"setting {s!r}: keep mask", m, bool) for s, m in keep.items()
        }
        labels = {}
        for name, per_image in (attributes or {}).items():
            if name not in ATTRIBUTES:
                raise ValueError(f"unknown attribute {name!r}; expected one of {tuple(ATTRIBUTES)}")
            values = per_face(f"attribute {name!r}", per_image, np.float64)
            bad = (values != np.round(values)) | (values < 0) | (values >= len(ATTRIBUTES[name]))
            if bad.any():
                raise ValueError(
                    f"attribute {name!r}: label {values[np.flatnonzero(bad)[0]]!r} is not one of "
                    f"0..{len(ATTRIBUTES[name]) - 1}"
                )
            labels[name] = values.astype(np.int64)
        return cls(
            events=events,
            image_events=np.array([ev_index[e] for e, _ in keys], dtype=np.int64),
            image_names=tuple(n for _, n in keys),
            boxes=flat,
            offsets=offsets,
            keep=keep_flat,
            attributes=labels,
        )


def check_int32_boxes(gt: WiderGroundTruth, name: str, *, hint: str = "") -> None:
    """Raise unless every box value of ``gt`` is an integer in the int32 range.

    The official ``.mat`` files hold int32 boxes; the official evaluation semantics computes
    with them as MATLAB does, and :func:`write_ground_truth` writes them.

    Parameters
    ----------
    gt : WiderGroundTruth
    name : str
        Argument name used in the message.
    hint : str, optional
        Appended to the message (what the caller can do instead).

    Raises
    ------
    ValueError
        Naming the first offending box and its image.
    """
    b = gt.boxes
    bad = (b != np.round(b)) | (b < _INT32_MIN) | (b > _INT32_MAX)
    if bad.any():
        face = int(np.flatnonzero(bad.any(axis=1))[0])
        i = int(np.searchsorted(gt.offsets, face, side="right") - 1)
        raise ValueError(
            f"{name}: the box {b[face].tolist()} of {'/'.join(gt.keys()[i])} is not int32-valued; "
            f"the official .mat files hold int32 x y w h {hint}".rstrip()
        )


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def _variable(data: dict, name: str, path: Path, *, nested: bool, strings: bool) -> MatCells:
    if name not in data:
        raise ValueError(f"{path}: missing variable {name}")
    cells = data[name]
    if nested != (cells.counts is not None) or (
        cells.num_leaves and strings != (cells.strings is not None)
    ):
        kind = "cells of " if nested else ""
        raise ValueError(
            f"{path}: {name} is not a cell array of {kind}{'strings' if strings else 'matrices'}"
        )
    return cells


class _Listing:
    """``event_list``, ``file_list`` and ``face_bbx_list`` of one file, checked."""

    def __init__(self, data: dict, path: Path):
        ev = _variable(data, "event_list", path, nested=False, strings=True)
        fl = _variable(data, "file_list", path, nested=True, strings=True)
        bb = _variable(data, "face_bbx_list", path, nested=True, strings=False)
        self.events = list(ev.strings or [])
        if not (len(self.events) == fl.counts.shape[0] == bb.counts.shape[0]):
            raise ValueError(f"{path}: event_list, file_list and face_bbx_list differ in length")
        if not np.array_equal(fl.counts, bb.counts):
            e = int(np.flatnonzero(fl.counts != bb.counts)[0])
            raise ValueError(
                f"{path}: event {self.events[e]}: {fl.counts[e]} images but {bb.counts[e]} box "
                "lists"
            )
        self.names = list(fl.strings or [])
        image_event = np.repeat(np.arange(len(self.events)), fl.counts)
        self.keys = [
            (self.events[e], n) for e, n in zip(image_event.tolist(), self.names, strict=True)
        ]
        rows, cols = bb.shapes[:, 0], bb.shapes[:, 1]
        bad = (cols != 4) & (rows * cols != 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{path}: face_bbx_list of {'/'.join(self.keys[i])} has shape "
                f"{tuple(bb.shapes[i])}, not (faces, 4)"
            )
        self.counts = np.where(rows * cols == 0, 0, rows).astype(np.int64)
        self.boxes = bb.data.reshape(-1, 4) if bb.data is not None else np.zeros((0, 4))
        self.box_classes = bb.classes
        self.image_counts = fl.counts

    def image_of(self, face_or_leaf: int) -> str:
        return "/".join(self.keys[face_or_leaf])


def _per_image_lists(data, name, path, listing: _Listing) -> tuple[np.ndarray, np.ndarray]:
    """A nested numeric variable with one value list per image: ``(values, image of each)``."""
    cells = _variable(data, name, path, nested=True, strings=False)
    if not np.array_equal(cells.counts, listing.image_counts):
        raise ValueError(f"{path}: {name} does not list the images of file_list")
    sizes = cells.shapes[:, 0] * cells.shapes[:, 1]
    values = cells.data if cells.data is not None else np.zeros(0)
    return values, np.repeat(np.arange(sizes.shape[0]), sizes)


def _keep_mask(data, path, listing: _Listing, offsets) -> np.ndarray:
    """The flat keep mask of one setting file's ``gt_list`` (1-based indices per image)."""
    flat, image = _per_image_lists(data, "gt_list", path, listing)
    bad = (flat != np.round(flat)) | (flat < 1) | (flat > listing.counts[image])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        i = int(image[k])
        raise ValueError(
            f"{path}: gt_list of {listing.image_of(i)}: keep index {flat[k]:g} is not one of "
            f"1..{listing.counts[i]}"
        )
    faces = offsets[image] + flat.astype(np.int64) - 1
    mask = np.zeros(int(offsets[-1]), dtype=bool)
    mask[faces] = True
    if np.count_nonzero(mask) != faces.shape[0]:
        # the tool would count such a face twice in the recall denominator
        twice = np.flatnonzero(np.bincount(faces) > 1)[0]
        i = int(np.searchsorted(offsets, twice, side="right") - 1)
        raise ValueError(f"{path}: gt_list of {listing.image_of(i)} lists a face twice")
    return mask


def _labels(data, name, path, listing: _Listing) -> np.ndarray:
    values, image = _per_image_lists(data, f"{name}_label_list", path, listing)
    per_image = np.bincount(image, minlength=len(listing.keys))
    if not np.array_equal(per_image, listing.counts):
        i = int(np.flatnonzero(per_image != listing.counts)[0])
        raise ValueError(
            f"{path}: {name}_label_list of {listing.image_of(i)} has {per_image[i]} labels for "
            f"{listing.counts[i]} faces"
        )
    bad = (values != np.round(values)) | (values < 0) | (values >= len(ATTRIBUTES[name]))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}: {name}_label_list of {listing.image_of(int(image[k]))}: label "
            f"{values[k]:g} is not one of 0..{len(ATTRIBUTES[name]) - 1}"
        )
    return values.astype(np.int64)


def load_ground_truth(gt_dir, settings: Sequence[str] = SETTINGS) -> WiderGroundTruth:
    """Read the official WIDER FACE validation ground truth (``.mat`` files).

    Parameters
    ----------
    gt_dir : str or os.PathLike
        Folder holding ``wider_face_val.mat`` and ``wider_{setting}_val.mat``.
    settings : sequence of str, default ("easy", "medium", "hard")
        Which keep lists to load.

    Returns
    -------
    WiderGroundTruth
        With the attribute labels of ``wider_face_val.mat`` when it carries them.

    Raises
    ------
    FileNotFoundError
        If a needed file is missing.
    ValueError
        If a file is corrupt or foreign (read in a child process, so that even a file that
        crashes the reader gives this error), lacks a variable, the files disagree on events,
        images or boxes, or a keep index or a label is out of range. Messages name the file.

    Warns
    -----
    UserWarning
        If ``face_bbx_list`` is not int32 as in the official files (MATLAB then evaluates in
        double arithmetic, which is ``semantics="float"``).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> gt = WiderGroundTruth.from_images(
    ...     [("0--Parade", "a")], [[[10, 10, 20, 20]]],
    ...     {s: [[True]] for s in SETTINGS})
    >>> write_ground_truth(d, gt)
    >>> load_ground_truth(d).keys()
    [('0--Parade', 'a')]
    """
    gt_dir = Path(gt_dir)
    settings = list(settings)
    for setting in settings:
        if setting not in SETTINGS:
            raise ValueError(f"unknown setting {setting!r}; expected one of {SETTINGS}")
    base = gt_dir / MAT_FILES["all"]
    label_names = [f"{a}_label_list" for a in ATTRIBUTES]
    requests = [(base, _LISTING + label_names)]
    requests += [(gt_dir / MAT_FILES[s], [*_LISTING, "gt_list"]) for s in settings]
    files = read_cell_variables(requests)
    listing = _Listing(files[0], base)
    if not np.isfinite(listing.boxes).all():
        raise ValueError(f"{base}: face_bbx_list holds a non-finite value")
    if listing.box_classes and listing.box_classes != ("int32",):
        names = {"float64": "double", "float32": "single", "bool": "logical"}
        matlab_classes = [names.get(c, c) for c in listing.box_classes]
        warnings.warn(
            f"{base}: face_bbx_list holds {'/'.join(matlab_classes)} boxes, not int32 as "
            "the official files do; the MATLAB tool would evaluate them in double arithmetic, "
            "which is semantics='float'",
            UserWarning,
            stacklevel=2,
        )
    offsets = np.zeros(listing.counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(listing.counts, out=offsets[1:])
    keep: dict[str, np.ndarray] = {}
    for setting, data in zip(settings, files[1:], strict=True):
        path = gt_dir / MAT_FILES[setting]
        other = _Listing(data, path)
        if other.events != listing.events or other.names != listing.names:
            raise ValueError(f"{path} lists other events or images than {base}")
        if not np.array_equal(other.counts, listing.counts):
            i = int(np.flatnonzero(other.counts != listing.counts)[0])
            raise ValueError(f"{path}: boxes of {listing.image_of(i)} differ from {base}")
        if not np.array_equal(other.boxes, listing.boxes):
            face = int(np.flatnonzero((other.boxes != listing.boxes).any(axis=1))[0])
            i = int(np.searchsorted(offsets, face, side="right") - 1)
            raise ValueError(f"{path}: boxes of {listing.image_of(i)} differ from {base}")
        keep[setting] = _keep_mask(data, path, listing, offsets)
    events, names = listing.events, listing.names
    if len(set(events)) != len(events) or len(set(listing.keys)) != len(listing.keys):
        raise ValueError(f"{base}: an event or an image of an event is listed twice")
    attributes = {
        a: _labels(files[0], a, base, listing) for a in ATTRIBUTES if f"{a}_label_list" in files[0]
    }
    return WiderGroundTruth(
        events=tuple(events),
        image_events=np.repeat(np.arange(len(events), dtype=np.int64), listing.image_counts),
        image_names=tuple(names),
        boxes=np.ascontiguousarray(listing.boxes, dtype=np.float64),
        offsets=offsets,
        keep=keep,
        attributes=attributes,
    )


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def write_ground_truth(gt_dir, gt: WiderGroundTruth) -> None:
    """Write ``gt`` as the official ``.mat`` files (``wider_face_val.mat`` and one per setting).

    The layout and types are the official ones: 61x1-style column cell arrays of per-image
    cells; ``face_bbx_list`` int32 ``x y w h``; ``gt_list`` 1-based column vectors of the
    smallest unsigned type that holds them (uint8, or uint16 for an image with over 255
    faces); the attribute label lists (uint8), when ``gt`` has them, in every file. So both
    :func:`load_ground_truth` and the MATLAB tool read it. The files' header text is fixed
    (scipy would write the time), so the same ground truth always gives the same bytes.

    Parameters
    ----------
    gt_dir : str or os.PathLike
        Output folder (created if needed; files overwritten).
    gt : WiderGroundTruth

    Raises
    ------
    ValueError
        If a box coordinate or size is not an integer in the int32 range.
    """
    from scipy.io import savemat

    check_int32_boxes(gt, "gt", hint="(round the boxes first)")
    gt_dir = Path(gt_dir)
    gt_dir.mkdir(parents=True, exist_ok=True)
    per_event: list[list[int]] = [[] for _ in gt.events]
    for i, e in enumerate(gt.image_events.tolist()):
        per_event[e].append(i)

    def cell_column(items):
        out = np.empty((len(items), 1), dtype=object)
        for k, v in enumerate(items):
            out[k, 0] = v
        return out

    def per_image(make):
        return cell_column([cell_column([make(i) for i in imgs]) for imgs in per_event])

    def index_column(values):
        dtype = np.uint8 if values.size == 0 or values.max() <= 255 else np.uint16
        if values.size and values.max() > 65535:
            dtype = np.uint32
        return values.astype(dtype).reshape(-1, 1)

    base = {
        "event_list": cell_column([np.array([e]) for e in gt.events]),
        "file_list": per_image(lambda i: np.array([gt.image_names[i]])),
        "face_bbx_list": per_image(lambda i: gt.image_boxes(i).astype(np.int32)),
    }
    for name, labels in gt.attributes.items():
        base[f"{name}_label_list"] = per_image(
            lambda i, labels=labels: (
                labels[gt.offsets[i] : gt.offsets[i + 1]].astype(np.uint8).reshape(-1, 1)
            )
        )
    _savemat_reproducible(savemat, gt_dir / MAT_FILES["all"], base)
    for setting, keep in gt.keep.items():
        if setting not in MAT_FILES:
            raise ValueError(f"gt: setting {setting!r} has no official file name")
        gt_list = per_image(
            lambda i, keep=keep: index_column(
                np.flatnonzero(keep[gt.offsets[i] : gt.offsets[i + 1]]) + 1
            )
        )
        _savemat_reproducible(savemat, gt_dir / MAT_FILES[setting], {**base, "gt_list": gt_list})


# The descriptive text that opens a level-5 MAT-file (116 bytes). scipy writes the time of
# writing there; a fixed text makes the same ground truth give the same bytes. (It names the
# module that wrote it first; kept so that files written before and after the move agree.)
_MAT_HEADER_LEN = 116
_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by hambox_core.evaluation.widerface"


def _savemat_reproducible(savemat, path: Path, data: dict) -> None:
    """``savemat`` with a fixed header text (no reader interprets it)."""
    savemat(os.fspath(path), data)
    with open(path, "r+b") as fh:
        if not fh.read(_MAT_HEADER_LEN).startswith(b"MATLAB 5.0 MAT-file"):
            raise RuntimeError(f"{path}: scipy did not write a level-5 MAT-file header")
        fh.seek(0)
        fh.write(_MAT_HEADER.ljust(_MAT_HEADER_LEN, b" "))
