"""The classroom page without a browser: what it computes (app_views) and its widgets (Solara).

The browser test (test_app_browser.py) checks the same page in a real Chromium; here each view
is checked against the model, the tree layout against a hand-worked genealogy, and the page's
widgets by rendering them with Solara's test renderer and clicking its buttons.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

# Before Solara is imported (by simulation.app): no telemetry; its hook checker warns about
# Mesa's own code.
os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
os.environ.setdefault("SOLARA_CHECK_HOOKS", "off")

from simulation import app_views as views
from simulation.app_echarts import to_spec
from simulation.state import Population, Status


@pytest.fixture(scope="module")
def model():
    """The page's default market after 18 months (shared: tests only read it)."""
    m = views.ClassroomModel()
    for _ in range(18):
        m.step()
    return m


def tiny_model(month: int = 3) -> SimpleNamespace:
    """A hand-made genealogy of 8 persons (7 joined), enough for tree_layout.

    Founders 0 and 1 (month 0). Person 0 enrolled 2 (month 1) and 3 (month 2, since quit);
    person 1 enrolled 4 (month 1); 3 enrolled 5 and 4 enrolled 6 (both month 3). 7 never joined.
    """
    pop = Population(8)
    pop.join_month[:] = [0, 0, 1, 2, 1, 3, 3, -1]
    pop.enroller[:] = [-1, -1, 0, 0, 1, 3, 4, -1]
    pop.level[:] = [1, 1, 2, 2, 2, 3, 3, -1]
    pop.status[:] = [Status.DISTRIBUTOR] * 7 + [Status.PROSPECT]
    pop.status[3] = Status.QUIT
    return SimpleNamespace(pop=pop, month=month)


# ---------------------------------------------------------------------------- tree layout
def test_tree_layout_of_a_hand_worked_genealogy():
    lay = views.tree_layout(tiny_model())
    # Drawn in joining order (month, then row).
    assert lay.ids.tolist() == [0, 1, 2, 4, 3, 5, 6]
    x = dict(zip(lay.ids.tolist(), lay.x.tolist(), strict=True))
    # Level 1 centred; level 2 grouped under the enroller (0's recruits 2 and 3 left of
    # 1's recruit 4), then by joining order; level 3 ordered by its enrollers' positions.
    assert [x[0], x[1]] == [-0.5, 0.5]
    assert [x[2], x[3], x[4]] == [-1.0, 0.0, 1.0]
    assert [x[5], x[6]] == [-0.5, 0.5]
    assert lay.y.tolist() == [1, 1, 2, 2, 2, 3, 3]
    parent_ids = [lay.ids[p] if p >= 0 else -1 for p in lay.parent]
    assert parent_ids == [-1, -1, 0, 1, 0, 3, 4]
    assert lay.status.tolist().count(Status.QUIT) == 1
    assert lay.ids[lay.new].tolist() == [5, 6]
    assert lay.total == 7
    assert lay.upline(lay.index_of(5)).tolist() == [5, 4, 0]  # layout indices of 5, 3, 0
    assert lay.index_of(7) == -1


def test_tree_layout_cut_keeps_every_enroller():
    lay = views.tree_layout(tiny_model(), max_nodes=4)
    assert lay.ids.tolist() == [0, 1, 2, 4]
    assert (lay.parent < np.arange(4)).all()  # an enroller is drawn before its recruits
    assert lay.x.tolist() == [-0.5, 0.5, -0.5, 0.5]
    assert lay.total == 7


def test_tree_layout_of_a_real_market_is_a_tidy_forest(model):
    lay = views.tree_layout(model)
    pop = model.pop
    ever = np.flatnonzero(pop.join_month >= 0)
    assert lay.total == ever.size == lay.ids.size
    has = lay.parent >= 0
    # Every enroller drawn, one level up; founders have none.
    assert (lay.ids[lay.parent[has]] == pop.enroller[lay.ids[has]]).all()
    assert (lay.y[lay.parent[has]] == lay.y[has] - 1).all()
    assert (lay.y[~has] == 1).all()
    for lv in np.unique(lay.y):
        at = np.flatnonzero(lay.y == lv)
        xs = np.sort(lay.x[at])
        # One unit apart, centred on 0.
        assert np.allclose(np.diff(xs), 1.0)
        assert xs[0] == pytest.approx(-xs[-1])
        # Recruits keep their enrollers' left-to-right order (no crossing groups).
        if lv > 1:
            order = at[np.argsort(lay.x[at])]
            assert (np.diff(lay.x[lay.parent[order]]) >= 0).all()


def test_tree_layout_draws_at_most_max_nodes(model):
    lay = views.tree_layout(model, max_nodes=50)
    assert lay.ids.size == 50 < lay.total
    assert (lay.parent < np.arange(50)).all()


# ---------------------------------------------------------------------------- numbers
def test_headline_shows_the_models_numbers(model):
    s = model.stats
    got = dict(views.headline(model))
    assert got["month"] == "18" == str(model.steps)
    ever = int((model.pop.join_month >= 0).sum())
    assert got["ever joined"] == f"{ever:,} of 2,000 ({100 * ever / 2000:.1f}%)"
    assert got["active now"] == f"{int((model.pop.status == Status.DISTRIBUTOR).sum()):,}"
    assert got["joined this month"] == f"{s['joined']:,}"
    net = model.pop.net_income()[model.pop.join_month >= 0]
    assert got["lost money so far"] == f"{100 * (net < 0).mean():.0f}%"


