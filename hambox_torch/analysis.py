"""The paper's Fig. 2 for a trained detector: which anchors its correct predictions come from.

The paper (section 1, Fig. 2) observes on a trained detector that most correct predictions
after NMS are regressed from anchors that step one of the standard matching did *not* match
(only 11 % come from matched ones), and that the anchors a second matching step compensates
regress much better boxes with HAMBox than with the standard strategy. :func:`analyze_detector`
measures both for any checkpoint on a WIDER-format validation split:

1. Every image is detected at its original size, padded at the bottom and right to a multiple
   of the largest stride, exactly as :func:`hambox_torch.pipeline.detect_batch` does
   (same padding, post-processing and clipping; the post-processing's ``score_thr`` defaults
   to 0.5 here, see below). Each detection is traced back to the anchor it was regressed from
   (``postprocess_detections(..., return_indices=True)``).
2. A detection is *correct* when its IoU with a face is > ``correct_iou_thr`` (0.5, the
   paper's footnote 4); its face is the one it overlaps most (lowest index on ties). Faces are
   the annotation's boxes as the training data set reads them
   (:class:`hambox_torch.data.wider.WiderFaceDataset`: ``invalid`` faces skipped, boxes
   clipped to the image, zero-area boxes dropped).
3. Its anchor counts as *matched at step one* when step one of the standard matching with the
   checkpoint's ``matching.pos_iou_thr`` / ``neg_iou_thr`` labels it positive **for that
   face** (each anchor takes its best face; IoU >= the threshold). (a) of the figure is the
   cumulative distribution of IoU(anchor, face) over the correct predictions, with the
   threshold marked; the summary is the share of correct predictions from matched anchors.
4. (b): :class:`hambox_torch.matching.HAMBoxMatcher` with the checkpoint's matching parameters
   (``pos_iou_thr``, ``top_k``, ``online_iou_thr``, ``high_quality_iou_thr``) runs on the
   model's own decoded predictions of every anchor, as in training; the IoUs between the
   compensated anchors' predicted boxes and their faces are histogrammed, next to those of the
   standard strategy's compensated anchors (:class:`~hambox_torch.matching.DMSMatcher`, step
   one then the max-IoU anchor for faces left without one, the paper's Fig. 4), measured with
   the same predictions. The number of HAMBox-compensated anchors per face is counted too.
5. Also reported (Fig. 2 (c)): of the anchors whose predicted box reaches IoU >=
   ``high_quality_iou_thr`` with some face (high-quality anchors), the share that step one
   left unmatched.
6. Fig. 2 (d): three face counts, the paper's three bars: faces that step one matches to at
   least one anchor; faces for which such a matched anchor's predicted box (before NMS) is
   correct (IoU > ``correct_iou_thr`` with that face, score at least the post-processing's
   ``score_thr``); faces whose correct detection after NMS comes from an anchor matched to
   them. The drop from the second to the third is the paper's point: NMS keeps boxes of
   unmatched anchors over those of matched ones.

The score threshold matters: with the evaluation's 0.01, low-score boxes that happen to
overlap a face count as correct, and there are far more unmatched anchors than matched ones.
The default 0.5 keeps the detections a user would keep; ``settings`` changes it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hambox_core.analysis import IOU_BIN_EDGES, plot_detector_analysis
from hambox_core.matching import DMSMatcher, HAMBoxMatcher
from hambox_core.validation import check_fraction
from hambox_torch.boxes import box_iou, decode
from hambox_torch.data.wider import ImageReadWarning, UnreadableImageError, WiderFaceDataset
from hambox_torch.pipeline.detection import DetectionSettings, detect_batch
from hambox_torch.pipeline.supervision import BatchMatcher
from hambox_torch.postprocess import face_scores
from hambox_torch.progress import progress_bar
from hambox_torch.recipe.components import constructor_kwargs
from hambox_torch.recipe.config import MatchingConfig

__all__ = ["ANALYSIS_SETTINGS", "DetectorAnalysis", "analyze_detector"]

#: Post-processing of :func:`analyze_detector`: the evaluation's, with score threshold 0.5.
ANALYSIS_SETTINGS = DetectionSettings(score_thr=0.5)


@dataclass(frozen=True, eq=False)
class DetectorAnalysis:
    """What :func:`analyze_detector` measured.

    Attributes
    ----------
    images : int
        Images analysed (unreadable ones excluded).
    unreadable : tuple of str
        Paths of the images that could not be read (skipped).
    faces : int
        Faces of the analysed images.
    detections : int
        Detections after NMS (score above the threshold).
    anchor_iou : ndarray of shape (C,), float32
        Per correct detection, IoU between its anchor and its face.
    step_one_matched : ndarray of shape (C,), bool
        Per correct detection, whether step one matched its anchor to its face.
    compensated_iou : dict of str to ndarray of shape (N_s,), float32
        ``"hambox"`` and ``"dms"``: IoU between each compensated anchor's predicted box and
        its face.
    compensated_per_face : ndarray of shape (F,), int64
        HAMBox-compensated anchors of each face (``faces`` entries, image after image).
    hq_anchors : int
        Anchors whose predicted box has IoU >= ``high_quality_iou_thr`` with some face.
    hq_unmatched : int
        Of those, the anchors step one labelled background or ignored.
    pos_iou_thr : float
        Step one's threshold.
    params : dict
        The matching parameters, post-processing settings and ``correct_iou_thr`` used.
    faces_matched : int
        (d) Faces step one matched to at least one anchor.
    faces_correct_before_nms : int
        (d) Faces with a correct predicted box (before NMS) from an anchor matched to them.
    faces_correct_after_nms : int
        (d) Faces with a correct detection (after NMS) from an anchor matched to them.
    """

    images: int
    unreadable: tuple[str, ...]
    faces: int
    detections: int
    anchor_iou: np.ndarray
    step_one_matched: np.ndarray
    compensated_iou: dict[str, np.ndarray]
    compensated_per_face: np.ndarray
    hq_anchors: int
    hq_unmatched: int
    pos_iou_thr: float
    params: dict
    faces_matched: int = 0
    faces_correct_before_nms: int = 0
    faces_correct_after_nms: int = 0

    @property
    def correct(self) -> int:
        """Number of correct detections."""
        return int(self.anchor_iou.shape[0])

    @property
    def matched_share(self) -> float:
        """Share of correct detections regressed from step-one-matched anchors (NaN if none)."""
        return float(self.step_one_matched.mean()) if self.correct else math.nan

    def to_dict(self) -> dict:
        """JSON-ready summary: counts, shares, histograms over ``IOU_BIN_EDGES``."""

        def share(num: int, den: int):
            return num / den if den else None

        def hist(values: np.ndarray) -> list[int]:
            return np.histogram(values, bins=IOU_BIN_EDGES)[0].tolist()

        matched = int(self.step_one_matched.sum())
        per_face = np.bincount(self.compensated_per_face, minlength=1)
        return {
            "images": self.images,
            "unreadable": list(self.unreadable),
            "faces": self.faces,
            "detections": self.detections,
            "correct": self.correct,
            "correct_from_matched": matched,
            "correct_from_unmatched": self.correct - matched,
            "matched_share": share(matched, self.correct),
            "iou_bin_edges": IOU_BIN_EDGES.tolist(),
            "anchor_iou_histogram": hist(self.anchor_iou),
            "compensated": {
                name: {
                    "anchors": int(v.size),
                    "mean_iou": float(v.mean()) if v.size else None,
                    "iou_histogram": hist(v),
                }
                for name, v in self.compensated_iou.items()
            },
            "faces_by_compensated_count": {str(k): int(n) for k, n in enumerate(per_face)},
            "hq_anchors": self.hq_anchors,
            "hq_unmatched": self.hq_unmatched,
            "hq_unmatched_share": share(self.hq_unmatched, self.hq_anchors),
            "faces_matched": self.faces_matched,
            "faces_correct_before_nms": self.faces_correct_before_nms,
            "faces_correct_after_nms": self.faces_correct_after_nms,
            "params": self.params,
        }

    def figure(self, path=None, *, title: str | None = None, training=None, dpi: int = 150):
        """The paper's Fig. 2, four panels (:func:`hambox_core.analysis.plot_detector_analysis`).

        Parameters
        ----------
        path : str or os.PathLike, optional
            Save the figure there.
        title : str, optional
            Default: the images, faces and data root analysed.
        training : mapping, optional
            ``{"iteration": [...], "hq_unmatched_share": [...]}`` from the run's training
            diagnostics (``metrics.jsonl``), drawn in panel (c) next to this measurement.
        dpi : int, default 150
        """
        if title is None:
            title = (
                f"Fig. 2 measured on {self.params.get('data_root', '?')} "
                f"({self.params.get('split', '?')}): {self.images} images, {self.faces} faces, "
                f"score >= {self.params.get('settings', {}).get('score_thr', '?')}"
            )
        return plot_detector_analysis(
            self.anchor_iou,
            self.pos_iou_thr,
            {"HAMBox": self.compensated_iou["hambox"], "DMS": self.compensated_iou["dms"]},
            matched=self.step_one_matched,
            high_quality=(self.hq_anchors, self.hq_unmatched),
            training=training,
            face_counts=(
                self.faces_matched,
                self.faces_correct_before_nms,
                self.faces_correct_after_nms,
            ),
            correct_iou_thr=self.params.get("correct_iou_thr", 0.5),
            title=title,
            path=path,
            dpi=dpi,
        )

    def summary(self) -> str:
        """A few lines describing the result (what ``hambox analyze`` prints)."""
        d = self.to_dict()

        def pct(x) -> str:
            return "n/a" if x is None else f"{100 * x:.1f}%"

        lines = [
            f"images {d['images']} (unreadable {len(d['unreadable'])}), faces {d['faces']}, "
            f"detections {d['detections']}, correct (IoU > {d['params']['correct_iou_thr']}) "
            f"{d['correct']}",
            f"(a) correct predictions from anchors matched at step one (IoU >= "
            f"{self.pos_iou_thr}): {d['correct_from_matched']} ({pct(d['matched_share'])}); "
            f"from unmatched anchors: {d['correct_from_unmatched']}",
        ]
        for name, c in d["compensated"].items():
            mean = "n/a" if c["mean_iou"] is None else f"{c['mean_iou']:.3f}"
            lines.append(
                f"(b) {name}: {c['anchors']} compensated anchors, "
                f"mean IoU(predicted box, face) {mean}"
            )
        lines.append(
            "    faces by number of HAMBox-compensated anchors: "
            + ", ".join(f"{k}: {n}" for k, n in d["faces_by_compensated_count"].items())
        )
        lines.append(
            f"(c) high-quality anchors (predicted IoU >= "
            f"{d['params']['matching']['high_quality_iou_thr']}): {d['hq_anchors']}, "
            f"unmatched at step one {pct(d['hq_unmatched_share'])}"
        )
        lines.append(
            f"(d) faces matched to anchors at step one {d['faces_matched']}; with a correct box "
            f"from a matched anchor before NMS {d['faces_correct_before_nms']}, after NMS "
            f"{d['faces_correct_after_nms']}"
        )
        return "\n".join(lines)


def _pair_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of row ``i`` of ``a`` with row ``i`` of ``b``: Tensor[N, 4] twice → Tensor[N]."""
    return box_iou(a.unsqueeze(-2), b.unsqueeze(-2))[..., 0, 0]


