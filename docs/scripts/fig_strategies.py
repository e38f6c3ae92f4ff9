"""Figure: which anchors SMS, DMS, NAMS and HAMBox make positive for the same faces.

Run by the docs build (``_ext/hambox_docs.py`` calls :func:`main`) or by hand::

    python docs/scripts/fig_strategies.py [OUT_DIR]

Everything drawn comes from :mod:`hambox_core`: the paper's anchors
(``AnchorGenerator()``, scale 0.68, one square anchor per location) on a 160 x 128 image, seven
faces of 5 to 58 px and one ignore region, matched by the four strategies with their default
hyper-parameters. HAMBox needs each anchor's predicted box; with no network at hand the
predictions are simulated, seeded, as a detector part-way through training would give them:
anchors that overlap a face regress onto it with an error of a few to fifteen percent of its
size, the others stay near where they are.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from hambox_core import AnchorGenerator, DMSMatcher, HAMBoxMatcher, NAMSMatcher, SMSMatcher
from hambox_core.boxes import box_iou

IMAGE_HW = (128, 160)
FACES = np.array(
    [
        [96, 16, 144, 74],  # large
        [18, 22, 38, 46],  # 20 x 24
        [54, 40, 63, 51],  # 9 x 11
        [24, 84, 30, 91],  # 6 x 7, one step-one anchor
        [66, 88, 72, 95],  # 6 x 7, one step-one anchor
        [106, 94, 120, 114],  # 14 x 20
        [40, 100, 45, 106],  # 5 x 6, no step-one anchor
    ],
    dtype=np.float32,
)
IGNORE = np.array([[128, 100, 160, 128]], dtype=np.float32)  # e.g. a blurred crowd
SEED = 3

COLORS = {
    "face": "#1f4e9c",
    "positive": "#2ca02c",
    "compensated": "#e8590c",
    "ignored": "#6c757d",
}


def simulated_predictions(anchors: np.ndarray, faces: np.ndarray, seed: int) -> np.ndarray:
    """Predicted boxes (A, 4) of a detector part-way through training (module docstring)."""
    rng = np.random.default_rng(seed)
    size = anchors[:, 2:] - anchors[:, :2]
    centre = anchors[:, :2] + size / 2 + rng.normal(0, 0.1, size.shape) * size
    wh = size * np.exp(rng.normal(0, 0.15, size.shape))
    pred = np.concatenate([centre - wh / 2, centre + wh / 2], axis=1)
    iou = box_iou(anchors, faces)  # small scene: the dense matrix is fine here
    best = iou.argmax(axis=1)
    near = np.flatnonzero(iou.max(axis=1) >= 0.1)
    face = faces[best[near]]
    fsize = face[:, 2:] - face[:, :2]
    sigma = rng.uniform(0.03, 0.15, (near.size, 1))
    noise = rng.normal(0, 1, (near.size, 4)) * sigma * np.concatenate([fsize, fsize], axis=1)
    pred[near] = face + noise
    pred[:, 2:] = np.maximum(pred[:, 2:], pred[:, :2])
    return pred.astype(np.float32)


def matchers():
    return {
        "SMS": SMSMatcher(),
        "DMS": DMSMatcher(),
        "NAMS (N = 3)": NAMSMatcher(num_per_face=3),
        "HAMBox (K = 3, T = 0.8)": HAMBoxMatcher(),
    }


def _rect(ax, box, **kw):
    from matplotlib.patches import Rectangle

    x0, y0, x1, y1 = (float(v) for v in box)
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, **kw))


def draw(ax, name, result, anchors, faces, ignore) -> None:
    from matplotlib.patches import Rectangle

    h, w = IMAGE_HW
    ax.add_patch(Rectangle((0, 0), w, h, facecolor="#f8f9fa", edgecolor="#adb5bd", lw=0.8))
    for region in ignore:
        x0, y0, x1, y1 = (float(v) for v in region)
        ax.add_patch(
            Rectangle(
                (x0, y0),
                x1 - x0,
                y1 - y0,
                facecolor="none",
                edgecolor=COLORS["ignored"],
                hatch="///",
                lw=0.6,
            )
        )
    for g, face in enumerate(faces):
        _rect(ax, face, edgecolor=COLORS["face"], lw=2.2, zorder=3)
        ax.text(
            float(face[0]),
            float(face[1]) - 1.5,
            f"M={int(result.num_matched[g])}",
            color=COLORS["face"],
            fontsize=7,
            va="bottom",
            zorder=6,
        )
    positive = np.flatnonzero((result.labels == 1) & ~result.compensated)
    for a in positive:
        _rect(ax, anchors[a], edgecolor=COLORS["positive"], lw=1.0, alpha=0.9, zorder=4)
    for a in np.flatnonzero(result.compensated):
        _rect(ax, anchors[a], edgecolor=COLORS["compensated"], lw=1.8, zorder=5)
    ignored = np.flatnonzero(result.labels == -1)
    if ignored.size:
        c = (anchors[ignored, :2] + anchors[ignored, 2:]) / 2
        ax.scatter(c[:, 0], c[:, 1], marker="x", s=9, lw=0.8, color=COLORS["ignored"], zorder=2)
    per_face = result.positives_per_face()
    ax.set_title(
        f"{name}\n{int(result.num_positive)} positive ({int(result.compensated.sum())} "
        f"compensated), {int(ignored.size)} ignored, "
        f"{int((per_face == 0).sum())} face(s) without anchor",
        fontsize=8.5,
    )
    ax.set_xlim(-2, w + 2)
    ax.set_ylim(h + 2, -2)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def match_all():
    """``{name: MatchResult}`` of the four strategies on the scene (simulated predictions)."""
    anchors = AnchorGenerator().grid_anchors(IMAGE_HW)
    pred = simulated_predictions(anchors, FACES, SEED)
    results = {
        name: matcher(anchors, FACES, pred, gt_ignore=IGNORE)
        for name, matcher in matchers().items()
    }
    return anchors, results


def table_rst(results) -> str:
    """A list-table: each face's size, M and final positives under each strategy."""
    names = list(results)
    lines = [
        ".. list-table:: Positive anchors per face after step two (from the figure's scene)",
        "   :header-rows: 1",
        "",
        "   * - face (w x h px)",
        "     - M (step one)",
        *[f"     - {name.split(' (')[0]}" for name in names],
    ]
    counts = {name: r.positives_per_face() for name, r in results.items()}
    num_matched = next(iter(results.values())).num_matched
    for g, (x0, y0, x1, y1) in enumerate(FACES):
        lines.append(f"   * - {int(x1 - x0)} x {int(y1 - y0)}")
        lines.append(f"     - {int(num_matched[g])}")
        lines.extend(f"     - {int(counts[name][g])}" for name in names)
    return "\n".join(lines) + "\n"


