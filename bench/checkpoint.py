"""Checkpoint integrity records: what hashing every tensor costs at save and at load.

A checkpoint of the paper's recipe (ResNet-50 detector, SGD momentum, RNG, config) is written
with :func:`hambox_torch.recipe.checkpoint.save_checkpoint` (integrity record + atomic write)
and read with :func:`~hambox_torch.recipe.checkpoint.read_checkpoint` (``weights_only`` load +
verification). The peers, measured in the same run on the same payload: ``torch.save`` to a
file with fsync, and ``torch.load(weights_only=True)`` — the same work without the record. The
ratios are the cost of integrity; best of N rounds each, alternating.

Run: ``.venv/bin/python bench/checkpoint.py [--backbone resnet50] [--channels 256]
[--rounds 5]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from hambox_torch.engine.optim import build_optimizer
from hambox_torch.models import build_detector
from hambox_torch.recipe import checkpoint as ckpt
from hambox_torch.recipe.config import Config, OptimConfig


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = build_detector(backbone=args.backbone, channels=args.channels)
    optimizer = build_optimizer(model, OptimConfig())
    for p in model.parameters():  # momentum buffers, as after the first step
        p.grad = torch.randn_like(p)
    optimizer.step()
    folder = Path(tempfile.mkdtemp())
    path = folder / "ckpt_00000001.pt"
    save = lambda: ckpt.save_checkpoint(  # noqa: E731
        path, model=model, optimizer=optimizer, iteration=1, config=Config()
    )
    save()
    payload = torch.load(path, weights_only=True)
    size_mb = path.stat().st_size / 1e6

    def peer_save() -> None:
        with open(folder / "peer.pt", "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())

    rows = []
    for _ in range(2):  # alternate, keep each one's best
        rows.append(
            (
                best(save, args.rounds),
                best(peer_save, args.rounds),
                best(lambda: ckpt.read_checkpoint(path), args.rounds),
                best(lambda: torch.load(path, weights_only=True), args.rounds),
                best(lambda: ckpt.integrity_record(payload), args.rounds),
            )
        )
    ours_save, peer, ours_read, peer_read, record = (min(c) for c in zip(*rows, strict=True))
    tensors = len(payload["integrity"]["tensors"])
    print(f"{args.backbone}/{args.channels}: {size_mb:.0f} MB, {tensors} tensors, "
          f"{torch.get_num_threads()} torch threads, {os.cpu_count()} cores")  # fmt: skip
    print("| step | hambox | peer | ratio |\n|---|---:|---:|---:|")
    print(f"| save (record + atomic write) vs torch.save + fsync | {ours_save:.3f} s | "
          f"{peer:.3f} s | {ours_save / peer:.2f} |")  # fmt: skip
    print(f"| load (weights_only + verify) vs torch.load(weights_only) | {ours_read:.3f} s | "
          f"{peer_read:.3f} s | {ours_read / peer_read:.2f} |")  # fmt: skip
    print(f"| integrity record alone | {record:.3f} s ({size_mb / record:.0f} MB/s) | | |")


if __name__ == "__main__":
    main()
