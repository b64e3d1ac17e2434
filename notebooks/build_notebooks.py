"""Write the teaching notebooks from the cell texts below (no outputs, stable cell ids).

The notebooks are generated so that a review reads plain Python and Markdown here instead
of notebook JSON. Each notebook tells one story with a small market (seconds to run) and
ends by asserting its key claim; the test suite executes all of them
(tests/test_notebooks.py).

Usage:
    python notebooks/build_notebooks.py          # (re)write notebooks/*.ipynb
    python notebooks/build_notebooks.py --check  # exit 1 if a notebook is out of date
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

pd.set_option("display.precision", 2)
pd.set_option("display.width", 120)
"""


def md(text: str):
    """A Markdown cell (source dedented and stripped)."""
    return new_markdown_cell(textwrap.dedent(text).strip())


def code(*parts: str):
    """A code cell: each part dedented, joined by newlines, stripped."""
    return new_code_cell("\n".join(textwrap.dedent(p).strip() for p in parts))


# ------------------------------------------------------------------------------------------
SATURATION = [
    md(
        """
        # Saturation in class: why the last levels cannot recruit

        A small town of **2,000 people**. Ten of them become the company's first distributors
        (the *founders*, level 1). Every month each distributor pitches the opportunity to about
        four people, mostly friends and neighbours. A first pitch to a fully willing person works
        60% of the time; people differ in how willing they are, every earlier pitch makes a yes
        less likely, and so does seeing a friend quit. Recruits join the level below the person
        who recruited them.

        We run three years (36 months) of the `classroom` scenario, the same market the
        classroom page (`mlmsim app`) shows, and ask: how far does recruiting get, why does it
        stop, and who pays for it?
        """
    ),
    code(
        SETUP,
        """
        from simulation import app_views as views
        from simulation.metrics import level_saturation
        from simulation.collect import reachable_at_end
        from simulation.state import Status

        model = views.ClassroomModel()  # 2,000 people, 10 founders, 36 months, seed 42
        model.run()
        monthly = model.datacollector.get_model_vars_dataframe()
        pop = model.pop
        ever = np.flatnonzero(pop.join_month >= 0)
        print(views.setup_line(model))
        """,
    ),
    md(
        """
        ## 1. The market fills up, then stops

        Bars: how many joined each month. Red line: the share of the town that has ever
        joined (the *penetration*). Recruiting booms, peaks and dies out long before everybody
        has joined.
        """
    ),
    code(
        """
        display(views.penetration_figure(model))
        joins = monthly["joined"].to_numpy()[1:]  # month 0 is the founders
        pen = monthly["penetration"].to_numpy()
        peak = int(np.argmax(joins)) + 1
        print(f"peak: {joins.max()} joins in month {peak}")
        print(f"ever joined after 36 months: {pen[-1]:.1%} of the town")
        print(f"joins in the last 6 months: {joins[-6:].sum()} "
              f"(penetration +{100 * (pen[-1] - pen[-7]):.1f} percentage points)")
        """
    ),
    md(
        """
        ## 2. Who recruited whom

        Each dot is a person who joined, one row per level; lines go from recruiter to recruit.
        Grey dots have quit. The tree is widest in the middle levels and thins out at the
        bottom: the deepest levels joined last, when almost nobody was left to recruit.
        """
    ),
    code("display(views.tree_figure(model))"),
    md(
        """
        ## 3. Recruiting stalls level by level

        For each level: how many joined, how many each of them recruited on average, the
        months in which that level filled, and (for members still active) how many of their
        contacts have never joined and are not refusing right now.
        """
    ),
    code(
        """
        reachable = reachable_at_end(model, ever)
        by_level = level_saturation(
            pop.level[ever], pop.recruits[ever], pop.status[ever] == Status.DISTRIBUTOR,
            pop.join_month[ever], reachable,
        )
        display(by_level[["ever_joined", "mean_recruits", "first_join_month",
                          "last_join_month", "reachable_mean"]])
        display(views.levels_figure(model))
        """
    ),
    md(
        """
        The founders recruited several people each; the last levels recruited almost nobody.
        Yet their friends are not all gone: most active members still have a couple of
        contacts who never joined. So why does nobody say yes?

        ## 4. The willing are used up

        The chance that one pitch to a person works is (see `simulation/behaviour.py`)

        *join chance* × *willingness* × 0.6 ^ *times already pitched* × 0.75 ^ *friends who quit*,

        and zero while someone who just said no is left alone. Add this chance up over everyone
        who has not joined: that is how many would join if each of them got one pitch now.
        We rerun the same market month by month and watch this number.
        """
    ),
    code(
        """
        def yeses_left(m):
            \"\"\"Expected joins if everyone who never joined got one pitch this month.\"\"\"
            r = m.scenario.recruit
            p = m.pop
            never = (p.status == Status.PROSPECT) | (p.status == Status.CUSTOMER)
            chance = r.join_prob * p.willingness.astype(float)
            chance *= r.fatigue ** p.pitched * (1 - r.bad_news) ** p.quit_contacts
            chance[p.refused_until > m.month] = 0.0
            return float(chance[never].sum()), int(never.sum())

        rerun = views.ClassroomModel()
        rows = []
        for month in range(37):
            if month:
                rerun.step()
            yes, left = yeses_left(rerun)
            rows.append({"month": month, "never joined": left, "expected yeses": yes})
        willing = pd.DataFrame(rows).set_index("month")

        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot(willing.index, willing["never joined"], lw=3, label="people who never joined")
        ax.plot(willing.index, willing["expected yeses"], lw=3,
                label="yeses if each got one pitch now")
        ax.set_xlabel("month")
        ax.set_ylabel("people")
        ax.set_ylim(0, None)
        ax.legend()
        ax.set_title("Plenty of people left, hardly any yeses left")
        plt.show()
        print(willing.iloc[[0, 6, 12, 24, 36]])
        """
    ),
    md(
        """
        Two thirds of the town never joins, but after two years the people left are those who
        never wanted to, were already asked (and said no), or watched a friend quit. The deep
        levels arrived when the yeses had run out: the last levels *cannot* recruit, whatever
        they do.

        ## 5. Who paid for it

        Everyone pays a starter kit and buys product each month; commissions come from the
        purchases of one's downline. Those who joined late have no downline.
        """
    ),
    code(
        """
        net = pop.net_income()[ever]  # own-use product valued at what it is worth
        joined = pop.join_month[ever]
        cohort = pd.cut(joined, [-1, 0, 6, 12, 18, 24, 30, 36],
                        labels=["founders", "1-6", "7-12", "13-18", "19-24", "25-30", "31-36"])
        lost = pd.Series(net < 0).groupby(cohort, observed=False).agg(["size", "mean"])
        lost.columns = ["joined", "share who lost money"]
        display(lost)
        last_year = joined >= model.month - 11
        print(f"joined in the last 12 months: {last_year.sum()}, "
              f"of whom {np.mean(net[last_year] < 0):.0%} lost money")
        """
    ),
    md(
        """
        ### Questions for the class

        1. Recruiting stopped with two thirds of the town still outside. Who are they?
        2. The people on the last levels worked as hard as the founders. Why did they recruit
           almost nobody?
        3. If the company told new recruits "just find three people who find three people",
           how many levels would it take to need more people than live in this town?

        ### The key claim

        Penetration reached a plateau well below the whole town, the willing were used up,
        members of the deepest third of the levels recruited fewer than one person in two
        (the founders: more than two each), and more than half of those who joined in the last
        year lost money.
        """
    ),
    code(
        """
        assert pen[-1] - pen[-7] < 0.03, "penetration still rising in the last 6 months"
        assert joins[-6:].mean() < 0.25 * joins.max(), "recruiting did not die out"
        assert pen[-1] < 0.6, "saturation should come well before everyone joined"
        deep = by_level.index > 2 * by_level.index.max() / 3  # the deepest third of levels
        per_member = by_level["mean_recruits"] * by_level["ever_joined"]
        deep_rate = per_member[deep].sum() / by_level["ever_joined"][deep].sum()
        assert by_level["mean_recruits"].iloc[0] > 2 and deep_rate < 0.5, deep_rate
        assert willing["expected yeses"].iloc[-1] < 0.2 * willing["expected yeses"].iloc[0]
        assert np.mean(net[last_year] < 0) > 0.5
        print("Saturation: plateau, the last levels stalled, the latecomers lost money.")
        """
    ),
]

