"""Precision-recall and ROC plots (matplotlib, an optional dependency).

matplotlib is imported only when a plot function is called, so that
``hambox_core.evaluation`` works without it; a call without matplotlib raises
:class:`ImportError` saying how to install it (``pip install 'hambox[plot]'``). The functions
build a ``matplotlib.figure.Figure`` directly (no ``pyplot`` state, no GUI backend) and
return it; with ``path`` they also save it.

:func:`plot_widerface_pr` draws the figure of the official WIDER FACE tool and of the HAMBox
paper's Fig. 6: one panel per setting (Easy, Medium, Hard), precision against recall, one curve
per method, legend entries ``"<method>-<AP to 3 decimals>"`` sorted by decreasing AP. Unlike
the official tool's figure, each panel says how many faces it counts, the legend sits under
the panel (never on a curve), and the axes end a little above the highest curve instead of
at 1, so that a detector whose precision stays below 0.3 is not drawn as a flat line; an
optional title names the protocol, the data set and the number of images.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "axis_limit",
    "matplotlib_figure",
    "plot_face_ap",
    "plot_fddb_roc",
    "plot_widerface_breakdown",
    "plot_widerface_pr",
]


def matplotlib_figure():
    """matplotlib's ``Figure`` class (imported on first use: plotting is optional), or an
    ``ImportError`` that says how to install it. Figures made from it need no pyplot state."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "plotting needs matplotlib, an optional dependency of hambox: "
            "pip install 'hambox[plot]' (or pip install matplotlib)"
        ) from exc
    return Figure


def axis_limit(values, *, step: float = 0.1) -> float:
    """The upper end of a precision or recall axis: a little above the largest finite value.

    The largest value times 1.05, rounded up to a multiple of ``step``, at least ``step`` and
    at most 1.

    >>> axis_limit([0.12, 0.21]), axis_limit([0.97]), axis_limit([]), axis_limit([0.6])
    (0.3, 1.0, 1.0, 0.7)
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 1.0
    top = float(np.ceil(round(finite.max() * 1.05 / step, 9)) * step)
    return round(min(1.0, max(step, top)), 10)


def _style_pr_axes(ax, title: str, *, recall_max: float = 1.0, precision_max: float = 1.0):
    ax.set_xlim(0.0, recall_max)
    ax.set_ylim(0.0, precision_max)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_title(title)
    ax.grid(True, linestyle=":", linewidth=0.8)


def _by_method(results, name: str):
    """Accept ``{setting: curve}`` for one method or ``{method: {setting: curve}}``."""
    if not isinstance(results, Mapping) or not results:
        raise ValueError("results must be a non-empty mapping")
    first = next(iter(results.values()))
    if isinstance(first, Mapping):
        return dict(results)
    return {name: results}


def plot_widerface_pr(
    results, *, name: str = "HAMBox", title: str | None = None, path=None, dpi: int = 150
):
    """WIDER FACE precision-recall curves, one panel per setting (paper Fig. 6 style).

    Parameters
    ----------
    results : mapping
        ``{setting: PRCurve}`` of one method (as :func:`~hambox_core.evaluation.widerface.pr_curves`
        returns) or ``{method: {setting: PRCurve}}`` to compare several.
    name : str, default "HAMBox"
        Legend name when ``results`` holds one method.
    title : str, optional
        The figure's title; name the protocol, the data set and the number of images there
        (the curves know only their faces). Each panel's title gives its setting, its number
        of faces and the evaluation's semantics.
    path : str or os.PathLike, optional
        Save the figure there (format from the extension).
    dpi : int, default 150

    Returns
    -------
    matplotlib.figure.Figure
        One axes per setting; each has a legend ``"<method>-<AP>"`` under it. Both axes end a
        little above the largest recall and precision of the panel's curves
        (:func:`axis_limit`), not at 1.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    fig = _pr_panels(_by_method(results, name), title)
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def _pr_panels(methods, title: str | None = None):
    """One panel per setting, one curve per method; legend ``<method>-<AP>`` by AP."""
    figure_class = matplotlib_figure()
    settings = []
    for curves in methods.values():
        settings.extend(s for s in curves if s not in settings)
    fig = figure_class(
        figsize=(4.2 * len(settings), 4.6 + 0.25 * len(methods) + (0.4 if title else 0)),
        layout="constrained",
    )
    axes = fig.subplots(1, len(settings), squeeze=False)[0]
    colour = {m: f"C{k % 10}" for k, m in enumerate(methods)}  # one colour per method
    for ax, setting in zip(axes, settings, strict=True):
        entries = [(m, c[setting]) for m, c in methods.items() if setting in c]
        entries.sort(key=lambda mc: -mc[1].ap if np.isfinite(mc[1].ap) else np.inf)
        recalls, precisions = [], []
        for method, curve in entries:
            ok = np.isfinite(curve.precision) & np.isfinite(curve.recall)
            recalls.append(curve.recall[ok])
            precisions.append(curve.precision[ok])
            ax.plot(
                curve.recall[ok],
                curve.precision[ok],
                linewidth=2.0,
                color=colour[method],
                label=f"{method}-{curve.ap:.3f}",
            )
        faces = sorted({int(c.num_faces) for _, c in entries})
        semantics = sorted({str(getattr(c, "semantics", "")) for _, c in entries} - {""})
        head = setting.capitalize()
        if len(faces) == 1:
            head += f" ({faces[0]} faces)"
        _style_pr_axes(
            ax,
            head if not semantics else f"{head}\n{', '.join(semantics)} semantics",
            recall_max=axis_limit(np.concatenate(recalls) if recalls else []),
            precision_max=axis_limit(np.concatenate(precisions) if precisions else []),
        )
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            fontsize="small",
            title="method-AP",
            title_fontsize="small",
            frameon=False,
        )
    if title:
        fig.suptitle(title)
    return fig