def test_recruits_per_member_is_next_level_over_this_level(model):
    levels, rpm = views.recruits_per_member(model)
    counts = np.bincount(model.pop.level[model.pop.join_month >= 0])
    assert levels.tolist() == list(range(1, counts.size))
    # Everyone at level L + 1 was enrolled by someone at level L.
    assert rpm[:-1] == pytest.approx(counts[2:] / counts[1:-1])
    assert rpm[-1] == 0


def test_captions_quote_the_model(model):
    cap = views.captions(model)
    s = model.stats
    assert f"{s['ever_joined']:,} joined so far, {s['quit']:,} of them quit" in cap["tree"]
    assert f"{100 * s['penetration']:.1f}% of the market" in cap["penetration"]
    assert f"{100 * s['share_net_loss']:.0f}% have lost money" in cap["lost_money"]
    assert "Top 10% of members got" in cap["lorenz"]


def test_setup_line_names_the_plan_and_controls():
    m = views.ClassroomModel(population=500, join_prob=0.3, seed=7, plan="unilevel_5")
    line = views.setup_line(m)
    assert line.startswith(f"{m.plan.meta.name} plan, 500 people")
    assert "join chance 30%" in line and "seed 7" in line


# ---------------------------------------------------------------------------- the model
def test_page_defaults_are_the_classroom_scenario():
    from simulation.config import load_scenario

    scen, _ = load_scenario("classroom")
    d = views.DEFAULTS
    assert d["population"] == scen.market.population
    assert d["pitches_per_month"] == scen.recruit.pitches_per_month
    assert d["join_prob"] == scen.recruit.join_prob
    assert d["seed"] == scen.scenario.seed and d["months"] == scen.scenario.months
    assert scen.plan.file.endswith(f"{d['plan']}.toml")


def test_classroom_model_uses_the_controls():
    m = views.ClassroomModel(population=700, pitches_per_month=2.5, join_prob=0.2, seed=3)
    assert m.pop.n == 700
    assert m.scenario.recruit.pitches_per_month == 2.5
    assert m.scenario.recruit.join_prob == 0.2
    assert m.seed == 3
    assert m.scenario.market.founders == 10  # the rest is the classroom scenario


def test_every_shipped_plan_can_be_chosen():
    names = views.plan_names()
    assert views.DEFAULTS["plan"] in names
    for name in names:
        m = views.ClassroomModel(population=300, plan=name, months=3)
        m.step()
        assert m.plan.meta.name


def test_play_stops_at_the_horizon():
    m = views.ClassroomModel(population=300, months=4)
    for _ in range(4):
        assert m.running
        m.step()
    assert not m.running


def test_a_month_of_2000_people_is_well_under_100_ms():
    m = views.ClassroomModel()
    times = []
    for _ in range(24):
        t = time.perf_counter()
        m.step()
        times.append(time.perf_counter() - t)
    assert np.median(times) < 0.1


# ---------------------------------------------------------------------------- figures
def test_penetration_figure_plots_the_monthly_series(model):
    fig = views.penetration_figure(model)
    ax, ax2 = fig.axes
    bars = ax.patches
    joined = model.datacollector.model_vars["joined"]
    assert [b.get_height() for b in bars] == joined[1:]
    line = ax2.get_lines()[0]
    assert line.get_ydata() == pytest.approx(
        100 * np.asarray(model.datacollector.model_vars["penetration"])
    )
    assert ax.get_xlim()[1] >= model.scenario.scenario.months  # axes fixed for the whole run


def test_levels_figure_stacks_everyone_who_joined(model):
    fig = views.levels_figure(model)
    ax = fig.axes[0]
    pop = model.pop
    counts = np.bincount(pop.level[pop.join_month >= 0])[1:]
    n = counts.size
    heights = np.array([b.get_height() for b in ax.patches]).reshape(3, n)
    assert heights.sum(axis=0).tolist() == counts.tolist()
    quit_ = np.bincount(pop.level[pop.status == Status.QUIT], minlength=n + 1)[1:]
    assert heights[2].tolist() == quit_.tolist()


def test_lorenz_figure_ends_at_everyone_everything(model):
    fig = views.lorenz_figure(model)
    curve = fig.axes[0].get_lines()[1]
    x, y = curve.get_data()
    assert (x[0], y[0]) == (0, 0)
    assert (x[-1], y[-1]) == pytest.approx((100, 100))
    assert (np.diff(y) >= -1e-9).all()


def test_lost_money_figure_plots_both_counts(model):
    fig = views.lost_money_figure(model)
    valued, strict = fig.axes[0].get_lines()[:2]
    mv = model.datacollector.model_vars
    assert valued.get_ydata() == pytest.approx(100 * np.asarray(mv["share_net_loss"]))
    assert strict.get_ydata() == pytest.approx(100 * np.asarray(mv["share_net_loss_strict"]))


def test_tree_figure_rings_the_selected_person(model):
    pid = views.pick(model, views.PICKS[0])
    fig = views.tree_figure(model, highlight=pid)
    ax = fig.axes[0]
    n_points = sum(len(c.get_offsets()) for c in ax.collections[1:])
    assert n_points == views.tree_layout(model).ids.size + 1  # everyone, plus the ring
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["active", "joined this month", "quit", "selected person"]


