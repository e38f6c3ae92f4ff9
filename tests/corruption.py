"""Damaging files on purpose, for the tests of integrity checks."""

from __future__ import annotations

from pathlib import Path

import torch


def flip_inside(path: Path, tensor: torch.Tensor, count: int = 16) -> None:
    """Flip ``count`` bytes in the middle of ``tensor``'s stored bytes in the file ``path``
    (a ``torch.save`` file stores each tensor's bytes as they are in memory)."""
    data = bytearray(Path(path).read_bytes())
    raw = tensor.detach().cpu().contiguous().numpy().tobytes()
    at = data.find(raw[:32])
    assert at >= 0 and data.find(raw[:32], at + 1) < 0, "the tensor's bytes are not unique"
    mid = at + len(raw) // 2 - count // 2
    data[mid : mid + count] = bytes(b ^ 0xFF for b in data[mid : mid + count])
    Path(path).write_bytes(bytes(data))
