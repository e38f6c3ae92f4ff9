"""WIDER FACE evaluation speed: hambox_core against a plain implementation, same run.

The plain implementation is ``tests/reference/widerface_eval.py``: the official MATLAB protocol
written the way the common Python ports are (a Python loop per image, per prediction, with an
overlap vector and its ``max`` per prediction, and per threshold); for the default, official
semantics its ``boxoverlap`` spells out MATLAB's int32 arithmetic with one numpy helper call
per MATLAB operation. Both get the same synthetic predictions on the real validation ground
truth (``../shared/data/widerface_val_gt``): jittered copies of most faces (kept and ignored),
duplicates and false positives, about ``--per-image`` rows per image, coordinates rounded to
0.1 px and scores to 6 decimals as detectors write them, rows unsorted.

Measured (best of ``--rounds`` for hambox_core, one run for the plain implementation, which
takes minutes), for each semantics:

* in-memory evaluation of all three settings, from the ``{(event, image): rows}`` mapping;
* reading the prediction folder (3,226 files), and folder-to-AP end to end (official);
* ``load_ground_truth`` (its child process included) and the numba compile time in a fresh
  process with an empty cache, apart from run time.

It also prints how far the float64 evaluation of the Python ports is from the official one on
these predictions. ``--plain-events K`` runs the plain implementation on every K-th event only
and extrapolates by image count (the report says so).

    .venv/bin/python bench/evaluation.py [--per-image 100] [--rounds 5] [--plain-events 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from reference.widerface_eval import (  # noqa: E402
    evaluate_reference,
    load_gt_reference,
    preds_to_cells,
    read_pred_reference,
    synthetic_predictions,
)

from hambox_core.evaluation import widerface as W  # noqa: E402

GT_DIR = ROOT.parent / "shared" / "data" / "widerface_val_gt"
SEMANTICS = ("official", "float")


def best_of(fn, rounds):
    times = []
    out = None
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def compile_time() -> float:
    """First evaluation in a fresh process with an empty numba cache, minus a warm one."""
    code = (
        "import time\n"
        "from hambox_core.evaluation import widerface as W\n"
        "gt = W.WiderGroundTruth.from_images([('e', 'a')], [[[0, 0, 9, 9]]], {'hard': [[1]]})\n"
        "p = {('e', 'a'): [[0, 0, 9, 9, 1.0], [50, 50, 9, 9, 0.0]]}\n"
        "t = time.perf_counter(); W.evaluate(p, gt); a = time.perf_counter() - t\n"
        "t = time.perf_counter(); W.evaluate(p, gt); b = time.perf_counter() - t\n"
        "print(a - b)\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
    return float(out.stdout.strip())


def realistic(preds):
    out = {}
    for k, a in preds.items():
        a = a.copy()
        a[:, :4] = np.round(a[:, :4], 1)
        a[:, 4] = np.round(a[:, 4], 6)
        out[k] = a
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-image", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--plain-events", type=int, default=1, help="plain: every K-th event")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not (GT_DIR / "wider_face_val.mat").is_file():
        sys.exit(f"ground truth not found at {GT_DIR}")
    warnings.simplefilter("ignore", W.MissingPredictionWarning)

    W.load_ground_truth(GT_DIR)
    t_load, gt = best_of(lambda: W.load_ground_truth(GT_DIR), args.rounds)
    preds = realistic(synthetic_predictions(gt, seed=args.seed, per_image=args.per_image))
    n_pred = sum(a.shape[0] for a in preds.values())

    t_eval, aps, t_first = {}, {}, {}
    for sem in SEMANTICS:
        t = time.perf_counter()
        W.evaluate(preds, gt, semantics=sem)
        t_first[sem] = time.perf_counter() - t
        t_eval[sem], aps[sem] = best_of(
            lambda s=sem: W.evaluate(preds, gt, semantics=s), args.rounds
        )

    events = list(range(0, len(gt.events), args.plain_events))
    sub = gt if args.plain_events == 1 else gt.subset(events)
    with tempfile.TemporaryDirectory() as d:
        W.write_predictions(d, preds)
        t_read, back = best_of(lambda: W.read_predictions(d, gt), max(2, args.rounds // 2))
        assert all(np.array_equal(back[k], preds[k]) for k in preds)
        t_e2e, aps_files = best_of(lambda: W.evaluate(d, W.load_ground_truth(GT_DIR)), 2)
        assert aps_files == aps["official"]
        t = time.perf_counter()
        ref_gt = load_gt_reference(GT_DIR, events=events)
        t_plain_load = time.perf_counter() - t
        t = time.perf_counter()
        cells_files = read_pred_reference(d, ref_gt)
        t_plain_read = time.perf_counter() - t
    t = time.perf_counter()
    cells = preds_to_cells(preds, ref_gt)
    t_plain_sort = time.perf_counter() - t
    assert all(
        np.array_equal(a, b)
        for ra, rb in zip(cells, cells_files, strict=True)
        for a, b in zip(ra, rb, strict=True)
    )
    scale = len(gt) / len(sub)
    t_plain, plain_aps, same = {}, {}, {}
    for sem in SEMANTICS:
        t = time.perf_counter()
        plain_aps[sem] = {
            s: evaluate_reference(cells, ref_gt, s, semantics=sem)[0] for s in W.SETTINGS
        }
        t_plain[sem] = t_plain_sort + time.perf_counter() - t
        ours_sub = W.evaluate({k: preds[k] for k in sub.keys()}, sub, semantics=sem)
        same[sem] = all(plain_aps[sem][s] == ours_sub[s] for s in W.SETTINGS)

    t_compile = compile_time()

    print(
        f"WIDER FACE val: {len(gt)} images, {gt.boxes.shape[0]} faces, {n_pred} predictions "
        f"({args.per_image} per image), seed {args.seed}"
    )
    for sem in SEMANTICS:
        print(f"hambox_core APs ({sem}): " + ", ".join(f"{s} {v:.6f}" for s, v in aps[sem].items()))
        print(
            f"plain APs ({sem}{'' if scale == 1 else ', subset'}): "
            + ", ".join(f"{s} {v:.6f}" for s, v in plain_aps[sem].items())
            + f"  | equal to the last bit: {'yes' if same[sem] else 'NO'}"
        )
    print(
        "float - official (points): "
        + ", ".join(f"{s} {100 * (aps['float'][s] - aps['official'][s]):+.3f}" for s in W.SETTINGS)
    )
    extra = "" if scale == 1 else f" (measured on {len(sub)} images, x{scale:.2f})"
    print()
    print("| step | plain | hambox_core | plain / hambox_core |")
    print("|---|---:|---:|---:|")
    for sem in SEMANTICS:
        print(
            f"| evaluate, 3 settings, in memory, {sem} | {t_plain[sem] * scale:.1f} s{extra} | "
            f"{t_eval[sem] * 1e3:.1f} ms | {t_plain[sem] * scale / t_eval[sem]:.0f}x |"
        )
    print(
        f"| read {len(gt)} prediction files | {t_plain_read * scale:.2f} s | "
        f"{t_read * 1e3:.0f} ms | {t_plain_read * scale / t_read:.1f}x |"
    )
    e2e_plain = t_plain_load + (t_plain_read + t_plain["official"]) * scale
    print(
        f"| folder to APs (with load_ground_truth), official | {e2e_plain:.1f} s | "
        f"{t_e2e * 1e3:.0f} ms | {e2e_plain / t_e2e:.0f}x |"
    )
    print(f"| load_ground_truth (child process included) | | {t_load * 1e3:.0f} ms | |")
    print()
    print(
        "first evaluate in this process (numba cache load): "
        + ", ".join(f"{sem} {t_first[sem] * 1e3:.0f} ms" for sem in SEMANTICS)
        + f"; compile with an empty cache: {t_compile:.1f} s"
    )
    goal = t_plain["official"] * scale / t_eval["official"]
    print(
        f"goal >= 300x (in-memory evaluation, official): {'met' if goal >= 300 else 'NOT met'} "
        f"({goal:.0f}x); load < 1 s: {'met' if t_load < 1 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
