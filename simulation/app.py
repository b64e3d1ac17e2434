"""The classroom page: a Mesa SolaraViz page that shows a market saturating.

Start it with ``mlmsim app`` (see :mod:`simulation.app_server`), which runs
``solara run simulation.app`` bound to 127.0.0.1 with telemetry off. The page works offline:
Solara's assets come from the ``solara-assets`` package and every chart is a matplotlib PNG
rendered on the server.

What is on the page (all numbers and figures come from :mod:`simulation.app_views`):

- sidebar (Mesa): Reset / play / Step, and the controls: people in the market, pitches per
  month, join chance, compensation plan, seed (a changed control takes effect on Reset);
- the big numbers: month, ever joined, active, joined this month, share who lost money;
- the recruitment tree, joins and penetration, members by level, share who lost money, the
  Lorenz curve of commissions, and one distributor's story (picked from a list).
"""

from __future__ import annotations

import os

# No usage data leaves the classroom (Solara reads this when its settings are imported).
os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")

import solara
from mesa.visualization import Slider, SolaraViz
from mesa.visualization import solara_viz as _mesa_viz
from mesa.visualization.utils import update_counter

from simulation import app_views as views

TITLE = "MLM classroom: watch a market saturate"

# Kernel-scoped (one value per browser session): whose story is shown and ringed on the tree.
story_choice = solara.reactive(views.PICKS[0])
story_number = solara.reactive(0)

CSS = """
.mlm-figure img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
.mlm-caption { font-size: 16px; color: #333; padding: 2px 8px 0 8px; display: block; }
.mlm-label { font-size: 14px; color: #555; display: block; }
.mlm-value { font-size: 26px; font-weight: 600; color: #1a1a1a; display: block; }
.mlm-setup { font-size: 15px; color: #444; display: block; }
.mlm-story { font-size: 16px; }
.mlm-story h4 { font-size: 20px; margin-bottom: 4px; }
/* Mesa's sliders show their value only while dragged: keep it visible for the class. */
.v-navigation-drawer .v-slider__thumb-label-container { display: block !important; }
.v-navigation-drawer .v-input__slider { margin-top: 30px; }
"""


def model_params() -> dict:
    """The sidebar controls (Mesa's ``model_params``); ``months`` is fixed."""
    d = views.DEFAULTS
    return {
        "population": Slider("People", d["population"], 200, 5000, 100),
        "pitches_per_month": Slider("Pitches a month", d["pitches_per_month"], 0.5, 10.0, 0.5),
        "join_prob": Slider("Join chance", d["join_prob"], 0.05, 1.0, 0.05),
        "plan": {
            "type": "Select",
            "label": "Compensation plan",
            "value": d["plan"],
            "values": views.plan_names(),
        },
        "seed": Slider("Seed", d["seed"], 1, 100, 1),
        "months": d["months"],
    }


def _figure(make, model, *extra, css: str = "mlm-figure", caption: str = "", key: str = ""):
    """A memoised PNG of ``make(model, *extra)``, redrawn only when the month or inputs change."""
    deps = [model, model.steps, *extra]
    fig = solara.use_memo(lambda: make(model, *extra), deps)
    with solara.Column(gap="0px", classes=[css, f"mlm-{key}"]):
        solara.FigureMatplotlib(fig, dependencies=deps, format="png")
        solara.Text(caption, classes=["mlm-caption", f"mlm-caption-{key}"])


@solara.component
def Headline(model):  # noqa: N802 (Solara components are CamelCase)
    """The big numbers, and a reminder that a changed control needs Reset."""
    update_counter.get()
    solara.Style(CSS)
    with solara.Column(gap="4px", style={"padding": "6px 12px"}):
        with solara.Row(gap="36px", style={"flex-wrap": "wrap"}):
            for label, value in views.headline(model):
                key = label.replace(" ", "-")
                with solara.Column(gap="0px"):
                    solara.Text(label, classes=["mlm-label"])
                    solara.Text(value, classes=["mlm-value", f"mlm-value-{key}"])
        solara.Text(
            f"{views.setup_line(model)}. Move a control on the left, then press Reset.",
            classes=["mlm-setup"],
        )


