"""Figure: the paper's Fig. 1 on the official WIDER FACE validation faces and the embedded set.

Run by the docs build (``_ext/hambox_docs.py`` calls :func:`main`) or by hand::

    python docs/scripts/fig_anchors.py [OUT_DIR]

Two curves per panel:

* **WIDER FACE val**: the numbers ``hambox anchors --gt ../shared/data/widerface_val_gt/``
  printed (all 39,697 faces), committed as ``docs/data/fig1_widerface_val.json``. The
  official ``.mat`` files are not in the repository (nor in CI), so these numbers are read,
  not recomputed; ``tests/test_analysis.py`` checks them against the real files where those
  are present.
* **embedded val**: computed here, at build time, with
  :func:`hambox_core.anchor_statistics` on the faces of the default embedded set's 200
  validation images, rendered by the generator (:func:`hambox_torch.data.embedded.render_image`,
  seed 0), with their image sizes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "fig1_widerface_val.json"


def widerface_stats() -> dict:
    """The committed Fig. 1 numbers of the official validation faces, as anchor_statistics'
    result."""
    data = json.loads(DATA.read_text())
    rows = data["rows"]
    return {
        "scales": [r["scale"] for r in rows],
        "mean_matched": [r["mean_matched"] for r in rows],
        "frac_matched": [r["frac_matched"] for r in rows],
        "num_faces": data["faces"],
    }


def embedded_stats(num_images: int = 200) -> dict:
    """Fig. 1 on the embedded default set's validation faces (rendered now)."""
    from hambox_core.analysis import FIG1_SCALES, anchor_statistics
    from hambox_torch.data.embedded import render_image

    images = [render_image(0, "val", i) for i in range(num_images)]
    return anchor_statistics(
        [img.boxes for img in images],
        FIG1_SCALES,
        image_hws=[img.image.shape[:2] for img in images],
    )


def main(out_dir) -> list[Path]:
    """Write ``anchors_fig1.png`` into ``out_dir``; return its path."""
    import matplotlib.pyplot as plt

    from hambox_core.analysis import plot_anchor_statistics

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig = plot_anchor_statistics(
        {"WIDER FACE val": widerface_stats(), "embedded val": embedded_stats()},
        title="The paper's Fig. 1: step one of the standard matching (IoU >= 0.35) against "
        "the anchor scale",
    )
    fig.set_size_inches(8.6, 4.4)  # for the guide's column: larger text
    path = out / "anchors_fig1.png"
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return [path]


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    print(*main(sys.argv[1] if len(sys.argv) > 1 else "docs/_generated"), sep="\n")
