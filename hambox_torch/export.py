"""ONNX export of a :class:`~hambox_torch.models.HAMBoxDetector` with box decoding in the graph.

The exported graph takes the images the detector takes and returns decoded boxes and face
probabilities, so a runtime needs nothing from hambox:

``images``
    float32 ``(B, 3, H, W)`` (dimensions named ``batch, 3, height, width`` in the file), RGB in
    [0, 1]; the graph subtracts the ImageNet mean and divides
    by the standard deviation itself. Batch, height and width are all dynamic, and any
    ``H, W >= 1`` is accepted: the graph pads the batch with zeros at the bottom and right to a
    multiple of the largest anchor stride (128 by default), exactly as
    :func:`hambox_torch.pipeline.detect_images` does, so ``A`` is the number of anchors
    of the padded size and the coordinates are those of the input.
``boxes``
    float32 ``(B, A, 4)`` (``batch, num_anchors, 4``): every anchor's box, xyxy in input
    pixels, not clipped to the image.
``scores``
    float32 ``(B, A)`` (``batch, num_anchors``): every anchor's face probability (sigmoid of
    the logit).

With ``nms=True`` the graph instead ends in ONNX ``NonMaxSuppression`` and returns one output,

``detections``
    float32 ``(N, 6)``, rows ``(batch_index, x1, y1, x2, y2, score)``: the boxes with score
    above ``score_thr`` kept by greedy NMS (suppressed when IoU > ``nms_iou_thr``), at most
    ``max_detections`` per image, grouped by image and in decreasing score order within one.
    This equals :func:`hambox_torch.postprocess.postprocess_detections` with
    ``pre_nms_top_k=None`` (no per-level cap before NMS) and ``image_hw=None``.

The anchors are built inside the graph from the input's symbolic size by
:meth:`hambox_torch.anchors.AnchorGenerator.grid_anchors_float64`, the function that also makes
the eager anchors (float64, rounded once to float32: bit-identical to ``model.anchors``), and the
deltas are decoded by :func:`hambox_torch.boxes.decode`; nothing is baked for one input size.

Exporter and opset: the graph is captured by :func:`torch.export.export` (strict mode, because
the detector checks its feature-map sizes against the anchor grid in Python, which non-strict
tracing cannot do with symbolic sizes) and translated by the dynamo-based
``torch.onnx.export(..., dynamo=True)``. The default opset is 18, the version the exporter's
operator library (torchlib) is written for, so no version conversion runs; onnxruntime has run
opset 18 since 1.14. Higher opsets are converted by the exporter; lower ones are refused.
``NonMaxSuppression`` (opset 11) is appended to the translated graph with the ``onnx`` package.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hambox_core.validation import check_fraction, check_non_negative, check_positive_int

from .boxes import decode
from .models.detector import IMAGENET_MEAN, IMAGENET_STD, HAMBoxDetector
from .pipeline.detection import DetectionSettings, pad_batch, padded_size
from .postprocess import face_scores, postprocess_detections

__all__ = [
    "DEFAULT_OPSET",
    "DIM_NAMES",
    "DecodedDetector",
    "export_onnx",
    "onnx_max_abs_diff",
    "reference_outputs",
    "require_onnx",
    "run_onnx",
]

#: Opset of the exported graph: the one torch's dynamo exporter library targets natively.
DEFAULT_OPSET = 18

_INSTALL_HINT = "pip install hambox[onnx]"


def _require(name: str):
    """Import an optional dependency of the export, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(
            f"ONNX export needs the {name} package, which is not installed: {_INSTALL_HINT}"
        ) from None


def require_onnx(runtime: bool = False) -> None:
    """Raise ``ImportError`` saying ``pip install hambox[onnx]`` unless the export can run.

    Parameters
    ----------
    runtime : bool, default False
        Also require onnxruntime (for :func:`run_onnx`).
    """
    for name in ("onnx", "onnxscript") + (("onnxruntime",) if runtime else ()):
        _require(name)


