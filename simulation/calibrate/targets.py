"""Calibration targets: a published income disclosure statement and the model's same figures.

A target file (``scenarios/targets/*.toml``, format in ``docs/calibration.md``) holds the
statement as published (one row per published rank: share of members, average annual
income) with the plan rank(s) each row is counted in, and the summary statistics to fit.
:func:`load_targets` checks it against the scenario's plan; :func:`model_statistics` measures
the same statistics on a finished run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulation.collect import RANK_MEMBERS_COLUMN, RANK_PAID_COLUMN
from simulation.errors import ConfigError, format_validation_error
from simulation.metrics import annual_quit_rate, at_risk
from simulation.metrics.disclosure import year_populations
from simulation.metrics.survey import BROKE_EVEN_USD, SURVEY_ANSWERS, survey_answers
from simulation.outcomes import retail_share
from simulation.userfile import read_toml, resolve_shipped

NO_RANK = "no rank"
# Shipped published statements, named by statement.published (scenarios/statements/<name>.toml).
STATEMENT_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "statements"
# Published shares are rounded (doTERRA: 4 decimals over 13 rows); they must sum to 1 within
# this (assumption: 13 rows rounded to 1e-4 err by at most 6.5e-4).
SHARE_SUM_TOLERANCE = 0.002
# Survey shares are whole percents (AARP: 47 / 27 / 26): three rounded to 0.01 err by 0.015.
SURVEY_SUM_TOLERANCE = 0.015
# The statistic of targets.revenue_per_member: log10(1 + USD), as incomes.
REVENUE_STAT = "revenue per member"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PublishedRow(_Strict):
    """One published rank as the statement gives it: share of members, average income."""

    rank: str = Field(min_length=1, description="The rank as the statement names it.")
    share: float = Field(ge=0, le=1, description="Share of all members (0-1).")
    avg_annual_income_usd: float = Field(ge=0, description="Average annual income, USD.")


class Row(_Strict):
    """One published rank and the plan rank(s) it is counted in.

    ``share`` and ``avg_annual_income_usd`` are written here, or, when ``statement.published``
    names a statement file, read from that file's row of the same ``rank``.
    """

    rank: str = Field(min_length=1, description="The rank as the statement names it.")
    share: float | None = Field(None, ge=0, le=1, description="Share of all members (0-1).")
    avg_annual_income_usd: float | None = Field(
        None, ge=0, description="Average annual income, USD."
    )
    model: list[str] = Field(min_length=1, description="Plan rank(s) counted in this row.")
    paid: bool | None = Field(
        None, description="Only members paid something (true) or nothing (false) in the year."
    )


class Statement(_Strict):
    """``[statement]``: the plan the statement is mapped to, its rows, how incomes are measured."""

    published: str | None = Field(
        None,
        min_length=1,
        description="A statement file holding [source] and the published rows (a path "
        "relative to this file, or a shipped statement's name: scenarios/statements/<name>.toml"
        "); the rows here then only map its ranks onto the plan's.",
    )
    plan: str | None = Field(None, description="The plan whose ranks the rows name.")
    rows: list[Row] = Field(min_length=1)
    income_basis: Literal["year", "month_at_rank"] = Field(
        "year",
        description="year: a row's income is what its members (by rank at the year's end) "
        "were paid over the year; month_at_rank: 12 x the average monthly pay of those paid "
        "as the row's rank(s) in a month of the year (rows split by paid keep the year).",
    )


class Source(_Strict):
    """``[source]``: where the figures come from."""

    name: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    population: str = ""
    income: str = ""


class Growth(_Strict):
    """``[targets.growth]``: the company's published size at months after its launch.

    Only the shape is fitted: each figure divided by the largest of them, against the model's
    active distributors at the same months divided by their largest (a town is not a
    country, so the counts themselves cannot match).
    """

    months: list[int] = Field(min_length=2, description="Months after launch, increasing.")
    members: list[float] = Field(min_length=2, description="Published members at those months.")

    @model_validator(mode="after")
    def _shape(self) -> Growth:
        if len(self.months) != len(self.members):
            raise ValueError(
                f"months has {len(self.months)} entries and members {len(self.members)}; "
                "expected one published figure per month"
            )
        if any(m < 1 for m in self.months):
            raise ValueError(f"months = {self.months}: expected months >= 1 after launch")
        if any(b <= a for a, b in zip(self.months, self.months[1:], strict=False)):
            raise ValueError(f"months = {self.months}: expected strictly increasing months")
        if any(not (x > 0) for x in self.members):
            raise ValueError(f"members = {self.members}: expected counts > 0")
        return self


class Survey(_Strict):
    """``[targets.survey]``: a survey of people who ever took part (metrics.survey).

    The shares of the members who joined to make money whose lifetime net income, as they
    would report it, is a loss, about zero (within ``band_usd``) or a profit.
    """

    lost: float = Field(ge=0, le=1, description="Share who lost money.")
    broke_even: float = Field(ge=0, le=1, description="Share who broke even.")
    profit: float = Field(ge=0, le=1, description="Share who made a profit.")
    band_usd: float = Field(
        BROKE_EVEN_USD, ge=0, description="A net within this of zero is 'broke even', USD."
    )

    @model_validator(mode="after")
    def _sum(self) -> Survey:
        total = self.lost + self.broke_even + self.profit
        if abs(total - 1.0) > SURVEY_SUM_TOLERANCE:
            raise ValueError(
                f"lost + broke_even + profit = {total:.4f}, expected 1 (within "
                f"{SURVEY_SUM_TOLERANCE}): every respondent gives one of the three answers"
            )
        return self


class Extra(_Strict):
    """``[targets]``: which summary statistics enter the distance, and their weights."""

    share_per_rank: bool = True
    income_per_rank: bool = True
    share_paid_nothing: float | None = Field(None, ge=0, le=1)
    attrition: float | None = Field(None, ge=0, le=1, description="Annual quit rate, last year.")
    retail_share: float | None = Field(None, ge=0, le=1, description="Customer PV / all PV.")
    growth: Growth | None = Field(None, description="Published size over time (its shape).")
    revenue_per_member: float | None = Field(
        None,
        gt=0,
        le=1e7,
        description="Company revenue over the statement year per member who held an account "
        "in it (wholesale customers too), USD; fitted as log10(1 + USD).",
    )
    survey: Survey | None = Field(None, description="Survey answers: lost, broke even, profit.")
    weights: dict[str, float] = Field(
        default_factory=dict, description="Weight per statistic name (default 1)."
    )


class TargetFile(_Strict):
    """A whole target file."""

    source: Source | None = None
    statement: Statement
    targets: Extra = Field(default_factory=Extra)


class _PublishedRows(_Strict):
    rows: list[PublishedRow] = Field(min_length=1)


class PublishedFile(_Strict):
    """A statement file: the figures as published and their source, no mapping."""

    source: Source
    statement: _PublishedRows


@dataclass(frozen=True)
class Bucket:
    """Members the model counts together: plan ranks, optionally split by paid / not paid."""

    label: str
    ranks: tuple[str, ...]
    paid: bool | None
    share: float
    income: float  # share-weighted average annual income of the published rows, USD


def is_fitted(weights: dict[str, float], statistic: str) -> bool:
    """Whether ``statistic`` enters the distance: weight above 0 (default 1).

    A statistic of weight 0 is still measured and shown beside the published figure.
    """
    return weights.get(statistic, 1.0) > 0


@dataclass
class Targets:
    """A checked target file: the buckets, the observed statistics and their weights."""

    path: Path
    source: dict[str, str]
    buckets: list[Bucket]
    observed: dict[str, float]  # statistic name -> published value
    weights: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        """Plain data the workers need (picklable, JSON-ready)."""
        return {
            "buckets": [
                {"label": b.label, "ranks": list(b.ranks), "paid": b.paid} for b in self.buckets
            ],
            "stats": list(self.observed),
            "growth_months": list((self.extra.get("growth") or {}).get("months", [])),
            "income_basis": self.extra.get("income_basis", "year"),
            "survey_band_usd": float(
                (self.extra.get("survey") or {}).get("band_usd", BROKE_EVEN_USD)
            ),
        }


def income_stat(usd: float) -> float:
    """The income statistic: ``log10(1 + usd)`` (incomes span five orders of magnitude)."""
    return math.log10(1.0 + max(usd, 0.0))


def in_usd(stat: str) -> bool:
    """The statistic is a dollar figure kept as ``log10(1 + USD)`` (:func:`income_stat`)."""
    return stat.startswith("income: ") or stat == REVENUE_STAT


def format_stat(stat: str, v: float | None) -> str:
    """A statistic's value as people read it.

    USD for incomes (``v`` in USD, not the log), a percentage for shares and rates, ``n/a``
    for a missing or non-finite value.
    """
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"${v:,.0f}" if in_usd(stat) else f"{100 * v:.2f}%"


def growth_stat(month: int) -> str:
    """The name of the growth statistic at ``month``."""
    return f"growth: month {month}"


def survey_stat(answer: str) -> str:
    """The name of a survey statistic (``answer`` one of ``SURVEY_ANSWERS``)."""
    return f"survey: {answer.replace('_', ' ')}"


def load_targets(
    path: Path | str, rank_names: list[str], plan: str | None = None, months: int | None = None
) -> Targets:
    """Read and check a target file against the plan's rank names.

    Args:
        path: the target file (TOML).
        rank_names: the plan's ranks, lowest first (``"no rank"`` is added).
        plan: the scenario's plan file name (stem), checked against ``statement.plan``.
        months: the scenario's months; a growth figure after them is refused.

    Raises:
        ConfigError: naming the file and the row or key: a share outside 0-1, shares that do
            not sum to 1, a rank the plan does not have (a target the model does not
            produce), rows that overlap or leave a plan rank out, an unknown key.
    """
    p = Path(path)
    where = f"--targets {p}"
    data = read_toml(p, "targets")
    chosen = data.get("targets")
    if isinstance(chosen, dict):
        for key in chosen:
            if key not in Extra.model_fields:
                raise ConfigError(
                    f"{where}: targets.{key}: not a statistic the model produces; the "
                    f"statistics are {', '.join(k for k in Extra.model_fields if k != 'weights')}"
                    " (and targets.weights)"
                )
    try:
        tf = TargetFile.model_validate(data, strict=False)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, where)) from None
    source, rows = _published_rows(tf, p, where)
    if plan is not None and tf.statement.plan is not None and tf.statement.plan != plan:
        raise ConfigError(
            f"{where}: statement.plan = {tf.statement.plan!r}: the statement's ranks are those "
            f"of that plan, but the scenario is paid under {plan!r} (calibrate with --set "
            f"plan.file={tf.statement.plan})"
        )
    total = sum(r.share for r in rows)
    if abs(total - 1.0) > SHARE_SUM_TOLERANCE:
        raise ConfigError(
            f"{where}: statement.rows: the shares sum to {total:.4f}, expected 1 (within "
            f"{SHARE_SUM_TOLERANCE}): every member is in exactly one published rank"
        )
    known = [NO_RANK, *rank_names]
    groups: dict[tuple[tuple[str, ...], bool | None], list[Row]] = {}
    for i, r in enumerate(rows):
        bad = [m for m in r.model if m not in known]
        if bad:
            raise ConfigError(
                f"{where}: statement.rows[{i}] ({r.rank!r}): model rank {bad[0]!r} is not a "
                f"rank of the plan, so the model does not produce this target (plan ranks: "
                f"{', '.join(known)})"
            )
        if r.paid is False and r.avg_annual_income_usd > 0:
            raise ConfigError(
                f"{where}: statement.rows[{i}] ({r.rank!r}): paid = false with an average "
                f"income of {r.avg_annual_income_usd}; members paid nothing average 0"
            )
        groups.setdefault((tuple(sorted(r.model, key=known.index)), r.paid), []).append(r)
    # Every plan rank in exactly one bucket, or in two split by paid = false / true.
    for name in known:
        flags = sorted(
            ("none" if paid is None else str(paid)) for ranks, paid in groups if name in ranks
        )
        if flags not in (["none"], ["False", "True"]):
            what = "in no row" if not flags else f"in rows with paid = {flags}"
            raise ConfigError(
                f"{where}: plan rank {name!r} is {what}; each plan rank must be counted in "
                "exactly one row's model ranks, or in two rows with paid = false and true"
            )
    if tf.statement.income_basis == "month_at_rank":
        for (ranks, paid), part in groups.items():
            if paid is None and NO_RANK in ranks:
                raise ConfigError(
                    f"{where}: statement.rows ({part[0].rank!r}): income_basis = "
                    f"'month_at_rank' measures pay in the months members are paid as a plan "
                    f"rank, and {NO_RANK!r} is none; split the row by paid = false / true "
                    "(measured over the year) or use income_basis = 'year'"
                )
    buckets = []
    for (ranks, paid), part in groups.items():
        share = sum(r.share for r in part)
        income = (
            sum(r.share * r.avg_annual_income_usd for r in part) / share
            if share > 0
            else float(np.mean([r.avg_annual_income_usd for r in part]))
        )
        label = part[0].rank if len(part) == 1 else f"{part[0].rank} to {part[-1].rank}"
        buckets.append(Bucket(label, ranks, paid, share, income))
    ex = tf.targets
    observed: dict[str, float] = {}
    if ex.share_per_rank:
        observed.update({f"share: {b.label}": b.share for b in buckets})
    if ex.income_per_rank:
        observed.update(
            {f"income: {b.label}": income_stat(b.income) for b in buckets if b.paid is not False}
        )
    for key in ("share_paid_nothing", "attrition", "retail_share"):
        value = getattr(ex, key)
        if value is not None:
            observed[key] = float(value)
    if ex.growth is not None:
        if months is not None and ex.growth.months[-1] > months:
            raise ConfigError(
                f"{where}: targets.growth.months: month {ex.growth.months[-1]} is after the "
                f"scenario's last month {months}; the model cannot produce it (set "
                "scenario.months or drop the month)"
            )
        top = max(ex.growth.members)
        observed.update(
            {
                growth_stat(m): float(x / top)
                for m, x in zip(ex.growth.months, ex.growth.members, strict=True)
            }
        )
    if ex.revenue_per_member is not None:
        observed[REVENUE_STAT] = income_stat(ex.revenue_per_member)
    if ex.survey is not None:
        observed.update({survey_stat(a): float(getattr(ex.survey, a)) for a in SURVEY_ANSWERS})
    if not observed:
        raise ConfigError(f"{where}: [targets] selects no statistic to fit")
    for key, w in ex.weights.items():
        if key not in observed:
            raise ConfigError(
                f"{where}: targets.weights: {key!r} is not a statistic of this file (these "
                f"are: {', '.join(observed)})"
            )
        if not (w >= 0 and math.isfinite(w)):
            raise ConfigError(f"{where}: targets.weights.{key} = {w}: expected a number >= 0")
    weights = {k: float(ex.weights.get(k, 1.0)) for k in observed}
    extra = {**ex.model_dump(), "income_basis": tf.statement.income_basis}
    return Targets(p, source.model_dump(), buckets, observed, weights, extra)


def _published_rows(tf: TargetFile, path: Path, where: str) -> tuple[Source, list[Row]]:
    """The target file's source and rows, with the figures of ``statement.published`` filled in.

    Without ``published`` the file must carry ``[source]`` and every row its share and income.
    With it, ``[source]`` and the figures come from the statement file, and the rows must map
    each of its ranks exactly once (in the target file's order, which names the buckets).
    """
    rows = tf.statement.rows
    ref = tf.statement.published
    if ref is None:
        if tf.source is None:
            raise ConfigError(
                f"{where}: [source] is missing: name where the figures come from (name, "
                "citation), or name a statement file that does with statement.published"
            )
        for i, r in enumerate(rows):
            for key in ("share", "avg_annual_income_usd"):
                if getattr(r, key) is None:
                    raise ConfigError(
                        f"{where}: statement.rows[{i}] ({r.rank!r}): {key} is missing; write "
                        "the published figure, or name a statement file that holds it with "
                        "statement.published"
                    )
        return tf.source, rows
    # A path relative to the target file, or the name of a shipped statement (as plan.file).
    there = path.parent / ref
    if not there.is_file():
        there = resolve_shipped(ref, STATEMENT_DIR, f"{where}: statement.published")
    if tf.source is not None:
        raise ConfigError(
            f"{where}: [source]: the source is the published statement's ({there}); remove it here"
        )
    try:
        pub = PublishedFile.model_validate(read_toml(there, "statement"), strict=False)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, f"statement file {there}")) from None
    figures: dict[str, PublishedRow] = {}
    for i, r in enumerate(pub.statement.rows):
        if r.rank in figures:
            raise ConfigError(
                f"statement file {there}: statement.rows[{i}]: rank {r.rank!r} appears twice"
            )
        figures[r.rank] = r
    seen: set[str] = set()
    filled = []
    for i, r in enumerate(rows):
        if r.share is not None or r.avg_annual_income_usd is not None:
            raise ConfigError(
                f"{where}: statement.rows[{i}] ({r.rank!r}): its figures come from the "
                f"published statement ({there}); keep only rank, model and paid here"
            )
        if r.rank not in figures:
            raise ConfigError(
                f"{where}: statement.rows[{i}]: rank {r.rank!r} is not in the published "
                f"statement {there} (its ranks: {', '.join(figures)})"
            )
        if r.rank in seen:
            raise ConfigError(
                f"{where}: statement.rows[{i}]: rank {r.rank!r} is mapped twice; map each "
                "published rank once"
            )
        seen.add(r.rank)
        f = figures[r.rank]
        filled.append(
            r.model_copy(
                update={"share": f.share, "avg_annual_income_usd": f.avg_annual_income_usd}
            )
        )
    missing = [k for k in figures if k not in seen]
    if missing:
        raise ConfigError(
            f"{where}: statement.rows: the published rank(s) {', '.join(map(repr, missing))} "
            f"of {there} are not mapped; every published rank must be counted in a plan rank"
        )
    return pub.source, filled


def model_statistics(
    dist: pd.DataFrame, monthly: pd.DataFrame, names: dict[int, str], spec: dict[str, Any]
) -> dict[str, float]:
    """The target statistics of one finished run.

    The statement year is the run's last 12 months; its members are everyone who was a
    distributor in at least one of them (``all_participants`` of
    :func:`simulation.metrics.income_disclosure`) but wholesale customers
    (``segments.wholesale_share``), who are not distributors; a member's rank is their rank at
    the end (for quitters the rank they last held); income is commissions over the year.

    Args:
        dist: the per-distributor table (``results.distributor_columns``).
        monthly: the monthly table.
        names: rank index -> plan rank name (-1 = ``"no rank"``).
        spec: :meth:`Targets.spec`.

    Returns:
        ``{statistic name: value}`` for every statistic in ``spec["stats"]``; a bucket with no
        member has share 0 and income statistic 0.
    """
    last = int(monthly["month"].iloc[-1])
    first = last - 11
    members = year_populations(dist, first, last)["all_participants"]
    comm = dist["commissions_year"].to_numpy(dtype=np.float64)[members]
    # Rank names by lookup (index 0 = rank -1), not a Python loop over the members.
    codes = dist["rank"].to_numpy(dtype=np.int64)[members]
    top = int(codes.max()) if codes.size else -1
    lookup = np.array([names.get(i, NO_RANK) for i in range(-1, top + 1)])
    rank = lookup[codes + 1]
    n = max(int(members.sum()), 1)
    by_month = spec.get("income_basis", "year") == "month_at_rank"
    year_rows = (monthly["month"] >= first) & (monthly["month"] <= last)
    out: dict[str, float] = {}
    for b in spec["buckets"]:
        mask = np.isin(rank, b["ranks"])
        if b["paid"] is True:
            mask &= comm > 0
        elif b["paid"] is False:
            mask &= comm <= 0
        out[f"share: {b['label']}"] = float(mask.sum() / n)
        if by_month and b["paid"] is None:
            # 12 x the mean monthly pay over the member-months paid as the bucket's ranks.
            held = sum(
                monthly.loc[year_rows, RANK_MEMBERS_COLUMN.format(r)].sum() for r in b["ranks"]
            )
            paid = sum(monthly.loc[year_rows, RANK_PAID_COLUMN.format(r)].sum() for r in b["ranks"])
            out[f"income: {b['label']}"] = income_stat(12.0 * paid / held) if held > 0 else 0.0
        else:
            out[f"income: {b['label']}"] = (
                income_stat(float(comm[mask].mean())) if mask.any() else 0.0
            )
    out["share_paid_nothing"] = float((comm <= 0).sum() / n)
    quits = monthly["quit_this_month"].to_numpy(dtype=np.float64)
    act = monthly["distributors"].to_numpy(dtype=np.float64)
    joins = monthly["joined"].to_numpy(dtype=np.float64)
    year = slice(max(len(act) - 12, 1), len(act))
    rate = float(annual_quit_rate(quits[year], at_risk(act, joins)[year]))
    out["attrition"] = rate if math.isfinite(rate) else 0.0  # nobody at risk: nobody quit
    rs = retail_share(monthly)
    out["retail_share"] = 0.0 if rs is None else float(rs)
    growth = spec.get("growth_months") or []
    if growth:
        size = monthly.set_index("month")["distributors"].reindex(growth, fill_value=0.0)
        sizes = size.to_numpy(dtype=np.float64)
        top = sizes.max()
        for m, x in zip(growth, sizes, strict=True):
            out[growth_stat(m)] = float(x / top) if top > 0 else 0.0
    if REVENUE_STAT in spec["stats"]:
        year = year_populations(dist, first, last, wholesale=True)["all_participants"]
        revenue = float(monthly.loc[year_rows, "revenue"].sum())
        out[REVENUE_STAT] = income_stat(revenue / year.sum()) if year.any() else 0.0
    if any(k.startswith("survey: ") for k in spec["stats"]):
        answers = survey_answers(dist, spec.get("survey_band_usd", BROKE_EVEN_USD))
        for a in SURVEY_ANSWERS:
            v = answers[a]
            out[survey_stat(a)] = float(v) if math.isfinite(v) else 0.0  # nobody asked
    return {k: out[k] for k in spec["stats"]}
