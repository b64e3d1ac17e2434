"""Genealogy import for payout runs (the format is documented in ``docs/plans.md``).

A genealogy is a CSV file (comma, semicolon or tab separated) or an Excel ``.xlsx`` workbook,
one line per distributor (per period if there are several). Headers are case-insensitive.

* ``id`` (required): the distributor's id, any text, unique within a period;
* ``sponsor_id`` (required): the enroller's id, empty for a root (or ``0`` / the own id with
  :class:`Dialect` ``root_marker``);
* ``pv`` (required unless given as its parts): personal volume this period (points, >= 0);
* ``purchases``, ``customer_pv``, ``returns`` (instead of ``pv``): ``pv = purchases +
  customer_pv - returns`` by the plan's ``[volume]`` rules; ``sale_period``: the period a
  return's goods were sold in (for ``returns_timing = "clawback"``);
* ``bv``: business volume (default: the net ``pv``);
* ``retail_sales``: money from retail customers at retail price (for the retail margin);
* ``kit_bought``: ``1``/``0`` (yes/no …) bought a starter kit this period (empty: no). A plan
  whose flat fast start requires a kit refuses a file without this column (or ``--assume-kits``);
* ``earned_<name>``: earnings of the plan's component ``<name>`` computed elsewhere;
* ``placement_id``: binary/matrix placement parent (empty: placed by the plan's spillover
  rule, after every imported row);
* ``leg``: binary side ``L``/``R`` (``left``/``right``, ``0``/``1``) or matrix position
  ``0 … width-1`` under ``placement_id``; without a ``placement_id`` column, the side the
  sponsor sends this recruit to (extreme-outside spillover);
* ``active``: ``1``/``0``, ``true``/``false``, ``yes``/``no`` (default: active);
* ``rank``: paid-as rank, a rank name of the plan or its index (0 = lowest);
* ``joined_period``: period of enrolment (default: the period the id first appears in);
* ``period``: pay period (integer); periods are paid in increasing order.

Numbers may use decimal commas (detected in files not separated by commas, or given).

Ids are mapped to rows in order of first appearance (after the ids of an earlier run's carried
state, if given); the same id in several periods is the same distributor (carry-over and
fast-start windows follow it). Within one period a sponsor or placement parent must be an id of
that period. A distributor absent from a period is inactive in it (no volume, not paid) but
keeps its placement.

Every problem is a :class:`~simulation.errors.DataError` naming the file, the line numbers as
a spreadsheet shows them (header = line 1) and what is wrong: missing or unknown columns,
unknown sponsors or placement parents (with a hint when a root seems marked by ``0`` or its own
id), duplicate ids within a period, bad numbers (non-numeric, negative, NaN), cycles, placement
over width or two children on one side, returns charged to a period not in the file.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from simulation.errors import DataError
from simulation.plans.base import PeriodInput
from simulation.plans.engine import VolumeRules
from simulation.tree import CycleError, Forest, compute_depth

REQUIRED = ("id", "sponsor_id", "pv")
# assumption: a million pay periods (weekly: 19,000 years) is more than any genealogy holds.
MAX_PERIOD = 1_000_000
PV_PARTS = ("purchases", "customer_pv", "returns")
OPTIONAL = (
    *PV_PARTS,
    "sale_period",
    "retail_sales",
    "bv",
    "placement_id",
    "leg",
    "active",
    "rank",
    "joined_period",
    "period",
    "kit_bought",
)
_TRUE = {"1", "true", "yes", "y", "t", ""}
_FALSE = {"0", "false", "no", "n", "f"}
_LEGS = {"l": 0, "left": 0, "r": 1, "right": 1}
_SHOWN = 10  # lines named per problem
_EARNED = re.compile(r"^earned_[a-z][a-z0-9_]*$")


@dataclass
class GenealogyPeriod:
    """One pay period of a genealogy, as arrays over all ``n`` distributors of the file.

    Attributes:
        period: the period's number (the ``period`` column, 0 without one).
        rows: int64[m] row of each of this period's lines, in file order.
        lines: int64[m] the file line of each (header = 1).
        present: bool[n] listed in this period.
        sponsor: int32[n] sponsor row (-1 root or absent).
        pv, bv: float64[n] volumes (0 when absent).
        active: bool[n] listed and active.
        joined_period: int32[n] enrolment period (-1 not joined yet).
        new_rows: int64 rows that first appear in this period, in file order (join order).
        rank: int16[n] given rank (-1 none) or None.
        placement: int32[n] placement parent row (-1 none) or None.
        leg: int8[n] side/position (-1 unknown) or None.
        kit_bought: bool[n] bought a starter kit this period, or None without the column.
        retail_sales: float64[n] money from retail customers at retail price, or None.
        earned: component name -> float64[n] earnings given by ``earned_<name>`` columns.
        depth: int32[n] sponsor-tree depth (roots and absent rows 0), from the cycle check.
    """

    period: int
    rows: np.ndarray
    lines: np.ndarray
    present: np.ndarray
    sponsor: np.ndarray
    pv: np.ndarray
    bv: np.ndarray
    active: np.ndarray
    joined_period: np.ndarray
    new_rows: np.ndarray
    rank: np.ndarray | None = None
    placement: np.ndarray | None = None
    leg: np.ndarray | None = None
    kit_bought: np.ndarray | None = None
    retail_sales: np.ndarray | None = None
    earned: dict[str, np.ndarray] = field(default_factory=dict)
    depth: np.ndarray | None = None

    def forest(self) -> Forest:
        """The sponsor forest of the period (absent rows are roots without volume)."""
        if self.depth is None:
            return Forest.from_parent(self.sponsor)
        return Forest.from_depth(self.sponsor, self.depth)

    def period_input(self) -> PeriodInput:
        """The engine's input for this period."""
        return PeriodInput(
            period=self.period,
            sponsor=self.sponsor,
            pv=self.pv,
            bv=self.bv,
            active=self.active,
            joined_period=self.joined_period,
            new_recruits=self.new_rows,
            rank=self.rank,
            placement=self.placement,
            leg=self.leg,
            kit_bought=self.kit_bought,
            retail_sales=self.retail_sales,
            given_earnings=dict(self.earned) or None,
        )