# ---------------------------------------------------------------------------- stories
def test_picks_find_the_people_they_name(model):
    pop = model.pop
    ever = pop.join_month >= 0
    top = views.pick(model, "the top earner")
    assert pop.commissions[top] == pop.commissions[ever].max()
    newest = views.pick(model, "the newest member")
    assert pop.join_month[newest] == pop.join_month[ever].max()
    deep = views.pick(model, "someone on the deepest level")
    assert pop.level[deep] == pop.level[ever].max()
    assert pop.level[views.pick(model, "a founder")] == 1
    typical = views.pick(model, "a typical member (median net income)")
    net = pop.net_income()[ever]
    below = (net < net[np.flatnonzero(ever) == typical][0]).sum()
    assert abs(below - net.size / 2) <= 1
    with pytest.raises(ValueError, match="unknown pick"):
        views.pick(model, "the luckiest")


def test_selected_pid_by_number(model):
    joined = int(np.flatnonzero(model.pop.join_month >= 0)[3])
    never = int(np.flatnonzero(model.pop.join_month < 0)[0])
    assert views.selected_pid(model, views.BY_NUMBER, joined) == joined
    assert views.selected_pid(model, views.BY_NUMBER, never) is None
    assert views.selected_pid(model, views.BY_NUMBER, 10**6) is None
    assert views.selected_pid(model, views.PICKS[0]) == views.pick(model, views.PICKS[0])


def test_story_money_adds_up_to_the_models_net_income(model):
    pop = model.pop
    for which in views.PICKS:
        pid = views.pick(model, which)
        s = views.story(model, pid)
        assert s["net_income"] == pytest.approx(pop.net_income()[pid])
        assert s["net_income_strict"] == pytest.approx(pop.net_income(own_use_as_cost=True)[pid])
        assert s["money_in"] - s["money_out"] + s["own_use_value"] == pytest.approx(s["net_income"])
        assert s["active_recruits"] <= s["recruits"]


def test_story_text_says_whether_they_lost_money(model):
    pid = views.pick(model, "the newest member")
    s = views.story(model, pid)
    lines = views.story_lines(model, pid)
    assert lines[0] == f"Person {pid}: level {s['level']}"
    assert ("lost money" in lines[-1]) == (s["net_income"] < 0)
    html = views.story_html(model, pid)
    assert html.startswith(f"<h4>Person {pid}: level {s['level']}</h4>")
    assert html.count("<li>") == 4 and "**" not in html
    md = views.story_markdown(model, pid)
    assert md.startswith("#### Person")


def test_story_of_someone_who_never_joined_is_an_error(model):
    never = int(np.flatnonzero(model.pop.join_month < 0)[0])
    with pytest.raises(KeyError):
        views.story(model, never)


# ---------------------------------------------------------------------------- new views
def tiny_pool_model() -> SimpleNamespace:
    """Seven persons, one in each who-is-left group (and one more never asked), month 5.

    0 active, 1 quit; 2 never joined but a contact quit (and was pitched: the friend wins);
    3 pitched and still refusing; 4 pitched long ago; 5 never pitched, willingness 0.05
    (unwilling); 6 never pitched, willingness 0.5.
    """
    pop = Population(7)
    pop.status[:] = [Status.DISTRIBUTOR, Status.QUIT] + [Status.PROSPECT] * 5
    pop.status[4] = Status.CUSTOMER  # a customer who never joined is still left to recruit
    pop.join_month[:2] = 0
    pop.quit_contacts[2] = 1
    pop.pitched[[2, 3, 4]] = [1, 2, 1]
    pop.refused_until[3] = 9
    pop.willingness[:] = [0.9, 0.9, 0.9, 0.9, 0.9, 0.05, 0.5]
    return SimpleNamespace(pop=pop, month=5)


def test_recruit_pool_of_a_hand_made_town():
    assert views.POOL == (
        "joined, active",
        "joined, quit",
        "saw a friend quit",
        "said no",
        "unwilling, never asked",
        "never asked",
    )
    assert views.pool_groups(tiny_pool_model()).tolist() == [0, 1, 2, 3, 3, 4, 5]
    assert views.recruit_pool(tiny_pool_model()).tolist() == [1, 1, 1, 2, 1, 1]


def test_recruit_pool_history_adds_up_to_the_town_every_month(model):
    hist = views.pool_history(model)
    mv = model.datacollector.model_vars
    assert hist.shape == (19, 6)
    assert (hist.sum(axis=1) == 2000).all()
    # Members: the DataCollector's own counts, month by month.
    assert hist[:, 0].tolist() == mv["distributors"]
    assert hist[:, 1].tolist() == mv["quit"]
    # Now, counted again from the state arrays.
    pop = model.pop
    never = pop.join_month < 0
    assert hist[-1, 2] == (never & (pop.quit_contacts > 0)).sum()
    asked = never & (pop.quit_contacts == 0) & (pop.pitched > 0)
    assert hist[-1, 3] == asked.sum()
    left = never & (pop.quit_contacts == 0) & (pop.pitched == 0)
    assert hist[-1, 4] == (left & (pop.willingness < 0.1)).sum()
    assert hist[-1, 5] == (left & (pop.willingness >= 0.1)).sum()
    # Nobody is asked twice for the first time: "never asked" only shrinks.
    assert (np.diff(hist[:, 5]) <= 0).all()


