"""The supervision step: a detector's raw outputs and the faces → matched targets → losses.

For a padded batch: the box deltas are decoded into predicted boxes without gradient, a matcher
labels every anchor (SMS, DMS, NAMS, HAMBox or any object with the matcher contract), positives
get Faster R-CNN box targets against their anchors, and a loss with the loss contract turns
logits, deltas and targets into ``loss_cls`` and ``loss_loc``. :func:`supervise` is that step
for any detector's tensors; :class:`Supervisor` applies it to a
:class:`~hambox_torch.models.HAMBoxDetector`'s output (face branch, and the PyramidAnchors head
branch when the model has one), as training does.

Contracts
---------
*Matcher*: ``matcher(anchors (A, 4), gt_boxes (B, G, 4), gt_valid (B, G) bool,
pred_boxes (B, A, 4)) -> hambox_torch.matching.MatchResult`` (fields (B, A), ``num_matched``
(B, G)). The matchers of :mod:`hambox_torch.matching` follow it; those of
:mod:`hambox_core.matching` (per image, numpy) are accepted too, see :class:`BatchMatcher`.

*Loss*: ``loss(cls_logits (N,), box_deltas (N, 4), box_targets (N, 4), labels (N,),
compensated (N,), quality (N,)) -> (loss_cls, loss_loc)``, flat over the batch
(``N = B * A``), as :class:`hambox_torch.losses.RegressionAwareFocalLoss`.

Which backend matches: the core's and the torch matchers' answers are identical (the
conformance suite checks it), so the choice is about speed only. On a CPU the core's kernels
are far faster than dense batched tensors; on a GPU the torch matchers avoid a round trip to
the host. ``backend="auto"`` picks the core for CPU tensors and torch otherwise.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch

import hambox_core.matching as core_matching
from hambox_core.validation import check_non_negative, check_positive_int, check_variances
from hambox_torch import matching as torch_matching
from hambox_torch.boxes import DEFAULT_VARIANCES, check_box_tensor, decode, encode
from hambox_torch.models.pyramid_anchors import head_anchors, head_boxes
from hambox_torch.validation import (
    ValueChecks,
    check_floating,
    check_shape,
    same_device,
    tensor_arg,
)

__all__ = [
    "BACKENDS",
    "BatchMatcher",
    "Supervision",
    "SupervisionResult",
    "Supervisor",
    "match_statistics",
    "pad_faces",
    "supervise",
]

#: The matcher backends :class:`BatchMatcher` can use for hambox's own matchers.
BACKENDS = ("auto", "core", "torch")

_HAMBOX_MATCHERS = ("SMSMatcher", "DMSMatcher", "NAMSMatcher", "HAMBoxMatcher")


def _twin(matcher, module):
    """The matcher of the same class name in ``module`` with the same parameter values."""
    cls = getattr(module, type(matcher).__name__)
    if isinstance(matcher, cls):
        return matcher
    params = inspect.signature(cls.__init__).parameters
    return cls(**{p: getattr(matcher, p) for p in params if p != "self" and hasattr(matcher, p)})


def _is_hambox_matcher(matcher) -> bool:
    name = type(matcher).__name__
    return name in _HAMBOX_MATCHERS and isinstance(
        matcher, (getattr(core_matching, name), getattr(torch_matching, name))
    )


class BatchMatcher:
    """A matcher for a padded batch of tensors, on the fastest backend for hambox's own.

    Parameters
    ----------
    matcher : matcher
        One of hambox's four matchers, from :mod:`hambox_core.matching` or
        :mod:`hambox_torch.matching` (both work; the twin of the other backend is built with
        the same parameters), or any object with the batched matcher contract (see the module
        notes), which is called as it is.
    backend : {"auto", "core", "torch"}, default "auto"
        For hambox's matchers: ``"auto"`` matches CPU tensors with the core (per image) and
        other devices with the torch matcher (batched). Ignored for other matchers.

    Examples
    --------
    >>> from hambox_core import SMSMatcher
    >>> m = BatchMatcher(SMSMatcher(pos_iou_thr=0.5))
    >>> anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    >>> faces = torch.tensor([[[0.0, 0.0, 10.0, 10.0]]])
    >>> m(anchors, faces, torch.ones(1, 1, dtype=torch.bool)).labels.tolist()
    [[1, 0]]
    """

    def __init__(self, matcher, backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if not callable(matcher):
            raise TypeError(f"matcher must be callable, got {type(matcher).__name__}")
        self.backend = backend
        self.matcher = matcher
        if _is_hambox_matcher(matcher):
            self.core = _twin(matcher, core_matching)
            self.torch = _twin(matcher, torch_matching)
        else:
            self.core = self.torch = None

    def __repr__(self) -> str:
        return f"BatchMatcher({self.matcher!r}, backend={self.backend!r})"

    def __call__(self, anchors, gt_boxes, gt_valid, pred_boxes=None):
        """Match ``gt_boxes`` (B, G, 4) / ``gt_valid`` (B, G) against ``anchors`` (A, 4);
        ``pred_boxes`` (B, A, 4) float32 without gradient. Returns a batched
        :class:`hambox_torch.matching.MatchResult` on the inputs' device."""
        if self.core is None:
            return self.matcher(anchors, gt_boxes, gt_valid, pred_boxes)
        device = gt_boxes.device
        use_core = self.backend == "core" or (self.backend == "auto" and device.type == "cpu")
        if not use_core:
            return self.torch(anchors, gt_boxes, gt_valid, pred_boxes)
        anchors_np = anchors.detach().cpu().numpy()
        gt = gt_boxes.detach().cpu().numpy()
        valid = gt_valid.cpu().numpy()
        pred = None if pred_boxes is None else pred_boxes.detach().cpu().numpy()
        results = [
            self.core(anchors_np, gt[b][valid[b]], pred_boxes=None if pred is None else pred[b])
            for b in range(len(gt))
        ]
        return _stack(results, valid, device, anchors.shape[0])


