"""WIDER FACE AP per face attribute and per face size, computed the way a setting is.

The official tool reports one AP per setting (easy, medium, hard). :func:`breakdown` splits each
setting further, by the six attribute labels of ``wider_face_val.mat`` (blur, expression,
illumination, occlusion, pose, invalid; values in :data:`~.widerface_truth.ATTRIBUTES`) and by
face height (:data:`SIZE_BINS`).

**Definition.** A breakdown row is a subset of faces, e.g. "blur = heavy". Within setting ``s``
its AP is the official AP of ``s`` with the keep list narrowed to the faces that are kept in
``s`` *and* in the subset; every other face is treated exactly like a face outside a keep list:
ignored (a detection that matches it is neither a true nor a false positive). So the base is
the setting: the row "blur = heavy" of "hard" counts the heavily blurred faces of the hard
setting, and its recall denominator is their number. Everything else is the setting's own
evaluation (one score normalisation over all detections, the same matching, the same
semantics): the rows of a group partition the setting's faces. Detections on no face at all
stay false positives in every row, so a row with few faces has lower precision than a row with
many, for the same detector: compare a row across detectors, not rows with each other.

Matching is done once (:func:`~hambox_core.evaluation.widerface.match_detections`), and each
row costs one pass over the detections.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..validation import as_number
from .widerface import (
    IOU_THRESHOLD,
    NUM_THRESHOLDS,
    MatchedDetections,
    PRCurve,
    check_settings,
    evaluation_metadata,
    match_detections,
)
from .widerface_truth import ATTRIBUTES, WiderGroundTruth, load_ground_truth

__all__ = [
    "SIZE_BINS",
    "BreakdownRow",
    "WiderBreakdown",
    "breakdown",
    "breakdown_matched",
    "write_breakdown",
]

#: Face-height bin edges in pixels (the ``h`` of the ``.mat`` box): bin ``k`` holds
#: ``edges[k] <= h < edges[k + 1]``. The WIDER FACE paper's scales are small (10-50 px),
#: medium (50-300 px) and large (over 300 px); the small range is split further because the
#: hard setting lives there. Faces below the first edge (the official file's zero heights)
#: are in no bin.
SIZE_BINS = (0.0, 10.0, 20.0, 30.0, 50.0, 100.0, 300.0, math.inf)


@dataclass(frozen=True, eq=False)
class BreakdownRow:
    """One subset of faces and its AP in each setting.

    Attributes
    ----------
    group : str
        ``"size"`` or an attribute name (``"blur"``, ...); ``"all"`` for the settings
        themselves.
    value : str
        The subset: an attribute value name (``"heavy"``), a size bin (``"10-20"``, ``">=300"``)
        or ``"all"``.
    curves : dict of str to PRCurve
        Per setting, the official PR curve with the narrowed keep list.
    """

    group: str
    value: str
    curves: dict[str, PRCurve]

    @property
    def ap(self) -> dict[str, float]:
        """AP per setting (NaN where the subset has no face in the setting)."""
        return {s: c.ap for s, c in self.curves.items()}

    @property
    def num_faces(self) -> dict[str, int]:
        """Faces of the subset kept in each setting."""
        return {s: c.num_faces for s, c in self.curves.items()}


@dataclass(frozen=True, eq=False)
class WiderBreakdown:
    """AP per attribute value and per face size, per setting (:func:`breakdown`).

    Attributes
    ----------
    rows : list of BreakdownRow
        The setting itself first (group ``"all"``), then each group in order.
    settings : tuple of str
    size_bins : tuple of float
    metadata : dict
        :func:`~hambox_core.evaluation.widerface.evaluation_metadata` of the run, plus the
        definition of the base.
    """

    rows: list[BreakdownRow]
    settings: tuple[str, ...]
    size_bins: tuple[float, ...]
    metadata: dict

    @property
    def semantics(self) -> str:
        """The box arithmetic, a key of :data:`~hambox_core.evaluation.widerface.SEMANTICS`."""
        return self.metadata["semantics"]

    def groups(self) -> dict[str, list[BreakdownRow]]:
        """Rows by group, in order."""
        out: dict[str, list[BreakdownRow]] = {}
        for r in self.rows:
            out.setdefault(r.group, []).append(r)
        return out

    def to_dict(self, curves: bool = False) -> dict:
        """JSON-ready: metadata and per row the AP and face count per setting (NaN as None).

        Parameters
        ----------
        curves : bool, default False
            Also include each row's PR curves as the integer counts they are made of:
            ``proposals`` and ``true_positives`` per threshold (``"thresholds"`` at the top);
            precision is ``true_positives / proposals`` and recall
            ``true_positives / num_faces``, exactly.
        """

        def num(v):
            return None if v != v else v

        rows = []
        for r in self.rows:
            item = {
                "group": r.group,
                "value": r.value,
                "ap": {s: num(v) for s, v in r.ap.items()},
                "num_faces": r.num_faces,
            }
            if curves:
                item["curves"] = {
                    s: {
                        "proposals": c.proposals.tolist(),
                        "true_positives": c.true_positives.tolist(),
                    }
                    for s, c in r.curves.items()
                }
            rows.append(item)
        out = {
            "metadata": self.metadata,
            "settings": list(self.settings),
            "size_bins": [v if math.isfinite(v) else None for v in self.size_bins],
            "rows": rows,
        }
        if curves and self.rows:
            first = next(iter(self.rows[0].curves.values()), None)
            out["thresholds"] = [] if first is None else first.thresholds.tolist()
        return out

    def table(self) -> str:
        """The rows as a text table: AP and face count per setting."""
        head = f"{'group':<13} {'value':<11}" + "".join(
            f" {s + ' AP':>10} {'faces':>6}" for s in self.settings
        )
        lines = [head, "-" * len(head)]
        for r in self.rows:
            cells = "".join(
                f" {r.ap[s]:>10.4f} {r.num_faces[s]:>6d}"
                if r.num_faces[s]
                else f" {'-':>10} {0:>6d}"
                for s in self.settings
            )
            lines.append(f"{r.group:<13} {r.value:<11}{cells}")
        return "\n".join(lines)


def _bin_names(edges: Sequence[float]) -> list[str]:
    def f(v):
        return f"{v:g}"

    names = []
    for lo, hi in itertools.pairwise(edges):
        names.append(f">={f(lo)}" if math.isinf(hi) else f"{f(lo)}-{f(hi)}")
    return names


def _check_bins(size_bins) -> tuple[float, ...]:
    try:
        edges = tuple(as_number(v, "size_bins") for v in size_bins)
    except (TypeError, ValueError):
        raise ValueError(f"size_bins must be a sequence of numbers, got {size_bins!r}") from None
    if len(edges) < 2 or any(math.isnan(v) for v in edges):
        raise ValueError(f"size_bins must hold at least two edges and no NaN, got {size_bins!r}")
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"size_bins must increase strictly, got {size_bins!r}")
    return edges


def breakdown(
    preds,
    gt,
    *,
    settings: Sequence[str] | None = None,
    attributes: Sequence[str] | None = None,
    size_bins: Sequence[float] = SIZE_BINS,
    semantics: str = "official",
    iou_threshold: float = IOU_THRESHOLD,
    num_thresholds: int = NUM_THRESHOLDS,
) -> WiderBreakdown:
    """AP per attribute value and per face-height bin, within each setting (module docstring).

    Parameters
    ----------
    preds, gt, settings, semantics, iou_threshold, num_thresholds
        As for :func:`~hambox_core.evaluation.widerface.pr_curves`.
    attributes : sequence of str, optional
        Which attribute groups; default every attribute ``gt`` carries (none for a ground
        truth without labels, such as the embedded demo set's: only sizes then).
    size_bins : sequence of float, default :data:`SIZE_BINS`
        Increasing face-height edges in pixels; an empty sequence leaves the size group out.

    Returns
    -------
    WiderBreakdown

    Raises
    ------
    ValueError
        For an attribute ``gt`` does not carry, bad bins, and everything
        :func:`~hambox_core.evaluation.widerface.pr_curves` rejects.

    Examples
    --------
    >>> gt = WiderGroundTruth.from_images(
    ...     [("0--Parade", "a")], [[[10, 10, 20, 20], [100, 100, 60, 60]]],
    ...     {"hard": [[True, True]]}, attributes={"blur": [[2, 0]]})
    >>> preds = {("0--Parade", "a"): [[10, 10, 20, 20, 0.9], [400, 400, 9, 9, 0.1]]}
    >>> b = breakdown(preds, gt, size_bins=(0, 50, float("inf")))
    >>> [(r.group, r.value, r.ap["hard"], r.num_faces["hard"]) for r in b.rows]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('all', 'all', 0.5, 2), ('blur', 'clear', 0.0, 1), ('blur', 'normal', nan, 0),
     ('blur', 'heavy', 1.0, 1), ('size', '0-50', 1.0, 1), ('size', '>=50', 0.0, 1)]
    """
    if not isinstance(gt, WiderGroundTruth):
        gt = load_ground_truth(gt)
    _check_groups(gt, settings, attributes, size_bins)
    matched = match_detections(
        preds, gt, semantics=semantics, iou_threshold=iou_threshold, num_thresholds=num_thresholds
    )
    return breakdown_matched(matched, settings=settings, attributes=attributes, size_bins=size_bins)


def _check_groups(gt, settings, attributes, size_bins):
    settings = check_settings(gt, settings)
    if attributes is None:
        attributes = [a for a in ATTRIBUTES if a in gt.attributes]
    for a in attributes:
        if a not in gt.attributes:
            raise ValueError(
                f"attributes: the ground truth has no {a!r} labels (it has "
                f"{', '.join(gt.attributes) or 'none'})"
            )
    if size_bins is None or isinstance(size_bins, str) or not hasattr(size_bins, "__len__"):
        raise ValueError(f"size_bins must be a sequence of numbers, got {size_bins!r}")
    edges = _check_bins(size_bins) if len(size_bins) else ()
    return settings, list(attributes), edges


def breakdown_matched(
    matched: MatchedDetections,
    *,
    settings: Sequence[str] | None = None,
    attributes: Sequence[str] | None = None,
    size_bins: Sequence[float] = SIZE_BINS,
) -> WiderBreakdown:
    """:func:`breakdown` of detections already matched by
    :func:`~hambox_core.evaluation.widerface.match_detections` (no second matching).

    Parameters
    ----------
    matched : MatchedDetections
    settings, attributes, size_bins
        As for :func:`breakdown`.

    Returns
    -------
    WiderBreakdown
    """
    gt = matched.gt
    settings, attributes, edges = _check_groups(gt, settings, attributes, size_bins)

    def row(group, value, subset):
        return BreakdownRow(
            group, value, {s: matched.curve(gt.keep[s] & subset, s) for s in settings}
        )

    everything = np.ones(gt.boxes.shape[0], dtype=bool)
    rows = [row("all", "all", everything)]
    for a in attributes:
        labels = gt.attributes[a]
        rows.extend(row(a, name, labels == k) for k, name in enumerate(ATTRIBUTES[a]))
    if edges:
        h = gt.boxes[:, 3]
        for k, name in enumerate(_bin_names(edges)):
            rows.append(row("size", name, (h >= edges[k]) & (h < edges[k + 1])))
    t = matched.thresholds.shape[0]
    meta = evaluation_metadata(matched.semantics, matched.iou_threshold, t)
    meta["breakdown_base"] = (
        "within each setting: a row keeps the setting's faces of its subset; every other "
        "face is ignored, as a face outside a keep list"
    )
    meta["size"] = "face height h of the .mat box, in pixels, bins [lo, hi)"
    return WiderBreakdown(rows, tuple(settings), edges, meta)


def write_breakdown(out_dir, result: WiderBreakdown, *, name: str = "HAMBox") -> list[Path]:
    """Write ``breakdown.json`` (compact, with the curves' counts) and, with matplotlib, one PR
    figure per group.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Created if needed.
    result : WiderBreakdown
    name : str, default "HAMBox"
        Method name in the figure titles.

    Returns
    -------
    list of pathlib.Path
        The files written: ``breakdown.json``, then ``breakdown_<group>.png`` per group when
        matplotlib is installed (the figures are left out without it).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "breakdown.json"
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(result.to_dict(curves=True), fh, separators=(",", ":"), allow_nan=False)
        fh.write("\n")
    written = [path]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return written
    from .plots import plot_widerface_breakdown

    for group in result.groups():
        if group == "all":
            continue
        png = out / f"breakdown_{group}.png"
        plot_widerface_breakdown(result, group, name=name, path=os.fspath(png))
        written.append(png)
    return written