# ------------------------------------------------------------------------------------------
MONEY = [
    md(
        """
        # Where the money goes

        The same town of 2,000 people, three years. Every distributor pays a starter kit,
        buys product every month (partly used at home, partly sold to customers) and pays for
        fees and events. The company pays **commissions** on the purchases of each member's
        downline. Who ends up with the money?

        Three questions:

        1. How concentrated are the commissions (gross income)?
        2. What is left after costs (net income)?
        3. What would the company's *income disclosure statement* show, and what does it
           leave out?
        """
    ),
    code(
        SETUP,
        """
        from simulation import app_views as views
        from simulation.metrics import gini, income_disclosure, top_share
        from simulation.results import distributor_columns

        model = views.ClassroomModel()
        model.run()
        dist = pd.DataFrame(distributor_columns(model))  # one row per person who joined
        print(views.setup_line(model))
        print(f"{len(dist)} people joined; company revenue ${model.company['revenue']:,.0f}, "
              f"commissions paid ${model.company['paid']:,.0f}")
        """,
    ),
    md(
        """
        ## 1. Gross: a few get most of the commissions

        The Lorenz curve lines everyone up from the lowest paid to the highest and plots the
        share of all commissions received by the bottom x%. If everyone got the same it would be
        the diagonal.
        """
    ),
    code(
        """
        display(views.lorenz_figure(model))
        comm = dist["commissions"].to_numpy()
        print(f"never paid a cent: {np.mean(comm <= 0):.0%} of those who joined")
        print(f"top 1% received {top_share(comm, 0.01):.0%} of all commissions, "
              f"top 10% received {top_share(comm, 0.10):.0%}")
        print(f"Gini of commissions: {gini(comm):.2f}")
        """
    ),
    md(
        """
        ## 2. Net: gross minus costs

        Costs are the starter kit, product bought from the company and monthly fees. Product a
        household uses counts at what it is worth to them (the model's `own_use_value`):
        surveys count income this way. Full-cost studies count all purchases as a cost
        (`net_income_strict`).
        """
    ),
    code(
        """
        dist["costs"] = dist["purchases"] + dist["kit_cost"] + dist["fixed_costs"]
        q = [0.10, 0.25, 0.50, 0.75, 0.90, 0.99]
        spread = dist[["commissions", "costs", "net_income", "net_income_strict"]].quantile(q)
        spread.index = [f"{int(100 * x)}th percentile" for x in q]
        display(spread.round(0))

        net = dist["net_income"].to_numpy()
        fig, ax = plt.subplots(figsize=(8, 4))
        share = 100 * np.arange(net.size) / net.size
        ax.plot(share, np.sort(comm), lw=3, label="gross (commissions)")
        ax.plot(share, np.sort(net), lw=3, label="net (after costs)")
        ax.axhline(0, color="black", lw=1)
        ax.set_xlabel("members, lowest first (%)")
        ax.set_ylabel("USD over three years")
        ax.set_title("Everyone, lined up: gross and net")
        ax.legend()
        plt.show()
        print(f"median net income: ${np.median(net):,.0f}; "
              f"lost money: {np.mean(net < 0):.0%} (own use valued), "
              f"{np.mean(dist['net_income_strict'] < 0):.0%} (all purchases as cost)")
        """
    ),
    md(
        """
        ## 3. By level

        The money flows up: a member's commissions come from the purchases of the levels
        below them.
        """
    ),
    code(
        """
        by_level = dist.groupby("level").agg(
            members=("id", "size"),
            median_gross=("commissions", "median"),
            mean_gross=("commissions", "mean"),
            median_net=("net_income", "median"),
            lost_money=("net_income", lambda x: np.mean(x < 0)),
        )
        display(by_level.round(2))
        """
    ),
    md(
        """
        ## 4. The income disclosure statement

        Real companies publish, for the last year, the gross commissions of distributors who
        were active **all year**. They leave out costs, everyone who quit during the year and
        everyone who joined during it. `simulation.metrics.income_disclosure` builds the same
        table for all four groups and adds costs and net income.
        """
    ),
    code(
        """
        year = range(model.month - 11, model.month + 1)
        ids = income_disclosure(dist, year)
        cols = ["population", "count", "share_of_participants", "mean_gross", "median_gross",
                "share_no_gross", "mean_costs", "median_net", "share_net_loss"]
        statement = ids[ids["rank"].isna()][cols].set_index("population")
        display(statement.round(2))
        published = statement.loc["active_full_year"]
        everyone = statement.loc["all_participants"]
        display(Markdown(
            f"The published block covers **{published['count']:.0f} of "
            f"{everyone['count']:.0f}** participants of the year. It would report a median "
            f"gross income of **${published['median_gross']:,.0f}**; after costs their median "
            f"is **${published['median_net']:,.0f}**, and "
            f"**{everyone['share_net_loss']:.0%}** of all participants lost money that year."
        ))
        """
    ),
    md(
        """
        ### Questions for the class

        1. A brochure shows the commission cheque of the best-paid member. Is that a lie? What
           is missing?
        2. Why does the statement only include people active all year? Who is left out, and
           how did they do?
        3. Surveys find that about half of participants lose money; full-cost studies find
           almost all do. Which costs make the difference?

        ### The key claim

        The top 10% received more than half of all commissions, the median member lost money,
        and the published statement's median gross is positive while the same people's median
        net is negative.
        """
    ),
    code(
        """
        assert top_share(comm, 0.10) > 0.5
        assert np.median(net) < 0
        assert published["median_gross"] > 0 > published["median_net"]
        assert everyone["share_net_loss"] > 0.5
        assert published["count"] < everyone["count"]
        print("Gross income is concentrated, net income mostly negative; the statement hides it.")
        """
    ),
]