def test_pool_history_needs_the_classroom_model():
    from simulation.model import MLMModel

    with pytest.raises(ValueError, match="no recruit-pool history"):
        views.pool_history(MLMModel())


def test_lined_up_is_everyone_sorted_by_net_income(model):
    net, gross = views.lined_up(model)
    pop = model.pop
    ever = np.flatnonzero(pop.join_month >= 0)
    assert net.size == ever.size
    assert (np.diff(net) >= 0).all()
    pairs = sorted(
        zip(pop.net_income()[ever].tolist(), pop.commissions[ever].tolist(), strict=True)
    )
    assert sorted(zip(net.tolist(), gross.tolist(), strict=True)) == pairs


def test_loss_by_join_month(model):
    months, joined, lost, median = views.loss_by_join_month(model)
    pop = model.pop
    assert months[0] == 0 and joined[0] == 10  # the founders
    assert joined.sum() == (pop.join_month >= 0).sum()
    m = int(months[3])
    who = pop.join_month == m
    net = pop.net_income()[who]
    assert joined[3] == who.sum()
    assert lost[3] == pytest.approx((net < 0).mean())
    assert median[3] == pytest.approx(np.median(net))


def test_promised_people_per_level_is_founders_times_three_to_the_level():
    # "Recruit 3 who each recruit 3", 10 founders: 10, 30, 90, 270, 810 (docs/teaching.md).
    assert views.promised_per_level(10, 5).tolist() == [10, 30, 90, 270, 810]
    assert views.promised_per_level(10, 7)[-1] == 7290


def test_run_summary_of_a_finished_run():
    m = views.ClassroomModel(population=600, months=12)
    m.run(12)
    r = views.run_summary(m)
    pop = m.pop
    ever = pop.join_month >= 0
    joined = m.datacollector.model_vars["joined"]
    assert r["month"] == 12 and r["ever_joined"] == ever.sum()
    assert r["penetration"] == pytest.approx(ever.sum() / 600)
    assert joined[r["peak_month"]] == max(joined[1:])
    net = pop.net_income()[ever]
    assert r["lost_money"] == pytest.approx((net < 0).mean())
    assert r["typical_net"] == pytest.approx(np.median(net))
    comm = np.sort(pop.commissions[ever])[::-1]
    top = int(np.ceil(0.1 * comm.size))
    assert r["top10_share"] == pytest.approx(comm[:top].sum() / comm.sum(), abs=0.02)


def test_plan_choices_are_the_plan_files_own_names():
    import tomllib

    from simulation.plans.engine import shipped_plans

    want = {}
    for path in shipped_plans():
        with open(path, "rb") as f:
            want[tomllib.load(f)["plan"]["name"]] = path.stem
    assert views.plan_choices() == want
    assert want["Unilevel 8/5/4/4/4"] == "unilevel_5"


def test_month_zero_does_not_give_the_answer_away():
    m = views.ClassroomModel(population=300)
    assert dict(views.headline(m))["lost money so far"] == views.GUESS_FIRST
    m.step()
    assert dict(views.headline(m))["lost money so far"].endswith("%")


def test_a_finished_run_can_be_continued():
    m = views.ClassroomModel(population=300, months=3)
    m.run(3)
    assert not m.running
    m.extend(12)
    assert m.running
    while m.running:
        m.step()
    assert m.month == 15
    assert len(views.pool_history(m)) == 16
    with pytest.raises(ValueError, match="must be positive"):
        m.extend(0)


def test_levels_with_few_members_are_not_rated(model):
    rated = views.rated_levels(model)
    members = np.bincount(model.pop.level[model.pop.join_month >= 0])[1:]
    assert rated.tolist() == (members >= 5).tolist()
    assert "level 1: " in views.captions(model)["levels"]


# ---------------------------------------------------------------------------- student mode
def test_student_numbers_follow_the_joining_order():
    from simulation import app_tally as tally

    m = tiny_model()  # joined after the founders: 2 and 4 (month 1), 3 (2), 5 and 6 (3)
    assert [tally.student_pid(m, k) for k in range(1, 7)] == [2, 4, 3, 5, 6, None]
    with pytest.raises(ValueError, match="start at 1"):
        tally.student_pid(m, 0)
    assert [tally.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 102, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "102nd", "111th",
    ]  # fmt: skip


def test_class_tally_counts_each_students_distributor():
    from simulation import app_tally as tally

    t = tally.ClassTally()
    a, b, c = t.join(), t.join(), t.join()
    assert (a, b, c) == (1, 2, 3)
    t.report(a, 10.0)
    t.report(b, -5.0)
    t.report(c, None)  # not joined yet
    assert t.summary() == tally.Tally(students=3, joined=2, made_money=1)
    t.report(a, 0.0)  # breaking even counts as not having lost money
    t.leave(b)
    t.report(b, 99.0)  # a student who left is not counted again
    assert t.summary() == tally.Tally(students=2, joined=1, made_money=1)


