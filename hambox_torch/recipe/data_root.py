"""Where a run's WIDER-format data lives: the one rule the training loop and every command share.

A data root is a folder in the WIDER FACE layout (``WIDER_train/``, ``WIDER_val/``,
``wider_face_split/``, ``eval_tools/ground_truth/``). ``None`` means the embedded demo set
(:mod:`hambox_torch.data.embedded`), which training generates on first use and the other
commands expect to exist.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["resolve_data_root"]


def resolve_data_root(
    root=None, *, generate: bool = False, progress: bool = True, option: str = "data.root"
) -> Path:
    """The data root a run reads.

    Parameters
    ----------
    root : str, os.PathLike or None
        A WIDER-format folder, or ``None`` for the embedded demo set.
    generate : bool, default False
        With ``root=None``: generate the embedded set when it is missing or incomplete (what
        training does) instead of raising.
    progress : bool, default True
        Progress bar while generating.
    option : str, default "data.root"
        How error messages name the setting (``--data``, ``data.root``, ...).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If ``root`` is not a folder, or (``root=None``, ``generate=False``) the embedded set
        has not been generated; the message says how to generate it.

    Examples
    --------
    >>> resolve_data_root("/no/such/folder", option="--data")
    Traceback (most recent call last):
    ...
    ValueError: --data '/no/such/folder' is not a folder
    """
    from hambox_torch.data.embedded import embedded_root, ensure_embedded

    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise ValueError(f"{option} {str(root)!r} is not a folder")
        return path
    if generate:
        return ensure_embedded(progress=progress)
    path = embedded_root()
    if not path.is_dir():
        raise ValueError(
            f"{option} not given and the embedded demo set is not at {path}: generate it with "
            f"`hambox embedded` (or run `hambox train` once), or give {option} ROOT"
        )
    return path
