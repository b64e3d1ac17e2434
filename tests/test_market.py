"""Several companies in one market (simulation.market): invariants, symmetry, timing, files."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.behaviour import disclosure_figure
from simulation.cli import main
from simulation.errors import ConfigError
from simulation.market import Market, check_market, choice_probability, load_market
from simulation.results import level_table, monthly_table, write_csv
from simulation.state import Status
from tests.helpers import check_invariants

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "tests" / "data" / "baseline"
MARKET_DATA = ROOT / "tests" / "data" / "market"

TOWN = """
[scenario]
name = "town"
seed = {seed}
months = {months}
[market]
population = {population}
founders = 10
effort_sigma = 0.6
[recruit]
pitches_per_month = 4.0
join_prob = 0.6
warm_share = 0.85
[plan]
file = "unilevel_5"
"""


def market_file(
    tmp_path: Path, companies: list[dict], *, seed=1, months=36, population=3000, extra: str = ""
) -> Path:
    """A market scenario file: the town above and ``companies`` (dicts of their keys)."""
    text = TOWN.format(seed=seed, months=months, population=population)

    def toml(v):
        if isinstance(v, dict):  # an inline table
            return "{" + ", ".join(f"{json.dumps(k)} = {toml(x)}" for k, x in v.items()) + "}"
        return json.dumps(v)

    for c in companies:
        text += "[[companies]]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in c.items())
    path = tmp_path / f"market_{seed}_{len(companies)}.toml"
    path.write_text(text + extra)
    return path


def t_interval(x: np.ndarray) -> tuple[float, float]:
    """95% Student-t interval of the mean of ``x``."""
    from scipy import stats

    x = np.asarray(x, dtype=float)
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return x.mean() - half, x.mean() + half


def test_logit_choice_by_hand():
    # Utilities 0 and ln 3: probabilities 1/4 and 3/4; equal utilities choose uniformly.
    assert choice_probability(np.array([[0.0, math.log(3)]]))[0] == pytest.approx([0.25, 0.75])
    assert choice_probability(np.zeros((1, 4)))[0] == pytest.approx([0.25] * 4)
    # Large utilities do not overflow.
    assert choice_probability(np.array([[1000.0, 1000.0]]))[0] == pytest.approx([0.5, 0.5])


def test_one_company_reproduces_the_stored_baseline_bit_for_bit(tmp_path):
    text = (ROOT / "scenarios" / "classroom.toml").read_text()
    path = tmp_path / "one.toml"
    path.write_text(text + '\n[[companies]]\nname = "classroom"\n')
    market = Market(load_market(path)).run()
    model = market.companies[0].model
    write_csv(monthly_table(model), tmp_path / "monthly.csv")
    write_csv(level_table(model), tmp_path / "levels.csv")
    for name in ("monthly.csv", "levels.csv"):
        got = (tmp_path / name).read_bytes()
        assert got == (BASE / f"classroom_{name}").read_bytes(), name


def test_invariants_every_month_with_leaders_moving(tmp_path):
    """Per company: head counts, money, one tree (the single-company checks); across the
    market: nobody active in two companies, every move out of one company is a move into
    another, and members change only by joins, quits and moves."""
    path = market_file(
        tmp_path,
        [{"name": "a"}, {"name": "b"}, {"name": "c", "launch_month": 4}],
        extra="[switching]\nenabled = true\napproach_prob = 0.2\nleader_min_downline = 3\n",
    )
    market = Market(load_market(path))
    members = {c.name: 0 for c in market.companies}
    moved = 0
    for _ in range(36):
        before = {
            c.name: int((c.model.pop.status == Status.DISTRIBUTOR).sum()) if c.model else 0
            for c in market.companies
        }
        market.step()
        check_market(market)
        rows = market.datacollector.get_table_dataframe("companies")
        rows = rows[rows["month"] == market.month].set_index("company")
        assert rows["switched_in"].sum() == rows["switched_out"].sum()
        flows = market.flows_month
        assert sum(f["leaders"] + f["followers"] for f in flows) == rows["switched_in"].sum()
        moved += rows["switched_in"].sum()
        for c in market.launched():
            check_invariants(c.model)
            r = rows.loc[c.name]
            now = int((c.model.pop.status == Status.DISTRIBUTOR).sum())
            assert r["members"] == now
            if market.month > c.spec.launch_month:
                assert now == before[c.name] + r["joins"] - r["quits"] - r["switched_out"]
            members[c.name] = now
    assert moved > 20, "the test must see leaders move"


def test_a_moving_leader_keeps_the_tree_of_those_who_follow(tmp_path):
    """With everyone following, the movers' tree in the new company is their old subtree:
    each follower's new sponsor is their sponsor before the move."""
    path = market_file(
        tmp_path,
        [{"name": "a"}, {"name": "b"}],
        extra="[switching]\nenabled = true\napproach_prob = 0.3\nfollow_share = 1.0\n"
        "leader_min_downline = 3\n",
    )
    market = Market(load_market(path))
    checked = 0
    for _ in range(30):
        old = {c.name: c.model.pop.sponsor.copy() for c in market.companies}
        was = {c.name: c.model.pop.status == Status.DISTRIBUTOR for c in market.companies}
        market.step()
        for f in market.flows_month:
            src = next(c for c in market.companies if c.name == f["from_company"])
            dst = next(c for c in market.companies if c.name == f["to_company"])
            new = dst.model.pop
            arrived = np.flatnonzero(
                (new.join_month == market.month)
                & was[src.name]
                & (new.status == Status.DISTRIBUTOR)
            )
            followers = arrived[np.isin(old[src.name][arrived], arrived)]
            assert np.array_equal(new.sponsor[followers], old[src.name][followers])
            assert np.all(new.level[followers] == new.level[new.sponsor[followers]] + 1)
            checked += followers.size
    assert checked > 10