def _analyze_image(model, image, faces, matchers, settings, correct_iou_thr, hq_thr):
    """Per-image pieces (tensors on the CPU) of the analysis; see the module notes."""
    device = next(model.parameters()).device
    ((boxes, _scores, index),), out, anchors = detect_batch(
        model, [image], settings, return_indices=True
    )
    deltas = out.box_deltas.float()
    faces = faces.to(device)
    num_faces = int(faces.shape[0])
    pred = decode(anchors, deltas[0])
    valid = torch.ones((1, num_faces), dtype=torch.bool, device=device)
    ham = matchers["hambox"](anchors, faces[None], valid, pred[None])
    dms = matchers["dms"](anchors, faces[None], valid, pred[None])
    labels, matched_gt, comp = ham.labels[0], ham.matched_gt[0], ham.compensated[0]
    if num_faces:
        best, face = box_iou(boxes, faces).max(dim=1)
        ok = best > correct_iou_thr
        a, g = index[ok], face[ok]
    else:
        a = g = torch.zeros(0, dtype=torch.int64, device=device)
    step_one = (labels == 1) & ~comp
    dms_comp = dms.compensated[0]
    if num_faces:
        hq = box_iou(pred, faces).max(dim=1).values >= hq_thr
    else:
        hq = torch.zeros(anchors.shape[0], dtype=torch.bool, device=device)
    # (d): faces matched at step one; of them, those with a correct box from a matched anchor
    # before NMS (score at least the threshold) and after NMS.
    own = matched_gt[step_one]
    good = (_pair_iou(pred[step_one], faces[own]) > correct_iou_thr) & (
        face_scores(out.cls_logits[0].float())[step_one] >= settings.score_thr
    )
    after = g[step_one[a] & (matched_gt[a] == g)]
    return {
        "faces_matched": int(torch.unique(own).numel()),
        "faces_before": int(torch.unique(own[good]).numel()),
        "faces_after": int(torch.unique(after).numel()),
        "detections": int(index.numel()),
        "anchor_iou": _pair_iou(anchors[a], faces[g]).cpu(),
        "step_one_matched": (step_one[a] & (matched_gt[a] == g)).cpu(),
        "hambox": ham.quality[0][comp].cpu(),
        "dms": _pair_iou(pred[dms_comp], faces[dms.matched_gt[0][dms_comp]]).cpu(),
        "per_face": torch.bincount(matched_gt[comp], minlength=num_faces).cpu(),
        "hq": int(hq.sum()),
        "hq_unmatched": int((hq & ~step_one).sum()),
    }