@dataclass
class Genealogy:
    """A validated genealogy file.

    Attributes:
        path: the file.
        ids: object[n] id of each row (order of first appearance).
        periods: the pay periods in increasing order.
        columns: the columns the file has.
    """

    path: Path
    ids: np.ndarray
    periods: list[GenealogyPeriod]
    columns: list[str]

    @property
    def n(self) -> int:
        """Number of distinct distributors."""
        return int(self.ids.shape[0])


class _Problems:
    """Collects the file's problems and raises them together."""

    def __init__(self, path: Path):
        self.path = path
        self.lines: list[str] = []

    def add(self, what: str, lines: np.ndarray, values: np.ndarray | None = None) -> None:
        lines = np.asarray(lines).ravel()
        values = None if values is None else np.asarray(values).ravel()
        if lines.size == 0:
            return
        shown = []
        for i in range(min(lines.size, _SHOWN)):
            text = f"{int(lines[i])}"
            if values is not None:
                text += f" ({_short(values[i])})"
            shown.append(text)
        more = f" and {lines.size - _SHOWN} more" if lines.size > _SHOWN else ""
        word = "line" if lines.size == 1 else "lines"
        self.lines.append(f"{self.path}: {what}: {word} {', '.join(shown)}{more}")

    def check(self) -> None:
        if self.lines:
            raise DataError("\n".join(self.lines))


def _short(value) -> str:
    text = repr(str(value))
    return text if len(text) <= 40 else text[:37] + "...'"


