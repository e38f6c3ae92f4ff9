"""Face-detection benchmarks, each under its own published protocol.

* :mod:`.widerface` — the official WIDER FACE validation protocol (easy / medium / hard AP),
  exact (the MATLAB tool's int32 arithmetic by default, ``semantics="float"`` for the float64
  of the Python ports) and fast: :func:`.widerface.evaluate`, :func:`.widerface.pr_curves`;
  its ground truth (:mod:`.widerface_truth`), prediction folders
  (:mod:`.widerface_predictions`), kernels (:mod:`.widerface_kernels`) and AP per attribute
  and face size (:mod:`.widerface_breakdown`).
* :mod:`.matfile` — ``.mat`` files read in a child process, so that a corrupt one cannot crash
  the caller.
* :mod:`.fddb` — FDDB discrete and continuous ROC curves.
* :mod:`.ap` — VOC AP and the AFW / PASCAL Face protocol of the ``face-eval`` toolbox.
* :mod:`.plots` — PR and ROC figures (needs the optional matplotlib, imported on use).
* ``python -m hambox_core.evaluation`` / ``hambox-eval`` — the command line (:mod:`.cli`).

Each module's docstring names the protocol's source and every choice made where the source is
ambiguous or broken.
"""

from . import ap, fddb, widerface, widerface_breakdown
from .ap import FaceAPResult, evaluate_face_ap, voc_ap
from .fddb import FDDBResult
from .fddb import evaluate as evaluate_fddb
from .widerface import PRCurve, WiderAP
from .widerface import evaluate as evaluate_widerface
from .widerface_breakdown import WiderBreakdown
from .widerface_truth import WiderGroundTruth, load_ground_truth

__all__ = [
    "FDDBResult",
    "FaceAPResult",
    "PRCurve",
    "WiderAP",
    "WiderBreakdown",
    "WiderGroundTruth",
    "ap",
    "evaluate_face_ap",
    "evaluate_fddb",
    "evaluate_widerface",
    "fddb",
    "load_ground_truth",
    "voc_ap",
    "widerface",
    "widerface_breakdown",
]
