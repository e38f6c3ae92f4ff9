"""HAMBox in torchvision's RetinaNet: :func:`~hambox_torch.integrations.torchvision.use_hambox`.

``use_hambox(model)`` replaces ``RetinaNet.compute_loss`` — the only hook that sees the
targets, the head's outputs and the anchors together (``RetinaNetHead.compute_loss`` receives
match indices only) — with :func:`hambox_torch.pipeline.supervise`, and sets
``model.box_coder`` so that inference decodes what training encoded:

* **matching**: any matcher (HAMBox by default) on the model's own anchors, as its
  ``AnchorGenerator`` made them (corner-centred, rounded sizes, several per location): the
  matchers take any anchor array. HAMBox gets each anchor's predicted box, decoded from the
  head's regression output.
* **loss**: the regression-aware focal loss (``"ral"``), the standard focal loss
  (``"focal"``), or any object with the loss contract; per class on the head's
  ``num_classes`` logits (one-hot targets, as torchvision's own sigmoid focal loss), so
  ``num_classes=2`` with faces labelled 1 is the usual face detector.
* **box coding**: hambox's deltas with ``variances`` (0.1, 0.1, 0.2, 0.2), which is
  torchvision's ``BoxCoder(weights=(10, 10, 5, 5))``; the model's ``box_coder`` is set to it
  (torchvision's RetinaNet default is weights (1, 1, 1, 1), which would decode these deltas
  into wrong boxes).

In training ``model(images, targets)`` still returns torchvision's loss dict,
``{"classification": loss_cls, "bbox_regression": loss_loc}``; after each step
``model.hambox_last`` holds the step's :class:`~hambox_torch.pipeline.Supervision` (the match,
predicted boxes, targets; ``model.hambox_last.statistics()`` gives positives, compensated,
ignored and outer faces per image) and ``model.hambox_last_match`` its match.

Examples
--------
>>> from torchvision.models.detection import RetinaNet
>>> from torchvision.models.detection.anchor_utils import AnchorGenerator
>>> from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
>>> from torchvision.ops.feature_pyramid_network import LastLevelP6P7
>>> backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None,
...     returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
>>> model = RetinaNet(backbone, num_classes=2, min_size=128, max_size=128,
...     anchor_generator=AnchorGenerator(**paper_anchor_kwargs()))
>>> model = use_hambox(model)
>>> model.box_coder.weights
(10.0, 10.0, 5.0, 5.0)
"""

from __future__ import annotations

import types

from hambox_torch.boxes import DEFAULT_VARIANCES
from hambox_torch.losses import RegressionAwareFocalLoss, StandardFocalLoss
from hambox_torch.matching import HAMBoxMatcher
from hambox_torch.pipeline.supervision import BatchMatcher, supervise

__all__ = ["build_retinanet", "hambox_statistics", "paper_anchor_kwargs", "use_hambox"]

_LOSSES = {"ral": RegressionAwareFocalLoss, "focal": StandardFocalLoss}


def paper_anchor_kwargs(strides=(8, 16, 32, 64, 128), scale: float = 0.68) -> dict:
    """The paper's anchors for torchvision's ``AnchorGenerator(**kwargs)``.

    One square anchor per location per level, side ``scale x 4 x stride`` (the paper's
    0.68 x {16, ..., 512} for strides 4 to 128; torchvision's RetinaNet levels P3-P7 have
    strides 8 to 128). torchvision rounds the half sides to whole pixels.

    Examples
    --------
    >>> paper_anchor_kwargs()["sizes"]
    ((21.76,), (43.52,), (87.04,), (174.08,), (348.16,))
    """
    sizes = tuple((round(scale * 4 * s, 6),) for s in strides)
    return {"sizes": sizes, "aspect_ratios": ((1.0,),) * len(sizes)}