# ------------------------------------------------------------------------------------------
PLANS = [
    md(
        """
        # Comparing plans: the same market under several compensation plans

        Companies argue about their *compensation plan*: unilevel, stairstep-breakaway, binary,
        hybrid... Here the **same town** (same people, same friendships, same seeds) is run
        under every plan shipped in `scenarios/plans/`. What does the plan change, and what
        does it not?
        """
    ),
    code(
        SETUP,
        """
        import time

        from simulation import app_views as views
        from simulation.metrics import gini, top_share

        SEEDS = (1, 2, 3)
        rows = []
        t0 = time.perf_counter()
        for plan in views.plan_names():
            for seed in SEEDS:
                m = views.ClassroomModel(plan=plan, seed=seed)
                m.run()
                mv = m.datacollector.model_vars
                ever = m.pop.join_month >= 0
                comm = m.pop.commissions[ever]
                net = m.pop.net_income()[ever]
                rows.append({
                    "plan": m.plan.meta.name,
                    "file": plan,
                    "seed": seed,
                    "penetration": m.stats["penetration"],
                    "payout_ratio": m.company["paid"] / sum(mv["commissionable_revenue"]),
                    "lost_money": m.stats["share_net_loss"],
                    "lost_money_strict": m.stats["share_net_loss_strict"],
                    "top10_share": top_share(comm, 0.10) if comm.sum() > 0 else np.nan,
                    "gini_net": gini(net),
                    "median_net": float(np.median(net)),
                })
        runs = pd.DataFrame(rows)
        print(f"{len(runs)} runs in {time.perf_counter() - t0:.1f} s")
        """,
    ),
    md(
        """
        ## The table

        Means over three seeds. *payout ratio*: commissions paid / commissionable revenue.
        *top10_share*: the share of all commissions received by the best-paid 10%.
        """
    ),
    code(
        """
        table = runs.groupby("plan")[[
            "penetration", "payout_ratio", "lost_money", "lost_money_strict",
            "top10_share", "gini_net", "median_net",
        ]].mean().sort_values("payout_ratio")
        display(table.round(3))
        """
    ),
    code(
        """
        fig, axes = plt.subplots(1, 3, figsize=(14, 4.5), sharey=True)
        names = table.index
        y = np.arange(len(names))
        for ax, col, title in zip(
            axes,
            ["penetration", "payout_ratio", "lost_money"],
            ["ever joined (share of town)", "payout ratio", "share who lost money"],
        ):
            ax.barh(y, table[col], color="#2166ac")
            ax.set_xlim(0, 1)
            ax.set_title(title)
        axes[0].set_yticks(y, names)
        fig.suptitle("Same town, different plans", fontweight="bold")
        fig.tight_layout()
        plt.show()
        """
    ),
    md(
        """
        The plan decides **how the commissions are split**: how much of the revenue is paid
        out, and how much goes to the top. It hardly changes **how far recruiting gets**, nor
        the fact that most members lose money: the market saturates at the same point because
        saturation comes from the town (who is willing, who knows whom), not from the plan.

        ### Questions for the class

        1. A plan pays out a higher share of revenue. Does that help the typical member?
        2. Which plan concentrates the money most at the top? How can you tell from the table?
        3. Could any plan make recruiting go on forever in a town of 2,000?

        ### The key claim

        Under every plan more than half of those who joined lost money, and penetration
        differs by less than 5 percentage points between plans.
        """
    ),
    code(
        """
        assert len(table) >= 2, "compare at least two plans"
        assert (table["lost_money"] > 0.5).all(), table["lost_money"]
        spread = table["penetration"].max() - table["penetration"].min()
        assert spread < 0.05, f"penetration differs by {spread:.1%} between plans"
        print(f"{len(table)} plans: all lose money for most members; "
              f"penetration within {100 * spread:.1f} points.")
        """
    ),
]