def read_genealogy(
    path: str | Path,
    *,
    rank_names: list[str] | None = None,
    placement_width: int | None = None,
    volume: VolumeRules | None = None,
    known_ids: np.ndarray | None = None,
    known_joined: np.ndarray | None = None,
    dialect: Dialect | None = None,
) -> Genealogy:
    """Read and validate a genealogy CSV.

    Args:
        path: the CSV file.
        rank_names: the plan's rank names, lowest first, to read a text ``rank`` column.
        placement_width: children allowed per placement parent (2 for a binary plan, the
            matrix width) to check an imported placement; None skips that check.
        volume: the plan's rules for PV given as its parts (returns timing, floor at 0);
            default :class:`~simulation.plans.engine.VolumeRules`.
        known_ids: ids of an earlier run (its carried state), which keep rows 0 .. k-1 in this
            order; ids new in this file follow.
        known_joined: int32[k] enrolment period of each known id.
        dialect: separator, decimal mark and root marker (default: detected / none).

    Raises:
        DataError: naming the file, the lines and the problem.
    """
    path = Path(path)
    dialect = dialect or Dialect()
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        table, lines = _read_xlsx(path)
        sep = None
    else:
        table, lines, sep = _read_table(path, dialect.sep)
    problems = _Problems(path)
    columns = list(table.column_names)
    parts = [c for c in PV_PARTS if c in columns]
    required = [c for c in REQUIRED if c != "pv" or not parts]
    missing = [c for c in required if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL and not _EARNED.match(c)]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if missing or unknown or dupes:
        parts = []
        if missing:
            parts.append(f"missing required column(s) {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(unknown)}")
        if dupes:
            parts.append(f"duplicate column(s) {', '.join(dupes)}")
        raise DataError(
            f"{path}: line 1 (header): {'; '.join(parts)} (columns: {', '.join(columns)}; "
            f"required: {', '.join(REQUIRED)}; optional: {', '.join(OPTIONAL)})"
        )
    if parts and "pv" in columns:
        raise DataError(
            f"{path}: line 1 (header): give pv or its parts ({', '.join(PV_PARTS)}), not both "
            f"(pv = purchases + customer_pv - returns; columns: {', '.join(columns)})"
        )
    if "sale_period" in columns and "returns" not in columns:
        raise DataError(f"{path}: line 1 (header): sale_period needs a returns column")
    if table.num_rows == 0:
        raise DataError(f"{path}: no data lines after the header")
    col = {c: _strings(table.column(c)) for c in columns}
    _decimal_commas(col, dialect.decimal, sep)
    ids = col["id"]
    _root_marker(col, ids, dialect.root_marker)
    problems.add("empty id", lines[(ids == "").to_numpy()])
    if parts:
        part = {
            c: np.nan_to_num(_numbers(col[c], c, lines, problems, required=False)) for c in parts
        }
        zero = np.zeros(table.num_rows)
        pv = part.get("purchases", zero) + part.get("customer_pv", zero)
        returns = part.get("returns", zero)
    else:
        pv = _numbers(col["pv"], "pv", lines, problems, required=True)
        returns = None
    bv = _numbers(col["bv"], "bv", lines, problems, required=False) if "bv" in col else None
    if bv is not None:
        bv = np.where(np.isnan(bv), pv, bv)
    active = _flags(col, "active", lines, problems, empty=True)
    kit = _flags(col, "kit_bought", lines, problems, empty=False) if "kit_bought" in col else None
    period = np.zeros(table.num_rows, dtype=np.int64)
    if "period" in col:
        before = len(problems.lines)
        period = _integers(col["period"], "period", lines, problems, empty_ok=False)
        if len(problems.lines) > before:
            problems.check()  # references are resolved within periods
    joined = None
    if "joined_period" in col:
        joined = _integers(col["joined_period"], "joined_period", lines, problems, empty_ok=True)
    if returns is not None:
        before = len(problems.lines)
        sale = (
            _integers(col["sale_period"], "sale_period", lines, problems, empty_ok=True)
            if "sale_period" in col
            else np.full(table.num_rows, -1, dtype=np.int64)
        )
        if len(problems.lines) == before:
            rules = volume if volume is not None else VolumeRules()
            pv = _net_volume(pv, returns, sale, period, ids.to_numpy(), lines, rules, problems)
    retail = None
    if "retail_sales" in col:
        retail = np.nan_to_num(
            _numbers(col["retail_sales"], "retail_sales", lines, problems, required=False)
        )
    earned = {
        c[len("earned_") :]: np.nan_to_num(_numbers(col[c], c, lines, problems, required=False))
        for c in columns
        if _EARNED.match(c)
    }
    rank = _ranks(col["rank"], lines, problems, rank_names) if "rank" in col else None
    leg = _legs(col["leg"], lines, problems, placement_width) if "leg" in col else None

    # Ids -> rows in order of first appearance; references resolved within the period.
    ids_arrow = pa.array(ids.to_numpy(), type=pa.string())
    encoded = pc.dictionary_encode(ids_arrow)  # hash in C++, order of first appearance
    codes = encoded.indices.to_numpy().astype(np.int64)
    uniques = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    k = 0
    if known_ids is not None:
        k = len(known_ids)
        old = pd.Index(known_ids).get_indexer(ids.to_numpy())
        fresh = old < 0
        new_codes, new_ids = pd.factorize(ids.to_numpy()[fresh])
        codes = old
        codes[fresh] = new_codes + k
        uniques = np.concatenate((np.asarray(known_ids, dtype=object), new_ids.astype(object)))
    n = uniques.size
    index = pa.array(uniques, type=pa.string())
    single = bool((period == period[0]).all())
    order = np.lexsort((np.arange(table.num_rows), period))
    key = period * n + codes
    uniq_keys, counts = np.unique(key, return_counts=True)
    dup_keys = uniq_keys[counts > 1]
    if dup_keys.size:
        dup = np.isin(key, dup_keys)
        problems.add("duplicate id within a period", lines[dup], ids[dup].to_numpy())
    sponsor_txt = col["sponsor_id"]
    sponsor = _resolve(sponsor_txt, index, period, key, n, single)
    own = (sponsor_txt == ids).to_numpy() & (sponsor_txt != "").to_numpy()
    problems.add(
        "sponsor_id is the distributor's own id (if that marks a root, pass --root-marker self)",
        lines[own],
        sponsor_txt[own].to_numpy(),
    )
    bad = (sponsor_txt != "").to_numpy() & (sponsor < 0)
    zero = bad & (sponsor_txt == "0").to_numpy()
    problems.add(
        "sponsor_id is not an id of the same period",
        lines[bad & ~zero],
        sponsor_txt[bad & ~zero].to_numpy(),
    )
    problems.add(
        "sponsor_id 0 is not an id of the same period (if 0 marks a root, pass --root-marker 0)",
        lines[zero],
    )
    placement = None
    if "placement_id" in col:
        place_txt = col["placement_id"]
        placement = _resolve(place_txt, index, period, key, n, single)
        given = (place_txt != "").to_numpy()
        bad = given & (placement < 0)
        problems.add(
            "placement_id is not an id of the same period", lines[bad], place_txt[bad].to_numpy()
        )
    problems.check()

    periods_out: list[GenealogyPeriod] = []
    id_of = np.asarray(uniques, dtype=object)
    seen = np.zeros(n, dtype=bool)
    seen[:k] = True
    joined_row = np.full(n, -1, dtype=np.int32)
    if known_joined is not None:
        joined_row[:k] = known_joined
    cum_place = np.full(n, -1, dtype=np.int64)
    cum_leg = np.full(n, -1, dtype=np.int64)
    last_line = np.zeros(n, dtype=np.int64)
    order_p = period[order]
    bounds = np.flatnonzero(np.r_[True, order_p[1:] != order_p[:-1], True])
    for a, b in itertools.pairwise(bounds):
        sel = order[a:b]  # this period's lines, in file order
        p = int(period[sel[0]])
        label = f"period {p}: " if "period" in col else ""
        rows = codes[sel]
        present = np.zeros(n, dtype=bool)
        present[rows] = True
        last_line[rows] = lines[sel]
        spons = np.full(n, -1, dtype=np.int32)
        spons[rows] = sponsor[sel]
        line_here = np.zeros(n, dtype=np.int64)
        line_here[rows] = lines[sel]
        depth = _check_cycles(
            spons, present, line_here, id_of, problems, f"{label}the sponsor chain"
        )
        problems.check()
        new_rows = rows[~seen[rows]]
        seen[rows] = True
        joined_row[new_rows] = p
        if joined is not None:
            given = joined[sel] >= 0
            joined_row[rows[given]] = joined[sel][given]
        gp = GenealogyPeriod(
            period=p,
            rows=rows,
            lines=lines[sel],
            present=present,
            sponsor=spons,
            pv=_scatter(n, rows, pv[sel]),
            bv=_scatter(n, rows, (pv if bv is None else bv)[sel]),
            active=_scatter(n, rows, active[sel], dtype=bool),
            joined_period=joined_row.copy(),
            new_rows=new_rows,
            depth=np.where(present, depth, 0).astype(np.int32),
        )
        if rank is not None:
            gp.rank = _scatter(n, rows, rank[sel], dtype=np.int16, fill=-1)
        if leg is not None:
            gp.leg = _scatter(n, rows, leg[sel], dtype=np.int8, fill=-1)
        if kit is not None:
            gp.kit_bought = _scatter(n, rows, kit[sel], dtype=bool)
        if retail is not None:
            gp.retail_sales = _scatter(n, rows, retail[sel])
        gp.earned = {k: _scatter(n, rows, v[sel]) for k, v in earned.items()}
        if placement is not None:
            cum_place[rows] = placement[sel]
            cum_leg[rows] = leg[sel] if leg is not None else -1
            _check_placement(
                cum_place, cum_leg, spons, rows, last_line, id_of, placement_width, problems, label
            )
            gp.placement = _scatter(n, rows, placement[sel], dtype=np.int32, fill=-1)
        periods_out.append(gp)
    return Genealogy(path=path, ids=id_of, periods=periods_out, columns=columns)


