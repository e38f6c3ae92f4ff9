"""When HAMBox's online mining engages on the embedded set, and what it changes (issue 17).

The rows of the paper's Table 4 that differ in matching and loss — SMS + focal, SMS + OAM
(HAMBox matching, focal loss) and SMS + OAM + RAL, plus SMS + OAM + RAL with the compensated
anchors normalised with all positives (``npos``) — each trained like the matching ablation
(``examples/ablation.py``: the CPU demo detector of ``configs/demo_cpu.yaml`` with the row's
anchors, matching and loss from ``configs/ablation/<row>.yaml``), at a chosen budget, with the
online threshold T at the paper's 0.8 and at 0.5, and any number of seeds. Every run logs the
mining diagnostics every ``--diag-every`` iterations (the paper's Fig. 3: compensated anchors
per outer face and the mean IoU of their predicted boxes, and how close the outer faces' best
predicted boxes come to T, :mod:`hambox_torch.engine.diagnostics`), is evaluated with the
official WIDER FACE protocol at the end and, with ``--analyze``, measured by ``hambox analyze``
(the paper's Fig. 2).

Each run goes to ``OUTPUT_DIR/<row>/seed<S>/`` and ends with a ``summary.json`` there. A run
that has one is skipped, one that was interrupted resumes from its last checkpoint, so the same
command continues a study. ``--collect FILE`` gathers the summaries of every finished run
under ``OUTPUT_DIR`` into one JSON (what ``docs/data/hambox_effect.json`` is) and prints the
table: AP per row as mean ± sample standard deviation over seeds.

    .venv/bin/python examples/hambox_effect.py --rows sms_oam_ral_t08 --iters 3000 \\
        --output-dir /tmp/study/runs
    .venv/bin/python examples/hambox_effect.py --rows sms sms_oam_ral_t05 --seeds 1 2 \\
        --iters 3000 --output-dir /tmp/study/runs --analyze
    .venv/bin/python examples/hambox_effect.py --output-dir /tmp/study/runs \\
        --collect docs/data/hambox_effect.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ablation  # noqa: E402  (the examples folder is not a package)

#: Study row -> (ablation row, online threshold T or None when the row does not mine).
ROWS = {
    "sms": ("sms", None),
    "sms_oam_t08": ("sms_oam", 0.8),
    "sms_oam_ral_t08": ("sms_oam_ral", 0.8),
    "sms_oam_t05": ("sms_oam", 0.5),
    "sms_oam_ral_t05": ("sms_oam_ral", 0.5),
    "sms_oam_ral_npos_t08": ("sms_oam_ral", 0.8),
    "sms_oam_ral_npos_t05": ("sms_oam_ral", 0.5),
}
#: Study row -> config overrides beyond its ablation row and T: the ``npos`` rows test whether
#: RAL's own normaliser for the compensated anchors is what costs AP (docs/guide/loss.rst).
ROW_OVERRIDES = {
    "sms_oam_ral_npos_t08": ("loss.compensated_normalizer=positives",),
    "sms_oam_ral_npos_t05": ("loss.compensated_normalizer=positives",),
}
#: The diagnostics kept in a run's curve (``diagnostics`` rows of ``metrics.jsonl``).
CURVE_KEYS = (
    "outer_face_share",
    "compensated_per_outer_face",
    "compensated_mean_iou",
    "outer_best_pred_iou",
    "outer_best_unmatched_iou",
    "hq_unmatched_share",
)
SETTINGS = ("easy", "medium", "hard")


def study_config(row: str, seed: int, iters: int, out_root: Path, diag_every: int, extra):
    """The config of one run: the ablation row at ``iters`` iterations, T and the seed set,
    diagnostics every ``diag_every`` iterations, a checkpoint every quarter of the run."""
    base, thr = ROWS[row]
    overrides = [
        f"run.seed={seed}",
        f"run.diag_every={diag_every}",
        f"run.checkpoint_every={max(1, iters // 4)}",
        f"run.output_dir={out_root / row / f'seed{seed}'}",
    ]
    if thr is not None:
        overrides.append(f"matching.online_iou_thr={thr}")
    overrides += ROW_OVERRIDES.get(row, ())
    cfg = ablation.row_config(base, iters, out_root, overrides + list(extra))
    cfg.name = row
    return cfg


def curve(history) -> dict:
    """The diagnostics rows as columns: ``iteration``, each of :data:`CURVE_KEYS` and
    ``grad_norm``, the global gradient norm before clipping of the same batch (the ``train``
    record of that iteration holds the last step's norm; None where the iteration has no
    ``train`` record). NaN as None, rounded to 4 digits."""
    rows = [r for r in history if r["kind"] == "diagnostics"]
    grads = {r["iteration"]: r.get("grad_norm") for r in history if r["kind"] == "train"}

    def value(x):
        return None if x is None or math.isnan(x) else round(float(x), 4)

    out = {"iteration": [r["iteration"] for r in rows]}
    out.update({k: [value(r.get(k)) for r in rows] for k in CURVE_KEYS})
    out["grad_norm"] = [value(grads.get(r["iteration"])) for r in rows]
    return out


def read_history(out_dir: Path) -> list[dict]:
    """Every record of a run's ``metrics.jsonl`` (also those of runs it resumed)."""
    path = out_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def analyze(out_dir: Path, iters: int) -> dict:
    """``hambox analyze`` on the run's final checkpoint; its ``--json`` summary."""
    target = out_dir / "analyze.json"
    cmd = [
        sys.executable,
        "-m",
        "hambox_torch.cli",
        "analyze",
        "--weights",
        str(out_dir / f"ckpt_{iters:07d}.pt"),
        "--json",
        str(target),
        "--no-progress",
    ]
    subprocess.run(cmd, check=True)
    data = json.loads(target.read_text())
    data.pop("weights", None)  # a path on the machine that ran it
    data.get("params", {}).pop("data_root", None)
    return data


