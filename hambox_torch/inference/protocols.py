"""The WIDER FACE test protocols, by name: ``single``, ``vga`` and ``multiscale``.

AP on WIDER FACE is only comparable between detectors tested the same way, and face papers test
in three ways. Each protocol here is a small object with a :attr:`~Protocol.name`, a
:meth:`~Protocol.to_dict` for the metadata written beside predictions (``protocol.json``), and
:meth:`~Protocol.detect`, which turns images into detections given a *single-scale step*: a
function from a list of images to per-image ``(boxes, scores)`` at those images' own sizes
(:class:`hambox_torch.inference.Detector` supplies one that runs the model, pads to the largest
anchor stride, decodes and applies NMS with its
:class:`~hambox_torch.pipeline.DetectionSettings`). The protocols only resize, flip,
map boxes back and merge.

``single`` — :class:`SingleScale`
    Each image at its original size (what :func:`hambox_torch.pipeline.detect_batch`
    does). The HAMBox paper's WIDER FACE numbers are multi-scale; this is the protocol of the
    training loop's evaluations.

``vga`` — :class:`VGA`
    SCRFD's benchmark resolution. SCRFD's ``tools/test_widerface.py`` (mode 0) tests with
    mmdetection's ``Resize(keep_ratio=True)`` at ``img_scale=(640, 640)``: one scale factor
    ``min(640 / long side, 640 / short side)``, i.e. the long side becomes 640 pixels (small
    images are enlarged too), so a 4:3 WIDER image becomes 640 x 480; the new size is rounded
    to whole pixels (``int(x * s + 0.5)``) and boxes are mapped back with the per-axis factors
    ``new_w / w`` and ``new_h / h`` as mmdetection does. ``VGA(max_size=(640, 480))`` instead
    fits every image inside 640 x 480 (long side at most 640, short side at most 480). SCRFD
    pads to 640 x 640; here the resized image is padded only to the largest anchor stride.

``multiscale`` — :class:`MultiScaleFlip`
    The multi-scale + flip test of the S3FD / PyramidBox / DSFD WIDER FACE test scripts
    (``flip_test``, ``multi_scale_test``, ``bbox_vote``), which the HAMBox paper's comparison
    table inherits. For an ``H x W`` image, ``m = min(sqrt(max_pixels / (H W)), max_scale)``
    (``max_pixels = 1700 * 1200`` as in S3FD.pytorch / DSFD; ``max_scale = 3`` as in the
    original S3FD code) and ``b = min(m, 1)``. Passes (see :meth:`MultiScaleFlip.passes`):

    1. scale ``b``, and scale ``b`` horizontally flipped, all detections kept;
    2. shrunk: scale ``0.5`` (``0.5 m`` when ``m < 0.75``), keeping boxes whose longer side
       exceeds 30 pixels (in the original image);
    3. enlarged: scale ``min(2, m)`` when ``m > 1``, else ``(0.5 + m) / 2``; when ``m > 2`` also
       the doublings ``4, 8, ...`` below ``m``, and ``m`` itself. When the last enlarged scale
       exceeds 1 they keep boxes whose shorter side is under 100 pixels, otherwise those whose
       longer side exceeds 30.

    All passes' detections (each already thresholded and NMS-ed by the step) are merged by
    :func:`box_vote` at IoU 0.3, and the first ``max_detections`` kept.

Resizing is bilinear without antialiasing (``align_corners=False``), the sampling of OpenCV's
``INTER_LINEAR`` that the reference scripts use. Box widths are ``x1 - x0`` (no "+1") in the
size filters and IoU, as everywhere in hambox (the references add 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from hambox_core.boxes import box_iou as core_box_iou
from hambox_core.validation import (
    check_bool,
    check_count,
    check_non_negative,
    check_positive_int,
    check_threshold,
)
from hambox_torch.validation import check_scored_boxes

__all__ = [
    "PROTOCOLS",
    "VGA",
    "MultiScaleFlip",
    "Pass",
    "Protocol",
    "SingleScale",
    "Step",
    "box_vote",
    "get_protocol",
]

#: A single-scale step: images (Tensor[3, H_i, W_i], float in [0, 1]) → per image ``(boxes
#: Tensor[D, 4] xyxy in that image's pixels, scores Tensor[D])``, scores decreasing.
Step = Callable[[list[torch.Tensor]], list[tuple[torch.Tensor, torch.Tensor]]]

Result = tuple[torch.Tensor, torch.Tensor]


def _scaled_size(hw: tuple[int, int], scale: float) -> tuple[int, int]:
    """``(round(H s), round(W s))``, halves rounded up as mmcv does, at least 1 pixel."""
    return tuple(max(1, int(v * scale + 0.5)) for v in hw)


def _resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    out = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)
    return out[0].clamp_(0.0, 1.0)


def _map_back(boxes: torch.Tensor, from_hw, to_hw, *, flipped: bool = False) -> torch.Tensor:
    """Boxes found in a resized (and possibly flipped) copy, in the original image's pixels.

    A box ``(x0, y0, x1, y1)`` in a copy of width ``w'`` flipped left-right is ``(w' - x1, y0,
    w' - x0, y1)`` in the unflipped copy; then each axis is divided by its scale factor
    ``w' / w`` or ``h' / h``, and the result clipped to the original image.
    """
    (h1, w1), (h0, w0) = from_hw, to_hw
    b = boxes.double()
    if flipped:
        b = torch.stack([w1 - b[:, 2], b[:, 1], w1 - b[:, 0], b[:, 3]], dim=1)
    factor = b.new_tensor([w1 / w0, h1 / h0, w1 / w0, h1 / h0])
    limit = b.new_tensor([w0, h0, w0, h0])
    return torch.minimum((b / factor).clamp(min=0), limit).to(boxes.dtype)


class Protocol:
    """A test protocol: how images become detections around a single-scale step."""

    #: The protocol's name (what ``--protocol`` takes).
    name: str = ""

    def to_dict(self) -> dict:
        """Name and parameters, JSON-serialisable (written into ``protocol.json``)."""
        return {"name": self.name}

    def detect(self, images: Sequence[torch.Tensor], step: Step) -> list[Result]:
        """Detections of each image in its own pixel coordinates.

        Parameters
        ----------
        images : sequence of Tensor[3, H_i, W_i]
            Float RGB in [0, 1].
        step : Step
            The single-scale detector.

        Returns
        -------
        list of (Tensor[D, 4], Tensor[D])
            Per image, xyxy boxes in that image's pixels (clipped to it) and scores in
            decreasing order.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "name")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self))


