"""Process-group plumbing for DDP runs started by ``torchrun`` (or none at all).

``torchrun --nproc_per_node=4 examples/train_widerface.py ...`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` reads them and
starts the default process group (NCCL on CUDA, gloo on the CPU). Without them the run is a
single process and every helper here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "barrier", "init_distributed", "shutdown"]


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and local rank of this process (0, 1, 0 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_name: str = "auto") -> DistInfo:
    """Join the process group described by torchrun's environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(
        rank=int(os.environ["RANK"]),
        world_size=world,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    if not dist.is_initialized():
        wants_cuda = device_name.startswith("cuda") or (
            device_name == "auto" and torch.cuda.is_available()
        )
        dist.init_process_group(backend="nccl" if wants_cuda else "gloo")
    return info


def barrier(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()
