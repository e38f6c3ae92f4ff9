"""WIDER FACE annotation files: the official ``bbx_gt`` text and RetinaFace's ``label.txt``.

Two formats are read and written; both hold one record per image, in file order.

**Official** ``wider_face_{train,val}_bbx_gt.txt`` (WIDER FACE, Yang et al., CVPR 2016; the
format of the files distributed with the dataset)::

    0--Parade/0_Parade_marchingband_1_849.jpg        <- image path, one token
    1                                                <- face count
    449 330 122 149 0 0 0 0 0 0                      <- x y w h blur expression illumination
                                                        invalid occlusion pose (ten integers)

An image without faces has the count ``0`` followed by one dummy row of ten zeros; the reader
consumes that row (and also accepts its absence, which some converters produce), and the
writer always writes it, like the official files. Face rows carry a trailing space in the
official files; the writer reproduces that.

**RetinaFace** ``label.txt`` (the re-annotation distributed with RetinaFace, Deng et al.,
CVPR 2020)::

    # 0--Parade/0_Parade_marchingband_1_849.jpg      <- "#", image path, optional "width height"
    449 330 122 149 488.906 373.643 0.0 542.089 376.442 0.0 ... 0.82

A face row holds 4 values (box only), 19 (box and five landmarks as ``x y flag``) or 20 (the
same and a trailing per-face score, called "blur" or "confidence" by the users of the file).
Missing landmarks are written as ``-1``; the reader keeps the values as they are and fills rows
without landmarks (or without the score) with ``-1``, the file's own convention.

Choices, all checked by the readers:

* Boxes are returned as float32 ``(x0, y0, x1, y1)`` with ``x1 = x + w`` and ``y1 = y + h``
  (computed in float64, then rounded once), the project's box convention. In the official
  format, where boxes are integers, a coordinate beyond ``2**24`` (not exact in float32) is an
  error rather than a silent rounding. The official
  annotation holds a few degenerate boxes (zero width or height, and one negative width in
  val); they are kept as they are, so ``x1 < x0`` is possible. Filter with
  :meth:`WiderAnnotation.valid` when training.
* Malformed input raises :class:`ValueError` naming the file and the 1-based line: a name line
  that is not one token or that is a number, a count that is not a non-negative integer, a row
  with the wrong number of values or a value that does not parse (or, for floats, is not
  finite), fewer rows than the count says, a non-zero dummy row, a duplicate image name. Blank
  lines are skipped anywhere. Nothing is ever dropped silently: every non-blank line is either
  part of a record or an error.
* Writers refuse what their format cannot hold (non-integral boxes in the official format,
  names with whitespace) instead of rounding silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ._text import (
    LineReader,
    fail,
    format_float32,
    format_number,
    is_number,
    parse_count,
    parse_floats,
    parse_ints,
    read_text_lines,
)

__all__ = [
    "ATTRIBUTE_NAMES",
    "WiderAnnotation",
    "read_retinaface_labels",
    "read_wider_annotations",
    "write_retinaface_labels",
    "write_wider_annotations",
]

#: Names of the six per-face attribute columns of the official format, in file order.
ATTRIBUTE_NAMES = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")

_LABEL_WIDTHS = (4, 19, 20)
_FLOAT32_EXACT = 2**24  # every integer up to this magnitude is exact in float32


@dataclass(frozen=True, eq=False)
class WiderAnnotation:
    """The faces of one image.

    Attributes
    ----------
    name : str
        Image path relative to the ``images`` folder, e.g.
        ``"0--Parade/0_Parade_marchingband_1_849.jpg"``.
    boxes : ndarray of shape (N, 4), float32
        xyxy boxes, ``x1 = x + w``, ``y1 = y + h``; degenerate boxes are kept as they are.
    attributes : ndarray of shape (N, 6), int64, or None
        ``blur expression illumination invalid occlusion pose`` (official format only).
    landmarks : ndarray of shape (N, 5, 3), float32, or None
        Five ``(x, y, flag)`` landmarks per face (RetinaFace format only); ``-1`` where missing.
    scores : ndarray of shape (N,), float32, or None
        The trailing per-face value of 20-column RetinaFace rows; ``-1`` where missing.
    image_wh : tuple of int or None
        ``(width, height)`` when the RetinaFace name line carries them.

    Examples
    --------
    >>> ann = WiderAnnotation("a/b.jpg", np.array([[1, 2, 4, 6]], np.float32))
    >>> len(ann), ann.xywh().tolist()
    (1, [[1.0, 2.0, 3.0, 4.0]])
    """

    name: str
    boxes: np.ndarray
    attributes: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    scores: np.ndarray | None = None
    image_wh: tuple[int, int] | None = None

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def xywh(self) -> np.ndarray:
        """The boxes as float64 ``(x, y, w, h)`` (exactly the file's values for integer boxes)."""
        b = self.boxes.astype(np.float64)
        return np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)

    def valid(self) -> np.ndarray:
        """``(N,)`` bool: boxes with positive width and height (and, if known, not ``invalid``)."""
        b = self.boxes
        ok = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        if self.attributes is not None:
            ok &= self.attributes[:, 3] == 0
        return ok


