"""What the classroom page shows, as pure functions of a model (no Solara, no browser).

The page (:mod:`simulation.app`) only arranges these: every figure, number and sentence it
shows is computed here, so the tests can check them against the model without a browser and
the notebooks can reuse them.

- :class:`ClassroomModel`: the ``classroom`` scenario with the page's controls as keywords.
- :func:`tree_layout` / :func:`tree_figure`: the recruitment tree, level as y, order within
  the level as x, coloured by status (computed level by level over arrays, no recursion).
- :func:`penetration_figure`, :func:`levels_figure`, :func:`lorenz_figure`,
  :func:`lost_money_figure`: the charts (matplotlib ``Figure`` objects, no pyplot state).
- :func:`headline`, :func:`captions`: the numbers printed on the page.
- :func:`pick`, :func:`selected_pid`, :func:`story`, :func:`story_lines` (as HTML for the
  page, Markdown for notebooks): one distributor's story.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from simulation.config import load_scenario
from simulation.metrics import lorenz, top_share
from simulation.model import MLMModel
from simulation.plans.engine import load_plan, shipped_plans
from simulation.state import INFLOWS, OUTFLOWS, Status

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _mpl() -> SimpleNamespace:
    """The matplotlib pieces the ``*_figure`` functions use, imported on their first call.

    The classroom page draws its charts in the browser and never calls them (the notebooks
    do): importing matplotlib here cost every start of the page's server 0.4-1.0 s
    (``python -X importtime -c "import simulation.app"``, 2 cores).
    """
    import matplotlib  # noqa: PLC0415 (start-up time: see above)
    from matplotlib.collections import LineCollection  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.lines import Line2D  # noqa: PLC0415
    from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: PLC0415

    return SimpleNamespace(
        rc_context=matplotlib.rc_context,
        LineCollection=LineCollection,
        Figure=Figure,
        Line2D=Line2D,
        MaxNLocator=MaxNLocator,
        PercentFormatter=PercentFormatter,
    )


# Colours shared by the tree and the charts (colour-blind safe: blue / orange / grey).
ACTIVE = "#2166ac"
NEW = "#f4a300"
QUIT = "#b0b0b0"
LOSS = "#c0392b"
STRICT = "#7b3294"
EDGE = "#8c8c8c"

# Large type: the page is projected in a classroom. Applied with matplotlib.rc_context while
# a figure is built (rcParams are process-wide: two sessions drawing at the same instant share
# them, which only matters if they used different styles; all figures here use this one).
STYLE = {
    "font.size": 12,
    "axes.titlesize": 14,
    "axes.titleweight": "bold",
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
FIG_SIZE = (6.4, 4.0)  # inches
DPI = 90  # 576 x 360 px: fits a half-width card on a 1280-1920 px projector

# The page's default controls (the ``classroom`` scenario's values).
DEFAULTS: dict[str, Any] = {
    "population": 2000,
    "pitches_per_month": 4.0,
    "join_prob": 0.6,
    "plan": "unilevel_5",
    "seed": 42,
    "months": 36,
}
# The money sliders: control name -> (scenario key as ClassroomModel takes it, default).
# Defaults are the classroom scenario's (and the config's: docs/model.md gives their sources).
MONEY = {
    "starter_kit": ("costs__starter_kit_usd", 60.0),
    "monthly_order": ("buy__own_use_pv", 60.0),
    "fees": ("costs__fixed_usd_monthly", 25.0),
}

PICKS = (
    "the top earner",
    "a typical member (median net income)",
    "the newest member",
    "someone on the deepest level",
    "a founder",
)
BY_NUMBER = "a person by number"
GUESS_FIRST = "? (guess first)"


def plan_names() -> list[str]:
    """Names (file stems) of the shipped plans, for the plan selector."""
    return [p.stem for p in shipped_plans()]


def plan_choices() -> dict[str, str]:
    """The shipped plans for the plan selector: each plan file's own ``[plan] name`` -> stem.

    The page lists the names the plan files give themselves (``"Unilevel 8/5/4/4/4"``), the
    same names the page's text and the reports print, not file names.
    """
    return {load_plan(p.stem).meta.name: p.stem for p in shipped_plans()}


# Who is left to recruit: every person falls in exactly one of these groups (in this order of
# precedence), so the groups add up to the whole town every month.
POOL = (
    "joined, active",
    "joined, quit",
    "saw a friend quit",
    "said no",
    "unwilling, never asked",
    "never asked",
)
# assumption: "unwilling" = willingness under 0.1, i.e. even at join chance 100% such a person
# turns down more than 9 first pitches in 10 (Beta(1.5, 3.5) puts about 13% of people there).
UNWILLING = 0.1
# Recruits-per-member rates are shown only for levels with at least this many members: the
# rate of a level of one or two persons is noise (level 13 of the default run: one member,
# two recruits, "2.0").
MIN_MEMBERS_FOR_RATE = 5


class ClassroomModel(MLMModel):
    """The ``classroom`` scenario with the page's controls as keyword arguments.

    The page re-creates the model as ``ClassroomModel(**controls)`` on Reset, so every control
    is a keyword with a default. The model stops (``running = False``) after ``months``.

    Args:
        population: persons in the market (N).
        pitches_per_month: mean opportunity pitches (contacts) per distributor per month.
        join_prob: chance a pitch converts a willing, never-pitched prospect.
        plan: a shipped plan's name (see :func:`plan_names`) or a plan file path.
        seed: master seed.
        months: months to run before play stops.
        **kwargs: any other scenario override (``section__key=value``).
    """

    def __init__(
        self,
        *,
        population: int = DEFAULTS["population"],
        pitches_per_month: float = DEFAULTS["pitches_per_month"],
        join_prob: float = DEFAULTS["join_prob"],
        plan: str = DEFAULTS["plan"],
        seed: int = DEFAULTS["seed"],
        months: int = DEFAULTS["months"],
        **kwargs: Any,  # named "kwargs": Mesa 3.3's parameter check treats other names as required
    ):
        scenario, _ = load_scenario("classroom")
        super().__init__(
            scenario=scenario,
            seed=int(seed),
            population=int(population),
            pitches_per_month=float(pitches_per_month),
            join_prob=float(join_prob),
            plan__file=str(plan),  # ``plan=`` of MLMModel takes a Plan object
            months=int(months),
            **kwargs,
        )
        self.planned_months = int(months)  # as asked for; "continue" extends the run
        # Who is left to recruit, month by month: int64 counts per POOL group (the
        # DataCollector has no such column; the page keeps its own history).
        self.pool_history: list[np.ndarray] = [recruit_pool(self)]

    def step(self) -> None:
        """One month of the model, then record who is left to recruit."""
        super().step()
        self.pool_history.append(recruit_pool(self))

    def extend(self, months: int) -> None:
        """Run ``months`` more months than planned (the page's "continue" button).

        Raises:
            ValueError: if ``months`` is not positive.
        """
        if months <= 0:
            raise ValueError(f"months to continue must be positive, got {months}")
        self.scenario.scenario.months = self.month + int(months)
        self.running = True


# ---------------------------------------------------------------------------- numbers
def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.0f}%"


def usd(x: float) -> str:
    """Dollars with thousands separators and the sign in front: ``-$1,234``."""
    sign = "-" if x < 0 else ""
    return f"{sign}${abs(x):,.0f}"


def setup_line(model: MLMModel) -> str:
    """The market and plan being shown, in one line (costs only where not the defaults)."""
    sc = model.scenario
    line = (
        f"{model.plan.meta.name} plan, {model.pop.n:,} people, "
        f"{sc.recruit.pitches_per_month:g} pitches a month each, "
        f"join chance {100 * sc.recruit.join_prob:.0f}%, seed {model.seed}"
    )
    money = money_settings(model)
    if any(money[k] != default for k, (_, default) in MONEY.items()):
        line += (
            f"; kit {usd(money['starter_kit'])}, order {money['monthly_order']:g} PV a month, "
            f"fees {usd(money['fees'])} a month"
        )
    return line


def money_settings(model: MLMModel) -> dict[str, float]:
    """The model's values of the :data:`MONEY` controls (USD, PV a month, USD a month)."""
    out = {}
    for name, (key, _) in MONEY.items():
        section, field = key.split("__")
        out[name] = float(getattr(getattr(model.scenario, section), field))
    return out


def headline(model: MLMModel) -> list[tuple[str, str]]:
    """The big numbers at the top of the page: (label, value) pairs.

    Month, persons who ever joined (and penetration), active distributors, joins this month,
    and the share of everyone who joined whose net income so far is negative.

    At month 0 only the founders have joined and paid for their kits, so "lost money" would
    read 100% and give the answer away before the class has guessed: it reads
    :data:`GUESS_FIRST` until the first month has been played.
    """
    s = model.stats
    return [
        ("month", f"{s['month']}"),
        ("ever joined", f"{s['ever_joined']:,} of {model.pop.n:,} ({100 * s['penetration']:.1f}%)"),
        ("active now", f"{s['distributors']:,}"),
        ("joined this month", f"{s['joined']:,}"),
        ("lost money so far", GUESS_FIRST if model.month == 0 else _pct(s["share_net_loss"])),
    ]


def recruits_per_member(model: MLMModel) -> tuple[np.ndarray, np.ndarray]:
    """Mean persons personally enrolled, per level at joining.

    Returns:
        ``(levels int64[L], mean float64[L])`` over levels 1..deepest that anyone joined at.
    """
    pop = model.pop
    ever = pop.join_month >= 0
    level = pop.level[ever].astype(np.int64)
    if level.size == 0:
        return np.empty(0, np.int64), np.empty(0)
    size = int(level.max()) + 1
    members = np.bincount(level, minlength=size)[1:]
    recruits = np.bincount(level, weights=pop.recruits[ever], minlength=size)[1:]
    return np.arange(1, size), recruits / np.maximum(members, 1)


def rated_levels(model: MLMModel) -> np.ndarray:
    """bool[L]: levels 1..deepest with at least :data:`MIN_MEMBERS_FOR_RATE` members."""
    return members_by_level(model) >= MIN_MEMBERS_FOR_RATE


def _levels_caption(model: MLMModel, levels: np.ndarray, rpm: np.ndarray) -> str:
    rated = rated_levels(model)
    if not levels.size or not rated.any():
        return "Recruits per member: nobody yet."
    last = int(np.flatnonzero(rated)[-1])
    text = f"Recruits per member: level 1: {rpm[0]:.1f}, level {last + 1}: {rpm[last]:.1f}."
    if not rated.all():
        text += f" Levels with fewer than {MIN_MEMBERS_FOR_RATE} members are not rated."
    return text


def captions(model: MLMModel) -> dict[str, str]:
    """One sentence under each chart, with the number the chart is about."""
    pop = model.pop
    s = model.stats
    ever = pop.join_month >= 0
    comm = pop.commissions[ever]
    top10 = top_share(comm, 0.10) if comm.size else float("nan")
    levels, rpm = recruits_per_member(model)
    deepest = int(levels[-1]) if levels.size else 0
    quit_n = int(s["quit"])
    return {
        "tree": f"{int(s['ever_joined']):,} joined so far, {quit_n:,} of them quit; "
        f"deepest level {deepest}.",
        "penetration": f"{100 * s['penetration']:.1f}% of the market has joined; "
        f"{int(s['joined']):,} joined in month {s['month']}.",
        "levels": _levels_caption(model, levels, rpm),
        "lorenz": "Top 10% of members got "
        + (
            f"{100 * top10:.0f}% of all commissions."
            if np.isfinite(top10)
            else "no commissions yet."
        )
        + f" {int((comm > 0).sum()):,} of {comm.size:,} were ever paid.",
        "lost_money": f"{_pct(s['share_net_loss'])} have lost money so far "
        f"({_pct(s['share_net_loss_strict'])} if product used at home counts as a cost).",
        **_new_captions(model),
    }


def _new_captions(model: MLMModel) -> dict[str, str]:
    """Captions of the who-is-left, pitch, lined-up and by-joining-month charts."""
    pool = recruit_pool(model)
    never = int(pool[2:].sum())
    real = members_by_level(model)
    founders = int(model.scenario.market.founders)
    deepest = int(real.size)
    promised = int(promised_per_level(founders, max(deepest, 1))[-1])
    net, gross = lined_up(model)
    months, _joined, lost, _median = loss_by_join_month(model)
    late = months >= max(model.month - 11, 1)
    joined = np.bincount(model.pop.join_month[model.pop.join_month >= 0].astype(np.int64))
    late_n = int(joined[months[late]].sum()) if late.any() else 0
    late_lost = (
        float((lost[late] * joined[months[late]]).sum() / late_n) if late_n else float("nan")
    )
    sc = model.scenario.market
    ring = (
        f"Each dot is a person; neighbours on the ring know each other ({sc.mean_degree} "
        'contacts each, a few across town). Inside to outside: the groups of "who is left".'
        if sc.network == "small_world"
        else f"Each dot is a person, in row order ({sc.network} network): colours as in "
        '"who is left".'
    )
    return {
        "network": ring,
        "pool": f"{never:,} of {model.pop.n:,} never joined: {int(pool[2]):,} saw a friend quit, "
        f"{int(pool[3]):,} said no, {int(pool[4]):,} unwilling, "
        f"{int(pool[5]):,} never asked.",
        "pitch": f"The pitch needs {promised:,} people on level {max(deepest, 1)}; "
        f"{int(real[-1]) if deepest else 0:,} joined there."
        if model.month
        else f"The pitch: {founders} founders, then 3 recruits each, level after level.",
        "lined_up": (
            f"{int((net < 0).sum()):,} of {net.size:,} are below zero; "
            f"{int((gross > 0).sum()):,} were ever paid a commission."
        )
        if model.month
        else "Month 0: everyone has just paid for a starter kit. Press Step.",
        "cohorts": (
            f"Joined in the last 12 months: {late_n:,}, of whom {_pct(late_lost)} lost money."
        )
        if model.month
        else "Month 0: only the founders so far.",
    }


# ---------------------------------------------------------------------------- new views
def pool_groups(model: MLMModel) -> np.ndarray:
    """int8[N] each person's :data:`POOL` group now (an index into :data:`POOL`).

    Members: still active (0), or quit (1). People who never joined, first matching group
    wins: a social contact of theirs joined and quit (2, ``quit_contacts > 0``); they were
    pitched and said no (3, ``pitched > 0``; some are still refusing, ``refused_until >
    month``); their willingness is under :data:`UNWILLING` (4); the rest were never asked (5).
    """
    pop = model.pop
    group = np.full(pop.n, 5, dtype=np.int8)
    group[pop.willingness < UNWILLING] = 4
    group[pop.pitched > 0] = 3
    group[pop.quit_contacts > 0] = 2
    group[pop.status == Status.QUIT] = 1
    group[pop.status == Status.DISTRIBUTOR] = 0
    return group


def recruit_pool(model: MLMModel) -> np.ndarray:
    """int64[6] persons in each :data:`POOL` group now (see :func:`pool_groups`); sums to N."""
    return np.bincount(pool_groups(model), minlength=len(POOL)).astype(np.int64)


def pool_history(model: MLMModel) -> np.ndarray:
    """int64[months + 1, 6] :func:`recruit_pool` at every month so far (month 0 first)."""
    hist = getattr(model, "pool_history", None)
    if hist is None or len(hist) != model.month + 1:
        raise ValueError(
            f"no recruit-pool history for month 0..{model.month}: use ClassroomModel, which "
            "records it every month"
        )
    return np.vstack(hist)


def lined_up(model: MLMModel) -> tuple[np.ndarray, np.ndarray]:
    """Everyone who joined, lined up from the lowest net income to the highest.

    Returns:
        ``(net float64[k], gross float64[k])``: cumulative net income (own use valued, from
        ``Population.net_income``) in ascending order, and each of those persons'
        commissions (gross income), USD. ``k`` = persons who ever joined.
    """
    pop = model.pop
    ever = np.flatnonzero(pop.join_month >= 0)
    net = pop.net_income(rows=ever)
    order = np.argsort(net, kind="stable")
    return net[order], pop.commissions[ever][order]


def loss_by_join_month(model: MLMModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Net income so far by the month people joined.

    Returns:
        ``(month int64[m], joined int64[m], lost float64[m], median_net float64[m])`` for every
        month 0..now in which anyone joined: persons who joined that month, the share of them
        whose net income (own use valued) is below zero, and their median net income, USD.
    """
    pop = model.pop
    ever = np.flatnonzero(pop.join_month >= 0)
    month = pop.join_month[ever].astype(np.int64)
    net = pop.net_income(rows=ever)
    months = np.unique(month)
    joined = np.bincount(month)[months]
    lost = np.bincount(month, weights=(net < 0).astype(np.float64))[months] / joined
    median = np.array([np.median(net[month == m]) for m in months])
    return months, joined, lost, median


def promised_per_level(founders: int, levels: int, width: int = 3) -> np.ndarray:
    """The pitch's people per level: "recruit 3 who each recruit 3".

    Returns:
        int64[levels]: ``founders * width ** (level - 1)`` for levels 1..``levels``.
    """
    return founders * np.int64(width) ** np.arange(levels, dtype=np.int64)


def members_by_level(model: MLMModel) -> np.ndarray:
    """int64[L] persons who ever joined at each level 1..deepest."""
    level = model.pop.level[model.pop.join_month >= 0].astype(np.int64)
    return np.bincount(level)[1:] if level.size else np.zeros(0, np.int64)


def run_summary(model: MLMModel) -> dict[str, Any]:
    """One row of the "runs so far" table: what a class compares between two runs.

    Keys: ``setup`` (:func:`setup_line`), ``month``, ``ever_joined`` (persons), ``penetration``
    (share of N), ``peak_month`` (the month with the most joins, the earliest if tied),
    ``lost_money`` (share of everyone who joined with net income < 0), ``typical_net`` (their
    median net income, USD), ``top10_share`` (share of all commissions received by the top
    10% of members).
    """
    pop = model.pop
    ever = np.flatnonzero(pop.join_month >= 0)
    net = pop.net_income(rows=ever)
    joined = monthly(model, "joined")
    comm = pop.commissions[ever]
    return {
        "setup": setup_line(model),
        "month": int(model.month),
        "ever_joined": int(ever.size),
        "penetration": ever.size / pop.n,
        "peak_month": int(np.argmax(joined[1:]) + 1) if joined.size > 1 else 0,
        "lost_money": float((net < 0).mean()),
        "typical_net": float(np.median(net)),
        "top10_share": float(top_share(comm, 0.10)) if comm.sum() > 0 else float("nan"),
    }


# ---------------------------------------------------------------------------- the tree
@dataclass(frozen=True)
class TreeLayout:
    """Positions of the recruitment (enroller) tree of everyone who joined, drawn top-down.

    Attributes:
        ids: int64[k] person rows drawn (the first ``k`` to join, so every drawn person's
            enroller is drawn too).
        x: float64[k] position within the level, centred on 0 (one unit per person).
        y: int64[k] level at joining (founders 1).
        parent: int64[k] index into ``ids`` of the enroller; -1 for founders.
        status: int8[k] current status (distributor or quit).
        new: bool[k] joined this month and still active.
        total: persons who ever joined (``k <= total``).
    """

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    parent: np.ndarray
    status: np.ndarray
    new: np.ndarray
    total: int

    def index_of(self, pid: int) -> int:
        """Position of person ``pid`` in the layout, or -1 if not drawn."""
        hit = np.flatnonzero(self.ids == pid)
        return int(hit[0]) if hit.size else -1

    def upline(self, i: int) -> np.ndarray:
        """int64 layout indices from ``i`` up to its founder (inclusive)."""
        chain = []
        while i >= 0:
            chain.append(i)
            i = int(self.parent[i])
        return np.asarray(chain, np.int64)


def tree_layout(model: MLMModel, max_nodes: int = 2500) -> TreeLayout:
    """Lay out the enroller tree: level as y, order within the level as x.

    Within a level, members are ordered by their enroller's position, then by joining order,
    so each founder's downline stays together. The first ``max_nodes`` to join are drawn: the
    set is closed under "enroller of", because an enroller joined in an earlier month.

    Args:
        model: the model.
        max_nodes: most persons to draw.
    """
    pop = model.pop
    ever = np.flatnonzero(pop.join_month >= 0)
    total = int(ever.size)
    order = np.lexsort((ever, pop.join_month[ever]))
    ids = ever[order][:max_nodes].astype(np.int64)
    k = ids.size
    pos = np.full(pop.n, -1, np.int64)
    pos[ids] = np.arange(k)
    enroller = pop.enroller[ids].astype(np.int64)
    parent = np.where(enroller >= 0, pos[np.maximum(enroller, 0)], -1)
    level = pop.level[ids].astype(np.int64)
    x = np.zeros(k)
    for lv in np.unique(level):
        members = np.flatnonzero(level == lv)
        parent_x = np.where(parent[members] >= 0, x[np.maximum(parent[members], 0)], 0.0)
        ranked = members[np.lexsort((members, parent_x))]
        x[ranked] = np.arange(ranked.size) - (ranked.size - 1) / 2
    return TreeLayout(
        ids=ids,
        x=x,
        y=level,
        parent=parent,
        status=pop.status[ids].copy(),
        new=(pop.join_month[ids] == model.month) & (pop.status[ids] == Status.DISTRIBUTOR),
        total=total,
    )


def tree_figure(model: MLMModel, highlight: int | None = None, max_nodes: int = 2500) -> Figure:
    """The recruitment tree: founders on top, one row per level, coloured by status.

    Blue: active distributor; orange: joined this month; grey: quit. ``highlight`` (a person
    row) is ringed in red with the line up to their founder.
    """
    lay = tree_layout(model, max_nodes)
    mpl = _mpl()
    with mpl.rc_context(STYLE):
        fig, ax = _figure(4.4)
        fig.subplots_adjust(bottom=0.03)  # no x axis: levels are rows
        has = lay.parent >= 0
        if has.any():
            p = lay.parent[has]
            seg = np.stack(
                [np.column_stack([lay.x[p], lay.y[p]]), np.column_stack([lay.x[has], lay.y[has]])],
                axis=1,
            )
            ax.add_collection(mpl.LineCollection(seg, colors=EDGE, linewidths=0.4, alpha=0.5))
        size = 16.0 if lay.ids.size < 600 else 7.0
        groups = (
            ((lay.status == Status.DISTRIBUTOR) & ~lay.new, ACTIVE, "active"),
            (lay.new, NEW, "joined this month"),
            (lay.status == Status.QUIT, QUIT, "quit"),
        )
        for mask, color, label in groups:
            ax.scatter(lay.x[mask], lay.y[mask], s=size, c=color, label=label, lw=0, zorder=3)
        if highlight is not None and (i := lay.index_of(highlight)) >= 0:
            chain = lay.upline(i)
            ax.plot(lay.x[chain], lay.y[chain], color=LOSS, lw=2.0, zorder=4)
            ax.scatter(
                lay.x[i],
                lay.y[i],
                s=170,
                facecolors="none",
                edgecolors=LOSS,
                lw=2.5,
                zorder=5,
                label="selected person",
            )
        deepest = int(lay.y.max()) if lay.y.size else 1
        half = max(5.0, float(np.abs(lay.x).max()) + 1 if lay.x.size else 5.0)
        ax.set_xlim(-half, half)
        ax.set_ylim(max(deepest, 3) + 0.6, 0.4)
        step = 1 if deepest <= 16 else 2
        ax.set_yticks(np.arange(1, deepest + 1, step))
        ax.set_ylabel("level (1 = founders)")
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        # Legend markers larger than the (many, small) dots they stand for.
        handles = [
            mpl.Line2D([], [], ls="", marker="o", ms=8, color=color, label=label)
            for _, color, label in groups
        ]
        if highlight is not None:
            handles.append(
                mpl.Line2D(
                    [],
                    [],
                    ls="",
                    marker="o",
                    ms=11,
                    mfc="none",
                    mec=LOSS,
                    mew=2.5,
                    label="selected person",
                )
            )
        fig.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, fig.subplotpars.top),
            ncol=len(handles),
            frameon=False,
            handletextpad=0.2,
            columnspacing=1.2,
            fontsize=11,
        )
        shown = "" if lay.ids.size == lay.total else f" (first {lay.ids.size:,} shown)"
        fig.suptitle(f"Who recruited whom{shown}", fontweight="bold", y=0.985)
    return fig


# ---------------------------------------------------------------------------- charts
def _figure(height: float = FIG_SIZE[1], *, twin: bool = False, legend_row: bool = True):
    """A Figure with one Axes and fixed margins (no layout pass: each draw costs ~50 ms).

    Leaves room for a right-hand axis (``twin``) and a legend row under the title.
    """
    fig = _mpl().Figure(figsize=(FIG_SIZE[0], height), dpi=DPI)
    ax = fig.subplots()
    top = 1 - (0.62 if legend_row else 0.42) / height
    fig.subplots_adjust(left=0.12, right=0.87 if twin else 0.96, bottom=0.55 / height, top=top)
    return fig, ax


def _legend_row(fig: Figure, axes, ncol: int = 4) -> None:
    """One legend for all axes, in a row under the title (never over the data)."""
    handles, labels = [], []
    for a in axes:
        h, lab = a.get_legend_handles_labels()
        handles += h
        labels += lab
    top = fig.subplotpars.top
    fig.legend(
        handles,
        labels,
        loc="lower center",
        bbox_to_anchor=(0.5, top),
        ncol=ncol,
        frameon=False,
        handlelength=1.4,
        columnspacing=1.2,
        fontsize=11,
    )


def monthly(model: MLMModel, key: str) -> np.ndarray:
    """float64[months + 1] one DataCollector column (month 0 first)."""
    return np.asarray(model.datacollector.model_vars[key], dtype=np.float64)


def _months(model: MLMModel) -> int:
    return max(int(model.scenario.scenario.months), model.month)


def penetration_figure(model: MLMModel) -> Figure:
    """Joins per month (bars) and penetration, the share of the market ever joined (line)."""
    month = monthly(model, "month")
    joined = monthly(model, "joined")
    pen = 100 * monthly(model, "penetration")
    with _mpl().rc_context(STYLE):
        fig, ax = _figure(twin=True)
        ax.bar(month[1:], joined[1:], color=ACTIVE, alpha=0.6, label="joined that month")
        ax.set_xlim(-0.5, _months(model) + 0.5)
        ax.set_ylim(0, max(10.0, 1.1 * joined[1:].max() if joined.size > 1 else 0))
        ax.set_xlabel("month")
        ax.set_ylabel("joins per month")
        ax2 = ax.twinx()
        ax2.plot(month, pen, color=LOSS, lw=3, label="ever joined, % of market")
        ax2.set_ylim(0, 100)
        ax2.yaxis.set_major_formatter(_mpl().PercentFormatter(decimals=0))
        ax2.spines["right"].set_visible(True)
        _legend_row(fig, [ax, ax2], ncol=2)
        fig.suptitle("Joins per month and penetration", fontweight="bold", y=0.985)
    return fig


def members_by_status_and_level(model: MLMModel) -> tuple[np.ndarray, ...]:
    """Everyone who joined, by level at joining: ``(levels, active, fresh, quit)``.

    ``fresh`` joined this month and is still active (someone can join and quit in the same
    month); ``active`` are the other active members; int64 arrays over levels 1, 2, ...
    """
    pop = model.pop
    ever = pop.join_month >= 0
    level = pop.level[ever].astype(np.int64)
    size = int(level.max()) + 1 if level.size else 2
    status = pop.status[ever]
    on = status == Status.DISTRIBUTOR
    new = on & (pop.join_month[ever] == model.month)
    active = np.bincount(level[on & ~new], minlength=size)[1:]
    fresh = np.bincount(level[new], minlength=size)[1:]
    quit_ = np.bincount(level[status == Status.QUIT], minlength=size)[1:]
    return np.arange(1, size), active, fresh, quit_


def levels_figure(model: MLMModel) -> Figure:
    """Members by level at joining: active / joined this month / quit, and recruits per member."""
    lv, active, fresh, quit_ = members_by_status_and_level(model)
    size = lv.size + 1
    levels, rpm = recruits_per_member(model)
    with _mpl().rc_context(STYLE):
        fig, ax = _figure(twin=True)
        ax.bar(lv, active, color=ACTIVE, label="active")
        ax.bar(lv, fresh, bottom=active, color=NEW, label="joined this month")
        ax.bar(lv, quit_, bottom=active + fresh, color=QUIT, label="quit")
        ax.set_xlabel("level (1 = founders)")
        ax.set_ylabel("persons who joined")
        ax.xaxis.set_major_locator(_mpl().MaxNLocator(integer=True))
        ax.set_xlim(0.4, max(size - 1, 5) + 0.6)
        ax2 = ax.twinx()
        ax2.plot(levels, rpm, color="black", marker="o", lw=2, label="recruits per member")
        ax2.set_ylim(0, max(3.0, 1.1 * float(rpm.max()) if rpm.size else 0))
        ax2.spines["right"].set_visible(True)
        _legend_row(fig, [ax, ax2])
        fig.suptitle("Members by level, and how many each recruited", fontweight="bold", y=0.985)
    return fig


def lorenz_figure(model: MLMModel) -> Figure:
    """Lorenz curve of commissions received so far by everyone who joined."""
    pop = model.pop
    comm = pop.commissions[pop.join_month >= 0]
    with _mpl().rc_context(STYLE):
        fig, ax = _figure(legend_row=False)
        ax.plot([0, 100], [0, 100], color="grey", lw=1.5, ls=":", label="if everyone got the same")
        if comm.size and comm.sum() > 0:
            x, y = (100 * np.asarray(v, dtype=np.float64) for v in lorenz(comm, max_points=400))
            ax.plot(x, y, color=LOSS, lw=3, label="commissions paid so far")
            ax.fill_between(x, y, color=LOSS, alpha=0.12)
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.xaxis.set_major_formatter(_mpl().PercentFormatter(decimals=0))
        ax.yaxis.set_major_formatter(_mpl().PercentFormatter(decimals=0))
        ax.set_xlabel("members who joined, lowest paid first")
        ax.set_ylabel("share of all commissions")
        ax.legend(loc="upper left", frameon=False)
        fig.suptitle("Who gets the commissions (Lorenz curve)", fontweight="bold", y=0.985)
    return fig


def lost_money_figure(model: MLMModel) -> Figure:
    """Share of everyone who joined whose net income so far is negative, month by month."""
    month = monthly(model, "month")
    loss = 100 * monthly(model, "share_net_loss")
    strict = 100 * monthly(model, "share_net_loss_strict")
    with _mpl().rc_context(STYLE):
        fig, ax = _figure()
        ax.plot(month, loss, color=LOSS, lw=3, label="home use valued")
        ax.plot(month, strict, color=STRICT, lw=2, ls="--", label="home use counted as a cost")
        ax.axhline(50, color="grey", lw=1, ls=":")
        ax.set_xlim(0, _months(model))
        ax.set_ylim(0, 102)
        ax.yaxis.set_major_formatter(_mpl().PercentFormatter(decimals=0))
        ax.set_xlabel("month")
        ax.set_ylabel("members with net income < 0")
        _legend_row(fig, [ax], ncol=2)
        fig.suptitle("Share who lost money so far", fontweight="bold", y=0.985)
    return fig


# ---------------------------------------------------------------------------- stories
def pick(model: MLMModel, which: str) -> int | None:
    """The person row :data:`PICKS` names, among everyone who joined (None if nobody has).

    Ties go to the lowest row, so the same model state always gives the same person.
    """
    pop = model.pop
    ever = np.flatnonzero(pop.join_month >= 0)
    if ever.size == 0:
        return None
    if which == PICKS[0]:
        return int(ever[np.argmax(pop.commissions[ever])])
    if which == PICKS[1]:
        net = pop.net_income()[ever]
        order = np.argsort(net, kind="stable")
        return int(ever[order[(ever.size - 1) // 2]])
    if which == PICKS[2]:
        last = pop.join_month[ever].max()
        return int(ever[pop.join_month[ever] == last][0])
    if which == PICKS[3]:
        deep = pop.level[ever].max()
        return int(ever[pop.level[ever] == deep][0])
    if which == PICKS[4]:
        return int(ever[pop.level[ever] == 1][0])
    raise ValueError(f"unknown pick {which!r}; expected one of {list(PICKS)}")


def selected_pid(model: MLMModel, which: str, number: int | None = None) -> int | None:
    """The person the story panel shows (None if nobody fits).

    ``which`` is a :data:`PICKS` entry, or :data:`BY_NUMBER` to show person ``number`` (None if
    that person never joined or is out of range).
    """
    if which != BY_NUMBER:
        return pick(model, which)
    if number is None or not 0 <= int(number) < model.pop.n:
        return None
    return int(number) if model.pop.join_month[int(number)] >= 0 else None


def story(model: MLMModel, pid: int) -> dict[str, Any]:
    """One distributor's story: the agent's :meth:`story` plus the money in and out, USD.

    Raises:
        KeyError: if person ``pid`` never joined.
    """
    agent = model.distributor(int(pid))
    s = agent.story()
    pop = model.pop
    i = int(pid)
    active_recruits = int(((pop.enroller == i) & (pop.status == Status.DISTRIBUTOR)).sum())
    s.update(
        money_in=sum(s[k] for k in INFLOWS),
        money_out=sum(s[k] for k in OUTFLOWS),
        active_recruits=active_recruits,
        months_in=(int(pop.quit_month[i]) if s["quit_month"] >= 0 else model.month)
        - s["joined_month"],
    )
    return s


def story_lines(model: MLMModel, pid: int) -> list[str]:
    """The story of person ``pid`` in short lines a class reads aloud.

    The first line is the heading; lines starting with ``"- "`` are list items; ``**`` marks
    bold text.
    """
    s = story(model, pid)
    if s["status"] == "quit":
        status = f"Joined in month {s['joined_month']}, **quit in month {s['quit_month']}**"
    else:
        status = f"Joined in month {s['joined_month']}, still active"
    verdict = "made money" if s["net_income"] >= 0 else "**lost money**"
    return [
        f"Person {s['id']}: level {s['level']}",
        f"{status} ({s['months_in']} months in the business).",
        f"- recruited **{s['recruits']}** (still active: {s['active_recruits']}); "
        f"retail customers now: {s['customers']}",
        f"- money in: commissions {usd(s['commissions'])}, "
        f"retail sales {usd(s['retail_sales'])}"
        + (f", buyback {usd(s['buyback_refund'])}" if s["buyback_refund"] else "")
        + (f", refunds for returns {usd(s['returns_refund'])}" if s["returns_refund"] else ""),
        f"- money out: product {usd(s['purchases'])}, starter kit {usd(s['kit_cost'])}, "
        f"fees {usd(s['fixed_costs'])}"
        + (
            f", paid back to customers {usd(s['customer_refunds'])}"
            if s["customer_refunds"]
            else ""
        )
        + (f", commissions clawed back {usd(s['clawback'])}" if s["clawback"] else ""),
        f"- product used at home, worth {usd(s['own_use_value'])}",
        f"**Net: {usd(s['net_income'])}** with home use valued "
        f"({usd(s['net_income_strict'])} without): {verdict}.",
    ]


def story_markdown(model: MLMModel, pid: int) -> str:
    """:func:`story_lines` as Markdown (for notebooks)."""
    head, *rest = story_lines(model, pid)
    return "\n".join(
        [f"#### {head}", *(line if line[:2] == "- " else f"\n{line}\n" for line in rest)]
    )


def story_html(model: MLMModel, pid: int) -> str:
    """:func:`story_lines` as an HTML fragment (for the page; no Markdown, no math scripts)."""

    def inline(text: str) -> str:
        parts = html.escape(text).split("**")
        return "".join(f"<b>{p}</b>" if k % 2 else p for k, p in enumerate(parts))

    head, *rest = story_lines(model, pid)
    out = [f"<h4>{inline(head)}</h4>"]
    items = [line[2:] for line in rest if line.startswith("- ")]
    paras = [line for line in rest if not line.startswith("- ")]
    out.append(f"<p>{inline(paras[0])}</p>")
    out.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
    out += [f"<p>{inline(p)}</p>" for p in paras[1:]]
    return "".join(out)
