"""Command line: ``hambox-eval`` (also ``python -m hambox_core.evaluation``).

``hambox-eval widerface --pred DIR --gt DIR [--plot out.png] [--name NAME]`` evaluates a
prediction folder (``<event>/<image>.txt``) against the official validation ``.mat`` files and
prints the AP table; ``--plot`` also saves the PR curves (needs matplotlib).

Exit status: 0 on success, 2 on bad input (malformed file, missing folder), with the message on
standard error.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hambox-eval", description="Face-detection evaluation under the official protocols."
    )
    sub = parser.add_subparsers(dest="benchmark", required=True)
    w = sub.add_parser(
        "widerface",
        help="WIDER FACE validation AP (official protocol)",
        description="Official WIDER FACE validation AP (easy, medium, hard).",
    )
    w.add_argument("--pred", required=True, help="prediction folder: <event>/<image>.txt")
    w.add_argument(
        "--gt",
        required=True,
        help="folder with wider_face_val.mat and wider_{easy,medium,hard}_val.mat",
    )
    w.add_argument("--plot", metavar="FILE", help="save the PR curves there (needs matplotlib)")
    w.add_argument("--name", default="HAMBox", help="method name in the plot legend")
    return parser


def _widerface(args) -> int:
    from .widerface import MissingPredictionWarning, load_ground_truth, pr_curves

    t0 = time.perf_counter()
    gt = load_ground_truth(args.gt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curves = pr_curves(args.pred, gt)
    for w in caught:
        prefix = "warning" if issubclass(w.category, MissingPredictionWarning) else "note"
        print(f"{prefix}: {w.message}", file=sys.stderr)
    elapsed = time.perf_counter() - t0
    print(f"{'setting':<8} {'AP':>7} {'faces':>7}")
    for s, c in curves.items():
        print(f"{s:<8} {c.ap:>7.4f} {c.num_faces:>7d}")
    print(f"({len(gt)} images, {elapsed:.2f} s)")
    if args.plot:
        from .plots import plot_widerface_pr

        plot_widerface_pr(curves, name=args.name, path=args.plot)
        print(f"PR curves saved to {args.plot}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Examples
    --------
    >>> main(["widerface", "--pred", "/nonexistent", "--gt", "/nonexistent"])
    2
    """
    args = _parser().parse_args(argv)
    try:
        if args.benchmark == "widerface":
            return _widerface(args)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"hambox-eval: error: {exc}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse rejects unknown benchmarks


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
