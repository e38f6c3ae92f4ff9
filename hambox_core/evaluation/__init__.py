"""Face-detection benchmarks, each under its own published protocol.

* :mod:`.widerface` — the official WIDER FACE validation protocol (easy / medium / hard AP),
  exact and fast: :func:`.widerface.evaluate`, :func:`.widerface.pr_curves`,
  :func:`.widerface.load_ground_truth`, prediction folder I/O.
* :mod:`.fddb` — FDDB discrete and continuous ROC curves.
* :mod:`.ap` — VOC AP and the AFW / PASCAL Face protocol of the ``face-eval`` toolbox.
* :mod:`.plots` — PR and ROC figures (needs the optional matplotlib, imported on use).
* ``python -m hambox_core.evaluation`` / ``hambox-eval`` — the command line (:mod:`.cli`).

Each module's docstring names the protocol's source and every choice made where the source is
ambiguous or broken.
"""

from . import ap, fddb, widerface
from .ap import FaceAPResult, evaluate_face_ap, voc_ap
from .fddb import FDDBResult
from .fddb import evaluate as evaluate_fddb
from .widerface import PRCurve, WiderGroundTruth, load_ground_truth
from .widerface import evaluate as evaluate_widerface

__all__ = [
    "FDDBResult",
    "FaceAPResult",
    "PRCurve",
    "WiderGroundTruth",
    "ap",
    "evaluate_face_ap",
    "evaluate_fddb",
    "evaluate_widerface",
    "fddb",
    "load_ground_truth",
    "voc_ap",
    "widerface",
]