def test_class_tally_is_shared_by_the_servers_processes(tmp_path):
    """With ``--processes N`` each process opens the tally file: numbers and counts are shared
    (here a second, real process joins and reports between this process's calls)."""
    import subprocess
    import sys

    from simulation import app_tally as tally

    path = str(tmp_path / "tally.sqlite")
    here = tally.ClassTally(path)
    assert here.join() == 1
    here.report(1, -40.0)
    other = (
        "from simulation.app_tally import ClassTally\n"
        f"t = ClassTally({path!r})\n"
        "n = t.join(); t.report(n, 12.5); m = t.join(); print(n, m, t.summary())\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run(
        [sys.executable, "-c", other], capture_output=True, text=True, env=env, check=True
    ).stdout.split(maxsplit=2)
    assert out[:2] == ["2", "3"]  # numbers continue across processes
    assert out[2].strip() == "Tally(students=3, joined=2, made_money=1)"
    assert here.summary() == tally.Tally(students=3, joined=2, made_money=1)
    assert here.join() == 4  # never a number given in the other process
    here.leave(2)
    assert here.summary() == tally.Tally(students=3, joined=1, made_money=0)


# ---------------------------------------------------------------------------- chart options
def font_sizes(option) -> list:
    """Every fontSize anywhere in an ECharts option."""
    found = []
    if isinstance(option, dict):
        for k, v in option.items():
            if k == "fontSize":
                found.append(v)
            else:
                found += font_sizes(v)
    elif isinstance(option, list):
        for v in option:
            found += font_sizes(v)
    return found


@pytest.fixture(scope="module")
def options(model):
    from simulation import app_charts as charts

    pid = views.pick(model, views.PICKS[0])
    out = {key: build(model) for key, build in charts.BUILDERS.items()}
    out["tree"] = charts.tree(model, pid)
    return out


def series(option, name):
    (hit,) = [s for s in option["series"] if s["name"] == name]
    return hit["data"]


def test_every_chart_is_json_with_large_text(model, options):
    import json

    from simulation import app_charts as charts

    assert set(options) == set(charts.CHARTS)
    for key, option in options.items():
        json.dumps(option, allow_nan=False)  # no NaN: the browser parses it
        sizes = font_sizes(option)
        assert sizes and min(sizes) >= 24, key
        assert option["mlmStamp"].split(":")[:2] == [str(id(model)), "18"], key


def test_pool_chart_stacks_the_history(model, options):
    hist = views.pool_history(model)
    for k, name in enumerate(views.POOL):
        assert series(options["pool"], name) == hist[:, k].tolist()
    assert all(s["stack"] == "town" for s in options["pool"]["series"])


def test_network_ring_puts_everyone_in_their_group(model, options):
    from simulation import app_charts as charts

    group = views.pool_groups(model)
    seen = []
    for k, name in enumerate(views.POOL):
        rows = [angle for radius, angle in series(options["network"], name)]
        assert rows == np.flatnonzero(group == k).tolist()
        assert {radius for radius, angle in series(options["network"], name)} <= {
            charts.RING_RADII[k]
        }
        seen += rows
    assert sorted(seen) == list(range(2000))  # everyone once, placed by row on the ring
    assert options["network"]["angleAxis"]["max"] == 2000


def test_lined_up_chart_plots_net_and_gross(model, options):
    net, gross = views.lined_up(model)
    assert [y for _, y in series(options["lined_up"], "net (after costs)")] == net.tolist()
    assert [y for _, y in series(options["lined_up"], "gross (commissions)")] == gross.tolist()
    assert [x for x, _ in series(options["lined_up"], "net (after costs)")][-1] == net.size


def test_cohort_chart_plots_each_joining_month(model, options):
    months, _joined, lost, median = views.loss_by_join_month(model)
    bars = series(options["cohorts"], "median net income")
    assert [b["value"] for b in bars] == [
        [int(m), float(v)] for m, v in zip(months, median, strict=True)
    ]
    assert all(
        b["itemStyle"]["color"] == (views.LOSS if v < 0 else views.ACTIVE)
        for b, v in zip(bars, median, strict=True)
    )
    line = series(options["cohorts"], "share who lost money")
    assert [y for _, y in line] == pytest.approx((100 * lost).tolist())


def test_pitch_chart_draws_the_promise_over_the_real_levels(model, options):
    real = views.members_by_level(model)
    promised = series(options["pitch"], "the pitch: 3 who each recruit 3")
    # Drawn up to the deepest level reached, and at least to the first level that needs
    # more people than the town has (10 x 3^5 = 2,430 > 2,000: level 6).
    assert len(promised) == max(real.size, 6)
    assert promised[:7] == [10, 30, 90, 270, 810, 2430, 7290]
    bars = series(options["pitch"], "people who really joined")
    assert bars == [int(x) if x else "-" for x in real]
    assert set(series(options["pitch"], "everyone in town (2,000)")) == {2000}


def test_levels_chart_stacks_members_and_skips_small_levels(model, options):
    real = views.members_by_level(model)
    stacked = np.array(
        [series(options["levels"], name) for name in ("active", "joined this month", "quit")]
    )
    assert stacked.sum(axis=0).tolist() == real.tolist()
    _, rpm = views.recruits_per_member(model)
    rate = series(options["levels"], "recruits per member")
    for k, members in enumerate(real):
        assert rate[k] == (pytest.approx(rpm[k]) if members >= 5 else "-")


def test_tree_chart_draws_everyone_and_rings_the_selected(model, options):
    lay = views.tree_layout(model)
    dots = sum(len(series(options["tree"], n)) for n in ("active", "joined this month", "quit"))
    assert dots == lay.ids.size
    pid = views.pick(model, views.PICKS[0])
    ring = series(options["tree"], "selected person")
    i = lay.index_of(pid)
    assert ring[0] == {"value": [lay.x[i], int(lay.y[i])], "symbolSize": 30}
    assert len(ring) == int(lay.y[i])  # up to the founder, one level at a time
    links = series(options["tree"], "links")
    assert len(links) == 3 * int((lay.parent >= 0).sum())


