"""Genealogy import (format in docs/plans.md): columns, periods, ids to rows, and errors that
name the file, the lines (header = line 1) and the problem."""

from pathlib import Path

import numpy as np
import pytest

from simulation.errors import DataError
from simulation.genealogy import read_genealogy

DATA = Path(__file__).parent / "data" / "genealogy"


def test_all_columns_are_read_per_period():
    # Two periods (3 and 4) separated by a blank line (line 5); lee is inactive in both, max
    # joins in period 4. Rank names are the plan's ("silver" = 0, "gold" = 1).
    g = read_genealogy(DATA / "all_columns.csv", rank_names=["silver", "gold"], placement_width=2)
    assert g.ids.tolist() == ["root", "kim", "lee", "max"]
    p3, p4 = g.periods
    assert (p3.period, p4.period) == (3, 4)
    assert p3.lines.tolist() == [2, 3, 4]
    assert p4.lines.tolist() == [6, 7, 8, 9]
    assert p3.sponsor.tolist() == [-1, 0, 0, -1]
    assert p3.pv.tolist() == [200, 100, 50, 0]
    # bv defaults to pv where empty; " 50 " is trimmed.
    assert p3.bv.tolist() == [150, 100, 40, 0]
    assert p3.active.tolist() == [True, True, False, False]
    assert p3.rank.tolist() == [1, 0, -1, -1]
    assert p4.rank.tolist() == [1, 0, -1, -1]
    # joined_period: given (0, 2) or the period the id first appears in (3, 4).
    assert p3.joined_period.tolist() == [0, 3, 2, -1]
    assert p4.joined_period.tolist() == [0, 3, 2, 4]
    assert p3.new_rows.tolist() == [0, 1, 2]
    assert p4.new_rows.tolist() == [3]
    assert p3.placement.tolist() == [-1, 0, 0, -1]
    assert p3.leg.tolist() == [-1, 0, 1, -1]
    # max has a sponsor but no placement_id: placed by the plan's rule.
    assert p4.placement.tolist() == [-1, 0, 0, -1]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing_column.csv", r"line 1 \(header\): missing required column\(s\) pv"),
        ("unknown_sponsor.csv", r"sponsor_id is not an id of the same period: line 4 \('zed'\)"),
        ("cycle.csv", r"sponsor chain has a cycle \(bob -> dan -> cat -> bob\): lines 3, 4, 5"),
        ("duplicate_id.csv", r"duplicate id within a period: lines 3 \('bob'\), 5 \('bob'\)"),
        ("non_numeric_pv.csv", r"pv is not a number: line 3 \('ten'\)"),
        ("negative_pv.csv", r"pv is negative: line 4 \('-5'\)"),
        ("nan_pv.csv", r"pv is not a number: line 2 \('NaN'\)"),
        (
            "placement_over_width.csv",
            r"more than 2 children under placement parent\(s\) ann: lines 3, 4, 5",
        ),
    ],
)
def test_bad_files_name_the_lines(name, message):
    with pytest.raises(DataError, match=message) as err:
        read_genealogy(DATA / name, placement_width=2)
    assert str(DATA / name) in str(err.value)


def test_several_problems_are_reported_together(tmp_path):
    f = tmp_path / "g.csv"
    f.write_text("id,sponsor_id,pv,period\na,,100,1\nb,a,x,1\nc,zz,10,1\nb,a,5,1\nd,a,1,2\n")
    with pytest.raises(DataError) as err:
        read_genealogy(f)
    text = str(err.value)
    assert "pv is not a number: line 3 ('x')" in text
    assert "duplicate id within a period: lines 3 ('b'), 5 ('b')" in text
    # 'a' exists, but not in period 2: references are resolved within a period.
    assert "sponsor_id is not an id of the same period: lines 4 ('zz'), 6 ('a')" in text


def test_other_bad_input(tmp_path):
    cases = {
        "id,sponsor_id,pv,colour\na,,1,red\n": r"unknown column\(s\) colour",
        "id,sponsor_id,pv\n": "no data lines",
        "": "the file is empty",
        "id,sponsor_id,pv\na,,1\nb,a\n": r"expected 3 fields as in the header: lines 3 \(2",
        "id,sponsor_id,pv,active\na,,1,maybe\n": "active is not 1/0",
        "id,sponsor_id,pv,kit_bought\na,,1,\nb,a,1,kit\n": r"kit_bought is not 1/0.*: line 3",
        "id,sponsor_id,pv,period\na,,1,1.5\n": "period is not a whole number",
        "id,sponsor_id,pv,leg\na,,1,up\n": "leg is not L/R",
        "id,sponsor_id,pv\n,,1\n": "empty id: line 2",
        # Its own sponsor: named, with the option for files that mark roots that way.
        "id,sponsor_id,pv\na,a,1\n": r"own id \(if that marks a root, pass --root-marker self\)",
        "id,sponsor_id,pv\na,b,1\nb,a,1\n": r"cycle \(a -> b -> a\): lines 2, 3",
        "id,sponsor_id,pv,placement_id\na,,1,\nb,a,1,c\nc,a,1,b\n": r"placement has a cycle",
    }
    for i, (text, message) in enumerate(cases.items()):
        f = tmp_path / f"g{i}.csv"
        f.write_text(text)
        with pytest.raises(DataError, match=message):
            read_genealogy(f, placement_width=2)
    with pytest.raises(DataError, match="not found"):
        read_genealogy(tmp_path / "nope.csv")


def test_a_large_file_is_read_vectorised(tmp_path):
    # A random recursive tree of 200,000 distributors (a million: benchmarks/bench_placement.py).
    n = 200_000
    rng = np.random.default_rng(0)
    sponsor = (rng.random(n) * np.arange(n)).astype(np.int64)
    lines = ["id,sponsor_id,pv", "d0,,100"]
    lines += [f"d{i},d{s},{i % 300}" for i, s in zip(range(1, n), sponsor[1:], strict=True)]
    f = tmp_path / "big.csv"
    f.write_text("\n".join(lines) + "\n")
    g = read_genealogy(f)
    p = g.periods[0]
    assert g.n == n
    assert p.sponsor[1:].tolist() == sponsor[1:].tolist()
    assert p.lines[-1] == n + 1
