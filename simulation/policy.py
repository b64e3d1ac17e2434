"""``mlmsim policy SCENARIO``: a battery of regulators' policies across seeds, and its page.

A policy file (TOML, ``scenarios/policies/*.toml``; format in ``docs/policies.md``) lists
named policies, each a set of changes to the scenario (``section.key``) or to its plan
(``plan.<table>.<key>``), one of them the baseline every other is compared with. The battery
is an ordinary sweep (:mod:`simulation.sweep`): one point per policy, the same seeds for
every policy (common random numbers), parallel, resumable, on Dask with ``--scheduler``. A
step after the merge writes, per policy, the distribution over seeds of five outcomes
(:data:`OUTCOMES`) and the paired difference to the baseline with a 95% interval
(``policy.csv``, ``policy.json``), and a trade-off chart (``figures/tradeoff.png``); the sweep
report shows them first, in words a regulator can read.

Paired differences: with common seeds, seed r of a policy and seed r of the baseline share
every random draw up to where the policy changes what happens, so ``d_r = x_policy,r -
x_baseline,r`` removes most of the luck. The interval is ``mean(d) +- t_{0.975, n-1} sd(d) /
sqrt(n)`` over the n seeds both finished (Student's t; no interval with fewer than 2).
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulation import results
from simulation.config import (
    SCENARIO_DIR,
    apply_values,
    load_scenario,
    scenario_from_dict,
    scenario_keys,
    unknown_key_message,
)
from simulation.errors import ConfigError, format_validation_error
from simulation.plans import plan_from_dict
from simulation.plans.engine import with_changes
from simulation.safepath import safe_name
from simulation.sweep import (
    Point,
    Sweep,
    add_battery_options,
    check_battery_seeds,
    executor_options,
    print_result,
    read_plan,
    run_sweep,
)
from simulation.userfile import dotted_keys, read_toml, resolve_shipped

POLICY_DIR = SCENARIO_DIR / "policies"
DEFAULT_POLICIES = "default"
DEFAULT_ROOT = Path("results") / "policy"
TABLE_FILE = "policy.csv"
JSON_FILE = "policy.json"
FIGURE_FILE = "figures/tradeoff.png"
MAX_POLICIES = 100  # assumption: a page beyond this many policies no one reads

# The outcomes the battery reports (keys of simulation.outcomes.OUTCOMES), with a label and
# whether lower is better for participants (None: neither).
OUTCOMES: dict[str, tuple[str, str]] = {
    "consumer_injury": ("consumer injury (sum of members' net losses)", "usd"),
    "retail_share": ("retail share of volume", "share"),
    "revenue": ("company revenue", "usd"),
    "members_net_income": ("members' total net income", "usd"),
    "share_net_loss": ("share of members losing money", "share"),
}
# Sections a policy may not change: every policy runs on the same market, length and seeds.
FIXED_SECTIONS = ("scenario", "market")
# Matplotlib's tab10 without its red, which marks the baseline.
_COLOURS = tuple(f"C{i}" for i in (0, 1, 2, 4, 5, 6, 7, 8, 9))
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


# --------------------------------------------------------------------------------------------
# the policy file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class BatteryMeta(_Strict):
    """``[battery]``: the battery's name and which policy is the baseline."""

    name: str | None = Field(None, description="Name; default the file's stem.")
    description: str = Field("", description="What the battery asks.")
    baseline: str = Field("baseline", description="The policy every other is compared with.")


class PolicySpec(_Strict):
    """One ``[[policy]]``: a name, what it is, the rule it models, and its changes."""

    name: str = Field(description="Short name: lower-case letters, digits and _.")
    title: str = Field("", description="One line: what the policy does.")
    rule: str = Field("", description="The real-world rule it models, with its source.")
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="Changes: 'section.key' or 'plan.<table>.<key>' -> value.",
    )


class PolicyFile(_Strict):
    """A whole policy file."""

    battery: BatteryMeta = Field(default_factory=BatteryMeta)
    policy: list[PolicySpec] = Field(min_length=2, max_length=MAX_POLICIES)


def resolve_policy_path(name: str | Path | None) -> Path:
    """A policy file path, or the name of a shipped battery (``default``)."""
    return resolve_shipped(DEFAULT_POLICIES if name is None else name, POLICY_DIR, "policy file")


def _check_key(key: str, where: str) -> None:
    section = key.partition(".")[0]
    if section in FIXED_SECTIONS:
        raise ConfigError(
            f"{where}: a policy cannot change [{section}]: every policy runs on the same "
            "market, months and seeds (set them in the scenario or with --set)"
        )
    if key.startswith("plan.") and key.count(".") == 2 and not key.startswith("plan.set."):
        return  # a plan value, checked with the plan below
    if key not in scenario_keys() or key == "plan.set":
        raise ConfigError(unknown_key_message(key, where))


