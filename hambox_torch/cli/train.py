"""``hambox train``: the paper's recipe on a WIDER FACE copy, or the CPU demo on the embedded set.

With no ``--data-root`` it trains the CPU demo config (``configs/demo_cpu.yaml``) on the
embedded WIDER-format set (generated on first use); with ``--data-root`` the paper's recipe
(``configs/hambox_r50_widerface.yaml``) unless ``--config`` names another file. Any config key
can be overridden as ``KEY=VALUE``. At the end it prints the official easy / medium / hard AP
of the last evaluation and writes ``pr_curves.png`` and ``detections.png`` beside the
checkpoints. ``examples/train_widerface.py`` is this command.

The named configs live in the source tree's ``configs/`` folder (next to the packages); from an
installation without it give ``--config PATH``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

__all__ = ["CONFIGS", "add_arguments", "register", "run"]

#: The source tree's configuration folder.
CONFIGS = Path(__file__).resolve().parents[2] / "configs"

DESCRIPTION = """\
Train the HAMBox detector.

  hambox train                                   # CPU demo on the embedded set
  hambox train --data-root /data/widerface model.pretrained_path=/weights/resnet50.pth
  torchrun --nproc_per_node=4 -m hambox_torch.cli train --data-root /data/widerface

Outputs in run.output_dir (--output-dir): the resolved config, metrics.jsonl, checkpoints,
evaluation predictions, pr_curves.png and detections.png.
"""


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The training options (shared with ``examples/train_widerface.py``)."""
    from hambox_torch.recipe.config import add_config_arguments

    parser.add_argument(
        "--data-root",
        default=None,
        metavar="DIR",
        help="WIDER FACE root (WIDER_train/, WIDER_val/, wider_face_split/, "
        "eval_tools/ground_truth/); default: the embedded demo set",
    )
    parser.add_argument(
        "--output-dir", default=None, metavar="DIR", help="overrides run.output_dir"
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="CKPT",
        help="continue from the newest checkpoint in the output folder, or from CKPT",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_config_arguments(
        parser,
        default="configs/demo_cpu.yaml, or configs/hambox_r50_widerface.yaml with --data-root",
    )
    return parser


def register(sub) -> None:
    parser = sub.add_parser(
        "train",
        help="train the detector (paper recipe, or the CPU demo on the embedded set)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def _default_config(data_root) -> str:
    name = "hambox_r50_widerface.yaml" if data_root else "demo_cpu.yaml"
    path = CONFIGS / name
    if not path.is_file():
        from hambox_torch.cli import CommandError

        raise CommandError(
            f"the default config {path} is not there (an installation without the source "
            "tree's configs/ folder): give --config FILE"
        )
    return str(path)


def run(args: argparse.Namespace) -> int:
    from hambox_torch.engine.train import train
    from hambox_torch.recipe.config import load_config

    config = args.config if args.config is not None else _default_config(args.data_root)
    overrides = list(args.overrides)
    if args.data_root:
        overrides.append(f"data.root={args.data_root}")
    if args.output_dir:
        overrides.append(f"run.output_dir={args.output_dir}")
    cfg = load_config(config, overrides)

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
