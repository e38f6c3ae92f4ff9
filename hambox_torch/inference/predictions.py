"""WIDER FACE prediction folders: the official ``<event>/<stem>.txt`` files plus ``protocol.json``.

The text files are written by :func:`hambox_core.evaluation.widerface.write_predictions` (name
line, count line, ``x y w h score`` rows); ``protocol.json`` beside them records how the
predictions were made (protocol, detection settings, model config and checkpoint), because AP is
comparable only between predictions made under the same protocol.

A folder describes one run: :func:`check_prediction_folder` refuses a folder that already
holds another run's results (a ``protocol.json`` or prediction ``.txt`` files in event
folders), and :func:`clear_prediction_folder` deletes them when the caller was told to
overwrite, so a ``protocol.json`` never sits beside files another run wrote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from hambox_core.evaluation import widerface as wider_eval

__all__ = [
    "PROTOCOL_FILE",
    "check_prediction_folder",
    "clear_prediction_folder",
    "prediction_folder_files",
    "wider_rows",
    "write_prediction_folder",
    "write_protocol_json",
]

#: The metadata file of a prediction folder.
PROTOCOL_FILE = "protocol.json"


def wider_rows(boxes, scores) -> np.ndarray:
    """Detections as the rows of a WIDER FACE prediction file.

    Parameters
    ----------
    boxes : array_like or Tensor of shape (D, 4)
        xyxy boxes.
    scores : array_like or Tensor of shape (D,)

    Returns
    -------
    ndarray of shape (D, 5), float64
        ``x y w h score`` rows.

    Examples
    --------
    >>> wider_rows([[10, 20, 14, 30]], [0.5])
    array([[10. , 20. ,  4. , 10. ,  0.5]])
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if s.shape[0] != b.shape[0]:
        raise ValueError(f"scores must have shape ({b.shape[0]},), got {s.shape}")
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2], s[:, None]], axis=1)


def _is_prediction_file(path: Path) -> bool:
    """Whether ``path`` starts as a WIDER FACE prediction file: a name line, a count line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            f.readline(4096)
            count = f.readline(64).strip()
    except OSError:
        return False
    return count.isascii() and count.isdigit()


def prediction_folder_files(out_dir, also: Sequence[str] = ()) -> list[Path]:
    """The results of a run in ``out_dir``: its ``protocol.json``, the prediction files of its
    event folders (``.txt`` files at any depth below ``out_dir`` that start with a name line and
    a count line), and files matching the glob patterns ``also`` (e.g. ``"*.boxes.jpg"``),
    sorted; ``[]`` for a missing folder.

    Examples
    --------
    >>> import tempfile
    >>> d = write_prediction_folder(tempfile.mkdtemp(), {("ev", "a"): ([[0, 0, 2, 2]], [0.9])},
    ...                             {"protocol": {"name": "single"}})
    >>> [p.relative_to(d).as_posix() for p in prediction_folder_files(d)]
    ['ev/a.txt', 'protocol.json']
    """
    out = Path(out_dir)
    if not out.is_dir():
        return []
    found = {p for p in out.rglob("*.txt") if p.parent != out and _is_prediction_file(p)}
    for pattern in also:
        found.update(p for p in out.rglob(pattern) if p.is_file())
    if (out / PROTOCOL_FILE).is_file():
        found.add(out / PROTOCOL_FILE)
    return sorted(found)


def check_prediction_folder(out_dir, *, overwrite: bool = False, also: Sequence[str] = ()):
    """Check that predictions may be written to ``out_dir``.

    Parameters
    ----------
    out_dir : str or os.PathLike
    overwrite : bool, default False
        Allow a folder holding another run's results (the caller then deletes them with
        :func:`clear_prediction_folder` before writing).
    also : sequence of str
        More glob patterns of files a run writes (see :func:`prediction_folder_files`).

    Returns
    -------
    list of Path
        The results that would be replaced.

    Raises
    ------
    ValueError
        ``out_dir`` is a file, or holds results and ``overwrite`` is false; the message says
        what it holds and how to go on.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not a folder for predictions")
    existing = prediction_folder_files(out, also)
    if existing and not overwrite:
        has_meta = (out / PROTOCOL_FILE) in existing
        files = len(existing) - has_meta
        parts = [PROTOCOL_FILE] if has_meta else []
        if files:
            parts.append(f"{files} prediction files")
        what = ", ".join(parts)
        raise ValueError(
            f"{out} already holds the results of another run ({what}); replace them with "
            "--overwrite (overwrite=True), or choose another folder"
        )
    return existing


def clear_prediction_folder(out_dir, also: Sequence[str] = ()) -> list[Path]:
    """Delete the results :func:`prediction_folder_files` finds in ``out_dir`` (and the event
    folders left empty); return the deleted files. Other files are never touched."""
    out = Path(out_dir)
    removed = prediction_folder_files(out, also)
    for p in removed:
        p.unlink(missing_ok=True)
    for folder in sorted({p.parent for p in removed}, key=lambda q: -len(q.parts)):
        while folder != out and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    return removed


def write_protocol_json(out_dir, metadata: Mapping) -> Path:
    """Write ``metadata`` as ``<out_dir>/protocol.json``.

    ``metadata`` is typically :meth:`hambox_torch.inference.Detector.metadata`.

    Returns
    -------
    Path
        The file written (the folder is created if needed).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / PROTOCOL_FILE
    path.write_text(json.dumps(dict(metadata), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def write_prediction_folder(out_dir, predictions: Mapping, metadata: Mapping) -> Path:
    """Write a prediction folder: ``<out_dir>/<event>/<stem>.txt`` and ``protocol.json``.

    Parameters
    ----------
    out_dir : str or os.PathLike
    predictions : mapping of (str, str) to Detections, (boxes, scores) or ndarray (N, 5)
        ``(event, stem) ->`` xyxy detections (a :class:`~hambox_torch.inference.Detections` or
        any ``(boxes, scores)`` pair) or ready ``x y w h score`` rows.
    metadata : mapping
        Written as ``protocol.json``.

    Returns
    -------
    Path
        ``out_dir``.

    Examples
    --------
    >>> import tempfile
    >>> d = write_prediction_folder(tempfile.mkdtemp(), {("ev", "a"): ([[0, 0, 2, 2]], [0.9])},
    ...                             {"protocol": {"name": "single"}})
    >>> sorted(p.name for p in d.rglob("*"))
    ['a.txt', 'ev', 'protocol.json']
    """
    rows = {
        key: wider_rows(*value) if isinstance(value, tuple) else value
        for key, value in predictions.items()
    }
    wider_eval.write_predictions(out_dir, rows)
    write_protocol_json(out_dir, metadata)
    return Path(out_dir)
