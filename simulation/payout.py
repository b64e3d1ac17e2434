"""``mlmsim payout GENEALOGY.csv --plan PLAN [--out payouts.csv]``: pay an imported genealogy.

Reads the genealogy (:mod:`simulation.genealogy`), pays each period in order with one
:class:`~simulation.plans.PlanEngine` (so binary carry-over and fast-start windows run from
period to period), writes one line per distributor and period, and prints a summary.

Output columns, in this order:

* ``period``, ``id``, ``pv``, ``bv``;
* ``rank``: paid-as rank name (or index), when the plan has ranks or the file a rank column;
* one column per company-payout component of the plan, in plan order, after the global cap
  (the retail margin is left out: it is not a company payout and a genealogy has no retail
  sales);
* ``total``: company payouts;
* ``carry_left``, ``carry_right``: binary volume carried to the next period, for binary plans.

Amounts are rounded to 6 decimals in the file (exact in memory). The file is written to a
temporary file in the same folder and moved into place, so a failed run writes nothing.
Input errors raise :class:`~simulation.errors.UserError` (exit status 2, one message).
"""

from __future__ import annotations

import argparse
import glob
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from simulation.errors import DataError, UserError
from simulation.genealogy import Genealogy, read_genealogy
from simulation.plans import REGISTRY, PayResult, Plan, load_plan
from simulation.safepath import path_arg

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
        help="genealogy CSV: id,sponsor_id,pv[,bv,placement_id,leg,active,rank,joined_period,"
        "period]",
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

    def summary(self) -> dict[str, float | int | dict[str, float] | None]:
        """Totals over all periods: paid, revenue, ratio, breakage, zero share, top 1%."""
        paid = sum(r.paid for r in self.results)
        revenue = sum(r.revenue for r in self.results)
        breakage: dict[str, float] = {}
        for r in self.results:
            for k, v in r.breakage.items():
                breakage[k] = breakage.get(k, 0.0) + v
        n = self.genealogy.n
        per_person = np.zeros(n)
        for gp, r in zip(self.genealogy.periods, self.results, strict=True):
            per_person[gp.rows] += r.total[gp.rows]
        top = max(1, math.ceil(0.01 * n))
        top_share = float(np.sort(per_person)[-top:].sum() / paid) if paid > 0 else None
        return {
            "periods": len(self.results),
            "distributors": n,
            "paid": paid,
            "revenue": revenue,
            "payout_ratio": paid / revenue if revenue > 0 else None,
            "breakage": breakage,
            "share_paid_nothing": float((per_person <= 0).mean()),
            "top1_share": top_share,
        }


def placement_width(plan: Plan) -> int | None:
    """Children allowed per placement parent in the plan's placement tree (None: no tree)."""
    widths = []
    if "binary" in plan.components:
        widths.append(2)
    if "matrix" in plan.components:
        widths.append(plan.components["matrix"].width)
    return min(widths) if widths else None


def pay_genealogy(genealogy: str | Path, plan: str | Path | Plan) -> PayoutRun:
    """Read, validate and pay every period of a genealogy file.

    Raises:
        UserError: a bad plan (ConfigError) or genealogy (DataError).
    """
    if not isinstance(plan, Plan):
        plan = load_plan(plan)
    ranks = plan.components.get("ranks")
    names = list(ranks.names) if ranks is not None else None
    gen = read_genealogy(genealogy, rank_names=names, placement_width=placement_width(plan))
    engine = plan.engine()
    results = []
    for gp in gen.periods:
        try:
            results.append(engine.pay(gp.period_input()))
        except DataError as err:
            where = f"period {gp.period}: " if "period" in gen.columns else ""
            raise DataError(f"{gen.path}: {where}{_rows_to_ids(str(err), gen.ids)}") from None
    run = PayoutRun(genealogy=gen, plan=plan, results=results)
    run.table = _table(run, names)
    return run


