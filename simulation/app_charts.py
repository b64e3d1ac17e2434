"""The classroom page's charts as ECharts options: plain dicts the browser draws.

Drawing five matplotlib PNGs took about 380 ms of server CPU per month shown (99% of a Step at
2,000 people); building these options takes a few milliseconds, and the browser draws them
with ECharts (shipped in ``solara-assets``, so nothing is fetched from the internet). Every
number comes from :mod:`simulation.app_views`; each function returns a JSON-ready ``dict``
(lists of Python floats and ints, ``"-"`` for a gap), so tests can compare the data with the
model and the browser test can read it back from the page.

Text is :data:`FONT` px (24: readable from the back of a classroom on a 1920x1080 projector).
Each option carries a ``"mlmStamp"`` (model id and month) that the page's chart widget writes
to its element once ECharts has drawn it, so tests and benchmarks can wait for a redraw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulation import app_views as views
from simulation.metrics import lorenz
from simulation.model import MLMModel
from simulation.state import Status

FONT = 24  # px, every text in every chart
GAP = "-"  # ECharts: no value here (breaks a line)
GREY = "#555555"
# ECharts draws a scatter series of more than 3,000 points progressively, 400 points an
# animation frame: at 5,000 people the ring of friends and the tree took a dozen frames to
# finish. Drawn in one pass, a few thousand dots take a few milliseconds; "large" (ECharts'
# mode for series of over 2,000 points: one path for all the dots, which look the same) takes
# a Step at 5,000 people from 183 to 104 ms to the charts in view (bench_app.py, 12 Steps).
SCATTER_AT_ONCE = {"progressive": 0, "large": True}

# Colours of the who-is-left groups (views.POOL order).
POOL_COLOURS = [views.ACTIVE, views.QUIT, views.LOSS, "#e6a0c4", "#d9d9d9", views.NEW]


def stamp(model: MLMModel, *extra: Any) -> str:
    """What a chart shows: the model object, its month, and any extra input (e.g. a person)."""
    return ":".join(str(x) for x in (id(model), model.month, *extra))


def _base(model: MLMModel, *extra: Any, legend: bool = True, right_axis: bool = False) -> dict:
    option: dict[str, Any] = {
        "mlmStamp": stamp(model, *extra),
        "animation": False,
        "textStyle": {"fontSize": FONT},
        "grid": {
            "left": 16,
            "right": 28 if not right_axis else 16,
            "bottom": 50,
            "top": 100 if legend else 60,
            "containLabel": True,
        },
        "tooltip": {"trigger": "axis", "textStyle": {"fontSize": FONT}},
    }
    if legend:
        option["legend"] = {
            "top": 0,
            "textStyle": {"fontSize": FONT},
            "itemWidth": 28,
            "itemHeight": 18,
            "itemGap": 24,
        }
    return option


def _fit_legend(option: dict, width: float = 700.0) -> dict:
    """Leave room above the plot for the legend's rows at :data:`FONT` px.

    ECharts wraps a long legend but does not move the plot down; the rows are estimated
    from the names' lengths (about 0.55 em a character) for a chart ``width`` px wide (a
    half-width card on a 1920 px screen).
    """
    legend = option.get("legend")
    if legend is None:
        return option
    names = legend.get("data") or [x["name"] for x in option["series"] if x.get("name")]
    widths = [0.55 * FONT * len(n) + 40 + legend.get("itemGap", 24) for n in names]
    rows, used = 1, 0.0
    for w in widths:
        if used + w > width and used > 0:
            rows, used = rows + 1, 0.0
        used += w
    option["grid"]["top"] = 60 + 34 * rows
    return option


def _axis(name: str = "", kind: str = "value", **kw: Any) -> dict:
    """An x axis (name centred below it) with labels at :data:`FONT` px."""
    axis = {
        "type": kind,
        "name": name,
        "nameLocation": "middle",
        "nameTextStyle": {"fontSize": FONT},
        "nameGap": 40,
        "axisLabel": {"fontSize": FONT},
        "splitLine": {"show": kind == "value"},
    }
    axis.update(kw)
    return axis


def _yaxis(name: str = "", kind: str = "value", right: bool = False, **kw: Any) -> dict:
    """A y axis whose name sits above its top end (never over the tick labels)."""
    axis = _axis(name, kind, **kw)
    axis.update(
        nameLocation="end",
        nameGap=18,
        nameTextStyle={"fontSize": FONT, "align": "right" if right else "left"},
    )
    return axis


def _percent_axis(name: str) -> dict:
    """A right-hand y axis from 0 to 100 %, without grid lines of its own."""
    return _yaxis(
        name,
        right=True,
        min=0,
        max=100,
        splitLine={"show": False},
        axisLabel={"fontSize": FONT, "formatter": "{value}%"},
    )


def _edges_hidden(axis: dict) -> dict:
    """Hide the labels at an axis's ends (they sit at half units, e.g. "-0.5", "36.5")."""
    axis["axisLabel"] = {**axis["axisLabel"], "showMinLabel": False, "showMaxLabel": False}
    return axis