def load_policies(path: Path) -> tuple[BatteryMeta, list[PolicySpec]]:
    """Read and validate the file's format (not yet the values against a scenario)."""
    src = str(path)
    raw = read_toml(path, "policy")
    try:
        spec = PolicyFile.model_validate(raw, strict=True)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, src)) from None
    names = [p.name for p in spec.policy]
    for i, p in enumerate(spec.policy):
        if not _NAME.match(p.name):
            raise ConfigError(
                f"{src}: policy[{i}].name = {p.name!r}: use lower-case letters, digits and _ "
                "(starting with a letter, at most 40)"
            )
        if names.count(p.name) > 1:
            raise ConfigError(f"{src}: policy[{i}].name = {p.name!r} is used twice")
        flat = dotted_keys(p.set)
        for key in flat:
            _check_key(key, f"{src}: policy '{p.name}': set.{key}")
        p.set = flat
    if spec.battery.baseline not in names:
        raise ConfigError(
            f"{src}: battery.baseline = {spec.battery.baseline!r} names no policy of the file "
            f"(policies: {', '.join(names)})"
        )
    return spec.battery, spec.policy


def build(
    scenario: str | None = None,
    policies: str | Path | None = None,
    sets: list[str] | None = None,
    seeds: int = 20,
    master_seed: int = 0,
) -> Sweep:
    """The policy battery on ``scenario`` as a sweep (one point per policy, common seeds).

    Every policy's changes are applied to the scenario and validated (scenario and plan)
    here, so a bad value stops the battery before anything runs or is written.

    Raises:
        ConfigError: naming the file, the policy and the key.
    """
    path = resolve_policy_path(policies)
    meta, specs = load_policies(path)
    src = str(path)
    scen, _ = load_scenario(scenario, sets or [])
    base = scen.to_dict()
    plans = {base["plan"]["file"]: read_plan(base["plan"]["file"], Path.cwd(), src)}
    points = []
    for p in specs:
        where = f"{src}: policy '{p.name}'"
        values = dict(p.set)
        if "plan.file" in values:
            info = read_plan(str(values["plan.file"]), path.parent, where)
            plans[info["path"]] = info
            values["plan.file"] = info["path"]
        data = apply_values(base, values, where)
        checked = scenario_from_dict(data, where, strict=True)
        info = plans[checked.plan.file]
        try:
            plan_from_dict(with_changes(info["data"], checked.plan.set, info["path"]), info["path"])
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
        points.append(Point(values, label=p.name))
    base_i = [p.name for p in specs].index(meta.baseline)
    points.insert(0, points.pop(base_i))  # the baseline first
    name = meta.name or path.stem
    return Sweep(
        name=f"policy-{name}-{scen.scenario.name}",
        description=meta.description
        or f"Policy battery '{name}' on the '{scen.scenario.name}' scenario.",
        source=f"mlmsim policy {scenario or 'classroom'} --policies {path}",
        base=base,
        plans=plans,
        points=points,
        replicates=seeds,
        master_seed=master_seed,
        design="battery",
        kind="policy",
    )


# --------------------------------------------------------------------------------------------
# the tables


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    # scipy.stats: 0.3 s at every CLI start, only for the battery's tables.
    from scipy.stats import t  # noqa: PLC0415

    return float(t.ppf(0.975, df))


def paired_difference(x: pd.Series, base: pd.Series) -> dict[str, float]:
    """Mean paired difference ``x - base`` over common replicates, with a 95% t-interval.

    Args:
        x: one value per replicate (index: replicate), NaN where a run failed or the
            outcome is undefined.
        base: the baseline's values, indexed the same way.

    Returns:
        ``{"diff", "diff_low", "diff_high", "pairs"}``; NaN bounds with fewer than 2 pairs.
    """
    d = (x - base).dropna().astype(np.float64)
    n = int(d.size)
    if n == 0:
        return {"diff": math.nan, "diff_low": math.nan, "diff_high": math.nan, "pairs": 0}
    mean = float(d.mean())
    if n < 2:
        return {"diff": mean, "diff_low": math.nan, "diff_high": math.nan, "pairs": n}
    half = t_quantile(n - 1) * float(d.std(ddof=1)) / math.sqrt(n)
    return {"diff": mean, "diff_low": mean - half, "diff_high": mean + half, "pairs": n}


