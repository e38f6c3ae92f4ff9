"""``hambox train``: the paper's recipe on a WIDER FACE copy, or the CPU demo on the embedded set.

With no ``--data-root`` it trains the CPU demo config (``configs/demo_cpu.yaml``) on the
embedded WIDER-format set (generated on first use); with ``--data-root`` the paper's recipe
(``configs/hambox_r50_widerface.yaml``) unless ``--config`` names another file. Any config key
can be overridden as ``KEY=VALUE``; overriding ``optim.max_iters`` alone scales the config's
learning-rate steps and warm-up to the new length (said in a warning line), so a short run is
``hambox train optim.max_iters=200``. Arguments, config, data and the checkpoint to resume are
checked before anything is written or the first line is printed. At the end it prints the
official easy / medium / hard AP of the last evaluation and writes ``pr_curves.png`` and
``detections.png`` beside the checkpoints. ``examples/train_widerface.py`` is this command.

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
  hambox train optim.max_iters=200               # shorter: the schedule is scaled with it
  hambox train --resume                          # continue from the newest valid checkpoint
  hambox train --data-root /data/widerface model.pretrained_path=/weights/resnet50.pth
  torchrun --nproc_per_node=4 -m hambox_torch.cli train --data-root /data/widerface

Outputs in run.output_dir (--output-dir): the resolved config, metrics.jsonl, checkpoints,
evaluation predictions, pr_curves.png and detections.png.
"""


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The training options (shared with ``examples/train_widerface.py``)."""
    from hambox_torch.cli import add_no_progress
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
        help="continue from the newest valid checkpoint in the output folder (newer corrupted "
        "ones are skipped with a warning; an error if there is none), or from CKPT",
    )
    parser.add_argument(
        "--allow-config-change",
        action="store_true",
        help="with --resume: continue even though the config differs from the checkpoint's "
        "(the new one is written as config_resume_<iteration>.yaml beside config.yaml)",
    )
    add_no_progress(parser)
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
    from hambox_torch.cli import CommandError
    from hambox_torch.engine.train import train
    from hambox_torch.recipe.config import load_config

    if args.allow_config_change and args.resume is False:
        raise CommandError("--allow-config-change only applies with --resume")
    config = args.config if args.config is not None else _default_config(args.data_root)
    overrides = list(args.overrides)
    if args.data_root:
        overrides.append(f"data.root={args.data_root}")
    if args.output_dir:
        overrides.append(f"run.output_dir={args.output_dir}")
    cfg = load_config(config, overrides)

    t0 = time.perf_counter()

    def announce(state) -> None:
        total = cfg.optim.max_iters
        if state.iteration:
            print(f"hambox: resuming {cfg.name!r} at iteration {state.iteration} of {total} "
                  f"-> {cfg.run.output_dir}")  # fmt: skip
        else:
            print(f"hambox: training {cfg.name!r} for {total} iterations -> "
                  f"{cfg.run.output_dir}")  # fmt: skip

    result = train(
        cfg,
        resume=args.resume,
        allow_config_change=args.allow_config_change,
        progress=not args.no_progress,
        on_start=announce,
    )
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
