"""``mlmsim payout GENEALOGY.csv --plan PLAN [--out payouts.csv]``: pay an imported genealogy.

Reads the genealogy (:mod:`simulation.genealogy`), pays each period in order with one
:class:`~simulation.plans.PlanEngine` (so binary carry-over and fast-start windows run from
period to period), writes one line per distributor and period, and prints a summary.

Output columns, in this order (``docs/plans.md`` describes each):

* ``period``, ``id``, ``pv``, ``bv``;
* ``qualified``: 1 if active with PV at or above the plan's ``qualification.min_pv``;
* ``level``: depth in the sponsor tree (0 for a root);
* ``rank``: paid-as rank name (or index), when the plan has ranks or the file a rank column;
* ``placement_id``, ``leg``: placement parent and side (``L``/``R``) or matrix position, for
  plans with a placement tree (binary, matrix);
* one column per company-payout component of the plan (a named table's name), in plan order,
  after the global cap;
* ``total``: company payouts;
* ``retail_margin``: the distributor's own profit on retail sales, when the plan has a
  ``[retail_margin]`` table (not a company payout: not in ``total``);
* ``carry_left``, ``carry_right``: binary volume carried to the next period, for binary plans.

Beside the table, ``<table>.summary.json``: totals per component, paid, revenue, payout ratio,
breakage per component, the cap's scale factor, per period and over all periods, and under
``columns`` the meaning, unit and population of each column of the table (the codebook,
``docs/codebook.md``).

Amounts are rounded to 6 decimals in the file (exact in memory). The files are written to
temporary files in the same folder and moved into place, so a failed run writes nothing; an
existing table is replaced only with ``--force``. ``--state-out`` saves what the last period
carries to the next (:mod:`simulation.payout_state`); ``--state-in`` continues from it.
Input errors raise :class:`~simulation.errors.UserError` (exit status 2, one message).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from simulation import codebook
from simulation.errors import DataError, UserError
from simulation.genealogy import Dialect, Genealogy, read_genealogy
from simulation.payout_state import CarriedState, load_state, save_state
from simulation.plans import PayResult, Plan, PlanEngine, load_plan
from simulation.plans.engine import resolve_plan_path
from simulation.plans.placement import PlacementTree
from simulation.results import spreadsheet_safe
from simulation.safepath import (
    FolderLock,
    atomic_write,
    is_temporary,
    make_folder,
    output_file,
    path_arg,
)
from simulation.userfile import check_input_file

_DECIMALS = 6
# assumption: 2 GiB is some 20 million lines, beyond any company's genealogy export; a larger
# file (or an endless stream) is refused before it is read.
MAX_GENEALOGY_BYTES = 2 * 1024**3


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``payout`` arguments to ``parser``."""
    parser.add_argument(
        "genealogy",
        metavar="GENEALOGY",
        type=Path,
        help="genealogy CSV (comma, semicolon or tab separated) or Excel .xlsx: id,sponsor_id,pv "
        "and optional columns (see docs/plans.md)",
    )
    parser.add_argument(
        "--plan", required=True, help="plan file (TOML) or the name of a shipped plan"
    )
    parser.add_argument(
        "--out",
        type=path_arg,
        default=Path("payouts.csv"),
        help="payout table to write (default: payouts.csv)",
    )
    parser.add_argument(
        "--sep",
        choices=[",", ";", "tab"],
        default=None,
        help="field separator of a CSV file (default: detected from the header line)",
    )
    parser.add_argument(
        "--decimal",
        choices=[".", ","],
        default=None,
        help="decimal mark of the numbers (default: ',' if a semicolon- or tab-separated file "
        "has decimal commas, else '.')",
    )
    parser.add_argument(
        "--root-marker",
        choices=["0", "self"],
        default=None,
        help="how the file marks a root's sponsor_id when not with an empty cell: 0, or the "
        "distributor's own id (self)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing payout table and summary"
    )
    parser.add_argument(
        "--state-in",
        type=Path,
        default=None,
        help="state file written by an earlier run's --state-out: continue from its last period",
    )
    parser.add_argument(
        "--state-out",
        type=Path,
        default=None,
        help="write the state the last period carries to the next (binary carry, placement, "
        "fast-start windows) for a later run's --state-in",
    )
    parser.add_argument(
        "--assume-kits",
        action="store_true",
        help="the file has no kit_bought column: count every recruit as having bought a starter "
        "kit in the period they joined (otherwise a plan that requires kits is refused)",
    )


