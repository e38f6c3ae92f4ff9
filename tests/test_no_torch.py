"""``import hambox_core`` must never import torch (checked in a clean subprocess)."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "hambox_core",
    "hambox_core.boxes",
    "hambox_core.anchors",
    "hambox_core.matching",
    "hambox_core.losses",
    "hambox_core.postprocess",
]


def test_core_does_not_import_torch():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in MODULES)
        + "from hambox_core import AnchorGenerator, HAMBoxMatcher\n"
        "a = AnchorGenerator().grid_anchors((64, 64))\n"
        "HAMBoxMatcher()(a, [[8, 8, 30, 30]], a)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"hambox_core imported {out.stdout.strip()}"