def _net_volume(
    gross: np.ndarray,
    returns: np.ndarray,
    sale: np.ndarray,
    period: np.ndarray,
    ids: np.ndarray,
    lines: np.ndarray,
    rules: VolumeRules,
    problems: _Problems,
) -> np.ndarray:
    """float64[m] net PV of each line: ``purchases + customer_pv - returns`` by the plan's rules.

    ``period_of_return``: each line's returns lower its own period's PV. ``clawback``: they
    lower the PV of the same id in the period of the sale (``sale`` column, -1 = the line's own
    period), which must be a period of this file, not after the return; with
    ``clawback_window_months`` W > 0, a return made W or more periods after the sale lowers
    its own period's PV instead.
    """
    net = gross.astype(np.float64).copy()
    if rules.returns_timing == "period_of_return":
        net -= returns
    else:
        target_period = np.where(sale >= 0, sale, period)
        later = target_period > period
        problems.add("sale_period is after the period of the return", lines[later], sale[later])
        window = rules.clawback_window_months
        if window > 0:
            # A return made too long after the sale lowers its own period's PV instead.
            late = (returns > 0) & ~later & (period - target_period >= window)
            net[late] -= returns[late]
            returns = np.where(late, 0.0, returns)
        key = pd.MultiIndex.from_arrays([period, ids])
        if not key.is_unique:
            return net  # duplicate ids within a period are reported by the caller
        where = key.get_indexer(pd.MultiIndex.from_arrays([target_period, ids]))
        has = returns > 0
        lost = has & (where < 0) & ~later
        problems.add(
            "returns_timing = 'clawback' charges this return to the period of the sale, but "
            "that id is not listed in that period of this file (pay returns of periods paid "
            "in an earlier run with returns_timing = 'period_of_return')",
            lines[lost],
            np.char.add("sale period ", target_period[lost].astype(str)),
        )
        ok = has & (where >= 0) & ~later
        np.subtract.at(net, where[ok], returns[ok])
    if rules.floor_at_zero:
        net = np.maximum(net, 0.0)
    return net


