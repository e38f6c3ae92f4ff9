"""``hambox analyze``: the paper's Fig. 2 for a trained checkpoint.

Loads the checkpoint (its config builds the detector; the weights must fit it), runs
:func:`hambox_torch.analysis.analyze_detector` on a WIDER-format split and prints the summary:
the share of correct predictions regressed from anchors matched at step one, the IoUs of the
compensated anchors' predicted boxes (HAMBox and the standard DMS), and the high-quality
anchors left unmatched. Unreadable images are named on standard error, skipped and counted.
The data root defaults to the one the checkpoint was trained on (its config's ``data.root``,
the embedded set when that is null); ``--png`` and ``--json`` are checked writable before the
analysis starts.
"""

from __future__ import annotations

import argparse

DESCRIPTION = """\
The paper's Fig. 2 for a trained detector. Every image of the split is detected at its
original size; each detection after NMS (score above --score-thr) is traced to the anchor it
was regressed from. Among correct detections (IoU > 0.5 with a face): the share whose anchor
step one of the standard matching (the checkpoint's matching.pos_iou_thr) matched to that face,
versus unmatched anchors (panel a: cumulative distribution of IoU(anchor, face)). Then HAMBox's
online compensation (the checkpoint's top_k, online_iou_thr, high_quality_iou_thr) and the
standard DMS compensation run on the model's own predictions: the IoU between compensated
anchors' predicted boxes and their faces (panel b), and compensated anchors per face.
"""

EPILOG = """\
examples:
  hambox analyze --weights runs/demo_cpu/ckpt_0000960.pt --png fig2.png
  hambox analyze --weights ckpt.pt --data /data/widerface --max-images 500 --json fig2.json
"""


def register(sub) -> None:
    """Add the ``analyze`` subcommand to ``sub`` (an argparse subparsers object)."""
    from hambox_torch.cli import add_no_progress

    p = sub.add_parser(
        "analyze",
        help="the paper's Fig. 2: which anchors a trained model's correct predictions come from",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--weights", required=True, metavar="CKPT", help="a hambox training checkpoint (.pt)"
    )
    p.add_argument(
        "--data",
        metavar="ROOT",
        help="WIDER-format root (WIDER_<split>/images and wider_face_split/); default: the "
        "checkpoint's data.root, or for one trained on the embedded data set that set "
        "($HAMBOX_DATA/embedded, by default ~/.cache/hambox/embedded)",
    )
    p.add_argument(
        "--split", choices=("val", "train"), default="val", help="which split (default val)"
    )
    p.add_argument(
        "--max-images",
        type=int,
        metavar="N",
        help="analyse the first N images of the split only (default: all)",
    )
    p.add_argument(
        "--score-thr",
        type=float,
        default=0.5,
        help="detections scoring at most this are dropped before NMS (default 0.5)",
    )
    p.add_argument("--device", default="cpu", help="torch device to run the model on (default cpu)")
    p.add_argument("--png", metavar="FILE", help="write the two-panel figure to this PNG")
    p.add_argument("--json", metavar="FILE", help="write the summary and histograms as JSON")
    add_no_progress(p)
    p.set_defaults(func=run)


def run(args) -> int:
    """Analyse, print and write; returns the exit status."""
    import dataclasses
    import json
    import sys
    import warnings

    from hambox_torch.analysis import ANALYSIS_SETTINGS, analyze_detector
    from hambox_torch.cli import CommandError, output_path
    from hambox_torch.cli import device as cli_device
    from hambox_torch.cli.evaluate import checkpoint_data_root
    from hambox_torch.data.wider import ImageReadWarning
    from hambox_torch.recipe.loading import load_detector

    if args.max_images is not None and args.max_images < 0:
        raise CommandError(f"--max-images must be >= 0, got {args.max_images}")
    if not 0 <= args.score_thr <= 1:
        raise CommandError(f"--score-thr must be in [0, 1], got {args.score_thr}")
    output_path(args.png, "--png")
    output_path(args.json, "--json")
    model, cfg = load_detector(args.weights, cli_device(args.device))
    root, origin = checkpoint_data_root(args.data, cfg)
    settings = dataclasses.replace(ANALYSIS_SETTINGS, score_thr=args.score_thr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImageReadWarning)
        result = analyze_detector(
            model,
            root,
            split=args.split,
            max_images=args.max_images,
            matching=cfg.matching,
            settings=settings,
            progress=not args.no_progress,
        )
    for w in caught:
        if issubclass(w.category, ImageReadWarning):
            print(f"hambox analyze: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    print(f"checkpoint {args.weights} (config {cfg.name!r}), data {root} ({args.split}; {origin})")
    print(result.summary())
    if result.unreadable:
        print(
            f"{len(result.unreadable)} of {result.images + len(result.unreadable)} images could "
            f"not be read and were skipped: {', '.join(result.unreadable)}",
            file=sys.stderr,
        )
    if args.png:
        result.figure(args.png, training=_training_diagnostics(args.weights))
        print(f"wrote {args.png}")
    if args.json:
        payload = {"weights": str(args.weights), "config": cfg.name, **result.to_dict()}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}")
    return 0


def _training_diagnostics(weights):
    """The ``hq_unmatched_share`` curve of the run the checkpoint came from (its
    ``metrics.jsonl`` beside it), for panel (c); ``None`` when there is none."""
    import json
    import math
    from pathlib import Path

    path = Path(weights).parent / "metrics.jsonl"
    if not path.is_file():
        return None
    curve: dict[str, list] = {"iteration": [], "hq_unmatched_share": []}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:  # a line cut off by a kill: skip it
            continue
        value = row.get("hq_unmatched_share") if row.get("kind") == "diagnostics" else None
        if isinstance(value, int | float) and math.isfinite(value):
            curve["iteration"].append(row["iteration"])
            curve["hq_unmatched_share"].append(value)
    return curve if curve["iteration"] else None