@solara.component
def TreeView(model):  # noqa: N802 (Solara components are CamelCase)
    """The recruitment tree, with the selected person ringed."""
    update_counter.get()
    pid = views.selected_pid(model, story_choice.value, story_number.value)
    _figure(views.tree_figure, model, pid, caption=views.captions(model)["tree"], key="tree")


@solara.component
def PenetrationView(model):  # noqa: N802 (Solara components are CamelCase)
    """Joins per month and penetration."""
    update_counter.get()
    cap = views.captions(model)["penetration"]
    _figure(views.penetration_figure, model, caption=cap, key="penetration")


@solara.component
def LevelsView(model):  # noqa: N802 (Solara components are CamelCase)
    """Members by level and recruits per member."""
    update_counter.get()
    _figure(views.levels_figure, model, caption=views.captions(model)["levels"], key="levels")


@solara.component
def LostMoneyView(model):  # noqa: N802 (Solara components are CamelCase)
    """The share of members who lost money, month by month."""
    update_counter.get()
    cap = views.captions(model)["lost_money"]
    _figure(views.lost_money_figure, model, caption=cap, key="lost_money")


@solara.component
def LorenzView(model):  # noqa: N802 (Solara components are CamelCase)
    """The Lorenz curve of commissions."""
    update_counter.get()
    _figure(views.lorenz_figure, model, caption=views.captions(model)["lorenz"], key="lorenz")


@solara.component
def StoryView(model):  # noqa: N802 (Solara components are CamelCase)
    """One distributor's story: pick someone from the list (or by number)."""
    update_counter.get()
    with solara.Column(gap="6px", style={"padding": "6px 12px"}, classes=["mlm-story"]):
        solara.Text("One distributor's story", style={"font-size": "20px", "font-weight": "bold"})
        solara.Select(
            label="Whose story?",
            value=story_choice,
            values=[*views.PICKS, views.BY_NUMBER],
        )
        if story_choice.value == views.BY_NUMBER:
            solara.InputInt("Person number", value=story_number)
        pid = views.selected_pid(model, story_choice.value, story_number.value)
        if pid is None:
            solara.Text("Nobody with that number has joined yet.")
        else:
            solara.HTML(tag="div", unsafe_innerHTML=views.story_html(model, pid))


COMPONENTS = [
    (Headline, 0),
    (TreeView, 0),
    (PenetrationView, 0),
    (LevelsView, 0),
    (LostMoneyView, 0),
    (LorenzView, 0),
    (StoryView, 0),
]

# Grid cells (12 columns, 30 px rows) for the components above, in order: the numbers across
# the top, then two columns of charts sized to their PNGs.
LAYOUT = [
    {"x": 0, "y": 0, "w": 12, "h": 3},
    {"x": 0, "y": 3, "w": 6, "h": 11},
    {"x": 6, "y": 3, "w": 6, "h": 11},
    {"x": 0, "y": 14, "w": 6, "h": 11},
    {"x": 6, "y": 14, "w": 6, "h": 11},
    {"x": 0, "y": 25, "w": 6, "h": 11},
    {"x": 6, "y": 25, "w": 6, "h": 11},
]

_mesa_initial_layout = _mesa_viz.make_initial_grid_layout


def _initial_layout(num_components: int) -> list[dict]:
    """Mesa 3.3 sizes every component 6x10; give ours sizes that fit their figures."""
    if num_components != len(LAYOUT):
        return _mesa_initial_layout(num_components)
    return [{"i": i, "moved": False, **cell} for i, cell in enumerate(LAYOUT)]


# SolaraViz takes no layout argument in Mesa 3.3; it looks this function up at call time.
_mesa_viz.make_initial_grid_layout = _initial_layout


@solara.component
def Page():  # noqa: N802 (Solara components are CamelCase)
    """The classroom page (one model per browser session)."""
    model = solara.use_memo(lambda: views.ClassroomModel(**views.DEFAULTS), [])
    SolaraViz(
        model,
        components=COMPONENTS,
        model_params=model_params(),
        name=TITLE,
        play_interval=150,
    )
