"""A calibration's outputs: the calibrated scenario file and the posterior-predictive page."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulation import htmlpage, results, safepath
from simulation.calibrate import tomlout
from simulation.calibrate.driver import PRIOR_TAIL, ess_warning
from simulation.calibrate.targets import Targets, format_stat, in_usd, is_fitted
from simulation.plans.engine import shipped_plans

if TYPE_CHECKING:
    from simulation.calibrate.driver import Calibration

BAND = (0.05, 0.95)  # the report's bands: 90% intervals


def _plan_value(path: str) -> str:
    """A shipped plan by its name (portable), any other plan by its absolute path."""
    p = Path(path).resolve()
    for s in shipped_plans():
        if s.resolve() == p:
            return s.stem
    return str(p)


def calibrated_data(cal: Calibration, summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The scenario's data with the medians set and the ``[posterior]`` table added."""
    data = copy.deepcopy(cal.scenario_data)
    for key, v in summary["median"].items():
        section, _, name = key.partition(".")
        data.setdefault(section, {})[name] = float(v)
    meta = data.setdefault("scenario", {})
    meta["description"] = f"Calibrated ({summary['method']}): {cal.name}. " + str(
        meta.get("description", "")
    )
    plan = data.setdefault("plan", {})
    plan["file"] = _plan_value(cal.context["plan"]["path"])
    edge = cal.context["scenario"]["market"].get("edge_list")
    if edge:
        data["market"]["edge_list"] = edge
    src = cal.targets.source
    data["posterior"] = {
        "parameters": list(cal.keys),
        "samples": "posterior.parquet",
        "median": {k: float(v) for k, v in summary["median"].items()},
        "method": summary["method"],
        "provenance": {
            "targets": cal.sources.get("targets", ""),
            "citation": src.get("citation", ""),
            "priors": cal.sources.get("priors", ""),
            "scenario": cal.sources.get("scenario", ""),
            "seed": int(cal.seed),
            "population": int(cal.population),
            "generations": int(summary["generations"]),
            "simulations": int(summary["simulations"]),
            "final_epsilon": float(summary["final_epsilon"]),
            "effective_sample_size": round(float(summary["ess"]), 2),
            # The stopping rule, and the generation it kept (the posterior's), when used.
            **(
                {
                    "min_ess": float(summary["min_ess"]),
                    "posterior_generation": int(summary["posterior_generation"]),
                }
                if summary.get("min_ess") is not None
                else {}
            ),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "git_commit": results.git_commit() or "",
            "mlmsim": results.versions().get("mlmsim", ""),
        },
    }
    return data


def write_calibrated(out: Path, cal: Calibration, summary: dict[str, Any]) -> Path:
    """Write ``calibrated.toml`` (atomically) and return its path."""
    header = (
        f"Calibrated by mlmsim calibrate ({summary['method']}): {cal.name}.\n"
        "Each calibrated parameter is set to its posterior median; [posterior] records the\n"
        "posterior (posterior.parquet beside this file) and where it comes from\n"
        "(docs/calibration.md)."
    )
    text = tomlout.dumps(calibrated_data(cal, summary), header=header)
    path = out / "calibrated.toml"
    safepath.atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path


def _band(x: np.ndarray, band: tuple[float, float] = BAND) -> tuple[float, float, float]:
    x = x[np.isfinite(x)]
    if not x.size:
        return (float("nan"),) * 3
    lo, mid, hi = np.quantile(x, [band[0], 0.5, band[1]])
    return float(lo), float(mid), float(hi)


def target_rows(
    targets: Targets, predictive: pd.DataFrame, band: tuple[float, float] = BAND
) -> list[dict[str, Any]]:
    """Every target: the published figure and the runs' median and band (quantiles ``band``).

    Dollar figures are in USD. ``fitted`` is false for a statistic the target file gives
    weight 0: it is shown beside the model's, but the distance, and so the posterior, ignores
    it. ``empty`` counts the runs left out of an income's band because nobody was in its
    bucket (:func:`empty_runs`); 0 for every other statistic.
    """
    rows = []
    for k, obs in targets.observed.items():
        x = predictive[k].to_numpy(dtype=np.float64)
        empty = empty_runs(targets, predictive, k)
        lo, mid, hi = _band(x[~empty], band)
        if in_usd(k):
            obs, lo, mid, hi = (10**v - 1 for v in (obs, lo, mid, hi))
        rows.append(
            {
                "statistic": k,
                "published": obs,
                "median": mid,
                "low": lo,
                "high": hi,
                "inside": bool(lo <= obs <= hi),
                "fitted": is_fitted(targets.weights, k),
                "empty": int(empty.sum()),
            }
        )
    return rows