# --------------------------------------------------------------------------------------------
# shared pieces
# --------------------------------------------------------------------------------------------


def _check_name_token(path: str, lineno: int, line: str) -> str:
    tokens = line.split()
    if len(tokens) != 1:
        raise fail(path, lineno, f"expected an image name (one token), got {line.strip()!r}")
    name = tokens[0]
    if is_number(name):
        raise fail(path, lineno, f"expected an image name, got the number {name!r}")
    return name


def _xywh_to_boxes(xywh: np.ndarray) -> np.ndarray:
    xywh = np.asarray(xywh, dtype=np.float64).reshape(-1, 4)
    x1 = xywh[:, 0] + xywh[:, 2]
    y1 = xywh[:, 1] + xywh[:, 3]
    return np.stack([xywh[:, 0], xywh[:, 1], x1, y1], axis=1).astype(np.float32)


def _check_writable_name(name: str) -> None:
    if not isinstance(name, str) or not name or len(name.split()) != 1 or name != name.strip():
        raise ValueError(f"image name {name!r} must be one token without whitespace")


def _as_annotation_boxes(ann: WiderAnnotation) -> np.ndarray:
    boxes = np.asarray(ann.boxes, dtype=np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{ann.name}: boxes must have shape (N, 4), got {boxes.shape}")
    if not np.isfinite(boxes).all():
        raise ValueError(f"{ann.name}: boxes must be finite")
    return boxes


# --------------------------------------------------------------------------------------------
# official bbx_gt format
# --------------------------------------------------------------------------------------------


def read_wider_annotations(path) -> list[WiderAnnotation]:
    """Read an official ``wider_face_*_bbx_gt.txt`` file.

    Parameters
    ----------
    path : str or os.PathLike
        The annotation file.

    Returns
    -------
    list of WiderAnnotation
        One per image, in file order, with ``attributes`` set and ``landmarks`` None.

    Raises
    ------
    ValueError
        On malformed input; the message starts with ``"<path>, line <n>: "``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "gt.txt"
    >>> _ = f.write_text("0--Parade/a.jpg\\n1\\n449 330 122 149 0 0 0 0 0 0 \\n"
    ...                  "0--Parade/b.jpg\\n0\\n0 0 0 0 0 0 0 0 0 0 \\n")
    >>> anns = read_wider_annotations(f)
    >>> [(a.name, len(a)) for a in anns]
    [('0--Parade/a.jpg', 1), ('0--Parade/b.jpg', 0)]
    >>> anns[0].boxes
    array([[449., 330., 571., 479.]], dtype=float32)
    """
    p, lines = read_text_lines(path)
    reader = LineReader(p, lines)
    out: list[WiderAnnotation] = []
    seen: dict[str, int] = {}
    while True:
        item = reader.next()
        if item is None:
            break
        name_line, line = item
        name = _check_name_token(p, name_line, line)
        if name in seen:
            raise fail(p, name_line, f"image {name!r} already listed on line {seen[name]}")
        seen[name] = name_line
        count_line, line = reader.expect(f"the face count of {name!r}")
        count = parse_count(p, count_line, line)
        rows: list[list[int]] = []
        if count == 0:
            nxt = reader.peek()
            if nxt is not None and len(nxt[1].split()) == 10 and is_number(nxt[1].split()[0]):
                lineno, line = reader.next()
                values = parse_ints(p, lineno, line.split(), "dummy row")
                if any(values):
                    raise fail(
                        p,
                        lineno,
                        f"count 0 on line {count_line} must be followed by a dummy row of "
                        f"zeros or the next image name, got {line.strip()!r}",
                    )
        for k in range(count):
            lineno, line = reader.expect(f"face {k + 1} of {count} of {name!r}")
            tokens = line.split()
            if len(tokens) != 10:
                raise fail(
                    p,
                    lineno,
                    f"expected 10 integers (x y w h blur expression illumination invalid "
                    f"occlusion pose) for face {k + 1} of {count} of {name!r}, "
                    f"got {len(tokens)} values",
                )
            values = parse_ints(p, lineno, tokens, f"face {k + 1} of {name!r}")
            x, y, w, h = values[:4]
            if max(abs(x), abs(y), abs(x + w), abs(y + h)) > _FLOAT32_EXACT:
                raise fail(p, lineno, f"box {x} {y} {w} {h} is too large for exact float32")
            rows.append(values)
        arr = np.asarray(rows, dtype=np.int64).reshape(count, 10)
        out.append(
            WiderAnnotation(
                name=name,
                boxes=_xywh_to_boxes(arr[:, :4]),
                attributes=arr[:, 4:].copy(),
            )
        )
    return out


def write_wider_annotations(path, annotations: Iterable[WiderAnnotation]) -> None:
    """Write annotations in the official ``bbx_gt`` format.

    Boxes must be integral in ``x y w h`` (the format holds integers); missing ``attributes``
    are written as zeros. An image without faces gets the count 0 and a dummy row of zeros.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (overwritten).
    annotations : iterable of WiderAnnotation

    Raises
    ------
    ValueError
        If a box is not integral, a name contains whitespace, or shapes are wrong.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "gt.txt"
    >>> write_wider_annotations(f, [WiderAnnotation("e/a.jpg", np.zeros((0, 4), np.float32))])
    >>> f.read_text()
    'e/a.jpg\\n0\\n0 0 0 0 0 0 0 0 0 0 \\n'
    """
    chunks: list[str] = []
    for ann in annotations:
        _check_writable_name(ann.name)
        boxes = _as_annotation_boxes(ann)
        n = boxes.shape[0]
        xywh = WiderAnnotation(ann.name, boxes).xywh()
        if not np.array_equal(xywh, np.round(xywh)):
            raise ValueError(f"{ann.name}: the official format holds integer x y w h; round first")
        attrs = np.zeros((n, 6), np.int64) if ann.attributes is None else ann.attributes
        attrs = np.asarray(attrs)
        if attrs.shape != (n, 6):
            raise ValueError(f"{ann.name}: attributes must have shape ({n}, 6), got {attrs.shape}")
        chunks.append(f"{ann.name}\n{n}\n")
        if n == 0:
            chunks.append("0 0 0 0 0 0 0 0 0 0 \n")
        for row_box, row_attr in zip(xywh.astype(np.int64), attrs.astype(np.int64), strict=True):
            values = [*row_box.tolist(), *row_attr.tolist()]
            chunks.append(" ".join(str(v) for v in values) + " \n")
    with open(os.fspath(path), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(chunks))


# --------------------------------------------------------------------------------------------
# RetinaFace label.txt
# --------------------------------------------------------------------------------------------


def read_retinaface_labels(path) -> list[WiderAnnotation]:
    """Read a RetinaFace-style ``label.txt`` (``#`` name lines, optional landmarks).

    Parameters
    ----------
    path : str or os.PathLike
        The label file.

    Returns
    -------
    list of WiderAnnotation
        One per image, in file order. ``landmarks`` is set when any row of the file has them,
        ``scores`` when any row has the 20th value; rows without them are filled with ``-1``.

    Raises
    ------
    ValueError
        On malformed input; the message starts with ``"<path>, line <n>: "``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "label.txt"
    >>> _ = f.write_text("# 0--Parade/a.jpg\\n449 330 122 149 488.906 373.643 0.0 542.089 "
    ...                  "376.442 0.0 515.031 412.83 0.0 485.174 425.893 0.0 538.357 431.491 "
    ...                  "0.0 0.82\\n# 0--Parade/b.jpg 1024 768\\n")
    >>> a, b = read_retinaface_labels(f)
    >>> a.boxes.tolist(), a.landmarks.shape, a.scores.tolist()
    ([[449.0, 330.0, 571.0, 479.0]], (1, 5, 3), [0.8199999928474426])
    >>> len(b), b.image_wh
    (0, (1024, 768))
    """
    p, lines = read_text_lines(path)
    reader = LineReader(p, lines)
    records: list[tuple[str, tuple[int, int] | None, list[list[float]]]] = []
    seen: dict[str, int] = {}
    any_landmarks = False
    any_scores = False
    current: list[list[float]] | None = None
    while True:
        item = reader.next()
        if item is None:
            break
        lineno, line = item
        stripped = line.strip()
        if stripped.startswith("#"):
            tokens = stripped[1:].split()
            if len(tokens) not in (1, 3):
                raise fail(p, lineno, f"expected '# <image path> [width height]', got {stripped!r}")
            name = tokens[0]
            if is_number(name):
                raise fail(p, lineno, f"expected an image name, got the number {name!r}")
            image_wh = None
            if len(tokens) == 3:
                w, h = parse_ints(p, lineno, tokens[1:], "image width and height")
                if w <= 0 or h <= 0:
                    raise fail(p, lineno, f"image width and height must be positive: {w} {h}")
                image_wh = (w, h)
            if name in seen:
                raise fail(p, lineno, f"image {name!r} already listed on line {seen[name]}")
            seen[name] = lineno
            current = []
            records.append((name, image_wh, current))
            continue
        if current is None:
            raise fail(p, lineno, f"expected a '# <image path>' line first, got {stripped!r}")
        tokens = stripped.split()
        if len(tokens) not in _LABEL_WIDTHS:
            raise fail(
                p,
                lineno,
                f"a face row holds 4, 19 or 20 values (box, landmarks, score), got {len(tokens)}",
            )
        values = parse_floats(p, lineno, tokens, "face row")
        any_landmarks |= len(values) >= 19
        any_scores |= len(values) == 20
        current.append(values)

    out = []
    for name, image_wh, rows in records:
        n = len(rows)
        full = np.full((n, 20), -1.0, dtype=np.float64)
        for i, r in enumerate(rows):
            full[i, : len(r)] = r
        out.append(
            WiderAnnotation(
                name=name,
                boxes=_xywh_to_boxes(full[:, :4]),
                landmarks=full[:, 4:19].reshape(n, 5, 3).astype(np.float32)
                if any_landmarks
                else None,
                scores=full[:, 19].astype(np.float32) if any_scores else None,
                image_wh=image_wh,
            )
        )
    return out


def write_retinaface_labels(path, annotations: Sequence[WiderAnnotation]) -> None:
    """Write annotations as a RetinaFace-style ``label.txt``.

    Every row gets 4 values when ``landmarks`` is None, else 19, or 20 when ``scores`` is set
    too. Values are written so that :func:`read_retinaface_labels` returns the same float32
    arrays (integers as integers, other values with all the digits they need).

    Parameters
    ----------
    path : str or os.PathLike
        Output file (overwritten).
    annotations : sequence of WiderAnnotation

    Raises
    ------
    ValueError
        If a name contains whitespace, an array has the wrong shape, or a value is not finite.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "label.txt"
    >>> ann = WiderAnnotation("e/a.jpg", np.array([[1, 2, 4, 6]], np.float32))
    >>> write_retinaface_labels(f, [ann])
    >>> f.read_text()
    '# e/a.jpg\\n1 2 3 4\\n'
    """
    chunks: list[str] = []
    for ann in annotations:
        _check_writable_name(ann.name)
        boxes = _as_annotation_boxes(ann)
        n = boxes.shape[0]
        head = f"# {ann.name}"
        if ann.image_wh is not None:
            head += f" {int(ann.image_wh[0])} {int(ann.image_wh[1])}"
        chunks.append(head + "\n")
        xywh = WiderAnnotation(ann.name, boxes).xywh()
        extra = np.zeros((n, 0), np.float32)
        if ann.landmarks is not None:
            lm = np.asarray(ann.landmarks, dtype=np.float32)
            if lm.shape != (n, 5, 3):
                raise ValueError(f"{ann.name}: landmarks must have shape ({n}, 5, 3)")
            extra = lm.reshape(n, 15)
            if ann.scores is not None:
                sc = np.asarray(ann.scores, dtype=np.float32)
                if sc.shape != (n,):
                    raise ValueError(f"{ann.name}: scores must have shape ({n},)")
                extra = np.concatenate([extra, sc[:, None]], axis=1)
        if not np.isfinite(extra).all():
            raise ValueError(f"{ann.name}: landmarks and scores must be finite")
        for box_row, extra_row in zip(xywh, extra, strict=True):
            values = [format_number(v) for v in box_row]
            values += [format_float32(v) for v in extra_row]
            chunks.append(" ".join(values) + "\n")
    with open(os.fspath(path), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(chunks))
