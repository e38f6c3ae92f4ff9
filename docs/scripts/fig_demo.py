"""Figures of the demo detector: detections, PR curves, the paper's Fig. 2, training.

Run by the docs build (``_ext/hambox_docs.py`` calls :func:`main`) or by hand::

    python docs/scripts/fig_demo.py [OUT_DIR]

CI cannot train the demo detector (minutes of CPU) and no checkpoint is committed, so these
figures are drawn from **numbers** measured once on the ``make demo`` checkpoint and committed
as ``docs/data/demo_detector.json`` (written by ``docs/scripts/make_demo_data.py``, which
records the checkpoint, the date, the commit and the command). The images under the
detections are rendered here by the embedded generator (``render_image(0, "val", n)``, the
default set's validation image ``n`` before its JPEG coding) with their ground truth; the
boxes drawn on them are the committed detections of the checkpoint on those images.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data" / "demo_detector.json"

#: Detections drawn: score at least 0.3 (the file keeps those; at 0.5 this briefly trained
#: detector keeps few boxes on some images, and a picture of nothing shows nothing).
SCORE_THR = 0.3


def load() -> dict:
    return json.loads(DATA.read_text())


def source_line(data: dict) -> str:
    """Which checkpoint, protocol, data set and how many images."""
    ck, d = data["checkpoint"], data["data"]
    return (
        f"{ck['config']} checkpoint {ck['file']} (iteration {ck['iteration']}), protocol "
        f"{data['protocol']}, {d['root']} {d['split']} split, {d['images']} images"
    )


def detections_picture(data: dict):
    from hambox_torch.data.embedded import render_image
    from hambox_torch.inference.drawing import draw_detections, picture_grid

    tiles = []
    for sample in data["samples"]:
        img = render_image(0, "val", sample["index"])
        tiles.append(
            draw_detections(
                img.image,
                np.asarray(sample["boxes"], np.float64).reshape(-1, 4),
                np.asarray(sample["scores"], np.float64),
                ground_truth=img.boxes,
                score_thr=SCORE_THR,
                title=f"val image {sample['index']} ({img.scene})",
            )
        )
    ck, d = data["checkpoint"], data["data"]
    return picture_grid(
        tiles,
        columns=2,
        title=f"The demo detector ({ck['config']}, {ck['file']}), protocol {data['protocol']}\n"
        f"{len(tiles)} of the {d['images']} images of the {d['root']} {d['split']} split",
    )


def pr_figure(data: dict):
    from hambox_core.evaluation.plots import plot_widerface_pr

    curves = {
        setting: SimpleNamespace(
            recall=np.asarray(c["recall"]),
            precision=np.asarray(c["precision"]),
            ap=c["ap"],
            num_faces=c["num_faces"],
            semantics=data["semantics"],
        )
        for setting, c in data["pr"].items()
    }
    return plot_widerface_pr(
        curves,
        name=data["checkpoint"]["config"],
        title="PR curves: " + source_line(data).replace(", protocol", ",\nprotocol"),
    )


def fig2(data: dict):
    from hambox_core.analysis import plot_detector_analysis

    a, t = data["analysis"], data["training"]
    return plot_detector_analysis(
        a["anchor_iou"],
        a["pos_iou_thr"],
        {"HAMBox": a["compensated_iou"]["hambox"], "DMS": a["compensated_iou"]["dms"]},
        matched=np.asarray(a["step_one_matched"], bool),
        high_quality=(a["hq_anchors"], a["hq_unmatched"]),
        training={"iteration": t["iteration"], "hq_unmatched_share": t["hq_unmatched_share"]},
        face_counts=(
            a["faces_matched"],
            a["faces_correct_before_nms"],
            a["faces_correct_after_nms"],
        ),
        correct_iou_thr=a["correct_iou_thr"],
        title=f"The paper's Fig. 2 on the demo detector ({data['checkpoint']['file']})\n"
        f"{a['images']} {data['data']['root']} val images, {a['faces']} faces, detections "
        f"with score >= {a['score_thr']}",
    )


def training_figure(data: dict):
    from matplotlib.figure import Figure

    t = data["training"]
    fig = Figure(figsize=(10.4, 4.4), layout="constrained")
    ax_loss, ax_comp, ax_iou = fig.subplots(1, 3)
    ax_loss.plot(t["loss_iteration"], t["loss"], color="0.3")
    ax_loss.set_title("training loss")
    ax_loss.set_ylabel("loss (classification + box)")
    it = np.asarray(t["iteration"])

    def values(key):
        return np.asarray([np.nan if v is None else v for v in t[key]], np.float64)

    ax_comp.plot(it, values("compensated_per_outer_face"), marker="o", color="tab:orange")
    ax_comp.set_title("HAMBox: compensated anchors per outer\nface (gaps: no outer face sampled)")
    ax_comp.set_ylabel("anchors per outer face")
    ax_comp.set_ylim(bottom=0)
    mean_iou = values("compensated_mean_iou")
    ax_iou.plot(
        it,
        mean_iou,
        marker="o",
        color="tab:green",
        label="compensated anchors' mean IoU\n(only where some were compensated)",
    )
    ax_iou.plot(
        it,
        values("hq_unmatched_share"),
        marker="s",
        color="tab:purple",
        label="share of high-quality anchors\nunmatched at step one",
    )
    ax_iou.set_ylim(0, 1)
    ax_iou.set_title("mined anchors' quality")
    ax_iou.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize="small", frameon=False)
    for ax in (ax_loss, ax_comp, ax_iou):
        ax.set_xlabel("iteration")
        ax.grid(True, linestyle=":", linewidth=0.8)
    ck = data["checkpoint"]
    fig.suptitle(
        f"Training the demo detector ({ck['config']}, {ck['iteration']} iterations): the "
        "matching diagnostics of sampled batches"
    )
    return fig


def main(out_dir) -> list[Path]:
    """Write the four ``demo_*.png`` into ``out_dir``; return their paths."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load()
    written = []
    path = out / "demo_detections.png"
    detections_picture(data).save(path, optimize=True)
    written.append(path)
    # Sizes for the guide's column (about 750 px wide): smaller figures, larger text.
    for name, make, inches in (
        ("demo_pr", pr_figure, (10.0, 4.9)),
        ("demo_fig2", fig2, (9.4, 8.6)),
        ("demo_training", training_figure, (9.4, 4.4)),
    ):
        fig = make(data)
        fig.set_size_inches(*inches)
        path = out / f"{name}.png"
        fig.savefig(path, dpi=100, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    print(*main(sys.argv[1] if len(sys.argv) > 1 else "docs/_generated"), sep="\n")
