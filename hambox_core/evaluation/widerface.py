"""The official WIDER FACE validation protocol, exactly, and fast.

Source: the MATLAB ``eval_tools`` distributed with WIDER FACE (Yang, Luo, Loy and Tang, "WIDER
FACE: A Face Detection Benchmark", CVPR 2016): ``wider_eval.m``, ``read_pred.m``,
``norm_score.m``, ``evaluation.m`` (with ``image_evaluation``, ``image_pr_info``,
``dataset_pr_info`` and ``boxoverlap``) and ``plot/VOCap.m``. This module computes what those
files compute; every step below is theirs unless marked *choice*.

1. **Ground truth** (:func:`load_ground_truth`): ``wider_face_val.mat`` gives the 61 events, the
   image names and every face box ``x y w h``; ``wider_{easy,medium,hard}_val.mat`` give, per
   image, the 1-based indices of the faces *kept* in that setting (``gt_list``). Faces not kept
   are *ignored*: a detection matching one is neither a true nor a false positive. The loader
   checks that the four files agree on events, images and boxes (the MATLAB tool silently
   uses each setting file's own copy). It keeps the few degenerate official boxes (zero
   width, one negative width, and the ``0 0 0 0`` dummy face of images without faces) as they
   are, because the official tool does.
2. **Predictions** (:func:`read_predictions`): one file per image, ``<event>/<image>.txt``,
   holding a name line (ignored), a count line and ``x y w h score`` rows (extra columns are
   allowed and ignored, as ``str2num`` + ``raw_info(1:5)`` does). Each image's detections are
   sorted by decreasing raw score, ties keeping file order (MATLAB's ``sort`` is stable).
   A missing file means "no detections" and is reported with one
   ``MissingPredictionWarning`` (MATLAB prints a line per file). *Choice*: where MATLAB
   prints "Invalid format" and goes on as if the file were missing, we raise
   :class:`ValueError` naming the file and line: a malformed line, a count that does not match
   the rows, a non-finite value. Negative widths and heights are accepted, as the official
   tool accepts them (the "+1" IoU below stays well defined for them).
3. **Score normalisation** (``norm_score.m``): one global min-max over *all* detections of all
   images, ``(s - min) / (max - min)``. The running maximum starts at ``realmin('single')`` and
   the minimum at ``realmax('single')``; under MATLAB's mixed-type rules this makes ``max``,
   ``min`` and the normalised scores **single precision** (the scores are rounded to float32
   before the subtraction, and the subtraction and division are float32 operations), and it
   makes the maximum at least ``2**-126`` when every score is negative. We reproduce both.
   Python ports that normalise in float64, or start from ``max = 0, min = 1``, differ for scores
   outside ``[0, 1]`` and for scores within a float32 rounding step of a threshold.
   *Choice*: when every detection has the same score (``max == min`` after rounding) the
   official tool divides 0 by 0 and so counts no detection at any threshold (AP 0); we set
   every normalised score to 1 instead (each detection counts at every threshold) and warn.
   Scores must fit in float32 (``|s| <= 3.4e38``), else :class:`ValueError`.
4. **Matching** (``image_evaluation``): in score order, each detection takes the face of
   highest IoU (the first one on ties, like ``max``), using the "+1" pixel convention of
   ``boxoverlap`` in float64: boxes become ``x2 = x + w``, intersections
   ``(min(x2) - max(x1) + 1) * (...)``, areas ``(x2 - x1 + 1) * (y2 - y1 + 1)``, and an IoU is 0
   when either intersection side is ``<= 0``. If that IoU is ``>= 0.5``: an ignored face makes
   the detection "not a proposal"; a kept face not yet recalled becomes recalled; a kept face
   already recalled leaves the detection a false positive. Images without faces or without
   detections are skipped entirely (their detections are not false positives), as in the
   official loop.
5. **PR curve** (``image_pr_info`` / ``dataset_pr_info``): for ``t = 1..1000`` the threshold is
   ``1 - t/1000`` (float64); per image, the detections with normalised score ``>= threshold``
   (a prefix of the sorted list) contribute their number of proposals and of recalled kept
   faces; sums over images give precision ``tp / proposals`` (NaN where there is no proposal,
   as in MATLAB) and recall ``tp / faces``, where ``faces`` counts every kept face of every
   image, detected or not.
6. **AP** (``VOCap.m``): VOC all-point interpolation, see :func:`hambox_core.evaluation.ap.voc_ap`.

How it is fast: the IoU argmax per detection depends only on the boxes, so it is computed once
for the three settings, by a numba kernel that also sorts each image; each setting is then one
pass over the detections that drops each detection's counts into the bin of the first
threshold it passes, and the curve is a cumulative sum over the 1000 bins. This gives the same
integers as the official per-threshold loop because each image's passing detections form a
prefix of its sorted list. ``bench/evaluation.py`` measures it against a plain implementation.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._numba import njit
from ..datasets._text import (
    fail,
    finite_matrix,
    format_number,
    parse_count,
    parse_floats,
    read_text_lines,
)
from .ap import voc_ap

# MissingPredictionWarning is public (import it to filter the warning) but stays out of
# __all__: the API reference's module template renders classes, functions and constants only.
__all__ = [
    "IOU_THRESHOLD",
    "NUM_THRESHOLDS",
    "SETTINGS",
    "PRCurve",
    "WiderGroundTruth",
    "evaluate",
    "load_ground_truth",
    "pr_curves",
    "read_prediction_file",
    "read_predictions",
    "write_ground_truth",
    "write_predictions",
]

#: The three official settings, in the order the official tool evaluates them.
SETTINGS = ("easy", "medium", "hard")
#: IoU a detection needs with a face (``>=``) to match it (``IoU_thresh`` in ``evaluation.m``).
IOU_THRESHOLD = 0.5
#: Number of score thresholds ``1 - t / 1000`` (``thresh_num`` in ``evaluation.m``).
NUM_THRESHOLDS = 1000

_REALMIN_SINGLE = float(np.finfo(np.float32).tiny)  # realmin('single') = 2**-126
_REALMAX_SINGLE = float(np.finfo(np.float32).max)  # realmax('single')
_MAT_NAMES = {
    "all": "wider_face_val.mat",
    "easy": "wider_easy_val.mat",
    "medium": "wider_medium_val.mat",
    "hard": "wider_hard_val.mat",
}


class MissingPredictionWarning(UserWarning):
    """Some ground-truth images have no prediction (file); they count as "no detections"."""


# --------------------------------------------------------------------------------------------
# ground truth
# --------------------------------------------------------------------------------------------


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
        return WiderGroundTruth.from_images(
            [(self.events[self.image_events[i]], self.image_names[i]) for i in images],
            [self.image_boxes(i) for i in images],
            {
                s: [k[self.offsets[i] : self.offsets[i + 1]] for i in images]
                for s, k in self.keep.items()
            },
            events=[self.events[e] for e in sorted(wanted)],
        )

    @classmethod
    def from_images(
        cls,
        keys: Sequence[tuple[str, str]],
        boxes: Sequence,
        keep: Mapping[str, Sequence],
        *,
        events: Sequence[str] | None = None,
    ) -> WiderGroundTruth:
        """Build a ground truth from per-image lists.

        Parameters
        ----------
        keys : sequence of (str, str)
            ``(event, image_stem)`` per image.
        boxes : sequence of array_like of shape (G_i, 4)
            Faces of each image as ``x y w h`` (finite; any sign, like the official data).
        keep : mapping of str to sequence of array_like of shape (G_i,), bool
            Per setting, per image, which faces count.
        events : sequence of str, optional
            Event order; by default the order in which ``keys`` first mention them.

        Raises
        ------
        ValueError
            On inconsistent lengths, shapes, duplicate keys or non-finite boxes.
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
        keep_flat = {}
        for setting, masks in keep.items():
            if len(masks) != len(keys):
                raise ValueError(f"setting {setting!r}: {len(masks)} masks for {len(keys)} images")
            parts = []
            for (e, n), m, c in zip(keys, masks, counts.tolist(), strict=True):
                mm = np.asarray(m, dtype=bool).reshape(-1)
                if mm.shape[0] != c:
                    raise ValueError(
                        f"setting {setting!r}: keep mask of {e}/{n} has {mm.shape[0]} entries "
                        f"for {c} faces"
                    )
                parts.append(mm)
            keep_flat[str(setting)] = np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
        return cls(
            events=events,
            image_events=np.array([ev_index[e] for e, _ in keys], dtype=np.int64),
            image_names=tuple(n for _, n in keys),
            boxes=flat,
            offsets=offsets,
            keep=keep_flat,
        )


