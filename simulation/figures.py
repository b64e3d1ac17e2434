"""PNG figures of a run, readable when projected in a classroom (large fonts, few lines)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from simulation.metrics import lorenz

STYLE = {
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.labelsize": 13,
    "legend.fontsize": 11,
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def penetration_and_joins(monthly: pd.DataFrame, path: Path, bass=None) -> Path:
    """Penetration (share of the market who ever joined) and joins per month."""
    with plt.rc_context(STYLE):
        fig, ax1 = plt.subplots(figsize=(9, 5))
        m = monthly["month"]
        ax1.bar(m, monthly["joined"], color="#9ecae1", label="joined this month")
        ax1.set_xlabel("month")
        ax1.set_ylabel("joins per month")
        if bass is not None:
            ax1.plot(m, bass, color="#08519c", lw=2, ls="--", label="Bass curve fit")
        ax2 = ax1.twinx()
        ax2.plot(m, 100 * monthly["penetration"], color="#d62728", lw=3, label="penetration")
        ax2.set_ylabel("ever joined, % of market")
        ax2.set_ylim(0, max(5.0, 110 * monthly["penetration"].max()))
        ax2.spines["right"].set_visible(True)
        h1, l1 = ax1.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax1.legend(h1 + h2, l1 + l2, loc="center right")
        ax1.set_title("The market saturates: joins rise, peak and die out")
        return _save(fig, path)


def members_by_level(levels: pd.DataFrame, path: Path, max_levels: int = 12) -> Path:
    """Active distributors by level over time (stacked areas)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9, 5))
        if not levels.empty:
            wide = levels.pivot_table(
                index="month", columns="level", values="members", aggfunc="sum", fill_value=0
            )
            if wide.shape[1] > max_levels:
                deep = wide.loc[:, wide.columns >= max_levels].sum(axis=1)
                wide = wide.loc[:, wide.columns < max_levels]
                wide[f"{max_levels}+"] = deep
            colors = plt.cm.viridis(np.linspace(0, 1, wide.shape[1]))
            ax.stackplot(
                wide.index, wide.T.values, labels=[str(c) for c in wide.columns], colors=colors
            )
            ax.legend(title="level", loc="upper left", ncol=2, fontsize=9)
        ax.set_xlabel("month")
        ax.set_ylabel("active distributors")
        ax.set_title("Active distributors by level")
        return _save(fig, path)


def lorenz_net(net: np.ndarray, gross: np.ndarray, path: Path) -> Path:
    """Lorenz curves of cumulative gross commissions and of net income."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.5, 6))
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls=":", label="perfect equality")
        if gross.size:
            x, y = lorenz(gross)
            ax.plot(x, y, lw=3, label="gross commissions")
        if net.size:
            x, y = lorenz(net)
            ax.plot(x, y, lw=3, label="net income (after costs)")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("share of everyone who joined (poorest first)")
        ax.set_ylabel("share of the total")
        ax.set_title("Who gets the money")
        ax.legend(loc="upper left")
        return _save(fig, path)


def income_by_level(dist: pd.DataFrame, path: Path, max_levels: int = 12) -> Path:
    """Net income by level at joining (box plots, whiskers 5-95%)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9, 5))
        if not dist.empty:
            lv = np.minimum(dist["level"].to_numpy(), max_levels)
            groups = [dist["net_income"].to_numpy()[lv == k] for k in range(1, max_levels + 1)]
            labels = [str(k) if k < max_levels else f"{k}+" for k in range(1, max_levels + 1)]
            keep = [i for i, g in enumerate(groups) if g.size]
            ax.boxplot(
                [groups[i] for i in keep],
                tick_labels=[labels[i] for i in keep],
                whis=(5, 95),
                showfliers=False,
            )
        ax.axhline(0, color="#d62728", lw=1.5, ls="--")
        ax.set_xlabel("level at joining (1 = founders)")
        ax.set_ylabel("net income so far, USD")
        ax.set_title("Net income by level: the deeper, the worse")
        return _save(fig, path)


def write_run_figures(
    run_dir: Path, monthly: pd.DataFrame, levels: pd.DataFrame, dist: pd.DataFrame, bass=None
) -> list[Path]:
    """Write the core PNG figures of a run into ``run_dir/figures``."""
    out = run_dir / "figures"
    out.mkdir(parents=True, exist_ok=True)
    return [
        penetration_and_joins(monthly, out / "penetration_joins.png", bass=bass),
        members_by_level(levels, out / "members_by_level.png"),
        lorenz_net(
            dist["net_income"].to_numpy(), dist["commissions"].to_numpy(), out / "lorenz.png"
        ),
        income_by_level(dist, out / "income_by_level.png"),
    ]