def _stack(results, valid: np.ndarray, device, num_anchors: int):
    """Per-image core results as one batched torch result (``num_matched`` scattered to the
    padded face slots, ``matched_gt`` renumbered to padded indices)."""
    num_matched = np.zeros(valid.shape, np.int64)
    for b, r in enumerate(results):
        num_matched[b][valid[b]] = r.num_matched
        if not valid[b].all():
            slots = np.flatnonzero(valid[b])
            pos = r.matched_gt >= 0
            r.matched_gt[pos] = slots[r.matched_gt[pos]]

    def field(name, dtype):
        if not results:
            return torch.zeros((0, num_anchors), dtype=dtype, device=device)
        return torch.from_numpy(np.stack([getattr(r, name) for r in results])).to(device)

    return torch_matching.MatchResult(
        field("labels", torch.int8),
        field("matched_gt", torch.int64),
        field("compensated", torch.bool),
        field("quality", torch.float32),
        torch.from_numpy(num_matched).to(device),
    )


def pad_faces(gt_boxes, gt_valid=None, gt_labels=None, *, device=None):
    """Faces as a padded batch: ``(boxes (B, G, 4) float32, valid (B, G) bool, labels (B, G))``.

    Parameters
    ----------
    gt_boxes : Tensor[B, G, 4] or sequence of Tensor[G_i, 4]
        xyxy faces, padded (then ``gt_valid`` says which are real) or one tensor per image.
    gt_valid : Tensor[B, G] bool, optional
        With padded ``gt_boxes``; default: every slot is real. Not allowed with a list.
    gt_labels : Tensor[B, G] int64 or sequence of Tensor[G_i], optional
        Each face's class, laid out like ``gt_boxes``; default: all 0.
    device : torch.device, optional
        Where the list's padded batch goes (default: its first tensor's device, else the CPU).

    Returns
    -------
    (Tensor[B, G, 4] float32, Tensor[B, G] bool, Tensor[B, G] int64)
        Padding slots hold zeros, whatever the padded input held there.

    Raises
    ------
    ValueError
        Shapes or dtypes that do not fit, and real faces that are not finite with ``x1 >= x0``
        and ``y1 >= y0`` (one read from the device), named.
    TypeError
        Arguments that are not tensors (or sequences of them).

    Examples
    --------
    >>> boxes, valid, labels = pad_faces([torch.zeros(2, 4), torch.zeros(0, 4)])
    >>> tuple(boxes.shape), valid.tolist(), labels.dtype
    ((2, 2, 4), [[True, True], [False, False]], torch.int64)
    """
    if isinstance(gt_boxes, torch.Tensor):
        check_shape(
            gt_boxes, "gt_boxes", "(B, G, 4)", gt_boxes.ndim == 3 and gt_boxes.shape[2] == 4
        )
        _check_real(gt_boxes, "gt_boxes")
        b, g = gt_boxes.shape[:2]
        if gt_valid is None:
            gt_valid = torch.ones((b, g), dtype=torch.bool, device=gt_boxes.device)
        else:
            tensor_arg(gt_valid, "gt_valid")
            if gt_valid.dtype != torch.bool:
                raise ValueError(f"gt_valid must be a bool Tensor, got {gt_valid.dtype}")
            check_shape(gt_valid, "gt_valid", f"({b}, {g})", tuple(gt_valid.shape) == (b, g))
        if gt_labels is None:
            gt_labels = torch.zeros((b, g), dtype=torch.int64, device=gt_boxes.device)
        else:
            tensor_arg(gt_labels, "gt_labels")
            _check_integer(gt_labels, "gt_labels")
            check_shape(
                gt_labels, "gt_labels", f"({b}, {g}) like gt_boxes", gt_labels.shape == (b, g)
            )
        same_device(("gt_boxes", gt_boxes), ("gt_valid", gt_valid), ("gt_labels", gt_labels))
        ValueChecks().boxes(gt_boxes, "gt_boxes", valid=gt_valid).run()
        # Padding's values are ignored; zeros keep whatever it held (NaN, inf) out of the batch.
        out = torch.where(gt_valid[..., None], gt_boxes.float(), 0.0)
        return out, gt_valid, gt_labels.long()
    if gt_valid is not None:
        raise ValueError("gt_valid goes with padded gt_boxes (B, G, 4), not with a list")
    try:
        boxes = list(gt_boxes)
    except TypeError:
        raise TypeError(
            f"gt_boxes must be a Tensor (B, G, 4) or a sequence of Tensor (G, 4), got "
            f"{type(gt_boxes).__name__}"
        ) from None
    for i, t in enumerate(boxes):
        tensor_arg(t, f"gt_boxes[{i}]")
        check_shape(t, f"gt_boxes[{i}]", "(G, 4)", t.ndim == 2 and t.shape[1] == 4)
        _check_real(t, f"gt_boxes[{i}]")
    if gt_labels is None:
        labels = [None] * len(boxes)
    else:
        try:
            labels = list(gt_labels)
        except TypeError:
            raise TypeError(
                f"gt_labels must be a sequence like gt_boxes, got {type(gt_labels).__name__}"
            ) from None
    if len(labels) != len(boxes):
        raise ValueError(f"gt_labels must have one entry per image ({len(boxes)})")
    for i, (t, lab) in enumerate(zip(boxes, labels, strict=True)):
        if lab is not None:
            n = int(t.shape[0])
            tensor_arg(lab, f"gt_labels[{i}]")
            _check_integer(lab, f"gt_labels[{i}]")
            check_shape(lab, f"gt_labels[{i}]", f"({n},)", tuple(lab.shape) == (n,))
    if device is None:
        device = boxes[0].device if boxes else torch.device("cpu")
    g = max([int(t.shape[0]) for t in boxes] + [0])
    out = torch.zeros((len(boxes), g, 4), dtype=torch.float32, device=device)
    valid = torch.zeros((len(boxes), g), dtype=torch.bool, device=device)
    classes = torch.zeros((len(boxes), g), dtype=torch.int64, device=device)
    for i, (t, lab) in enumerate(zip(boxes, labels, strict=True)):
        n = int(t.shape[0])
        out[i, :n] = t.to(device=device, dtype=torch.float32)
        valid[i, :n] = True
        if lab is not None:
            classes[i, :n] = lab.to(device=device, dtype=torch.int64)
    ValueChecks().boxes(out, "gt_boxes", valid=valid).run()
    return out, valid, classes


