"""``hambox detect``: faces in an image or a folder of images, as WIDER FACE prediction files.

A folder is searched recursively for ``.jpg``, ``.jpeg``, ``.png`` and ``.bmp`` files (any
case; drawings this command wrote, ``*.boxes.jpg``, are skipped), in sorted order. Every image
gets one line with its number of faces (detections scoring at least ``--draw-thr``) and the run
ends with a summary line.

With ``--out`` each image's detections go to ``<out>/<event>/<name>.txt`` in the official
format, where ``<event>`` is the image's folder relative to the input folder (the input folder's
own name for images directly in it; the parent folder's name for a single file) and ``<name>``
is the file's stem — or, when two images of one folder share a stem (``x.jpg`` and ``x.png``),
the whole file name (``x.jpg.txt`` and ``x.png.txt``, whose name lines read ``x.jpg`` and
``x.png``), so no image's detections overwrite another's. A WIDER FACE folder, whose stems
are unique, keeps the official ``<event>/<stem>.txt`` layout. ``<out>/protocol.json`` records
the protocol, the detection settings and the checkpoint. A folder that already holds another
run's results (a ``protocol.json`` or prediction ``.txt`` files) is refused unless
``--overwrite``, which deletes them first (``protocol.json``, the prediction ``.txt`` files in
its event folders and the ``*.boxes.jpg`` drawings), so the folder never mixes two runs.

Memory. At its original size (``--protocol single``) an image needs memory in proportion to
its pixels (a 6000 x 4000 photo about 4.8 GB with the ResNet-50 recipe); one with more than
``--max-pixels`` (default 3840 x 2160, a 4K frame) is downscaled to that many pixels for the
model, with a warning line, and its boxes are mapped back to its original pixels. ``vga``
and ``multiscale`` bound the size of every pass themselves (640 x 640; 1700 x 1200 pixels).
An image that still runs out of memory fails alone, named on one line, and the folder goes
on.

Exit status: 0 when every image was processed; 1 when some could not be read or ran out of
memory (each is named on standard error as it is met, the others are processed, and a last
line says how many failed and which); 2 on bad input (no images found, a missing, corrupted
or foreign checkpoint, an output folder holding another run, a bad option).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "EXTENSIONS",
    "FoundImage",
    "add_detector_arguments",
    "add_overwrite",
    "boxes_to_original",
    "detector_from_args",
    "find_images",
    "fit_to_pixels",
    "fitted_size",
    "register",
    "run",
]

#: Image file extensions a folder is searched for (compared in lower case).
EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

#: Suffix of the pictures ``--draw`` writes (skipped when searching a folder).
DRAWN_SUFFIX = ".boxes.jpg"

#: Default of ``--max-pixels``: a 4K frame (3840 x 2160).
DEFAULT_MAX_PIXELS = 3840 * 2160

DESCRIPTION = """\
Detect faces with a trained checkpoint.

  hambox detect photo.jpg --weights run/ckpt_0140000.pt
  hambox detect WIDER_test/images --weights ckpt.pt --out preds --protocol multiscale
  hambox detect photos/ --weights ckpt.pt --out found --draw --draw-thr 0.6

Prints one line per image (faces scoring at least --draw-thr) and a summary. Writes
<out>/<event>/<stem>.txt (WIDER FACE format: name line, count line, "x y w h score" lines;
<out>/<event>/<stem>.<ext>.txt for images of one folder sharing a stem) and
<out>/protocol.json. Exit status 1 if some images could not be processed (the others are),
2 on bad input.
"""


def add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that build a :class:`~hambox_torch.inference.Detector` (shared with
    ``hambox eval``)."""
    from hambox_torch.cli import add_no_progress
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
    add_no_progress(parser)