@dataclass
class PayoutRun:
    """A genealogy paid period by period.

    Attributes:
        genealogy: the validated input.
        plan: the plan paid.
        results: one :class:`PayResult` per period, in order.
        table: column name -> array, one entry per distributor and period (the output file).
    """

    genealogy: Genealogy
    plan: Plan
    results: list[PayResult]
    table: dict[str, np.ndarray] = field(default_factory=dict)
    state: CarriedState | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Totals over all periods and per period (the summary JSON).

        Paid per component, revenue, payout ratio, breakage per component, the cap's scale
        factor (the smallest over the periods), retail margin, zero share, top 1% share.
        """
        paid = sum(r.paid for r in self.results)
        revenue = sum(r.revenue for r in self.results)
        breakage: dict[str, float] = {}
        components: dict[str, float] = {}
        margin = 0.0
        periods = []
        for gp, r in zip(self.genealogy.periods, self.results, strict=True):
            for k, v in r.breakage.items():
                breakage[k] = breakage.get(k, 0.0) + v
            per = {}
            for k in self.paying:
                per[k] = float(r.components[k].sum())
                components[k] = components.get(k, 0.0) + per[k]
            m = self._margin(r)
            margin += 0.0 if m is None else float(m.sum())
            periods.append(
                {
                    "period": gp.period,
                    "paid": r.paid,
                    "components": per,
                    "revenue": r.revenue,
                    "payout_ratio": r.paid / r.revenue if r.revenue > 0 else None,
                    "pre_cap_total": r.pre_cap_total,
                    "cap_factor": r.cap_scale,
                    "breakage": dict(r.breakage),
                }
            )
        n = self.genealogy.n
        per_person = np.zeros(n)
        for gp, r in zip(self.genealogy.periods, self.results, strict=True):
            per_person[gp.rows] += r.total[gp.rows]
        top = max(1, math.ceil(0.01 * n))
        top_share = float(np.sort(per_person)[-top:].sum() / paid) if paid > 0 else None
        return {
            "plan": self.plan.meta.name,
            "genealogy": str(self.genealogy.path),
            "periods": len(self.results),
            "distributors": n,
            "paid": paid,
            "components": components,
            "revenue": revenue,
            "payout_ratio": paid / revenue if revenue > 0 else None,
            "breakage": breakage,
            "cap_factor": min((r.cap_scale for r in self.results), default=1.0),
            "retail_margin": margin if self.has_margin else None,
            "share_paid_nothing": float((per_person <= 0).mean()),
            "top1_share": top_share,
            "notes": list(self.notes),
            "by_period": periods,
        }

    @property
    def paying(self) -> list[str]:
        """The plan's company-payout components, in plan order."""
        return [k for k in self.plan.components if self.plan.spec(k).company_payout]

    @property
    def has_margin(self) -> bool:
        """The plan reports a retail margin."""
        return bool(self.plan.of_kind("retail_margin"))

    def _margin(self, r: PayResult) -> np.ndarray | None:
        names = self.plan.of_kind("retail_margin")
        return r.components.get(names[0]) if names else None


def placement_width(plan: Plan) -> int | None:
    """Children allowed per placement parent in the plan's placement tree (None: no tree)."""
    widths = [
        plan.spec(k).placement_width(params)
        for k, params in plan.components.items()
        if plan.spec(k).placement_width is not None
    ]
    return min(widths) if widths else None


