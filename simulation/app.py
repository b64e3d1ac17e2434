"""The classroom page: a Solara page that shows a Mesa model of a market saturating.

Start it with ``mlmsim app`` (see :mod:`simulation.app_server`), which runs
``solara run simulation.app`` bound to 127.0.0.1 with telemetry off. The page works offline:
Solara's assets, including ECharts, come from the ``solara-assets`` package.

Each browser session gets its own :class:`~simulation.app_views.ClassroomModel` (a Mesa model).
The charts are ECharts options (:mod:`simulation.app_charts`) drawn by the browser: a Step
costs the server the model's month plus a few milliseconds of numbers, not five matplotlib
renders. The page is made to be projected: every text is at least 24 px, the charts fill their
boxes and scale with the window.

Why not Mesa's ``SolaraViz``: in Mesa 3.3 its controller shows "Play Interval",
"Render Interval" and "Use Threads" and a "Page 0" tab with no way to hide them, keeps its
"running" state private (a finished run cannot be continued), and has no layout argument.
The page keeps Mesa's model API (``step()``, ``running``, the DataCollector) and its
play-in-a-thread design.

What is on the page (every number and sentence comes from :mod:`simulation.app_views`):

- sidebar: Reset / play / Step, the month and, at the end, "month N: done" with
  "Continue 12 months"; the play speed; the controls (people, pitches a month, join chance,
  compensation plan by its real name, months, seed), which take effect on Reset;
- the big numbers: month, ever joined, active, joined this month, share who lost money;
- the charts: recruitment tree, joins and penetration, who is left to recruit, members by
  level, the pitch against the real levels, everyone lined up (gross and net), money by
  joining month, the Lorenz curve; one distributor's story; the runs so far.
"""

from __future__ import annotations

import html
import os
import threading
import time
from typing import Any

# No usage data leaves the classroom (Solara reads this when its settings are imported).
os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
# Reacton's faster renderer (read at each render): it skips the components in which nothing
# changed instead of walking the whole page. Measured at 2,000 people: a Step's server CPU
# 28 -> 15 ms (in one process: benchmarks/bench_app.py --server-sessions); the page and its
# tests are the same with either.
os.environ.setdefault("REACTON_FAST", "1")

import numpy as np
import reacton.core
import solara

from simulation import app_charts as charts
from simulation import app_tally as tally
from simulation import app_views as views
from simulation.app_echarts import Chart, to_spec

TITLE = "MLM classroom: watch a market saturate"
CONTINUE_MONTHS = 12
# Seconds from the start of one month to the next while playing (36 months: ~6 s at normal).
SPEEDS = {"slow": 0.6, "normal": 0.15, "fast": 0.0}

CSS = """
.mlm-page { font-size: 24px; }
.mlm-numbers { display: flex; flex-wrap: wrap; column-gap: 40px; }
.mlm-number { display: flex; flex-direction: column; }
.mlm-label { font-size: 24px; color: #555; display: block; }
.mlm-value { font-size: 44px; font-weight: 600; color: #1a1a1a; display: block; line-height: 1.1; }
.mlm-setup { font-size: 24px; color: #444; display: block; }
.mlm-grid { display: grid; gap: 16px; padding: 8px 12px 24px 12px;
            grid-template-columns: repeat(auto-fill, minmax(720px, 1fr)); }
.mlm-card { display: flex; flex-direction: column; border: 1px solid #ddd; border-radius: 6px;
            padding: 8px 12px; height: max(520px, calc(50vh - 16px)); min-width: 0; }
.mlm-card-title { font-size: 28px; font-weight: 700; display: block; }
.mlm-chart-wrap { display: contents; }
.mlm-chart-box { flex: 1 1 auto; width: 100%; min-height: 0; }
.mlm-caption { font-size: 24px; color: #333; display: block; padding-top: 4px; }
.mlm-story { font-size: 24px; overflow-y: auto; }
.mlm-story h4 { font-size: 28px; margin-bottom: 4px; }
.mlm-runs { font-size: 24px; padding: 8px 12px; }
.mlm-runs table { border-collapse: collapse; }
.mlm-runs td, .mlm-runs th { border-bottom: 1px solid #ccc; padding: 4px 14px; text-align: right; }
.mlm-runs td:first-child, .mlm-runs th:first-child { text-align: left; }
.mlm-status { font-size: 24px; font-weight: 600; display: block; }
.mlm-pending { font-size: 22px; display: block; }
.mlm-done { color: #c0392b; }
.mlm-side, .mlm-side .v-label, .mlm-side .v-select__selection, .mlm-side .v-btn,
.mlm-side .v-list-item__title { font-size: 24px !important; }
.mlm-side .v-btn { height: 48px !important; min-width: 72px !important; }
.mlm-tree .v-btn { font-size: 22px !important; height: 40px !important; }
.mlm-side .v-input__slider { margin-top: 30px; }
.mlm-side .v-slider__thumb-label { font-size: 18px; width: 44px !important;
                                   height: 44px !important; }
.v-navigation-drawer { width: 360px !important; }
.v-list-item__title { font-size: 22px !important; line-height: 1.4 !important; }
"""