# ------------------------------------------------------------------------------------------
MATHS = [
    md(
        """
        # Checking the model against known mathematics

        A simulation earns trust when, in settings simple enough to solve by hand, it gives the
        answers mathematics predicts. Two such settings:

        1. **Random recursive tree.** Nobody quits, everyone is equally willing, and each new
           member's recruiter is picked uniformly at random among the members. The tree that
           grows is a *random recursive tree*, whose laws are known exactly for n members:
           half of them recruit nobody (E[leaves] = n/2), the mean depth is H_n - 1 and the
           founder recruits H_{n-1} people on average (H_n = 1 + 1/2 + ... + 1/n, about
           ln n + 0.577).
        2. **Bass curve.** In a *well-mixed* market (anyone can pitch anyone) with word of mouth
           and a little advertising, the share who have joined follows the Bass diffusion
           curve: slow start, fast middle, saturation.
        """
    ),
    code(
        SETUP,
        """
        from simulation.metrics import bass_fit
        from simulation.model import MLMModel

        # Switch off everything the textbook models do not have.
        QUIET = dict(
            recruit__refusals=False,
            recruit__fatigue=1.0,
            recruit__bad_news=0.0,
            quit__enabled=False,
            retail__enabled=False,
            market__heterogeneity=False,
            network="well_mixed",
        )

        def harmonic(n):
            return float(np.sum(1.0 / np.arange(1, n + 1)))
        """,
    ),
    md(
        """
        ## 1. Random recursive tree

        One founder; each month every person outside joins with probability 0.001 under a
        uniformly chosen active member (`recruit.mode = "uniform_sponsor"`). Few join per
        month, so joining in monthly batches barely changes the textbook answers. Twelve
        towns of 1,000 people, 400 months each.
        """
    ),
    code(
        """
        rows = []
        for seed in range(12):
            m = MLMModel(
                seed=seed, agents=False, population=1000, founders=1, months=400,
                recruit__mode="uniform_sponsor", recruit__fixed_join_prob=0.001, **QUIET,
            )
            m.run()
            p = m.pop
            ever = np.flatnonzero(p.join_month >= 0)
            n = ever.size
            founder = ever[p.level[ever] == 1][0]
            rows.append({
                "n": n,
                "leaves": np.mean(p.recruits[ever] == 0),
                "mean_depth": np.mean(p.level[ever] - 1),
                "founder_recruits": p.recruits[founder],
                "leaves_theory": 0.5,
                "mean_depth_theory": harmonic(n) - 1,
                "founder_recruits_theory": harmonic(n - 1),
            })
        rrt = pd.DataFrame(rows)
        summary = pd.DataFrame({
            "simulated": [rrt[k].mean() for k in ("leaves", "mean_depth", "founder_recruits")],
            "theory": [rrt[f"{k}_theory"].mean()
                       for k in ("leaves", "mean_depth", "founder_recruits")],
            "standard error": [rrt[k].std(ddof=1) / np.sqrt(len(rrt))
                               for k in ("leaves", "mean_depth", "founder_recruits")],
        }, index=["share who recruit nobody", "mean depth", "founder's recruits"])
        summary["difference / s.e."] = (summary["simulated"] - summary["theory"]) / summary[
            "standard error"]
        print(f"members per town: {rrt['n'].mean():.0f} on average")
        display(summary.round(3))
        """
    ),
    md(
        """
        Half of all members never recruit anyone, *even when recruiting is perfectly fair*:
        that is a law of growing trees, not bad luck or laziness.

        ## 2. The Bass curve

        A well-mixed town of 10,000: every month each member pitches exactly one random
        person, a pitch works 30% of the time, and 0.2% of outsiders join by themselves
        (advertising). The model's month-by-month rule gives a deterministic recursion for the
        expected share x_t who have joined:

        x_{t+1} = x_t + (1 - x_t) (1 - (1 - p)(1 - a/N)^(c N x_t)),

        with c = 1 pitch, a = 0.3, p = 0.002. Bass's curve is the same idea with a straight
        line for the chance of joining, x_{t+1} = x_t + (1 - x_t)(p + q x_t): advertising p
        plus word of mouth q. The fitted q comes out a little below c a = 0.3, because the
        chance of being pitched at least once, 1 - e^(-c a x), grows a little slower than c a x.
        """
    ),
    code(
        """
        N, c, a, p = 10_000, 1, 0.3, 0.002
        months = 40
        paths = []
        for seed in range(8):
            m = MLMModel(
                seed=seed, agents=False, population=N, founders=10, months=months,
                recruit__mode="well_mixed", recruit__pitch_count="fixed",
                pitches_per_month=c, join_prob=a, recruit__spontaneous_join_prob=p, **QUIET,
            )
            m.run()
            paths.append(np.asarray(m.datacollector.model_vars["ever_joined"]) / N)
        mean_path = np.mean(paths, axis=0)

        x = [10 / N]
        for _ in range(months):
            x.append(x[-1] + (1 - x[-1]) * (1 - (1 - p) * (1 - a / N) ** (c * N * x[-1])))
        recursion = np.array(x)

        joins = np.diff(mean_path * N)
        fit = bass_fit(joins, N, initial=10)

        fig, ax = plt.subplots(figsize=(8, 4.5))
        t = np.arange(months + 1)
        for path in paths:
            ax.plot(t, 100 * path, color="grey", lw=0.8, alpha=0.6)
        ax.plot(t, 100 * mean_path, lw=3, label="simulated (mean of 8 towns)")
        ax.plot(t, 100 * recursion, lw=2, ls="--", label="month-stepped recursion")
        ax.plot(t[1:], 100 * fit.fitted_cumulative / N, lw=2, ls=":",
                label=f"Bass fit (p={fit.p:.4f}, q={fit.q:.2f})")
        ax.set_xlabel("month")
        ax.set_ylabel("ever joined, % of town")
        ax.legend()
        ax.set_title("Word of mouth in a well-mixed town: the Bass S-curve")
        plt.show()
        gap = np.max(np.abs(mean_path - recursion))
        print(f"largest gap between simulation and recursion: {100 * gap:.2f} points")
        print(f"Bass fit: market potential {fit.m:,.0f} of {N:,}, "
              f"RMSE {fit.rmse:.0f} people ({fit.rmse / N:.2%} of the town)")
        """
    ),
    md(
        """
        In this idealised town *everybody* joins in the end (market potential = N): nothing
        stops word of mouth except running out of people. Fit the same curve to the classroom
        town (notebook 01), where people differ in willingness, remember being asked and see
        friends quit:
        """
    ),
    code(
        """
        from simulation.app_views import ClassroomModel

        town = ClassroomModel()
        town.run()
        joined = np.asarray(town.datacollector.model_vars["joined"][1:], dtype=float)
        town_fit = bass_fit(joined, town.pop.n, initial=town.scenario.market.founders)
        print(f"classroom town: {town.stats['ever_joined']} of {town.pop.n} joined; "
              f"Bass market potential {town_fit.m:,.0f} "
              f"({town_fit.m / town.pop.n:.0%} of the town), "
              f"p={town_fit.p:.4f}, q={town_fit.q:.2f}")
        """
    ),
    md(
        """
        A Bass curve still describes the boom and bust, but its market potential is only about
        a third of the town: the people who would ever say yes.

        ### Questions for the class

        1. Why is "half never recruit anyone" true even when every member is equally good?
        2. The curve is an S. Where on the S is it easiest to recruit? Where is a new recruit
           when they join in the last months?

        ### The key claims

        The simulated tree matches the random recursive tree's laws within a few standard
        errors; the simulated adoption curve follows the recursion within 2 percentage points
        and a Bass curve fits it with market potential about N, advertising about p and word
        of mouth within 10% of c a; in the classroom town the market potential is well
        below N.
        """
    ),
    code(
        """
        diff = summary["difference / s.e."]
        assert (diff.abs() < 4).all(), diff
        assert abs(summary.loc["share who recruit nobody", "simulated"] - 0.5) < 0.02
        assert gap < 0.02, gap
        assert fit.ok and abs(fit.m / N - 1) < 0.05 and fit.rmse / N < 0.01
        assert abs(fit.q - c * a) < 0.1 * c * a and abs(fit.p - p) < 0.001
        assert town_fit.ok and town_fit.m < 0.6 * town.pop.n
        print("Random recursive tree and Bass curve reproduced.")
        """
    ),
]

