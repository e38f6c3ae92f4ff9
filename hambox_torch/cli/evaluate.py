"""``hambox eval``: the official WIDER FACE validation AP of a checkpoint under a test protocol.

The data root is WIDER-format (``WIDER_val/images/<event>/<stem>.jpg`` and
``eval_tools/ground_truth/wider_face_val.mat`` with the easy / medium / hard lists); by default
the one the checkpoint was trained on (its config's ``data.root``), and for a checkpoint
trained on the embedded demo set that set (:func:`hambox_torch.data.embedded.embedded_root`).
The command prints the easy / medium / hard table with the protocol it was measured under, and
optionally writes the predictions with their ``protocol.json`` (``--out``, refused when the
folder holds another run's results unless ``--overwrite``) and the PR curves (``--plot``).
Every output path is checked before the evaluation starts.

Exit status: 0; 2 on bad input (a missing data root or checkpoint, a foreign or corrupted
checkpoint, an output that cannot be written, a bad option). Unreadable validation images count
as images without detections (warned).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["checkpoint_data_root", "register", "run"]

DESCRIPTION = """\
Official WIDER FACE validation AP of a checkpoint.

  hambox eval --weights runs/demo_cpu/ckpt_0000960.pt            # the data it was trained on
  hambox eval --weights ckpt.pt --data /data/widerface --protocol multiscale --out preds
  hambox eval --weights ckpt.pt --max-images 100 --plot pr.png