# The list builders below convert whole arrays with ``tolist()`` (no numpy scalar per value):
# at 2,000 people the charts' lists took most of the server's chart time of a Step.
def _f(a) -> list:
    """A float list with gaps for non-finite values (JSON has no NaN)."""
    a = np.asarray(a, dtype=np.float64)
    out = a.tolist()
    bad = ~np.isfinite(a)
    if bad.any():
        for i in np.flatnonzero(bad).tolist():
            out[i] = GAP
    return out


def _xy(x, y) -> list[list]:
    return [[a, b] for a, b in zip(np.asarray(x, np.float64).tolist(), _f(y), strict=True)]


def _points(x, y) -> list[list]:
    """``[[float x, int y], ...]`` (e.g. a position and a level)."""
    xs, ys = np.asarray(x, np.float64).tolist(), np.asarray(y).tolist()
    return [list(p) for p in zip(xs, ys, strict=True)]


def horizon(model: MLMModel) -> int:
    """Months the x axes span: the planned run, or further if it was continued."""
    return max(int(model.scenario.scenario.months), int(model.month))


# ---------------------------------------------------------------------------- the tree
TREE_COLOURS = ("status", "money")


def tree(
    model: MLMModel,
    highlight: int | None = None,
    max_nodes: int = 2500,
    colour_by: str = "status",
) -> dict:
    """Who recruited whom: founders on top, one row per level; lines from recruiter to recruit.

    Series: ``links`` (line with gaps); the dots (scatter of ``[x, level]``): by status,
    ``active``, ``joined this month``, ``quit``; by money, ``joined this month``, ``made money
    so far`` and ``lost money so far`` (net income, own use valued, of everyone else who
    joined); and ``selected person`` (the ringed person and the line up to their founder)
    when ``highlight`` is drawn.

    Raises:
        ValueError: if ``colour_by`` is not one of :data:`TREE_COLOURS`.
    """
    if colour_by not in TREE_COLOURS:
        raise ValueError(f"colour_by must be one of {TREE_COLOURS}, got {colour_by!r}")
    lay = views.tree_layout(model, max_nodes)
    has = np.flatnonzero(lay.parent >= 0)
    p = lay.parent[has]
    # Each link is recruiter, recruit, gap: one polyline series for all links.
    link_data: list = []
    gap = [GAP, GAP]
    for a, b in zip(_points(lay.x[p], lay.y[p]), _points(lay.x[has], lay.y[has]), strict=True):
        link_data += (a, b, gap)
    size = 14 if lay.ids.size < 600 else 8
    if colour_by == "status":
        groups = (
            ("active", (lay.status == Status.DISTRIBUTOR) & ~lay.new, views.ACTIVE),
            ("joined this month", lay.new, views.NEW),
            ("quit", lay.status == Status.QUIT, views.QUIT),
        )
    else:
        net = model.pop.net_income(rows=lay.ids)
        groups = (
            ("joined this month", lay.new, views.NEW),
            ("made money so far", ~lay.new & (net >= 0), views.ACTIVE),
            ("lost money so far", ~lay.new & (net < 0), views.LOSS),
        )
    series: list[dict] = [
        {
            "name": "links",
            "type": "line",
            "data": link_data,
            "showSymbol": False,
            "silent": True,
            "connectNulls": False,
            "lineStyle": {"color": views.EDGE, "width": 0.6, "opacity": 0.6},
        }
    ]
    for name, mask, colour in groups:
        series.append(
            {
                "name": name,
                "type": "scatter",
                "data": _points(lay.x[mask], lay.y[mask]),
                "symbolSize": size,
                "itemStyle": {"color": colour},
                **SCATTER_AT_ONCE,
            }
        )
    names = [g[0] for g in groups]
    if highlight is not None and (i := lay.index_of(highlight)) >= 0:
        chain = lay.upline(i)
        series.append(
            {
                "name": "selected person",
                "type": "line",
                "data": [
                    {"value": [float(lay.x[c]), int(lay.y[c])], "symbolSize": 30 if k == 0 else 0}
                    for k, c in enumerate(chain)
                ],
                "symbol": "circle",
                "lineStyle": {"color": views.LOSS, "width": 3},
                "itemStyle": {
                    "color": "rgba(0,0,0,0)",
                    "borderColor": views.LOSS,
                    "borderWidth": 4,
                },
                "z": 5,
            }
        )
        names.append("selected person")
    deepest = int(lay.y.max()) if lay.y.size else 1
    half = max(5.0, float(np.abs(lay.x).max()) + 1 if lay.x.size else 5.0)
    option = _base(model, highlight, colour_by)
    option["legend"]["data"] = names
    option["tooltip"] = {"show": False}
    option["xAxis"] = _axis(min=-half, max=half, show=False)
    option["yAxis"] = _yaxis(
        "level",
        inverse=True,
        min=0,
        max=max(deepest, 3) + 1,
        interval=1 if deepest <= 12 else 2,
        axisLabel={"fontSize": FONT, "showMinLabel": False, "showMaxLabel": False},
        splitLine={"show": False},
    )
    option["yAxis"]["nameTextStyle"]["verticalAlign"] = "bottom"
    option["series"] = series
    return _fit_legend(option)


