"""WIDER FACE prediction folders: ``<event>/<image_stem>.txt`` files, read and written.

Each file holds a name line (ignored), a count line and ``x y w h score`` rows, as the official
``read_pred.m`` reads them (extra columns are allowed and ignored, as ``str2num`` +
``raw_info(1:5)`` does). *Choice*: where MATLAB prints "Invalid format" and goes on as if the
file were missing, these readers raise :class:`ValueError` naming the file and line: a
malformed line, a count that does not match the rows, a non-finite value. A path that cannot
be read as a file (a folder named ``x.txt``, an event that is a file, a symbolic-link loop)
raises :class:`ValueError` naming it; a file that does not exist means "no detections" (the
caller warns).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..datasets._text import fail, format_number, parse_count, parse_floats, read_text_lines

__all__ = ["as_prediction_array", "read_prediction_file", "read_predictions", "write_predictions"]


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
        ``x y w h score`` rows in file order (not sorted: the evaluation sorts them).

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


def _read_file(path: str) -> np.ndarray | None:
    """One prediction file, or None if it does not exist; other OS errors name the path."""
    try:
        p, lines = read_text_lines(path)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ValueError(f"{path}: a folder, not a prediction file") from None
    except NotADirectoryError:
        raise ValueError(
            f"{path}: cannot be read, a part of the path that should be a folder is a file"
        ) from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return _parse_prediction_lines(p, lines)


def _scan(path: str) -> list:
    try:
        return sorted(os.scandir(path), key=lambda d: d.name)
    except OSError as exc:
        raise ValueError(f"{path}: cannot list the folder ({exc.strerror or exc})") from None


def read_predictions(pred_dir, gt=None) -> dict:
    """Read a prediction folder laid out as ``<pred_dir>/<event>/<image_stem>.txt``.

    Parameters
    ----------
    pred_dir : str or os.PathLike
    gt : WiderGroundTruth, optional
        If given, read exactly the files of its images (as the official tool does) and leave
        the missing ones out of the result (:func:`~hambox_core.evaluation.widerface.evaluate`
        warns about them); otherwise read every ``<event>/<image_stem>.txt`` (other files at
        the top, such as ``protocol.json``, and deeper folders are not read).

    Returns
    -------
    dict of (str, str) to ndarray of shape (N, 5), float64
        ``(event, image_stem) -> x y w h score`` rows.

    Raises
    ------
    FileNotFoundError
        If ``pred_dir`` does not exist.
    ValueError
        If ``pred_dir`` is not a folder, a file is malformed (file and line named), or a path
        cannot be read as a file or folder: a ``.txt`` entry that is a folder, an event path
        that is a file, a symbolic-link loop (the path named).
    """
    root = Path(pred_dir)
    if not root.exists():
        raise FileNotFoundError(f"prediction folder not found: {root}")
    if not root.is_dir():
        raise ValueError(f"{root}: the prediction folder is not a folder")
    out = {}
    if gt is not None:
        for event, stem in gt.keys():
            rows = _read_file(os.path.join(root, event, stem + ".txt"))
            if rows is not None:
                out[(event, stem)] = rows
        return out
    for ev in _scan(os.fspath(root)):
        if not ev.is_dir():
            continue  # protocol.json and other files beside the events
        for entry in _scan(ev.path):
            if not entry.name.endswith(".txt"):
                continue
            if not entry.is_file():
                raise ValueError(f"{entry.path}: not a regular file (a folder, or a broken link)")
            rows = _read_file(entry.path)
            if rows is None:
                raise ValueError(f"{entry.path}: vanished while the folder was read")
            out[(ev.name, entry.name[:-4])] = rows
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
        a = as_prediction_array(arr, key)
        if not np.isfinite(a).all():
            raise ValueError(f"predictions of {event}/{stem} hold a non-finite value")
        (root / event).mkdir(parents=True, exist_ok=True)
        rows = "".join(" ".join(format_number(v) for v in row) + "\n" for row in a.tolist())
        with open(root / event / f"{stem}.txt", "w", encoding="utf-8", newline="\n") as fh:
            fh.write(f"{stem}\n{a.shape[0]}\n{rows}")


def as_prediction_array(arr, key) -> np.ndarray:
    """One image's detections as a C-contiguous float64 ``(N, 5)`` array (``(0, 5)`` if empty).

    Parameters
    ----------
    arr : array_like of shape (N, 5)
        ``x y w h score`` rows.
    key : object
        Named in error messages (the image's ``(event, image_stem)``).

    Raises
    ------
    ValueError
        If ``arr`` does not hold real numbers or has another shape.
    """
    a = np.asarray(arr)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"predictions of {key} must hold real numbers, got dtype {a.dtype}")
    if a.size == 0:
        return np.zeros((0, 5), np.float64)
    if a.ndim != 2 or a.shape[1] != 5:
        raise ValueError(f"predictions of {key} must have shape (N, 5), got {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float64)
