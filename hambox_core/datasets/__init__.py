"""Readers and writers of face-detection annotation files (text only, never images).

* :mod:`.widerface` — the official WIDER FACE ``bbx_gt`` text and RetinaFace's ``label.txt``.
* :mod:`.fddb` — FDDB fold lists and ellipse lists.

Every reader raises :class:`ValueError` naming the file and the 1-based line on malformed
input, and never drops a line silently.
"""

from .fddb import read_fddb_ellipses, read_fddb_fold, write_fddb_ellipses, write_fddb_fold
from .widerface import (
    ATTRIBUTE_NAMES,
    WiderAnnotation,
    read_retinaface_labels,
    read_wider_annotations,
    write_retinaface_labels,
    write_wider_annotations,
)

__all__ = [
    "ATTRIBUTE_NAMES",
    "WiderAnnotation",
    "read_fddb_ellipses",
    "read_fddb_fold",
    "read_retinaface_labels",
    "read_wider_annotations",
    "write_fddb_ellipses",
    "write_fddb_fold",
    "write_retinaface_labels",
    "write_wider_annotations",
]