# ------------------------------------------------------------------------------------------
SCHNEEBALL = [
    md(
        """
        # A shop, an MLM and a pyramid: where the money comes from, and who loses it

        Three businesses in the **same town** (2,000 people on the same social network, the
        same seed, three years):

        1. **A retail business.** 60 salespeople buy product at wholesale and sell it to
           customers at 24% above it. Nobody recruits, nobody pays a starter kit or buys to
           qualify; they pitch customers more (10 a month) and pay $10 a month in costs.
        2. **An MLM.** The `classroom` scenario: 10 founders recruit, a 5-level unilevel pays
           commissions on everybody's purchases, a 100 PV monthly minimum, a $60 kit, $25 a
           month in costs.
        3. **A pure pyramid** (a chain letter, *Schneeballsystem*). No product at all. Every
           member brings in new members in the month after joining (0, 1, 2 or 3, equally
           likely: 1.5 on average, a Galton-Watson process). Each new member pays $100: half
           to whoever brought them in, half to the member three levels above
           (`recruit.mode = "branching"` with `[chain]`; `docs/policies.md`).

        Money enters each business from two places: from **outside** (customers who are not
        members pay for product) or from the **members themselves** (product for their own
        household or stock, kits, joining fees, costs). Where it ends up decides who loses.
        """
    ),
    code(
        SETUP,
        """
        from simulation import outcomes, results
        from simulation.config import load_scenario
        from simulation.model import MLMModel
        from simulation.plans import plan_from_dict

        def run(sets, plan=None):
            scenario, _ = load_scenario("classroom", sets)
            model = MLMModel(scenario=scenario, plan=plan, agents=False).run()
            return model, results.run_data(model)

        shop_plan = plan_from_dict(
            {"plan": {"name": "retail margin only"}, "qualification": {"min_pv": 0},
             "retail": {"markup": 0.24}, "retail_margin": {}}
        )
        runs = {
            "retail business": run(
                ["market.founders=60", "recruit.pitches_per_month=0", "retail.pitches_per_month=10",
                 "costs.starter_kit_usd=0", "costs.fixed_usd_monthly=10",
                 "buy.autoship_share=0", "buy.loader_share=0"],
                shop_plan,
            ),
            "MLM": run([]),
            "pyramid": run(
                ['recruit.mode="branching"', "chain.enabled=true", "chain.fee_usd=100",
                 "chain.sponsor_share=0.5", "chain.upline_level=3", "retail.enabled=false",
                 "buy.own_use_pv=0", "buy.autoship_share=0", "buy.loader_share=0",
                 "costs.starter_kit_usd=0", "costs.fixed_usd_monthly=0", "quit.enabled=false"]
            ),
        }
        for name, (model, r) in runs.items():
            print(f"{name:>16}: {len(r.dist):,} people joined of {model.pop.n:,}")
        """,
    ),
    md(
        """
        ## 1. Where the money comes from

        Every dollar the members paid out, by what it bought: product they **resold to
        customers** (which customers outside the business paid back, with the retail margin on
        top), product their own households **used**, product bought only to qualify or to
        reach a rank and **kept in stock**, **kits and joining fees**, and their other
        **costs** (fees, samples, events). Only the first is, in the end, money from outside;
        the rest comes out of members' pockets. The last column is the share from outside.
        """
    ),
    code(
        """
        def sources(model, r):
            m, d = r.monthly, r.dist
            usd = model.scenario.units.usd_per_pv
            resold = float(m["customer_pv"].sum()) * usd
            stock = float((m["topup_pv"] + m["loading_pv"]).sum()) * usd
            own = float(d["purchases"].sum()) - resold - stock
            return {
                "resold to customers": resold,
                "household use": own,
                "kept in stock": stock,
                "kits and joining fees": float(d["kit_cost"].sum()),
                "other costs": float(d["fixed_costs"].sum()),
            }

        money = pd.DataFrame({k: sources(*v) for k, v in runs.items()}).T
        share_outside = money["resold to customers"] / money.sum(axis=1)
        fig, ax = plt.subplots(figsize=(9, 4))
        (money / 1000).plot.barh(stacked=True, ax=ax, colormap="tab20c")
        ax.set_xlabel("thousand USD over three years")
        ax.invert_yaxis()
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title("What the members' money bought")
        plt.show()
        outside = share_outside.map("{:.0%}".format)
        display((money / 1000).round(1).assign(**{"from outside": outside}))
        """
    ),
    md(
        """
        ## 2. Who gains and who loses

        Net income of everyone who joined (commissions and retail sales, less purchases, kits,
        fees and costs; household product valued at what it would have cost anyway), by the
        level at which they joined: founders are level 1. **Consumer injury** is the sum of the
        losses of those who lost; gains do not offset it.
        """
    ),
    code(
        """
        rows = {}
        fig, ax = plt.subplots(figsize=(9, 4))
        for name, (model, r) in runs.items():
            net = r.dist["net_income"]
            by_level = r.dist.groupby("level")["net_income"].mean()
            ax.plot(by_level.index, by_level.to_numpy(), marker="o", label=name)
            rows[name] = {
                "joined": len(net),
                "lost money": (net < 0).mean(),
                "consumer injury, USD": outcomes.consumer_injury(r.dist["net_income"]),
                "members' total net income, USD": net.sum(),
                "company revenue, USD": model.company["revenue"],
                "paid to members, USD": model.company["paid"],
            }
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("level at joining (founders = 1)")
        ax.set_ylabel("mean net income, USD")
        ax.legend()
        plt.show()
        who = pd.DataFrame(rows).T
        display(who.style.format({"lost money": "{:.0%}", "joined": "{:,.0f}"} | {
            c: "{:,.0f}" for c in who.columns if "USD" in c}))
        """
    ),
    md(
        """
        In the pyramid no product changes hands: every dollar one member receives another,
        later member paid. Members as a whole end up exactly where the organiser's cut leaves
        them, while the early levels gain and the last levels, who find nobody left to
        recruit, lose their fee. The MLM sells real product, but most of it to its own members:
        the founders gain, nearly everyone else loses. The retail business lives on customers'
        money.

        ### Questions for the class

        1. In the pyramid, what would have to be true for the last level to get its money back?
        2. The MLM's members bought the product and used much of it. Why do they still lose?
        3. Which number on this page would you ask a company for before joining?

        ### The key claims

        The share of the money that comes from outside (customers) falls from the retail
        business to the MLM to the pyramid, where it is zero; in the pyramid members' total
        net income is minus what the organiser kept (money only moves between members), the
        first levels gain and the last loses; the MLM's consumer injury is the largest and
        nearly all its members lose.
        """
    ),
    code(
        """
        pyr_model, pyr = runs["pyramid"]
        kept = pyr_model.company["revenue"] - pyr_model.company["paid"]
        shop, mlm, pyramid = share_outside[["retail business", "MLM", "pyramid"]]
        assert shop > mlm > pyramid == 0
        assert abs(who.loc["pyramid", "members' total net income, USD"] + kept) < 1e-6
        by_level = pyr.dist.groupby("level")["net_income"].mean()
        assert by_level.iloc[0] > 0 and by_level.iloc[-1] < 0
        assert who["consumer injury, USD"].idxmax() == "MLM"
        assert who.loc["MLM", "lost money"] > 0.9 > who.loc["retail business", "lost money"]
        print(f"From outside: retail {share_outside['retail business']:.0%}, "
              f"MLM {share_outside['MLM']:.0%}, pyramid 0%; the pyramid's members lost "
              f"${kept:,.0f} together, the organiser's cut.")
        """
    ),
]

