"""What a person reads from ``detector evaluate``: the PNG plots and the Markdown summary.

Figures are built with matplotlib's object-oriented API on an Agg canvas, never
through ``pyplot``, so writing them needs no display and changes no global
backend (a notebook importing this keeps its own). Each ``*_figure`` function
takes what :func:`detector.evaluate.evaluate` returned and returns a
:class:`~matplotlib.figure.Figure` (a notebook shows it as is);
:func:`save` writes it. Titles are in English with a Vietnamese subtitle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from sklearn.metrics import precision_recall_curve

from detector._baselines import METHODS
from features.contract import LEGITIMATE_TYPES, MISUSE_TYPES

#: one colour per method
COLOURS = {
    "detector": "#1f5fbf",
    "rules": "#e08a00",
    "isolation_forest": "#7a7a7a",
    "single_dossier": "#2a9d5c",
}
DPI = 130
#: the unit-share plot shows at most this many unit-months (the largest claimed-genuine gaps)
MAX_UNIT_ROWS = 40


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG and return the path."""
    fig.savefig(path, dpi=DPI, facecolor="white", bbox_inches="tight", pad_inches=0.2)
    return Path(path)


def _titles(fig: Figure, title: str, subtitle: str) -> None:
    """Title and Vietnamese subtitle in the top 0.75 inch (leave ``top=_top(fig)``)."""
    h = fig.get_figheight()
    fig.suptitle(title, fontsize=13, fontweight="bold", y=1 - 0.12 / h, va="top")
    fig.text(
        0.5,
        1 - 0.42 / h,
        subtitle,
        ha="center",
        va="top",
        fontsize=10.5,
        style="italic",
        color="#444444",
    )


def _top(height: float) -> float:
    return 1 - 0.85 / height


def pr_curves_figure(result: dict[str, Any]) -> Figure:
    """Precision-recall curves of every method on one axes, each flag threshold marked."""
    metrics, scores = result["metrics"], result["scores"]
    target = scores["proxy_type"].isin(MISUSE_TYPES).to_numpy()
    fig = _figure(8, 6.6)
    ax = fig.subplots()
    fig.subplots_adjust(top=_top(6.6), bottom=0.1, left=0.1, right=0.97)
    for key, name in methods_of(metrics).items():
        m = metrics["methods"][key]
        precision, recall, _ = precision_recall_curve(target, scores[f"score_{key}"].to_numpy())
        lw = 2.6 if key == "detector" else 1.6
        ax.step(
            recall,
            precision,
            where="post",
            color=COLOURS[key],
            lw=lw,
            label=f"{name}  (AP {m['average_precision']:.3f})",
            zorder=3 if key == "detector" else 2,
        )
        if m["precision"] is not None:
            ax.plot(
                m["recall"],
                m["precision"],
                "o",
                ms=9,
                color=COLOURS[key],
                mec="black",
                mew=1.0,
                zorder=4,
            )
    base = target.mean()
    ax.axhline(base, color="#999999", ls=":", lw=1)
    ax.annotate(
        f"share of misuse = {base:.1%}",
        (0.99, base),
        xytext=(0, 4),
        textcoords="offset points",
        ha="right",
        fontsize=8.5,
        color="#666666",
    )
    ax.plot([], [], "o", ms=9, color="#dddddd", mec="black", label="flag threshold of each method")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Recall — share of misuse dossiers found (độ phủ)")
    ax.set_ylabel("Precision — share of flags that are misuse (độ chính xác)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=9.5, framealpha=0.95)
    r = metrics["rows"]
    _titles(
        fig,
        f"Misuse detection on held-out months {', '.join(metrics['split']['holdout_months'])}",
        f"Đường cong độ chính xác – độ phủ, {r['holdout']:,} hồ sơ "
        f"({r['holdout_misuse']:,} sai phạm), đặc trưng tại thời điểm {metrics['at']}",
    )
    return fig


def confusion_figure(result: dict[str, Any]) -> Figure:
    """The detector's proxy_type confusion matrix, normalised by row (truth), annotated."""
    metrics = result["metrics"]
    conf = metrics["methods"]["detector"]["confusion"]
    labels, counts = conf["labels"], np.array(conf["matrix"], dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    fig = _figure(8.2, 7.2)
    ax = fig.subplots()
    fig.subplots_adjust(top=_top(7.2), bottom=0.16, left=0.24, right=0.92)
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j] == 0:
                continue
            colour = "white" if share[i, j] > 0.55 else "black"
            v = share[i, j]
            pct = "<0.1%" if v < 0.001 else ">99.9%" if 0.999 < v < 1 else f"{v:.1%}"
            ax.text(
                j,
                i,
                f"{pct}\n({int(counts[i, j]):,})",
                ha="center",
                va="center",
                fontsize=8.5,
                color=colour,
            )
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels, rotation=30, ha="right")
    ax.set_yticks(
        ticks, [f"{c}  (n={int(n):,})" for c, n in zip(labels, totals[:, 0], strict=True)]
    )
    # a line between the legitimate and the misuse types
    k = len(labels) - len(MISUSE_TYPES) - 0.5
    ax.axhline(k, color="#c0392b", lw=1.2)
    ax.axvline(k, color="#c0392b", lw=1.2)
    ax.set_xlabel("Predicted proxy_type (loại dự đoán)")
    ax.set_ylabel("True proxy_type (loại thực tế)")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="share of the row (tỷ lệ theo hàng)")
    _titles(
        fig,
        "Detector: proxy_type confusion matrix, held-out months",
        "Ma trận nhầm lẫn loại người nộp (theo hàng: tỷ lệ của từng loại thực tế)",
    )
    return fig