AP is comparable only between runs under the same protocol: it is printed with the table and
written into <out>/protocol.json.
"""


def register(sub) -> None:
    from hambox_torch.cli.detect import add_detector_arguments, add_overwrite

    parser = sub.add_parser(
        "eval",
        help="official WIDER FACE val AP (easy/medium/hard) of a checkpoint under a protocol",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        default=None,
        metavar="ROOT",
        help="WIDER-format root holding WIDER_val/images/ and eval_tools/ground_truth/ "
        "(default: the checkpoint's data.root; for one trained on the embedded demo set, "
        "that set: $HAMBOX_DATA/embedded or ~/.cache/hambox/embedded)",
    )
    add_detector_arguments(parser)
    parser.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="also write the predictions as <DIR>/<event>/<stem>.txt and <DIR>/protocol.json",
    )
    add_overwrite(parser)
    parser.add_argument(
        "--max-images",
        type=int,
        default=None,
        metavar="N",
        help="evaluate the first N validation images only (a quick look; default: all)",
    )
    parser.add_argument(
        "--plot",
        default=None,
        metavar="PNG",
        help="save the easy / medium / hard precision-recall curves to this file",
    )
    parser.add_argument(
        "--breakdown",
        default=None,
        metavar="DIR",
        help="also AP per WIDER attribute value and face size (hambox_core.evaluation."
        "widerface_breakdown): print the table, write DIR/breakdown.json and PR figures",
    )
    parser.set_defaults(func=run)


def checkpoint_data_root(arg, cfg, option: str = "--data"):
    """The data root a command on a checkpoint reads: ``arg`` when given, else the
    checkpoint's ``data.root``, else (trained on the embedded set) the embedded set.

    Returns
    -------
    (Path, str)
        The root and where it came from (for the printed header).

    Raises
    ------
    CommandError
        The root is not a folder (for the checkpoint's root: naming it and ``option``).
    """
    from hambox_torch.cli import CommandError, data_root

    if arg is not None:
        return data_root(arg, option), option
    recorded = cfg.data.root
    if recorded is None:
        return data_root(None, option), "the embedded set the checkpoint was trained on"
    path = Path(recorded).expanduser()
    if not path.is_dir():
        raise CommandError(
            f"the checkpoint was trained on data.root {recorded!r}, which is not a folder "
            f"here: give {option} ROOT"
        )
    return path, "the checkpoint's data.root"


def _val_folders(root) -> tuple[Path, Path]:
    from hambox_torch.cli import CommandError

    gt_dir = root / "eval_tools" / "ground_truth"
    image_dir = root / "WIDER_val" / "images"
    if not (gt_dir / "wider_face_val.mat").is_file():
        raise CommandError(f"--data {root}: no eval_tools/ground_truth/wider_face_val.mat in it")
    if not image_dir.is_dir():
        raise CommandError(f"--data {root}: no WIDER_val/images/ folder in it")
    return image_dir, gt_dir


def run(args: argparse.Namespace) -> int:
    from hambox_core.evaluation import widerface as wider_eval
    from hambox_torch.cli import CommandError, output_path
    from hambox_torch.cli.detect import detector_from_args
    from hambox_torch.inference import write_prediction_folder
    from hambox_torch.inference.predictions import (
        check_prediction_folder,
        clear_prediction_folder,
    )
    from hambox_torch.inference.widerface import evaluate_widerface

    if args.max_images is not None and args.max_images < 1:
        raise CommandError(f"--max-images must be at least 1, got {args.max_images}")
    if args.overwrite and args.out is None:
        raise CommandError("--overwrite needs --out")
    out = output_path(args.out, "--out", folder=True)
    output_path(args.plot, "--plot")
    output_path(args.breakdown, "--breakdown", folder=True)
    if out is not None:
        try:
            check_prediction_folder(out, overwrite=args.overwrite)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    detector, cfg = detector_from_args(args)
    root, origin = checkpoint_data_root(args.data, cfg)
    image_dir, gt_dir = _val_folders(root)
    ap, preds, unreadable = evaluate_widerface(
        detector.model,
        image_dir,
        gt_dir,
        max_images=args.max_images,
        batch_size=args.batch_size,
        settings=detector.settings,
        progress=not args.no_progress,
        protocol=detector.protocol,
    )
    meta = detector.metadata()
    meta["data"] = {"root": str(root), "images": len(preds)}
    meta["evaluation"] = ap.metadata()
    print(f"WIDER FACE val AP of {args.weights} ({len(preds)} images)")
    print(f"data: {root} ({origin})")
    print(f"protocol: {json.dumps(meta['protocol'])}")
    print(f"evaluation semantics: {ap.semantics}")
    print("| setting | AP |\n|---|---:|")
    for setting, value in ap.items():
        print(f"| {setting} | {value:.4f} |")
    if unreadable:
        print(f"({unreadable} unreadable images counted as no detections)")
    if out is not None:
        if args.overwrite:
            clear_prediction_folder(out)
        write_prediction_folder(out, preds, meta)
        print(f"predictions and protocol.json -> {out}")
    if args.plot is not None:
        from hambox_core.evaluation.plots import plot_widerface_pr

        gt = wider_eval.load_ground_truth(gt_dir)
        gt = gt.head(len(preds))
        name = detector.config_name or "hambox"
        title = (
            f"{Path(args.weights).name}: protocol {detector.protocol.name}, "
            f"{image_dir.parents[1].name}, {len(preds)} val images"
        )
        curves = wider_eval.pr_curves(preds, gt)
        plot_widerface_pr(curves, name=name, title=title, path=args.plot)
        print(f"PR curves -> {args.plot}")
    if args.breakdown is not None:
        _breakdown(args.breakdown, preds, gt_dir, detector.config_name or "hambox")
    return 0


def _breakdown(out_dir, preds, gt_dir, name: str) -> None:
    """``--breakdown``: AP per attribute value and face size of the evaluated images."""
    from hambox_core.evaluation import widerface as wider_eval
    from hambox_core.evaluation.widerface_breakdown import breakdown, write_breakdown

    gt = wider_eval.load_ground_truth(gt_dir)
    result = breakdown(preds, gt.head(min(len(gt), len(preds))))
    print(result.table())
    written = write_breakdown(out_dir, result, name=name)
    print(f"breakdown -> {', '.join(str(p) for p in written)}")