def pay_genealogy(
    genealogy: str | Path,
    plan: str | Path | Plan,
    *,
    assume_kits: bool = False,
    state_in: CarriedState | None = None,
    dialect: Dialect | None = None,
) -> PayoutRun:
    """Read, validate and pay every period of a genealogy file.

    Args:
        genealogy: the genealogy file.
        plan: a plan, a plan file or a shipped plan's name.
        assume_kits: without a ``kit_bought`` column, every recruit bought a starter kit in the
            period they joined (an explicit choice; a kit-requiring plan is refused otherwise).
        state_in: what an earlier run carried (``--state-in``): its ids keep their rows and the
            engine continues from its component states; every period must come after its last.
        dialect: the file's separator, decimal mark and root marker (default: detected).

    Raises:
        UserError: a bad plan (ConfigError) or genealogy (DataError).
    """
    if not isinstance(plan, Plan):
        plan = load_plan(plan)
    ranks = plan.components.get("ranks")
    names = list(ranks.names) if ranks is not None else None
    gen = read_genealogy(
        genealogy,
        rank_names=names,
        placement_width=placement_width(plan),
        volume=plan.volume,
        known_ids=None if state_in is None else state_in.ids,
        known_joined=None if state_in is None else state_in.joined_period,
        dialect=dialect,
    )
    _check_given(gen, plan)
    if state_in is not None:
        if state_in.plan != plan_identity(plan):
            raise DataError(
                f"--state-in: the state was carried by plan {state_in.plan!r}, not "
                f"{plan_identity(plan)!r} (name and rules): continue with the same plan"
            )
        first = gen.periods[0].period
        if first <= state_in.last_period:
            hint = "" if "period" in gen.columns else " (add a period column)"
            raise DataError(
                f"{gen.path}: period {first} is not after period {state_in.last_period}, the last "
                f"one the --state-in file paid: give the next periods only{hint}"
            )
    if assume_kits and "kit_bought" in gen.columns:
        raise DataError(
            f"{gen.path}: --assume-kits is for files without a kit_bought column, and this file "
            "has one: drop the option to use the column"
        )
    engine = plan.engine()
    if state_in is not None:
        engine.state.update(state_in.components)
    results = []
    levels = []
    places = []
    for gp in gen.periods:
        if assume_kits:
            gp.kit_bought = gp.present & (gp.joined_period == gp.period)
        inp = gp.period_input()
        inp.forest = gp.forest()
        levels.append(inp.forest.depth)
        try:
            results.append(engine.pay(inp))
            places.append(_placement(engine))
        except DataError as err:
            where = f"period {gp.period}: " if "period" in gen.columns else ""
            raise DataError(f"{gen.path}: {where}{_rows_to_ids(str(err), gen.ids)}") from None
    run = PayoutRun(genealogy=gen, plan=plan, results=results)
    run.notes = _notes(gen, plan, assume_kits)
    run.state = CarriedState(
        ids=gen.ids,
        joined_period=gen.periods[-1].joined_period,
        last_period=gen.periods[-1].period,
        plan=plan_identity(plan),
        components={k: v for k, v in engine.state.items() if v is not None},
    )
    run.table = _table(run, names, levels, places)
    return run


def plan_identity(plan: Plan) -> str:
    """The plan's name and a digest of its rules (every table but ``[plan]``).

    A state file is continued only by the plan that wrote it.
    """
    rules = {k: v for k, v in plan.raw.items() if k != "plan"}
    digest = hashlib.sha256(json.dumps(rules, sort_keys=True, default=str).encode()).hexdigest()
    return f"{plan.meta.name} #{digest[:12]}"


def _notes(gen: Genealogy, plan: Plan, assume_kits: bool) -> list[str]:
    """Assumptions the run made from what the file does not say (printed and in the summary)."""
    notes = []
    first = gen.periods[0].period
    if plan.of_kind("fast_start") and "joined_period" not in gen.columns:
        notes.append(
            f"no joined_period column: everyone listed in period {first} counts as having "
            "joined in it (fast-start windows); add the column if they joined earlier"
        )
    if assume_kits:
        notes.append("--assume-kits: every recruit bought a starter kit in the period it joined")
    if plan.of_kind("retail_margin") and "retail_sales" not in gen.columns:
        notes.append("no retail_sales column: the retail margin is 0")
    return notes


def _placement(engine: PlanEngine) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(parent, position, width) of the placement tree a component keeps, after a period."""
    for state in engine.state.values():
        tree = getattr(state, "tree", None)
        if isinstance(tree, PlacementTree):
            return tree.parent.copy(), tree.position.copy(), tree.width
    return None


def _check_given(gen: Genealogy, plan: Plan) -> None:
    """``earned_<name>`` columns and the plan's ``given = true`` components must agree.

    Raises:
        DataError: a column for a component the plan does not have or computes itself.
    """
    earned = [c[len("earned_") :] for c in gen.columns if c.startswith("earned_")]
    for name in earned:
        if name not in plan.components:
            raise DataError(
                f"{gen.path}: line 1 (header): column earned_{name}: the plan has no component "
                f"'{name}' (components: {', '.join(plan.components)}); add a [{name}] table "
                "with given = true, or drop the column"
            )
        if name not in plan.given:
            raise DataError(
                f"{gen.path}: line 1 (header): column earned_{name} gives earnings the plan "
                f"computes itself ([{name}] has parameters): write given = true in its table "
                "to take the column as it is, or drop the column"
            )


def _rows_to_ids(message: str, ids: np.ndarray) -> str:
    """Name distributors by id instead of internal row numbers in an engine's message."""

    def named(m: re.Match) -> str:
        rows = [int(x) for x in re.findall(r"\d+", m.group(2))]
        if any(r >= ids.size for r in rows):
            return m.group(0)
        word = "distributor" if len(rows) == 1 else "distributors"
        return f"{word} " + ", ".join(repr(str(ids[r])) for r in rows)

    return re.sub(r"\b(rows?)\s+(\d+(?:, \d+)*)", named, message)