# ---------------------------------------------------------------------------- over time
def penetration_series(model: MLMModel) -> dict:
    """A run's penetration curve, kept to be drawn faintly after Reset.

    Returns:
        ``{"name": str, "data": [[month, percent], ...]}``.
    """
    month = views.monthly(model, "month")
    pen = 100 * views.monthly(model, "penetration")
    return {"name": f"previous run ({views.setup_line(model)})", "data": _xy(month, pen)}


def penetration(model: MLMModel, previous: dict | None = None) -> dict:
    """Joins per month (bars) and the share of the town that ever joined (line, right axis).

    ``previous`` (from :func:`penetration_series`) adds the last run's curve, faint and dashed,
    so a class can compare before and after a change.
    """
    month = views.monthly(model, "month")
    joined = views.monthly(model, "joined")
    pen = 100 * views.monthly(model, "penetration")
    option = _base(model, right_axis=True)
    option["xAxis"] = _edges_hidden(_axis("month", min=-0.5, max=horizon(model) + 0.5))
    option["yAxis"] = [
        _yaxis(
            "joins per month",
            min=0,
            minInterval=1,
        ),
        _percent_axis("ever joined"),
    ]
    option["series"] = [
        {
            "name": "joined that month",
            "type": "bar",
            "data": _xy(month[1:], joined[1:]),
            "itemStyle": {"color": views.ACTIVE, "opacity": 0.7},
            "barWidth": "60%",
        },
        {
            "name": "ever joined, % of town",
            "type": "line",
            "yAxisIndex": 1,
            "data": _xy(month, pen),
            "showSymbol": False,
            "lineStyle": {"color": views.LOSS, "width": 4},
            "itemStyle": {"color": views.LOSS},
        },
    ]
    if previous is not None:
        option["series"].append(
            {
                "name": "previous run",
                "type": "line",
                "yAxisIndex": 1,
                "data": previous["data"],
                "showSymbol": False,
                "lineStyle": {"color": views.LOSS, "width": 3, "type": "dashed", "opacity": 0.35},
                "itemStyle": {"color": views.LOSS, "opacity": 0.35},
            }
        )
        option["xAxis"]["max"] = max(option["xAxis"]["max"], len(previous["data"]) - 0.5)
    return _fit_legend(option)