def _scatter(n: int, rows: np.ndarray, values: np.ndarray, dtype=np.float64, fill=0) -> np.ndarray:
    """An array over all ``n`` rows with ``values`` at ``rows`` and ``fill`` elsewhere."""
    out = np.full(n, fill, dtype=dtype)
    out[rows] = values
    return out


@dataclass(frozen=True)
class Dialect:
    """How a genealogy file is written.

    Attributes:
        sep: field separator: comma, semicolon or tab; None detects it from the header
            line (the one of the three it holds most of, outside quotes).
        decimal: decimal mark ``"."`` or ``","``; None detects it: ``","`` when the separator
            is not a comma and a number column holds a decimal comma (``12,5``).
        root_marker: how the file marks a root's sponsor: None (empty cell), ``"0"`` or
            ``"self"`` (the distributor's own id); also applied to ``placement_id``.
    """

    sep: str | None = None
    decimal: str | None = None
    root_marker: str | None = None


_NUMBER_COLUMNS = (
    "pv",
    "bv",
    *PV_PARTS,
    "retail_sales",
)
_DECIMAL_COMMA = r"^[+-]?\d*,\d+$"


def _decimal_commas(col: dict[str, pd.Series], decimal: str | None, sep: str | None) -> None:
    """Turn decimal commas into points in the number columns (in place).

    ``sep`` is the file's separator (None for a workbook); a comma-separated file cannot hold
    unquoted decimal commas, so detection looks only in other files.
    """
    names = [c for c in col if c in _NUMBER_COLUMNS or _EARNED.match(c)]
    if decimal is None:
        decimal = "."
        if sep != ",":
            for c in names:
                if col[c].str.match(_DECIMAL_COMMA).any():
                    decimal = ","
                    break
    if decimal == ",":
        for c in names:
            col[c] = col[c].str.replace(",", ".", regex=False)


def _root_marker(col: dict[str, pd.Series], ids: pd.Series, marker: str | None) -> None:
    """Blank the sponsor (and placement parent) cells that mark roots (in place)."""
    if marker is None:
        return
    for c in ("sponsor_id", "placement_id"):
        if c not in col:
            continue
        text = col[c]
        is_root = (text == ids) if marker == "self" else (text == marker)
        col[c] = text.where(~is_root, "")


