"""PNG figures of a run, readable when projected in a classroom (large fonts, few lines).

Each ``*_figure`` function draws one chart into a matplotlib ``Figure`` (no pyplot state, so
runs in threads or processes do not share figures); :func:`render_run_figures` turns them
into PNG bytes (embedded by the report) and :func:`write_run_figures` writes them to
``run_dir/figures`` atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from simulation.htmlpage import png_bytes
from simulation.metrics import lorenz
from simulation.results import atomic_write

STYLE = {
    "font.size": 14,
    "axes.titlesize": 16,
    "axes.titleweight": "bold",
    "axes.labelsize": 14,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 12,
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
DPI = 100  # PNG pixels per inch: a 10 x 5.6 in figure is 1000 x 560 px

# Colour-blind safe pair for gross (blue) and net (orange/red) money throughout.
GROSS = "#2166ac"
NET = "#d6604d"
NET_STRICT = "#b2182b"
GREY = "#7f7f7f"

# Genealogies with more joiners than this are not drawn (the dots would merge).
MAX_TREE_NODES = 3000

# name -> (file name, caption used by the report)
FIGURES: dict[str, tuple[str, str]] = {
    "penetration_joins": (
        "penetration_joins.png",
        "Joins per month (bars) with the fitted Bass curve (dashed), and penetration: the "
        "share of the whole market who ever joined (red line, right axis).",
    ),
    "members_by_level": (
        "members_by_level.png",
        "Active distributors each month, stacked by their level at joining (1 = founders).",
    ),
    "lorenz": (
        "lorenz.png",
        "Lorenz curves over everyone who ever joined, poorest first: gross commissions and "
        "net income after all costs. The further below the diagonal, the more concentrated.",
    ),
    "income_by_level": (
        "income_by_level.png",
        "Net income so far of everyone who joined, by level at joining: the box holds the "
        "middle half, the line is the median, whiskers reach the 5th and 95th percentiles.",
    ),
    "income_disclosure": (
        "income_disclosure.png",
        "Left: the income disclosure statement in the form companies publish (distributors "
        "active the whole year, gross commissions). Right: what such statements leave out: "
        "costs, and everyone who joined or quit during the year.",
    ),
    "genealogy": (
        "genealogy.png",
        "Who recruited whom: every person who joined, level at joining as depth (founders at "
        "the top), coloured by net income so far; squares are people who quit.",
    ),
}


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _png(fig: Figure) -> bytes:
    # zlib level 3: about a third faster than the default 6 for 1% larger files.
    return png_bytes(fig, DPI, pil_kwargs={"compress_level": 3})


def _usd(x: float, _pos: object = None) -> str:
    sign = "−" if x < 0 else ""
    x = abs(x)
    if x >= 1e6:
        return f"{sign}${x / 1e6:.1f}M"
    if x >= 1e4:
        return f"{sign}${x / 1e3:.0f}k"
    return f"{sign}${x:,.0f}"


def _float(x: object) -> float:
    """A table cell as a float; 0 for a missing value (an empty population draws no bar)."""
    return 0.0 if pd.isna(x) else float(x)


def _round2(x: float) -> float:
    """``x`` cut to two significant digits towards zero (tidy ticks that stay in range)."""
    if x == 0:
        return 0.0
    unit = 10.0 ** (int(np.floor(np.log10(abs(x)))) - 1)
    return float(np.sign(x) * np.floor(abs(x) / unit) * unit)


# --------------------------------------------------------------------------------------------
# saturation


def penetration_figure(monthly: pd.DataFrame, bass=None) -> Figure:
    """Joins per month with the Bass fit, and penetration (share of the market ever joined).

    Args:
        monthly: the monthly table (``month``, ``joined``, ``penetration``).
        bass: a :class:`simulation.metrics.BassFit` fitted to months 1..T (month 0 is the
            founders), or None.
    """
    with matplotlib.rc_context(STYLE):
        fig = _figure(10, 5.6)
        ax1 = fig.add_subplot()
        m = monthly["month"].to_numpy()
        ax1.bar(m, monthly["joined"], color="#9ecae1", label="joined this month")
        ax1.set_xlabel("month")
        ax1.set_ylabel("joins per month")
        if bass is not None and bass.ok:
            label = f"Bass curve fit (p = {bass.p:.2g}, q = {bass.q:.2f})"
            ax1.plot(m[1:], bass.fitted, color="#08306b", lw=2.5, ls="--", label=label)
        ax2 = ax1.twinx()
        ax2.plot(m, 100 * monthly["penetration"], color="#d62728", lw=3, label="penetration")
        ax2.set_ylabel("ever joined, % of market")
        ax2.set_ylim(0, max(5.0, 110 * monthly["penetration"].max()))
        ax2.spines["right"].set_visible(True)
        h1, l1 = ax1.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        fig.legend(h1 + h2, l1 + l2, loc="outside lower center", ncol=3, frameon=False)
        fig.suptitle(
            "Recruiting rises, peaks and dies out as the market saturates",
            fontsize=STYLE["axes.titlesize"],
            fontweight="bold",
        )
        return fig


def members_by_level_figure(levels: pd.DataFrame, max_levels: int = 12) -> Figure:
    """Active distributors by level at joining over time (stacked areas)."""
    with matplotlib.rc_context(STYLE):
        fig = _figure(10, 5.6)
        ax = fig.add_subplot()
        if not levels.empty:
            wide = levels.pivot_table(
                index="month", columns="level", values="members", aggfunc="sum", fill_value=0
            )
            if wide.shape[1] > max_levels:
                deep = wide.loc[:, wide.columns >= max_levels].sum(axis=1)
                wide = wide.loc[:, wide.columns < max_levels]
                wide[f"{max_levels}+"] = deep
            colors = matplotlib.colormaps["viridis"](np.linspace(0, 1, wide.shape[1]))
            ax.stackplot(
                wide.index, wide.T.values, labels=[str(c) for c in wide.columns], colors=colors
            )
            handles, labels = ax.get_legend_handles_labels()
            ax.legend(
                handles[::-1],
                labels[::-1],
                title="level",
                loc="upper left",
                bbox_to_anchor=(1.0, 1.0),
                fontsize=11,
            )
        ax.set_xlabel("month")
        ax.set_ylabel("active distributors")
        ax.set_title("Active distributors by level at joining")
        return fig


# --------------------------------------------------------------------------------------------
# income


def lorenz_figure(net: np.ndarray, gross: np.ndarray) -> Figure:
    """Lorenz curves of cumulative gross commissions and of net income.

    A Lorenz curve divides the running sum by the total. When net incomes add up to a loss
    (the usual case) a share of a negative total means nothing, so :func:`lorenz` divides by
    the sum of absolute values instead; the axis label and a note then say so.
    """
    net = np.asarray(net, dtype=np.float64)
    gross = np.asarray(gross, dtype=np.float64)
    net_total = float(net.sum()) if net.size else 0.0
    with matplotlib.rc_context(STYLE):
        fig = _figure(8, 6.6)
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color=GREY, lw=1.5, ls=":", label="perfect equality")
        if gross.size and gross.sum() > 0:
            x, y = lorenz(gross, max_points=2000)
            ax.plot(x, y, lw=3.5, color=GROSS, label="gross commissions")
        if net.size and np.abs(net).sum() > 0:
            x, y = lorenz(net, max_points=2000)
            ax.plot(x, y, lw=3.5, color=NET, label="net income (after all costs)")
            if net_total <= 0:
                ax.annotate(
                    f"net incomes add up to a loss:\nthe curve ends at {y[-1]:.2f}\n"
                    "(total net ÷ sum of |net|)",
                    xy=(1.0, y[-1]),
                    xytext=(0.42, y[-1] * 0.55),
                    fontsize=12,
                    arrowprops={"arrowstyle": "->", "color": NET},
                )
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("share of everyone who joined (poorest first)")
        if net_total > 0 or not net.size:
            ax.set_ylabel("share of the total money")
        else:
            ax.set_ylabel("running sum ÷ total (net: ÷ sum of |net|)")
        ax.set_title("Who gets the money")
        ax.legend(loc="upper left")
        return fig


def income_by_level_figure(dist: pd.DataFrame, max_levels: int = 12) -> Figure:
    """Net income by level at joining (box plots, whiskers 5-95%, head count per level)."""
    with matplotlib.rc_context(STYLE):
        fig = _figure(10, 5.6)
        ax = fig.add_subplot()
        if not dist.empty:
            lv = np.minimum(dist["level"].to_numpy(), max_levels)
            net = dist["net_income"].to_numpy()
            groups = [net[lv == k] for k in range(1, max_levels + 1)]
            labels = [str(k) if k < max_levels else f"{k}+" for k in range(1, max_levels + 1)]
            keep = [i for i, g in enumerate(groups) if g.size]
            ax.boxplot(
                [groups[i] for i in keep],
                tick_labels=[f"{labels[i]}\nn={groups[i].size}" for i in keep],
                whis=(5, 95),
                showfliers=False,
                patch_artist=True,
                boxprops={"facecolor": "#fddbc7", "edgecolor": "black"},
                medianprops={"color": NET_STRICT, "lw": 2.5},
            )
            ax.tick_params(axis="x", labelsize=11)
        ax.axhline(0, color="black", lw=1.2, ls="--")
        ax.yaxis.set_major_formatter(FuncFormatter(_usd))
        ax.set_xlabel("level at joining (1 = founders); n = people who joined at that level")
        ax.set_ylabel("net income so far")
        ax.set_title("Net income by level (below the dashed line = lost money)")
        return fig


def disclosure_figure(ids: pd.DataFrame, rank_names: dict[int, str] | None = None) -> Figure:
    """The income disclosure statement as a chart: the published form beside the full picture.

    Args:
        ids: the table of :func:`simulation.metrics.income_disclosure`.
        rank_names: rank index -> name (-1 = no rank) for the labels.
    """
    names = {-1: "no rank", **(rank_names or {})}
    h = 0.38
    with matplotlib.rc_context(STYLE):
        fig = _figure(14, 6.2)
        left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
        full = ids[ids["population"] == "active_full_year"]
        pub = full[full["rank"].notna()]
        y = np.arange(len(pub))
        bars = left.barh(y - h / 2, pub["mean_gross"], h, color=GROSS, label="mean")
        left.bar_label(bars, labels=[_usd(v) for v in pub["mean_gross"]], padding=3)
        bars = left.barh(y + h / 2, pub["median_gross"], h, color="#92c5de", label="median")
        left.bar_label(bars, labels=[_usd(v) for v in pub["median_gross"]], padding=3)
        left.set_yticks(
            y,
            [
                f"{names.get(int(r['rank']), str(r['rank']))}\n{r['share_of_population']:.0%} "
                f"of them\n{r['share_no_gross']:.0%} earned $0"
                for _, r in pub.iterrows()
            ],
        )
        left.set_ylim(max(len(pub), 2.5) - 0.5, -0.5)
        if len(pub) == 1:
            left.text(
                0.5,
                0.3,
                "This plan has no ranks,\nso the statement has one row.",
                transform=left.transAxes,
                ha="center",
                color=GREY,
            )
        left.margins(x=0.25)
        left.xaxis.set_major_formatter(FuncFormatter(_usd))
        left.xaxis.set_major_locator(MaxNLocator(4))
        left.set_xlabel("gross commissions in the year, per person")
        n_pub = int(full.loc[full["rank"].isna(), "count"].iloc[0]) if len(full) else 0
        left.set_title(f"What companies publish\n{n_pub} distributors active all year, by rank")
        left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
        left.axvline(0, color="black", lw=0.8)

        allr = ids[ids["rank"].isna()].set_index("population")
        order = [
            ("active_full_year", "active all year"),
            ("joined_during_year", "joined in the year"),
            ("quit_during_year", "quit in the year"),
            ("all_participants", "everyone in the year"),
        ]
        rows = [(label, allr.loc[p]) for p, label in order if p in allr.index]
        y = np.arange(len(rows))
        gross = np.array([_float(r["mean_gross"]) for _, r in rows])
        net = np.array([_float(r["mean_net"]) for _, r in rows])
        bars = right.barh(y - h / 2, gross, h, color=GROSS, label="mean gross commissions")
        right.bar_label(bars, labels=[_usd(v) for v in gross], padding=3, fontsize=12)
        bars = right.barh(y + h / 2, net, h, color=NET, label="mean net income (after costs)")
        right.bar_label(bars, labels=[_usd(v) for v in net], padding=3, fontsize=12)
        right.set_yticks(
            y,
            [
                f"{label}\n{int(r['count'])} people, "
                + (f"{r['share_net_loss']:.0%} lost money" if r["count"] else "none")
                for label, r in rows
            ],
        )
        right.invert_yaxis()
        right.margins(x=0.18)
        right.axvline(0, color="black", lw=1)
        right.xaxis.set_major_formatter(FuncFormatter(_usd))
        right.xaxis.set_major_locator(MaxNLocator(5))
        right.set_xlabel("money in the year, per person")
        right.set_title("What they leave out\ncosts, and everyone who joined or quit")
        right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
        return fig


# --------------------------------------------------------------------------------------------
# genealogy


def tree_layout(
    ids: np.ndarray, enroller: np.ndarray, level: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """x, y positions of a recruitment forest: y = level, x = centre of the subtree's span.

    Level by level over arrays (no recursion): leaf counts are summed bottom-up with
    ``np.add.at``; then, top-down, each person's span starts where its parent's does plus the
    spans of its earlier siblings (siblings in id order, i.e. the order in the table), so every
    subtree occupies a contiguous interval and edges never cross.

    Args:
        ids: person ids, ``int[n]`` (unique).
        enroller: id of the person who recruited each one, ``int[n]`` (-1 for roots).
        level: level at joining, ``int[n]`` (a recruit is one level below its enroller).

    Returns:
        ``(x, y)``, each ``float64[n]``: x in [0, leaves], y = level.
    """
    ids = np.asarray(ids, dtype=np.int64)
    n = ids.size
    order = np.argsort(ids)
    sorted_ids = ids[order]
    enr = np.asarray(enroller, dtype=np.int64)
    lv = np.asarray(level, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, enr)
    pos = np.minimum(pos, max(n - 1, 0))
    has = (enr >= 0) & (sorted_ids[pos] == enr) if n else np.zeros(0, bool)
    parent = np.where(has, order[pos], -1)
    width = np.zeros(n)
    levels = np.unique(lv)
    for L in levels[::-1]:
        at = np.flatnonzero(lv == L)
        width[at] = np.maximum(width[at], 1.0)
        child = at[parent[at] >= 0]
        np.add.at(width, parent[child], width[child])
    x0 = np.zeros(n)
    roots = np.flatnonzero(parent < 0)
    roots = roots[np.argsort(ids[roots], kind="stable")]
    x0[roots] = np.cumsum(width[roots]) - width[roots]
    for L in levels:
        at = np.flatnonzero((lv == L) & (parent >= 0))
        if not at.size:
            continue
        at = at[np.lexsort((ids[at], parent[at]))]
        w = width[at]
        before = np.cumsum(w) - w  # spans of everyone earlier at this level
        first = np.concatenate(([True], parent[at][1:] != parent[at][:-1]))
        group_start = np.maximum.accumulate(np.where(first, np.arange(at.size), 0))
        x0[at] = x0[parent[at]] + before - before[group_start]
    return x0 + width / 2.0, lv.astype(np.float64)


def genealogy_figure(dist: pd.DataFrame) -> Figure:
    """The recruitment tree of a small run, coloured by net income so far.

    Args:
        dist: the distributors table (``id``, ``enroller``, ``level``, ``status``,
            ``net_income``); at most :data:`MAX_TREE_NODES` rows.
    """
    ids = dist["id"].to_numpy()
    enr = dist["enroller"].to_numpy()
    x, y = tree_layout(ids, enr, dist["level"].to_numpy())
    net = dist["net_income"].to_numpy(dtype=np.float64)
    quit_ = dist["status"].astype(str).to_numpy() == "quit"
    order = np.argsort(ids)
    pos = np.searchsorted(ids[order], enr)
    pos = np.minimum(pos, max(ids.size - 1, 0))
    has = (enr >= 0) & (ids[order][pos] == enr) if ids.size else np.zeros(0, bool)
    par = order[pos[has]]
    segs = np.stack((np.column_stack((x[par], y[par])), np.column_stack((x[has], y[has]))), axis=1)
    # Clip the colour scale at the 2nd and 98th percentiles so that typical losses are a
    # visible red rather than a pale pink next to one big winner.
    lo = min(float(np.percentile(net, 2)) if net.size else -1.0, -1.0)
    hi = max(float(np.percentile(net, 98)) if net.size else 1.0, 1.0)
    norm = mcolors.TwoSlopeNorm(vmin=lo, vcenter=0.0, vmax=hi)
    cmap = matplotlib.colormaps["RdBu"]
    size = float(np.clip(6000.0 / max(ids.size, 1), 8, 90))
    with matplotlib.rc_context(STYLE):
        fig = _figure(14, 7)
        ax = fig.add_subplot()
        ax.add_collection(LineCollection(segs, colors="#bdbdbd", linewidths=0.8, zorder=1))
        sc = None
        for mask, marker, label in ((~quit_, "o", "active"), (quit_, "s", "quit")):
            sc = ax.scatter(
                x[mask],
                y[mask],
                c=net[mask],
                cmap=cmap,
                norm=norm,
                s=size,
                marker=marker,
                edgecolors="#404040",
                linewidths=0.3,
                zorder=2,
                label=label,
            )
        if sc is not None:
            cb = fig.colorbar(sc, ax=ax, pad=0.01, fraction=0.04, extend="both")
            cb.set_label("net income so far (red = lost money)")
            cb.set_ticks([_round2(v) for v in (lo, lo / 2, 0.0, hi / 2, hi)])
            cb.ax.yaxis.set_major_formatter(FuncFormatter(_usd))
        ax.set_ylim(y.max() + 0.7 if y.size else 2, 0.3)
        ax.set_xlim(-0.5, (x.max() if x.size else 1) + 0.5)
        top = int(y.max()) if y.size else 1
        ax.set_yticks(np.arange(1, top + 1, 1 if top <= 20 else 1 + top // 20))
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.set_ylabel("level (1 = founders)")
        lost = float((net < 0).mean()) if net.size else float("nan")
        ax.set_title(f"Who recruited whom: {ids.size} people, {lost:.0%} lost money")
        leg = ax.legend(loc="lower right", markerscale=1.5, framealpha=0.9)
        for handle in leg.legend_handles:
            handle.set_facecolor("#f7f7f7")
        return fig


# --------------------------------------------------------------------------------------------
# all figures of a run


def render_run_figures(
    monthly: pd.DataFrame,
    levels: pd.DataFrame,
    dist: pd.DataFrame,
    *,
    bass=None,
    disclosure: pd.DataFrame | None = None,
    rank_names: dict[int, str] | None = None,
    max_tree_nodes: int = MAX_TREE_NODES,
) -> dict[str, bytes]:
    """PNG bytes of every figure of a run, by name (see :data:`FIGURES`).

    ``income_disclosure`` needs ``disclosure``; ``genealogy`` is drawn only when at most
    ``max_tree_nodes`` persons joined (and the table has ``enroller``).
    """
    makers: dict[str, Callable[[], Figure]] = {
        "penetration_joins": lambda: penetration_figure(monthly, bass),
        "members_by_level": lambda: members_by_level_figure(levels),
        "lorenz": lambda: lorenz_figure(
            dist["net_income"].to_numpy(), dist["commissions"].to_numpy()
        ),
        "income_by_level": lambda: income_by_level_figure(dist),
    }
    if disclosure is not None:
        makers["income_disclosure"] = lambda: disclosure_figure(disclosure, rank_names)
    if "enroller" in dist and 0 < len(dist) <= max_tree_nodes:
        makers["genealogy"] = lambda: genealogy_figure(dist)
    return {name: _png(make()) for name, make in makers.items()}


def write_run_figures(
    run_dir: Path,
    monthly: pd.DataFrame,
    levels: pd.DataFrame,
    dist: pd.DataFrame,
    bass=None,
    *,
    disclosure: pd.DataFrame | None = None,
    rank_names: dict[int, str] | None = None,
    pngs: dict[str, bytes] | None = None,
) -> list[Path]:
    """Write the PNG figures of a run into ``run_dir/figures`` (atomically, one by one).

    ``pngs`` (from :func:`render_run_figures`) avoids drawing twice when the caller also
    embeds them in the report.
    """
    if pngs is None:
        pngs = render_run_figures(
            monthly, levels, dist, bass=bass, disclosure=disclosure, rank_names=rank_names
        )
    out = run_dir / "figures"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in pngs.items():
        path = out / FIGURES[name][0]
        atomic_write(path, lambda p, data=data: p.write_bytes(data))
        paths.append(path)
    return paths