def _mat_str(cell) -> str:
    return str(np.asarray(cell).reshape(-1)[0])


def _cells(arr) -> list:
    return list(np.asarray(arr, dtype=object).reshape(-1))


def _load_mat(path: Path, names: list[str]) -> dict:
    from scipy.io import loadmat

    if not path.is_file():
        raise FileNotFoundError(f"WIDER FACE ground-truth file not found: {path}")
    try:
        data = loadmat(os.fspath(path), variable_names=names)
    except Exception as exc:  # scipy raises several types for corrupt files
        raise ValueError(f"{path}: cannot read as a MATLAB file ({exc})") from exc
    missing = [n for n in names if n not in data]
    if missing:
        raise ValueError(f"{path}: missing variable(s) {', '.join(missing)}")
    return data


def _listing(data: dict, path: Path):
    """``(events, files, boxes (F, 4) float64, counts (I,) int64)`` of one ``.mat`` file."""
    events = [_mat_str(c) for c in _cells(data["event_list"])]
    file_cells = _cells(data["file_list"])
    box_cells = _cells(data["face_bbx_list"])
    if not (len(events) == len(file_cells) == len(box_cells)):
        raise ValueError(f"{path}: event_list, file_list and face_bbx_list differ in length")
    files, arrays = [], []
    for e, f, b in zip(events, file_cells, box_cells, strict=True):
        names = [_mat_str(c) for c in _cells(f)]
        per_image = [np.asarray(x).reshape(-1, 4) for x in _cells(b)]
        if len(names) != len(per_image):
            raise ValueError(
                f"{path}: event {e}: {len(names)} images but {len(per_image)} box lists"
            )
        files.append(names)
        arrays.extend(per_image)
    counts = np.array([a.shape[0] for a in arrays], dtype=np.int64)
    boxes = np.concatenate(arrays).astype(np.float64) if arrays else np.zeros((0, 4), np.float64)
    return events, files, boxes, counts