def _table(
    run: PayoutRun,
    rank_names: list[str] | None,
    levels: list[np.ndarray],
    places: list[tuple[np.ndarray, np.ndarray, int] | None],
) -> dict[str, np.ndarray]:
    gen = run.genealogy
    names = [k for k in run.paying if k in run.results[0].components]
    has_rank = any(r.rank is not None for r in run.results)
    # Components that report carried volume (binary legs) add their carry columns.
    carries = sorted(
        {k for r in run.results for k in r.extra if k.endswith(("_carry_left", "_carry_right"))}
    )
    parts: dict[str, list[np.ndarray]] = {}

    def put(key: str, values: np.ndarray) -> None:
        parts.setdefault(key, []).append(values)

    for gp, r, level, place in zip(gen.periods, run.results, levels, places, strict=True):
        rows = gp.rows
        put("period", np.full(rows.size, gp.period, dtype=np.int64))
        put("id", gen.ids[rows])
        put("pv", gp.pv[rows])
        put("bv", gp.bv[rows])
        put("qualified", r.qualified[rows].astype(np.int8))
        put("level", np.asarray(level)[rows].astype(np.int64))
        if has_rank:
            rank = np.full(rows.size, -1) if r.rank is None else np.asarray(r.rank)[rows]
            if rank_names:
                label = np.array(["", *rank_names], dtype=object)
                put("rank", label[np.clip(rank + 1, 0, len(rank_names))])
            else:
                put("rank", np.where(rank >= 0, rank.astype(str), "").astype(object))
        if place is not None:
            parent, position, width = place
            par = parent[rows]
            put("placement_id", np.where(par >= 0, gen.ids[np.maximum(par, 0)], ""))
            pos = position[rows].astype(np.int64)
            if width == 2:
                side = np.array(["", "L", "R"], dtype=object)[np.clip(pos + 1, 0, 2)]
            else:
                side = np.where(pos >= 0, pos.astype(str), "").astype(object)
            put("leg", side)
        for k in names:
            put(k, r.components[k][rows])
        put("total", r.total[rows])
        margin = run._margin(r)
        if margin is not None:
            put("retail_margin", np.asarray(margin)[rows])
        for key in carries:
            put(key.partition("_")[2], r.extra[key][rows])
    return {k: np.concatenate(v) for k, v in parts.items()}


