"""The torch backend's batched matching (CPU) against the core's per-image loop and torchvision.

A batch of B 640x640 images, the paper's 34,125 anchors, faces log-uniform 6-400 px. Compares
``hambox_torch.matching.{SMS,DMS}Matcher`` on the whole batch with ``hambox_core`` matching the
images one by one and with torchvision's ``box_iou`` + ``Matcher`` looping over the images. All
single-threaded; best of N interleaved rounds.

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
    gt = torch.from_numpy(np.stack(batch)).to(dev)
    valid = torch.ones(gt.shape[:2], dtype=torch.bool, device=dev)
    tv = Matcher(0.35, 0.35, allow_low_quality_matches=True)
    cases = {
        "hambox_torch SMS (batched)": lambda: tm.SMSMatcher()(anchors, gt, valid),
        "hambox_torch DMS (batched)": lambda: tm.DMSMatcher()(anchors, gt, valid),
        "hambox_core SMS (per image)": lambda: [
            hambox_core.SMSMatcher()(anchors_np, f) for f in batch
        ],
        "hambox_core DMS (per image)": lambda: [
            hambox_core.DMSMatcher()(anchors_np, f) for f in batch
        ],
        "torchvision Matcher (per image)": lambda: [tv(box_iou(g, anchors)) for g in gt],
    }
    times = best_time(cases, args.rounds, sync)
    peer = times["torchvision Matcher (per image)"]
    print(f"batch {args.batch} x {args.faces} faces, {len(anchors_np)} anchors, {dev}, 1 thread")
    print("| matcher | time per batch | vs torchvision |")
    print("|---|---:|---:|")
    for name, t in times.items():
        print(f"| {name} | {t * 1e3:.2f} ms | {peer / t:.1f}x |")


if __name__ == "__main__":
    main()