def _keep_mask(data: dict, path: Path, events, files, counts, offsets) -> np.ndarray:
    """The flat keep mask of one setting file's ``gt_list`` (1-based indices per image)."""
    gt_lists = _cells(data["gt_list"])
    if len(gt_lists) != len(events):
        raise ValueError(f"{path}: gt_list has {len(gt_lists)} events, expected {len(events)}")
    idx = []
    for e, fl, cell in zip(events, files, gt_lists, strict=True):
        per_image = _cells(cell)
        if len(per_image) != len(fl):
            raise ValueError(f"{path}: gt_list of {e} has {len(per_image)} images")
        idx.extend(np.asarray(ic).reshape(-1).astype(np.int64) for ic in per_image)
    lens = np.array([a.shape[0] for a in idx], dtype=np.int64)
    flat = np.concatenate(idx) if idx else np.zeros(0, np.int64)
    image = np.repeat(np.arange(len(idx)), lens)
    bad = (flat < 1) | (flat > counts[image])
    if bad.any():
        i = int(image[np.flatnonzero(bad)[0]])
        names = [(e, n) for e, fl in zip(events, files, strict=True) for n in fl]
        raise ValueError(
            f"{path}: keep index out of range 1..{counts[i]} for {names[i][0]}/{names[i][1]}"
        )
    mask = np.zeros(int(offsets[-1]), dtype=bool)
    mask[offsets[image] + flat - 1] = True
    return mask


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

    Raises
    ------
    FileNotFoundError
        If a needed file is missing.
    ValueError
        If a file cannot be read, lacks a variable, the files disagree on events, images or
        boxes, or a keep index is out of range.

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
    for setting in settings:
        if setting not in SETTINGS:
            raise ValueError(f"unknown setting {setting!r}; expected one of {SETTINGS}")
    base = gt_dir / _MAT_NAMES["all"]
    listing_names = ["event_list", "file_list", "face_bbx_list"]
    events, files, boxes, counts = _listing(_load_mat(base, listing_names), base)
    if not np.isfinite(boxes).all():
        raise ValueError(f"{base}: face_bbx_list holds a non-finite value")
    offsets = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    keep: dict[str, np.ndarray] = {}
    for setting in settings:
        path = gt_dir / _MAT_NAMES[setting]
        data = _load_mat(path, [*listing_names, "gt_list"])
        ev2, files2, boxes2, counts2 = _listing(data, path)
        if ev2 != events or files2 != files:
            raise ValueError(f"{path} lists other events or images than {base}")
        if not (np.array_equal(counts2, counts) and np.array_equal(boxes2, boxes)):
            first = int(
                np.flatnonzero(counts2 != counts)[0]
                if not np.array_equal(counts2, counts)
                else np.searchsorted(
                    offsets, np.flatnonzero((boxes2 != boxes).any(axis=1))[0], side="right"
                )
                - 1
            )
            names = [(e, n) for e, fl in zip(events, files, strict=True) for n in fl]
            raise ValueError(
                f"{path}: boxes of {names[first][0]}/{names[first][1]} differ from {base}"
            )
        keep[setting] = _keep_mask(data, path, events, files, counts, offsets)
    if len(set(events)) != len(events) or any(len(set(fl)) != len(fl) for fl in files):
        raise ValueError(f"{base}: an event or an image of an event is listed twice")
    return WiderGroundTruth(
        events=tuple(events),
        image_events=np.repeat(np.arange(len(events), dtype=np.int64), [len(fl) for fl in files]),
        image_names=tuple(n for fl in files for n in fl),
        boxes=np.ascontiguousarray(boxes),
        offsets=offsets,
        keep=keep,
    )