def _detect_sep(first_line: str) -> str:
    """The separator the header line holds most of, outside quotes (comma on ties)."""
    counts = {}
    for sep in (",", ";", "\t"):
        counts[sep] = len(next(csv.reader(io.StringIO(first_line), delimiter=sep), [])) - 1
    best = max(counts.values())
    return next(sep for sep in (",", ";", "\t") if counts[sep] == best)


def _read_xlsx(path: Path) -> tuple[pa.Table, np.ndarray]:
    """All columns of the first worksheet as text, and the spreadsheet row of each data row.

    Whole numbers stored as floats (Excel keeps every number as a float) are written without
    ``.0``; empty rows are skipped, so line numbers are the rows the spreadsheet shows.
    """
    # openpyxl: 0.12 s of import, paid only by .xlsx files.
    import openpyxl  # noqa: PLC0415

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise DataError(f"{path}: genealogy file not found") from None
    except Exception as err:  # openpyxl raises many types for a damaged file
        raise DataError(f"{path}: not a readable .xlsx workbook ({err})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = None
        data: list[list[str]] = []
        numbers: list[int] = []
        for number, row in enumerate(rows, start=1):
            cells = ["" if v is None else _cell_text(v) for v in row]
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip().lower() for c in cells]
                while header and header[-1] == "":
                    header.pop()
                header_line = number
                continue
            data.append(cells)
            numbers.append(number)
    finally:
        book.close()
    if header is None:
        raise DataError(
            f"{path}: the worksheet is empty (expected a header row with id,sponsor_id,pv)"
        )
    width = len(header)
    over = [i for i, r in enumerate(data) if any(c.strip() for c in r[width:])]
    if over:
        shown = ", ".join(str(numbers[i]) for i in over[:_SHOWN])
        raise DataError(f"{path}: values beyond the {width} header columns: lines {shown}")
    columns = {h: [r[i] if i < len(r) else "" for r in data] for i, h in enumerate(header)}
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise DataError(
            f"{path}: line {header_line} (header): duplicate column(s) {', '.join(dupes)}"
        )
    table = pa.table({h: pa.array(v, type=pa.string()) for h, v in columns.items()})
    return table, np.asarray(numbers, dtype=np.int64)


