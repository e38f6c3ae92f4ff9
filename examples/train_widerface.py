"""Train the HAMBox detector: the paper's recipe on WIDER FACE, or a CPU demo on the embedded set.

With no arguments this trains the CPU demo (``configs/demo_cpu.yaml``: ResNet-18 at 320 px, a
few hundred iterations) on the embedded WIDER-format data set, generated on first use, and ends
with the official easy / medium / hard AP on its validation split, a PR-curve PNG and a PNG of
detections. This is what ``make demo`` runs.

With ``--data-root`` pointing at a WIDER FACE copy (``WIDER_train/``, ``WIDER_val/``,
``wider_face_split/``, ``eval_tools/ground_truth/``) it uses the paper's recipe
(``configs/hambox_r50_widerface.yaml``) unless ``--config`` names another; give ImageNet weights
with ``model.pretrained_path=/path/resnet50.pth`` (never downloaded). Any config key can be
overridden: ``optim.lr=0.02 data.batch_size=4``. For 4 GPUs:

    torchrun --nproc_per_node=4 examples/train_widerface.py --data-root /data/widerface \\
        model.pretrained_path=/weights/resnet50.pth

Outputs go to ``run.output_dir`` (``--output-dir``): the resolved config, ``metrics.jsonl``,
checkpoints, evaluation predictions, ``pr_curves.png`` and ``detections.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parent / "configs"


def parse_args(argv=None):
    from hambox_torch.engine.config import add_config_arguments

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", default=None, help="WIDER FACE root (default: embedded)")
    parser.add_argument("--output-dir", default=None, help="overrides run.output_dir")
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="CKPT",
        help="continue from the newest checkpoint in the output folder, or from CKPT",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_config_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from hambox_torch.engine.config import load_config

    if args.config is None:
        default = "hambox_r50_widerface.yaml" if args.data_root else "demo_cpu.yaml"
        args.config = str(CONFIGS / default)
    overrides = list(args.overrides)
    if args.data_root:
        overrides.append(f"data.root={args.data_root}")
    if args.output_dir:
        overrides.append(f"run.output_dir={args.output_dir}")
    cfg = load_config(args.config, overrides)

    from hambox_torch.engine.train import train

    t0 = time.perf_counter()
    print(f"hambox: training {cfg.name!r} for {cfg.optim.max_iters} iterations -> "
          f"{cfg.run.output_dir}")  # fmt: skip
    result = train(cfg, resume=args.resume, progress=not args.no_progress)
    minutes = (time.perf_counter() - t0) / 60
    print(f"done: {result.iterations} iterations in {minutes:.1f} min")
    if result.ap:
        print("\nWIDER FACE protocol (single scale, original size) on the validation split:")
        print("| setting | AP |\n|---|---:|")
        for k, v in result.ap.items():
            print(f"| {k} | {v:.3f} |")
        if cfg.data.root is None:
            print("(the embedded smoke-scale set: not comparable with WIDER FACE numbers)")
        _figures(cfg, result)
    return 0


def _figures(cfg, result) -> None:
    """PR curves and a picture of detections on a few validation images."""
    from hambox_torch.engine.figures import detections_figure, pr_curve_figure

    out = Path(cfg.run.output_dir)
    pr = pr_curve_figure(cfg, result, out / "pr_curves.png")
    det = detections_figure(cfg, result, out / "detections.png")
    print(f"\nfigures: {pr} {det}")


if __name__ == "__main__":
    sys.exit(main())