def refresh(done: Path) -> dict:
    """A finished run's summary, its curve read again from the run's ``metrics.jsonl`` when
    the summary was written by an older version of this script (without ``grad_norm``)."""
    summary = json.loads(done.read_text())
    if "grad_norm" not in summary["curve"] and (done.parent / "metrics.jsonl").exists():
        summary["curve"] = curve(read_history(done.parent))
        done.write_text(json.dumps(summary) + "\n")
    return summary


def run_one(row: str, seed: int, args) -> dict:
    """Train (or resume, or skip) one run; its summary."""
    from hambox_torch.engine.train import train
    from hambox_torch.recipe import checkpoint as ckpt

    cfg = study_config(
        row, seed, args.iters, Path(args.output_dir), args.diag_every, args.overrides
    )
    out = Path(cfg.run.output_dir)
    done = out / "summary.json"
    if done.exists():
        summary = refresh(done)
        if args.analyze and "analyze" not in summary:
            summary["analyze"] = analyze(out, args.iters)
            done.write_text(json.dumps(summary) + "\n")
        return summary
    resume = bool(out.exists() and ckpt.find_checkpoints(out))
    print(f"\n== {row} seed {seed}: {cfg.matching.strategy}, T {cfg.matching.online_iou_thr}, "
          f"{cfg.loss.kind}, {cfg.optim.max_iters} iterations"
          + (" (resumed)" if resume else ""), flush=True)  # fmt: skip
    result = train(cfg, resume=resume, progress=args.progress)
    history = read_history(out)
    evals = [r for r in history if r["kind"] == "eval"]
    summary = {
        "row": row,
        "ablation_row": ROWS[row][0],
        "seed": seed,
        "iters": cfg.optim.max_iters,
        "lr_steps": list(cfg.optim.lr_steps),
        "strategy": cfg.matching.strategy,
        "online_iou_thr": cfg.matching.online_iou_thr if ROWS[row][1] is not None else None,
        "loss": cfg.loss.kind,
        "compensated_normalizer": cfg.loss.compensated_normalizer,
        "ap": {k: evals[-1][f"ap_{k}"] for k in SETTINGS} if evals else dict(result.ap),
        "seconds_last_call": round(result.seconds, 1),
        "curve": curve(history),
    }
    if args.analyze:
        summary["analyze"] = analyze(out, args.iters)
    done.write_text(json.dumps(summary) + "\n")
    return summary


def mean_spread(values) -> tuple[float, float]:
    """Mean and sample standard deviation of the values that are not None (NaN for the
    standard deviation of a single value, both NaN for none)."""
    values = [v for v in values if v is not None]
    if not values:
        return math.nan, math.nan
    sd = statistics.stdev(values) if len(values) > 1 else math.nan
    return statistics.fmean(values), sd


def late_mean(c: dict, key: str) -> float | None:
    """Mean of ``key`` over the last quarter of a curve's iterations (None if never defined)."""
    its = c["iteration"]
    if not its:
        return None
    start = its[-1] * 3 / 4
    values = [v for i, v in zip(its, c[key], strict=True) if i > start and v is not None]
    return statistics.fmean(values) if values else None