def _cell_text(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_table(path: Path, sep: str | None = None) -> tuple[pa.Table, np.ndarray, str]:
    """All columns as text, the file line number of each data row, and the separator."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: genealogy file not found") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read the genealogy file: {err.strerror}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        raise DataError(f"{path}: the file is empty (expected a header line with id,sponsor_id,pv)")
    try:
        first = raw.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: line 1: not UTF-8 text ({err.reason})") from None
    sep = sep or _detect_sep(first)
    header = next(csv.reader(io.StringIO(first), delimiter=sep))
    header = [h.strip().lower() for h in header]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(raw),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        raise DataError(_parse_problem(path, raw, len(header), err, sep)) from None
    lines = _line_numbers(raw, table.num_rows)
    return table, lines, sep


def _parse_problem(path: Path, raw: bytes, width: int, err: Exception, sep: str = ",") -> str:
    """Find the lines with a wrong number of fields (slow path, only on error)."""
    bad = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as uerr:
        line = raw[: uerr.start].count(b"\n") + 1
        return f"{path}: line {line}: not UTF-8 text ({uerr.reason})"
    for i, fields in enumerate(csv.reader(io.StringIO(text), delimiter=sep), start=1):
        if i > 1 and fields and len(fields) != width:
            bad.append(f"{i} ({len(fields)} fields)")
        if len(bad) >= _SHOWN:
            break
    if bad:
        return f"{path}: expected {width} fields as in the header: lines {', '.join(bad)}"
    return f"{path}: not a readable CSV file: {err}"


def _line_numbers(raw: bytes, rows: int) -> np.ndarray:
    """Line number (header = 1) of each data row; blank lines are skipped by the reader."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    nl = np.flatnonzero(buf == ord("\n"))
    starts = np.r_[0, nl + 1]
    ends = np.r_[nl, buf.size]
    keep = starts < buf.size
    starts, ends = starts[keep], ends[keep]
    length = ends - starts
    # A line is blank if empty or only "\r"; quoted newlines are not supported (pyarrow
    # rejects them by default), so physical lines are records.
    cr_only = (length == 1) & (buf[np.minimum(starts, buf.size - 1)] == ord("\r"))
    blank = (length == 0) | cr_only
    numbers = np.flatnonzero(~blank) + 1
    data = numbers[numbers > numbers[0]] if numbers.size else numbers
    if data.size != rows:  # pragma: no cover - defensive
        return np.arange(rows, dtype=np.int64) + 2
    return data.astype(np.int64)


def _strings(column: pa.ChunkedArray) -> pd.Series:
    """A text column, whitespace-trimmed (Arrow-backed: vectorised string operations)."""
    return pc.utf8_trim_whitespace(column).to_pandas().astype("str")


def _numbers(
    text: pd.Series, name: str, lines: np.ndarray, problems: _Problems, *, required: bool
) -> np.ndarray:
    """float64 values; NaN where empty and not required. Bad values are problems."""
    empty = (text == "").to_numpy()
    arrow = pa.array(text.to_numpy(), type=pa.string())
    try:  # fast path: Arrow's parser in C++; any bad cell sends us to pandas to name it
        values = pc.cast(pc.if_else(pa.array(empty), "0", arrow), pa.float64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = pd.to_numeric(text.where(~empty, "0"), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values) & ~empty
    problems.add(f"{name} is not a number", lines[bad], text[bad].to_numpy())
    if required:
        problems.add(f"{name} is empty", lines[empty])
    neg = np.isfinite(values) & (values < 0) & ~empty
    problems.add(f"{name} is negative", lines[neg], text[neg].to_numpy())
    return np.where(empty, np.nan, values)


def _flags(
    col: dict[str, pd.Series], name: str, lines: np.ndarray, problems: _Problems, *, empty: bool
) -> np.ndarray:
    """Values of a yes/no column as bools (``empty``: what an empty cell means)."""
    if name not in col:
        return np.full(lines.size, empty, dtype=bool)
    low = col[name].str.lower()
    bad = ~low.isin(_TRUE | _FALSE).to_numpy()
    problems.add(f"{name} is not 1/0, true/false or yes/no", lines[bad], col[name][bad])
    if empty:
        return ~low.isin(_FALSE).to_numpy()
    return low.isin(_TRUE - {""}).to_numpy()


def _integers(
    text: pd.Series, name: str, lines: np.ndarray, problems: _Problems, *, empty_ok: bool
) -> np.ndarray:
    """int64 values (-1 where empty and allowed)."""
    empty = (text == "").to_numpy()
    values = pd.to_numeric(text.where(~empty, "0"), errors="coerce").to_numpy(dtype=np.float64)
    bad = ~empty & (~np.isfinite(values) | (values != np.round(values)) | (values < 0))
    problems.add(f"{name} is not a whole number >= 0", lines[bad], text[bad].to_numpy())
    # Periods are stored as 32-bit integers and combined with row numbers in 64-bit keys.
    big = ~empty & ~bad & (values > MAX_PERIOD)
    problems.add(f"{name} is above {MAX_PERIOD:,}", lines[big], text[big].to_numpy())
    bad |= big
    if not empty_ok:
        problems.add(f"{name} is empty", lines[empty])
    out = np.where(empty | bad, -1, np.nan_to_num(values, nan=-1)).astype(np.int64)
    return out


def _ranks(
    text: pd.Series, lines: np.ndarray, problems: _Problems, names: list[str] | None
) -> np.ndarray:
    """int16 rank index (-1 where empty); names are the plan's rank names."""
    out = np.full(text.size, -1, dtype=np.int64)
    empty = (text == "").to_numpy()
    number = pd.to_numeric(text.where(~empty, "-1"), errors="coerce").to_numpy(dtype=np.float64)
    is_num = np.isfinite(number) & ~empty
    out[is_num] = number[is_num].astype(np.int64)
    limit = len(names) if names else None
    bad = is_num & ((number != np.round(number)) | (number < 0))
    if limit is not None:
        bad |= is_num & (number >= limit)
    named = ~empty & ~is_num
    if named.any():
        if not names:
            problems.add(
                "rank names need a plan with a [ranks] table", lines[named], text[named].to_numpy()
            )
        else:
            idx = pd.Index(names).get_indexer(text[named].to_numpy())
            out[named] = idx
            miss = np.flatnonzero(named)[idx < 0]
            problems.add(f"rank is not one of {names}", lines[miss], text.to_numpy()[miss])
    what = "rank is not a rank index" + (f" 0..{limit - 1}" if limit else " >= 0")
    problems.add(what, lines[bad], text[bad].to_numpy())
    return out.astype(np.int16)


def _legs(text: pd.Series, lines: np.ndarray, problems: _Problems, width: int | None) -> np.ndarray:
    """int8 side/position (-1 where empty)."""
    low = text.str.lower()
    out = low.map(_LEGS).to_numpy(dtype=np.float64, na_value=np.nan)
    digits = low.str.fullmatch(r"\d+").to_numpy(dtype=bool)
    out = np.where(digits, pd.to_numeric(low.where(digits, "0")).to_numpy(), out)
    empty = (low == "").to_numpy()
    out = np.where(empty, -1, out)
    limit = 64 if width is None else width
    bad = np.isnan(out) | (out >= limit)
    allowed = "L/R" if width == 2 else f"a position 0..{limit - 1}"
    problems.add(f"leg is not {allowed}", lines[bad], text[bad].to_numpy())
    return np.where(bad, -1, out).astype(np.int8)


def _resolve(
    text: pd.Series,
    index: pa.Array,
    period: np.ndarray,
    key: np.ndarray,
    n: int,
    single: bool,
) -> np.ndarray:
    """Row of the id named in ``text`` if it is listed in the same period, else -1.

    ``index`` holds the ids by row; ``key`` = period x n + row of every line; ``single``: the
    file has one period (every id is listed in it).
    """
    arrow = pa.array(text.to_numpy(), type=pa.string())
    ref = pc.index_in(arrow, value_set=index).fill_null(-1).to_numpy().astype(np.int64)
    ok = ref >= 0
    if not single:
        ref_key = period * n + np.where(ok, ref, 0)
        ok &= np.isin(ref_key, key)
    return np.where(ok & (text != "").to_numpy(), ref, -1).astype(np.int64)


def _cycle_rows(parent: np.ndarray, start: np.ndarray) -> list[int]:
    """Rows on the cycle reached from ``start`` (walks parents; called on error only)."""
    for s in start[:50]:
        seen: set[int] = set()
        v = int(s)
        while v >= 0 and v not in seen:
            seen.add(v)
            v = int(parent[v])
        if v >= 0:
            cycle = [v]
            u = int(parent[v])
            while u != v:
                cycle.append(u)
                u = int(parent[u])
            return cycle
    return [int(r) for r in start[:_SHOWN]]


def _check_cycles(
    parent: np.ndarray,
    member: np.ndarray,
    line_of: np.ndarray,
    id_of: np.ndarray,
    problems: _Problems,
    what: str,
) -> np.ndarray | None:
    """The depths (int32[n], -1 for non-members), or None after adding a cycle as a problem.

    The problem names the cycle's lines and ids.
    """
    try:
        return compute_depth(parent, member)
    except CycleError as err:
        cycle = _cycle_rows(parent, err.rows)
        path = " -> ".join(str(id_of[r]) for r in [*cycle, cycle[0]])
        problems.add(f"{what} has a cycle ({path})", np.sort(line_of[cycle]))
        return None


def _check_placement(
    place: np.ndarray,
    leg: np.ndarray,
    sponsor: np.ndarray,
    rows: np.ndarray,
    last_line: np.ndarray,
    id_of: np.ndarray,
    width: int | None,
    problems: _Problems,
    label: str,
) -> None:
    """Imported placement (cumulated over the periods so far) is a tree within ``width``."""
    n = place.shape[0]
    mine = np.zeros(n, dtype=bool)
    mine[rows] = True
    # A row placed by rule (no placement_id but a sponsor) cannot hold imported children: it
    # is placed after every imported row.
    by_rule = mine & (place < 0) & (sponsor >= 0)
    under = np.flatnonzero((place >= 0) & by_rule[np.maximum(place, 0)])
    problems.add(
        f"{label}placement_id names a distributor who has a sponsor but no "
        "placement_id of their own",
        np.sort(last_line[under]),
    )
    child = np.flatnonzero(place >= 0)
    if width is not None and child.size:
        counts = np.bincount(place[child], minlength=n)
        over = child[counts[place[child]] > width]
        parents = ", ".join(str(id_of[p]) for p in np.unique(place[over])[:_SHOWN])
        problems.add(
            f"{label}more than {width} children under placement parent(s) {parents}",
            np.sort(last_line[over]),
        )
        known = child[leg[child] >= 0]
        slot = place[known] * 64 + leg[known]
        u, c = np.unique(slot, return_counts=True)
        clash = known[np.isin(slot, u[c > 1])]
        problems.add(
            f"{label}two children on the same leg of one placement parent",
            np.sort(last_line[clash]),
        )
    problems.check()
    member = place >= 0
    member[place[member]] = True
    _check_cycles(place, member, last_line, id_of, problems, f"{label}the placement")
    problems.check()