class SingleScale(Protocol):
    """Every image at its original size.

    >>> SingleScale().to_dict()
    {'name': 'single'}
    """

    name = "single"

    def detect(self, images, step):
        return list(step(list(images))) if len(images) else []


class VGA(Protocol):
    """Images resized to SCRFD's VGA resolution, boxes mapped back to the original pixels.

    Parameters
    ----------
    max_size : (int, int), default (640, 640)
        Limits ``(long, short)`` on the resized image's sides: the scale factor is
        ``min(long / long side, short / short side)``. ``(640, 640)`` is SCRFD's test setting
        (long side 640: a 4:3 image becomes 640 x 480); ``(640, 480)`` fits images in 640 x 480.

    Examples
    --------
    >>> VGA().scale((768, 1024))
    0.625
    >>> VGA().to_dict()["rule"]
    'scale = min(640 / long side, 640 / short side)'
    >>> VGA(max_size=(640, 480)).scale((1000, 1000))
    0.48
    """

    name = "vga"

    def __init__(self, max_size: tuple[int, int] = (640, 640)):
        try:
            long_side, short_side = (check_positive_int(v, "max_size") for v in max_size)
        except (TypeError, ValueError):
            long_side = short_side = 0
        if long_side <= 0 or short_side <= 0 or short_side > long_side:
            raise ValueError(
                f"max_size must be (long, short) integers with 0 < short <= long, got {max_size!r}"
            )
        self.max_size = (long_side, short_side)

    def scale(self, hw: tuple[int, int]) -> float:
        """The scale factor for an image of size ``hw = (H, W)``."""
        long_side, short_side = self.max_size
        return min(long_side / max(hw), short_side / min(hw))

    def to_dict(self) -> dict:
        long_side, short_side = self.max_size
        rule = f"scale = min({long_side} / long side, {short_side} / short side)"
        return {"name": self.name, "max_size": [long_side, short_side], "rule": rule}

    def detect(self, images, step):
        if not len(images):
            return []
        sizes = [(int(im.shape[1]), int(im.shape[2])) for im in images]
        new = [_scaled_size(hw, self.scale(hw)) for hw in sizes]
        found = step([_resize(im, s) for im, s in zip(images, new, strict=True)])
        return [
            (_map_back(boxes, s, hw), scores)
            for (boxes, scores), s, hw in zip(found, new, sizes, strict=True)
        ]


class Pass(NamedTuple):
    """One pass of the multi-scale test: a scale, whether flipped, which boxes it keeps."""

    scale: float
    flip: bool
    #: ``"all"``, ``"large"`` (longer side above ``large_min``) or ``"small"`` (shorter side
    #: below ``small_max``), in original pixels.
    keep: str