def _runs_html(runs: list[dict[str, Any]]) -> str:
    """The runs so far as an HTML table (escaped)."""
    head = (
        "<tr><th>run</th><th>months</th><th>ever joined</th><th>peak month</th>"
        "<th>lost money</th><th>typical member's net</th><th>top 10% got</th></tr>"
    )
    rows = []
    for k, r in enumerate(runs, 1):
        top = "n/a" if r["top10_share"] != r["top10_share"] else f"{100 * r['top10_share']:.0f}%"
        cells = [
            f"{k}: {html.escape(r['setup'])}",
            f"{r['month']}",
            f"{r['ever_joined']:,} ({100 * r['penetration']:.0f}%)",
            f"{r['peak_month']}",
            f"{100 * r['lost_money']:.0f}%",
            views.usd(r["typical_net"]),
            top,
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def page_captions(model) -> dict[str, str]:
    """:func:`views.captions` of the model's current month, computed once for all the cards."""
    cached = getattr(model, "_page_captions", None)
    if cached is None or cached[0] != model.month:
        cached = (model.month, views.captions(model))
        model._page_captions = cached
    return cached[1]


# Each component below reads the reactive values it shows (tick, model, ...) itself, so a Step
# re-renders only the cards, the numbers and the buttons, not the whole page: Reacton
# re-renders a component when a value it read changes, and everything under it.


@solara.component
def CardTitle(key: str, colour=None):  # noqa: N802
    """A chart card's title (and the tree's colour toggle): rendered once, not every month.

    Its arguments never change with the month, so a Step skips it (Reacton re-renders a
    component only when an argument or a value it reads changes).
    """
    with solara.Row(gap="16px", style={"align-items": "center"}):
        solara.Text(charts.CHARTS[key], classes=["mlm-card-title"])
        if key == "tree":
            solara.Text("colour by", classes=["mlm-label"])
            solara.ToggleButtonsSingle(value=colour, values=list(charts.TREE_COLOURS))


@solara.component
def ChartCard(  # noqa: N802
    key: str, model, tick, choice=None, number=None, previous=None, colour=None
):
    """One chart with its title and caption, rebuilt only when the month or inputs change."""
    m = model.value
    month = tick.value
    pid = views.selected_pid(m, choice.value, number.value) if key == "tree" else None
    prev = previous.value if key == "penetration" else None
    colour_by = colour.value if key == "tree" else None

    def build():
        if key == "tree":
            return charts.tree(m, pid, colour_by=colour_by)
        if key == "penetration":
            return charts.penetration(m, prev)
        return charts.BUILDERS[key](m)

    spec = solara.use_memo(lambda: to_spec(build()), [m, month, pid, id(prev), colour_by])
    with solara.Column(gap="0px", classes=["mlm-card", f"mlm-{key}"]):
        CardTitle(key, colour if key == "tree" else None)
        Chart(
            spec,
            css_class=f"mlm-chart-{key}",
            caption=page_captions(m)[key],
            caption_class=f"mlm-caption mlm-caption-{key}",
        )


def headline_html(model) -> str:
    """The big numbers (:func:`views.headline`) as one HTML block (escaped).

    One widget for the five numbers: a Step sends the browser one message for them, not five.
    Each value keeps its own class (``mlm-value-month``, ...).
    """
    cells = []
    for label, value in views.headline(model):
        key = label.replace(" ", "-")
        cells.append(
            f'<div class="mlm-number"><span class="mlm-label">{html.escape(label)}</span>'
            f'<span class="mlm-value mlm-value-{key}">{html.escape(value)}</span></div>'
        )
    return f'<div class="mlm-numbers">{"".join(cells)}</div>'


@solara.component
def Headline(model, tick):  # noqa: N802
    """The big numbers, and what the controls are."""
    tick.value  # noqa: B018 (re-render every month)
    m = model.value
    with solara.Column(gap="4px", style={"padding": "6px 12px"}):
        solara.HTML(tag="div", unsafe_innerHTML=headline_html(m))
        solara.Text(f"{views.setup_line(m)}.", classes=["mlm-setup"])


@solara.component
def StoryPicker(choice):  # noqa: N802
    """The list of whose story to show (its own component: not re-rendered every month)."""
    solara.Select(label="Whose story?", value=choice, values=[*views.PICKS, views.BY_NUMBER])


@solara.component
def StoryCard(model, tick, choice, number):  # noqa: N802
    """One distributor's story: pick someone from the list (or by number)."""
    tick.value  # noqa: B018 (re-render every month)
    m = model.value
    with solara.Column(gap="6px", classes=["mlm-card", "mlm-story"]):
        solara.Text("One distributor's story", classes=["mlm-card-title"])
        StoryPicker(choice)
        if choice.value == views.BY_NUMBER:
            solara.InputInt("Person number", value=number)
        pid = views.selected_pid(m, choice.value, number.value)
        if pid is None:
            solara.Text("Nobody with that number has joined yet.")
        else:
            solara.HTML(tag="div", unsafe_innerHTML=views.story_html(m, pid))


@solara.component
def StudentCard(model, tick):  # noqa: N802
    """Student mode: "you are distributor #N", their story, and the class tally."""
    tick.value  # noqa: B018 (re-render every month)
    m = model.value
    number = solara.use_memo(tally.CLASS.join, [])
    solara.use_effect(lambda: lambda: tally.CLASS.leave(number), [])
    pid = tally.student_pid(m, number)
    net = None if pid is None else float(m.pop.net_income(rows=np.array([pid]))[0])
    tally.CLASS.report(number, net)  # every month this page shows (idempotent)
    t = tally.CLASS.summary()
    with solara.Column(gap="6px", classes=["mlm-card", "mlm-story", "mlm-student"]):
        solara.Text(
            f"You are distributor #{number}", classes=["mlm-card-title", "mlm-student-number"]
        )
        solara.Text(
            f"The {tally.ordinal(number)} person to join after the founders (month {m.month}).",
            classes=["mlm-caption"],
        )
        if pid is None:
            solara.Text("Your distributor has not joined yet. Press Step.", classes=["mlm-caption"])
        else:
            solara.HTML(tag="div", unsafe_innerHTML=views.story_html(m, pid))
        solara.Text(
            f"Class tally: {t.made_money} of the {t.joined} distributors the class follows "
            f"have made money so far ({t.students} in student mode).",
            classes=["mlm-caption", "mlm-tally"],
        )


@solara.component
def Runs(runs):  # noqa: N802
    """The table of runs so far (filled on Reset)."""
    if runs.value:
        with solara.Column(classes=["mlm-runs"]):
            solara.Text("Runs so far", classes=["mlm-card-title"])
            solara.HTML(tag="div", unsafe_innerHTML=_runs_html(list(runs.value)))


@solara.component
def Controller(model, tick, playing, speed, on_reset):  # noqa: N802
    """Reset / play / Step, the month, "done" with "continue", and the play speed.

    Playing runs in a thread (as Mesa's SolaraViz does): one month, then a pause so that a
    month starts every ``SPEEDS[speed]`` seconds; it stops at the run's last month.
    """
    tick.value  # noqa: B018 (re-render every month)
    m = model.value
    # One render for a month, not one per component that shows it: inside the render
    # context, Reacton batches the state changes and renders once on leaving it.
    rc = reacton.core.get_render_context()

    def one_month():
        with rc:
            model.value.step()
            tick.set(tick.value + 1)

    # Held while a month runs in play, and by pause: once paused, no month is under way.
    lock = solara.use_memo(threading.Lock, [])

    def play_loop(cancel: threading.Event):
        while not cancel.is_set():
            start = time.perf_counter()
            with lock:
                if not playing.value:
                    return
                if not model.value.running:
                    playing.set(False)
                    return
                one_month()
            cancel.wait(max(0.0, SPEEDS[speed.value] - (time.perf_counter() - start)))

    solara.use_thread(play_loop, dependencies=[playing.value], intrusive_cancel=False)

    def play_pause():
        with lock:
            playing.set(not playing.value)

    def continue_run():
        with rc:
            model.value.extend(CONTINUE_MONTHS)
            tick.set(tick.value + 1)

    with solara.Row(gap="8px"):
        solara.Button("Reset", color="primary", on_click=on_reset)
        solara.Button(
            "❚❚" if playing.value else "▶",
            color="primary",
            on_click=play_pause,
            disabled=not m.running,
        )
        solara.Button(
            "Step", color="primary", on_click=one_month, disabled=playing.value or not m.running
        )
    if m.running:
        solara.Text(
            f"Month {m.month} of {charts.horizon(m)}", classes=["mlm-status", "mlm-month-status"]
        )
    else:
        solara.Text(
            f"Month {m.month}: done.", classes=["mlm-status", "mlm-done", "mlm-month-status"]
        )
        solara.Button(f"Continue {CONTINUE_MONTHS} months", color="primary", on_click=continue_run)
    SpeedToggle(speed)


@solara.component
def SpeedToggle(speed):  # noqa: N802
    """The play speed (its own component: not re-rendered every month)."""
    solara.ToggleButtonsSingle(value=speed, values=list(SPEEDS))


def pending_changes(model, controls: dict[str, Any], plan_name: str) -> list[str]:
    """The controls that differ from the run on screen, as short phrases ("1,000 people").

    Args:
        model: the model on screen.
        controls: ``population``, ``pitches_per_month``, ``join_prob``, ``months``, ``seed``
            and the :data:`views.MONEY` controls.
        plan_name: the plan selected (its own name).
    """
    sc = model.scenario
    out = []
    if controls["population"] != model.pop.n:
        out.append(f"{controls['population']:,} people")
    if controls["pitches_per_month"] != sc.recruit.pitches_per_month:
        out.append(f"{controls['pitches_per_month']:g} pitches a month")
    if controls["join_prob"] != sc.recruit.join_prob:
        out.append(f"join chance {100 * controls['join_prob']:.0f}%")
    if plan_name != model.plan.meta.name:
        out.append(f"{plan_name} plan")
    if controls["months"] != model.planned_months:
        out.append(f"{controls['months']} months")
    if controls["seed"] != model.seed:
        out.append(f"seed {controls['seed']}")
    money = views.money_settings(model)
    if controls["starter_kit"] != money["starter_kit"]:
        out.append(f"kit {views.usd(controls['starter_kit'])}")
    if controls["monthly_order"] != money["monthly_order"]:
        out.append(f"order {controls['monthly_order']:g} PV")
    if controls["fees"] != money["fees"]:
        out.append(f"fees {views.usd(controls['fees'])}")
    return out


@solara.component
def Pending(model, tick, controls: dict, plan):  # noqa: N802
    """What Reset will change, so the class sees that a moved control is not yet in effect."""
    tick.value  # noqa: B018 (re-render every month)
    values = {k: r.value for k, r in controls.items()}
    changes = pending_changes(model.value, values, plan.value)
    if changes:
        solara.Text(
            "Press Reset for: " + ", ".join(changes) + ".", classes=["mlm-pending", "mlm-done"]
        )
    else:
        solara.Text("Changed controls take effect on Reset.", classes=["mlm-pending"])


@solara.component
def Page():  # noqa: N802 (Solara components are CamelCase)
    """The classroom page (one model per browser session)."""
    d = views.DEFAULTS
    first = solara.use_memo(lambda: views.ClassroomModel(**d), [])
    model = solara.use_reactive(first)
    tick = solara.use_reactive(0)  # bumped after every month the model runs
    playing = solara.use_reactive(False)
    speed = solara.use_reactive("normal")
    runs = solara.use_reactive(())  # run_summary of each run, added on Reset
    previous = solara.use_reactive(None)  # the last run's penetration curve, drawn faintly
    choice = solara.use_reactive(views.PICKS[0])
    tree_colour = solara.use_reactive(charts.TREE_COLOURS[0])
    student = solara.use_reactive(False)
    number = solara.use_reactive(0)
    population = solara.use_reactive(d["population"])
    pitches = solara.use_reactive(d["pitches_per_month"])
    join_prob = solara.use_reactive(d["join_prob"])
    plans = solara.use_memo(views.plan_choices, [])
    stems = {v: k for k, v in plans.items()}
    plan = solara.use_reactive(stems[d["plan"]])
    months = solara.use_reactive(d["months"])
    seed = solara.use_reactive(d["seed"])
    kit = solara.use_reactive(views.MONEY["starter_kit"][1])
    order = solara.use_reactive(views.MONEY["monthly_order"][1])
    fees = solara.use_reactive(views.MONEY["fees"][1])

    def reset():
        playing.set(False)
        old = model.value
        if old.month > 0:
            runs.set((*runs.value, views.run_summary(old)))
            previous.set(charts.penetration_series(old))
        model.set(
            views.ClassroomModel(
                population=population.value,
                pitches_per_month=pitches.value,
                join_prob=join_prob.value,
                plan=plans[plan.value],
                seed=seed.value,
                months=months.value,
                **{
                    views.MONEY["starter_kit"][0]: kit.value,
                    views.MONEY["monthly_order"][0]: order.value,
                    views.MONEY["fees"][0]: fees.value,
                },
            )
        )
        tick.set(tick.value + 1)

    solara.Style(CSS)
    solara.Title(TITLE)
    with solara.AppBar():
        solara.AppBarTitle(TITLE)
    with (
        solara.Sidebar(),
        solara.Column(gap="10px", classes=["mlm-side"], style={"padding": "8px"}),
    ):
        Controller(model, tick, playing, speed, reset)
        solara.Switch(label="Student mode", value=student)
        controls = {
            "population": population,
            "pitches_per_month": pitches,
            "join_prob": join_prob,
            "months": months,
            "seed": seed,
            "starter_kit": kit,
            "monthly_order": order,
            "fees": fees,
        }
        Pending(model, tick, controls, plan)
        solara.SliderInt(
            "People", value=population, min=200, max=5000, step=100, thumb_label="always"
        )
        solara.SliderFloat(
            "Pitches a month", value=pitches, min=0.5, max=10.0, step=0.5, thumb_label="always"
        )
        solara.SliderFloat(
            "Join chance", value=join_prob, min=0.05, max=1.0, step=0.05, thumb_label="always"
        )
        solara.Select("Compensation plan", value=plan, values=list(plans))
        solara.SliderInt("Months", value=months, min=12, max=120, step=12, thumb_label="always")
        solara.SliderInt("Seed", value=seed, min=1, max=100, thumb_label="always")
        solara.SliderFloat(
            "Starter kit ($)", value=kit, min=0, max=300, step=10, thumb_label="always"
        )
        solara.SliderFloat(
            "Monthly order (PV)", value=order, min=0, max=200, step=10, thumb_label="always"
        )
        solara.SliderFloat(
            "Fees a month ($)", value=fees, min=0, max=100, step=5, thumb_label="always"
        )
    with solara.Column(gap="0px", classes=["mlm-page"]):
        Headline(model, tick)
        with solara.Div(classes=["mlm-grid"]):
            if student.value:
                StudentCard(model, tick)
            for key in charts.CHARTS:
                ChartCard(key, model, tick, choice, number, previous, tree_colour)
            StoryCard(model, tick, choice, number)
        Runs(runs)
