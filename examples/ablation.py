"""The paper's matching ablation (Tables 1 and 4) on the embedded data set, on the CPU.

Every row trains the CPU demo detector (``configs/demo_cpu.yaml``: ResNet-18 from scratch at
320 px) with the same seed, data and iteration budget; only the anchors, the matching strategy
and the loss change, taken from ``configs/ablation/<row>.yaml``. The table printed at the end
has the shape of the paper's Table 4 — whatever the runs honestly show. On a smoke-scale set and
a budget of minutes, differences of a few points are within run-to-run noise; the paper's
numbers come from 140k iterations of an ImageNet-initialised ResNet-50 on WIDER FACE.

    .venv/bin/python examples/ablation.py                      # all rows, demo budget each
    .venv/bin/python examples/ablation.py --rows sms sms_oam_ral --iters 200
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parent / "configs"
ROWS = ("baseline", "sms", "dms", "nams", "sms_oam", "sms_oam_ral")
VARYING = ("anchors", "matching", "loss")


def row_config(row: str, iters: int | None, out_root: Path, extra: list[str]):
    """The demo config with the row's anchors, matching and loss.

    ``iters`` (default: the demo's budget) stretches the demo's learning-rate schedule to that
    length (its warm-up and decays at the same fractions of the run, see
    :func:`hambox_torch.recipe.config.scale_schedule`) and evaluates once, at the end. ``extra``
    overrides come last, so they win over the row's values.
    """
    from hambox_torch.recipe.config import config_to_dict, load_config, scale_schedule

    ablation = config_to_dict(load_config(CONFIGS / "ablation" / f"{row}.yaml"))
    overrides = [f"{section}={json.dumps(ablation[section])}" for section in VARYING]
    overrides.append(f"run.output_dir={out_root / row}")
    if iters is not None:
        demo = load_config(CONFIGS / "demo_cpu.yaml").optim
        steps, warmup = scale_schedule(demo.lr_steps, demo.warmup_iters, demo.max_iters, iters)
        overrides += [
            f"optim.max_iters={iters}",
            f"optim.lr_steps={json.dumps(list(steps))}",
            f"optim.warmup_iters={warmup}",
            f"run.eval_every={iters}",
            f"run.checkpoint_every={iters}",
        ]
    cfg = load_config(CONFIGS / "demo_cpu.yaml", overrides + extra)
    cfg.name = row
    return cfg


def _mean(history, key):
    values = [r[key] for r in history if r["kind"] == "diagnostics" and not math.isnan(r[key])]
    return sum(values) / len(values) if values else math.nan


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    parser.add_argument("--iters", type=int, default=None, help="iterations per row")
    parser.add_argument("--output-dir", default="runs/ablation")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="applied to every row")
    args = parser.parse_args(argv)
    from hambox_torch.engine.train import train

    results = {}
    for row in args.rows:
        cfg = row_config(row, args.iters, Path(args.output_dir), list(args.overrides))
        m, lo = cfg.matching, cfg.loss
        print(f"\n== {row}: scale {cfg.anchors.scale}, {m.strategy}, {lo.kind}", flush=True)
        results[row] = (cfg, train(cfg, progress=True))

    print("\nEmbedded set, CPU demo detector, same seed and budget per row (smoke scale):")
    print("| row | scale | matching | loss | easy | medium | hard | comp. per outer face |")
    print("|---|---:|---|---|---:|---:|---:|---:|")
    for row, (cfg, res) in results.items():
        ap = res.ap
        comp = _mean(res.history, "compensated_per_outer_face")
        print(
            f"| {row} | {cfg.anchors.scale} | {cfg.matching.strategy} | {cfg.loss.kind} | "
            f"{ap.get('easy', math.nan):.3f} | {ap.get('medium', math.nan):.3f} | "
            f"{ap.get('hard', math.nan):.3f} | {comp:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
