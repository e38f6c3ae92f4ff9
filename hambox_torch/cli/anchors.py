"""``hambox anchors``: the paper's Fig. 1 (anchor matching statistics against anchor scale).

For every anchor scale of the sweep, every face of the ground truth is matched with step one of
the standard strategy (IoU >= ``--iou``) on the anchor grid of that scale
(:func:`hambox_core.anchor_statistics`); the command prints one row per scale (mean anchors
matched per face, share of faces with at least one, number of faces) and optionally writes the
two curves as a PNG and the numbers as JSON. The ground truth is read by
:func:`hambox_core.analysis.load_faces` (a WIDER-format ``.txt`` or the official ``.mat``
folder); faces of zero or negative size are left out and counted.
"""

from __future__ import annotations

import argparse

DESCRIPTION = """\
The paper's Fig. 1: for each anchor scale (the multiplier of the base sizes 16..512 on the
strides 4..128), the mean number of anchors that step one of the standard matching
(IoU >= --iou) gives each face, and the share of faces that get at least one. Images have no
size in the .mat ground truth, so each image's anchor grid starts at the origin and extends as
far right and down as any anchor touching a face needs (an unbounded image).
"""

EPILOG = """\
examples:
  hambox anchors --gt /data/widerface/eval_tools/ground_truth --png fig1.png
  hambox anchors --gt wider_face_split/wider_face_train_bbx_gt.txt --scales 0.5,0.68,1.0
"""


def _floats(text: str, option: str, *, count: int | None = None) -> tuple[float, ...]:
    from hambox_torch.cli import CommandError

    try:
        values = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise CommandError(f"{option}: expected comma-separated numbers, got {text!r}") from None
    if not values or any(not (v > 0 and v < float("inf")) for v in values):
        raise CommandError(f"{option}: expected positive finite numbers, got {text!r}")
    if count is not None and len(values) != count:
        raise CommandError(f"{option}: expected {count} values, got {len(values)}")
    return values


def register(sub) -> None:
    """Add the ``anchors`` subcommand to ``sub`` (an argparse subparsers object)."""
    from hambox_core.analysis import FIG1_SCALES
    from hambox_torch.cli import add_no_progress

    p = sub.add_parser(
        "anchors",
        help="the paper's Fig. 1: anchors matched per face and faces matched vs anchor scale",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--gt",
        required=True,
        metavar="PATH",
        help="ground truth: a WIDER-format annotation .txt (official bbx_gt or RetinaFace "
        "label.txt), or the folder holding the official wider_face_val.mat (or that file)",
    )
    p.add_argument(
        "--setting",
        choices=("all", "easy", "medium", "hard"),
        default="all",
        help="with the .mat ground truth: count every face (all, the default) or only the faces "
        "a setting's keep list counts (needs wider_<setting>_val.mat)",
    )
    p.add_argument(
        "--scales",
        default=",".join(f"{s:g}" for s in FIG1_SCALES),
        metavar="S1,S2,...",
        help="anchor scales to evaluate (default: 0.1 to 1.5 in steps of 0.05, plus 0.43 and 0.68)",
    )
    p.add_argument(
        "--iou",
        type=float,
        default=0.35,
        help="step one's positive IoU threshold (default 0.35, the paper's)",
    )
    p.add_argument(
        "--strides",
        default="4,8,16,32,64,128",
        metavar="S,...",
        help="feature-map stride of each level (default 4,8,16,32,64,128)",
    )
    p.add_argument(
        "--base-sizes",
        default="16,32,64,128,256,512",
        metavar="B,...",
        help="anchor side of each level before the scale (default 16,32,64,128,256,512)",
    )
    p.add_argument(
        "--ratios",
        default="1",
        metavar="R,...",
        help="anchor aspect ratios h/w, one anchor per ratio per location (default 1)",
    )
    p.add_argument("--png", metavar="FILE", help="write the two curves (Fig. 1) to this PNG")
    p.add_argument("--json", metavar="FILE", help="write the table and the inputs as JSON")
    add_no_progress(p)
    p.set_defaults(func=run)


def run(args) -> int:
    """Compute, print and write the statistics; returns the exit status."""
    import json
    import time

    import numpy as np
    from tqdm.auto import tqdm

    from hambox_core import anchor_statistics
    from hambox_core.analysis import load_faces, plot_anchor_statistics
    from hambox_torch.cli import CommandError, output_path

    output_path(args.png, "--png")
    output_path(args.json, "--json")
    scales = _floats(args.scales, "--scales")
    strides_f = _floats(args.strides, "--strides")
    if any(s != int(s) for s in strides_f):
        raise CommandError(f"--strides: expected integers, got {args.strides!r}")
    strides = tuple(int(s) for s in strides_f)
    base_sizes = _floats(args.base_sizes, "--base-sizes", count=len(strides))
    ratios = _floats(args.ratios, "--ratios")
    if not 0 < args.iou <= 1:
        raise CommandError(f"--iou must be in (0, 1], got {args.iou}")
    start = time.perf_counter()
    faces = load_faces(args.gt, setting=args.setting)
    rows = {"scales": [], "mean_matched": [], "frac_matched": []}
    for scale in tqdm(scales, desc="anchor scales", disable=args.no_progress, leave=False):
        s = anchor_statistics(
            faces.boxes,
            [scale],
            iou_thr=args.iou,
            strides=strides,
            base_sizes=base_sizes,
            ratios=ratios,
        )
        for key in rows:
            rows[key].append(float(s[key][0]))
    stats = {k: np.asarray(v) for k, v in rows.items()}
    stats["num_faces"] = faces.num_faces
    seconds = time.perf_counter() - start
    print(
        f"{faces.source}: {len(faces)} images, {faces.num_faces} faces "
        f"({faces.dropped} of zero or negative size left out); step one IoU >= {args.iou}"
    )
    print(f"{'scale':>6}  {'anchors/face':>12}  {'faces matched':>13}  {'faces':>7}")
    for scale, mean, frac in zip(*rows.values(), strict=True):
        print(f"{scale:>6.2f}  {mean:>12.3f}  {100 * frac:>12.2f}%  {faces.num_faces:>7d}")
    print(f"({len(scales)} scales in {seconds:.1f} s)")
    if args.png:
        plot_anchor_statistics(stats, path=args.png)
        print(f"wrote {args.png}")
    if args.json:
        payload = {
            "gt": str(args.gt),
            "setting": args.setting,
            "source": faces.source,
            "images": len(faces),
            "faces": faces.num_faces,
            "dropped_faces": faces.dropped,
            "iou_thr": args.iou,
            "strides": list(strides),
            "base_sizes": list(base_sizes),
            "ratios": list(ratios),
            "rows": [
                {"scale": s, "mean_matched": m, "frac_matched": f}
                for s, m, f in zip(*rows.values(), strict=True)
            ],
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}")
    return 0