def make_figure(anchors, results):
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(2, 2, figsize=(8.6, 7.6), dpi=100)
    for ax, (name, result) in zip(axes.flat, results.items(), strict=True):
        draw(ax, name, result, anchors, FACES, IGNORE)
    handles = [
        Line2D([], [], color=COLORS["face"], lw=2.2, label="face (M = step-one anchors)"),
        Line2D([], [], color=COLORS["positive"], lw=1.0, label="positive anchor, step one"),
        Line2D([], [], color=COLORS["compensated"], lw=1.8, label="compensated anchor (step two)"),
        Line2D(
            [], [], color=COLORS["ignored"], marker="x", ls="none", label="ignored anchor (centre)"
        ),
        Patch(facecolor="none", edgecolor=COLORS["ignored"], hatch="///", label="ignore region"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8.5, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def main(out_dir) -> list[Path]:
    """Write ``strategies.png`` and ``strategies_table.rst`` into ``out_dir``; return them."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    anchors, results = match_all()
    fig = make_figure(anchors, results)
    png = out / "strategies.png"
    fig.savefig(png, dpi=110, metadata={"Software": None})
    plt.close(fig)
    table = out / "strategies_table.rst"
    table.write_text(table_rst(results))
    return [png, table]


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    print(*main(sys.argv[1] if len(sys.argv) > 1 else "docs/_generated"), sep="\n")