def test_tree_coloured_by_money(model):
    from simulation import app_charts as charts

    option = charts.tree(model, colour_by="money")
    lay = views.tree_layout(model)
    net = model.pop.net_income()[lay.ids]
    xy = {(float(x), int(y)): i for i, (x, y) in enumerate(zip(lay.x, lay.y, strict=True))}
    made = [xy[tuple(p)] for p in series(option, "made money so far")]
    lost = [xy[tuple(p)] for p in series(option, "lost money so far")]
    new = [xy[tuple(p)] for p in series(option, "joined this month")]
    assert sorted(made + lost + new) == list(range(lay.ids.size))
    assert (net[made] >= 0).all() and (net[lost] < 0).all()
    assert sorted(new) == np.flatnonzero(lay.new).tolist()
    with pytest.raises(ValueError, match="colour_by"):
        charts.tree(model, colour_by="rank")


def test_penetration_chart_keeps_the_previous_run_faintly(model):
    from simulation import app_charts as charts

    other = views.ClassroomModel(population=500, months=6)
    other.run(6)
    prev = charts.penetration_series(other)
    option = charts.penetration(model, prev)
    assert series(option, "previous run") == prev["data"]
    assert [y for _, y in prev["data"]] == pytest.approx(
        (100 * np.asarray(other.datacollector.model_vars["penetration"])).tolist()
    )


# ---------------------------------------------------------------------------- the widgets
def descendants(widget):
    """Every widget under ``widget``, through ``children``."""
    for child in getattr(widget, "children", None) or []:
        if hasattr(child, "keys"):  # a widget, not a string
            yield child
            yield from descendants(child)


@pytest.fixture
def page():
    """The page rendered by Solara's test renderer (no browser, no server)."""
    import ipyvuetify as v
    import solara

    from simulation import app
    from simulation.app_echarts import ChartWidget

    box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)

    def everything():
        return list(descendants(box))

    def text(cls: str) -> str:
        hits = [
            w
            for w in everything()
            if cls in (getattr(w, "class_", None) or getattr(w, "caption_class", "")).split()
        ]
        # The big numbers are spans in one HTML block (app.headline_html).
        spans = [
            html.unescape(t)
            for w in everything()
            for t in re.findall(
                rf'<span class="[^"]*\b{re.escape(cls)}\b[^"]*">([^<]*)</span>',
                getattr(w, "unsafe_innerHTML", "") or "",
            )
        ]
        assert len(hits) + len(spans) == 1, (cls, hits, spans)
        if spans:
            return spans[0]
        (hit,) = hits
        # A chart's caption is drawn by its chart widget (simulation/app_chart.vue).
        return hit.caption if isinstance(hit, ChartWidget) else hit.children[0]

    def button(label: str):
        return rc.find(v.Btn, children=[label]).widget

    def slider(label: str):
        return rc.find(v.Slider, label=label).widget

    def charts() -> dict:
        out = {}
        for w in rc.find(ChartWidget).widgets:
            (key,) = [
                c[10:]
                for c in w.attributes["class"].split()
                if c.startswith("mlm-chart-") and c != "mlm-chart-box"
            ]
            out[key] = json.loads(w.spec)
        return out

    def select(label: str):
        return rc.find(v.Select, label=label).widget

    def story_html() -> list[str]:
        return [w.unsafe_innerHTML for w in everything() if getattr(w, "unsafe_innerHTML", "")]

    yield SimpleNamespace(
        rc=rc,
        v=v,
        text=text,
        button=button,
        slider=slider,
        charts=charts,
        select=select,
        story_html=story_html,
    )
    rc.close()


def expected(steps: int, **controls) -> views.ClassroomModel:
    m = views.ClassroomModel(**controls)
    for _ in range(steps):
        m.step()
    return m


def same_chart(shown: dict, option: dict) -> bool:
    """The page's chart equals ``option`` (JSON round trip, the stamp's model id aside)."""
    a, b = dict(shown), json.loads(to_spec(option))
    return a.pop("mlmStamp").split(":")[1:] == b.pop("mlmStamp").split(":")[1:] and a == b


def test_step_button_advances_the_month_and_every_view(page):
    from simulation import app_charts as charts

    before = page.charts()
    assert len(before) == 9
    for _ in range(3):
        page.button("Step").click()
    m = expected(3)
    assert page.text("mlm-month-status") == "Month 3 of 36"
    for label, value in views.headline(m):
        assert page.text(f"mlm-value-{label.replace(' ', '-')}") == value
    for key, caption in views.captions(m).items():
        if key in charts.CHARTS:
            assert page.text(f"mlm-caption-{key}") == caption
    shown = page.charts()
    pid = views.pick(m, views.PICKS[0])
    assert same_chart(shown["tree"], charts.tree(m, pid))
    for key, build in charts.BUILDERS.items():
        assert same_chart(shown[key], build(m)), key