def pool(model: MLMModel) -> dict:
    """Who is left to recruit: the whole town in the :data:`views.POOL` groups, by month."""
    hist = views.pool_history(model)
    option = _base(model)
    option["legend"]["itemGap"] = 14
    option["legend"]["icon"] = "rect"
    # A category axis: ECharts stacks areas by index there (one column per month).
    option["xAxis"] = _axis(
        "month",
        kind="category",
        boundaryGap=False,
        data=[str(k) for k in range(horizon(model) + 1)],
    )
    option["yAxis"] = _yaxis("people", min=0, max=int(model.pop.n))
    option["series"] = [
        {
            "name": name,
            "type": "line",
            "stack": "town",
            "areaStyle": {"color": colour, "opacity": 0.9},
            "lineStyle": {"width": 0},
            "itemStyle": {"color": colour},
            "showSymbol": False,
            "data": [int(c) for c in hist[:, k]],
        }
        for k, (name, colour) in enumerate(zip(views.POOL, POOL_COLOURS, strict=True))
    ]
    return _fit_legend(option)


RING_RADII = [0.45, 0.56, 0.67, 0.78, 0.89, 1.0]  # network(): the band of each POOL group


def network(model: MLMModel) -> dict:
    """The town as a ring: every person a dot, placed around the circle in row order.

    The classroom town is a small-world network: a ring on which each person knows their
    nearest neighbours, with a few links rewired across the town. Drawn around a circle in row
    order, friends sit next to each other; each :data:`views.POOL` group has its own band
    (:data:`RING_RADII`), so recruiting shows as arcs spreading from the founders'
    neighbourhoods (links are not drawn: 12,000 lines would hide the dots).
    """
    group = views.pool_groups(model)
    n = int(model.pop.n)
    option = _base(model)
    option["legend"]["itemGap"] = 14
    option["tooltip"] = {"show": False}
    option["polar"] = {"radius": ["0%", "70%"], "center": ["50%", "60%"]}
    option["angleAxis"] = {"type": "value", "min": 0, "max": n, "show": False}
    option["radiusAxis"] = {"type": "value", "min": 0, "max": 1, "show": False}
    # One band per group (members inside, never asked outside): at each angle, which part
    # of that neighbourhood has joined, quit, refused, or not been reached.
    rows = np.arange(n)
    option["series"] = [
        {
            "name": name,
            "type": "scatter",
            "coordinateSystem": "polar",
            "symbolSize": 7 if n <= 2500 else 5,
            "itemStyle": {"color": colour},
            "data": [[RING_RADII[k], i] for i in rows[group == k].tolist()],
            **SCATTER_AT_ONCE,
        }
        for k, (name, colour) in enumerate(zip(views.POOL, POOL_COLOURS, strict=True))
    ]
    return _fit_legend(option)


