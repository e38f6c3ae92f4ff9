"""``hambox embedded``: write the embedded WIDER FACE–format demo data set.

Runs :func:`hambox_torch.data.embedded.generate_embedded` with the options given and prints
what the folder holds (from its manifest). With no ``--out`` it writes the default set where
``hambox train``, ``hambox eval`` and ``hambox analyze`` look for it
(:func:`hambox_torch.data.embedded.embedded_root`). A second run with the same parameters
returns at once.
"""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]

DESCRIPTION = """\
Write the embedded WIDER FACE-format demo data set: faces from scikit-image's LFW crops,
blended onto its photographs with distractors and degradations, in the official layout
(WIDER_train/, WIDER_val/, wider_face_split/*_bbx_gt.txt, eval_tools/ground_truth/*.mat).
Deterministic: the same parameters give byte-identical files. A folder that already holds the
set with the same parameters is reused; one of other parameters, or left incomplete, is
regenerated. A folder holding anything else is refused unless --overwrite is given.
"""

EPILOG = """\
examples:
  hambox embedded                                     # the default set, where the demo reads it
  hambox embedded --out /tmp/embedded --num-train 80 --num-val 20 --seed 1
"""


def register(sub) -> None:
    """Add the ``embedded`` subcommand to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "embedded",
        help="write the embedded WIDER FACE-format demo data set",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output folder, the WIDER FACE root (default: the default set's folder, "
        "$HAMBOX_DATA/embedded, by default ~/.cache/hambox/embedded)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument(
        "--num-train", type=int, default=800, metavar="N", help="train images (default 800)"
    )
    p.add_argument("--num-val", type=int, default=200, metavar="N", help="val images (default 200)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the WIDER_*, wider_face_split and eval_tools folders of a folder the "
        "generator did not make (other files in it are kept)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    """Generate (or reuse) the set and print its summary; returns the exit status."""
    from pathlib import Path

    from hambox_torch.cli import CommandError
    from hambox_torch.data.embedded import embedded_root, generate_embedded, read_manifest

    for option, value, least in (
        ("--seed", args.seed, 0),
        ("--num-train", args.num_train, 1),
        ("--num-val", args.num_val, 1),
    ):
        if value < least:
            raise CommandError(f"{option} must be at least {least}, got {value}")
    out = embedded_root() if args.out is None else Path(args.out).expanduser()
    root = generate_embedded(
        out,
        seed=args.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    counts = (read_manifest(root) or {}).get("counts") or {}
    train, val = counts.get("train", {}), counts.get("val", {})
    print(f"{root}: the embedded data set (seed {args.seed})")
    print(f"  train: {train.get('images', 0):,} images, {train.get('faces', 0):,} faces")
    print(
        f"  val:   {val.get('images', 0):,} images, {val.get('faces', 0):,} faces "
        f"(easy {val.get('faces_easy', 0):,}, medium {val.get('faces_medium', 0):,}, "
        f"hard {val.get('faces_hard', 0):,})"
    )
    return 0