def summary_path(out: Path) -> Path:
    """The summary JSON written beside the payout table ``out``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.summary.json")


def check_out(out: Path, force: bool) -> None:
    """Refuse to replace an existing table or summary without ``force``.

    Raises:
        UserError: naming the existing file and ``--force``.
    """
    for path in (Path(out), summary_path(out)):
        if path.exists() and not path.is_dir() and not force:
            raise UserError(
                f"--out {out}: {path} exists; pass --force to replace it, or choose another --out"
            )


def write_summary(run: PayoutRun, out: Path) -> Path:
    """Write the summary JSON beside ``out``, atomically; return its path."""
    path = summary_path(out)
    # The table's data dictionary (docs/codebook.md) travels with its summary.
    table = codebook.PAYOUT_KIND + codebook.PAYOUT_TABLE
    columns = codebook.describe(table, run.table, components=run.paying)[0]
    text = json.dumps({**run.summary(), "columns": columns}, indent=2, allow_nan=False) + "\n"
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path


def _spreadsheet_safe_text(arr: pa.Array) -> pa.Array:
    """``arr`` with :func:`simulation.results.spreadsheet_safe` applied to each cell.

    Only cells starting with a formula character are passed to Python (vectorised test first),
    so a million plain ids cost one regular-expression scan.
    """
    risky = pc.fill_null(pc.match_substring_regex(arr, r"^[=+\-@\t\r]"), False)
    if not pc.any(risky).as_py():
        return arr
    values = arr.to_pylist()
    for i in np.flatnonzero(risky.to_numpy(zero_copy_only=False)):
        values[i] = spreadsheet_safe(values[i])
    return pa.array(values, type=pa.string())


def write_table(table: dict[str, np.ndarray], out: Path) -> None:
    """Write the payout table atomically: a temporary file in ``out``'s folder, then rename.

    Text cells (ids, rank names) that a spreadsheet would run as a formula (``=``, ``+``,
    ``-``, ``@``, tab, carriage return) get a leading single quote
    (:func:`simulation.results.spreadsheet_safe`); numbers are written as they are. The
    folder is locked while writing (a second payout into the same file is refused), and
    temporary files of a killed earlier payout into the same file are removed.
    """
    out = output_file(out, "--out")
    folder = out.parent if str(out.parent) else Path(".")
    arrays = {}
    for k, v in table.items():
        if v.dtype.kind == "f":
            v = np.round(v, _DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
        if v.dtype == object:
            arrays[k] = _spreadsheet_safe_text(pa.array(v, type=pa.string()))
        else:
            arrays[k] = pa.array(v)
    data = pa.table(arrays)
    # Quote text only if some value needs it (pyarrow's "needed" quotes every string).
    text = [a for a in arrays.values() if pa.types.is_string(a.type)]
    plain = not any(pc.any(pc.match_substring_regex(a, '[,"\n\r]')).as_py() for a in text)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            # Column names are plain words: a header line without quotes.
            f.write((",".join(data.column_names) + "\n").encode())
            style = "none" if plain else "needed"
            options = pacsv.WriteOptions(include_header=False, quoting_style=style)
            pacsv.write_csv(data, f, write_options=options)

    make_folder(folder)
    with FolderLock(folder, name=f".{out.name}.lock", remove=True):
        for stale in folder.glob(f".{glob.escape(out.name)}.*.tmp"):
            if is_temporary(stale.name, out.name):
                stale.unlink(missing_ok=True)  # left by a payout killed mid-write
        atomic_write(out, write)


def print_summary(run: PayoutRun, out: Path) -> None:
    """The terminal summary of a payout run."""
    s = run.summary()

    def money(x: float) -> str:
        return f"{x:,.2f}"

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    rows = [
        ("plan", run.plan.meta.name),
        ("genealogy", f"{s['distributors']:,} distributors, {s['periods']} period(s)"),
        ("total paid", money(s["paid"])),
        ("revenue (commissionable BV)", money(s["revenue"])),
        ("payout ratio", pct(s["payout_ratio"])),
    ]
    for k, v in s["breakage"].items():
        rows.append((f"breakage: {k}", money(v)))
    rows.append(("cap factor (lowest)", f"{s['cap_factor']:.4f}"))
    if s["retail_margin"] is not None:
        rows.append(("retail margin (not paid)", money(s["retail_margin"])))
    rows += [
        ("paid nothing", pct(s["share_paid_nothing"])),
        ("top 1% share of payouts", pct(s["top1_share"])),
    ]
    if len(run.results) > 1:
        for gp, r in zip(run.genealogy.periods, run.results, strict=True):
            rows.append(
                (
                    f"period {gp.period}: paid / ratio",
                    f"{money(r.paid)} / {pct(r.payout_ratio if r.revenue > 0 else None)}",
                )
            )
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    for note in run.notes:
        print(f"  note: {note}")
    print(f"\n  payouts: {out} ({len(run.table['id']):,} lines)")
    print(f"  summary: {summary_path(out)}")


def run(args: argparse.Namespace) -> int:
    """``mlmsim payout``: pay the genealogy, write the table, print the summary."""
    try:
        plan_path = resolve_plan_path(args.plan)
    except UserError:
        plan_path = None  # reported by pay_genealogy with its own message
    out = output_file(args.out, "--out", inputs=[args.genealogy, plan_path])
    check_out(out, args.force)
    check_input_file(args.genealogy, "genealogy", MAX_GENEALOGY_BYTES)
    state_in = load_state(args.state_in) if args.state_in is not None else None
    dialect = Dialect(
        sep="\t" if args.sep == "tab" else args.sep,
        decimal=args.decimal,
        root_marker=args.root_marker,
    )
    result = pay_genealogy(
        args.genealogy, args.plan, assume_kits=args.assume_kits, state_in=state_in, dialect=dialect
    )
    write_table(result.table, out)
    write_summary(result, out)
    if args.state_out is not None:
        save_state(result.state, args.state_out)
    print_summary(result, out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m simulation.payout``: the subcommand on its own."""
    parser = argparse.ArgumentParser(
        prog="python -m simulation.payout", description="Pay an imported genealogy CSV."
    )
    configure_parser(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
