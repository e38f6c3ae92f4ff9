"""Worker for the two-process gloo test of ``global_normalize`` (spawned by the test)."""

from __future__ import annotations

import os


def normalised_losses(rank: int, world: int, port: int, out_dir: str) -> None:
    """Process ``rank`` computes the loss on its own batch with global normalisation."""
    import torch
    import torch.distributed as dist

    from hambox_torch.losses import regression_aware_focal_loss

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        batch = example_batch(rank)
        cls, loc = regression_aware_focal_loss(*batch, global_normalize=True)
        torch.save({"cls": cls.detach(), "loc": loc.detach()}, os.path.join(out_dir, f"{rank}.pt"))
    finally:
        dist.destroy_process_group()


def example_batch(rank: int):
    """A deterministic batch whose positive and compensated counts differ between ranks."""
    import torch

    g = torch.Generator().manual_seed(rank)
    n = 50
    logits = torch.randn(n, generator=g, dtype=torch.float64)
    deltas = torch.randn(n, 4, generator=g, dtype=torch.float64)
    targets = torch.randn(n, 4, generator=g, dtype=torch.float64)
    labels = torch.zeros(n, dtype=torch.int8)
    labels[: 3 + 4 * rank] = 1
    labels[-5:] = -1
    compensated = torch.zeros(n, dtype=torch.bool)
    compensated[: 1 + 2 * rank] = True
    quality = torch.rand(n, generator=g, dtype=torch.float64)
    return logits, deltas, targets, labels, compensated, quality