def write_ground_truth(gt_dir, gt: WiderGroundTruth) -> None:
    """Write ``gt`` as the official ``.mat`` files (``wider_face_val.mat`` and one per setting).

    The layout is the official one (61x1 cell arrays of per-image cells; boxes int32 ``x y w h``;
    keep lists as 1-based column vectors), so that :func:`load_ground_truth` and the MATLAB tool
    both read it. Boxes must be integral. The files' header text is fixed (scipy would write
    the time), so the same ground truth always gives the same bytes.

    Parameters
    ----------
    gt_dir : str or os.PathLike
        Output folder (created if needed; files overwritten).
    gt : WiderGroundTruth
    """
    from scipy.io import savemat

    if not np.array_equal(gt.boxes, np.round(gt.boxes)):
        raise ValueError("the .mat ground truth holds integer boxes; round first")
    gt_dir = Path(gt_dir)
    gt_dir.mkdir(parents=True, exist_ok=True)
    n_ev = len(gt.events)
    per_event: list[list[int]] = [[] for _ in range(n_ev)]
    for i, e in enumerate(gt.image_events.tolist()):
        per_event[e].append(i)

    def cell_column(items):
        out = np.empty((len(items), 1), dtype=object)
        for k, v in enumerate(items):
            out[k, 0] = v
        return out

    event_list = cell_column([np.array([e]) for e in gt.events])
    file_list = cell_column(
        [cell_column([np.array([gt.image_names[i]]) for i in imgs]) for imgs in per_event]
    )
    face_bbx_list = cell_column(
        [cell_column([gt.image_boxes(i).astype(np.int32) for i in imgs]) for imgs in per_event]
    )
    base = {"event_list": event_list, "file_list": file_list, "face_bbx_list": face_bbx_list}
    _savemat_reproducible(savemat, gt_dir / _MAT_NAMES["all"], base)
    for setting, keep in gt.keep.items():
        gt_list = cell_column(
            [
                cell_column(
                    [
                        (np.flatnonzero(keep[gt.offsets[i] : gt.offsets[i + 1]]) + 1)
                        .astype(np.uint16)
                        .reshape(-1, 1)
                        for i in imgs
                    ]
                )
                for imgs in per_event
            ]
        )
        _savemat_reproducible(savemat, gt_dir / _MAT_NAMES[setting], {**base, "gt_list": gt_list})


# The descriptive text that opens a level-5 MAT-file (116 bytes). scipy writes the time of
# writing there; a fixed text makes the same ground truth give the same bytes.
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


# --------------------------------------------------------------------------------------------
# predictions
# --------------------------------------------------------------------------------------------


def _parse_prediction_lines(path: str, lines: list[str]) -> np.ndarray:
    if not lines:
        raise fail(path, 1, "empty prediction file; expected a name line and a count line")
    if len(lines) < 2:
        raise fail(path, 2, "file ends where the detection count was expected")
    count = parse_count(path, 2, lines[1], "detection count")
    body = lines[2:]
    while body and not body[-1].strip():
        body.pop()
    if count == 0 and not body:
        return np.zeros((0, 5), np.float64)
    if len(body) == count and count:
        # fast path: every row present, no blank line in between, all rows alike
        try:
            arr = np.loadtxt(body, dtype=np.float64, ndmin=2, comments=None)
        except ValueError:
            arr = None
        if arr is not None and arr.shape[0] == count and (count == 0 or arr.shape[1] >= 5):
            if np.isfinite(arr).all():
                return np.ascontiguousarray(arr[:, :5])
    rows = []
    lineno = 2
    for line in body:
        lineno += 1
        tokens = line.split()
        if not tokens:
            continue
        if len(rows) == count:
            raise fail(
                path,
                lineno,
                f"more detection rows than the count on line 2 says ({count})",
            )
        if len(tokens) < 5:
            raise fail(
                path, lineno, f"expected 'x y w h score' (5 values), got {len(tokens)} value(s)"
            )
        rows.append(parse_floats(path, lineno, tokens, "detection")[:5])
    if len(rows) < count:
        raise fail(
            path,
            lineno + 1,
            f"file ends after {len(rows)} detection rows; line 2 says {count}",
        )
    return np.asarray(rows, dtype=np.float64).reshape(count, 5)


