"""``hambox export``: a checkpoint's detector as an ONNX file with decoding in the graph.

The detector is built from the config stored in the checkpoint and given its weights
(:func:`hambox_torch.recipe.load_detector`), then written by
:func:`hambox_torch.export.export_onnx`: dynamic batch, height and width, padding, anchors and box
decoding inside the graph, boxes and scores out (or NMS'd detections with ``--nms``), opset 18
by default. ``--check`` runs the file with onnxruntime on a random batch and compares it with
the torch model (:func:`hambox_torch.export.reference_outputs`). The output path is checked
writable before anything else is done.
"""

from __future__ import annotations

import argparse

#: ``--check`` accepts a largest absolute difference of this times ``max(1, largest |value|)``
#: of each output: 1e-3 for scores, and for boxes relative to the largest coordinate, because
#: float32 rounding in the network grows with the size of its outputs (an untrained ResNet-50
#: gives deltas near 1000 and boxes of thousands of pixels, off by about 0.1 px).
CHECK_TOLERANCE = 1e-3

DESCRIPTION = """\
Export a trained detector to ONNX. The graph takes images float32 (B, 3, H, W), RGB in [0, 1]
(it normalises them itself), with dynamic batch, height and width; it pads them at the bottom
and right to a multiple of the largest anchor stride, builds the anchors for that size, decodes
the box deltas and applies the sigmoid. Outputs: boxes (B, A, 4) xyxy in input pixels and
scores (B, A); with --nms instead one output detections (N, 6), rows (batch_index, x1, y1, x2,
y2, score), after ONNX NonMaxSuppression. Needs the onnx extra: pip install hambox[onnx].
"""

EPILOG = """\
examples:
  hambox export --weights runs/demo_cpu/ckpt_0000960.pt --onnx demo.onnx --check
  hambox export --weights model.pt --onnx model_nms.onnx --nms --score-thr 0.3 --nms-iou 0.4
"""


def register(sub) -> None:
    """Add the ``export`` subcommand to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "export",
        help="export a checkpoint's detector to ONNX (dynamic sizes, decoding in the graph)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--weights",
        required=True,
        metavar="CHECKPOINT",
        help="checkpoint written by `hambox train` (its config builds the detector)",
    )
    p.add_argument(
        "--onnx", required=True, metavar="FILE", help="the .onnx file to write (folders are made)"
    )
    p.add_argument(
        "--opset",
        type=int,
        default=18,
        metavar="N",
        help="ONNX opset, at least 18 (default 18: what torch's dynamo exporter targets natively; "
        "onnxruntime >= 1.14 runs it)",
    )
    p.add_argument(
        "--nms",
        action="store_true",
        help="end the graph in NonMaxSuppression with one output detections (N, 6) = "
        "(batch_index, x1, y1, x2, y2, score) instead of boxes and scores",
    )
    p.add_argument(
        "--score-thr",
        type=float,
        default=0.01,
        metavar="T",
        help="with --nms: keep boxes whose score exceeds T (default 0.01, the evaluation's)",
    )
    p.add_argument(
        "--nms-iou",
        type=float,
        default=0.4,
        metavar="T",
        help="with --nms: a box is suppressed by a higher-scoring kept box when their IoU "
        "exceeds T (default 0.4, the evaluation's)",
    )
    p.add_argument(
        "--max-detections",
        type=int,
        default=750,
        metavar="N",
        help="with --nms: at most N detections per image (default 750)",
    )
    p.add_argument(
        "--example-size",
        type=int,
        nargs=2,
        default=(640, 640),
        metavar=("H", "W"),
        help="size of the example batch traced (default 640 640; at least twice the largest "
        "stride); the exported graph accepts any size",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="run the file with onnxruntime on a random batch (2 images, 300 x 200) and print "
        f"the largest absolute difference from torch; exit status 1 above {CHECK_TOLERANCE:g} "
        "times the largest |value| of an output (at least 1)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    """Export (and check); returns the exit status."""
    import time
    from pathlib import Path

    from hambox_torch.cli import CommandError, output_path

    # Before the checkpoint is read and the model traced (tens of seconds for a ResNet-50).
    output_path(args.onnx, "--onnx")
    try:
        import torch

        from hambox_torch.export import (
            export_onnx,
            onnx_max_abs_diff,
            reference_outputs,
            require_onnx,
            run_onnx,
        )

        require_onnx(runtime=args.check)
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    from hambox_torch.recipe.loading import load_detector

    model, cfg = load_detector(args.weights, "cpu")
    print(f"checkpoint {args.weights} (config {cfg.name!r}, backbone {cfg.model.backbone})")
    start = time.perf_counter()
    settings = {
        "score_thr": args.score_thr,
        "nms_iou_thr": args.nms_iou,
        "max_detections": args.max_detections,
    }
    path = export_onnx(
        model,
        args.onnx,
        opset=args.opset,
        nms=args.nms,
        example_hw=tuple(args.example_size),
        **settings,
    )
    outputs = "detections (N, 6)" if args.nms else "boxes (B, A, 4), scores (B, A)"
    size_mb = Path(path).stat().st_size / 1e6
    print(
        f"wrote {path} ({size_mb:.1f} MB, opset {args.opset}, outputs {outputs}) in "
        f"{time.perf_counter() - start:.1f} s"
    )
    if not args.check:
        return 0
    images = torch.rand(2, 3, 300, 200, generator=torch.Generator().manual_seed(0))
    got = run_onnx(path, images)
    want = reference_outputs(model, images, nms=args.nms, **settings)
    diff = onnx_max_abs_diff(got, want)
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in got.items())
    print(
        f"check: onnxruntime vs torch on 2 random 300 x 200 images: {shapes}, "
        f"max abs diff {diff:.3g}"
    )
    failed = []
    for key, value in want.items():
        allowed = CHECK_TOLERANCE * max(1.0, float(abs(value).max()) if value.size else 0.0)
        key_diff = onnx_max_abs_diff({key: got.get(key)}, {key: value}) if key in got else None
        if key_diff is None or not key_diff <= allowed:
            failed.append(f"{key} differ by {key_diff} (allowed {allowed:.3g})")
    if failed:
        print(f"check FAILED: {'; '.join(failed)}")
        return 1
    return 0
