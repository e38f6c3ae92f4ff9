"""Figure and tables: HAMBox's online mining during training on the embedded set (issue 17).

Run by the docs build (``_ext/hambox_docs.py`` calls :func:`main`) or by hand::

    python docs/scripts/fig_hambox_effect.py [OUT_DIR]

Everything comes from ``docs/data/hambox_effect.json``, the committed summaries of the study's
runs (``examples/hambox_effect.py --collect``); nothing is trained here. Written:

``hambox_effect.png``
    The paper's Fig. 3 for the study's rows: compensated anchors per outer face, the mean IoU
    of their predicted boxes, the outer faces' best IoU over the anchors HAMBox mines from, and
    the share of high-quality anchors step one leaves unmatched, against the iteration
    (per-batch values averaged in bins, then over seeds).
``hambox_effect_table.rst``
    WIDER FACE AP (official evaluation) per row, mean ± sample standard deviation over seeds.
``hambox_effect_analyze.rst``
    ``hambox analyze`` (the paper's Fig. 2) on the final models, mean over seeds.
``hambox_effect_gradients.rst``
    The global gradient norm before clipping on the diagnosed training batches after the first
    third of training, with and without compensated anchors in the batch, per row.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "hambox_effect.json"
sys.path.insert(0, str(HERE.parents[1] / "examples"))
import hambox_effect as study  # noqa: E402  (examples/ is not a package)

BINS = 12  # per run: its iterations in this many bins (a batch holds few outer faces: noisy)
STYLE = {
    "sms": ("#444444", "-"),
    "sms_oam_t08": ("#1f77b4", "-"),
    "sms_oam_ral_t08": ("#d62728", "-"),
    "sms_oam_t05": ("#1f77b4", "--"),
    "sms_oam_ral_t05": ("#d62728", "--"),
    "sms_oam_ral_npos_t08": ("#2ca02c", "-"),
    "sms_oam_ral_npos_t05": ("#2ca02c", "--"),
}
LABELS = {
    "sms": "SMS + focal",
    "sms_oam_t08": "SMS + OAM, T = 0.8",
    "sms_oam_ral_t08": "SMS + OAM + RAL, T = 0.8",
    "sms_oam_t05": "SMS + OAM, T = 0.5",
    "sms_oam_ral_t05": "SMS + OAM + RAL, T = 0.5",
    "sms_oam_ral_npos_t08": "SMS + OAM + RAL / N_pos, T = 0.8",
    "sms_oam_ral_npos_t05": "SMS + OAM + RAL / N_pos, T = 0.5",
}


def load(path=DATA) -> list[dict]:
    """The study's run summaries (``[]`` when the file holds none)."""
    return json.loads(Path(path).read_text()).get("runs", [])