def _rows_to_ids(message: str, ids: np.ndarray) -> str:
    """Name distributors by id instead of internal row numbers in an engine's message."""

    def named(m: re.Match) -> str:
        rows = [int(x) for x in re.findall(r"\d+", m.group(2))]
        if any(r >= ids.size for r in rows):
            return m.group(0)
        word = "distributor" if len(rows) == 1 else "distributors"
        return f"{word} " + ", ".join(repr(str(ids[r])) for r in rows)

    return re.sub(r"\b(rows?)\s+(\d+(?:, \d+)*)", named, message)


def _table(run: PayoutRun, rank_names: list[str] | None) -> dict[str, np.ndarray]:
    gen = run.genealogy
    names = [
        k
        for k in run.plan.components
        if k in run.results[0].components and REGISTRY[k].company_payout
    ]
    has_rank = any(r.rank is not None for r in run.results)
    has_binary = "binary" in run.plan.components
    parts: dict[str, list[np.ndarray]] = {}

    def put(key: str, values: np.ndarray) -> None:
        parts.setdefault(key, []).append(values)

    for gp, r in zip(gen.periods, run.results, strict=True):
        rows = gp.rows
        put("period", np.full(rows.size, gp.period, dtype=np.int64))
        put("id", gen.ids[rows])
        put("pv", gp.pv[rows])
        put("bv", gp.bv[rows])
        if has_rank:
            rank = np.full(rows.size, -1) if r.rank is None else np.asarray(r.rank)[rows]
            if rank_names:
                label = np.array(["", *rank_names], dtype=object)
                put("rank", label[np.clip(rank + 1, 0, len(rank_names))])
            else:
                put("rank", np.where(rank >= 0, rank.astype(object), ""))
        for k in names:
            put(k, r.components[k][rows])
        put("total", r.total[rows])
        if has_binary:
            put("carry_left", r.extra["binary_carry_left"][rows])
            put("carry_right", r.extra["binary_carry_right"][rows])
    return {k: np.concatenate(v) for k, v in parts.items()}


def write_table(table: dict[str, np.ndarray], out: Path) -> None:
    """Write the payout table atomically: a temporary file in ``out``'s folder, then rename.

    Text cells (ids, rank names) that a spreadsheet would run as a formula (``=``, ``+``,
    ``-``, ``@``, tab, carriage return) get a leading single quote
    (:func:`simulation.results.spreadsheet_safe`); numbers are written as they are. The
    folder is locked while writing (a second payout into the same file is refused), and
    temporary files of a killed earlier payout into the same file are removed.
    """
    from simulation.results import spreadsheet_safe
    from simulation.safepath import (
        FolderLock,
        atomic_write,
        is_temporary,
        make_folder,
        output_file,
    )

    out = output_file(out, "--out")
    folder = out.parent if str(out.parent) else Path(".")
    arrays = {}
    text = []
    for k, v in table.items():
        if v.dtype.kind == "f":
            v = np.round(v, _DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
        if v.dtype == object:
            v = np.array([spreadsheet_safe(x) for x in v.tolist()], dtype=object)
            text.append(v)
        arrays[k] = pa.array(v.tolist() if v.dtype == object else v)
    data = pa.table(arrays)
    # Quote text only if some value needs it (pyarrow's "needed" quotes every string).
    plain = not any(pd.Series(v).astype(str).str.contains('[,"\n\r]').any() for v in text)

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
    print(f"\n  payouts: {out} ({len(run.table['id']):,} lines)")


def run(args: argparse.Namespace) -> int:
    """``mlmsim payout``: pay the genealogy, write the table, print the summary."""
    from simulation.plans.engine import resolve_plan_path
    from simulation.safepath import output_file
    from simulation.userfile import check_input_file

    try:
        plan_path = resolve_plan_path(args.plan)
    except UserError:
        plan_path = None  # reported by pay_genealogy with its own message
    out = output_file(args.out, "--out", inputs=[args.genealogy, plan_path])
    check_input_file(args.genealogy, "genealogy", MAX_GENEALOGY_BYTES)
    result = pay_genealogy(args.genealogy, args.plan)
    write_table(result.table, out)
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
