"""``mlmsim payout``: pays a genealogy period by period with carry state, writes the table
atomically, prints the summary, and exits 2 with one message on bad input."""

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from simulation import cli, payout
from simulation.errors import UserError

DATA = Path(__file__).parent / "data" / "genealogy"
ROOT = Path(__file__).resolve().parents[1]
BAD = [
    "missing_column.csv",
    "unknown_sponsor.csv",
    "cycle.csv",
    "duplicate_id.csv",
    "non_numeric_pv.csv",
    "negative_pv.csv",
]


def run_payout(*argv: str) -> int:
    """The subcommand through a small argparse wrapper, as the main CLI calls it."""
    parser = argparse.ArgumentParser()
    payout.configure_parser(parser)
    return payout.run(parser.parse_args([str(a) for a in argv]))


def test_binary_two_weeks_with_carry_over(tmp_path, capsys):
    # binary_weekly_cap: 10% of the weaker leg, 100 PV and a personally enrolled qualified
    # distributor in each leg to earn. Imported placement:
    #
    #          ann
    #        /     \
    #      bob      cat
    #      /       /   \
    #    dan     eve    fay (week 2)      (eve and fay: enrolled by ann and cat)
    #
    # Week 1 (PV ann 100, bob 100, cat 100, dan 300, eve 500):
    #   ann: left bob + dan = 400, right cat + eve = 600 -> 10% x 400 = 40; carry 0 | 200.
    #   bob: no enrollee of his on the right -> not qualified, carry flushed; cat: eve is
    #   ann's recruit -> not qualified.
    # Week 2 (cat 0 PV, dan 100, eve 100, fay 200):
    #   ann: left 0 + 200 = 200, right 200 + (0 + 100 + 200) = 500 -> 20; carry 0 | 300.
    #   cat: 0 PV -> not qualified (its matched 100 is breakage: 10).
    out = tmp_path / "payouts.csv"
    status = run_payout(DATA / "binary_two_weeks.csv", "--plan", "binary_weekly_cap", "--out", out)
    assert status == 0
    table = pd.read_csv(out)
    assert list(table.columns) == [
        "period",
        "id",
        "pv",
        "bv",
        "qualified",
        "level",
        "placement_id",
        "leg",
        "binary",
        "total",
        "retail_margin",
        "carry_left",
        "carry_right",
    ]
    week1 = table[table.period == 1].set_index("id")
    # The placement tree and the sponsor levels, as imported.
    assert week1.placement_id.fillna("").tolist() == ["", "ann", "ann", "bob", "cat"]
    assert week1.leg.fillna("").tolist() == ["", "L", "R", "L", "L"]
    assert week1.level.tolist() == [0, 1, 1, 2, 1]
    # Qualified: active with >= 100 PV (everyone in week 1; cat with 0 PV in week 2 is not).
    assert week1.qualified.tolist() == [1, 1, 1, 1, 1]
    assert table[(table.period == 2) & (table.id == "cat")].qualified.tolist() == [0]
    ann = table[table.id == "ann"]
    assert ann.binary.tolist() == [40, 20]
    assert ann.carry_left.tolist() == [0, 0]
    assert ann.carry_right.tolist() == [200, 300]
    assert table.total.sum() == 60
    assert (table[table.id != "ann"].total == 0).all()
    assert len(table) == 11
    text = capsys.readouterr().out
    # 60 paid on 1,100 + 600 BV; binary breakage 10 (cat, week 2); 5 of 6 paid nothing; the
    # top 1% (one person: ann) has everything.
    assert "total paid                   60.00" in text
    assert "payout ratio                 3.5%" in text
    assert "breakage: binary             10.00" in text
    assert "paid nothing                 83.3%" in text
    assert "top 1% share of payouts      100.0%" in text


def test_matrix_spillover_keeps_the_matrix_between_periods(tmp_path):
    # matrix_3x7 (5% a level, 100 PV). Period 1: r recruits a, b, c, d: d spills under a.
    #   r: 5% x (a, b, c) + 5% x d = 20; a: 5% x d = 5.
    # Period 2: r recruits e (-> a's second position), d recruits f (-> under d).
    #   r: 15 + 5% x (d, e) + 5% x f = 30; a: 5% x (d, e) + 5% x f = 15; d: 5.
    out = tmp_path / "m.csv"
    assert run_payout(DATA / "matrix_spillover.csv", "--plan", "matrix_3x7", "--out", out) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == [
        "period",
        "id",
        "pv",
        "bv",
        "qualified",
        "level",
        "placement_id",
        "leg",
        "matrix",
        "total",
        "retail_margin",
    ]
    # Matrix positions 0, 1, 2 in arrival order: d spilled to a's position 0, e to a's 1.
    place = pd.read_csv(out, dtype=str, keep_default_na=False).set_index(["period", "id"])
    assert place.loc["1"].placement_id.tolist() == ["", "r", "r", "r", "a"]
    assert place.loc["1"].leg.tolist() == ["", "0", "1", "2", "0"]
    assert place.loc[("2", "e")].placement_id == "a" and place.loc[("2", "e")].leg == "1"
    assert place.loc[("2", "f")].placement_id == "d"
    got = {(p, i): v for p, i, v in zip(table.period, table.id, table.matrix, strict=True)}
    assert {k: v for k, v in got.items() if v} == {
        (1, "r"): 20,
        (1, "a"): 5,
        (2, "r"): 30,
        (2, "a"): 15,
        (2, "d"): 5,
    }