def policy_table(runs: pd.DataFrame, names: list[str], baseline: str) -> pd.DataFrame:
    """One row per policy: runs, and per outcome its spread and its change from the baseline.

    Columns per outcome: ``<outcome>_mean``, ``_p05``, ``_p95`` over seeds, and the paired
    difference to the baseline with its 95% interval, ``_diff``, ``_diff_low``, ``_diff_high``.
    """
    ok = runs[runs["status"] == "ok"]
    by = {name: ok[ok["label"] == name].set_index("replicate").sort_index() for name in names}
    rows = []
    for name in names:
        mine = by[name]
        row: dict[str, Any] = {
            "policy": name,
            "runs_ok": len(mine),
            "runs_failed": int(((runs["label"] == name) & (runs["status"] != "ok")).sum()),
        }
        for o in OUTCOMES:
            v = mine[o].astype(np.float64) if o in mine else pd.Series(dtype=np.float64)
            row[f"{o}_mean"] = float(v.mean()) if v.notna().any() else math.nan
            row[f"{o}_p05"] = float(v.quantile(0.05)) if v.notna().any() else math.nan
            row[f"{o}_p95"] = float(v.quantile(0.95)) if v.notna().any() else math.nan
            b = by[baseline][o].astype(np.float64) if o in by[baseline] else v * math.nan
            d = paired_difference(v, b)
            row[f"{o}_diff"] = d["diff"]
            row[f"{o}_diff_low"] = d["diff_low"]
            row[f"{o}_diff_high"] = d["diff_high"]
        rows.append(row)
    return pd.DataFrame(rows)


def _changes(values: dict[str, Any]) -> str:
    if not values:
        return "nothing (the scenario as given)"
    return ", ".join(
        f"{k} = {Path(str(v)).stem if k == 'plan.file' else v}" for k, v in values.items()
    )


def tradeoff_figure(table: pd.DataFrame, baseline: str):
    """Two panels: company revenue and members' total net income against consumer injury.

    One marker per policy at its mean over seeds, with its 5-95% band as error bars.
    """
    # matplotlib: 0.7 s at every CLI start, only for the report.
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(13, 5.2))
    axes = fig.subplots(1, 2)
    x = table["consumer_injury_mean"].to_numpy(np.float64)
    xerr = np.abs(np.vstack([x - table["consumer_injury_p05"], table["consumer_injury_p95"] - x]))
    for ax, o in zip(axes, ("revenue", "members_net_income"), strict=True):
        y = table[f"{o}_mean"].to_numpy(np.float64)
        yerr = np.abs(np.vstack([y - table[f"{o}_p05"], table[f"{o}_p95"] - y]))
        for i, name in enumerate(table["policy"]):
            color = "#b2182b" if name == baseline else _COLOURS[i % len(_COLOURS)]
            ax.errorbar(
                x[i] / 1e3,
                y[i] / 1e3,
                xerr=xerr[:, i : i + 1] / 1e3,
                yerr=yerr[:, i : i + 1] / 1e3,
                fmt="o",
                color=color,
                capsize=3,
                ms=7 if name == baseline else 6,
            )
            ax.annotate(
                name,
                (x[i] / 1e3, y[i] / 1e3),
                textcoords="offset points",
                xytext=(6, 5),
                fontsize=9,
            )
        ax.set_xlabel("consumer injury: sum of members' net losses (thousand USD)")
        ax.set_ylabel(f"{OUTCOMES[o][0]} (thousand USD)")
        ax.grid(alpha=0.3)
    axes[0].set_title("What the company takes in against what members lose")
    axes[1].set_title("What members make in total against what they lose")
    fig.tight_layout()
    return fig


def make_step(sweep: Sweep, baseline: str, specs: dict[str, dict[str, str]]):
    """The sweep step writing ``policy.csv``, ``policy.json`` and the trade-off chart."""
    names = [p.label for p in sweep.points]
    values = {p.label: p.values for p in sweep.points}

    def step(out: Path, _sweep: Sweep, runs: pd.DataFrame) -> list[str]:
        table = policy_table(runs, names, baseline)
        results.write_csv(table, out / TABLE_FILE)
        notes = []
        for _, r in table.iterrows():
            if r["policy"] == baseline or r["runs_ok"] == 0:
                continue
            same = all(
                r[f"{o}_diff"] == 0 and r[f"{o}_diff_low"] == 0 and r[f"{o}_diff_high"] == 0
                for o in ("revenue", "consumer_injury")
            )
            if same:
                notes.append(
                    f"{r['policy']}: identical to the baseline in every seed; the rule never "
                    "binds in this scenario (e.g. the plan has no recruiting bonus, or "
                    "expectations are off so claims do not matter)."
                )
        data = {
            "baseline": baseline,
            "seeds": sweep.replicates,
            "intro": (
                f"{len(names)} policies on the same market, each run with the same "
                f"{sweep.replicates} seeds (common random numbers): seed r of a policy and of "
                "the baseline differ only by what the policy changes. Figures are the mean "
                "over seeds with the 5% and 95% seeds in brackets; the difference to the "
                "baseline is the mean of the paired differences with a 95% interval "
                "(Student's t over seeds). Consumer injury is the sum of the net losses of "
                "everyone who joined (a member who made money does not offset one who lost); "
                "net income values household use of the product at what it would have cost "
                "anyway; company revenue is what members paid the company (product, kits, "
                "joining payments) less refunds."
            ),
            "policies": {n: {**specs.get(n, {}), "changes": _changes(values[n])} for n in names},
            "notes": notes,
            "table": table.to_dict(orient="records"),
        }
        results.write_json(data, out / JSON_FILE)
        files = [TABLE_FILE, JSON_FILE]
        if (table["runs_ok"] > 0).all():
            # matplotlib (through the sweep report): 0.7 s at every CLI start, see above.
            from simulation.sweep_report import figure_png  # noqa: PLC0415

            png = figure_png(tradeoff_figure(table, baseline))
            results.atomic_write(out / FIGURE_FILE, lambda p: p.write_bytes(png))
            files.append(FIGURE_FILE)
        return files

    return step


