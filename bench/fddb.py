"""FDDB evaluation speed at the size of the full benchmark, official against optimal matching.

A synthetic set the size of FDDB (2,845 images of 450 x 350 px or so, 5,171 face ellipses: one
or two per image, a few three to six, sizes log-uniform in 8-120 px, every angle) with about
``--per-image`` rectangle detections per image: jittered copies of each face (several per face,
loose and tight) and false positives, coordinates rounded to 0.1 px and scores to 6 decimals,
as detectors write them (so nearly every score is distinct and each image has ~100 thresholds).

Measured (best of ``--rounds``, same process, same inputs):

* ``evaluate`` with the defaults (official: OpenCV ellipses, Gerkey's solver per threshold);
* ``matching="optimal"`` (scipy's ``linear_sum_assignment`` per threshold, in a Python loop):
  the peer, which is what hambox computed before it followed the program;
* ``rasterization="exact"`` with the official matching;
* reading the detection file (``read_detections``);
* numba compile time in a fresh process with an empty cache, apart from run time.

    .venv/bin/python bench/fddb.py [--per-image 100] [--rounds 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hambox_core.evaluation import fddb as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluation import best_of  # noqa: E402  (bench/evaluation.py: the same timing rule)

N_IMAGES = 2845
N_FACES = 5171


def synthetic_fddb(seed: int = 0, per_image: int = 100):
    """``(annotations, detections, image_sizes)`` of FDDB's size (see the module docstring)."""
    rng = np.random.default_rng(seed)
    counts = np.ones(N_IMAGES, np.int64)
    extra = N_FACES - N_IMAGES  # 2,326 more faces: most images get 2, a few up to 6
    while extra > 0:
        i = int(rng.integers(N_IMAGES))
        if counts[i] < 6:
            counts[i] += 1
            extra -= 1
    annotations, detections, sizes = {}, {}, {}
    for k in range(N_IMAGES):
        name = f"2002/08/{k // 100:02d}/big/img_{k}"
        h, w = int(rng.integers(300, 451)), int(rng.integers(330, 451))
        sizes[name] = (h, w)
        faces = []
        for _ in range(int(counts[k])):
            ra = float(np.exp(rng.uniform(math.log(8), math.log(120))))
            faces.append(
                [
                    ra,
                    ra * rng.uniform(0.65, 0.85),
                    rng.uniform(-math.pi / 2, math.pi / 2),
                    rng.uniform(0, w - 1),
                    rng.uniform(0, h - 1),
                ]
            )
        annotations[name] = np.round(np.array(faces), 6)
        rows = []
        for ra, rb, _, cx, cy in faces:
            for _ in range(int(rng.integers(3, 9))):
                j = rng.choice([0.05, 0.15, 0.35])
                bw = 2 * rb * rng.uniform(1 - j, 1 + j)
                bh = 2 * ra * rng.uniform(1 - j, 1 + j)
                x = cx - bw / 2 + rng.normal(0, j * bw)
                y = cy - bh / 2 + rng.normal(0, j * bh)
                rows.append([x, y, bw, bh, rng.uniform(0.3, 1.0)])
        while len(rows) < per_image:
            s = float(np.exp(rng.uniform(math.log(6), math.log(150))))
            rows.append([rng.uniform(-s / 2, w), rng.uniform(-s / 2, h), s, s, rng.random() * 0.8])
        det = np.array(rows[:per_image])
        det[:, :4] = np.round(det[:, :4], 1)
        det[:, 4] = np.round(det[:, 4], 6)
        detections[name] = det[rng.permutation(det.shape[0])]
    return annotations, detections, sizes


def compile_time() -> float:
    code = (
        "import time\n"
        "from hambox_core.evaluation import fddb as F\n"
        "a = {'i': [[10.0, 8.0, 0.3, 20, 20], [9.0, 7.0, 0.0, 30, 22]]}\n"
        "d = {'i': [[12, 12, 16, 20, 0.9], [22, 14, 16, 16, 0.8], [0, 0, 5, 5, 0.1]]}\n"
        "t = time.perf_counter(); F.evaluate(d, a, {'i': (40, 50)}); x = time.perf_counter() - t\n"
        "t = time.perf_counter(); F.evaluate(d, a, {'i': (40, 50)}); y = time.perf_counter() - t\n"
        "print(x - y)\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-image", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ann, det, sizes = synthetic_fddb(args.seed, args.per_image)
    n_det = sum(d.shape[0] for d in det.values())
    F.evaluate(det, ann, sizes)  # warm: numba cache load, OpenCV import
    runs = {
        "official (default)": {},
        "optimal matching": {"matching": "optimal"},
        "exact rasterization": {"rasterization": "exact"},
    }
    times, results = {}, {}
    for label, kw in runs.items():
        times[label], results[label] = best_of(
            lambda kw=kw: F.evaluate(det, ann, sizes, **kw), args.rounds
        )
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "dets.txt"
        F.write_detections(path, det)
        t_read, back = best_of(lambda: F.read_detections(path), args.rounds)
        assert all(np.array_equal(back[k], det[k]) for k in det)
    t_compile = compile_time()

    print(
        f"synthetic FDDB: {len(ann)} images, {sum(len(a) for a in ann.values())} faces, "
        f"{n_det} detections ({args.per_image} per image), seed {args.seed}"
    )
    peer = times["optimal matching"]
    print()
    print("| evaluation | time | optimal / this | discrete TPR at 1000 FP | continuous |")
    print("|---|---:|---:|---:|---:|")
    for label in runs:
        r = results[label]
        print(
            f"| {label} | {times[label]:.2f} s | {peer / times[label]:.1f}x | "
            f"{r.discrete.tpr_at(1000):.4f} | {r.continuous.tpr_at(1000):.4f} |"
        )
    print(f"| read_detections ({n_det} rows) | {t_read:.2f} s | | | |")
    print()
    print(f"numba compile with an empty cache: {t_compile:.1f} s (apart from the times above)")


if __name__ == "__main__":
    main()