def plot_widerface_breakdown(
    result, group: str, *, name: str = "HAMBox", path=None, dpi: int = 150
):
    """WIDER FACE PR curves of one breakdown group: a panel per setting, a curve per value.

    Parameters
    ----------
    result : WiderBreakdown
        As :func:`~hambox_core.evaluation.widerface_breakdown.breakdown` returns.
    group : str
        ``"size"`` or an attribute (``"blur"``, ...) of ``result``.
    name : str, default "HAMBox"
        Method name in the title.
    path : str or os.PathLike, optional
        Save the figure there.
    dpi : int, default 150

    Returns
    -------
    matplotlib.figure.Figure
        Legend entries ``"<value>-<AP>"``; values without faces in a setting are left out of
        its panel.

    Raises
    ------
    ValueError
        If ``result`` has no such group.
    ImportError
        If matplotlib is not installed.
    """
    rows = result.groups().get(group)
    if not rows:
        raise ValueError(
            f"group: the breakdown has no group {group!r} (it has {list(result.groups())})"
        )
    methods = {
        f"{group}={r.value}": {s: c for s, c in r.curves.items() if c.num_faces} for r in rows
    }
    title = f"{name}: AP by {group} ({result.semantics} semantics)"
    fig = _pr_panels({m: c for m, c in methods.items() if c}, title)
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def plot_face_ap(results, *, title: str = "", path=None, dpi: int = 150):
    """AFW / PASCAL Face precision-recall curves (paper Fig. 5 a, b style).

    Parameters
    ----------
    results : mapping of str to FaceAPResult
        Per method, as :func:`~hambox_core.evaluation.ap.evaluate_face_ap` returns.
    title : str, optional
    path : str or os.PathLike, optional
    dpi : int, default 150

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure_class = matplotlib_figure()
    fig = figure_class(figsize=(5.0, 4.6), layout="constrained")
    ax = fig.subplots()
    for method, r in sorted(results.items(), key=lambda kv: -kv[1].ap):
        ok = np.isfinite(r.precision) & np.isfinite(r.recall)
        ax.plot(r.recall[ok], r.precision[ok], linewidth=2.0, label=f"{method} (AP {r.ap:.2%})")
    _style_pr_axes(ax, title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize="small", frameon=False)
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def plot_fddb_roc(
    results, *, kind: str = "discrete", max_fp: int = 2000, path=None, dpi: int = 150
):
    """FDDB ROC curves: true positive rate against false positives (paper Fig. 5 c style).

    Parameters
    ----------
    results : mapping of str to FDDBResult
        Per method, as :func:`~hambox_core.evaluation.fddb.evaluate` returns.
    kind : {"discrete", "continuous"}, default "discrete"
    max_fp : int, default 2000
        Right end of the false-positive axis.
    path : str or os.PathLike, optional
    dpi : int, default 150

    Returns
    -------
    matplotlib.figure.Figure
    """
    if kind not in ("discrete", "continuous"):
        raise ValueError(f"kind must be 'discrete' or 'continuous', got {kind!r}")
    figure_class = matplotlib_figure()
    fig = figure_class(figsize=(5.6, 4.4), layout="constrained")
    ax = fig.subplots()
    rocs = {m: getattr(r, kind) for m, r in results.items()}
    for method, roc in sorted(rocs.items(), key=lambda kv: -kv[1].tpr_at(1000)):
        fp = np.concatenate(([0], roc.false_positives))
        tpr = np.concatenate(([0.0], roc.tpr))
        ax.plot(fp, tpr, linewidth=2.0, label=f"{method} ({roc.tpr_at(1000):.4f})")
    ax.set_xlim(0, max_fp)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("False positives")
    ax.set_ylabel("True positive rate")
    ax.set_title(f"FDDB {kind} ROC")
    ax.grid(True, linestyle=":", linewidth=0.8)
    ax.legend(loc="lower right", fontsize="small")
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig
