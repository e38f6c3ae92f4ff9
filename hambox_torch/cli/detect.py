"""``hambox detect``: faces in an image or a folder of images, as WIDER FACE prediction files.

A folder is searched recursively for ``.jpg``, ``.jpeg``, ``.png`` and ``.bmp`` files (any
case; drawings this command wrote, ``*.boxes.jpg``, are skipped), in sorted order. With
``--out`` each image's detections go to ``<out>/<event>/<stem>.txt`` in the official format,
where ``<event>`` is the image's folder relative to the input folder (the input folder's own
name for images directly in it; the parent folder's name for a single file), and
``<out>/protocol.json`` records the protocol, the detection settings and the checkpoint.
Without ``--out`` one line per image says how many faces were found.

Exit status: 0 when every image was read; 1 when some could not be read (each is named on
standard error as it is met, the others are processed, and a last line says how many failed
and which); 2 on bad input (no images found, a missing or foreign checkpoint, a bad option).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["EXTENSIONS", "add_detector_arguments", "find_images", "register", "run"]

#: Image file extensions a folder is searched for (compared in lower case).
EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

#: Suffix of the pictures ``--draw`` writes (skipped when searching a folder).
DRAWN_SUFFIX = ".boxes.jpg"

DESCRIPTION = """\
Detect faces with a trained checkpoint.

  hambox detect photo.jpg --weights run/ckpt_0140000.pt
  hambox detect WIDER_test/images --weights ckpt.pt --out preds --protocol multiscale
  hambox detect photos/ --weights ckpt.pt --out found --draw --draw-thr 0.6

Writes <out>/<event>/<stem>.txt (WIDER FACE format: name line, count line, "x y w h score"
lines) and <out>/protocol.json. Exit status 1 if some images could not be read (the others
are processed), 2 on bad input.
"""


def add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that build a :class:`~hambox_torch.inference.Detector` (shared with
    ``hambox eval``)."""
    from hambox_torch.pipeline.detection import DetectionSettings

    parser.add_argument(
        "--weights",
        required=True,
        metavar="CKPT",
        help="checkpoint written by `hambox train` (its config builds the detector)",
    )
    parser.add_argument(
        "--protocol",
        choices=("single", "vga", "multiscale"),
        default="single",
        help="test protocol: single = original size; vga = long side resized to 640 (SCRFD); "
        "multiscale = multi-scale + flip with box voting (S3FD/PyramidBox/DSFD) "
        "(default: single)",
    )
    parser.add_argument(
        "--score-thr",
        type=float,
        default=DetectionSettings.score_thr,
        metavar="S",
        help="keep detections scoring at least S, in [0, 1] "
        f"(default: {DetectionSettings.score_thr}, the WIDER FACE evaluation's)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="torch device to run on: cpu, cuda, cuda:1, or auto = cuda when available "
        "(default: auto)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=8,
        metavar="N",
        help="images per forward pass (default: 8)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def detector_from_args(args):
    """The detector the shared options describe (bad values raise ``CommandError``)."""
    from hambox_torch.cli import CommandError
    from hambox_torch.cli import device as cli_device
    from hambox_torch.inference import Detector
    from hambox_torch.pipeline.detection import DetectionSettings

    if not 0.0 <= args.score_thr <= 1.0:
        raise CommandError(f"--score-thr must be in [0, 1], got {args.score_thr}")
    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be at least 1, got {args.batch_size}")
    device = cli_device(args.device)
    settings = DetectionSettings(score_thr=args.score_thr)
    return Detector.from_checkpoint(
        args.weights,
        device=device,
        protocol=args.protocol,
        settings=settings,
        batch_size=args.batch_size,
    )


def register(sub) -> None:
    parser = sub.add_parser(
        "detect",
        help="detect faces in an image or a folder; write WIDER FACE prediction files",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "input",
        metavar="IMAGE|DIR",
        help="an image file, or a folder searched recursively for .jpg/.jpeg/.png/.bmp",
    )
    add_detector_arguments(parser)
    parser.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="write <DIR>/<event>/<stem>.txt prediction files and <DIR>/protocol.json "
        "(default: print a summary line per image instead)",
    )
    parser.add_argument(
        "--draw",
        action="store_true",
        help="also write each image with its boxes drawn, as <DIR>/<event>/<stem>.boxes.jpg "
        "(needs --out)",
    )
    parser.add_argument(
        "--draw-thr",
        type=float,
        default=0.5,
        metavar="S",
        help="draw, and count in the summary lines, boxes scoring at least S (default: 0.5)",
    )
    parser.set_defaults(func=run)


def find_images(path) -> list[tuple[Path, str]]:
    """The images to process and their event folder names, in sorted order.

    Parameters
    ----------
    path : str or os.PathLike
        An image file or a folder.

    Returns
    -------
    list of (Path, str)
        Each image and its event: its folder relative to ``path`` (``path``'s own name for
        images directly in it), or for a single file its parent folder's name.

    Raises
    ------
    CommandError
        If ``path`` does not exist or no image is found.
    """
    from hambox_torch.cli import CommandError

    root = Path(path)
    if root.is_file():
        return [(root, root.resolve().parent.name or "images")]
    if not root.is_dir():
        raise CommandError(f"{root} does not exist (give an image file or a folder)")
    found = []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in EXTENSIONS and not p.name.endswith(DRAWN_SUFFIX) and p.is_file():
            rel = p.parent.relative_to(root).as_posix()
            found.append((p, root.resolve().name if rel == "." else rel))
    if not found:
        raise CommandError(f"no images ({', '.join(EXTENSIONS)}) found in {root} or its subfolders")
    return found


def _draw(pixels, detections, thr: float, path: Path) -> None:
    from PIL import Image, ImageDraw

    picture = Image.fromarray(pixels.permute(1, 2, 0).contiguous().numpy())
    draw = ImageDraw.Draw(picture)
    width = max(1, round(max(picture.size) / 400))
    for box, score in zip(detections.boxes.tolist(), detections.scores.tolist(), strict=True):
        if score >= thr:
            draw.rectangle(box, outline=(255, 40, 40), width=width)
    picture.save(path, quality=90)


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from hambox_core.evaluation import widerface as wider_eval
    from hambox_torch.cli import CommandError
    from hambox_torch.data.wider import UnreadableImageError, read_image
    from hambox_torch.inference import Detections, wider_rows, write_protocol_json

    if args.draw and args.out is None:
        raise CommandError("--draw needs --out (the folder the pictures go to)")
    images = find_images(args.input)
    detector = detector_from_args(args)
    out = None if args.out is None else Path(args.out)
    if out is not None:
        write_protocol_json(out, detector.metadata())
    root = Path(args.input)
    failed: list[str] = []
    bar = tqdm(
        total=len(images),
        desc="detect",
        disable=args.no_progress or len(images) == 1,
        leave=False,
        dynamic_ncols=True,
    )
    for start in range(0, len(images), args.batch_size):
        batch = images[start : start + args.batch_size]
        chunk, pixels = [], []
        for path, event in batch:
            try:
                pixels.append(read_image(path).as_subclass(torch.Tensor))
                chunk.append((path, event))
            except UnreadableImageError as exc:
                failed.append(path.relative_to(root).as_posix() if root.is_dir() else str(path))
                bar.write(f"hambox detect: cannot read {exc}", file=sys.stderr)
        found = detector.detect_tensors([p.float().div_(255.0) for p in pixels])
        rows = {}
        for (path, event), pix, (boxes, scores) in zip(chunk, pixels, found, strict=True):
            det = Detections(boxes.float().numpy(), scores.float().numpy())
            if out is None:
                n = int((det.scores >= args.draw_thr).sum())
                best = f" (best {det.scores[0]:.2f})" if len(det.scores) else ""
                bar.write(f"{path}: {n} faces with score >= {args.draw_thr}{best}")
                continue
            rows[(event, path.stem)] = wider_rows(det.boxes, det.scores)
            if args.draw:
                (out / event).mkdir(parents=True, exist_ok=True)
                _draw(pix, det, args.draw_thr, out / event / f"{path.stem}{DRAWN_SUFFIX}")
        if rows:
            wider_eval.write_predictions(out, rows)
        bar.update(len(batch))
    bar.close()
    done = len(images) - len(failed)
    if out is not None:
        print(f"hambox detect: {done} images -> {out} (protocol {detector.protocol.name})")
    if failed:
        print(
            f"hambox detect: {len(failed)} of {len(images)} images could not be read: "
            f"{', '.join(failed)}",
            file=sys.stderr,
        )
        return 1
    return 0