def empty_runs(targets: Targets, predictive: pd.DataFrame, stat: str) -> np.ndarray:
    """bool[runs]: the runs with nobody in the bucket of ``stat``, an ``income: <bucket>``.

    The average income of nobody is not a figure: the distance counts it as 0 (so that a run
    without the rank is far from a statement that has it), but a band that holds it would
    show a $0 no member was paid. A bucket is empty in a run when both its ``share: <bucket>``
    statistic (the statement's count of members) and its income are 0. The share alone is not
    enough: read month by month (``income_basis = "month_at_rank"``), the income counts the
    months members held a rank, also of those who no longer held it at the year's end. All
    false for other statistics, and for an income without a share statistic beside it.
    """
    share = "share: " + stat.removeprefix("income: ")
    if not stat.startswith("income: ") or share not in targets.observed:
        return np.zeros(len(predictive), dtype=bool)
    nobody = predictive[share].to_numpy(dtype=np.float64) == 0
    return nobody & (predictive[stat].to_numpy(dtype=np.float64) == 0)


_fmt = format_stat


def empty_note(row: dict[str, Any], runs: int) -> str:
    """`` (3 of 100 runs: nobody in the bucket)``, or nothing."""
    if not row["empty"]:
        return ""
    return f" ({row['empty']} of {runs} runs: nobody in the bucket)"


def _figure_buckets(targets: Targets, predictive: pd.DataFrame, kind: str) -> bytes | None:
    stats = [k for k in targets.observed if k.startswith(f"{kind}: ")]
    if not stats:
        return None
    rows = target_rows(targets, predictive)
    by = {r["statistic"]: r for r in rows}
    labels = [k.partition(": ")[2] for k in stats]
    fig = Figure(figsize=(9, 4.2))
    ax = fig.subplots()
    xs = np.arange(len(stats))
    mid = np.array([by[k]["median"] for k in stats])
    lo = np.array([by[k]["low"] for k in stats])
    hi = np.array([by[k]["high"] for k in stats])
    pub = np.array([by[k]["published"] for k in stats])
    ax.errorbar(
        xs,
        mid,
        yerr=[mid - lo, hi - mid],
        fmt="o",
        color="#1f4e8c",
        capsize=4,
        label="model: posterior-predictive median and 90% band",
    )
    ax.scatter(xs, pub, marker="D", color="#c0392b", zorder=3, label="published")
    ax.set_xticks(xs, labels, rotation=25, ha="right", fontsize=9)
    floor = 1e-4 if kind == "share" else 1.0
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor)
    ax.set_ylabel("share of members" if kind == "share" else "average annual income (USD)")
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return htmlpage.png_bytes(fig)


def _figure_marginals(cal: Calibration, post: pd.DataFrame) -> bytes:
    n = len(cal.priors)
    fig = Figure(figsize=(3.6 * n, 3.0))
    axes = fig.subplots(1, n, squeeze=False)
    for ax, p in zip(axes[0], cal.priors, strict=True):
        lo, hi = p.support()
        if not np.isfinite(lo) or not np.isfinite(hi):
            lo, hi = float(post[p.key].min()), float(post[p.key].max())
        ax.hist(post[p.key], bins=20, range=(lo, hi), weights=post["weight"], color="#1f4e8c")
        ax.set_title(p.key, fontsize=10)
        ax.set_xlim(lo, hi)
        ax.set_yticks([])
    fig.tight_layout()
    return htmlpage.png_bytes(fig)


def _ess_html(cal: Calibration, summary: dict[str, Any]) -> str:
    warn = ess_warning(summary, cal.population)
    stop = ""
    if summary.get("stopped_early"):
        text = htmlpage.escape(summary["stopped_early"])
        stop = f'<p class="warn"><strong>Stopped early:</strong> {text}.</p>'
    if warn is None:
        return (
            f"<p>Effective sample size of the final population (Kish): {summary['ess']:.1f} "
            f"of {cal.population} particles.</p>" + stop
        )
    return f'<p class="warn"><strong>Warning:</strong> {htmlpage.escape(warn)}.</p>' + stop


