"""Where the default embedded set lives, and getting it there.

The default set (the parameters' defaults of
:func:`~hambox_torch.data.embedded.writer.generate_embedded`: seed 0, 800 train and 200 val
images) lives in ``$HAMBOX_DATA/embedded``, by default ``~/.cache/hambox/embedded``. It is
generated there on first use and reused afterwards; the training demo, ``hambox eval`` and
``hambox analyze`` read it when no data folder is given. :func:`embedded_root` says where it
is; :func:`ensure_embedded` returns it, generated first if needed.
"""

from __future__ import annotations

import os
from pathlib import Path

from .writer import generate_embedded

__all__ = ["DATA_ENV", "embedded_root", "ensure_embedded"]

#: The environment variable naming the folder that holds hambox's data (``embedded/``).
DATA_ENV = "HAMBOX_DATA"


def embedded_root() -> Path:
    """The folder of the default embedded set (it may not exist yet).

    Returns
    -------
    pathlib.Path
        ``$HAMBOX_DATA/embedded``, or ``~/.cache/hambox/embedded`` when ``HAMBOX_DATA`` is not
        set; ``~`` is expanded.

    Examples
    --------
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"HAMBOX_DATA": "/data/hambox"}):
    ...     print(embedded_root())
    /data/hambox/embedded
    >>> with mock.patch.dict(os.environ):  # HAMBOX_DATA not set
    ...     _ = os.environ.pop("HAMBOX_DATA", None)
    ...     embedded_root() == Path.home() / ".cache" / "hambox" / "embedded"
    True
    """
    base = os.environ.get(DATA_ENV, "~/.cache/hambox")
    return Path(base).expanduser() / "embedded"


def ensure_embedded(progress: bool = True) -> Path:
    """The folder of the default embedded set, generated first if it is missing or incomplete.

    A complete set is returned at once (its manifest records the default parameters and this
    generator's version, and its files are there); a missing one, one left incomplete by an
    interrupted run, or one of older parameters is (re)generated in :func:`embedded_root`,
    which takes 10-30 s.

    Parameters
    ----------
    progress : bool, default True
        Show a progress bar (tqdm) on stderr while generating.

    Returns
    -------
    pathlib.Path
        :func:`embedded_root`, a WIDER FACE root: ``WIDER_train/``, ``WIDER_val/``,
        ``wider_face_split/``, ``eval_tools/ground_truth/``.

    Raises
    ------
    FileExistsError
        If :func:`embedded_root` holds files that the generator did not make (they are never
        replaced here; move them, or point ``HAMBOX_DATA`` elsewhere).

    Examples
    --------
    >>> from hambox_torch.data.wider import WiderFaceDataset
    >>> root = ensure_embedded(progress=False)  # doctest: +SKIP
    >>> len(WiderFaceDataset(root, "val"))  # doctest: +SKIP
    200
    """
    return generate_embedded(embedded_root(), progress=progress)