def cohorts(model: MLMModel) -> dict:
    """Net income by the month people joined: median (bars) and the share who lost money."""
    months, _joined, lost, median = views.loss_by_join_month(model)
    option = _base(model, right_axis=True)
    option["xAxis"] = _edges_hidden(_axis("month they joined", min=-0.5, max=horizon(model) + 0.5))
    option["yAxis"] = [
        _yaxis("median net income", axisLabel={"fontSize": FONT, "formatter": "${value}"}),
        _percent_axis("lost money"),
    ]
    option["series"] = [
        {
            "name": "median net income",
            "type": "bar",
            "data": [
                {
                    "value": [int(m), float(v)],
                    "itemStyle": {"color": views.ACTIVE if v >= 0 else views.LOSS},
                }
                for m, v in zip(months, median, strict=True)
            ],
            "itemStyle": {"color": views.LOSS},
            "barWidth": "60%",
        },
        {
            "name": "share who lost money",
            "type": "line",
            "yAxisIndex": 1,
            "data": _xy(months, 100 * lost),
            "symbolSize": 8,
            "lineStyle": {"color": "black", "width": 3},
            "itemStyle": {"color": "black"},
        },
    ]
    return _fit_legend(option)


# ---------------------------------------------------------------------------- levels
def _levels_axis(levels: int) -> dict:
    """A category x axis of levels 1..``levels`` (bars centred on each level)."""
    return _axis(
        "level (1 = founders)",
        kind="category",
        data=[str(k) for k in range(1, levels + 1)],
        axisTick={"alignWithLabel": True},
    )


def levels(model: MLMModel) -> dict:
    """Members by level at joining (active / joined this month / quit) and recruits per member.

    The recruits-per-member line skips levels with fewer than
    :data:`views.MIN_MEMBERS_FOR_RATE` members (a gap in the line).
    """
    lv, active, fresh, quit_ = views.members_by_status_and_level(model)
    size = lv.size + 1
    _, rpm = views.recruits_per_member(model)
    rate = np.where(views.rated_levels(model), rpm, np.nan)
    option = _base(model, right_axis=True)
    option["xAxis"] = _levels_axis(max(size - 1, 5))
    option["yAxis"] = [
        _yaxis("people who joined", min=0),
        _yaxis(
            "recruits per member",
            right=True,
            min=0,
            max=max(3.0, float(np.ceil(np.nanmax(rate)))) if np.isfinite(rate).any() else 3.0,
            splitLine={"show": False},
        ),
    ]

    def bars(name, values, colour):
        return {
            "name": name,
            "type": "bar",
            "stack": "level",
            "barWidth": "70%",
            "data": _f(values),
            "itemStyle": {"color": colour},
        }

    option["series"] = [
        bars("active", active, views.ACTIVE),
        bars("joined this month", fresh, views.NEW),
        bars("quit", quit_, views.QUIT),
        {
            "name": "recruits per member",
            "type": "line",
            "yAxisIndex": 1,
            "data": _f(rate),
            "connectNulls": False,
            "symbolSize": 10,
            "lineStyle": {"color": "black", "width": 3},
            "itemStyle": {"color": "black"},
        },
    ]
    return _fit_legend(option)


def pitch(model: MLMModel) -> dict:
    """The pitch ("recruit 3 who each recruit 3") against the real members by level (log scale).

    The promise is ``founders x 3^(level-1)``; it is drawn up to the first level that needs more
    people than live in the town, and the town's size is a dashed line.
    """
    real = views.members_by_level(model)
    founders = int(model.scenario.market.founders)
    n = int(model.pop.n)
    need = 1
    while founders * 3 ** (need - 1) <= n:
        need += 1
    top = max(real.size, need)
    promised = views.promised_per_level(founders, top)
    option = _base(model)
    option["xAxis"] = _levels_axis(top)
    option["yAxis"] = _yaxis(
        "people on the level (log scale)",
        kind="log",
        min=1,
        max=10 ** int(np.ceil(np.log10(max(promised[-1], n) + 1))),
        axisLabel={"fontSize": FONT},
    )
    option["series"] = [
        {
            "name": "people who really joined",
            "type": "bar",
            "barWidth": "60%",
            "data": _f(np.where(real > 0, real, np.nan)),
            "itemStyle": {"color": views.ACTIVE},
        },
        {
            "name": "the pitch: 3 who each recruit 3",
            "type": "line",
            "data": _f(promised),
            "symbolSize": 10,
            "lineStyle": {"color": views.NEW, "width": 4, "type": "dashed"},
            "itemStyle": {"color": views.NEW},
        },
        {
            "name": f"everyone in town ({n:,})",
            "type": "line",
            "data": [n] * top,
            "showSymbol": False,
            "lineStyle": {"color": GREY, "width": 2, "type": "dotted"},
            "itemStyle": {"color": GREY},
        },
    ]
    return _fit_legend(option)


