"""The torch backend's batched matching and loss against the core's per-image loop and torchvision.

A batch of B 640x640 images, the paper's 34,125 anchors, faces log-uniform 6-400 px, predicted
boxes = anchors jittered by 10 % with 5 % of them snapped close to a face (as a trained head's
would be). Compares ``hambox_torch.matching`` (SMS, DMS, NAMS, HAMBox) on the whole batch with
``hambox_core`` matching the images one by one and with torchvision's ``box_iou`` + ``Matcher``
looping over the images (the peer); then the regression-aware focal loss forward + backward
against the standard focal loss on the same B x A anchors. CPU runs are single-threaded; best of
N interleaved rounds.

Run: ``.venv/bin/python bench/torch_matching.py [--batch 8] [--faces 100] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import hambox_core
import hambox_torch.matching as tm
from hambox_torch.anchors import AnchorGenerator


def faces(rng, n):
    s = np.exp(rng.uniform(np.log(6), np.log(400), n))
    x, y = rng.uniform(0, 640 - s), rng.uniform(0, 640 - s)
    return np.stack([x, y, x + s, y + s], 1).astype(np.float32)


def predictions(rng, anchors, faces_):
    size = anchors[:, 2:] - anchors[:, :2]
    pred = anchors + rng.normal(0, 0.1, anchors.shape) * np.tile(size, 2)
    snap = rng.random(len(anchors)) < 0.05
    target = faces_[rng.integers(0, len(faces_), snap.sum())]
    pred[snap] = target + rng.normal(0, 0.03, target.shape) * np.tile(
        target[:, 2:] - target[:, :2], 2
    )
    pred[:, 2:] = np.maximum(pred[:, 2:], pred[:, :2])
    return pred.astype(np.float32)


def loss_cases(result, dev):
    """RAL and standard focal loss, forward + backward, on the matched batch."""
    from hambox_torch.losses import regression_aware_focal_loss, standard_focal_loss

    n = result.labels.numel()
    gen = torch.Generator(device="cpu").manual_seed(0)
    logits = torch.randn(n, generator=gen).to(dev).requires_grad_()
    deltas = torch.randn(n, 4, generator=gen).to(dev).requires_grad_()
    targets = torch.randn(n, 4, generator=gen).to(dev)
    labels = result.labels.reshape(-1)
    comp = result.compensated.reshape(-1)
    quality = result.quality.reshape(-1)

    def ral():
        cls, loc = regression_aware_focal_loss(logits, deltas, targets, labels, comp, quality)
        (cls + loc).backward()

    def focal():
        cls, loc = standard_focal_loss(logits, deltas, targets, labels)
        (cls + loc).backward()

    return {"RAL forward + backward": ral, "standard focal forward + backward": focal}


def best_time(cases, rounds, sync):
    for fn in cases.values():
        fn()
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for key, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            sync()
            best[key] = min(best[key], time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--faces", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from torchvision.models.detection._utils import Matcher
    from torchvision.ops import box_iou

    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rng = np.random.default_rng(0)
    batch = [faces(rng, args.faces) for _ in range(args.batch)]
    anchors_np = hambox_core.AnchorGenerator().grid_anchors((640, 640))
    anchors = AnchorGenerator().grid_anchors((640, 640), device=dev)
    pred_np = [predictions(rng, anchors_np, f) for f in batch]
    gt = torch.from_numpy(np.stack(batch)).to(dev)
    pred = torch.from_numpy(np.stack(pred_np)).to(dev)
    valid = torch.ones(gt.shape[:2], dtype=torch.bool, device=dev)
    tv = Matcher(0.35, 0.35, allow_low_quality_matches=True)
    cases = {"torchvision Matcher (per image)": lambda: [tv(box_iou(g, anchors)) for g in gt]}
    for name in ("SMS", "DMS", "NAMS", "HAMBox"):
        torch_matcher = getattr(tm, f"{name}Matcher")()
        core_matcher = getattr(hambox_core, f"{name}Matcher")()
        cases[f"hambox_torch {name} (batched)"] = lambda m=torch_matcher: m(
            anchors, gt, valid, pred
        )
        cases[f"hambox_core {name} (per image)"] = lambda m=core_matcher: [
            m(anchors_np, f, pred_boxes=p) for f, p in zip(batch, pred_np, strict=True)
        ]
    times = best_time(cases, args.rounds, sync)
    peer = times["torchvision Matcher (per image)"]
    threads = "1 thread" if dev.type == "cpu" else "GPU"
    print(f"batch {args.batch} x {args.faces} faces, {len(anchors_np)} anchors, {dev}, {threads}")
    print("| matcher | time per batch | vs torchvision |")
    print("|---|---:|---:|")
    for name, t in times.items():
        print(f"| {name} | {t * 1e3:.2f} ms | {peer / t:.1f}x |")

    result = tm.HAMBoxMatcher()(anchors, gt, valid, pred)
    times = best_time(loss_cases(result, dev), args.rounds, sync)
    peer = times["standard focal forward + backward"]
    print(f"\nlosses on {result.labels.numel():,} anchors (HAMBox labels), {dev}")
    print("| loss | time | vs standard focal |")
    print("|---|---:|---:|")
    for name, t in times.items():
        print(f"| {name} | {t * 1e3:.2f} ms | {t / peer:.2f}x |")


if __name__ == "__main__":
    main()
