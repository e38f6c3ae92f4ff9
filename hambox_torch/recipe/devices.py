"""Which torch device a run uses: the one rule every command and the training loop share."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(name="auto", *, local_rank: int | None = None) -> torch.device:
    """The torch device named by ``name``, checked to exist on this machine.

    Parameters
    ----------
    name : str or torch.device, default "auto"
        ``"auto"`` (CUDA when available, else the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``,
        ``"mps"``, or a :class:`torch.device`.
    local_rank : int, optional
        Under DDP, this process's local rank: a CUDA device without an index becomes
        ``cuda:<local_rank>``.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``name`` is not a device name, or names CUDA on a machine without it.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except (RuntimeError, TypeError):
            raise ValueError(
                f"device {name!r} is not a torch device (cpu, cuda, cuda:1, mps, auto)"
            ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: CUDA is not available here")
        if device.index is None and local_rank is not None:
            device = torch.device("cuda", local_rank)
    return device
