"""The paper's anchor analyses on numpy: faces from ground-truth files, Fig. 1 and Fig. 2 plots.

Fig. 1 of the paper plots, against the anchor scale (the multiplier of the base sizes
``16 .. 512`` on strides ``4 .. 128``), the mean number of anchors that step one of the standard
matching (IoU >= 0.35) gives each face, and the fraction of faces that get at least one. The
computation is :func:`anchor_statistics`; this module also holds what a user needs around it:

* :func:`load_faces` reads the faces of a data set from a WIDER-format annotation text file
  (the official ``wider_face_*_bbx_gt.txt`` or RetinaFace's ``label.txt``) or from the official
  validation ground truth (the folder of ``wider_face_val.mat``), optionally one setting's
  faces only;
* :data:`FIG1_SCALES` is the default sweep;
* :func:`plot_anchor_statistics` draws the two curves.

Fig. 2 (what a *trained* detector's correct predictions are regressed from) needs the model and
is computed by :func:`hambox_torch.analysis.analyze_detector`; its figure is drawn here by
:func:`plot_detector_analysis`, from plain arrays.

matplotlib is imported only by the plot functions (see :mod:`hambox_core.evaluation.plots`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .anchors import AnchorGenerator
from .matching import SMSMatcher
from .validation import as_boxes, check_fraction, check_image_size, check_real

__all__ = [
    "FIG1_SCALES",
    "IOU_BIN_EDGES",
    "FaceSet",
    "anchor_statistics",
    "load_faces",
    "plot_anchor_statistics",
    "plot_detector_analysis",
]

#: Default anchor scales of the Fig. 1 sweep: 0.10 to 1.50 in steps of 0.05, plus the ends of
#: the paper's recommended interval (0.43, 0.70 is on the grid) and its choice 0.68.
FIG1_SCALES: tuple[float, ...] = tuple(
    sorted({round(0.1 + 0.05 * k, 2) for k in range(29)} | {0.43, 0.68})
)

#: Bin edges of the IoU histograms of Fig. 2 (20 bins of width 0.05 over [0, 1]).
IOU_BIN_EDGES = np.arange(21) / 20.0  # 0, 0.05, ..., 1 (each the nearest double to k/20)

#: Anchor scale the paper uses (footnote 5), marked on the Fig. 1 plot.
PAPER_SCALE = 0.68

#: The interval of anchor scales the paper's Fig. 1 recommends, shaded on the Fig. 1 plot.
PAPER_BAND = (0.43, 0.7)

_SETTINGS = ("all", "easy", "medium", "hard")


@dataclass(frozen=True, eq=False)
class FaceSet:
    """The faces of a data set, per image, ready for :func:`~hambox_core.anchor_statistics`.

    Attributes
    ----------
    names : tuple of str
        Image names (``"<event>/<stem>"`` for the ``.mat`` ground truth, the annotation's path
        for text files), in file order.
    boxes : tuple of ndarray of shape (G_i, 4), float32
        xyxy faces of each image (``x1 = x + w``, ``y1 = y + h``), faces of zero or negative
        width or height left out.
    dropped : int
        Faces left out because their width or height is not positive (annotation errors; the
        official validation set has 11, one of them with a negative width).
    source : str
        What was read (the file or folder, and the setting).

    Examples
    --------
    >>> faces = FaceSet(("a",), (np.array([[0, 0, 10, 10]], np.float32),), 0, "example")
    >>> len(faces), faces.num_faces
    (1, 1)
    """

    names: tuple[str, ...]
    boxes: tuple[np.ndarray, ...]
    dropped: int
    source: str

    def __len__(self) -> int:
        return len(self.names)

    @property
    def num_faces(self) -> int:
        """Number of faces kept."""
        return int(sum(b.shape[0] for b in self.boxes))


def _proper(boxes: np.ndarray) -> np.ndarray:
    """``(G,)`` bool: xyxy boxes with positive width and height."""
    return (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


def _from_per_image(names, boxes, source: str) -> FaceSet:
    kept = []
    dropped = 0
    for b in boxes:
        ok = _proper(b)
        dropped += int((~ok).sum())
        kept.append(np.ascontiguousarray(b[ok], dtype=np.float32))
    return FaceSet(tuple(names), tuple(kept), dropped, source)


def _read_text(path: Path) -> FaceSet:
    from .datasets import read_retinaface_labels, read_wider_annotations

    with open(path, encoding="utf-8", errors="replace") as f:
        first = next((line for line in f if line.strip()), "")
    reader = read_retinaface_labels if first.lstrip().startswith("#") else read_wider_annotations
    annotations = reader(path)
    return _from_per_image(
        [a.name for a in annotations], [a.boxes for a in annotations], os.fspath(path)
    )


def _read_mat(folder: Path, setting: str) -> FaceSet:
    from .evaluation.widerface import load_ground_truth

    gt = load_ground_truth(folder, settings=() if setting == "all" else (setting,))
    xywh = gt.boxes
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1).astype(np.float32)
    keep = np.ones(xyxy.shape[0], dtype=bool) if setting == "all" else gt.keep[setting]
    per_image = []
    for i in range(len(gt)):
        lo, hi = int(gt.offsets[i]), int(gt.offsets[i + 1])
        per_image.append(xyxy[lo:hi][keep[lo:hi]])
    names = [f"{e}/{n}" for e, n in gt.keys()]
    return _from_per_image(names, per_image, f"{os.fspath(folder)} ({setting} faces)")


def load_faces(path, *, setting: str = "all") -> FaceSet:
    """Read the faces of a data set for the anchor statistics.

    Parameters
    ----------
    path : str or os.PathLike
        One of

        * a WIDER-format annotation text file: the official ``wider_face_{train,val}_bbx_gt.txt``
          or RetinaFace's ``label.txt`` (recognised by its ``#`` name lines);
        * a folder holding the official ``wider_face_val.mat`` (and, for a ``setting`` other
          than ``"all"``, ``wider_<setting>_val.mat``), e.g. ``eval_tools/ground_truth``;
        * one of those ``.mat`` files: its folder is read.
    setting : {"all", "easy", "medium", "hard"}, default "all"
        For the ``.mat`` ground truth: every face (``"all"``), or only the faces that the
        setting's keep list counts. Text files have no settings: only ``"all"`` is accepted.

    Returns
    -------
    FaceSet
        Faces with a non-positive width or height are left out and counted in ``dropped``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or a folder lacks ``wider_face_val.mat``.
    ValueError
        If ``setting`` is unknown or given for a text file, or the file is malformed (the
        readers name the file and line).

    Examples
    --------
    >>> import tempfile
    >>> from hambox_core.datasets import WiderAnnotation, write_wider_annotations
    >>> path = Path(tempfile.mkdtemp()) / "gt.txt"
    >>> write_wider_annotations(path, [WiderAnnotation(
    ...     "0--a/x.jpg", np.array([[10, 10, 30, 30], [5, 5, 5, 9]], np.float32))])
    >>> faces = load_faces(path)
    >>> faces.num_faces, faces.dropped
    (1, 1)
    """
    if setting not in _SETTINGS:
        raise ValueError(f"setting must be one of {_SETTINGS}, got {setting!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"ground truth not found: {os.fspath(path)}")
    if path.is_dir() or path.suffix.lower() == ".mat":
        folder = path if path.is_dir() else path.parent
        if not (folder / "wider_face_val.mat").is_file():
            raise FileNotFoundError(
                f"{os.fspath(folder)} holds no wider_face_val.mat (the official WIDER FACE "
                "validation ground truth); give that folder or an annotation .txt file"
            )
        return _read_mat(folder, setting)
    if setting != "all":
        raise ValueError(
            f"setting {setting!r} needs the official .mat ground truth; {os.fspath(path)} is a "
            "text annotation file, which has no easy/medium/hard keep lists"
        )
    return _read_text(path)


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------


def anchor_statistics(
    gt_boxes_per_image,
    scales: Sequence[float],
    image_hws=None,
    iou_thr: float = 0.35,
    *,
    strides: Sequence[int] = (4, 8, 16, 32, 64, 128),
    base_sizes: Sequence[float] = (16, 32, 64, 128, 256, 512),
    ratios: Sequence[float] = (1.0,),
) -> dict[str, np.ndarray]:
    """Anchors matched per face against anchor scale (paper Fig. 1).

    For each anchor ``scale``, every image's faces are matched with step one of the standard
    strategy (each anchor takes its best face; IoU >= ``iou_thr`` is positive) on the anchor
    grid of that scale, and the faces' matched-anchor counts are gathered. Matching uses the
    matchers' grid search, never a dense anchors x faces matrix.

    Parameters
    ----------
    gt_boxes_per_image : sequence of array_like of shape (G_i, 4)
        xyxy face boxes of each image.
    scales : sequence of float
        Anchor scales to evaluate (multipliers of ``base_sizes``, as ``AnchorGenerator.scale``).
    image_hws : sequence of (H, W), optional
        Image sizes. Without them (the official ``.mat`` ground truth has none) each image's
        grid starts at the origin and extends right and down far enough to hold every anchor
        that can overlap a face, i.e. as if the image were unbounded.
    iou_thr : float, default 0.35
        Positive IoU threshold of step one.
    strides, base_sizes, ratios
        Anchor layout, as in :class:`AnchorGenerator`.

    Returns
    -------
    dict
        ``"scales"`` (S,) float64; ``"mean_matched"`` (S,) float64, the mean number of anchors
        matched per face; ``"frac_matched"`` (S,) float64, the fraction of faces with at least
        one matched anchor; ``"num_faces"``, the number of faces counted. Faces of zero area
        are counted (they can never match).

    Examples
    --------
    >>> stats = anchor_statistics([[[10, 10, 30, 30], [100, 100, 102, 102]]], scales=[0.5, 1.0])
    >>> stats["frac_matched"]
    array([0.5, 0.5])
    """
    if isinstance(scales, str | bytes) or not isinstance(scales, Iterable):
        raise TypeError(f"scales must be a sequence of numbers, got {type(scales).__name__}")
    scales = [check_real(s, f"scales[{i}]") for i, s in enumerate(scales)]
    if not scales:
        raise ValueError("scales must name at least one anchor scale")
    for i, s in enumerate(scales):
        if s <= 0:
            raise ValueError(f"scales[{i}] must be positive, got {s!r}")
    iou_thr = check_fraction(iou_thr, "iou_thr")
    if isinstance(gt_boxes_per_image, str | bytes) or not isinstance(gt_boxes_per_image, Iterable):
        raise TypeError(
            "gt_boxes_per_image must be a sequence of (G, 4) box arrays, got "
            f"{type(gt_boxes_per_image).__name__}"
        )
    images = [as_boxes(g, f"gt_boxes_per_image[{i}]") for i, g in enumerate(gt_boxes_per_image)]
    if image_hws is not None:
        image_hws = list(image_hws)
        if len(image_hws) != len(images):
            raise ValueError(
                f"image_hws has {len(image_hws)} entries but gt_boxes_per_image has {len(images)}"
            )
    num_faces = sum(g.shape[0] for g in images)
    mean = np.zeros(len(scales))
    frac = np.zeros(len(scales))
    matcher = SMSMatcher(iou_thr)  # step one alone
    for si, scale in enumerate(scales):
        gen = AnchorGenerator(strides, base_sizes, scale, ratios)
        reach = float(gen.anchor_shapes().max())
        grids: dict[tuple[int, int], np.ndarray] = {}
        total = 0
        hit = 0
        for i, gt in enumerate(images):
            if gt.shape[0] == 0:
                continue
            if image_hws is not None:
                hw = check_image_size(image_hws[i], f"image_hws[{i}]")
            else:
                # Unbounded to the right and bottom: every anchor that can touch a face exists.
                ext = np.ceil(gt[:, 2:].max(axis=0) + reach).astype(np.int64)
                step = max(strides)
                hw = (int(-(-ext[1] // step) * step), int(-(-ext[0] // step) * step))
            anchors = grids.get(hw)
            if anchors is None:
                anchors = grids[hw] = gen.grid_anchors(hw)
            counts = matcher(anchors, gt).num_matched
            total += int(counts.sum())
            hit += int((counts > 0).sum())
        mean[si] = total / num_faces if num_faces else 0.0
        frac[si] = hit / num_faces if num_faces else 0.0
    return {
        "scales": np.asarray(scales),
        "mean_matched": mean,
        "frac_matched": frac,
        "num_faces": num_faces,
    }


def _stats_arrays(stats: Mapping, name: str):
    try:
        scales = np.asarray(stats["scales"], dtype=np.float64)
        mean = np.asarray(stats["mean_matched"], dtype=np.float64)
        frac = np.asarray(stats["frac_matched"], dtype=np.float64)
        num_faces = int(stats["num_faces"])
    except KeyError as exc:
        raise ValueError(f"{name} lacks {exc.args[0]!r} (pass anchor_statistics' result)") from None
    except TypeError:
        raise ValueError(f"{name} must be a mapping as anchor_statistics returns") from None
    if not (scales.shape == mean.shape == frac.shape) or scales.ndim != 1:
        raise ValueError(f"{name}: scales, mean_matched and frac_matched must be equal-length 1-d")
    order = np.argsort(scales, kind="stable")
    return scales[order], mean[order], frac[order], num_faces


def plot_anchor_statistics(
    stats: Mapping,
    *,
    marks: Sequence[float] = (PAPER_SCALE,),
    band: tuple[float, float] | None = PAPER_BAND,
    title: str | None = None,
    path=None,
    dpi: int = 150,
):
    """The paper's Fig. 1: anchors matched per face and faces matched, against anchor scale.

    Parameters
    ----------
    stats : mapping
        What :func:`hambox_core.anchor_statistics` returns (``"scales"``, ``"mean_matched"``,
        ``"frac_matched"``, ``"num_faces"``), or ``{label: such a result}`` to draw several
        data sets on the same axes (one curve each; the legend names them with their number
        of faces).
    marks : sequence of float, default (0.68,)
        Scales marked with a dashed vertical line, labelled "scale <value>" (the paper's
        choice by default).
    band : (float, float) or None, default (0.43, 0.7)
        A shaded interval of scales, labelled as the paper's recommended interval (its Fig. 1
        text); ``None`` draws none.
    title : str, optional
        Default: "Anchor matching statistics" and, for one data set, its number of faces.
    path : str or os.PathLike, optional
        Save the figure there (format from the extension).
    dpi : int, default 150

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: (a) mean number of anchors matched per face, (b) percentage of faces with
        at least one matched anchor; one legend under them.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError
        If ``stats`` lacks a key or its arrays have different lengths.
    """
    from .evaluation.plots import matplotlib_figure

    if not isinstance(stats, Mapping) or not stats:
        raise ValueError("stats must be a non-empty mapping (anchor_statistics' result)")
    first = next(iter(stats.values()))
    if isinstance(first, Mapping):
        sets = {str(k): _stats_arrays(v, f"stats[{k!r}]") for k, v in stats.items()}
    else:
        sets = {"": _stats_arrays(stats, "stats")}
    fig = matplotlib_figure()(figsize=(9.6, 4.6), layout="constrained")
    ax_mean, ax_frac = fig.subplots(1, 2)
    for k, (label, (scales, mean, frac, num_faces)) in enumerate(sets.items()):
        name = f"{label} ({num_faces} faces)" if label else f"{num_faces} faces"
        style = {"marker": "o", "markersize": 3, "color": f"C{k}" if label else None}
        ax_mean.plot(scales, mean, label=name, **{**style, "color": style["color"] or "tab:blue"})
        ax_frac.plot(scales, 100.0 * frac, **{**style, "color": style["color"] or "tab:red"})
    ax_mean.set_ylabel("anchors matched per face (mean)")
    ax_mean.set_title("(a) Average number of anchors")
    ax_frac.set_ylabel("faces with a matched anchor (%)")
    ax_frac.set_ylim(0.0, 100.0)
    ax_frac.set_title("(b) Proportion of faces matched")
    for ax in (ax_mean, ax_frac):
        ax.set_xlabel("anchor scale")
        ax.grid(True, linestyle=":", linewidth=0.8)
        if band is not None:
            lo, hi = (float(v) for v in band)
            ax.axvspan(
                lo,
                hi,
                color="tab:green",
                alpha=0.12,
                lw=0,
                label=f"paper's interval [{lo:g}, {hi:g}]" if ax is ax_mean else None,
            )
        for m in marks:
            ax.axvline(
                float(m),
                color="0.3",
                linestyle="--",
                linewidth=1.0,
                label=f"scale {float(m):g} (the paper's)" if ax is ax_mean else None,
            )
        for m in marks:
            ax.annotate(
                f"{float(m):g}",
                (float(m), 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12),
                textcoords="offset points",
                color="0.3",
                fontsize="small",
            )
    handles, labels = ax_mean.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=4 if len(labels) < 4 else 2,
        fontsize="small",
        frameon=False,
    )
    if title is None:
        title = "Anchor matching statistics (step one of the standard matching)"
        if len(sets) == 1:
            title += f": {next(iter(sets.values()))[3]} faces"
    fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def plot_detector_analysis(
    anchor_iou,
    pos_iou_thr: float,
    compensated_iou: Mapping[str, np.ndarray],
    *,
    matched=None,
    high_quality: tuple[int, int] | None = None,
    training: Mapping | None = None,
    face_counts: tuple[int, int, int] | None = None,
    correct_iou_thr: float = 0.5,
    title: str | None = None,
    path=None,
    dpi: int = 150,
):
    """The paper's Fig. 2, its four panels, for a trained detector.

    Parameters
    ----------
    anchor_iou : array_like of shape (C,)
        For each correct prediction after NMS, the IoU between the anchor it was regressed from
        and its face.
    pos_iou_thr : float
        Step one's positive threshold, drawn as a vertical line in panel (a).
    compensated_iou : mapping of str to array_like of shape (N_s,)
        Per strategy (legend label), the IoUs between compensated anchors' predicted boxes and
        their faces.
    matched : array_like of shape (C,), bool, optional
        Per correct prediction, whether step one matched its anchor to its face; the share
        printed in panel (a). Default: ``anchor_iou >= pos_iou_thr``.
    high_quality : (int, int), optional
        (c) The number of high-quality anchors (predicted box IoU >= the high-quality
        threshold with a face) and how many of them step one left unmatched.
    training : mapping, optional
        (c) ``{"iteration": (T,), "hq_unmatched_share": (T,)}``: the same share during
        training (the training diagnostics); drawn as a curve, with ``high_quality`` as a
        horizontal line. Without it (c) shows ``high_quality`` as two bars.
    face_counts : (int, int, int), optional
        (d) Faces matched to anchors at step one; faces with a correct predicted box from a
        matched anchor before NMS; the same after NMS (the paper's three bars).
    correct_iou_thr : float, default 0.5
        The IoU above which a prediction is correct (named in the labels).
    title : str, optional
        The figure's title (what was measured, on which data).
    path : str or os.PathLike, optional
        Save the figure there.
    dpi : int, default 150

    Returns
    -------
    matplotlib.figure.Figure
        Four axes: (a) the cumulative distribution of ``anchor_iou``, the threshold and the
        share of predictions from matched anchors; (b) one histogram (share of that
        strategy's compensated anchors per bin of ``IOU_BIN_EDGES``) per strategy; (c) the
        share of high-quality anchors left unmatched, with the paper's 65 %; (d) the three face
        counts. A panel without its data says so.
    """
    from .evaluation.plots import matplotlib_figure

    anchor_iou = np.sort(np.asarray(anchor_iou, dtype=np.float64).reshape(-1))
    fig = matplotlib_figure()(figsize=(10.4, 8.8), layout="constrained")
    (ax_cdf, ax_hist), (ax_hq, ax_faces) = fig.subplots(2, 2)

    def missing(ax, text):
        ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")

    if anchor_iou.size:
        cdf = np.arange(anchor_iou.size + 1) / anchor_iou.size
        xs = np.concatenate([[0.0], anchor_iou, [1.0]])
        ys = np.concatenate([cdf, [1.0]])
        ax_cdf.step(xs, ys, where="post", color="tab:red", linewidth=2.0, label="this detector")
        if matched is None:
            share = float(np.mean(anchor_iou >= pos_iou_thr))
        else:
            share = float(np.mean(np.asarray(matched, dtype=bool)))
        ax_cdf.text(
            0.98,
            0.05,
            f"{100 * share:.0f}% from matched anchors\n(paper: 11%)\n"
            f"{anchor_iou.size} correct boxes",
            transform=ax_cdf.transAxes,
            ha="right",
            va="bottom",
        )
    else:
        missing(ax_cdf, "no correct prediction")
    ax_cdf.axvline(
        pos_iou_thr,
        color="0.4",
        linestyle="--",
        linewidth=1.0,
        label=f"step one's threshold {pos_iou_thr:g}",
    )
    ax_cdf.legend(loc="upper left", fontsize="small")
    ax_cdf.set_xlim(0.0, 1.0)
    ax_cdf.set_ylim(0.0, 1.0)
    ax_cdf.set_xlabel("IoU(anchor, face) of correct predictions")
    ax_cdf.set_ylabel("cumulative share")
    ax_cdf.set_title("(a) Anchors of correct predictions (after NMS)")

    edges = IOU_BIN_EDGES
    width = (edges[1] - edges[0]) / (len(compensated_iou) + 1)
    for k, (label, values) in enumerate(compensated_iou.items()):
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        counts, _ = np.histogram(values, bins=edges)
        fraction = counts / max(1, values.size)
        mean = f", mean {values.mean():.2f}" if values.size else ""
        ax_hist.bar(
            edges[:-1] + (k + 0.5) * width,
            fraction,
            width=width,
            align="edge",
            label=f"{label} ({values.size} anchors{mean})",
        )
    ax_hist.set_xlim(0.0, 1.0)
    ax_hist.set_xlabel("IoU(predicted box, face) of compensated anchors")
    ax_hist.set_ylabel("share of compensated anchors")
    ax_hist.set_title("(b) Compensated anchors' predictions")
    ax_hist.text(
        0.64,
        0.97,
        "paper: standard\nstrategy's mean 0.42",
        transform=ax_hist.transAxes,
        ha="center",
        va="top",
        fontsize="small",
        color="0.3",
    )
    if compensated_iou:
        ax_hist.legend(loc="upper left", fontsize="small")

    paper_hq = 65.0
    if training is not None and len(training.get("iteration", ())):
        it = np.asarray(training["iteration"], dtype=np.float64)
        share_t = 100.0 * np.asarray(training["hq_unmatched_share"], dtype=np.float64)
        ax_hq.plot(it, share_t, marker="o", color="tab:purple", label="during training")
        ax_hq.set_xlabel("training iteration")
        if high_quality is not None and high_quality[0]:
            final = 100.0 * high_quality[1] / high_quality[0]
            ax_hq.axhline(
                final,
                color="tab:purple",
                linestyle=":",
                label=f"trained model on these images: {final:.0f}%",
            )
        ax_hq.axhline(paper_hq, color="0.4", linestyle="--", label="paper: 65% during training")
        ax_hq.set_ylim(0.0, 100.0)
        ax_hq.set_ylabel("high-quality anchors unmatched at step one (%)")
        ax_hq.legend(loc="upper left", fontsize="small")
    elif high_quality is not None and high_quality[0]:
        total, unmatched = (int(v) for v in high_quality)
        shares = [100.0 * (total - unmatched) / total, 100.0 * unmatched / total]
        bars = ax_hq.bar(
            ["matched at step one", "unmatched"], shares, color=["tab:blue", "tab:orange"]
        )
        for bar, n in zip(bars, (total - unmatched, unmatched), strict=True):
            ax_hq.annotate(
                f"{bar.get_height():.0f}% ({n})",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize="small",
            )
        ax_hq.axhline(paper_hq, color="0.4", linestyle="--", label="paper: 65% unmatched")
        ax_hq.set_ylim(0.0, 100.0)
        ax_hq.set_ylabel("share of high-quality anchors (%)")
        ax_hq.legend(loc="upper left", fontsize="small")
    else:
        missing(ax_hq, "no high-quality anchor measured")
    ax_hq.set_title("(c) High-quality anchors left unmatched")

    if face_counts is not None:
        labels = [
            f"matched to anchors\n(IoU >= {pos_iou_thr:g})",
            f"correct box from a\nmatched anchor\n(IoU > {correct_iou_thr:g}), before NMS",
            "the same,\nafter NMS",
        ]
        bars = ax_faces.bar(
            labels, [int(v) for v in face_counts], color=["tab:red", "tab:blue", "tab:green"]
        )
        for bar in bars:
            ax_faces.annotate(
                f"{int(bar.get_height())}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize="small",
            )
        ax_faces.set_ylabel("faces")
        ax_faces.tick_params(axis="x", labelsize="small")
        ax_faces.set_ylim(0, max(1, max(int(v) for v in face_counts)) * 1.12)
    else:
        missing(ax_faces, "face counts not measured")
    ax_faces.set_title("(d) Faces with boxes from matched anchors")
    for ax in (ax_cdf, ax_hist, ax_hq, ax_faces):
        ax.grid(True, linestyle=":", linewidth=0.8)
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig
