"""Run a market of several companies and write its results folder (``docs/market.md``).

The folder holds, besides ``manifest.json`` (written last):

- ``companies/<name>/``: each company's own run folder, exactly what ``mlmsim run`` writes for
  one company (monthly and per-level tables, distributors, income disclosure statement,
  report);
- ``companies.csv``: one row per company (and per holding, consolidated) per month: members,
  joins, switches, revenue, market share, penetration;
- ``monthly.csv`` and ``levels.csv``: the companies' tables stacked, with a ``company``
  column (months counted from the market's start: ``month`` + the launch month);
- ``flows.csv``: leaders who moved with how many members and customers followed, and the
  customers won by another company's retail (who left which company for which);
- ``regions.csv``: saturation by town and company;
- ``holdings/<holding>/income_disclosure.csv``: the statement over all of a holding's
  companies (one row per membership: a person in two of its companies appears in each);
- ``market.html``: market share over time, penetration by town, flows.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation import codebook, market_tables, outcomes, report, results
from simulation.htmlpage import escape, figure_html, page, png_bytes, table_html
from simulation.market import Market, MarketSpec
from simulation.metrics.disclosure import income_disclosure
from simulation.outcomes import Analysis, RunData
from simulation.runner import write_run_folder

MARKET_TABLES = codebook.MARKET_TABLES
REPORT_FILE = "market.html"


def run_market(
    spec: MarketSpec,
    *,
    out: Path | None = None,
    results_root: Path = Path("results"),
    figures: bool = True,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    """Simulate the market and write its folder (checked and locked before simulating).

    Returns:
        ``{"run_dir": Path, "market": Market, "summary": dict}``.
    """
    base = spec.base
    folder = results.run_folder(
        out, results_root, base.scenario.name, base.scenario.seed, overrides
    )
    with folder as run_dir:
        t = time.perf_counter()
        market = Market(spec).run()
        timings = {"simulate": time.perf_counter() - t}
        files: list[str] = []
        runs = {}
        for c in market.launched():
            cdir = run_dir / "companies" / c.name
            cdir.mkdir(parents=True)
            run = results.run_data(c.model, cdir)
            runs[c.name] = (cdir, run, outcomes.analyse(run))
        drawing = _Drawing(_figure_jobs(market, runs) if figures else {})
        try:
            for name, (cdir, run, analysis) in runs.items():
                write_run_folder(
                    cdir,
                    run,
                    spec.path,
                    {},
                    figures,
                    {"company": name},
                    analysis=analysis,
                    pngs=lambda name=name: drawing.get(name),
                )
                files.append(f"companies/{name}/")
            market_files, summary = _write_market(market, run_dir, drawing if figures else None)
            files += market_files
        finally:
            drawing.close()
        timings["total"] = time.perf_counter() - t
        manifest = {
            "kind": "market",
            "scenario": base.to_dict(),
            "scenario_file": str(spec.path) if spec.path else None,
            "companies": [c.model_dump() for c in spec.companies],
            "switching": spec.switching.model_dump(),
            "choice": spec.choice.model_dump(),
            "expansion": spec.expansion.model_dump(),
            "seed": market.seed,
            "months": market.month,
            "overrides": list(overrides or []),
            "versions": results.versions(),
            "git_commit": results.git_commit(),
            "timings_s": timings,
            "files": files,
            "summary": summary,
        }
        results.write_json(manifest, run_dir / "manifest.json")
    return {"run_dir": run_dir, "market": market, "summary": summary}


def _write_market(
    market: Market, run_dir: Path, drawing: _Drawing | None
) -> tuple[list[str], dict[str, Any]]:
    """The market's own files (tables, holdings, summary, page, codebook) and its summary.

    ``drawing``: where the page's figures come from (None: no page).
    """
    files = []
    tables = market.tables()
    stacked = {
        "monthly.csv": stack(market, results.monthly_table),
        "levels.csv": stack(market, results.level_table),
    }
    frames = {
        "companies.csv": tables["companies"],
        **stacked,
        "flows.csv": tables["flows"],
        "regions.csv": tables["regions"],
    }
    for name, frame in frames.items():
        results.write_csv(frame, run_dir / name)
        files.append(name)
    files += _holdings(market, run_dir)
    summary = market_summary(market)
    results.write_json(summary, run_dir / "summary.json")
    files.append("summary.json")
    if drawing is not None:
        pngs = drawing.get(MARKET_FIGURES)
        (run_dir / REPORT_FILE).write_text(market_report(market, summary, pngs))
        files.append(REPORT_FILE)
    files.append(codebook.write_columns(run_dir, MARKET_TABLES, prefix=codebook.MARKET))
    return files, summary


# The market page's figures among the drawing jobs (the companies' are under their names,
# which cannot hold a space).
MARKET_FIGURES = "market page"


def _figure_jobs(
    market: Market, runs: dict[str, tuple[Path, RunData, Analysis]]
) -> dict[str, Callable[[], dict[str, bytes]]]:
    """What draws each company's figures (by its name) and the market page's figures."""
    jobs: dict[str, Callable[[], dict[str, bytes]]] = {
        name: (lambda run=run, analysis=analysis: report.render_figures(run, analysis))
        for name, (_, run, analysis) in runs.items()
    }
    jobs[MARKET_FIGURES] = lambda: market_figures(market)
    return jobs


class _Drawing:
    """Figures drawn in a child process while this one writes the tables (a second core).

    The child is forked once the market is simulated and analysed, so it has everything in
    memory and only the PNG bytes travel back. It takes the jobs from the last (the market
    page) while this process asks for them from the first (the companies in order): a job
    not yet taken when asked for is drawn here, so both cores draw until the end. Without
    ``fork`` (not Linux, a daemonic worker, one core) or if the child stops, each job is
    drawn here when asked for, so the figures are the same either way (and a failing job
    raises here).
    """

    def __init__(self, jobs: dict[str, Callable[[], dict[str, bytes]]]):
        self.jobs = jobs
        self.keys = list(jobs)
        self.done: dict[str, dict[str, bytes]] = {}
        self.conn: Connection | None = None
        self.child: mp.process.BaseProcess | None = None
        self.taken = None
        if jobs and _can_fork():
            ctx = mp.get_context("fork")
            # taken[i]: 1 once job i is this process's, 2 once it is the child's.
            self.taken = ctx.Array("b", len(jobs))
            self.conn, send = ctx.Pipe(duplex=False)
            self.child = ctx.Process(target=_draw_jobs, args=(jobs, self.taken, send), daemon=True)
            self.child.start()
            send.close()

    def get(self, key: str) -> dict[str, bytes]:
        """The PNG bytes of job ``key``: from the child, or drawn here."""
        if key in self.done:
            return self.done.pop(key)
        if self.conn is not None and self.taken is not None:
            i = self.keys.index(key)
            with self.taken.get_lock():
                mine = self.taken[i] == 0
                if mine:
                    self.taken[i] = 1
            while not mine and key not in self.done:
                try:
                    got, pngs = self.conn.recv()
                except (EOFError, OSError):
                    self.close()  # the child stopped: the rest is drawn here
                    break
                self.done[got] = pngs
            if key in self.done:
                return self.done.pop(key)
        return self.jobs[key]()

    def close(self) -> None:
        """Stop the child (if still drawing) and wait for it."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.child is not None:
            if self.child.is_alive():
                self.child.terminate()
            self.child.join()
            self.child = None


def _can_fork() -> bool:
    """A forked child can draw beside this process: Linux, not a daemon, an idle core.

    With every core busy (the load average, this process included, within half a process
    of the core count) the child only takes turns with this process and adds its own start
    (matplotlib's import): 1 s more on a 1,000,000-person market at load 3 on 2 cores.
    """
    cores = len(os.sched_getaffinity(0)) if sys.platform == "linux" else 1
    return cores > 1 and not mp.current_process().daemon and os.getloadavg()[0] < cores - 0.5


def _draw_jobs(
    jobs: dict[str, Callable[[], dict[str, bytes]]], taken: Any, send: Connection
) -> None:
    """In the child: draw the jobs from the last one, sending ``(key, pngs)`` after each.

    It stops at the first job the parent took: the parent asks for them in order.
    """
    try:
        for i, (key, job) in reversed(list(enumerate(jobs.items()))):
            with taken.get_lock():
                if taken[i]:
                    break
                taken[i] = 2
            send.send((key, job()))
    except Exception:  # the parent draws that job again and raises the error itself
        pass
    finally:
        send.close()


def stack(market: Market, table=results.monthly_table) -> pd.DataFrame:
    """A table of each launched company (``results.monthly_table``...) stacked.

    A ``company`` column first, months on the market's clock (the company's month + its
    launch month): ``monthly.csv`` of the market folder and a market sweep's monthly rows.
    """
    parts = []
    for c in market.launched():
        df = table(c.model).copy()
        df.insert(0, "company", c.name)
        df["month"] = df["month"] + c.spec.launch_month
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def _holdings(market: Market, run_dir: Path) -> list[str]:
    """Consolidated income disclosure statement of each holding."""
    files = []
    groups: dict[str, list] = {}
    for c in market.launched():
        if c.spec.holding:
            groups.setdefault(c.spec.holding, []).append(c)
    for holding, members in groups.items():
        dist = []
        for c in members:
            d = pd.DataFrame(results.distributor_columns(c.model))
            # Join and quit months on the market's clock, so the year is the same for all.
            for col in ("join_month", "quit_month"):
                d[col] = d[col].where(d[col] < 0, d[col] + c.spec.launch_month)
            d.insert(0, "company", c.name)
            dist.append(d)
        table = pd.concat(dist, ignore_index=True)
        months = market.month
        year = range(max(0, months - 11), months + 1)
        hdir = run_dir / "holdings" / holding
        hdir.mkdir(parents=True)
        results.write_csv(income_disclosure(table, year), hdir / "income_disclosure.csv")
        files.append(f"holdings/{holding}/income_disclosure.csv")
    return files


def market_summary(market: Market) -> dict[str, Any]:
    """Headline figures per company: peak members and month, final share, ever joined."""
    comp = market.tables()["companies"]
    out: dict[str, Any] = {"population": market.n, "months": market.month, "companies": {}}
    for name, g in comp.groupby("company", sort=False):
        peak = int(g["members"].to_numpy().argmax())
        last = g.iloc[-1]
        out["companies"][str(name)] = {
            "kind": str(last["kind"]),
            "peak_members": float(g["members"].max()),
            "peak_month": int(g["month"].iloc[peak]),
            "members_end": float(last["members"]),
            "market_share_end": float(last["market_share"]),
            "ever_joined": float(last["ever_joined"]),
            "penetration": float(last["penetration"]),
            "switched_in": float(g["switched_in"].sum()),
            "switched_out": float(g["switched_out"].sum()),
        }
    ever_any = np.zeros(market.n, dtype=bool)  # each person once, whatever their companies
    for c in market.launched():
        ever_any[c.model.ever_ids] = True
    n_any = int(np.count_nonzero(ever_any))
    out["ever_joined_any"] = n_any
    out["penetration_any"] = n_any / market.n
    return out


def market_outcomes(market: Market) -> dict[str, Any]:
    """A market sweep's outcomes of one run: one ``<outcome>__<company>`` value per company.

    The market's figures of each company and holding (:func:`market_summary`, plus its share
    in the month of its peak) and, per company, the single-company sweep outcomes of
    ``market_tables.COMPANY_RUN_OUTCOMES`` on its own tables; then the market's
    ``ever_joined_any`` and ``penetration_any``.
    """
    summary = market_summary(market)
    comp = market.tables()["companies"]
    sep = market_tables.OUTCOME_SEPARATOR
    out: dict[str, Any] = {}
    for name, s in summary["companies"].items():
        g = comp[comp["company"] == name]
        at_peak = float(g["market_share"].iloc[int(g["members"].to_numpy().argmax())])
        row = {**s, "market_share_at_peak": at_peak}
        for k in market_tables.COMPANY_MARKET_OUTCOMES:
            out[f"{k}{sep}{name}"] = row[k]
    for c in market.launched():
        o = outcomes.sweep_outcomes(results.run_data(c.model))
        for k in market_tables.COMPANY_RUN_OUTCOMES:
            out[f"{k}{sep}{c.name}"] = o[k]
    out.update({k: summary[k] for k in market_tables.MARKET_OUTCOMES})
    return out


def market_figures(market: Market) -> dict[str, bytes]:
    """PNG bytes of the market page's figures: ``share``, and ``regions`` with several towns."""
    # matplotlib is imported only when a report is drawn (0.7 s per process).
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    t = market.tables()
    comp = t["companies"]
    out = {}
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for name, g in comp.groupby("company", sort=False):
        style = "--" if (g["kind"] == "holding").all() else "-"
        label = f"{name} (holding)" if style == "--" else str(name)
        ax[0].plot(g["month"], g["members"], style, label=label)
        ax[1].plot(g["month"], 100 * g["market_share"], style, label=label)
    ax[0].set(xlabel="month", ylabel="active members", title="Members")
    ax[1].set(xlabel="month", ylabel="% of all active members", title="Market share")
    ax[0].legend()
    fig.tight_layout()
    out["share"] = png_bytes(fig)
    plt.close(fig)
    reg = t["regions"]
    if reg["region"].nunique() > 1:
        names = list(dict.fromkeys(reg["company"]))
        fig, axes = plt.subplots(
            1, len(names), figsize=(3.7 * len(names) + 0.5, 3.6), sharey=True, squeeze=False
        )
        for a, name in zip(axes[0], names, strict=True):
            for r, g in reg[reg["company"] == name].groupby("region"):
                a.plot(
                    g["month"], 100 * g["penetration"], color=f"C{int(r) % 10}", label=f"town {r}"
                )
            a.set(xlabel="month", title=str(name))
        axes[0][0].set_ylabel("% of the town ever joined")
        axes[0][0].legend(fontsize=8)
        fig.suptitle("Penetration by town")
        fig.tight_layout()
        out["regions"] = png_bytes(fig)
        plt.close(fig)
    return out


def market_report(
    market: Market, summary: dict[str, Any], pngs: dict[str, bytes] | None = None
) -> str:
    """The market's page: share over time, penetration by town, switching flows.

    ``pngs``: :func:`market_figures`, when already drawn.
    """
    pngs = market_figures(market) if pngs is None else pngs
    t = market.tables()
    body = [f"<h1>Market of {len(market.companies)} companies</h1>"]
    body.append(
        f"<p>{market.n:,} persons, {market.month} months; "
        f"{summary['ever_joined_any']:,} ({100 * summary['penetration_any']:.1f}%) ever joined "
        "one of the companies.</p>"
    )
    rows = [
        [
            escape(name),
            s["kind"],
            f"{s['peak_members']:,.0f}",
            s["peak_month"],
            f"{100 * s['market_share_end']:.1f}%",
            f"{100 * s['penetration']:.1f}%",
            f"{s['switched_in']:,.0f}",
            f"{s['switched_out']:,.0f}",
        ]
        for name, s in summary["companies"].items()
    ]
    body.append(
        table_html(
            [
                "company",
                "kind",
                "peak members",
                "peak month",
                "share at end",
                "ever joined",
                "moved in",
                "moved out",
            ],
            rows,
            numeric_from=2,
        )
    )
    body.append(figure_html(pngs["share"], "Members and market share by month", "share"))
    if "regions" in pngs:
        body.append(figure_html(pngs["regions"], "Penetration by town, per company", "regions"))
    flows = t["flows"]
    if len(flows):
        agg = flows.groupby(["from_company", "to_company"], sort=False)[
            ["leaders", "followers", "customers"]
        ].sum()
        retail = flows[flows["kind"] == "retail"]
        won = retail.groupby(["from_company", "to_company"], sort=False)["customers"].sum()
        body.append("<h2>Moves between companies</h2>")
        body.append(
            table_html(
                ["from", "to", "leaders", "followers", "customers", "of them won by retail"],
                [
                    [
                        escape(a),
                        escape(b),
                        int(r.leaders),
                        int(r.followers),
                        int(r.customers),
                        int(won.get((a, b), 0)),
                    ]
                    for (a, b), r in agg.iterrows()
                ],
                numeric_from=2,
            )
        )
    else:
        body.append("<p>Nobody moved between companies.</p>")
    return page("Market", "\n".join(body))


__all__ = [
    "MARKET_TABLES",
    "market_figures",
    "market_outcomes",
    "market_report",
    "market_summary",
    "run_market",
    "stack",
]