def test_rank_column_is_written(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[ranks]\nuse_given = true\ntable = [{name = "silver"}, {name = "gold"}]\n'
        "[binary]\npct = 0.10\npct_by_rank = { gold = 0.20 }\n"
    )
    out = tmp_path / "p.csv"
    assert run_payout(DATA / "all_columns.csv", "--plan", plan, "--out", out) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == [
        "period",
        "id",
        "pv",
        "bv",
        "qualified",
        "level",
        "rank",
        "placement_id",
        "leg",
        "binary",
        "total",
        "carry_left",
        "carry_right",
    ]
    # Period 3: root (gold, 20%): left kim 100, right lee 40 BV (inactive: not paid, but its
    # volume counts for its upline) -> matched 40 -> 20% = 8; carry 60 | 0.
    # Period 4: root (rank 1 = gold): left 60 carried + kim 100 + max 120 (placed under kim
    # by the rule) = 280, right 0 -> 0. Nobody else has two legs.
    assert table["rank"].tolist() == ["gold", "silver", "", "gold", "silver", "", ""]
    assert table.binary.sum() == 8
    assert table.carry_left.tolist()[:4] == [60, 0, 0, 280]


def test_module_and_main_cli(tmp_path):
    out = tmp_path / "payouts.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulation.payout",
            str(DATA / "binary_two_weeks.csv"),
            "--plan",
            "binary_weekly_cap",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "total paid" in done.stdout
    assert pd.read_csv(out).total.sum() == 60
    out2 = tmp_path / "again.csv"
    assert (
        cli.main(
            [
                "payout",
                str(DATA / "binary_two_weeks.csv"),
                "--plan",
                "binary_weekly_cap",
                "--out",
                str(out2),
            ]
        )
        == 0
    )
    assert out2.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("name", BAD)
def test_bad_genealogy_exits_2_and_writes_nothing(tmp_path, capsys, name):
    out = tmp_path / "payouts.csv"
    status = cli.main(
        ["payout", str(DATA / name), "--plan", "binary_weekly_cap", "--out", str(out)]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {DATA / name}: ")
    assert "line" in err
    assert list(tmp_path.iterdir()) == []


def test_bad_input_through_the_module(tmp_path):
    # The same through ``python -m simulation.payout``; an existing output file is untouched
    # even with --force.
    out = tmp_path / "payouts.csv"
    out.write_text("old\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulation.payout",
            str(DATA / "unknown_sponsor.csv"),
            "--plan",
            "binary_weekly_cap",
            "--out",
            str(out),
            "--force",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "sponsor_id is not an id of the same period: line 4 ('zed')" in done.stderr
    assert done.stderr.count("\n") == 1
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["payouts.csv"]


def test_imported_slot_taken_by_an_earlier_rule_placement(tmp_path):
    # Week 1: cat has no placement_id: the rule puts her at the end of ann's left line, under
    # bob. Week 2 imports eve into that same slot: the engine's error names the ids.
    f = tmp_path / "g.csv"
    f.write_text(
        "id,sponsor_id,pv,placement_id,leg,period\n"
        "ann,,100,,,1\nbob,ann,100,ann,L,1\ncat,ann,100,,,1\n"
        "ann,,100,,,2\nbob,ann,100,ann,L,2\ncat,ann,100,,,2\neve,bob,100,bob,L,2\n"
    )
    with pytest.raises(UserError) as err:
        run_payout(f, "--plan", "binary_weekly_cap", "--out", tmp_path / "p.csv")
    assert "period 2: placement: distributors 'cat', 'eve' share a slot" in str(err.value)
    assert not (tmp_path / "p.csv").exists()


def test_bad_plan_and_out(tmp_path):
    with pytest.raises(UserError, match="not found"):
        run_payout(DATA / "binary_two_weeks.csv", "--plan", tmp_path / "none.toml")
    with pytest.raises(UserError, match="is a folder"):
        run_payout(DATA / "binary_two_weeks.csv", "--plan", "binary_weekly_cap", "--out", tmp_path)
