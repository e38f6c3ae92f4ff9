"""Write ``docs/data/demo_detector.json``: the numbers the guide's demo-detector figures draw.

Not run by the docs build (its name does not start with ``fig_``): it needs a trained
checkpoint and minutes of CPU, which CI has not. The figures built from its output
(``fig_demo.py``) are drawn at every build; only numbers are committed, never an image.
Run it after training the demo (``make demo``)::

    python docs/scripts/make_demo_data.py runs/demo_cpu [--out docs/data/demo_detector.json]

It reads, from the run folder, the last checkpoint, its ``config.yaml`` and ``metrics.jsonl``
(the training diagnostics), and on the run's data set (the embedded set unless the config names
another root) measures, with the code of this tree:

* the official WIDER FACE PR curves (protocol ``single``, every validation image; 200 points
  per curve kept, evenly spaced in threshold index);
* the detections (score >= 0.3) of a few validation images, :data:`SAMPLE_IMAGES`;
* the paper's Fig. 2 measurements (:func:`hambox_torch.analysis.analyze_detector`, score 0.5).

About 20 minutes on the shared 2-core development machine (2026-12-01, other jobs running).
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

#: Validation images (index in the split, as the embedded generator numbers them) whose
#: detections are kept: a portrait, a group, a crowd and a scene without faces.
SAMPLE_IMAGES = (1, 3, 5, 8)

OUT = Path(__file__).resolve().parents[1] / "data" / "demo_detector.json"


def _round(values, digits: int) -> list:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _diagnostics(metrics: Path) -> dict:
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    diag = [r for r in rows if r.get("kind") == "diagnostics"]
    train = [r for r in rows if r.get("kind") == "train"]
    keys = ("compensated_per_outer_face", "compensated_mean_iou", "hq_unmatched_share")
    out = {"iteration": [int(r["iteration"]) for r in diag]}
    for k in (*keys, "outer_face_share", "faces"):
        out[k] = [None if r.get(k) != r.get(k) else r.get(k) for r in diag]  # NaN -> null
    out["loss_iteration"] = [int(r["iteration"]) for r in train]
    out["loss"] = [round(float(r["loss"]), 4) for r in train]
    return out


def main(argv=None) -> Path:
    import torch

    from hambox_core.evaluation import widerface as wider_eval
    from hambox_torch.analysis import analyze_detector
    from hambox_torch.data.embedded import ensure_embedded
    from hambox_torch.data.wider import read_image
    from hambox_torch.inference import Detector
    from hambox_torch.recipe.checkpoint import latest_checkpoint
    from hambox_torch.recipe.loading import load_detector

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a training run folder (runs/demo_cpu)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    ckpt = latest_checkpoint(args.run)
    model, cfg = load_detector(ckpt, torch.device("cpu"))
    root = Path(cfg.data.root) if cfg.data.root else ensure_embedded(progress=False)
    gt = wider_eval.load_ground_truth(root / "eval_tools" / "ground_truth")
    detector = Detector(model, protocol="single")

    # PR curves of every validation image, under the official protocol "single".
    preds = {}
    samples = {}
    for i, (event, stem) in enumerate(gt.keys()):
        path = root / "WIDER_val" / "images" / event / f"{stem}.jpg"
        found = detector.detect(read_image(path))
        xywh = np.concatenate([found.boxes[:, :2], found.boxes[:, 2:] - found.boxes[:, :2]], 1)
        preds[(event, stem)] = np.concatenate([xywh, found.scores[:, None]], 1)
        index = int(stem.rsplit("_", 1)[1])
        if index in SAMPLE_IMAGES:
            keep = found.scores >= 0.3
            samples[index] = {
                "index": index,
                "name": f"{event}/{stem}",
                "boxes": _round(found.boxes[keep], 1),
                "scores": _round(found.scores[keep], 3),
            }
        print(f"\rdetect {i + 1}/{len(gt)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    curves = wider_eval.pr_curves(preds, gt)
    pr = {}
    for setting, c in curves.items():
        pick = np.unique(np.linspace(0, len(c.recall) - 1, 200).round().astype(int))
        ok = np.isfinite(c.recall[pick]) & np.isfinite(c.precision[pick])
        pr[setting] = {
            "ap": float(c.ap),
            "num_faces": int(c.num_faces),
            "recall": _round(c.recall[pick][ok], 4),
            "precision": _round(c.precision[pick][ok], 4),
        }

    analysis = analyze_detector(model, root, matching=cfg.matching)
    data = {
        "about": (
            "Numbers drawn by docs/scripts/fig_demo.py; written by "
            "docs/scripts/make_demo_data.py from a run of configs/demo_cpu.yaml (make demo)."
        ),
        "made": {
            "date": datetime.date.today().isoformat(),
            "commit": _git_commit(),
            "command": f"python docs/scripts/make_demo_data.py {args.run}",
        },
        "checkpoint": {"file": ckpt.name, "config": cfg.name, "iteration": analysis_iter(ckpt)},
        "data": {
            "root": "embedded (default set)" if not cfg.data.root else str(cfg.data.root),
            "split": "val",
            "images": len(gt),
        },
        "protocol": "single",
        "semantics": next(iter(curves.values())).semantics,
        "pr": pr,
        "samples": [samples[k] for k in sorted(samples)],
        "analysis": {
            "images": analysis.images,
            "faces": analysis.faces,
            "score_thr": analysis.params["settings"]["score_thr"],
            "correct_iou_thr": analysis.params["correct_iou_thr"],
            "pos_iou_thr": analysis.pos_iou_thr,
            "anchor_iou": _round(analysis.anchor_iou, 4),
            "step_one_matched": analysis.step_one_matched.astype(int).tolist(),
            "compensated_iou": {k: _round(v, 4) for k, v in analysis.compensated_iou.items()},
            "hq_anchors": analysis.hq_anchors,
            "hq_unmatched": analysis.hq_unmatched,
            "faces_matched": analysis.faces_matched,
            "faces_correct_before_nms": analysis.faces_correct_before_nms,
            "faces_correct_after_nms": analysis.faces_correct_after_nms,
            "summary": analysis.summary(),  # what `hambox analyze` prints
        },
        "training": _diagnostics(args.run / "metrics.jsonl"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(args.out)
    return args.out


def analysis_iter(ckpt: Path) -> int:
    """The iteration in a checkpoint's name (``ckpt_0000960.pt`` -> 960)."""
    return int(ckpt.stem.rsplit("_", 1)[1])


if __name__ == "__main__":
    main()