def _check_real(t: torch.Tensor, name: str) -> None:
    if t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"{name} must hold real numbers, got dtype {t.dtype}")


def _check_integer(t: torch.Tensor, name: str) -> None:
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise ValueError(f"{name} must hold integers, got dtype {t.dtype}")


def match_statistics(match, gt_valid, top_k: int = 3) -> dict:
    """What a match did, per image and over the batch (plain Python numbers, for logs).

    Parameters
    ----------
    match : hambox_torch.matching.MatchResult
        Batched (fields (B, A), ``num_matched`` (B, G)).
    gt_valid : Tensor[B, G] bool
    top_k : int, default 3
        A face with fewer step-one anchors than this is an *outer face* (the paper's faces
        that a second matching step compensates).

    Returns
    -------
    dict
        ``positives``, ``compensated``, ``ignored``, ``faces``, ``outer_faces`` (lists, one
        entry per image), ``mean_quality`` (per image: the mean quality of its positives, NaN
        without any) and the batch totals under ``total`` (``mean_quality`` over all positives).

    Examples
    --------
    >>> from hambox_torch.matching import MatchResult
    >>> m = MatchResult(torch.tensor([[1, 1, 0, -1]], dtype=torch.int8),
    ...                 torch.tensor([[0, 0, -1, -1]]), torch.tensor([[False, True, False, False]]),
    ...                 torch.tensor([[0.5, 0.9, 0.0, 0.0]]), torch.tensor([[1]]))
    >>> s = match_statistics(m, torch.tensor([[True]]))
    >>> s["positives"], s["compensated"], s["ignored"], s["outer_faces"], s["mean_quality"]
    ([2], [1], [1], [1], [0.7])
    """
    top_k = check_positive_int(top_k, "top_k")
    for name in ("labels", "compensated", "quality", "num_matched"):
        tensor_arg(getattr(match, name, None), f"match.{name}")
    tensor_arg(gt_valid, "gt_valid")
    want = tuple(match.num_matched.shape)
    check_shape(
        gt_valid, "gt_valid", f"{want} like match.num_matched", tuple(gt_valid.shape) == want
    )
    positive = match.labels == 1
    per_image = {
        "positives": positive.sum(dim=1),
        "compensated": (match.compensated & positive).sum(dim=1),
        "ignored": (match.labels == -1).sum(dim=1),
        "faces": gt_valid.sum(dim=1),
        "outer_faces": (gt_valid & (match.num_matched < top_k)).sum(dim=1),
    }
    quality_sum = torch.where(positive, match.quality.double(), 0.0).sum(dim=1)
    out = {k: [int(v) for v in t.tolist()] for k, t in per_image.items()}
    out["mean_quality"] = [
        round(q / n, 6) if n else float("nan")
        for q, n in zip(quality_sum.tolist(), out["positives"], strict=True)
    ]
    total = {k: sum(v) for k, v in out.items() if k != "mean_quality"}
    total["mean_quality"] = (
        round(float(quality_sum.sum()) / total["positives"], 6)
        if total["positives"]
        else float("nan")
    )
    out["total"] = total
    return out