class MultiScaleFlip(Protocol):
    """Multi-scale + horizontal-flip testing with box voting (S3FD / PyramidBox / DSFD).

    Parameters
    ----------
    max_pixels : int, default 1700 * 1200
        Largest image (in pixels) any pass may run on; bounds the enlarged scales.
    max_scale : float, default 3.0
        Largest scale factor.
    large_min : float, default 30
        Shrunk passes keep boxes whose longer side exceeds this (original pixels).
    small_max : float, default 100
        Enlarged passes keep boxes whose shorter side is below this (original pixels).
    vote_iou : float, default 0.3
        IoU with a group's top box at which :func:`box_vote` merges a box into the group.
    keep_singletons : bool, default False
        Keep groups of one box (the reference scripts drop them: a face found by one pass
        only is taken for a false positive).
    max_detections : int, default 750
        Boxes kept after voting, highest scores first.

    Examples
    --------
    A 1024 x 768 WIDER image: base scale 1, its flip, 0.5 for large faces, and
    ``sqrt(1700 * 1200 / (1024 * 768)) = 1.61`` for small ones:

    >>> [(round(p.scale, 2), p.flip, p.keep) for p in MultiScaleFlip().passes((768, 1024))]
    [(1.0, False, 'all'), (1.0, True, 'all'), (0.5, False, 'large'), (1.61, False, 'small')]
    """

    name = "multiscale"

    def __init__(
        self,
        max_pixels: int = 1700 * 1200,
        max_scale: float = 3.0,
        large_min: float = 30.0,
        small_max: float = 100.0,
        vote_iou: float = 0.3,
        keep_singletons: bool = False,
        max_detections: int = 750,
    ):
        self.max_pixels = check_positive_int(max_pixels, "max_pixels")
        self.max_scale = check_non_negative(max_scale, "max_scale")
        if self.max_scale == 0:
            raise ValueError(f"max_scale must be positive, got {max_scale!r}")
        self.large_min = check_non_negative(large_min, "large_min")
        self.small_max = check_non_negative(small_max, "small_max")
        self.vote_iou = check_threshold(vote_iou, "vote_iou")
        self.keep_singletons = check_bool(keep_singletons, "keep_singletons")
        self.max_detections = check_positive_int(max_detections, "max_detections")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "max_pixels": self.max_pixels,
            "max_scale": self.max_scale,
            "large_min": self.large_min,
            "small_max": self.small_max,
            "vote_iou": self.vote_iou,
            "keep_singletons": self.keep_singletons,
            "max_detections": self.max_detections,
        }

    def passes(self, hw: tuple[int, int]) -> list[Pass]:
        """The passes for an image of size ``hw = (H, W)``, in the reference scripts' order."""
        m = min(math.sqrt(self.max_pixels / (hw[0] * hw[1])), self.max_scale)
        base = min(m, 1.0)
        out = [Pass(base, False, "all"), Pass(base, True, "all")]
        shrink = 0.5 if m >= 0.75 else 0.5 * m
        out.append(Pass(shrink, False, "large"))
        big = min(2.0, m) if m > 1 else (shrink + m) / 2
        enlarged = [big]
        if m > 2:
            big *= 2
            while big < m:
                enlarged.append(big)
                big *= 2
            enlarged.append(m)
        keep = "small" if big > 1 else "large"
        out.extend(Pass(s, False, keep) for s in enlarged)
        return out

    def _filter(self, boxes: torch.Tensor, keep: str) -> torch.Tensor:
        wh = boxes[:, 2:] - boxes[:, :2]
        if keep == "large":
            return wh.max(dim=1).values > self.large_min
        if keep == "small":
            return wh.min(dim=1).values < self.small_max
        return torch.ones(boxes.shape[0], dtype=torch.bool)

    def detect(self, images, step):
        if not len(images):
            return []
        sizes = [(int(im.shape[1]), int(im.shape[2])) for im in images]
        plan = [self.passes(hw) for hw in sizes]
        inputs, where = [], []
        for k, (im, hw) in enumerate(zip(images, sizes, strict=True)):
            for p in plan[k]:
                copy = _resize(im, _scaled_size(hw, p.scale))
                inputs.append(copy.flip(-1) if p.flip else copy)
                where.append((k, p))
        per_image: list[list[Result]] = [[] for _ in images]
        for (k, p), copy, (boxes, scores) in zip(where, inputs, step(inputs), strict=True):
            mapped = _map_back(boxes, tuple(copy.shape[1:]), sizes[k], flipped=p.flip)
            kept = self._filter(mapped, p.keep)
            per_image[k].append((mapped[kept], scores[kept]))
        out = []
        for found in per_image:
            boxes = torch.cat([b for b, _ in found])
            scores = torch.cat([s for _, s in found])
            out.append(
                box_vote(
                    boxes,
                    scores,
                    iou_thr=self.vote_iou,
                    keep_singletons=self.keep_singletons,
                    max_detections=self.max_detections,
                )
            )
        return out