def seed_mean_curve(runs, key: str) -> tuple[list[float], list[float]]:
    """``key`` binned per run (:func:`hambox_effect.binned`), then averaged over the runs per
    bin (runs of a group share their iterations)."""
    width = max(1, runs[0]["iters"] // BINS)
    per_bin: dict[float, list[float]] = {}
    for run in runs:
        for x, y in zip(*study.binned(run["curve"], key, width), strict=True):
            per_bin.setdefault(x, []).append(y)
    xs = sorted(per_bin)
    return xs, [statistics.fmean(per_bin[x]) for x in xs]


def make_figure(summaries):
    import matplotlib.pyplot as plt

    panels = (
        ("compensated_per_outer_face", "(a) compensated anchors per outer face", False),
        ("compensated_mean_iou", "(b) IoU of compensated anchors' predicted boxes", False),
        ("outer_best_unmatched_iou", "(c) outer faces' best IoU, unmatched anchors", True),
        ("hq_unmatched_share", "(d) anchors of predicted IoU >= 0.5 unmatched at step one", True),
    )
    fig, axes = plt.subplots(2, 2, figsize=(10.0, 7.6), constrained_layout=True)
    axes = axes.ravel()
    groups = study.group_runs(summaries)
    for ax, (key, title, all_rows) in zip(axes, panels, strict=True):
        for (row, _iters), runs in groups.items():
            if not all_rows and study.ROWS[row][1] is None:
                continue  # SMS compensates nothing
            xs, ys = seed_mean_curve(runs, key)
            color, ls = STYLE[row]
            seeds = f" ({len(runs)} seeds)" if len(runs) > 1 else ""
            ax.plot(xs, ys, color=color, ls=ls, lw=1.4, label=LABELS[row] + seeds)
        if groups:
            for step in next(iter(groups.values()))[0]["lr_steps"]:
                ax.axvline(step, color="#999999", lw=0.8, ls=":")
        if key != "compensated_per_outer_face":
            ax.set_ylim(0, 1)
        if key == "outer_best_unmatched_iou":
            for thr in (0.5, 0.8):
                ax.axhline(thr, color="#bbbbbb", lw=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    if groups:
        axes[3].legend(fontsize=8, loc="lower right")
    else:
        for ax in axes:
            ax.text(0.5, 0.5, "no runs in docs/data/hambox_effect.json", ha="center")
    fig.suptitle(
        "HAMBox mining during training on the embedded set\n(ResNet-18 from scratch, "
        "training batches; dotted: learning-rate decays)",
        fontsize=11,
    )
    return fig


def _list_table(header, rows, widths=None) -> str:
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append(f"   :widths: {' '.join(map(str, widths))}")
    lines.append("")
    for cells in [header, *rows]:
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {c}" for c in cells[1:]]
    return "\n".join(lines) + "\n"


def table_rst(summaries) -> str:
    """The AP table (one line per row and budget)."""
    rows = []
    for (row, iters), runs in study.group_runs(summaries).items():
        st = study.row_stats(runs)
        comp = st["late_compensated"]
        rows.append(
            [
                LABELS[row],
                str(iters),
                ", ".join(map(str, st["seeds"])),
                *(study.format_ap(*st["ap"][k]) for k in study.SETTINGS),
                "-" if math.isnan(comp) else f"{comp:.2f}",
            ]
        )
    header = ["row", "iterations", "seeds", "easy", "medium", "hard", "comp. / outer face"]
    return _list_table(header, rows)


def _mean(runs, get):
    values = [get(r["analyze"]) for r in runs if "analyze" in r]
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else math.nan


ANALYZE_ROWS = (
    ("correct detections (IoU > 0.5, score > 0.5)", lambda a: a["correct"], "{:.0f}"),
    ("... regressed from step-one anchors (paper: 11 %)", lambda a: a["matched_share"], "{:.1%}"),
    ("HAMBox: compensated anchors", lambda a: a["compensated"]["hambox"]["anchors"], "{:.0f}"),
    ("HAMBox: their predicted boxes' mean IoU", lambda a: a["compensated"]["hambox"]["mean_iou"],
     "{:.3f}"),
    ("DMS: compensated anchors", lambda a: a["compensated"]["dms"]["anchors"], "{:.0f}"),
    ("DMS: their predicted boxes' mean IoU", lambda a: a["compensated"]["dms"]["mean_iou"],
     "{:.3f}"),
    ("high-quality anchors left unmatched (paper: 65 %)", lambda a: a["hq_unmatched_share"],
     "{:.1%}"),
)  # fmt: skip


def analyze_rst(summaries) -> str:
    """``hambox analyze`` on every row's final models, one column per row."""
    groups = [
        (row, runs)
        for (row, _), runs in study.group_runs(summaries).items()
        if any("analyze" in r for r in runs)
    ]
    header = ["measured on the validation split"] + [
        f"{LABELS[row]} ({len(runs)} seed{'s' if len(runs) > 1 else ''})" for row, runs in groups
    ]
    rows = []
    for name, get, fmt in ANALYZE_ROWS:
        cells = []
        for _, runs in groups:
            v = _mean(runs, get)
            cells.append("-" if math.isnan(v) else fmt.format(v))
        rows.append([name, *cells])
    return _list_table(header, rows)


def _median(values) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def gradients_rst(summaries) -> str:
    """Per row: how many diagnosed batches after the first third of training had compensated
    anchors, and the median gradient norm (before clipping) of those with and those without
    (seeds pooled)."""
    rows = []
    for (row, iters), runs in study.group_runs(summaries).items():
        split = {"with": [], "without": []}
        for run in runs:
            for k, v in study.gradient_split(run["curve"], iters / 3).items():
                split[k] += v
        n = len(split["with"]) + len(split["without"])
        if not n:
            continue
        rows.append(
            [
                LABELS[row],
                f"{len(split['with'])} of {n}",
                _median(split["with"]),
                _median(split["without"]),
            ]
        )
    header = [
        "row",
        "batches with compensated anchors",
        "median gradient norm, with",
        "median gradient norm, without",
    ]
    return _list_table(header, rows)


def main(out_dir) -> list[Path]:
    """Write the figure and the two tables into ``out_dir``; return their paths."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summaries = load()
    fig = make_figure(summaries)
    png = out / "hambox_effect.png"
    fig.savefig(png, dpi=100, metadata={"Software": None})
    plt.close(fig)
    table = out / "hambox_effect_table.rst"
    table.write_text(table_rst(summaries))
    analysis = out / "hambox_effect_analyze.rst"
    analysis.write_text(analyze_rst(summaries))
    gradients = out / "hambox_effect_gradients.rst"
    gradients.write_text(gradients_rst(summaries))
    return [png, table, analysis, gradients]


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    print(*main(sys.argv[1] if len(sys.argv) > 1 else "docs/_generated"), sep="\n")