def write_report(
    out: Path,
    cal: Calibration,
    summary: dict[str, Any],
    post: pd.DataFrame,
    pilot: pd.DataFrame,
    predictive: pd.DataFrame,
    generations: pd.DataFrame,
) -> Path:
    """The posterior-predictive report page (``report.html``, one self-contained file)."""
    e = htmlpage.escape
    src = cal.targets.source
    trows = target_rows(cal.targets, predictive)
    fitted = [r for r in trows if r["fitted"]]
    inside = sum(r["inside"] for r in fitted)
    shown = [r["statistic"] for r in trows if not r["fitted"]]
    not_fitted = (
        f" Not fitted (weight 0 in the target file, so the posterior ignores them; shown "
        f"for comparison): {e(', '.join(shown))}."
        if shown
        else ""
    )
    body = [
        f"<h1>Calibration: {e(cal.name)}</h1>",
        f'<p class="sub">{e(summary["method"])}; {summary["simulations"]:,} simulations in '
        f"{summary['generations']} generations of {cal.population} particles (and a pilot of "
        f"{summary['pilot']}); seed {cal.seed}; final epsilon {summary['final_epsilon']:.4g}.</p>",
        _ess_html(cal, summary),
        htmlpage.nav_html(
            [
                ("targets", "Targets"),
                ("priors-check", "Prior predictive"),
                ("parameters", "Posterior"),
                ("outcomes", "Other outcomes"),
                ("generations", "Generations"),
            ]
        ),
        '<h2 id="targets">Every target against the published figure</h2>',
        f"<p>Source: {e(src.get('citation', ''))}. Population: {e(src.get('population', ''))}. "
        f"{inside} of the {len(fitted)} published figures fitted fall inside the 90% "
        f"posterior-predictive band ({len(predictive)} runs drawn from the posterior, each with "
        f"its own seed: the band holds both the parameters' uncertainty and the market's "
        f"luck).{not_fitted}</p>",
        htmlpage.table_html(
            ["statistic", "published", "model median", "90% band", "inside"],
            [
                [
                    r["statistic"],
                    _fmt(r["statistic"], r["published"]),
                    _fmt(r["statistic"], r["median"]),
                    f"{_fmt(r['statistic'], r['low'])} to {_fmt(r['statistic'], r['high'])}"
                    + empty_note(r, len(predictive)),
                    ("yes" if r["inside"] else "no") + ("" if r["fitted"] else " (not fitted)"),
                ]
                for r in trows
            ],
        ),
    ]
    for kind, cap in (
        (
            "share",
            "Share of members per rank bucket: published (red) and model (blue, 90% band; on "
            "the log scale a bucket the model leaves empty has no point).",
        ),
        ("income", "Average annual income per rank bucket (USD): published and model."),
    ):
        png = _figure_buckets(cal.targets, predictive, kind)
        if png is not None:
            body.append(htmlpage.figure_html(png, cap))
    check = summary.get("prior_check") or []
    if check:
        unreached = [r for r in check if r["verdict"] == "outside"]
        body += [
            '<h2 id="priors-check">Which published figures the priors can reach</h2>',
            f"<p>Where each published figure falls among the {len(pilot)} prior-predictive "
            "pilot runs (parameters drawn from the priors, each run with its own seed). A "
            "figure outside every run's value is one no parameter set in the priors produced: "
            "the posterior only reweights those sets, so no budget covers it, and the model or "
            "the priors must change instead. <em>tail</em>: fewer than "
            f"{100 * PRIOR_TAIL:.1f}% of the runs lie beyond it.</p>",
        ]
        if unreached:
            names_ = ", ".join(e(r["statistic"]) for r in unreached)
            body.append(
                f'<p class="warn"><strong>Outside the prior predictive:</strong> {names_}.</p>'
            )
        body.append(
            htmlpage.table_html(
                ["statistic", "published", "prior-predictive runs", "runs below it", "verdict"],
                [
                    [
                        r["statistic"],
                        _fmt(r["statistic"], r["published"]),
                        f"{_fmt(r['statistic'], r['low'])} to {_fmt(r['statistic'], r['high'])}",
                        _fmt("share", r["below"]),
                        r["verdict"],
                    ]
                    for r in check
                ],
            )
        )
    prow = []
    for p in cal.priors:
        lo, hi = summary["interval90"][p.key]
        prow.append(
            [
                p.key,
                p.describe(),
                f"{summary['median'][p.key]:.4g}",
                f"{lo:.4g} to {hi:.4g}",
                p.reason,
            ]
        )
    body += [
        '<h2 id="parameters">Posterior of the calibrated parameters</h2>',
        htmlpage.table_html(
            ["parameter", "prior", "posterior median", "90% interval", "reason for the prior"],
            prow,
            numeric_from=2,
            numeric_to=4,
        ),
        htmlpage.figure_html(
            _figure_marginals(cal, post),
            "Weighted posterior histograms over each prior's support.",
        ),
    ]
    orows = []
    for c in [c for c in predictive.columns if c.startswith("outcome: ")]:
        lo, mid, hi = _band(predictive[c].to_numpy(dtype=np.float64))
        orows.append([c.partition(": ")[2], f"{mid:.4g}", f"{lo:.4g} to {hi:.4g}"])
    body += [
        '<h2 id="outcomes">The model\'s other outcomes (posterior predictive)</h2>',
        "<p>Medians and 90% bands over the posterior-predictive runs (`mlmsim run`'s "
        "summary figures; shares as fractions, money in USD).</p>",
        htmlpage.table_html(["outcome", "median", "90% band"], orows),
        '<h2 id="generations">Generations</h2>',
        f"<p>The distance: weighted Euclidean over the statistics, each divided by its spread "
        f"(MAD x 1.4826) over {len(pilot)} prior-predictive pilot runs; each generation's "
        "threshold is the weighted median distance of the previous one.</p>",
        htmlpage.table_html(
            ["generation", "epsilon", "simulations", "particles", "effective sample size"],
            [
                [
                    int(r.generation),
                    f"{r.epsilon:.4g}",
                    int(r.simulations),
                    int(r.particles),
                    f"{r.ess:.1f}",
                ]
                for r in generations.itertuples()
            ],
        ),
    ]
    text = htmlpage.page(f"Calibration: {cal.name}", "".join(body))
    path = out / "report.html"
    safepath.atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path