def _cat(parts, dtype) -> np.ndarray:
    return torch.cat(parts).numpy() if parts else np.zeros(0, dtype=dtype)


@torch.no_grad()
def analyze_detector(
    model,
    data_root,
    *,
    split: str = "val",
    max_images: int | None = None,
    matching=None,
    settings: DetectionSettings = ANALYSIS_SETTINGS,
    correct_iou_thr: float = 0.5,
    progress: bool = False,
) -> DetectorAnalysis:
    """The paper's Fig. 2 measurements for ``model`` on a WIDER-format split.

    Parameters
    ----------
    model : HAMBoxDetector
        Run in eval mode (its previous mode is restored), on the device its parameters are on.
    data_root : str or os.PathLike
        Folder with ``WIDER_<split>/images`` and ``wider_face_split/wider_face_<split>_bbx_gt.txt``
        (the embedded set's root, or the official data set's).
    split : {"val", "train"}, default "val"
    max_images : int, optional
        Analyse the first ``max_images`` images of the annotation file only.
    matching : hambox_torch.recipe.config.MatchingConfig, optional
        Step one's thresholds and HAMBox's ``top_k``, ``online_iou_thr`` and
        ``high_quality_iou_thr`` (the checkpoint's ``config.matching``, or any object with
        those fields; its ``strategy`` is not used). Default: ``MatchingConfig()``, the
        paper's values.
    settings : DetectionSettings, default ANALYSIS_SETTINGS
        Post-processing (score threshold 0.5, NMS 0.4, as evaluated otherwise).
    correct_iou_thr : float, default 0.5
        A detection is correct when its IoU with a face is strictly above this.
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    DetectorAnalysis

    Raises
    ------
    FileNotFoundError
        If the split's annotation file or image folder is missing.
    ValueError
        On a bad ``max_images`` or ``correct_iou_thr``.

    Warns
    -----
    ImageReadWarning
        For every image that cannot be read (named; it is skipped and listed in
        ``unreadable``).
    """
    correct_iou_thr = check_fraction(correct_iou_thr, "correct_iou_thr")
    if max_images is not None and (
        isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 0
    ):
        raise ValueError(f"max_images must be a non-negative integer, got {max_images!r}")
    matching = MatchingConfig() if matching is None else matching
    # As in training: the core matchers for CPU tensors (grid-aware, fast), torch otherwise.
    matchers = {
        name: BatchMatcher(cls(**constructor_kwargs(cls, matching)), backend="auto")
        for name, cls in (("hambox", HAMBoxMatcher), ("dms", DMSMatcher))
    }
    dataset = WiderFaceDataset(data_root, split)
    count = len(dataset) if max_images is None else min(max_images, len(dataset))
    parts: dict[str, list] = {k: [] for k in ("anchor_iou", "step_one_matched", "hambox", "dms")}
    per_face: list[torch.Tensor] = []
    unreadable: list[str] = []
    totals = {"images": 0, "faces": 0, "detections": 0, "hq": 0, "hq_unmatched": 0}
    totals.update(faces_matched=0, faces_before=0, faces_after=0)
    was_training = model.training
    model.eval()
    bar = progress_bar(count, "analyze", progress)
    try:
        for i in range(count):
            try:
                image, target = dataset.load(i)
            except UnreadableImageError as exc:
                path = os.fspath(dataset.image_path(i))
                unreadable.append(path)
                warnings.warn(f"{exc}; skipped", ImageReadWarning, stacklevel=3)
                bar.update(1)
                continue
            image = image.as_subclass(torch.Tensor).float().div_(255.0)
            faces = target["boxes"].as_subclass(torch.Tensor)
            r = _analyze_image(
                model,
                image,
                faces,
                matchers,
                settings,
                correct_iou_thr,
                matching.high_quality_iou_thr,
            )
            for k, v in parts.items():
                v.append(r[k])
            per_face.append(r["per_face"])
            totals["images"] += 1
            totals["faces"] += int(faces.shape[0])
            totals["detections"] += r["detections"]
            totals["hq"] += r["hq"]
            totals["hq_unmatched"] += r["hq_unmatched"]
            for key in ("faces_matched", "faces_before", "faces_after"):
                totals[key] += r[key]
            bar.update(1)
    finally:
        bar.close()
        model.train(was_training)
    return DetectorAnalysis(
        images=totals["images"],
        unreadable=tuple(unreadable),
        faces=totals["faces"],
        detections=totals["detections"],
        anchor_iou=_cat(parts["anchor_iou"], np.float32),
        step_one_matched=_cat(parts["step_one_matched"], bool),
        compensated_iou={k: _cat(parts[k], np.float32) for k in ("hambox", "dms")},
        compensated_per_face=_cat(per_face, np.int64),
        hq_anchors=totals["hq"],
        hq_unmatched=totals["hq_unmatched"],
        pos_iou_thr=float(matching.pos_iou_thr),
        faces_matched=totals["faces_matched"],
        faces_correct_before_nms=totals["faces_before"],
        faces_correct_after_nms=totals["faces_after"],
        params={
            "data_root": os.fspath(Path(data_root)),
            "split": split,
            "matching": (
                dataclasses.asdict(matching)
                if dataclasses.is_dataclass(matching)
                else dict(vars(matching))
            ),
            "settings": dataclasses.asdict(settings),
            "correct_iou_thr": correct_iou_thr,
        },
    )