def read_prediction_file(path) -> np.ndarray:
    """Read one prediction file: name line, count line, ``x y w h score`` rows.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    ndarray of shape (N, 5), float64
        ``x y w h score`` rows in file order (not sorted: :func:`evaluate` sorts).

    Raises
    ------
    ValueError
        If the file is malformed; the message starts with ``"<path>, line <n>: "``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = f.write_text("a\\n2\\n1 2 3 4 0.5 \\n5 6 7 8 0.9 \\n")
    >>> read_prediction_file(f)
    array([[1. , 2. , 3. , 4. , 0.5],
           [5. , 6. , 7. , 8. , 0.9]])
    """
    p, lines = read_text_lines(path)
    return _parse_prediction_lines(p, lines)


def read_predictions(pred_dir, gt: WiderGroundTruth | None = None) -> dict:
    """Read a prediction folder laid out as ``<pred_dir>/<event>/<image_stem>.txt``.

    Parameters
    ----------
    pred_dir : str or os.PathLike
    gt : WiderGroundTruth, optional
        If given, read exactly the files of its images (as the official tool does) and leave
        the missing ones out of the result (:func:`evaluate` warns about them); otherwise read
        every ``<event>/<image_stem>.txt`` (other files and deeper folders are not read).

    Returns
    -------
    dict of (str, str) to ndarray of shape (N, 5), float64
        ``(event, image_stem) -> x y w h score`` rows.

    Raises
    ------
    FileNotFoundError
        If ``pred_dir`` is not a folder.
    ValueError
        If a file is malformed (file and line named).
    """
    root = Path(pred_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"prediction folder not found: {root}")
    out = {}
    if gt is not None:
        for event, stem in gt.keys():
            path = os.path.join(root, event, stem + ".txt")
            try:
                p, lines = read_text_lines(path)
            except FileNotFoundError:
                continue
            out[(event, stem)] = _parse_prediction_lines(p, lines)
        return out
    for ev in sorted(os.scandir(root), key=lambda d: d.name):
        if not ev.is_dir():
            continue
        for entry in sorted(os.scandir(ev.path), key=lambda d: d.name):
            if entry.name.endswith(".txt") and entry.is_file():
                p, lines = read_text_lines(entry.path)
                out[(ev.name, entry.name[:-4])] = _parse_prediction_lines(p, lines)
    return out


def write_predictions(pred_dir, preds: Mapping) -> None:
    """Write predictions in the official layout ``<pred_dir>/<event>/<image_stem>.txt``.

    Each file holds the image stem, the count and ``x y w h score`` rows, every value written
    with the digits needed to read it back exactly.

    Parameters
    ----------
    pred_dir : str or os.PathLike
        Output folder (created if needed; files overwritten).
    preds : mapping of (str, str) to array_like of shape (N, 5)

    Raises
    ------
    ValueError
        If an array has the wrong shape or a non-finite value.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> write_predictions(d, {("0--Parade", "a"): [[1, 2, 3, 4, 0.5]]})
    >>> read_predictions(d)
    {('0--Parade', 'a'): array([[1. , 2. , 3. , 4. , 0.5]])}
    """
    root = Path(pred_dir)
    for key, arr in preds.items():
        event, stem = key
        a = _as_predictions(arr, key)
        if not np.isfinite(a).all():
            raise ValueError(f"predictions of {event}/{stem} hold a non-finite value")
        (root / event).mkdir(parents=True, exist_ok=True)
        rows = "".join(" ".join(format_number(v) for v in row) + "\n" for row in a.tolist())
        with open(root / event / f"{stem}.txt", "w", encoding="utf-8", newline="\n") as fh:
            fh.write(f"{stem}\n{a.shape[0]}\n{rows}")


