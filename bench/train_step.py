"""Training-step time with HAMBox mining + RAL against SMS + focal loss, same model and batch.

The issue's goal: online mining and the regression-aware loss cost at most 5 % of a step. One
step = forward, decode, match, loss, backward, SGD step. The model, the batch (real
data-anchor-sampled crops from the embedded set, or random faces with ``--synthetic``) and the
optimiser are shared; the two configurations alternate, best of N rounds each.

Run: ``.venv/bin/python bench/train_step.py [--backbone resnet18] [--size 320] [--batch 8]
[--device cpu] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from hambox_torch import HAMBoxMatcher, RegressionAwareFocalLoss, SMSMatcher, StandardFocalLoss
from hambox_torch.models import build_detector
from hambox_torch.pipeline import Supervisor


def synthetic_batch(batch, size, faces, seed=0):
    rng = np.random.default_rng(seed)
    s = np.exp(rng.uniform(np.log(6), np.log(size / 2), (batch, faces)))
    x, y = rng.uniform(0, size - s), rng.uniform(0, size - s)
    gt = np.stack([x, y, x + s, y + s * 1.2], -1).astype(np.float32)
    return (
        torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)),
        torch.from_numpy(gt),
        torch.ones(batch, faces, dtype=torch.bool),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--faces", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    model = build_detector(backbone=args.backbone, channels=args.channels).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    images, gt, valid = (t.to(dev) for t in synthetic_batch(args.batch, args.size, args.faces))
    hw = (args.size, args.size)
    # A low online threshold so that an untrained head compensates some anchors (the work a
    # trained one does); HAMBox's mining cost does not depend much on how many it finds.
    configs = {
        "SMS + focal": Supervisor(SMSMatcher(), StandardFocalLoss()),
        "HAMBox + RAL": Supervisor(HAMBoxMatcher(online_iou_thr=0.3), RegressionAwareFocalLoss()),
    }

    def step(sup):
        out = model(images)
        res = sup(model, out, hw, gt, valid)
        opt.zero_grad(set_to_none=True)
        res.loss.backward()
        opt.step()
        return res

    for sup in configs.values():
        step(sup)
    best = dict.fromkeys(configs, float("inf"))
    for _ in range(args.rounds):
        for name, sup in configs.items():
            sync()
            t0 = time.perf_counter()
            step(sup)
            sync()
            best[name] = min(best[name], time.perf_counter() - t0)
    res = step(configs["HAMBox + RAL"])
    comp = int(res.match.compensated.sum())
    peer = best["SMS + focal"]
    print(
        f"{args.backbone} c{args.channels}, batch {args.batch} x {args.size}^2, {args.faces} "
        f"faces per image, {dev}, {args.threads} threads; HAMBox compensated {comp} anchors"
    )
    print("| step | time | vs SMS + focal |")
    print("|---|---:|---:|")
    for name, t in best.items():
        print(f"| {name} | {t * 1e3:.1f} ms | {t / peer:.3f}x |")


if __name__ == "__main__":
    main()
