"""The torch backend's batched matching and loss against the core's per-image loop and torchvision.

A batch of B 640x640 images, the paper's 34,125 anchors, faces log-uniform 6-400 px, predicted
boxes = anchors jittered by 10 % with 5 % of them snapped close to a face (as a trained head's
would be). Compares ``hambox_torch.matching`` (SMS, DMS, NAMS, HAMBox) on the whole batch with
``hambox_core`` matching the images one by one and with torchvision's ``box_iou`` + ``Matcher``
looping over the images (the peer); then the regression-aware focal loss forward + backward
against the standard focal loss on the same B x A anchors. CPU runs are single-threaded; best of
N interleaved rounds.

Run: ``.venv/bin/python bench/torch_matching.py [--batch 8] [--faces 100] [--device cpu]``.

``--huge`` measures instead the bounds on huge inputs: one 1536 x 1536 image (196,560 anchors)
with 5,000 faces matched by the torch SMS, NAMS and HAMBox matchers and by the core's, and
``box_vote`` of 20,000 scattered boxes; each case runs once in a fresh process, which reports
its time and its peak memory above the process's size before the call.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
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


HUGE_CASES = (
    "hambox_torch SMS",
    "hambox_torch NAMS",
    "hambox_torch HAMBox",
    "hambox_core SMS",
    "hambox_core NAMS",
    "hambox_core HAMBox",
    "hambox_torch box_vote",
)


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def huge_case(name: str, device: str) -> None:
    """One case of ``--huge``, in this process: prints ``seconds peak_MB result``."""
    dev = torch.device(device)
    rng = np.random.default_rng(0)
    if name.endswith("box_vote"):
        from hambox_torch.inference.protocols import box_vote

        xy = rng.uniform(0, 2000, (20000, 2))
        boxes = torch.from_numpy(np.concatenate([xy, xy + rng.uniform(4, 64, (20000, 2))], 1))
        scores = torch.from_numpy(rng.random(20000))
        base = _rss_mb()
        t0 = time.perf_counter()
        out = box_vote(boxes.float().to(dev), scores.float().to(dev), keep_singletons=True)
        result = len(out[0])
    else:
        anchors_np = hambox_core.AnchorGenerator().grid_anchors((1536, 1536))
        s = np.exp(rng.uniform(np.log(6), np.log(400), 5000))
        x, y = rng.uniform(0, 1536 - s), rng.uniform(0, 1536 - s)
        faces_np = np.stack([x, y, x + s, y + s], 1).astype(np.float32)
        pred_np = predictions(rng, anchors_np, faces_np)
        strategy = name.split()[1]
        if name.startswith("hambox_torch"):
            matcher = getattr(tm, f"{strategy}Matcher")()
            anchors = torch.from_numpy(anchors_np).to(dev)
            faces = torch.from_numpy(faces_np)[None].to(dev)
            pred = torch.from_numpy(pred_np)[None].to(dev)
            valid = torch.ones(1, 5000, dtype=torch.bool, device=dev)
            base = _rss_mb()
            t0 = time.perf_counter()
            result = int(matcher(anchors, faces, valid, pred).labels.eq(1).sum())
        else:
            matcher = getattr(hambox_core, f"{strategy}Matcher")()
            matcher(anchors_np[:8], faces_np[:1], pred_boxes=pred_np[:8])  # compile / load
            base = _rss_mb()
            t0 = time.perf_counter()
            result = matcher(anchors_np, faces_np, pred_boxes=pred_np).num_positive
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    print(f"{seconds:.3f} {max(peak, 0.0):.0f} {result}")


def huge(device: str) -> None:
    print(f"huge inputs, {device}, 1 thread; each case once, in a fresh process")
    print("| case | input | time | peak memory above the process | positives / boxes out |")
    print("|---|---|---:|---:|---:|")
    for name in HUGE_CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--huge-case", name, "--device", device],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        seconds, peak, result = float(out[0]), int(out[1]), int(out[2])
        what = "20,000 boxes" if name.endswith("box_vote") else "5,000 faces, 196,560 anchors"
        print(f"| {name} | {what} | {seconds:.2f} s | {peak} MB | {result:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--faces", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--huge", action="store_true", help="the bounds on huge inputs")
    parser.add_argument("--huge-case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.huge_case:
        return huge_case(args.huge_case, args.device)
    if args.huge:
        return huge(args.device)
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