def detector_from_args(args):
    """The detector the shared options describe and the checkpoint's training config (bad
    values raise ``CommandError``)."""
    from hambox_torch.cli import CommandError
    from hambox_torch.cli import device as cli_device
    from hambox_torch.inference import Detector
    from hambox_torch.pipeline.detection import DetectionSettings
    from hambox_torch.recipe.loading import load_detector

    if not 0.0 <= args.score_thr <= 1.0:
        raise CommandError(f"--score-thr must be in [0, 1], got {args.score_thr}")
    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be at least 1, got {args.batch_size}")
    device = cli_device(args.device)
    settings = DetectionSettings(score_thr=args.score_thr)
    model, cfg = load_detector(args.weights, device)
    detector = Detector(
        model,
        protocol=args.protocol,
        settings=settings,
        batch_size=args.batch_size,
        checkpoint=args.weights,
        config_name=cfg.name,
    )
    return detector, cfg


def add_overwrite(parser: argparse.ArgumentParser) -> None:
    """``--overwrite`` (shared with ``hambox eval``)."""
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the results of another run in --out (its protocol.json, prediction "
        ".txt files and drawings are deleted first); without it such a folder is refused",
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
        "(default: only the lines per image and the summary)",
    )
    add_overwrite(parser)
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
        help="draw, and count as faces in the lines per image, boxes scoring at least S "
        "(default: 0.5)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help="with --protocol single, downscale an image of more than N pixels to N pixels "
        "(a warning; boxes in the original pixels) so that it fits in memory "
        f"(default: {DEFAULT_MAX_PIXELS} = 3840 x 2160)",
    )
    parser.set_defaults(func=run)


class FoundImage(NamedTuple):
    """An image :func:`find_images` found.

    Attributes
    ----------
    path : Path
    event : str
        Its folder relative to the input folder (the prediction file's folder).
    name : str
        Its prediction name: the stem, or the file name when another image of the same folder
        has the same stem (or the stem is another image's file name).
    """

    path: Path
    event: str
    name: str


def _names(paths: list[Path]) -> list[str]:
    """Prediction names of the images of one folder: stems, whole file names where stems
    collide."""
    stems = [p.stem for p in paths]
    files = {p.name for p in paths}
    return [p.stem if stems.count(p.stem) == 1 and p.stem not in files else p.name for p in paths]


def find_images(path) -> list[FoundImage]:
    """The images to process, their event folders and prediction names, in sorted order.

    Parameters
    ----------
    path : str or os.PathLike
        An image file or a folder.

    Returns
    -------
    list of FoundImage
        Each image, its event — its folder relative to ``path`` (``path``'s own name for
        images directly in it), or for a single file its parent folder's name — and its name
        (the stem; the file name for images of one folder sharing a stem).

    Raises
    ------
    CommandError
        If ``path`` does not exist or no image is found.
    """
    from hambox_torch.cli import CommandError

    root = Path(path)
    if root.is_file():
        return [FoundImage(root, root.resolve().parent.name or "images", root.stem)]
    if not root.is_dir():
        raise CommandError(f"{root} does not exist (give an image file or a folder)")
    by_event: dict[str, list[Path]] = {}
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in EXTENSIONS and not p.name.endswith(DRAWN_SUFFIX) and p.is_file():
            rel = p.parent.relative_to(root).as_posix()
            by_event.setdefault(root.resolve().name if rel == "." else rel, []).append(p)
    if not by_event:
        raise CommandError(f"no images ({', '.join(EXTENSIONS)}) found in {root} or its subfolders")
    found = [
        FoundImage(p, event, name)
        for event, paths in by_event.items()
        for p, name in zip(paths, _names(paths), strict=True)
    ]
    return sorted(found, key=lambda f: f.path)


def _draw(pixels, detections, thr: float, path: Path, title: str | None = None) -> None:
    """Save the image with its detections (scores on the boxes), a title and a legend."""
    from hambox_torch.inference.drawing import draw_detections

    if title is None:
        title = f"{path.name.removesuffix(DRAWN_SUFFIX)}: hambox detect"
    picture = draw_detections(
        pixels, detections.boxes, detections.scores, score_thr=thr, title=title
    )
    picture.save(path, quality=90)