# ------------------------------------------------------------------------------------------
COMPANIES = [
    md(
        """
        # Several companies, one town: who gets there first, who moves, who is left

        Real towns are pitched by many MLM companies at once. Here every company is the
        classroom's company (same people, same pitching, same plan unless said otherwise), but
        they share **one town**: a person is a member of one company at a time, a person
        pitched by two chooses one (the older company, and the one more friends are in), every
        pitch from any company makes the next one less welcome, and leaders may move to another
        company taking part of their downline with them (`docs/market.md`).

        Four questions: does arriving first matter? Who moves between companies? Do more
        companies use up the town sooner? And how does a holding spread over several towns?
        """
    ),
    code(
        SETUP,
        """
        import tempfile
        from pathlib import Path

        from simulation.market import Market, load_market

        TOWN = "\\n".join([
            "[scenario]", 'name = "town"', "seed = {seed}", "months = 48",
            "[market]", "population = 3000", "founders = 10", "effort_sigma = 0.6",
            "[recruit]", "pitches_per_month = 4.0", "join_prob = 0.6",
            "[plan]", 'file = "unilevel_5"', "",
        ])
        folder = Path(tempfile.mkdtemp())


        def market(companies, seed=1, extra=""):
            # A market of the classroom town with the given companies (lists of 'key = value').
            text = TOWN.format(seed=seed)
            for c in companies:
                text += "[[companies]]\\n" + "\\n".join(c) + "\\n"
            path = folder / f"m{seed}_{len(list(folder.iterdir()))}.toml"
            path.write_text(text + extra)
            return Market(load_market(path)).run()
        """,
    ),
    md(
        """
        ## 1. Arriving first

        Two identical companies; the second starts six months after the first. Five towns
        (seeds): the solid line is the first company, the dashed the second.
        """
    ),
    code(
        """
        fig, ax = plt.subplots(figsize=(9, 4))
        peaks = []
        for seed in range(5):
            m = market([['name = "first"'], ['name = "second"', "launch_month = 6"]], seed)
            t = m.tables()["companies"]
            for name, style in (("first", "-"), ("second", "--")):
                g = t[t.company == name]
                ax.plot(g.month, g.members, style, color=f"C{seed}")
            peaks.append(t.groupby("company").members.max())
        peaks = pd.DataFrame(peaks).reset_index(drop=True)
        ax.set(xlabel="month", ylabel="active members", title="Same plan, six months apart")
        plt.show()
        peaks
        """
    ),
    md(
        """
        The first company's peak is higher in every town: by the time the second arrives, the
        first has the best-connected friends, and everyone it pitched is a little more tired
        of being pitched.

        ## 2. Leaders who move

        With switching on, a leader (five or more active people below them) is now and then
        approached by a friend in the other company, and moves if that company looks better;
        half of their downline follows, and most of the movers' retail customers (a customer
        buys from a person they know). Customers also change company when a member of the
        other company wins them with a retail pitch (`kind = "retail"` rows).
        """
    ),
    code(
        """
        m = market([['name = "alpha"'], ['name = "beta"']], seed=3,
                   extra="[switching]\\nenabled = true\\napproach_prob = 0.05\\n")
        t = m.tables()
        flows = t["flows"]
        display(flows.groupby(["kind", "from_company", "to_company"])[
            ["leaders", "followers", "customers"]].sum())
        c = t["companies"]
        fig, ax = plt.subplots(figsize=(9, 3.5))
        for name, g in c.groupby("company"):
            ax.bar(g.month + (0.2 if name == "beta" else -0.2), g.switched_in, width=0.4,
                   label=f"moved to {name}")
        ax.set(xlabel="month", ylabel="members who moved in", title="Moves between companies")
        ax.legend()
        plt.show()
        """
    ),
    md(
        """
        Moves come late: leaders need a downline first, and a friend in the other company.
        Each move takes a whole team, so a company can lose dozens of members in one month.

        ## 3. More companies, sooner saturation

        One, two and four identical companies in the same town. For each company we count the
        months from its launch until its membership first reaches half of its peak.
        """
    ),
    code(
        """
        rows = []
        for k in (1, 2, 4):
            for seed in range(4):
                m = market([[f'name = "c{i}"'] for i in range(k)], seed)
                for name, g in m.tables()["companies"].groupby("company"):
                    mem = g.members.to_numpy()
                    rows.append({"companies": k, "peak": mem.max(),
                                 "months_to_half_peak": int(np.argmax(mem >= mem.max() / 2))})
        half = pd.DataFrame(rows).groupby("companies").mean()
        half
        """
    ),
    md(
        """
        Each added company reaches half its (lower) peak sooner: the town's friends are taken
        or tired sooner. A late joiner of any of them finds fewer people left to recruit.

        ## 4. A holding, town by town

        The shipped `holding_towns` scenario, here with 8,000 people in four towns (2% of ties
        run between towns): a holding's "north" starts in town 0, its "south" a year later in
        town 2, a rival in town 1. Each works one town at a time and opens the town where its
        members know most people when its towns saturate.
        """
    ),
    code(
        """
        spec = load_market("holding_towns", ["market.population=8000", "scenario.months=48"])
        h = Market(spec).run()
        reg = h.tables()["regions"]
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), sharey=True)
        for ax, (name, g) in zip(axes, reg.groupby("company", sort=False)):
            for r, gr in g.groupby("region"):
                ax.plot(gr.month, 100 * gr.penetration, label=f"town {r}")
            ax.set(title=name, xlabel="month")
        axes[0].set_ylabel("% of the town ever joined")
        axes[0].legend()
        plt.show()
        opened = {c.name: c.opened_month for c in h.companies}
        opened
        """
    ),
    md(
        """
        Each company saturates its home town first and then moves on; a town's second company
        finds a smaller pool. The market tables (`companies.csv`) add the holding's
        consolidated rows, and `holdings/group/income_disclosure.csv` gives the statement over
        both of its companies.
        """
    ),
    code(
        """
        # The claims above, checked.
        assert (peaks["first"] > peaks["second"]).all(), peaks
        assert flows.leaders.sum() > 0
        assert half.loc[4, "months_to_half_peak"] < half.loc[1, "months_to_half_peak"], half
        assert all(len(v) >= 2 for v in opened.values()), opened
        print("Checked: the first company peaks higher in every town; leaders moved; four "
              "companies reach half their peak sooner than one; every company opened a "
              "second town.")
        """
    ),
]

NOTEBOOKS = {
    "01_saturation.ipynb": SATURATION,
    "02_where_the_money_goes.ipynb": MONEY,
    "03_comparing_plans.ipynb": PLANS,
    "04_known_mathematics.ipynb": MATHS,
    "05_retail_mlm_pyramid.ipynb": SCHNEEBALL,
    "06_several_companies.ipynb": COMPANIES,
}


def build(name: str, cells: list) -> nbformat.NotebookNode:
    """A notebook with stable cell ids (so rebuilding changes nothing unless the text does)."""
    nb = new_notebook(cells=[dict(c) for c in cells])
    nb = nbformat.from_dict(nb)
    stem = name.split("_")[0]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"nb{stem}-{i:02d}"
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) every notebook; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a notebook is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, cells in NOTEBOOKS.items():
        text = nbformat.writes(build(name, cells)) + "\n"
        path = HERE / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date (run notebooks/build_notebooks.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
