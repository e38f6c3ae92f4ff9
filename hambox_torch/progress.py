"""Progress bars: the one way long work in hambox_torch shows how far it is (tqdm, on stderr)."""

from __future__ import annotations

__all__ = ["progress_bar"]


def progress_bar(total: int | None, desc: str, enabled: bool = True, **kwargs):
    """A tqdm progress bar on stderr; a silent one when ``enabled`` is False.

    Parameters
    ----------
    total : int or None
        Number of steps (``None``: unknown).
    desc : str
        Label shown before the bar.
    enabled : bool, default True
    **kwargs
        Passed to :class:`tqdm.auto.tqdm` (e.g. ``initial``, ``unit``).

    Examples
    --------
    >>> with progress_bar(3, "demo", enabled=False) as bar:
    ...     bar.update(3)
    """
    from tqdm.auto import tqdm

    options = {"leave": False, "dynamic_ncols": True, **kwargs}
    return tqdm(total=total, desc=desc, disable=not enabled, **options)