@dataclass
class Supervision:
    """What :func:`supervise` returns.

    Attributes
    ----------
    loss_cls, loss_loc : Tensor
        Scalar losses, differentiable w.r.t. the logits and deltas.
    match : hambox_torch.matching.MatchResult
        The batched match (fields (B, A), ``num_matched`` (B, G)).
    pred_boxes : Tensor[B, A, 4]
        The decoded predicted boxes the matcher saw (float32, no gradient).
    box_targets : Tensor[B, A, 4]
        The encoded targets (zeros where the anchor is not positive).
    gt_valid : Tensor[B, G] bool
        Which face slots were real (as matched).
    classes : Tensor[B, A] int64
        Each positive anchor's class (its face's label; 0 with one class), -1 elsewhere.
    """

    loss_cls: torch.Tensor
    loss_loc: torch.Tensor
    match: object
    pred_boxes: torch.Tensor
    box_targets: torch.Tensor
    gt_valid: torch.Tensor
    classes: torch.Tensor

    def statistics(self, top_k: int = 3) -> dict:
        """:func:`match_statistics` of this step (reads the counts back from the device)."""
        return match_statistics(self.match, self.gt_valid, top_k)


def supervise(
    cls_logits: torch.Tensor,
    box_deltas: torch.Tensor,
    anchors: torch.Tensor,
    gt_boxes,
    gt_valid: torch.Tensor | None = None,
    *,
    matcher,
    loss,
    gt_labels=None,
    variances=DEFAULT_VARIANCES,
) -> Supervision:
    """Match, encode and compute the losses of one batch, for any detector's outputs.

    Parameters
    ----------
    cls_logits : Tensor[B, A] or Tensor[B, A, C]
        One face logit per anchor, or one logit per class (a multi-class head such as
        torchvision's RetinaNet; the loss gets ``classes=``, see the loss contract).
    box_deltas : Tensor[B, A, 4]
        Encoded box offsets (``variances``), in the anchors' order.
    anchors : Tensor[A, 4]
        xyxy anchors on the outputs' device (float32), in the order of the outputs' rows.
    gt_boxes : Tensor[B, G, 4] or sequence of Tensor[G_i, 4]
        xyxy faces: padded to a common ``G`` (with ``gt_valid``), or one tensor per image.
    gt_valid : Tensor[B, G] bool, optional
        Which padded faces are real (padding never matches and never reaches a target).
    matcher : matcher or BatchMatcher
        See the module notes; wrapped in :class:`BatchMatcher` unless it is one (hambox's
        matchers then run on the core for CPU tensors, on torch otherwise).
    loss : loss
        An object with the loss contract (see the module notes).
    gt_labels : Tensor[B, G] int64 or sequence of Tensor[G_i], optional
        Each face's class, for multi-class logits (default: class 0).
    variances : sequence of 4 float, default (0.1, 0.1, 0.2, 0.2)
        The box coding of ``box_deltas`` and of the targets (hambox's; torchvision's
        ``BoxCoder((10, 10, 5, 5))`` is the same coding).

    Returns
    -------
    Supervision

    Raises
    ------
    ValueError
        Naming the argument: shapes, dtypes or devices that do not fit, anchors or real faces
        that are not valid boxes, deltas that are not finite (then the matcher's and the
        loss's own checks).
    TypeError
        Arguments that are not tensors.

    Notes
    -----
    The checks cost a few reads from the device per call (one here, one in
    :func:`pad_faces`, one in hambox's matchers and losses), each of one small bool vector.

    Examples
    --------
    >>> from hambox_core import SMSMatcher
    >>> from hambox_torch.losses import StandardFocalLoss
    >>> anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    >>> out = supervise(torch.zeros(1, 2), torch.zeros(1, 2, 4), anchors,
    ...                 [torch.tensor([[1.0, 0.0, 10.0, 10.0]])],
    ...                 matcher=SMSMatcher(), loss=StandardFocalLoss())
    >>> out.match.labels.tolist(), out.statistics()["total"]["positives"]
    ([[1, 0]], 1)
    """
    if not isinstance(matcher, BatchMatcher):
        matcher = BatchMatcher(matcher)
    tensor_arg(cls_logits, "cls_logits")
    check_shape(cls_logits, "cls_logits", "(B, A) or (B, A, C)", cls_logits.ndim in (2, 3))
    check_floating(cls_logits, "cls_logits")
    b, a = cls_logits.shape[:2]
    tensor_arg(box_deltas, "box_deltas")
    check_shape(box_deltas, "box_deltas", f"({b}, {a}, 4)", tuple(box_deltas.shape) == (b, a, 4))
    check_floating(box_deltas, "box_deltas")
    check_box_tensor(anchors, "anchors")
    check_shape(anchors, "anchors", f"({a}, 4)", tuple(anchors.shape) == (a, 4))
    same_device(("cls_logits", cls_logits), ("box_deltas", box_deltas), ("anchors", anchors))
    check_variances(variances)
    gt, valid, labels = pad_faces(gt_boxes, gt_valid, gt_labels, device=cls_logits.device)
    if gt.shape[0] != b:
        raise ValueError(
            f"gt_boxes must describe {b} images (one per logit row), got {gt.shape[0]}"
        )
    same_device(("cls_logits", cls_logits), ("gt_boxes", gt))
    deltas32 = box_deltas.float()
    checks = ValueChecks().boxes(anchors, "anchors")
    checks.boxes(deltas32, "box_deltas", allow_inverted=True).run()
    with torch.no_grad():
        pred = decode(anchors, deltas32.detach(), variances, check=False)
    match = matcher(anchors, gt, valid, pred)
    positive = match.labels == 1
    # Non-positives get their own anchor as target (zero deltas, masked out of the loss), so
    # padding and unmatched anchors never produce a -inf or NaN target.
    face = match.matched_gt.clamp(min=0)
    index = face.unsqueeze(-1).expand(-1, -1, 4)
    target_boxes = torch.where(
        positive.unsqueeze(-1), torch.gather(gt, 1, index), anchors.expand_as(pred)
    )
    # Checked already (anchors, and faces by pad_faces); an anchor of zero size gives a
    # non-finite target, which only a positive anchor's loss would read.
    targets = encode(anchors.expand_as(pred), target_boxes, variances, check=False)
    classes = torch.where(positive, torch.gather(labels, 1, face), -1)
    flat = (
        cls_logits.float().reshape(b * a, -1)
        if cls_logits.ndim == 3
        else cls_logits.float().reshape(-1),
        deltas32.reshape(-1, 4),
        targets.reshape(-1, 4),
        match.labels.reshape(-1),
        match.compensated.reshape(-1),
        match.quality.reshape(-1),
    )
    if cls_logits.ndim == 3:
        loss_cls, loss_loc = loss(*flat, classes=classes.reshape(-1))
    else:
        loss_cls, loss_loc = loss(*flat)
    return Supervision(loss_cls, loss_loc, match, pred, targets, valid, classes)