def binned(c: dict, key: str, width: int) -> tuple[list[float], list[float]]:
    """A curve's ``key`` averaged over bins of ``width`` iterations (the per-batch values are
    noisy): bin centres and means, bins without a defined value left out."""
    bins: dict[int, list[float]] = {}
    for i, v in zip(c["iteration"], c[key], strict=True):
        if v is not None:
            bins.setdefault((i - 1) // width, []).append(v)
    keys = sorted(bins)
    return [(k + 0.5) * width for k in keys], [statistics.fmean(bins[k]) for k in keys]


def gradient_split(c: dict, after: float) -> dict[str, list[float]]:
    """A curve's pre-clipping gradient norms after iteration ``after``, split by whether the
    batch had compensated anchors: ``{"with": [...], "without": [...]}`` (batches without
    outer faces count as without)."""
    out: dict[str, list[float]] = {"with": [], "without": []}
    if "grad_norm" not in c:
        return out
    comp = c["compensated_per_outer_face"]
    for i, g, k in zip(c["iteration"], c["grad_norm"], comp, strict=True):
        if i > after and g is not None:
            out["with" if k else "without"].append(g)
    return out


def group_runs(summaries) -> dict[tuple[str, int], list[dict]]:
    """Runs by (row, iterations), rows in :data:`ROWS` order, seeds ascending."""
    groups: dict[tuple[str, int], list[dict]] = {}
    ordered = sorted(summaries, key=lambda s: (list(ROWS).index(s["row"]), s["iters"], s["seed"]))
    for s in ordered:
        groups.setdefault((s["row"], s["iters"]), []).append(s)
    return groups


def row_stats(runs) -> dict:
    """One group's AP per setting as (mean, sd) over seeds, and its compensated anchors per
    outer face over the last quarter of training (mean over seeds)."""
    return {
        "ap": {k: mean_spread([r["ap"].get(k) for r in runs]) for k in SETTINGS},
        "late_compensated": mean_spread(
            [late_mean(r["curve"], "compensated_per_outer_face") for r in runs]
        )[0],
        "seeds": [r["seed"] for r in runs],
        "online_iou_thr": runs[0]["online_iou_thr"],
        "loss": runs[0]["loss"],
    }


def format_ap(mean: float, sd: float) -> str:
    """``0.432 ± 0.012``, or the mean alone for one seed."""
    return f"{mean:.3f}" + ("" if math.isnan(sd) else f" ± {sd:.3f}")


def table(summaries) -> str:
    """A Markdown table: one line per (row, budget), AP mean ± sd over its seeds."""
    lines = [
        "| row | T | loss | iterations | seeds | easy | medium | hard | comp. per outer face "
        "(last quarter) |",
        "|---|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    for (row, iters), runs in group_runs(summaries).items():
        st = row_stats(runs)
        thr = st["online_iou_thr"]
        cells = " | ".join(format_ap(*st["ap"][k]) for k in SETTINGS)
        lines.append(
            f"| {row} | {'-' if thr is None else thr} | {st['loss']} | {iters} | "
            f"{','.join(map(str, st['seeds']))} | {cells} | {st['late_compensated']:.2f} |"
        )
    return "\n".join(lines)


def collect(out_root: Path, target: Path, command: str) -> list[dict]:
    summaries = [refresh(p) for p in sorted(out_root.glob("*/seed*/summary.json"))]
    summaries = [s for runs in group_runs(summaries).values() for s in runs]
    payload = {
        "description": "examples/hambox_effect.py runs on the embedded set (issue 17)",
        "command": command,
        "runs": summaries,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    return summaries


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", nargs="+", default=[], choices=list(ROWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--iters", type=int, default=3000, help="iterations per run")
    parser.add_argument("--diag-every", type=int, default=20, help="diagnostics period")
    parser.add_argument("--output-dir", default="runs/hambox_effect")
    parser.add_argument("--analyze", action="store_true", help="run hambox analyze on each run")
    parser.add_argument("--collect", metavar="FILE", help="write every finished run's summary")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="applied to every run")
    args = parser.parse_args(argv)
    if args.iters < 1:
        parser.error(f"--iters must be >= 1, got {args.iters}")
    if args.diag_every < 1:
        parser.error(f"--diag-every must be >= 1, got {args.diag_every}")
    if not args.rows and not args.collect:
        parser.error("give --rows to train, --collect FILE to gather the results, or both")
    for row in args.rows:
        for seed in args.seeds:
            run_one(row, seed, args)
    if args.collect:
        summaries = collect(Path(args.output_dir), Path(args.collect), " ".join(sys.argv))
        print(table(summaries))
        print(f"wrote {args.collect} ({len(summaries)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
