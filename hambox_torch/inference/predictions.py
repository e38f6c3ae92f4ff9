"""WIDER FACE prediction folders: the official ``<event>/<stem>.txt`` files plus ``protocol.json``.

The text files are written by :func:`hambox_core.evaluation.widerface.write_predictions` (name
line, count line, ``x y w h score`` rows); ``protocol.json`` beside them records how the
predictions were made (protocol, detection settings, model config and checkpoint), because AP is
comparable only between predictions made under the same protocol.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hambox_core.evaluation import widerface as wider_eval

__all__ = ["PROTOCOL_FILE", "wider_rows", "write_prediction_folder", "write_protocol_json"]

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