def _as_predictions(arr, key) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"predictions of {key} must hold real numbers, got dtype {a.dtype}")
    if a.size == 0:
        return np.zeros((0, 5), np.float64)
    if a.ndim != 2 or a.shape[1] != 5:
        raise ValueError(f"predictions of {key} must have shape (N, 5), got {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------


@njit
def _sort_and_match(pred, offsets, gt, gt_offsets, iou_thr):
    """Sort each image's detections and find each one's matched face.

    ``pred`` (P, 5) float64 ``x y w h score``, image after image as given by ``offsets``
    (I + 1,) int64; ``gt`` (F, 4) float64 ``x y w h`` with ``gt_offsets`` (I + 1,).

    Returns ``order`` (P,) int64, the rows of ``pred`` with each image's segment sorted by
    decreasing score (stable: MATLAB's ``sort(..., 'descend')``), and ``best`` (P,) int64
    aligned with ``order``: the global index of the face of highest IoU (first on ties) when
    that IoU is ``>= iou_thr``, ``-1`` when it is lower, ``-2`` when the image has no face
    (such images are skipped by the protocol).

    The IoU is ``boxoverlap`` of ``evaluation.m`` in float64 with the same operation order:
    ``x2 = x + w``; ``iw = (min(x2a, x2b) - max(x1a, x1b)) + 1``; IoU 0 when ``iw <= 0`` or
    ``ih <= 0``; else ``iw * ih / ((area_gt + area_det) - iw * ih)`` with
    ``area = ((x2 - x1) + 1) * ((y2 - y1) + 1)``. With ``iw > 0`` both boxes have positive
    "+1" sides, so the union is positive and no NaN can arise.
    """
    n_img = offsets.shape[0] - 1
    order = np.empty(pred.shape[0], np.int64)
    best = np.empty(pred.shape[0], np.int64)
    for i in range(n_img):
        p0 = offsets[i]
        p1 = offsets[i + 1]
        if p1 == p0:
            continue
        neg = np.empty(p1 - p0, np.float64)
        for k in range(p1 - p0):
            neg[k] = -pred[p0 + k, 4]
        local = np.argsort(neg, kind="mergesort")
        g0 = gt_offsets[i]
        ng = gt_offsets[i + 1] - g0
        gx1 = np.empty(ng, np.float64)
        gy1 = np.empty(ng, np.float64)
        gx2 = np.empty(ng, np.float64)
        gy2 = np.empty(ng, np.float64)
        garea = np.empty(ng, np.float64)
        for g in range(ng):
            gx1[g] = gt[g0 + g, 0]
            gy1[g] = gt[g0 + g, 1]
            gx2[g] = gx1[g] + gt[g0 + g, 2]
            gy2[g] = gy1[g] + gt[g0 + g, 3]
            garea[g] = ((gx2[g] - gx1[g]) + 1.0) * ((gy2[g] - gy1[g]) + 1.0)
        for k in range(p1 - p0):
            r = p0 + local[k]
            order[p0 + k] = r
            if ng == 0:
                best[p0 + k] = -2
                continue
            px1 = pred[r, 0]
            py1 = pred[r, 1]
            px2 = px1 + pred[r, 2]
            py2 = py1 + pred[r, 3]
            parea = ((px2 - px1) + 1.0) * ((py2 - py1) + 1.0)
            top = -1.0
            arg = 0
            for g in range(ng):
                iw = (min(gx2[g], px2) - max(gx1[g], px1)) + 1.0
                ih = (min(gy2[g], py2) - max(gy1[g], py1)) + 1.0
                o = 0.0
                if iw > 0.0 and ih > 0.0:
                    inter = iw * ih
                    o = inter / ((garea[g] + parea) - inter)
                if o > top:
                    top = o
                    arg = g
            best[p0 + k] = g0 + arg if top >= iou_thr else -1
    return order, best


@njit
def _threshold_bins(norm, thresholds):
    """Index of the first threshold each score passes (``thresholds[j] <= s``), exactly.

    ``thresholds`` (T,) float64 is decreasing; a score passing none gets ``T``. The arithmetic
    guess is corrected by comparisons with the actual thresholds, so the result is the same
    as comparing against every threshold in turn.
    """
    t = thresholds.shape[0]
    out = np.empty(norm.shape[0], np.int64)
    for k in range(norm.shape[0]):
        s = norm[k]
        g = int(math.ceil(t * (1.0 - s))) - 1
        g = min(max(g, 0), t)
        while g > 0 and thresholds[g - 1] <= s:
            g -= 1
        while g < t and thresholds[g] > s:
            g += 1
        out[k] = g
    return out


@njit
def _pr_histograms(best, bins, keep, num_bins):
    """Per-threshold-bin counts of proposals and of newly recalled kept faces.

    ``best`` (P,) int64 from :func:`_sort_and_match`, in sorted order; ``bins`` (P,) int64, the
    index of the first threshold each detection passes (``num_bins`` if none); ``keep`` (F,)
    bool. Walks the detections in order, carrying each face's "recalled" state (a face belongs
    to one image, so the state needs no reset between images), exactly like
    ``image_evaluation``. Returns two (num_bins + 1,) int64 histograms; the last bin collects
    detections that pass no threshold.
    """
    recalled = np.zeros(keep.shape[0], np.bool_)
    proposals = np.zeros(num_bins + 1, np.int64)
    hits = np.zeros(num_bins + 1, np.int64)
    for k in range(best.shape[0]):
        g = best[k]
        if g == -2:
            continue
        b = bins[k]
        if g >= 0:
            if not keep[g]:
                continue
            if not recalled[g]:
                recalled[g] = True
                hits[b] += 1
        proposals[b] += 1
    return proposals, hits


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PRCurve:
    """The official PR curve of one setting (``pr_cruve`` of ``evaluation.m``) and its AP.

    Attributes
    ----------
    setting : str
    thresholds : ndarray of shape (T,), float64
        ``1 - t / T`` for ``t = 1..T``, decreasing.
    precision : ndarray of shape (T,), float64
        ``true_positives / proposals``; NaN where there is no proposal yet.
    recall : ndarray of shape (T,), float64
        ``true_positives / num_faces``.
    proposals : ndarray of shape (T,), int64
        Detections at or above the threshold that did not match an ignored face.
    true_positives : ndarray of shape (T,), int64
        Kept faces recalled at or above the threshold.
    num_faces : int
        Kept faces in the setting.
    ap : float
        VOC all-point AP of the curve (``VOCap.m``).
    """

    setting: str
    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    proposals: np.ndarray
    true_positives: np.ndarray
    num_faces: int
    ap: float


def _thresholds(num_thresholds: int) -> np.ndarray:
    # 1 - t/thresh_num in float64, the same two roundings as MATLAB
    return 1.0 - np.arange(1, num_thresholds + 1, dtype=np.float64) / float(num_thresholds)


def _normalise(scores: np.ndarray) -> np.ndarray:
    """``norm_score.m`` with MATLAB's single-precision semantics (see the module docstring)."""
    if scores.size == 0:
        return np.zeros(0, np.float64)
    top = np.float32(max(_REALMIN_SINGLE, float(scores.max())))
    bottom = np.float32(min(_REALMAX_SINGLE, float(scores.min())))
    den = top - bottom
    if not den > 0:
        warnings.warn(
            "every detection has the same score (after rounding to float32); the official "
            "tool would divide 0 by 0 and count none of them (AP 0). Each detection is counted "
            "at every threshold instead.",
            UserWarning,
            stacklevel=4,
        )
        return np.ones(scores.shape[0], np.float64)
    return ((scores.astype(np.float32) - bottom) / den).astype(np.float64)


def _gather(preds: Mapping, gt: WiderGroundTruth) -> tuple[np.ndarray, np.ndarray]:
    """Predictions in ground-truth image order: ``(P, 5)`` float64 rows and ``(I + 1,)`` offsets."""
    keys = gt.keys()
    known = set(keys)
    unknown = [k for k in preds if k not in known]
    if unknown:
        warnings.warn(
            f"{len(unknown)} prediction entries have no ground-truth image and are ignored "
            f"(e.g. {unknown[0]!r}); keys are (event, image_stem)",
            UserWarning,
            stacklevel=3,
        )
    arrays = []
    missing = []
    counts = np.zeros(len(keys), np.int64)
    for i, key in enumerate(keys):
        arr = preds.get(key)
        if arr is None:
            missing.append(key)
            continue
        a = _as_predictions(arr, key)
        counts[i] = a.shape[0]
        if a.shape[0]:
            arrays.append(a)
    if missing:
        warnings.warn(
            f"{len(missing)} of {len(keys)} images have no predictions (e.g. "
            f"{'/'.join(missing[0])}); they count as images without detections",
            MissingPredictionWarning,
            stacklevel=3,
        )
    offsets = np.zeros(len(keys) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    pred = np.concatenate(arrays, axis=0) if arrays else np.zeros((0, 5), np.float64)
    bad = ~np.isfinite(pred).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        i = int(np.searchsorted(offsets, row, side="right") - 1)
        event, stem = keys[i]
        raise ValueError(
            f"predictions of {event}/{stem} hold a non-finite value in row {row - offsets[i]}"
        )
    big = np.abs(pred[:, 4]) > _REALMAX_SINGLE
    if big.any():
        row = int(np.flatnonzero(big)[0])
        i = int(np.searchsorted(offsets, row, side="right") - 1)
        raise ValueError(
            f"predictions of {'/'.join(keys[i])}: score {pred[row, 4]!r} does not fit in single "
            "precision, which the official score normalisation uses"
        )
    return pred, offsets


def pr_curves(
    preds,
    gt,
    *,
    settings: Sequence[str] | None = None,
    iou_threshold: float = IOU_THRESHOLD,
    num_thresholds: int = NUM_THRESHOLDS,
) -> dict[str, PRCurve]:
    """The official PR curves and APs, per setting.

    Parameters
    ----------
    preds : mapping or str or os.PathLike
        ``(event, image_stem) -> array_like (N, 5)`` of ``x y w h score`` rows in any order
        (pixels, any score range), or a prediction folder (read with :func:`read_predictions`).
        Images without an entry count as having no detections (one
        ``MissingPredictionWarning``); entries for unknown images are ignored (warned).
    gt : WiderGroundTruth or str or os.PathLike
        The ground truth, or the folder of the ``.mat`` files.
    settings : sequence of str, optional
        Default: every setting of ``gt``.
    iou_threshold : float, default 0.5
    num_thresholds : int, default 1000

    Returns
    -------
    dict of str to PRCurve

    Raises
    ------
    ValueError
        On a malformed prediction array or file, a non-finite value, or a score beyond float32.

    Examples
    --------
    >>> gt = WiderGroundTruth.from_images(
    ...     [("0--Parade", "a")], [[[10, 10, 20, 20], [100, 100, 20, 20]]],
    ...     {"hard": [[True, True]]})
    >>> preds = {("0--Parade", "a"): [[10, 10, 20, 20, 0.9], [300, 300, 5, 5, 0.3]]}
    >>> c = pr_curves(preds, gt)["hard"]
    >>> c.proposals[[0, 599, 999]].tolist(), c.true_positives[[0, 999]].tolist(), c.ap
    ([1, 1, 2], [1, 1], 0.5)
    """
    if not isinstance(gt, WiderGroundTruth):
        gt = load_ground_truth(gt)
    if isinstance(preds, str | os.PathLike):
        preds = read_predictions(preds, gt)
    if settings is None:
        settings = gt.settings
    for s in settings:
        if s not in gt.keep:
            raise ValueError(f"the ground truth has no keep list for setting {s!r}")
    num_thresholds = int(num_thresholds)
    if num_thresholds < 1:
        raise ValueError("num_thresholds must be >= 1")
    pred, offsets = _gather(preds, gt)
    order, best = _sort_and_match(pred, offsets, gt.boxes, gt.offsets, float(iou_threshold))
    norm = _normalise(pred[order, 4])
    thresholds = _thresholds(num_thresholds)
    bins = _threshold_bins(norm, thresholds)
    out = {}
    for s in settings:
        props, hits = _pr_histograms(best, bins, gt.keep[s], num_thresholds)
        proposals = np.cumsum(props[:num_thresholds])
        tp = np.cumsum(hits[:num_thresholds])
        faces = gt.num_faces(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = tp / proposals.astype(np.float64)
            recall = tp / np.float64(faces)
        out[s] = PRCurve(
            setting=s,
            thresholds=thresholds,
            precision=precision,
            recall=recall,
            proposals=proposals,
            true_positives=tp,
            num_faces=faces,
            ap=voc_ap(recall, precision),
        )
    return out


def evaluate(
    preds,
    gt,
    *,
    settings: Sequence[str] | None = None,
    iou_threshold: float = IOU_THRESHOLD,
    num_thresholds: int = NUM_THRESHOLDS,
) -> dict[str, float]:
    """Official WIDER FACE AP per setting: ``{"easy": ap, "medium": ap, "hard": ap}``.

    Same arguments as :func:`~hambox_core.evaluation.widerface.pr_curves`, which also returns
    the curves.

    Examples
    --------
    >>> gt = WiderGroundTruth.from_images(
    ...     [("0--Parade", "a")], [[[10, 10, 20, 20], [100, 100, 20, 20]]],
    ...     {"easy": [[True, False]], "hard": [[True, True]]})
    >>> preds = {("0--Parade", "a"): [[100, 100, 20, 20, 0.2], [11, 10, 20, 20, 0.9]]}
    >>> evaluate(preds, gt)
    {'easy': 1.0, 'hard': 1.0}
    """
    curves = pr_curves(
        preds, gt, settings=settings, iou_threshold=iou_threshold, num_thresholds=num_thresholds
    )
    return {s: c.ap for s, c in curves.items()}