def test_two_identical_companies_share_the_market_equally(tmp_path):
    """Launched together with the same plan: over 20 seeds the difference in who ever
    joined each is zero within its 95% interval (a bias in the processing order or the
    choice would show here)."""
    diff = []
    for seed in range(20):
        path = market_file(
            tmp_path, [{"name": "a"}, {"name": "b"}], seed=seed, population=2000, months=24
        )
        rows = Market(load_market(path)).run().tables()["companies"]
        last = rows[rows["month"] == 24].set_index("company")
        diff.append(last.loc["a", "ever_joined"] - last.loc["b", "ever_joined"])
    low, high = t_interval(np.array(diff))
    assert low < 0 < high, (low, high)


def test_a_company_launched_later_reaches_a_lower_peak(tmp_path):
    gap = []
    for seed in range(8):
        path = market_file(
            tmp_path,
            [{"name": "early"}, {"name": "late", "launch_month": 6}],
            seed=seed,
            population=3000,
        )
        rows = Market(load_market(path)).run().tables()["companies"]
        peak = rows.groupby("company")["members"].max()
        gap.append(peak["early"] - peak["late"])
    low, _ = t_interval(np.array(gap))
    assert low > 0, gap


def test_more_companies_reach_half_their_peak_sooner(tmp_path):
    """With the market fixed, months from launch until a company's members first reach half
    their peak shrink as companies are added (the market saturates sooner)."""

    def half_peak(k: int) -> list[int]:
        out = []
        for seed in range(6):
            names = [{"name": f"c{i}"} for i in range(k)]
            path = market_file(tmp_path, names, seed=seed, population=6000)
            rows = Market(load_market(path)).run().tables()["companies"]
            for _, g in rows.groupby("company"):
                m = g["members"].to_numpy()
                out.append(int(np.argmax(m >= m.max() / 2)))
        return out

    one, four = np.array(half_peak(1)), np.array(half_peak(4))
    # Welch's interval for the difference of means.
    from scipy import stats

    se = math.sqrt(one.var(ddof=1) / one.size + four.var(ddof=1) / four.size)
    low = one.mean() - four.mean() - stats.t.ppf(0.975, min(one.size, four.size) - 1) * se
    assert low > 0, (one.mean(), four.mean(), se)


def test_holding_rows_are_the_sums_of_its_companies(tmp_path):
    path = market_file(
        tmp_path,
        [
            {"name": "x", "holding": "group"},
            {"name": "y", "holding": "group", "launch_month": 3},
            {"name": "z"},
        ],
        population=2000,
        months=18,
    )
    rows = Market(load_market(path)).run().tables()["companies"]
    group = rows[rows["kind"] == "holding"].set_index("month")
    parts = rows[rows["company"].isin(["x", "y"])].groupby("month")
    for col in ("members", "joins", "revenue", "paid", "ever_joined"):
        assert np.allclose(group[col], parts[col].sum()), col
    total = rows[rows["kind"] == "company"].groupby("month")["market_share"].sum()
    assert np.allclose(total[total > 0], 1.0)


