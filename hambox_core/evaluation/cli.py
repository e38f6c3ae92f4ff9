"""Command line: ``hambox-eval`` (also ``python -m hambox_core.evaluation``).

``hambox-eval widerface --pred DIR --gt DIR`` evaluates a prediction folder
(``<event>/<image>.txt``) against the official validation ``.mat`` files and prints the AP
table with the semantics it was computed under. Options:

* ``--semantics {official,float}`` — the MATLAB tool's int32 arithmetic (default) or the
  float64 of the Python ports (:mod:`hambox_core.evaluation.widerface`);
* ``--json FILE`` — the APs, face counts and how they were computed, as JSON;
* ``--plot FILE`` — the PR curves (needs matplotlib);
* ``--breakdown DIR`` — AP per attribute value and face size
  (:mod:`hambox_core.evaluation.widerface_breakdown`): the table is printed,
  ``DIR/breakdown.json`` written, and with matplotlib one PR figure per group.

Exit status: 0 on success, 2 on bad input (a malformed or unreadable file, a missing folder, a
bad option), with one line ``error: <message>`` on standard error.
"""

from __future__ import annotations

import argparse
import json
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
    w.add_argument(
        "--semantics",
        choices=("official", "float"),
        default="official",
        help="box arithmetic: 'official' = the MATLAB tool on the int32 .mat boxes (default), "
        "'float' = float64 as the Python ports compute",
    )
    w.add_argument("--json", metavar="FILE", help="write the APs and their metadata as JSON")
    w.add_argument("--plot", metavar="FILE", help="save the PR curves there (needs matplotlib)")
    w.add_argument(
        "--breakdown",
        metavar="DIR",
        help="also AP per attribute value and face size: print the table, write "
        "DIR/breakdown.json and, with matplotlib, DIR/breakdown_<group>.png",
    )
    w.add_argument("--name", default="HAMBox", help="method name in the plot legend")
    return parser


def _widerface(args) -> int:
    from .widerface import (
        SEMANTICS,
        MissingPredictionWarning,
        evaluation_metadata,
        match_detections,
    )
    from .widerface_breakdown import breakdown_matched, write_breakdown
    from .widerface_truth import load_ground_truth

    t0 = time.perf_counter()
    gt = load_ground_truth(args.gt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        matched = match_detections(args.pred, gt, semantics=args.semantics)
    for w in caught:
        prefix = "warning" if issubclass(w.category, MissingPredictionWarning) else "note"
        print(f"{prefix}: {w.message}", file=sys.stderr)
    curves = {s: matched.curve(gt.keep[s], s) for s in gt.settings}
    elapsed = time.perf_counter() - t0
    print(f"semantics: {args.semantics} ({SEMANTICS[args.semantics]})")
    print(f"{'setting':<8} {'AP':>7} {'faces':>7}")
    for s, c in curves.items():
        print(f"{s:<8} {c.ap:>7.4f} {c.num_faces:>7d}")
    print(f"({len(gt)} images, {elapsed:.2f} s)")
    if args.json:
        meta = evaluation_metadata(args.semantics)
        meta["ap"] = {s: (None if c.ap != c.ap else c.ap) for s, c in curves.items()}
        meta["num_faces"] = {s: c.num_faces for s, c in curves.items()}
        meta["images"] = len(gt)
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=1, allow_nan=False)
            fh.write("\n")
        print(f"APs and metadata saved to {args.json}")
    if args.plot:
        from .plots import plot_widerface_pr

        title = f"{args.pred}: {len(gt)} images, {args.semantics} evaluation"
        plot_widerface_pr(curves, name=args.name, title=title, path=args.plot)
        print(f"PR curves saved to {args.plot}")
    if args.breakdown:
        result = breakdown_matched(matched)
        print()
        print(result.table())
        written = write_breakdown(args.breakdown, result, name=args.name)
        print(f"breakdown saved to {', '.join(str(p) for p in written)}")
        if len(written) == 1:
            print("note: matplotlib is not installed; no breakdown figures", file=sys.stderr)
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
    except (ValueError, TypeError, OSError, ImportError) as exc:
        message = " ".join(str(exc).split())  # one line
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse rejects unknown benchmarks


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