def unit_share_figure(result: dict[str, Any]) -> Figure:
    """Per unit x held-out month: claimed, true genuine and estimated genuine online share.

    Left, a dot plot sorted by claimed share; right, each method's error.
    """
    metrics = result["metrics"]
    df = result["unit_share"].copy()
    note = ""
    if len(df) > MAX_UNIT_ROWS:
        gap = df["claimed_online_share"] - df["true_genuine_online_share"]
        df = df.loc[gap.nlargest(MAX_UNIT_ROWS).index]
        note = f" — the {MAX_UNIT_ROWS} largest claimed–genuine gaps"
    df = df.sort_values("claimed_online_share").reset_index(drop=True)
    names = df["unit_name"] if "unit_name" in df else df["unit_id"]
    ylabels = [
        f"{_short(u, name)} · {m}  (n={n:,})"
        for u, name, m, n in zip(df["unit_id"], names, df["month"], df["dossiers"], strict=True)
    ]
    height = max(5.5, 1.8 + 0.32 * len(df))
    fig = _figure(13, height)
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1.25], "wspace": 0.08})
    fig.subplots_adjust(top=_top(height), bottom=0.75 / height, left=0.3, right=0.85)
    yy = np.arange(len(df))
    ax.hlines(
        yy, df["true_genuine_online_share"], df["claimed_online_share"], color="#bbbbbb", lw=3
    )
    ax.plot(
        df["claimed_online_share"],
        yy,
        "o",
        mfc="white",
        mec="#c0392b",
        mew=1.8,
        ms=8,
        label="claimed (báo cáo)",
    )
    ax.plot(
        df["true_genuine_online_share"],
        yy,
        "o",
        color="black",
        ms=7,
        label="true genuine (thực tế)",
    )
    ax.plot(
        df["estimated_detector"],
        yy,
        "D",
        color=COLOURS["detector"],
        ms=5.5,
        label="estimated genuine, detector (ước tính)",
    )
    ax.set_yticks(yy, ylabels, fontsize=8.5)
    ax.set_ylim(-0.7, len(df) - 0.3)
    ax.set_xlabel("Online share of the unit's dossiers (tỷ lệ hồ sơ trực tuyến)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8.5, framealpha=0.95)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))

    keys = list(methods_of(metrics))
    mean = [100 * metrics["methods"][k]["unit_share"]["mean_abs_error"] for k in keys]
    worst = [100 * metrics["methods"][k]["unit_share"]["max_abs_error"] for k in keys]
    by = np.arange(len(keys))
    bx.barh(by - 0.2, mean, height=0.38, color=[COLOURS[k] for k in keys], label="mean")
    bx.barh(
        by + 0.2,
        worst,
        height=0.38,
        color=[COLOURS[k] for k in keys],
        alpha=0.4,
        hatch="//",
        label="max",
    )
    for y0, v in zip(by, mean, strict=True):
        bx.annotate(
            f"{v:.2f}",
            (v, y0 - 0.2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    for y0, v in zip(by, worst, strict=True):
        bx.annotate(
            f"{v:.2f}",
            (v, y0 + 0.2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    bx.set_yticks(by, [METHODS[k] for k in keys], fontsize=8.5)
    bx.yaxis.tick_right()
    bx.invert_yaxis()
    bx.set_xlim(0, max([*worst, 1.0]) * 1.3)
    bx.set_xlabel("|estimated − true| genuine share, pp\n(sai số, điểm phần trăm)")
    bx.set_title("Error per unit-month\n(sai số theo đơn vị-tháng)", fontsize=10)
    bx.legend(loc="upper right", fontsize=8)
    bx.grid(axis="x", alpha=0.3)
    _titles(
        fig,
        "Claimed vs genuine online share per unit, held-out months" + note,
        "Tỷ lệ trực tuyến báo cáo, thực tế và ước tính theo đơn vị và tháng",
    )
    _fit_margins(fig, ax, bx)
    return fig


def _short(unit_id: str, name: str, width: int = 30) -> str:
    """``unit_id name``, the name cut to ``width`` characters."""
    if not name or name == unit_id:
        return unit_id
    return f"{unit_id} {name if len(name) <= width else name[: width - 1] + '…'}"


def _fit_margins(fig: Figure, left_ax: Axes, right_ax: Axes) -> None:
    """Make room for the tick labels left of ``left_ax`` and right of ``right_ax``."""
    fig.canvas.draw()
    width = fig.get_figwidth() * fig.dpi
    need_left = max(t.get_window_extent().width for t in left_ax.get_yticklabels())
    need_right = max(t.get_window_extent().width for t in right_ax.get_yticklabels())
    fig.subplots_adjust(
        left=(need_left + 0.2 * fig.dpi) / width, right=1 - (need_right + 0.2 * fig.dpi) / width
    )


# ---------------------------------------------------------------------- summary
def _pct(v: Any, digits: int = 1) -> str:
    return "—" if v is None else f"{100 * v:.{digits}f}%"


def _num(v: Any) -> str:
    return "—" if v is None else f"{v:.3f}"


def headline_rows(metrics: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The side-by-side headline metrics: (row name, one formatted cell per method)."""
    ms = [metrics["methods"][k] for k in methods_of(metrics)]
    cap = metrics["capacity"]
    rows: list[tuple[str, list[str]]] = [
        ("average precision (misuse)", [_num(m["average_precision"]) for m in ms]),
        (f"precision in top {cap:.0%}", [_num(m["precision_at_capacity"]) for m in ms]),
        ("flagged", [f"{m['flagged']:,} ({_pct(m['flag_rate'], 2)})" for m in ms]),
        ("precision at flag threshold", [_num(m["precision"]) for m in ms]),
        ("recall: misuse", [_pct(m["recall"]) for m in ms]),
    ]
    rows += [(f"recall: {c}", [_pct(m["recall_by_type"][c]) for m in ms]) for c in MISUSE_TYPES]
    rows += [
        (f"flag rate: {c}", [_pct(m["flag_rate_by_type"][c], 2) for m in ms])
        for c in LEGITIMATE_TYPES
    ]
    rows.append(
        (
            "flag rate: legitimate proxies",
            [_pct(m.get("legitimate_proxies_flag_rate"), 2) for m in ms],
        )
    )
    if "flag_rate_self_kiosk" in ms[0]:
        rows.append(
            ("flag rate: kiosk self-service", [_pct(m["flag_rate_self_kiosk"], 2) for m in ms])
        )
    if "fairness" in ms[0]:
        for group, name in (
            ("other_legitimate", "other legitimate"),
            ("owner_70_plus", "owners aged 70+"),
            ("child_by_parent", "children filed by a parent"),
        ):
            cells = []
            for m in ms:
                g = m["fairness"][group]
                ratio = g.get("ratio")
                cells.append(
                    _pct(g["flag_rate"], 2) + ("" if ratio is None else f" ({ratio:.1f}x)")
                )
            rows.append((f"flag rate: {name}", cells))
    rows += [
        (
            "unit genuine-share error: mean",
            [f"{100 * m['unit_share']['mean_abs_error']:.2f} pp" for m in ms],
        ),
        (
            "unit genuine-share error: max",
            [f"{100 * m['unit_share']['max_abs_error']:.2f} pp" for m in ms],
        ),
    ]
    return rows


def methods_of(metrics: dict[str, Any]) -> dict[str, str]:
    """The methods an evaluation ran (a baseline that needs labels is absent without them)."""
    return {k: name for k, name in METHODS.items() if k in metrics["methods"]}


def summary_markdown(metrics: dict[str, Any]) -> str:
    """A human summary of :func:`detector.evaluate.evaluate`'s metrics, as Markdown."""
    s, r = metrics["split"], metrics["rows"]
    lines = [
        f"# Evaluation on held-out months ({', '.join(s['holdout_months'])}), features at {metrics['at']}",
        "",
        f"Trained on dossiers submitted before {s['split_at'][:10]} "
        f"({r['train_labelled']:,} labelled, {r['train_misuse']:,} misuse); "
        f"judged on {r['holdout']:,} labelled held-out dossiers ({r['holdout_misuse']:,} misuse). "
        f"Labelled period: {s['labelled_period'][0][:10]} to {s['labelled_period'][1][:10]}.",
        "",
    ]
    if "condition" in metrics:
        c, policy = metrics["condition"], metrics["policy"]
        lines += [
            f"Label condition: **{c['name']}** ({c['training_labels']:,} training labels). "
            f"Detector: {policy['kind']}: {policy['why']}; threshold judged on "
            f"{policy['threshold_judged_on']}.",
            "",
        ]
    lines += [
        "| metric | " + " | ".join(methods_of(metrics).values()) + " |",
        "|---|" + "---:|" * len(methods_of(metrics)),
    ]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in headline_rows(metrics)]
    lines += ["", "Flag thresholds:", ""]
    lines += [f"- {METHODS[k]}: {m['threshold_policy']}" for k, m in metrics["methods"].items()]
    lines += ["", "Unit genuine online share estimates:", ""]
    lines += [
        f"- {METHODS[k]}: {m['unit_share']['estimate']}" for k, m in metrics["methods"].items()
    ]
    if metrics["targets"]:
        lines += ["", "## Detector against the targets", "", "| metric | target | value | met |"]
        lines += ["|---|---|---:|---|"]
        lines += [
            f"| {t['metric']} | {t['target']} | {t['value']:.4f} | {'yes' if t['met'] else 'NO'} |"
            for t in metrics["targets"]
        ]
    lines += ["", "## Detector against the best baseline", ""]
    lines += ["| metric | detector | best baseline | margin |", "|---|---:|---|---:|"]
    for path, v in metrics["versus_baselines"].items():
        tie = "" if v["detector_ahead"] else (" (tie)" if v["margin"] == 0 else " (behind)")
        lines.append(
            f"| {path} | {v['detector']:.4f} | {METHODS[v['best_baseline']]}: "
            f"{v['best_baseline_value']:.4f} | {v['margin']:+.4f}{tie} |"
        )
    lines.append("")
    return "\n".join(lines)
