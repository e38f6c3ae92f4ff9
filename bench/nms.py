"""Benchmark: hambox_core.postprocess.nms against torchvision.ops.nms, single thread.

Usage::

    .venv/bin/python bench/nms.py [--n 10000] [--repeats 15] [--seed 0]

10,000 face-like boxes (side log-uniform in [6, 400] px, aspect h/w in [1, 1.5], centres
uniform) on a 1024 x 1024 image, clipped to it, with uniform random float32 scores. Both
implementations run on one thread (``torch.set_num_threads(1)``; our kernel is serial). The two
are timed alternately, ``--repeats`` times each, and the median is reported; the first call of
our kernel (numba compilation, or loading it from the on-disk cache) is timed apart. The keep
lists must be identical. The goal is ours / torchvision <= 1.2.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

GOAL = 1.2


def face_like_boxes(n: int, seed: int, image: float = 1024.0):
    rng = np.random.default_rng(seed)
    side = np.exp(rng.uniform(np.log(6.0), np.log(400.0), n))
    aspect = rng.uniform(1.0, 1.5, n)
    cx, cy = rng.uniform(0.0, image, n), rng.uniform(0.0, image, n)
    w, h = side, side * aspect
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    boxes = np.clip(boxes, 0.0, image).astype(np.float32)
    scores = rng.random(n).astype(np.float32)
    return boxes, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    import torchvision

    from hambox_core.postprocess import nms

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        boxes, scores = face_like_boxes(args.n, args.seed)
        tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)

        t0 = time.perf_counter()
        nms(boxes[:2], scores[:2], 0.5)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        nms(boxes[:2], scores[:2], 0.5)
        second = time.perf_counter() - t0

        print(f"hambox_core.postprocess.nms vs torchvision {torchvision.__version__} ops.nms")
        print(f"N = {args.n} boxes, seed {args.seed}, 1 thread, median of {args.repeats} runs")
        print(
            f"first call (numba compile or cache load): {first * 1e3:.1f} ms; "
            f"second call: {second * 1e3:.3f} ms"
        )
        print()
        print(
            f"{'iou_thr':>7} {'kept':>6} {'torchvision ms':>15} {'ours ms':>9} {'ratio':>7}  goal"
        )
        all_met = True
        for thr in (0.3, 0.5):
            want = torchvision.ops.nms(tb, ts, thr).numpy()
            got = nms(boxes, scores, thr)
            if not np.array_equal(got, want):
                raise SystemExit(f"keep lists differ at iou_thr={thr}")
            t_tv, t_ours = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                torchvision.ops.nms(tb, ts, thr)
                t_tv.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                nms(boxes, scores, thr)
                t_ours.append(time.perf_counter() - t0)
            tv, ours = statistics.median(t_tv), statistics.median(t_ours)
            ratio = ours / tv
            met = ratio <= GOAL
            all_met &= met
            print(
                f"{thr:>7} {want.shape[0]:>6} {tv * 1e3:>15.2f} {ours * 1e3:>9.2f} {ratio:>7.3f}"
                f"  {'met' if met else 'MISSED'} (<= {GOAL})"
            )
        print()
        print("keep lists identical: yes")
        print(f"goal ours/torchvision <= {GOAL}: {'met' if all_met else 'NOT met'}")
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