def _is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, MemoryError | torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text
    )


def fitted_size(hw: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    """``(H, W)`` scaled down (aspect kept, whole pixels) to at most ``max_pixels`` pixels;
    unchanged when it has no more.

    >>> fitted_size((4000, 6000), 3840 * 2160)
    (2351, 3527)
    """
    h, w = hw
    if h * w <= max_pixels:
        return h, w
    s = math.sqrt(max_pixels / (h * w))
    return max(1, math.floor(h * s)), max(1, math.floor(w * s))


def fit_to_pixels(image, max_pixels: int):
    """``image`` (Tensor[3, H, W]) downscaled to :func:`fitted_size` (antialiased bilinear),
    or itself when it has no more than ``max_pixels`` pixels."""
    import torch.nn.functional as F

    hw = (int(image.shape[1]), int(image.shape[2]))
    size = fitted_size(hw, max_pixels)
    if size == hw:
        return image
    out = F.interpolate(image[None], size=size, mode="bilinear", antialias=True)
    return out[0].clamp_(0.0, 1.0)


def boxes_to_original(boxes, from_hw, to_hw):
    """xyxy boxes found in a resized copy of size ``from_hw``, in the pixels of the original
    of size ``to_hw`` (per-axis factors, clipped to the image)."""
    import torch

    (h1, w1), (h0, w0) = from_hw, to_hw
    b = boxes.double()
    factor = b.new_tensor([w0 / w1, h0 / h1, w0 / w1, h0 / h1])
    limit = b.new_tensor([w0, h0, w0, h0])
    return torch.minimum((b * factor).clamp(min=0), limit).to(boxes.dtype)


class _Runner:
    """Detections of a list of images, each downscaled when above the pixel budget; an image
    that runs out of memory fails alone."""

    def __init__(self, detector, max_pixels: int | None, warn) -> None:
        self.detector = detector
        self.max_pixels = max_pixels
        self.warn = warn

    def _one_pass(self, images):
        inputs = [fit_to_pixels(im, self.max_pixels) if self.max_pixels else im for im in images]
        found = self.detector.detect_tensors(inputs)
        out = []
        for im, x, (boxes, scores) in zip(images, inputs, found, strict=True):
            if x is not im:
                boxes = boxes_to_original(boxes, tuple(x.shape[1:]), tuple(im.shape[1:]))
            out.append((boxes, scores))
        return out

    def __call__(self, images, labels):
        """Per image ``(boxes, scores)``, or ``None`` for one that ran out of memory."""
        if self.max_pixels:
            for im, label in zip(images, labels, strict=True):
                hw = (int(im.shape[1]), int(im.shape[2]))
                h, w = fitted_size(hw, self.max_pixels)
                if (h, w) != hw:
                    self.warn(
                        f"{label}: {hw[1]} x {hw[0]} pixels is above --max-pixels "
                        f"{self.max_pixels}; detected at {w} x {h} (boxes in the original "
                        "pixels)"
                    )
        try:
            return self._one_pass(images)
        except Exception as exc:
            if not _is_out_of_memory(exc):
                raise
            if len(images) == 1:
                return [None]
        # One by one: only the image that does not fit fails.
        results = []
        for im in images:
            try:
                results.extend(self._one_pass([im]))
            except Exception as exc:
                if not _is_out_of_memory(exc):
                    raise
                results.append(None)
        return results


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from hambox_core.evaluation import widerface as wider_eval
    from hambox_torch.cli import CommandError, output_path
    from hambox_torch.data.wider import UnreadableImageError, read_image
    from hambox_torch.inference import Detections, wider_rows, write_protocol_json
    from hambox_torch.inference.predictions import (
        check_prediction_folder,
        clear_prediction_folder,
    )
    from hambox_torch.inference.protocols import SingleScale

    if args.draw and args.out is None:
        raise CommandError("--draw needs --out (the folder the pictures go to)")
    if args.max_pixels < 1:
        raise CommandError(f"--max-pixels must be at least 1, got {args.max_pixels}")
    if args.overwrite and args.out is None:
        raise CommandError("--overwrite needs --out")
    images = find_images(args.input)
    out = output_path(args.out, "--out", folder=True)
    drawings = (f"*{DRAWN_SUFFIX}",)
    if out is not None:
        try:
            check_prediction_folder(out, overwrite=args.overwrite, also=drawings)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    detector, _ = detector_from_args(args)
    if out is not None:
        if args.overwrite:
            clear_prediction_folder(out, also=drawings)
        write_protocol_json(out, detector.metadata())
    root = Path(args.input)
    bar = tqdm(
        total=len(images),
        desc="detect",
        disable=args.no_progress or len(images) == 1,
        leave=False,
        dynamic_ncols=True,
    )

    def label(path: Path) -> str:
        return path.relative_to(root).as_posix() if root.is_dir() else str(path)

    def warn(message: str) -> None:
        bar.write(f"hambox detect: warning: {message}", file=sys.stderr)

    single = isinstance(detector.protocol, SingleScale)
    runner = _Runner(detector, args.max_pixels if single else None, warn)
    unreadable: list[str] = []
    no_memory: list[str] = []
    faces = without = 0
    for start in range(0, len(images), args.batch_size):
        batch = images[start : start + args.batch_size]
        chunk, pixels = [], []
        for found in batch:
            try:
                pixels.append(read_image(found.path).as_subclass(torch.Tensor))
                chunk.append(found)
            except UnreadableImageError as exc:
                unreadable.append(label(found.path))
                bar.write(f"hambox detect: cannot read {exc}", file=sys.stderr)
        results = runner([p.float().div_(255.0) for p in pixels], [label(f.path) for f in chunk])
        rows = {}
        for found, pix, result in zip(chunk, pixels, results, strict=True):
            if result is None:
                h, w = int(pix.shape[1]), int(pix.shape[2])
                no_memory.append(label(found.path))
                hint = "lower --max-pixels" if single else "try --protocol single or vga"
                bar.write(
                    f"hambox detect: {label(found.path)}: out of memory at {w} x {h} pixels "
                    f"({hint}); skipped",
                    file=sys.stderr,
                )
                continue
            boxes, scores = result
            det = Detections(boxes.float().numpy(), scores.float().numpy())
            n = int((det.scores >= args.draw_thr).sum())
            faces += n
            without += n == 0
            best = f" (best {det.scores[0]:.2f})" if len(det.scores) else ""
            bar.write(f"{label(found.path)}: {n} faces with score >= {args.draw_thr}{best}")
            if out is None:
                continue
            rows[(found.event, found.name)] = wider_rows(det.boxes, det.scores)
            if args.draw:
                (out / found.event).mkdir(parents=True, exist_ok=True)
                title = (
                    f"{found.path.name} | {Path(args.weights).name}, protocol "
                    f"{detector.protocol.name}"
                )
                path = out / found.event / f"{found.name}{DRAWN_SUFFIX}"
                _draw(pix, det, args.draw_thr, path, title=title)
        if rows:
            wider_eval.write_predictions(out, rows)
        bar.update(len(batch))
    bar.close()
    done = len(images) - len(unreadable) - len(no_memory)
    if len(images) > 1 or out is not None:
        where = f"; predictions -> {out} (protocol {detector.protocol.name})" if out else ""
        print(
            f"hambox detect: {done} images, {faces} faces with score >= {args.draw_thr} "
            f"({without} images without any){where}"
        )
    failed = len(unreadable) + len(no_memory)
    for what, names in (("could not be read", unreadable), ("ran out of memory", no_memory)):
        if names:
            print(
                f"hambox detect: {len(names)} of {len(images)} images {what}: {', '.join(names)}",
                file=sys.stderr,
            )
    return 1 if failed else 0
