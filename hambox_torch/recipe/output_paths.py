"""Whether a file or folder can be written, checked before the long work that would write it.

One rule for every command and the training loop: a path is writable when it is an existing
file or folder of the expected kind that this process may write, or when the nearest existing
folder above it may be written (the missing folders are created later). ``hambox export
--onnx /read-only/x.onnx`` then fails at once instead of after building and tracing the model.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["check_output_path"]


def check_output_path(path, *, option: str, folder: bool = False) -> Path:
    """Check that ``path`` can be written (nothing is created).

    Parameters
    ----------
    path : str or os.PathLike
    option : str
        How error messages name the setting (``--out``, ``output_dir``, ...).
    folder : bool, default False
        ``path`` is a folder to create or write into; otherwise a file to create or replace.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        Naming ``option`` and the reason: an empty path, a folder where a file is expected (or
        the reverse), a file on the way, or no write permission.

    Examples
    --------
    >>> check_output_path("/proc/version/x", option="--onnx")
    Traceback (most recent call last):
    ...
    ValueError: --onnx '/proc/version/x' cannot be written: /proc/version is a file, not a folder
    """
    text = os.fspath(path)
    if str(text).strip() == "":
        raise ValueError(f"{option} must not be empty")
    target = Path(text).expanduser()

    def bad(reason: str) -> ValueError:
        return ValueError(f"{option} {text!r} cannot be written: {reason}")

    if target.exists():
        if folder and not target.is_dir():
            raise bad("it is a file, not a folder")
        if not folder and target.is_dir():
            raise bad("it is a folder; give a file name")
        mode = os.W_OK | (os.X_OK if folder else 0)
        if not os.access(target, mode):
            raise bad("no permission to write it")
        return target
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise bad(f"{parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise bad(f"no permission to create files in {parent}")
    return target