def build_retinanet(
    num_classes: int = 2, *, image_size: int = 640, fpn_channels: int = 256, **kwargs
):
    """A torchvision ``RetinaNet`` on a ResNet-18 FPN (P3-P7) with the paper's anchors, random
    weights: the small face detector the examples and tests train through :func:`use_hambox`.

    Parameters
    ----------
    num_classes : int, default 2
        torchvision's count, background included (faces are label 1).
    image_size : int, default 640
        ``min_size`` and ``max_size`` of the model's resizing transform.
    fpn_channels : int, default 256
        Width of the FPN and heads (torchvision's RetinaNet uses 256; 64 trains on a CPU).
    **kwargs
        Passed to ``RetinaNet`` (e.g. ``score_thresh``, ``detections_per_img``).

    Returns
    -------
    torchvision.models.detection.RetinaNet
        Not yet patched: call :func:`use_hambox` on it.
    """
    from torchvision.models import resnet18
    from torchvision.models.detection import RetinaNet
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    backbone = BackboneWithFPN(
        resnet18(weights=None),
        return_layers={"layer2": "0", "layer3": "1", "layer4": "2"},
        in_channels_list=[128, 256, 512],
        out_channels=fpn_channels,
        extra_blocks=LastLevelP6P7(fpn_channels, fpn_channels),
    )
    return RetinaNet(
        backbone,
        num_classes=num_classes,
        min_size=image_size,
        max_size=image_size,
        anchor_generator=AnchorGenerator(**paper_anchor_kwargs()),
        **kwargs,
    )


def _box_coder(variances):
    from torchvision.models.detection._utils import BoxCoder

    weights = tuple(1.0 / float(v) for v in variances)
    return BoxCoder(weights=weights)


def use_hambox(model, matcher=None, loss="ral", *, variances=DEFAULT_VARIANCES, backend="auto"):
    """Train a torchvision ``RetinaNet`` with a hambox matcher and loss; returns the model.

    Parameters
    ----------
    model : torchvision.models.detection.RetinaNet
        Patched in place: ``compute_loss`` and ``box_coder`` are replaced.
    matcher : matcher, optional
        Default :class:`hambox_torch.HAMBoxMatcher` ``()`` (the paper's K = 3, T = 0.8). Any
        matcher of either hambox package, or any object with the matcher contract of
        :mod:`hambox_torch.pipeline.supervision`.
    loss : {"ral", "focal"} or loss, default "ral"
        The regression-aware focal loss, the standard focal loss, or an object with the loss
        contract (it is given ``classes=``).
    variances : sequence of 4 float, default (0.1, 0.1, 0.2, 0.2)
        The box coding of the regression head (set on ``model.box_coder`` as weights
        ``1 / variances``).
    backend : {"auto", "core", "torch"}
        For hambox's matchers: the core on CPU tensors, torch otherwise (same answers).

    Returns
    -------
    RetinaNet
        ``model`` itself.

    Raises
    ------
    TypeError
        If ``model`` is not a torchvision RetinaNet, or ``loss`` is neither a name nor callable.
    """
    from torchvision.models.detection import RetinaNet

    if not isinstance(model, RetinaNet):
        raise TypeError(f"model must be a torchvision RetinaNet, got {type(model).__name__}")
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {tuple(_LOSSES)} or a loss object, got {loss!r}")
        loss = _LOSSES[loss]()
    elif not callable(loss):
        raise TypeError(f"loss must be a name or callable, got {type(loss).__name__}")
    batch_matcher = BatchMatcher(HAMBoxMatcher() if matcher is None else matcher, backend)
    variances = tuple(float(v) for v in variances)
    model.box_coder = _box_coder(variances)
    model.hambox_matcher = batch_matcher
    model.hambox_loss = loss
    model.hambox_variances = variances
    model.hambox_last = None
    model.hambox_last_match = None
    model.compute_loss = types.MethodType(_compute_loss, model)
    return model


def _compute_loss(self, targets, head_outputs, anchors):
    """``RetinaNet.compute_loss`` with hambox's supervision (see :func:`use_hambox`)."""
    first = anchors[0]
    for i, a in enumerate(anchors[1:], start=1):
        if a.shape != first.shape:
            raise ValueError(
                f"anchors of image {i} differ from image 0's ({tuple(a.shape)} vs "
                f"{tuple(first.shape)}); the batch must share one padded size"
            )
    sup = supervise(
        head_outputs["cls_logits"],
        head_outputs["bbox_regression"],
        first.float(),
        [t["boxes"] for t in targets],
        matcher=self.hambox_matcher,
        loss=self.hambox_loss,
        gt_labels=[t["labels"] for t in targets],
        variances=self.hambox_variances,
    )
    self.hambox_last = sup
    self.hambox_last_match = sup.match
    return {"classification": sup.loss_cls, "bbox_regression": sup.loss_loc}


def hambox_statistics(model) -> dict | None:
    """The last training step's match statistics of a patched model (``None`` before one)."""
    sup = getattr(model, "hambox_last", None)
    if sup is None:
        return None
    top_k = getattr(model.hambox_matcher.matcher, "top_k", 3)
    return sup.statistics(int(top_k))
