"""Figure: a few images of the embedded data set with their annotated faces.

Run by the docs build (``_ext/hambox_docs.py`` calls :func:`main`) or by hand::

    python docs/scripts/fig_embedded.py [OUT_DIR]

The images are rendered here, at build time, by the generator itself
(:func:`hambox_torch.data.embedded.render_image` with the default set's seed 0, validation
split): image ``n`` of the default set is exactly what ``render_image(0, "val", n)`` draws
(before the JPEG coding the files get). One image of each scene: a portrait, a group, a crowd
and a scene without faces.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: (validation image index, scene) drawn: one per scene of the generator.
IMAGES = ((1, "portrait"), (3, "group"), (5, "crowd"), (37, "scenery"))


def main(out_dir) -> list[Path]:
    """Write ``embedded_samples.png`` into ``out_dir``; return its path."""
    from hambox_torch.data.embedded import render_image
    from hambox_torch.inference.drawing import draw_detections, picture_grid

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tiles = []
    for index, scene in IMAGES:
        img = render_image(0, "val", index)
        if img.scene != scene:  # the generator changed: choose the images again
            raise RuntimeError(f"val image {index} is a {img.scene} scene now, not {scene}")
        tiles.append(
            draw_detections(
                img.image,
                ground_truth=img.boxes,
                title=f"val image {index}: {img.scene}, {len(img.boxes)} faces",
            )
        )
    sheet = picture_grid(
        tiles,
        columns=2,
        title="The embedded data set (default set, seed 0): four of its 200 validation images,\n"
        "one per scene, with the annotated faces",
    )
    path = out / "embedded_samples.png"
    sheet.save(path, optimize=True)
    return [path]


if __name__ == "__main__":
    print(*main(sys.argv[1] if len(sys.argv) > 1 else "docs/_generated"), sep="\n")