def test_expansion_opens_towns_one_at_a_time(tmp_path):
    path = market_file(
        tmp_path,
        [{"name": "a", "launch_region": 1}],
        population=8000,
        months=48,
        extra="[expansion]\nenabled = true\npenetration = 0.15\nfounders = 3\n",
    )
    text = path.read_text().replace(
        "[market]\n", '[market]\nnetwork = "regions"\nregions = 4\nbetween_regions = 0.02\n'
    )
    path.write_text(text)
    market = Market(load_market(path)).run()
    c = market.companies[0]
    assert len(c.opened_month) >= 2 and c.opened_month[0] == 0
    regions = market.tables()["regions"]
    first = regions[(regions["region"] == 1)].set_index("month")["penetration"]
    # Nobody outside the open towns ever joins: check at the month before each opening.
    for month, town_open in zip(c.opened_month[1:], range(1, len(c.opened_month)), strict=False):
        before = regions[(regions["month"] == month - 1) & ~regions["opened"]]
        assert (before["ever_joined"] == 0).all(), (month, town_open)
    assert first.iloc[-1] >= 0.15


def test_cli_writes_the_market_folder(tmp_path, capsys):
    out = tmp_path / "out"
    args = [
        "run",
        "two_companies",
        "--set",
        "market.population=1500",
        "--months",
        "18",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    for name in (
        "companies.csv",
        "monthly.csv",
        "levels.csv",
        "flows.csv",
        "regions.csv",
        "market.html",
        "summary.json",
        "columns.json",
        "manifest.json",
    ):
        assert (out / name).is_file(), name
    for company in ("alpha", "beta"):
        assert (out / "companies" / company / "report.html").is_file()
    monthly = pd.read_csv(out / "monthly.csv")
    beta = monthly[monthly["company"] == "beta"]
    assert beta["month"].min() == 6  # months on the market's clock
    described = json.loads((out / "columns.json").read_text())["tables"]
    for name in ("companies.csv", "monthly.csv", "flows.csv", "regions.csv"):
        assert set(pd.read_csv(out / name).columns) <= set(described[name]), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "market" and [c["name"] for c in manifest["companies"]] == [
        "alpha",
        "beta",
    ]
    assert "results:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[companies]]\nname = "a"\n[[companies]]\nname = "a"\n', "each company needs its own"),
        ('[[companies]]\nname = "a"\nlaunch_region = 2\n', "launch_region = 2: no such town"),
        ('[[companies]]\nname = "a"\nplan = "no_such_plan"\n', "plan = 'no_such_plan'"),
        ('[[companies]]\nname = "a"\nset = {"market.population" = 5}\n', "set.market.population"),
        ('[[companies]]\nname = "a"\nlaunch_month = 99\n', "launch_month = 99"),
        ('[[companies]]\nname = "a b"\n', "a company name is"),
        ('[[companies]]\nname = "a"\n[switching]\nfollow_share = 2\n', "switching"),
    ],
)
def test_bad_market_files_exit_2_and_write_nothing(tmp_path, capsys, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(TOWN.format(seed=1, months=12, population=500) + body)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_every_market_parameter_is_documented_with_its_default():
    """docs/market.md lists each key of [[companies]], [switching], [choice], [expansion]."""
    from simulation.market import Choice, CompanySpec, Expansion, Switching

    text = (ROOT / "docs" / "market.md").read_text()
    for prefix, cls in (
        ("companies[].", CompanySpec),
        ("switching.", Switching),
        ("choice.", Choice),
        ("expansion.", Expansion),
    ):
        for name, f in cls.model_fields.items():
            assert f"`{prefix}{name}`" in text, f"{prefix}{name} missing from docs/market.md"
            if (
                f.default is not None
                and not callable(f.default_factory or None)
                and (isinstance(f.default, bool | int | float) and not isinstance(f.default, bool))
            ):
                assert f"| {f.default:g}" in text or f"| {f.default:g} " in text, (
                    f"{prefix}{name}: default {f.default} not in the table"
                )


def test_a_company_draws_its_own_autoship_members_from_its_own_settings(tmp_path):
    """Persons' traits are shared; who orders on autoship follows each company's buy
    settings (a company without an autoship programme has nobody on it)."""
    path = market_file(
        tmp_path,
        [{"name": "a"}, {"name": "b", "set": {"buy.autoship_share": 0.0}}],
        population=1000,
        months=3,
    )
    market = Market(load_market(path)).run()
    a, b = (c.model.pop for c in market.companies)
    assert np.array_equal(a.willingness, b.willingness) and np.array_equal(a.effort, b.effort)
    assert a.autoship.mean() > 0.5 and not b.autoship.any()
    bad = market_file(tmp_path, [{"name": "a", "set": {"people.skill_sigma": 0.5}}], seed=9)
    with pytest.raises(Exception, match="persons' traits are shared"):
        load_market(bad)


# ---------------------------------------------------------------- customers across companies
STILL = "[retail]\nchurn_monthly = 0.0\n[quit]\nenabled = false\n"


def customer_owner(market: Market) -> np.ndarray:
    """int[N]: index of the company each person is a customer of (-1: none); asserts that
    nobody is a customer of two companies."""
    owner = np.full(market.n, -1)
    for c in market.launched():
        mine = c.model.pop.status == Status.CUSTOMER
        assert (owner[mine] == -1).all(), "a customer of two companies"
        owner[mine] = c.index
    return owner


def test_customers_are_conserved_across_companies_every_month(tmp_path):
    """Nobody quits or stops buying, every customer of a mover follows: then each customer
    who changes company does so by a move the market records. Every month the moves seen in
    the persons' statuses (customer of X at the start, of Y at the end) are the flows table's
    and companies.csv's counts, per pair of companies; per company, customers at the end =
    at the start + new + moved in - moved out - lost; in total as many arrive as leave."""
    path = market_file(
        tmp_path,
        [{"name": "a"}, {"name": "b"}, {"name": "c", "launch_month": 3}],
        extra=STILL + "[switching]\nenabled = true\napproach_prob = 0.3\n"
        "leader_min_downline = 3\ncustomer_follow_share = 1.0\n",
    )
    market = Market(load_market(path))
    seen = {"leader": 0, "retail": 0}
    for _ in range(36):
        before = customer_owner(market)
        market.step()
        check_market(market)
        after = customer_owner(market)
        rows = market.datacollector.get_table_dataframe("companies")
        rows = rows[rows["month"] == market.month].set_index("company")
        flows = pd.DataFrame(
            market.flows_month, columns=["kind", "from_company", "to_company", "customers"]
        )
        for c in market.launched():
            check_invariants(c.model)  # each customer's seller is active in the company
            members = c.model.pop.status == Status.DISTRIBUTOR
            assert (after[members] == -1).all(), "a member of one company, customer of another"
        names = [c.name for c in market.companies]
        for x in market.companies:
            for y in market.companies:
                if x is y:
                    continue
                moved = int(((before == x.index) & (after == y.index)).sum())
                recorded = flows[
                    (flows["from_company"] == x.name) & (flows["to_company"] == y.name)
                ]["customers"].sum()
                assert moved == recorded, (market.month, x.name, y.name)
        for c in market.companies:
            r = rows.loc[c.name]
            moved_in = int(((after == c.index) & (before >= 0) & (before != c.index)).sum())
            moved_out = int(((before == c.index) & (after >= 0) & (after != c.index)).sum())
            new = int(((after == c.index) & (before == -1)).sum())
            lost = int(((before == c.index) & (after == -1)).sum())
            assert (r["customers_in"], r["customers_out"]) == (moved_in, moved_out)
            assert r["customers"] == (before == c.index).sum() + new + moved_in - moved_out - lost
        assert rows.loc[names, "customers_in"].sum() == rows.loc[names, "customers_out"].sum()
        assert rows.loc[names, "customers"].sum() == (after >= 0).sum()
        for kind in seen:
            seen[kind] += int(flows[flows["kind"] == kind]["customers"].sum())
    assert seen["leader"] > 20 and seen["retail"] > 20, seen


@pytest.mark.parametrize("share", [0.0, 0.7, 1.0])
def test_a_movers_customers_follow_with_customer_follow_share(tmp_path, share):
    """Once nobody wins, loses or churns customers (retail pitches stop at month 12, no
    quits, no churn), a mover's customers change company only by following them: with
    share 1 every one becomes the mover's customer in the new company, with 0 none does, and
    with 0.7 the share who follow is 0.7 within 4 binomial standard errors."""
    path = market_file(
        tmp_path,
        [{"name": "a"}, {"name": "b"}],
        extra=STILL + "[switching]\nenabled = true\napproach_prob = 0.3\n"
        f"leader_min_downline = 3\ncustomer_follow_share = {share}\n"
        "[choice]\ncustomers_switch = false\n",
    )
    market = Market(load_market(path))
    market.run(12)
    for c in market.companies:
        c.model.schedule_change(c.model.month + 1, "retail.pitches_per_month", 0.0)
    eligible = followed = 0
    for _ in range(30):
        was = {
            c.index: (c.model.pop.status.copy(), c.model.pop.customer_of.copy())
            for c in market.companies
        }
        market.step()
        for src in market.companies:
            status, seller = was[src.index]
            for dst in market.companies:
                if dst is src:
                    continue
                new = dst.model.pop
                movers = np.flatnonzero(
                    (status == Status.DISTRIBUTOR)
                    & (new.join_month == market.month)
                    & (new.status == Status.DISTRIBUTOR)
                )
                theirs = np.flatnonzero((status == Status.CUSTOMER) & np.isin(seller, movers))
                follows = new.status[theirs] == Status.CUSTOMER
                assert np.array_equal(new.customer_of[theirs[follows]], seller[theirs[follows]])
                eligible += theirs.size
                followed += int(follows.sum())
    assert eligible > 50, eligible
    if share in (0.0, 1.0):
        assert followed == share * eligible
    else:
        assert abs(followed - share * eligible) <= 4 * math.sqrt(eligible * share * (1 - share))


def test_a_customer_pitched_by_another_company_switches_with_the_logit_by_hand(tmp_path):
    """Only the companies' ages count (contacts_weight = 0, age_weight = 1): a customer of X
    who accepts a pitch from Y's member moves with exp(ln(1 + age_Y)) / (exp(ln(1 + age_X))
    + exp(ln(1 + age_Y))) = (1 + age_Y) / (2 + age_X + age_Y). The customers won match the
    sum of these probabilities within 4 standard errors, in each direction."""
    path = market_file(
        tmp_path,
        [{"name": "old"}, {"name": "young", "launch_month": 8}],
        months=40,
        extra="[retail]\npitches_per_month = 4.0\naccept_prob = 0.5\n"
        "[choice]\nage_weight = 1.0\ncontacts_weight = 0.0\n",
    )
    market = Market(load_market(path))
    launch = {c.index: c.spec.launch_month for c in market.companies}
    tally = {}  # (from, to) -> [won, pitched, sum p, sum p(1 - p)]
    decide = market._win_customers

    def recording(c, owner, customers, sellers):
        won = decide(c, owner, customers, sellers)
        for x in np.unique(owner[customers]).tolist():
            mine = owner[customers] == x
            p = (1 + market.month - launch[c.index]) / (
                2 + 2 * market.month - launch[x] - launch[c.index]
            )
            t = tally.setdefault((x, c.index), [0, 0, 0.0, 0.0])
            t[0] += int(won[mine].sum())
            t[1] += int(mine.sum())
            t[2] += p * mine.sum()
            t[3] += p * (1 - p) * mine.sum()
        return won

    market._win_customers = recording
    market.run()
    assert set(tally) == {(0, 1), (1, 0)}
    for (x, y), (won, _, mean, var) in tally.items():
        assert var > 10, (x, y, var)  # enough pitches to test
        assert abs(won - mean) <= 4 * math.sqrt(var), (x, y, won, mean, var)
    # The older company wins a larger share of the rival customers it pitches.
    assert tally[(1, 0)][0] / tally[(1, 0)][1] > tally[(0, 1)][0] / tally[(0, 1)][1], tally


# ---------------------------------------------------------------- choice by expected income
def hand_market(tmp_path: Path) -> Market:
    """A market whose prospects' contacts and incomes are set by hand.

    2,400 persons; prospects 1000-1999 know persons 1, 2 (alpha) and 12 (beta), prospects
    2000-2399 know person 13 (beta), and nobody else (an edge list). Nobody joins or quits
    on their own; alpha launches at month 0 and beta at month 4, and the market runs to
    month 8, so the companies are 8 and 4 months old.
    """
    edges = [f"{p} {c}" for p in range(1000, 2000) for c in (1, 2, 12)]
    edges += [f"{p} 13" for p in range(2000, 2400)]
    (tmp_path / "edges.txt").write_text("\n".join(edges) + "\n")
    path = tmp_path / "hand.toml"
    path.write_text(
        '[scenario]\nname = "hand"\nseed = 3\nmonths = 12\n'
        '[market]\npopulation = 2400\nfounders = 1\nnetwork = "edge_list"\n'
        'edge_list = "edges.txt"\n'  # relative to the scenario file, as for one company
        "[recruit]\njoin_prob = 0.0\n[retail]\nenabled = false\n[quit]\nenabled = false\n"
        "[expectations]\nenabled = true\noptimism = 3.0\ncontact_weight = 0.5\n"
        "scale_usd = 50.0\ndisclosure_weight = 1.0\n"
        '[plan]\nfile = "unilevel_5"\n'
        "[choice]\nage_weight = 0.5\ncontacts_weight = 2.0\nincome_weight = 1.0\n"
        '[[companies]]\nname = "alpha"\n'
        '[[companies]]\nname = "beta"\nlaunch_month = 4\n'
        'set = {"expectations.disclosure_shown" = true}\n'
    )
    market = Market(load_market(path))
    for _ in range(8):
        market.step()
    alpha, beta = (c.model for c in market.companies)
    hand = [0, 1, 2, 10, 11, 12, 13]
    for m in (alpha, beta):
        m.pop.status[hand] = Status.PROSPECT
        m.pop.join_month[hand] = -1
        m.pop.commissions[hand] = 0.0
        m.pop.retail_margin[hand] = 0.0
        m.pop.sponsor[hand] = -1
    a, b = alpha.pop, beta.pop
    a.status[[0, 1, 2]] = Status.DISTRIBUTOR
    a.join_month[[0, 1, 2]] = 0
    a.commissions[[1, 2]] = 40.0 * alpha.month  # 40 USD a month each
    a.expected_income[0] = 20.0  # alpha's recruiter
    b.status[[10, 11, 13]] = Status.DISTRIBUTOR
    b.join_month[[10, 11, 12, 13]] = 0
    b.status[12] = Status.QUIT
    b.quit_month[12] = 1
    b.commissions[12] = 20.0  # 2 months in beta: 10 USD a month
    b.commissions[13] = 200.0 * beta.month  # 200 USD a month
    b.expected_income[10] = 30.0  # beta's recruiter ...
    b.sponsor[10] = 11
    b.expected_income[11] = 50.0  # ... whose sponsor expects more
    beta.pay_history = [(1200.0, 10)]  # disclosed: 120 USD a month per member
    return market


def test_a_prospect_chooses_by_expected_income_with_the_logit_by_hand(tmp_path):
    """Prospects proposed by both companies (alpha's recruiter 0, beta's 10), worked out by
    hand. Claims: alpha 3 x 20 = 60, beta 3 x max(30, 50) = 150. Prospects of group 1 see
    two alpha members earning 40 and a beta quitter who earned 10: E_alpha = (60 + 0.5 x 80) /
    (1 + 0.5 x 2) = 50, E_beta = (150 + 0.5 x 10 + 120) / (1 + 0.5 + 1) = 110; contacts term
    2 x 2/3 for alpha and 2 x (-1/3) for beta. Group 2 sees one beta member earning 200:
    E_alpha = 60, E_beta = (150 + 100 + 120) / 2.5 = 148; contacts term 0 and 2 x 1. Ages 8
    and 4. Beta's choices match P(beta) within 4 standard errors, and differ from what the
    logit without the income term gives."""
    market = hand_market(tmp_path)
    alpha, beta = market.companies
    assert (market.month, alpha.model.month, beta.model.month) == (8, 8, 4)
    ln = math.log
    groups = {
        1: (np.arange(1000, 2000), 0.5 * ln(9) + 2 * 2 / 3, 0.5 * ln(5) - 2 / 3, 50.0, 110.0),
        2: (np.arange(2000, 2400), 0.5 * ln(9), 0.5 * ln(5) + 2.0, 60.0, 148.0),
    }
    running = market.launched()
    for _, (persons, ua, ub, ea, eb) in groups.items():
        persons = persons[
            (alpha.model.pop.status[persons] == Status.PROSPECT)
            & (beta.model.pop.status[persons] == Status.PROSPECT)
        ]
        assert persons.size > 350  # a founder may sit among them
        e = market.expected_incomes(persons, running, np.tile([0, 10], (persons.size, 1)))
        assert np.allclose(e, [ea, eb], rtol=0, atol=1e-9)
        p = 1.0 / (1.0 + math.exp((ua + ln(1 + ea / 50)) - (ub + ln(1 + eb / 50))))
        p_without = 1.0 / (1.0 + math.exp(ua - ub))
        won = n = 0
        for _ in range(20):
            proposals = {
                alpha.index: (persons, np.zeros(persons.size, np.int64)),
                beta.index: (persons, np.full(persons.size, 10, np.int64)),
            }
            kept = market._choose(running, proposals)
            assert kept[alpha.index][0].size + kept[beta.index][0].size == persons.size
            won += kept[beta.index][0].size
            n += persons.size
        se = math.sqrt(n * p * (1 - p))
        assert abs(won - n * p) <= 4 * se, (won, n * p, se)
        assert abs(won - n * p_without) > 4 * se, (won, n * p_without)
    # A member weighing their own company (a leader approached by beta's 10) expects what
    # they expect there: person 0 in alpha, 20; in beta, who sees nobody: (150 + 120) / 2.
    e = market.expected_incomes(np.array([0]), running, np.array([[-1, 10]]))
    assert np.allclose(e, [[20.0, 135.0]], rtol=0, atol=1e-9)


def test_a_company_whose_members_earn_more_wins_more_contested_prospects(tmp_path):
    """Beta pays a 50 USD fast start on top of alpha's plan: its members earn more (its
    disclosure figure is higher in every seed). A prospect's E of a company is the average
    monthly income of their contacts in it (expectations off, so no claims; contact_weight
    1). After 18 months every prospect is proposed by both (a random active member of each)
    and chooses with the income term and without it on the same random numbers; over 10
    seeds beta's share of them rises with the income term (paired, 95% interval above 0)."""
    diff = []
    for seed in range(10):
        path = market_file(
            tmp_path,
            [{"name": "alpha"}, {"name": "beta", "plan": "unilevel_5_fast_start"}],
            seed=seed,
            population=2000,
            months=24,
            extra="[expectations]\ncontact_weight = 1.0\n",
        )
        market = Market(load_market(path))
        for _ in range(18):
            market.step()
        running = market.launched()
        alpha, beta = (disclosure_figure(c.model) for c in running)
        assert beta > alpha, (alpha, beta)
        rng = np.random.default_rng(seed)
        persons = np.flatnonzero(
            (running[0].model.pop.status == Status.PROSPECT)
            & (running[1].model.pop.status == Status.PROSPECT)
        )
        proposals = {}
        for c in running:
            active = c.model.active_ids()
            proposals[c.index] = (persons, active[rng.integers(active.size, size=persons.size)])
        state = market.streams["choice"].bit_generator.state
        share = []
        for weight in (1.0, 0.0):
            market.spec.choice = market.spec.choice.model_copy(update={"income_weight": weight})
            market.streams["choice"].bit_generator.state = state
            share.append(market._choose(running, proposals)[1][0].size / persons.size)
        diff.append(share[0] - share[1])
    low, _ = t_interval(np.array(diff))
    assert low > 0, str(np.round(diff, 3))


def test_without_the_income_term_the_market_reproduces_its_stored_tables(tmp_path):
    """choice.income_weight = 0 gives the tables the market gave before the income term, bit
    for bit, with every input of the term live (expectations, contacts' incomes, beta's
    statement, leaders moving); the shipped two_companies.toml (expectations off) gives the
    same tables with the default income term as without it (every E is 0)."""
    spec = importlib.util.spec_from_file_location("refresh", MARKET_DATA / "refresh.py")
    refresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(refresh)
    assert "choice.income_weight=0" in refresh.SETTINGS
    for name, table in refresh.tables().items():
        write_csv(table, tmp_path / name)
        assert (tmp_path / name).read_bytes() == (MARKET_DATA / name).read_bytes(), name
    out = {}
    for weight in ("1", "0"):
        sets = ["market.population=2000", "scenario.months=24", f"choice.income_weight={weight}"]
        market = Market(load_market("two_companies", sets)).run()
        out[weight] = [market.tables()["companies"]] + [
            monthly_table(c.model) for c in market.companies
        ]
    for a, b in zip(out["1"], out["0"], strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_the_track_record_is_the_growth_of_active_members_by_hand(tmp_path):
    """record_weight x clip(members now / members 12 months earlier - 1, -1, 1), read off the
    companies table; 0 for a company younger than 12 months."""
    path = market_file(
        tmp_path,
        [{"name": "old"}, {"name": "young", "launch_month": 10}],
        population=2000,
        months=20,
        extra="[choice]\nrecord_weight = 1.5\nage_weight = 0.0\ncontacts_weight = 0.0\n"
        "income_weight = 0.0\n",
    )
    market = Market(load_market(path)).run()
    rows = market.tables()["companies"].set_index(["company", "month"])["members"]
    growth = rows["old", 20] / rows["old", 8] - 1.0
    old, young = market.companies
    assert market.track_record(old) == pytest.approx(float(np.clip(growth, -1, 1)))
    assert market.track_record(young) == 0.0
    u = market._utility(np.arange(5), [old, young])
    assert np.allclose(u, [1.5 * market.track_record(old), 0.0])


def test_a_market_reads_its_edge_list_relative_to_the_scenario_file(tmp_path):
    (tmp_path / "edges.txt").write_text("".join(f"{i} {i + 1}\n" for i in range(19)))
    path = market_file(tmp_path, [{"name": "a"}, {"name": "b"}], population=20)
    text = path.read_text().replace(
        "founders = 10", 'founders = 1\nnetwork = "edge_list"\nedge_list = "edges.txt"'
    )
    path.write_text(text)
    spec = load_market(path)
    assert Path(spec.base.market.edge_list) == (tmp_path / "edges.txt").resolve()
    assert all(Path(s.market.edge_list) == (tmp_path / "edges.txt").resolve()
               for s in spec.scenarios)  # fmt: skip
    path.write_text(text.replace('"edges.txt"', '"missing.txt"'))
    with pytest.raises(ConfigError, match=r"market\.edge_list.*missing\.txt"):
        load_market(path)


@pytest.mark.skipif(sys.platform != "linux", reason="the figures' child is forked (Linux)")
def test_figures_drawn_beside_the_tables_are_those_drawn_in_one_process(tmp_path, monkeypatch):
    from simulation import market_run

    args = ["run", "two_companies", "--set", "market.population=1500", "--months", "12", "--quiet"]
    monkeypatch.setattr(market_run, "_can_fork", lambda: True)  # whatever the load
    assert main([*args, "--out", str(tmp_path / "two")]) == 0
    monkeypatch.setattr(market_run, "_can_fork", lambda: False)
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    pngs = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.png"))
    assert len(pngs) >= 8  # each company's figures
    for rel in pngs:
        assert (tmp_path / "two" / rel).read_bytes() == (tmp_path / "one" / rel).read_bytes()
    # The pages embed the same figures (their run folder and times aside).
    for page in ("market.html", "companies/alpha/report.html", "companies/beta/report.html"):
        one = (tmp_path / "one" / page).read_text()
        two = (tmp_path / "two" / page).read_text()
        images = [
            [t.split('"')[0] for t in text.split("data:image/png;base64,")[1:]]
            for text in (one, two)
        ]
        assert images[0] and images[0] == images[1], page


@pytest.mark.skipif(sys.platform != "linux", reason="the figures' child is forked (Linux)")
def test_drawing_shares_the_jobs_and_draws_here_what_the_child_could_not(monkeypatch):
    from simulation import market_run
    from simulation.market_run import _Drawing

    monkeypatch.setattr(market_run, "_can_fork", lambda: True)  # whatever the load

    def job(key):
        if key == "last":
            raise ValueError("cannot draw")  # the child's first job: it stops there
        return {key: key.encode()}

    keys = ["a", "b", "c", "last"]
    drawing = _Drawing({k: (lambda k=k: job(k)) for k in keys})
    assert drawing.child is not None
    try:
        assert [drawing.get(k) for k in keys[:3]] == [{k: k.encode()} for k in keys[:3]]
        with pytest.raises(ValueError, match="cannot draw"):
            drawing.get("last")  # drawn again here, so its error is this process's
    finally:
        drawing.close()
