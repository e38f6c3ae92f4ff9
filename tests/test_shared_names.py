"""The names hambox_torch shares with hambox_core: importable from both tops, same signatures.

"Same" means: the same parameters in the same order, of the same kinds and with the same
defaults; annotations differ (arrays and tensors). The torch side may add keyword-only
parameters with a default for what only tensors have (:data:`TORCH_ONLY`), nothing else.
Classes compare their constructors and, for the losses, their calls.
"""

from __future__ import annotations

import inspect

import pytest

torch = pytest.importorskip("torch")

import hambox_core  # noqa: E402
import hambox_torch  # noqa: E402
from hambox_core import boxes as core_boxes  # noqa: E402
from hambox_core import losses as core_losses  # noqa: E402
from hambox_core import postprocess as core_postprocess  # noqa: E402

#: Keyword-only parameters only the torch functions have, and why.
TORCH_ONLY = {
    "global_normalize",  # DDP: average the loss normalisers over the processes
    "return_indices",  # the anchor each detection came from (tensors stay on the device)
    "check",  # skip the value checks' device synchronisation for inputs already checked
}

#: The shared names: matchers and their result, anchors, box operations, losses, NMS.
SHARED = (
    "AnchorGenerator",
    "DMSMatcher",
    "HAMBoxMatcher",
    "MatchResult",
    "NAMSMatcher",
    "SMSMatcher",
    "anchor_statistics",
    "RegressionAwareFocalLoss",
    "StandardFocalLoss",
    "box_area",
    "box_ioa",
    "box_iou",
    "decode",
    "encode",
    "nms",
    "postprocess_detections",
    "regression_aware_focal_loss",
    "sigmoid_focal_loss",
    "smooth_l1_loss",
    "standard_focal_loss",
)


def _core(name):
    for module in (hambox_core, core_boxes, core_losses, core_postprocess):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(name)


def _params(obj, method="__init__"):
    fn = getattr(obj, method) if inspect.isclass(obj) else obj
    return [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]


def _compare(core, torch_, what):
    a = _params(core, what) if what else _params(core)
    b = _params(torch_, what) if what else _params(torch_)
    extra = [p for p in b if p.name not in {q.name for q in a}]
    for p in extra:
        assert p.name in TORCH_ONLY, f"torch-only parameter {p.name!r} is not in TORCH_ONLY"
        assert p.kind is p.KEYWORD_ONLY and p.default is not p.empty, p
    b = [p for p in b if p.name not in {q.name for q in extra}]
    assert [p.name for p in a] == [p.name for p in b]
    assert [p.kind for p in a] == [p.kind for p in b]
    assert [p.default for p in a] == [p.default for p in b]


def test_every_shared_name_is_at_both_tops():
    assert set(SHARED) <= set(hambox_torch.__all__)
    for name in SHARED:
        assert hasattr(hambox_torch, name), name
        _core(name)


@pytest.mark.parametrize("name", SHARED)
def test_shared_names_have_the_same_signature(name):
    core, torch_ = _core(name), getattr(hambox_torch, name)
    if inspect.isclass(core):
        _compare(core, torch_, "__init__")
        if name.endswith("Loss"):
            _compare(core, torch_, "__call__")
    else:
        _compare(core, torch_, None)


def test_the_check_sees_a_difference():
    def core(a, b=1, *, c=2):
        pass

    def renamed(a, bb=1, *, c=2):
        pass

    def other_default(a, b=2, *, c=2):
        pass

    def unknown_extra(a, b=1, *, c=2, d=3):
        pass

    for bad in (renamed, other_default, unknown_extra):
        with pytest.raises(AssertionError):
            _compare(core, bad, None)
