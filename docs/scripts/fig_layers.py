"""Figure: hambox_torch's layers and the imports between them, read from the source.

Run by the docs build (``_ext/hambox_docs.py`` calls :func:`main`) or by hand::

    python docs/scripts/fig_layers.py [OUT_DIR]

One row per layer of ``docs/_ext/import_graph.py`` (bottom: the operations), listing the
modules and subpackages it holds; an arrow from a row to a lower one for every pair of layers
with imports between them, labelled with the number of module-to-module imports. An import
pointing up would be drawn in red (``tests/test_layers.py`` fails on it). hambox_core, which
every layer may use, is the band at the bottom.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))

import import_graph


def _members() -> dict[int, list[str]]:
    """Layer -> the top-level names (modules or subpackages) of hambox_torch in it."""
    out: dict[int, set[str]] = defaultdict(set)
    for module in import_graph.modules():
        if not module.startswith("hambox_torch."):
            continue
        layer = import_graph.layer_of(module)
        out[layer].add(module.split(".")[1])
    return {k: sorted(v) for k, v in out.items()}


def main(out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    members = _members()
    edges = import_graph.layer_edges()
    names = import_graph.LAYER_NAMES
    n = len(names)
    fig, ax = plt.subplots(figsize=(8.6, 0.78 * (n + 1) + 0.4), dpi=110)
    ax.set_xlim(0, 10)
    ax.set_ylim(-1.2, n)
    ax.axis("off")
    box_x, box_w = 2.3, 7.5
    for layer in range(n):
        y = layer
        ax.add_patch(
            FancyBboxPatch(
                (box_x, y - 0.32), box_w, 0.64, boxstyle="round,pad=0.02",
                facecolor="#e8f0fb", edgecolor="#3a6ea5", linewidth=1.0,
            )
        )  # fmt: skip
        ax.text(box_x + 0.15, y + 0.1, names[layer], fontsize=9.5, weight="bold", va="center")
        listed = ", ".join(members.get(layer, []))
        ax.text(box_x + 0.15, y - 0.15, listed, fontsize=8, va="center", family="monospace")
    ax.add_patch(
        FancyBboxPatch(
            (box_x, -1.05), box_w, 0.5, boxstyle="round,pad=0.02",
            facecolor="#eeeeee", edgecolor="#777777", linewidth=1.0,
        )
    )  # fmt: skip
    ax.text(
        box_x + 0.15, -0.8, "hambox_core (numpy + numba): used by every layer",
        fontsize=9, va="center",
    )  # fmt: skip
    # Arrows on the left, one per (from, to) pair, nested by span.
    pairs = sorted(edges, key=lambda p: (abs(p[0] - p[1]), p))
    for k, (a, b) in enumerate(pairs):
        x = 2.15 - 0.13 * (k % 14)
        up = b > a
        arrow = FancyArrowPatch(
            (x, a), (x, b), arrowstyle="-|>", mutation_scale=8,
            color="#c0392b" if up else "#555555", linewidth=0.8,
            connectionstyle="arc3,rad=0.0",
        )  # fmt: skip
        ax.add_patch(arrow)
    up = sum(v for (a, b), v in edges.items() if b > a)
    summary = "all pointing down" if not up else f"{up} POINTING UP (red)"
    ax.text(
        0.0, n - 0.45,
        f"{sum(edges.values())} module imports\nbetween layers,\n{summary}",
        fontsize=8, va="top", color="#555555" if not up else "#c0392b",
    )  # fmt: skip
    ax.set_title("hambox_torch: each layer imports only the layers below it", fontsize=10.5)
    out = Path(out_dir) / "layers.png"
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return [out]


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("."))