# --------------------------------------------------------------------------------------------
# the command line


def fmt_usd(x: Any) -> str:
    """``$1,234`` or ``-$1,234`` (``n/a`` for NaN)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{'-' if x < -0.5 else ''}${abs(x):,.0f}"


def fmt_pct(x: Any) -> str:
    """``12.3%`` (``n/a`` for NaN)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{100 * x:.1f}%"


def fmt_value(o: str, x: Any) -> str:
    """An outcome's value in its unit."""
    return fmt_pct(x) if OUTCOMES[o][1] == "share" else fmt_usd(x)


def fmt_diff(o: str, r: dict[str, Any]) -> str:
    """``+$1,200 [$300, $2,100]`` or ``+1.2 pp [0.3 pp, 2.1 pp]``: a difference and its interval."""
    d, lo, hi = r[f"{o}_diff"], r[f"{o}_diff_low"], r[f"{o}_diff_high"]
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return "n/a"
    if OUTCOMES[o][1] == "share":  # a difference of shares is in percentage points

        def pp(x: Any) -> str:
            return "n/a" if x is None or math.isnan(x) else f"{100 * x:+.1f} pp"

        return f"{pp(d)} [{pp(lo)}, {pp(hi)}]"
    sign = "+" if d >= 0 else ""
    return f"{sign}{fmt_value(o, d)} [{fmt_value(o, lo)}, {fmt_value(o, hi)}]"


def print_policy(out: Path) -> None:
    """The terminal table of a policy folder."""
    data = json.loads((out / JSON_FILE).read_text(encoding="utf-8"))
    head = ("policy", "ok", "injury", "vs baseline", "revenue", "vs baseline", "losing")
    rows = [
        (
            r["policy"],
            str(r["runs_ok"]),
            fmt_usd(r["consumer_injury_mean"]),
            "(reference)" if r["policy"] == data["baseline"] else fmt_diff("consumer_injury", r),
            fmt_usd(r["revenue_mean"]),
            "(reference)" if r["policy"] == data["baseline"] else fmt_diff("revenue", r),
            fmt_pct(r["share_net_loss_mean"]),
        )
        for r in data["table"]
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    print()
    for row in (head, *rows):
        print(
            "  "
            + "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(
        f"\n  means over {data['seeds']} seeds; 'vs baseline' = mean paired difference to "
        f"'{data['baseline']}' [95% interval]; losing = share of members with net income < 0"
    )
    for note in data["notes"]:
        print(f"  note: {note}")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """``mlmsim policy [SCENARIO] [--policies FILE] [--seeds N] ...``."""
    parser.add_argument(
        "scenario",
        nargs="?",
        default=None,
        help="scenario file or shipped name (default: classroom)",
    )
    parser.add_argument(
        "--policies",
        default=None,
        metavar="FILE",
        help=f"policy file (TOML) or a shipped battery's name (default: {DEFAULT_POLICIES})",
    )
    add_battery_options(
        parser,
        "policy",
        "override a scenario value for every policy, e.g. --set market.population=5000",
    )


def run(args: argparse.Namespace) -> int:
    """``mlmsim policy``: run (or resume) the battery, print the table, write the page."""
    check_battery_seeds(args)
    sweep = build(args.scenario, args.policies, args.sets, args.seeds, args.master_seed)
    meta, specs = load_policies(resolve_policy_path(args.policies))
    info = {p.name: {"title": p.title, "rule": p.rule} for p in specs}
    # The settings are part of the default folder's name, as for `mlmsim run` and `mlmsim
    # stress`: a second battery with other settings gets its own folder instead of being
    # refused as "a different sweep" in the first one's.
    name = safe_name(sweep.name.removeprefix("policy-"), "policy")
    name += results.override_label(args.sets or [])
    out = args.out if args.out is not None else DEFAULT_ROOT / name
    step = make_step(sweep, meta.baseline, info)
    res = run_sweep(sweep, out, steps=[step], **executor_options(args))
    print_result(res)
    if res.lost:
        return 1
    print_policy(out)
    return 0