# ---------------------------------------------------------------------------- money
def lined_up(model: MLMModel) -> dict:
    """Everyone who joined, lined up from the lowest net income to the highest: net and gross."""
    net, gross = views.lined_up(model)
    rank = np.arange(1, net.size + 1)
    option = _base(model)
    option["xAxis"] = _axis("members, lowest net income first", min=1, max=max(int(net.size), 2))
    option["yAxis"] = _yaxis("USD so far", axisLabel={"fontSize": FONT, "formatter": "${value}"})
    option["series"] = [
        {
            "name": "gross (commissions)",
            "type": "line",
            "data": _xy(rank, gross),
            "showSymbol": False,
            "lineStyle": {"color": views.ACTIVE, "width": 3},
            "itemStyle": {"color": views.ACTIVE},
        },
        {
            "name": "net (after costs)",
            "type": "line",
            "data": _xy(rank, net),
            "showSymbol": False,
            "areaStyle": {"color": views.LOSS, "opacity": 0.25},
            "lineStyle": {"color": views.LOSS, "width": 3},
            "itemStyle": {"color": views.LOSS},
            "markLine": {
                "silent": True,
                "symbol": "none",
                "label": {"show": False},
                "lineStyle": {"color": GREY, "type": "dotted", "width": 2},
                "data": [{"yAxis": 0}],
            },
        },
    ]
    return _fit_legend(option)


def lorenz_curve(model: MLMModel) -> dict:
    """Lorenz curve of the commissions received so far by everyone who joined."""
    pop = model.pop
    comm = pop.commissions[pop.join_month >= 0]
    option = _base(model)
    pct = {"fontSize": FONT, "formatter": "{value}%"}
    option["xAxis"] = _axis("members, lowest paid first", min=0, max=100, axisLabel=pct)
    option["yAxis"] = _yaxis("share of commissions", min=0, max=100, axisLabel=pct)
    series: list[dict] = [
        {
            "name": "if everyone got the same",
            "type": "line",
            "data": [[0, 0], [100, 100]],
            "showSymbol": False,
            "lineStyle": {"color": GREY, "width": 2, "type": "dotted"},
            "itemStyle": {"color": GREY},
        }
    ]
    if comm.size and comm.sum() > 0:
        x, y = (100 * np.asarray(v, dtype=np.float64) for v in lorenz(comm, max_points=400))
        series.append(
            {
                "name": "commissions paid so far",
                "type": "line",
                "data": _xy(x, y),
                "showSymbol": False,
                "areaStyle": {"color": views.LOSS, "opacity": 0.15},
                "lineStyle": {"color": views.LOSS, "width": 4},
                "itemStyle": {"color": views.LOSS},
            }
        )
    option["series"] = series
    return _fit_legend(option)


# The page's charts in order: key -> (title shown above the chart, option builder).
CHARTS = {
    "tree": "Who recruited whom",
    "penetration": "Joins per month and share of the town who joined",
    "pool": "Who is left to recruit",
    "network": "The town as a ring of friends",
    "levels": "Members by level, and how many each recruited",
    "pitch": "The pitch against what happened",
    "lined_up": "Everyone who joined, lined up: gross and net",
    "cohorts": "Money by the month people joined",
    "lorenz": "Who gets the commissions (Lorenz curve)",
}

BUILDERS = {
    "penetration": penetration,
    "pool": pool,
    "network": network,
    "levels": levels,
    "pitch": pitch,
    "lined_up": lined_up,
    "cohorts": cohorts,
    "lorenz": lorenz_curve,
}