class DecodedDetector(nn.Module):
    """A detector whose output is decoded: images → (boxes, scores), the graph that is exported.

    Parameters
    ----------
    model : HAMBoxDetector

    Examples
    --------
    >>> from hambox_torch.models import HAMBoxDetector
    >>> wrapped = DecodedDetector(HAMBoxDetector(backbone="resnet18", channels=8).eval())
    >>> boxes, scores = wrapped(torch.rand(2, 3, 64, 32))  # padded to 128 x 128
    >>> boxes.shape, scores.shape
    (torch.Size([2, 1365, 4]), torch.Size([2, 1365]))
    """

    def __init__(self, model: HAMBoxDetector, *, min_box_size: float | None = None) -> None:
        super().__init__()
        if not isinstance(model, HAMBoxDetector):
            raise ValueError(f"model must be a HAMBoxDetector, got {type(model).__name__}")
        self.model = model
        self.min_box_size = (
            None if min_box_size is None else check_non_negative(min_box_size, "min_box_size")
        )

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tensor[B, 3, H, W] RGB in [0, 1] → boxes Tensor[B, A, 4] (xyxy px), scores Tensor[B, A].

        Scores are the sigmoid in float64 rounded to float32, as in
        :func:`hambox_torch.postprocess.postprocess_detections`. With ``min_box_size`` (the
        graph that ends in NMS) the boxes are clipped to the input image and the scores of
        boxes narrower or shorter than ``min_box_size`` are set to 0, below any score
        threshold: the post-processing's rule, before NMS.
        """
        generator = self.model.anchor_generator
        stride = max(generator.strides)
        h, w = images.shape[-2:]
        # Zero padding at the bottom and right to a multiple of the largest stride: the
        # padding rule of the detection step (padded_size works on symbolic sizes too).
        pad_h = padded_size(h, stride) - h
        pad_w = padded_size(w, stride) - w
        images = nn.functional.pad(images, (0, pad_w, 0, pad_h))
        out = self.model(images)
        anchors = generator.grid_anchors_float64(images.shape[-2:], device=images.device)
        boxes = decode(anchors.to(torch.float32), out.box_deltas)
        scores = face_scores(out.cls_logits)
        if self.min_box_size is not None:
            # The input's own size (before padding) as tensors, so the graph stays dynamic.
            zero = boxes.new_zeros(())
            w_t, h_t = zero + w, zero + h
            x0 = torch.minimum(boxes[..., 0].clamp(min=0), w_t)
            y0 = torch.minimum(boxes[..., 1].clamp(min=0), h_t)
            x1 = torch.minimum(boxes[..., 2].clamp(min=0), w_t)
            y1 = torch.minimum(boxes[..., 3].clamp(min=0), h_t)
            boxes = torch.stack([x0, y0, x1, y1], dim=-1)
            small = ((x1 - x0) < self.min_box_size) | ((y1 - y0) < self.min_box_size)
            scores = torch.where(small, torch.zeros_like(scores), scores)
        return boxes, scores


def reference_outputs(
    model: HAMBoxDetector,
    images: torch.Tensor,
    *,
    nms: bool = False,
    score_thr: float = DetectionSettings.score_thr,
    nms_iou_thr: float = DetectionSettings.nms_iou_thr,
    max_detections: int = DetectionSettings.max_detections,
    min_box_size: float = DetectionSettings.min_box_size,
) -> dict[str, np.ndarray]:
    """What the exported graph should return, computed eagerly in torch.

    The batch is zero-padded at the bottom and right to a multiple of the largest stride (as
    :func:`~hambox_torch.pipeline.detect_images` does); boxes are
    ``decode(model.anchors(hw), box_deltas)`` of the padded size ``hw``; with ``nms=True`` the
    detections are :func:`~hambox_torch.postprocess.postprocess_detections`
    (``pre_nms_top_k=None``, boxes clipped to the input's size, ``min_box_size``) of every
    image, stacked as the graph's ``detections`` rows.

    Parameters
    ----------
    model : HAMBoxDetector
        In eval mode.
    images : Tensor[B, 3, H, W]
        RGB in [0, 1].
    nms, score_thr, nms_iou_thr, max_detections, min_box_size
        As in :func:`export_onnx`.

    Returns
    -------
    dict of str to ndarray
        ``{"boxes": (B, A, 4), "scores": (B, A)}``, or ``{"detections": (N, 6)}`` with
        ``nms=True``; float32.
    """
    input_hw = (int(images.shape[-2]), int(images.shape[-1]))
    images = pad_batch(list(images), max(model.anchor_generator.strides))
    hw = (int(images.shape[-2]), int(images.shape[-1]))
    with torch.no_grad():
        out = model(images)
    anchors = model.anchors(hw, images.device)
    if not nms:
        boxes = decode(anchors, out.box_deltas)
        scores = face_scores(out.cls_logits)
        return {"boxes": boxes.cpu().numpy(), "scores": scores.cpu().numpy()}
    dets = postprocess_detections(
        out.cls_logits,
        out.box_deltas,
        anchors,
        model.anchor_generator.num_anchors_per_level(hw),
        score_thr=score_thr,
        pre_nms_top_k=None,
        nms_iou_thr=nms_iou_thr,
        max_detections=max_detections,
        image_hw=input_hw,
        min_box_size=min_box_size,
    )
    rows = [
        torch.cat([torch.full((len(s), 1), float(b)), bx.cpu(), s.cpu()[:, None]], dim=1)
        for b, (bx, s) in enumerate(dets)
    ]
    return {"detections": torch.cat(rows).numpy() if rows else np.zeros((0, 6), np.float32)}


def _check_export_args(model, opset, score_thr, nms_iou_thr, max_detections, example_hw):
    if not isinstance(model, HAMBoxDetector):
        raise ValueError(f"model must be a HAMBoxDetector, got {type(model).__name__}")
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < DEFAULT_OPSET:
        raise ValueError(
            f"opset must be an integer >= {DEFAULT_OPSET} (the dynamo exporter's lowest), got "
            f"{opset!r}"
        )
    check_fraction(score_thr, "score_thr")
    check_fraction(nms_iou_thr, "nms_iou_thr")
    check_positive_int(max_detections, "max_detections")
    smallest = 2 * max(model.anchor_generator.strides)
    try:
        h, w = (int(v) for v in example_hw)
        ok = all(int(v) == v and v >= smallest for v in example_hw)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        # torch.export specialises sizes 0 and 1: a level of one cell would pin the graph to
        # the example's size range.
        raise ValueError(
            f"example_hw must be (height, width) with both at least {smallest} (twice the "
            f"largest stride), got {example_hw!r}"
        )
    return h, w


def _metadata(model: HAMBoxDetector, opset: int, nms: bool, thresholds: dict) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        hambox_version = version("hambox")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        hambox_version = "unknown"
    gen = model.anchor_generator
    if nms:
        outputs = (
            "detections: float32 (N, 6) rows (batch_index, x1, y1, x2, y2, score), xyxy input "
            "pixels, score above score_thr, greedy NMS (IoU > nms_iou_thr suppressed), at most "
            "max_detections per image, by image then decreasing score"
        )
    else:
        outputs = (
            "boxes: float32 (B, A, 4) xyxy input pixels, one per anchor, not clipped; "
            "scores: float32 (B, A) face probability (sigmoid)"
        )
    return {
        "hambox_version": hambox_version,
        "producer": "hambox_torch.export.export_onnx (torch.export strict + dynamo exporter)",
        "opset": str(opset),
        "input": (
            "images: float32 (B, 3, H, W), RGB in [0, 1] (not normalised; the graph does it), "
            "dynamic B, H, W; zero-padded in the graph at the bottom and right to a multiple "
            f"of the largest stride ({max(gen.strides)})"
        ),
        "input_normalization": json.dumps({"mean": IMAGENET_MEAN, "std": IMAGENET_STD}),
        "outputs": outputs,
        "strides": json.dumps(list(gen.strides)),
        "anchor_generator": json.dumps(
            {
                "strides": list(gen.strides),
                "base_sizes": list(gen.base_sizes),
                "scale": gen.scale,
                "ratios": list(gen.ratios),
            }
        ),
        "nms": json.dumps(thresholds if nms else None),
    }


#: Names of the graph's symbolic dimensions (the exporter numbers them ``s0``, ``s1``, ...).
DIM_NAMES = {"batch": "batch", "height": "height", "width": "width", "anchors": "num_anchors"}


def _name_dims(graph) -> None:
    """Give the symbolic dimensions real names: ``images (batch, 3, height, width)``,
    ``boxes (batch, num_anchors, 4)``, ``scores (batch, num_anchors)``.

    The exporter names each symbolic size after an internal symbol (``s6``, ``s37``, ...); a
    runtime shows those names to the user. Every occurrence of a renamed symbol in the graph's
    inputs, outputs and intermediate values is renamed with it.
    """
    (images,) = graph.input
    dims = images.type.tensor_type.shape.dim
    rename = {}
    for k, name in ((0, "batch"), (2, "height"), (3, "width")):
        if dims[k].dim_param:
            rename[dims[k].dim_param] = DIM_NAMES[name]
    for out in graph.output:
        out_dims = out.type.tensor_type.shape.dim
        if len(out_dims) >= 2 and out_dims[1].dim_param:
            rename.setdefault(out_dims[1].dim_param, DIM_NAMES["anchors"])
    for value in (*graph.input, *graph.output, *graph.value_info):
        for d in value.type.tensor_type.shape.dim:
            if d.dim_param in rename:
                d.dim_param = rename[d.dim_param]


def _append_nms(graph, score_thr: float, nms_iou_thr: float, max_detections: int) -> None:
    """Replace the graph outputs ``boxes, scores`` by ``detections (N, 6)`` after ONNX NMS."""
    from onnx import TensorProto, helper, numpy_helper

    def const(name, value):
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    boxes, scores = (o.name for o in graph.output)
    consts = {
        "max": const("hambox_nms_max_per_image", np.array([max_detections], np.int64)),
        "iou": const("hambox_nms_iou_thr", np.array([nms_iou_thr], np.float32)),
        "thr": const("hambox_nms_score_thr", np.array([score_thr], np.float32)),
        "one": const("hambox_axis_1", np.array([1], np.int64)),
        "cols": const("hambox_batch_and_box_columns", np.array([0, 2], np.int64)),
        "zero": const("hambox_batch_column", np.array(0, np.int64)),
    }
    node = helper.make_node
    graph.node.extend(
        [
            # NonMaxSuppression wants scores (B, classes, A); boxes are any diagonal pair.
            node("Unsqueeze", [scores, consts["one"]], ["hambox_scores_b1a"]),
            node(
                "NonMaxSuppression",
                [boxes, "hambox_scores_b1a", consts["max"], consts["iou"], consts["thr"]],
                ["hambox_selected"],  # (N, 3): batch, class, box
                center_point_box=0,
            ),
            node("Gather", ["hambox_selected", consts["cols"]], ["hambox_bi"], axis=1),
            node("GatherND", [boxes, "hambox_bi"], ["hambox_sel_boxes"]),
            node("GatherND", [scores, "hambox_bi"], ["hambox_sel_scores"]),
            node("Unsqueeze", ["hambox_sel_scores", consts["one"]], ["hambox_sel_scores_n1"]),
            node("Gather", ["hambox_selected", consts["zero"]], ["hambox_b"], axis=1),
            node("Cast", ["hambox_b"], ["hambox_b_float"], to=TensorProto.FLOAT),
            node("Unsqueeze", ["hambox_b_float", consts["one"]], ["hambox_b_n1"]),
            node(
                "Concat",
                ["hambox_b_n1", "hambox_sel_boxes", "hambox_sel_scores_n1"],
                ["detections"],
                axis=1,
            ),
        ]
    )
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info("detections", TensorProto.FLOAT, ["num_detections", 6])
    )


def export_onnx(
    model: HAMBoxDetector,
    path: str | os.PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    nms: bool = False,
    score_thr: float = DetectionSettings.score_thr,
    nms_iou_thr: float = DetectionSettings.nms_iou_thr,
    max_detections: int = DetectionSettings.max_detections,
    min_box_size: float = DetectionSettings.min_box_size,
    example_hw: tuple[int, int] = (640, 640),
) -> Path:
    """Export ``model`` to an ONNX file with dynamic batch and size and decoding in the graph.

    See the module notes for the inputs, outputs, exporter and opset.

    Parameters
    ----------
    model : HAMBoxDetector
        Exported in eval mode (its mode is restored afterwards), on its own device.
    path : str or path-like
        The ``.onnx`` file to write (parent folders are created); weights are stored inside
        it, not as external data.
    opset : int, default 18
        ONNX opset; at least 18.
    nms : bool, default False
        End the graph in NMS with one ``detections (N, 6)`` output instead of ``boxes`` and
        ``scores``.
    score_thr, nms_iou_thr : float in [0, 1], default 0.01 and 0.4
        With ``nms=True``: scores must exceed ``score_thr``; a box is suppressed by a kept one
        when their IoU exceeds ``nms_iou_thr`` (defaults: the evaluation's,
        :class:`hambox_torch.pipeline.DetectionSettings`).
    max_detections : int, default 750
        With ``nms=True``: the most detections per image.
    min_box_size : float, default 1.0
        With ``nms=True``: boxes are clipped to the input image and those narrower or shorter
        than this many pixels are dropped before NMS, as the post-processing does.
    example_hw : tuple of 2 int, default (640, 640)
        Size of the example batch traced (two images), at least twice the largest stride (so
        that no level has a single cell, a size torch.export would specialise); the graph
        accepts any size.

    Returns
    -------
    Path
        ``path``. The model's ``metadata_props`` hold ``hambox_version``, ``strides``,
        ``anchor_generator``, ``input``, ``input_normalization``, ``outputs``, ``opset``,
        ``nms`` (its thresholds as JSON, or ``null``) and ``producer``.

    Raises
    ------
    ValueError
        A bad argument (named).
    ImportError
        onnx or onnxscript is missing (the message says ``pip install hambox[onnx]``).
    """
    h, w = _check_export_args(model, opset, score_thr, nms_iou_thr, max_detections, example_hw)
    require_onnx()
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    device = next(model.parameters()).device
    example = torch.rand(2, 3, h, w, device=device)
    # DYNAMIC rather than a named Dim: torch.export records the range its guards imply (sizes
    # above the largest stride, where no level has a single cell) instead of failing; the ONNX
    # graph carries no such guard and is tested at smaller sizes too.
    dynamic = torch.export.Dim.DYNAMIC
    dims = {0: dynamic, 2: dynamic, 3: dynamic}
    was_training = model.training
    model.eval()
    try:
        program = torch.export.export(
            DecodedDetector(model, min_box_size=min_box_size if nms else None).eval(),
            (example,),
            dynamic_shapes={"images": dims},
            strict=True,
        )
        onnx_program = torch.onnx.export(
            program,
            (example,),
            dynamo=True,
            opset_version=opset,
            input_names=["images"],
            output_names=["boxes", "scores"],
            external_data=False,
            verbose=False,
        )
    finally:
        model.train(was_training)
    proto = onnx_program.model_proto
    _name_dims(proto.graph)
    thresholds = {
        "score_thr": float(score_thr),
        "nms_iou_thr": float(nms_iou_thr),
        "max_detections": int(max_detections),
        "min_box_size": float(min_box_size),
    }
    if nms:
        _append_nms(proto.graph, float(score_thr), float(nms_iou_thr), int(max_detections))
    for key, value in _metadata(model, opset, nms, thresholds).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    return path


def run_onnx(path: str | os.PathLike, images) -> dict[str, np.ndarray]:
    """Run an exported file with onnxruntime on the CPU.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`export_onnx`.
    images : ndarray or Tensor of shape (B, 3, H, W)
        RGB in [0, 1]; converted to float32.

    Returns
    -------
    dict of str to ndarray
        The graph's outputs by name (``boxes`` and ``scores``, or ``detections``).
    """
    ort = _require("onnxruntime")
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {"images": np.asarray(images, dtype=np.float32)})
    return dict(zip(names, values, strict=True))


def onnx_max_abs_diff(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> float:
    """Largest absolute difference between two output dicts (same keys and shapes).

    Returns ``inf`` when a key or a shape differs (e.g. NMS kept another number of boxes).

    >>> a = {"scores": np.array([0.5, 0.25])}
    >>> onnx_max_abs_diff(a, {"scores": np.array([0.5, 0.5])})
    0.25
    >>> onnx_max_abs_diff(a, {"scores": np.array([0.5])})
    inf
    """
    if set(got) != set(want):
        return float("inf")
    worst = 0.0
    for key, value in want.items():
        if got[key].shape != value.shape:
            return float("inf")
        if value.size:
            worst = max(worst, float(np.max(np.abs(got[key].astype(np.float64) - value))))
    return worst