def test_controls_take_effect_on_reset_and_runs_are_compared(page):
    page.button("Step").click()
    page.slider("People").v_model = 800
    page.slider("Seed").v_model = 5
    page.select("Compensation plan").v_model = "Forced matrix 3x7"
    assert "2,000 people" in page.text("mlm-setup")  # not yet
    assert page.text("mlm-pending") == (
        "Press Reset for: 800 people, Forced matrix 3x7 plan, seed 5."
    )
    first = expected(1)
    page.button("Reset").click()
    page.button("Step").click()
    page.button("Step").click()
    m = expected(2, population=800, seed=5, plan="matrix_3x7")
    assert page.text("mlm-value-ever-joined") == dict(views.headline(m))["ever joined"]
    setup = page.text("mlm-setup")
    assert "Forced matrix 3x7 plan, 800 people" in setup and "seed 5" in setup
    # The first run is in the table of runs.
    (table,) = [h for h in page.story_html() if h.startswith("<table>")]
    r = views.run_summary(first)
    assert f"<td>{r['ever_joined']:,} ({100 * r['penetration']:.0f}%)</td>" in table
    assert f"<td>{100 * r['lost_money']:.0f}%</td>" in table
    # ... and its penetration curve is kept on the chart.
    prev = [s for s in page.charts()["penetration"]["series"] if s["name"] == "previous run"]
    assert len(prev) == 1 and len(prev[0]["data"]) == 2


def test_money_sliders_set_the_costs(page):
    page.slider("Starter kit ($)").v_model = 0
    page.slider("Fees a month ($)").v_model = 0
    page.slider("Monthly order (PV)").v_model = 100
    assert page.text("mlm-pending") == "Press Reset for: kit $0, order 100 PV, fees $0."
    page.button("Reset").click()
    for _ in range(3):
        page.button("Step").click()
    m = expected(3, costs__starter_kit_usd=0.0, costs__fixed_usd_monthly=0.0, buy__own_use_pv=100.0)
    assert views.money_settings(m) == {"starter_kit": 0, "monthly_order": 100, "fees": 0}
    for label, value in views.headline(m):
        assert page.text(f"mlm-value-{label.replace(' ', '-')}") == value
    assert page.text("mlm-setup").endswith("; kit $0, order 100 PV a month, fees $0 a month.")
    # Without a kit or fees, a member who joined this month has paid nothing but product.
    pop = m.pop
    new = pop.join_month == 3
    assert (pop.kit_cost[new] == 0).all() and (pop.fixed_costs[new] == 0).all()


def test_money_defaults_are_the_classroom_scenario():
    from simulation.config import load_scenario

    scen, _ = load_scenario("classroom")
    for key, default in views.MONEY.values():
        section, field = key.split("__")
        assert getattr(getattr(scen, section), field) == default, key


def test_the_end_of_a_run_says_done_and_can_continue(page):
    page.slider("Months").v_model = 12
    page.slider("People").v_model = 400
    page.button("Reset").click()
    for _ in range(12):
        page.button("Step").click()
    assert page.text("mlm-month-status") == "Month 12: done."
    assert page.button("Step").disabled
    page.button("Continue 12 months").click()
    assert page.text("mlm-month-status") == "Month 12 of 24"
    assert page.text("mlm-pending") == "Changed controls take effect on Reset."
    assert not page.button("Step").disabled
    page.button("Step").click()
    m = expected(13, population=400, months=24)
    assert page.text("mlm-value-ever-joined") == dict(views.headline(m))["ever joined"]


def test_no_mesa_internals_on_the_page(page):
    import ipyvuetify as v

    labels = {w.label for w in page.rc.find(v.Slider).widgets}
    assert labels == {
        "People",
        "Pitches a month",
        "Join chance",
        "Months",
        "Seed",
        "Starter kit ($)",
        "Monthly order (PV)",
        "Fees a month ($)",
    }
    assert not page.rc.find(v.Tab)  # no "Page 0" tab
    plans = page.select("Compensation plan")
    assert plans.v_model == "Unilevel 8/5/4/4/4"
    assert sorted(i if isinstance(i, str) else i["text"] for i in plans.items) == sorted(
        views.plan_choices()
    )


def test_tree_colour_toggle(page):
    from simulation import app_charts as charts

    page.button("Step").click()
    page.button("Step").click()
    assert [s["name"] for s in page.charts()["tree"]["series"]][1:4] == [
        "active",
        "joined this month",
        "quit",
    ]
    # The toggle's buttons switch it in the browser; here, set its value (index) directly.
    (toggle,) = [
        t
        for t in page.rc.find(page.v.BtnToggle).widgets
        if any(getattr(b, "children", None) == ["money"] for b in t.children)
    ]
    toggle.v_model = 1
    m = expected(2)
    pid = views.pick(m, views.PICKS[0])
    assert same_chart(page.charts()["tree"], charts.tree(m, pid, colour_by="money"))


def test_student_mode_follows_my_distributor(page):
    from simulation import app_tally as tally

    page.rc.find(page.v.Switch, label="Student mode").widget.v_model = True
    assert page.text("mlm-student-number").startswith("You are distributor #")
    number = int(page.text("mlm-student-number").split("#")[1])
    for _ in range(4):
        page.button("Step").click()
    m = expected(4)
    pid = tally.student_pid(m, number)
    assert pid is not None and m.pop.join_month[pid] > 0
    assert views.story_html(m, pid) in page.story_html()
    # The only student in this process: the tally is this one distributor.
    made = int(m.pop.net_income()[pid] >= 0)
    assert tally.CLASS.summary() == tally.Tally(students=1, joined=1, made_money=made)
    assert page.text("mlm-tally") == (
        f"Class tally: {made} of the 1 distributors the class follows have made money "
        "so far (1 in student mode)."
    )