@dataclass
class SupervisionResult:
    """What :class:`Supervisor` returns for one step.

    Attributes
    ----------
    loss : Tensor
        ``loss_cls + loc_weight * loss_loc`` (+ the head branch's, with PyramidAnchors).
    parts : dict of str to Tensor
        The scalar parts (``loss_cls``, ``loss_loc``, ``head_cls``, ``head_loc``), detached.
    match : hambox_torch.matching.MatchResult
        The face branch's match.
    pred_boxes : Tensor[B, A, 4]
        The decoded predicted boxes the matcher saw.
    """

    loss: torch.Tensor
    parts: dict
    match: object
    pred_boxes: torch.Tensor


class Supervisor:
    """The supervision of a :class:`~hambox_torch.models.HAMBoxDetector`'s output.

    Parameters
    ----------
    matcher : matcher
        The face branch's matcher (any, see the module notes).
    loss : loss
        The face branch's loss (any object with the loss contract).
    loc_weight : float, default 1.0
        Weight of the box loss in the total, >= 0.
    head_matcher, head_loss : optional
        The PyramidAnchors head branch's matcher and loss, used when the model's output has a
        head branch (it is matched against :func:`~hambox_torch.models.head_boxes` of the faces
        on :func:`~hambox_torch.models.head_anchors`). Required then.
    backend : {"auto", "core", "torch"}, default "auto"
        See :class:`BatchMatcher`.
    """

    def __init__(
        self,
        matcher,
        loss,
        loc_weight: float = 1.0,
        *,
        head_matcher=None,
        head_loss=None,
        backend: str = "auto",
    ) -> None:
        if not callable(loss):
            raise TypeError(f"loss must be callable, got {type(loss).__name__}")
        self.loc_weight = check_non_negative(loc_weight, "loc_weight")
        self.matcher = BatchMatcher(matcher, backend)
        self.loss = loss
        self.head_matcher = None if head_matcher is None else BatchMatcher(head_matcher, backend)
        self.head_loss = head_loss
        self._anchors: dict = {}

    def anchors(self, model, image_hw, device) -> torch.Tensor:
        """``model.anchors(image_hw, device)``, remembered per size and device."""
        key = (id(model.anchor_generator), tuple(int(v) for v in image_hw), str(device))
        if key not in self._anchors:
            self._anchors[key] = model.anchors(image_hw, device)
        return self._anchors[key]

    def __call__(self, model, output, image_hw, gt_boxes, gt_valid) -> SupervisionResult:
        """Losses of ``output`` (``model``'s :class:`~hambox_torch.models.DetectorOutput` for
        a batch of ``image_hw`` images) with faces ``gt_boxes`` (B, G, 4), ``gt_valid`` (B, G)."""
        anchors = self.anchors(model, image_hw, output.cls_logits.device)
        if output.cls_logits.shape[1] != anchors.shape[0]:
            raise ValueError(
                f"the detector produced {output.cls_logits.shape[1]} anchors for a "
                f"{tuple(image_hw)} image, its anchor generator {anchors.shape[0]}"
            )
        face = supervise(
            output.cls_logits,
            output.box_deltas,
            anchors,
            gt_boxes,
            gt_valid,
            matcher=self.matcher,
            loss=self.loss,
        )
        loss = face.loss_cls + self.loc_weight * face.loss_loc
        parts = {"loss_cls": face.loss_cls.detach(), "loss_loc": face.loss_loc.detach()}
        if output.head_cls_logits is not None:
            if self.head_matcher is None or self.head_loss is None:
                raise ValueError(
                    "the model has a PyramidAnchors head branch: give the Supervisor a "
                    "head_matcher and a head_loss"
                )
            head = supervise(
                output.head_cls_logits,
                output.head_box_deltas,
                head_anchors(anchors),
                head_boxes(gt_boxes.float()),
                gt_valid,
                matcher=self.head_matcher,
                loss=self.head_loss,
            )
            loss = loss + head.loss_cls + self.loc_weight * head.loss_loc
            parts.update(head_cls=head.loss_cls.detach(), head_loc=head.loss_loc.detach())
        return SupervisionResult(loss, parts, face.match, face.pred_boxes)
