"""Match one crowded image's faces with SMS, DMS, NAMS and HAMBox and compare what each does.

The faces come from the real WIDER FACE validation annotation when it is available (the
``wider_face_val.mat`` next to this project in ``../shared/data/widerface_val_gt/``, or the
folder named by ``--gt``); otherwise from a generated crowd of the same character (a few large
faces in front, rows of smaller faces behind, down to a few pixels). HAMBox needs each anchor's
predicted box; with no trained network at hand the demo simulates a detector part-way through
training: anchors near a face regress onto it with some error, the rest drift a little.

Run: ``make demo`` or ``python examples/matching_demo.py [--gt DIR] [--image NAME]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from hambox_core import AnchorGenerator, DMSMatcher, HAMBoxMatcher, NAMSMatcher, SMSMatcher

DEFAULT_GT = Path(__file__).resolve().parents[2] / "shared" / "data" / "widerface_val_gt"
DEFAULT_IMAGE = "0_Parade_marchingband_1_465"


def wider_faces(gt_dir: Path, image: str) -> np.ndarray | None:
    """xyxy faces of one image of the official ``wider_face_val.mat``, or None if unavailable."""
    path = gt_dir / "wider_face_val.mat"
    if not path.is_file():
        return None
    from scipy.io import loadmat

    mat = loadmat(path)
    for event_files, event_boxes in zip(
        mat["file_list"][:, 0], mat["face_bbx_list"][:, 0], strict=True
    ):
        for name, boxes in zip(event_files[:, 0], event_boxes[:, 0], strict=True):
            if str(name[0]) == image:
                xywh = boxes.astype(np.float32)
                return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    raise SystemExit(f"image {image!r} is not in {path}")


def generated_crowd(rng: np.random.Generator) -> np.ndarray:
    """A crowd: faces shrink with distance from the camera, from ~150 px to ~5 px."""
    faces = []
    for row, (size, count) in enumerate([(150, 2), (70, 5), (35, 12), (18, 25), (9, 40), (5, 60)]):
        y = 600 - 110 * row - 0.25 * size * rng.random(count)
        x = rng.uniform(0, 1024 - size, count)
        s = size * rng.uniform(0.8, 1.25, count)
        faces.append(np.stack([x, y - s * 1.2, x + s, y], axis=1))
    return np.concatenate(faces).astype(np.float32)


def simulated_predictions(rng, anchors, faces) -> np.ndarray:
    """Predicted boxes of a detector part-way through training (see module docstring)."""
    size = anchors[:, 2:] - anchors[:, :2]
    centre = anchors[:, :2] + size / 2 + rng.normal(0, 0.1, size.shape) * size
    wh = size * np.exp(rng.normal(0, 0.15, size.shape))
    pred = np.concatenate([centre - wh / 2, centre + wh / 2], axis=1)
    near = SMSMatcher(0.15)(anchors, faces)  # anchors with IoU >= 0.15 with some face
    idx = np.nonzero(near.labels == 1)[0]
    face = faces[near.matched_gt[idx]]
    fsize = face[:, 2:] - face[:, :2]
    noise = rng.normal(0, 0.08, (len(idx), 4)) * np.concatenate([fsize, fsize], axis=1)
    pred[idx] = face + noise
    pred[:, 2:] = np.maximum(pred[:, 2:], pred[:, :2])
    return pred.astype(np.float32)


def median_time(fn, repeats: int = 30) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gt", type=Path, default=DEFAULT_GT, help="folder of wider_face_val.mat")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="WIDER FACE val image name")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    faces = wider_faces(args.gt, args.image)
    source = f"WIDER FACE val image {args.image}"
    if faces is None:
        faces = generated_crowd(rng)
        source = "a generated crowd (WIDER FACE ground truth not found)"
    step = 128
    height = int(np.ceil(max(faces[:, 3].max(), 1) / step) * step)
    width = int(np.ceil(max(faces[:, 2].max(), 1) / step) * step)
    anchors = AnchorGenerator().grid_anchors((height, width))
    pred = simulated_predictions(rng, anchors, faces)
    sides = np.sqrt((faces[:, 2] - faces[:, 0]) * (faces[:, 3] - faces[:, 1]))
    print(f"faces: {len(faces)} from {source}")
    print(
        f"face sizes (sqrt area): min {sides.min():.1f}  median {np.median(sides):.1f}  "
        f"max {sides.max():.1f} px"
    )
    print(
        f"anchors: {len(anchors)} on a {height}x{width} input, AnchorGenerator() defaults "
        f"(scale 0.68, one square anchor per location)"
    )
    print()

    matchers = {
        "SMS": SMSMatcher(),
        "DMS": DMSMatcher(),
        "NAMS (N=3)": NAMSMatcher(num_per_face=3),
        "HAMBox (K=3, T=0.8)": HAMBoxMatcher(),
    }
    header = (
        f"{'strategy':<20} {'positives':>9} {'per face':>8} {'compensated':>11} "
        f"{'ignored':>7} {'faces w/o anchor':>16} {'mean quality':>12} {'time':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, matcher in matchers.items():
        result = matcher(anchors, faces, pred)
        per_face = result.positives_per_face()
        seconds = median_time(lambda m=matcher: m(anchors, faces, pred))
        quality = result.quality[result.positive]
        print(
            f"{name:<20} {result.num_positive:>9d} {per_face.mean():>8.2f} "
            f"{int(result.compensated.sum()):>11d} {int((result.labels == -1).sum()):>7d} "
            f"{int((per_face == 0).sum()):>16d} "
            f"{quality.mean() if quality.size else 0.0:>12.3f} {seconds * 1e6:>7.0f} µs"
        )
    print()
    print("per face: mean positive anchors per face after the second step; quality: IoU of the")
    print("positives with their face (HAMBox: of their predicted boxes). Step one alone leaves")
    print("the small faces without anchors; HAMBox fills them only with anchors whose")
    print("prediction is already good, and ignores background that already predicts a face.")


if __name__ == "__main__":
    main()