def test_story_selection_follows_the_list(page):
    for _ in range(2):
        page.button("Step").click()
    m = expected(2)
    assert views.story_html(m, views.pick(m, views.PICKS[0])) in page.story_html()
    page.select("Whose story?").v_model = "the newest member"
    assert views.story_html(m, views.pick(m, "the newest member")) in page.story_html()


# ---------------------------------------------------------------------------- the server
def test_app_command_binds_to_loopback_without_telemetry():
    from simulation import app_server
    from simulation.cli import build_parser

    args = build_parser().parse_args(["app"])
    assert args._plugin is app_server
    assert (args.host, args.port, args.open, args.processes) == ("127.0.0.1", 8765, False, None)
    cmd = app_server.solara_args(args.host, args.port)
    assert cmd[:2] == ["run", "simulation.app"]
    assert "--no-check-version" in cmd and "--no-open" in cmd and "--production" in cmd
    assert app_server.SERVER_ENV["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"


def test_app_server_writes_websocket_frames_from_the_sessions_thread():
    import uvicorn

    from simulation import app_server

    assert app_server.SERVER_ENV["SOLARA_SERVER_SYNC_WS_WRITE"] == "True"
    before = uvicorn.Config
    try:
        app_server._use_uvicorn_ws("websockets")
        app_server._use_uvicorn_ws("websockets")  # once is enough
        assert uvicorn.Config.__mro__[1] is before
        assert uvicorn.Config(app="simulation.app:Page").ws == "websockets"
        assert uvicorn.Config(app="simulation.app:Page", ws="wsproto").ws == "wsproto"
        app_server._use_uvicorn_ws("no-such-implementation")  # left as it was
        assert uvicorn.Config.__mro__[1] is before
    finally:
        uvicorn.Config = before


def test_app_processes_default_to_one_here_and_one_per_core_on_the_network():
    from simulation import app_server

    assert app_server.default_processes("127.0.0.1", cores=8) == 1  # the teacher's page
    assert app_server.default_processes("localhost", cores=8) == 1
    assert app_server.default_processes("0.0.0.0", cores=2) == 2  # students on the network
    assert app_server.default_processes("0.0.0.0", cores=1) == 1
    assert app_server.default_processes("192.168.1.20", cores=64) == 4  # at most 4


@pytest.mark.parametrize("n", ["0", "-1", "33"])
def test_app_command_rejects_a_bad_number_of_processes(capsys, n):
    from simulation.cli import main

    assert main(["app", "--processes", n, "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert f"--processes must be 1..32, got {n}" in err


def test_app_serves_from_two_processes(tmp_path):
    """``mlmsim app --processes 2`` starts two worker processes that both accept on the port
    and answer the page; Ctrl+C (SIGINT) stops them all and removes the tally's folder."""
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONUNBUFFERED="1")
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulation", "app", "--port", str(port), "--processes", "2"],
            cwd=Path(__file__).resolve().parents[1],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = psutil.Process(proc.pid)

    def listening():
        found = []
        for child in server.children(recursive=True):
            conns = child.net_connections(kind="tcp")
            if any(c.laddr.port == port and c.status == "LISTEN" for c in conns):
                found.append(child)
        return found

    try:
        deadline = time.monotonic() + 300  # generous: each worker imports the page (seconds)
        page = None
        while page is None or len(listening()) < 2:
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "no page from two processes within 300 s"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    page = r.read().decode()
            except OSError:
                time.sleep(0.3)
        assert len(listening()) == 2
        assert "solara" in page.lower() and "<html" in page.lower()
        (tally_dir,) = tmp_path.glob("mlmsim-tally-*")
        workers = listening()
        for p in [server, *server.children(recursive=True)]:  # nothing talks to another host
            far = [c.raddr for c in p.net_connections(kind="inet") if c.raddr]
            assert all(a.ip in ("127.0.0.1", "::1") for a in far), far
        for w in workers:
            assert w.environ()["MLMSIM_CLASS_TALLY"] == str(tally_dir / "tally.sqlite")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C in the terminal
        assert proc.wait(timeout=60) == 0
        assert not any(w.is_running() for w in workers)
        assert not tally_dir.exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    text = log.read_text(errors="replace")
    assert f"Classroom page: http://127.0.0.1:{port}/" in text
    assert "Serving from 2 processes." in text
    assert "warn" not in text.lower() and "error" not in text.lower(), text


def test_app_command_rejects_a_bad_port(capsys):
    from simulation.cli import main

    assert main(["app", "--port", "0"]) == 2
    assert "--port" in capsys.readouterr().err


def test_app_command_says_when_the_port_is_taken(capsys):
    import socket

    from simulation.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["app", "--port", str(port)]) == 2
    assert f"port {port} on 127.0.0.1 is in use" in capsys.readouterr().err


def test_server_keeps_the_users_warning_filters():
    from simulation.app_server import WS_DEPRECATED, with_ws_filter

    ours = f"ignore:{WS_DEPRECATED}:UserWarning"
    assert with_ws_filter("") == ours
    assert with_ws_filter("error::DeprecationWarning") == f"error::DeprecationWarning,{ours}"
    # Set twice (a worker re-reads the parent's environment): ours once, still last.
    assert with_ws_filter(with_ws_filter("default")) == f"default,{ours}"