def box_vote(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    *,
    iou_thr: float = 0.3,
    keep_singletons: bool = False,
    max_detections: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Box voting (``bbox_vote`` of the S3FD / PyramidBox / DSFD test scripts).

    Boxes are taken in decreasing score order (ties: lower index first). The highest-scored
    box not yet used and every unused box whose IoU with it is at least ``iou_thr`` form a
    group; the group becomes one box, the score-weighted mean of its boxes' coordinates, with
    the group's highest score. Groups come out in the order they were formed (decreasing
    score).

    Parameters
    ----------
    boxes : Tensor[N, 4]
        xyxy boxes (any float dtype; IoU in float32 as :func:`hambox_torch.boxes.box_iou`).
    scores : Tensor[N]
        Non-negative scores. A group whose scores sum to 0 keeps its top box.
    iou_thr : float, default 0.3
    keep_singletons : bool, default False
        Whether a group of one box is kept (the reference scripts drop it).
    max_detections : int or None
        Keep at most this many merged boxes.

    Returns
    -------
    (Tensor[M, 4], Tensor[M])
        Merged boxes (``boxes``' dtype) and scores, on the CPU.

    Raises
    ------
    ValueError
        Naming the argument: shapes, dtypes or devices that do not fit, boxes that are not
        finite with ``x1 >= x0`` and ``y1 >= y0``, scores that are not finite and >= 0,
        ``iou_thr`` outside (0, 1], a ``max_detections`` that is not an integer >= 0 or None.

    Notes
    -----
    Cost: memory O(N) (the IoUs of one group's top box with the boxes not yet used, never
    the N x N matrix); time O(N x groups formed), at most N^2 / 2 IoUs (all singletons) and
    far fewer where boxes cluster, as the passes of one image do; each group costs one
    vectorised pass over the boxes still free. 20,000 scattered boxes (12,000 groups): about
    4 s on the 2-core development machine, under 100 MB (the dense matrix took 36 s, 8.2 GB).

    Examples
    --------
    >>> b = torch.tensor([[0.0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]])
    >>> box_vote(b, torch.tensor([0.9, 0.3, 0.8]), keep_singletons=True)
    (tensor([[ 0.5000,  0.0000, 10.5000, 10.0000],
            [50.0000, 50.0000, 60.0000, 60.0000]]), tensor([0.9000, 0.8000]))
    """
    checks = check_scored_boxes(boxes, scores)
    iou_thr = check_threshold(iou_thr, "iou_thr")
    keep_singletons = check_bool(keep_singletons, "keep_singletons")
    max_detections = check_count(max_detections, "max_detections", allow_none=True)
    checks.custom(scores < 0, lambda i: _negative_score_error(i[0], float(scores[i])))
    checks.run()
    boxes, scores = boxes.detach().cpu(), scores.detach().cpu()
    order = torch.sort(scores, descending=True, stable=True).indices
    b32 = boxes[order].float().numpy()
    b = boxes[order].double().numpy()
    s = scores[order].double().numpy()
    free = np.arange(len(s))  # positions (in score order) not yet in a group, increasing
    merged, best = [], []
    while free.shape[0]:
        if max_detections is not None and len(merged) >= max_detections:
            break
        i = int(free[0])
        # IoU of the top free box with every free box (itself first), in float32 as
        # hambox_torch.boxes.box_iou computes it (the core's operations, bit for bit).
        hit = core_box_iou(b32[i : i + 1], b32[free])[0] >= iou_thr
        hit[0] = True
        group, free = free[hit], free[~hit]
        if group.shape[0] == 1 and not keep_singletons:
            continue
        weight = s[group].sum()
        merged.append((b[group] * s[group, None]).sum(axis=0) / weight if weight > 0 else b[i])
        best.append(s[i])
    out_boxes = torch.from_numpy(np.asarray(merged, dtype=np.float64).reshape(-1, 4))
    return out_boxes.to(boxes.dtype), torch.tensor(best, dtype=scores.dtype)


def _negative_score_error(index: int, value: float) -> ValueError:
    return ValueError(f"scores must be >= 0; scores[{index}] is {value!r}")


#: The protocol names ``get_protocol`` (and ``--protocol``) accept.
PROTOCOLS = {"single": SingleScale, "vga": VGA, "multiscale": MultiScaleFlip}


def get_protocol(protocol) -> Protocol:
    """A protocol object from its name (``"single"``, ``"vga"``, ``"multiscale"``), or the
    object itself.

    >>> get_protocol("vga").name
    'vga'
    """
    if isinstance(protocol, Protocol):
        return protocol
    if isinstance(protocol, str) and protocol in PROTOCOLS:
        return PROTOCOLS[protocol]()
    raise ValueError(
        f"protocol must be one of {', '.join(PROTOCOLS)} or a Protocol, got {protocol!r}"
    )
