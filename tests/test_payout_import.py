"""``mlmsim payout`` on what a company exports: starter kits, retail sales, volume given as its
parts (purchases, customer orders, returns), earnings computed elsewhere, inactive members'
volume, and the published override rule. Every expected number is worked out by hand in the
comments, on genealogies small enough to check with a pencil."""

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation import payout
from simulation.errors import UserError


def run_payout(*argv) -> int:
    """The subcommand through a small argparse wrapper, as the main CLI calls it."""
    parser = argparse.ArgumentParser()
    payout.configure_parser(parser)
    return payout.run(parser.parse_args([str(a) for a in argv]))


def write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


# --- starter kits and the flat fast-start window --------------------------------------------

KIT_PLAN = """
[qualification]
min_pv = 50

[fast_start]
mode = "flat"
amount = 40
window_periods = 2
"""

# ann (joined long ago) enrolled bob and cat in period 1; bob enrolled dan in period 1; cat
# enrolled fay, who joined in period 0 (outside a 2-period window by period 2).
KITS = """
id,sponsor_id,pv,joined_period,kit_bought,period
ann,,100,0,,1
bob,ann,100,1,1,1
cat,ann,60,1,0,1
dan,bob,80,1,yes,1
ann,,100,0,,2
bob,ann,100,1,,2
cat,ann,60,1,1,2
dan,bob,80,1,1,2
fay,cat,70,0,1,2
"""


def test_kit_column_and_window(tmp_path):
    # Period 1: bob (kit) -> ann 40; dan (kit) -> bob 40; cat has no kit yet.
    # Period 2: cat buys her kit in the 2nd period of her window -> ann 40; dan's second kit
    # line does not pay twice; fay joined in period 0: 2 - 0 = 2 is outside the window.
    # Total 120.
    plan = write(tmp_path / "plan.toml", KIT_PLAN)
    gen = write(tmp_path / "g.csv", KITS)
    out = tmp_path / "pay.csv"
    assert run_payout(gen, "--plan", plan, "--out", out) == 0
    t = pd.read_csv(out)
    got = {(r.period, r.id): r.fast_start for r in t.itertuples()}
    assert got[(1, "ann")] == 40 and got[(1, "bob")] == 40 and got[(2, "ann")] == 40
    assert t.fast_start.sum() == 120


def test_kit_requirement_without_kit_information_is_refused(tmp_path, capsys):
    plan = write(tmp_path / "plan.toml", KIT_PLAN)
    no_kit = "\n".join(
        ",".join(f for i, f in enumerate(line.split(",")) if i != 4)
        for line in KITS.strip().splitlines()
    )
    gen = write(tmp_path / "g.csv", no_kit)
    out = tmp_path / "pay.csv"
    with pytest.raises(UserError) as err:
        run_payout(gen, "--plan", plan, "--out", out)
    msg = str(err.value)
    assert "fast_start" in msg and "kit_bought column" in msg and "--assume-kits" in msg
    assert err.value.exit_code == 2
    assert not out.exists()
    # --assume-kits: every recruit bought a kit in the period it joined. Period 1: bob and cat
    # -> ann 80, dan -> bob 40; period 2: fay joined in period 0, not 2 -> no kit. Total 120.
    assert run_payout(gen, "--plan", plan, "--out", out, "--assume-kits") == 0
    summary = json.loads((tmp_path / "pay.summary.json").read_text())
    assert summary["notes"] == [
        "--assume-kits: every recruit bought a starter kit in the period it joined"
    ]
    t = pd.read_csv(out)
    got = {(r.period, r.id): r.fast_start for r in t.itertuples()}
    assert got[(1, "ann")] == 80 and got[(1, "bob")] == 40
    assert t.fast_start.sum() == 120


# --- inactive members' volume ------------------------------------------------------------------

INACTIVE = """
id,sponsor_id,pv,active
ann,,100,1
bob,ann,100,0
cat,ann,100,1
"""


@pytest.mark.parametrize(
    ("setting", "ann", "ratio"),
    [
        # Published rule (default "counts"): bob is inactive, not paid, but his 100 BV pays ann
        # and is revenue. Unilevel 50%: bob's 100 -> 50, cat's 100 -> 50: pre-cap 100. Revenue
        # 100 + 100 + 100 = 300, cap 30% -> 90: scale 0.9 -> ann 90; ratio 90 / 300.
        ("", 90, 0.3),
        # "excluded": only cat's 100 pays -> 50; revenue 200, cap 60 does not bind.
        ('inactive_volume = "excluded"', 50, 0.25),
    ],
)
def test_inactive_volume_pays_uplines_and_is_cap_revenue(tmp_path, setting, ann, ratio):
    plan = write(
        tmp_path / "plan.toml",
        f"[qualification]\nmin_pv = 100\n{setting}\n"
        "[unilevel]\npercentages = [0.5]\n[cap]\nratio = 0.3\n",
    )
    out = tmp_path / "pay.csv"
    assert run_payout(write(tmp_path / "g.csv", INACTIVE), "--plan", plan, "--out", out) == 0
    t = pd.read_csv(out).set_index("id")
    assert t.total.to_dict() == pytest.approx({"ann": ann, "bob": 0, "cat": 0})
    run = payout.pay_genealogy(tmp_path / "g.csv", plan)
    assert run.summary()["payout_ratio"] == pytest.approx(ratio)


def test_inactive_volume_is_a_matrix_source(tmp_path):
    # Matrix 2 wide, 2 deep, 10% / 5%. Placed by the rule: bob under ann, cat under bob. bob is
    # inactive (not paid) but his 200 BV is a source: ann level 1 -> 20; cat's 100 is ann's
    # level 2 -> 5: ann 25. bob's level-1 share of cat (10) is breakage.
    plan = write(
        tmp_path / "plan.toml",
        "[qualification]\nmin_pv = 50\n[matrix]\nwidth = 2\ndepth = 2\n"
        "percentages = [0.10, 0.05]\n",
    )
    gen = write(
        tmp_path / "g.csv", "id,sponsor_id,pv,active\nann,,100,1\nbob,ann,200,0\ncat,bob,100,1"
    )
    run = payout.pay_genealogy(gen, plan)
    assert run.results[0].components["matrix"] == pytest.approx([25, 0, 0])


# --- PV as its parts: purchases, customer orders, returns -------------------------------------

PARTS = """
id,sponsor_id,purchases,customer_pv,returns,sale_period,period
ann,,100,,,,1
bob,ann,200,50,,,1
ann,,100,,,,2
bob,ann,20,,80,1,2
"""
UNI10 = "[qualification]\nmin_pv = 50\n[unilevel]\npercentages = [0.10]\n"


@pytest.mark.parametrize(
    ("volume", "bob_pv", "ann_pay"),
    [
        # period_of_return (default): period 1 bob 200 + 50 = 250 -> ann 25; period 2 bob
        # 20 - 80 = -60, floored at 0 -> ann 0.
        ("", [250, 0], [25, 0]),
        # Not floored: PV -60 is kept (and pays nobody: only positive volume is a source).
        ("[volume]\nfloor_at_zero = false\n", [250, -60], [25, 0]),
        # clawback: the 80 returned in period 2 was sold in period 1: period 1 bob
        # 250 - 80 = 170 -> ann 17; period 2 bob 20 -> ann 2.
        ('[volume]\nreturns_timing = "clawback"\n', [170, 20], [17, 2]),
        # clawback within 2 periods: the return (1 period after the sale) is charged back.
        ('[volume]\nreturns_timing = "clawback"\nclawback_window_months = 2\n', [170, 20], [17, 2]),
        # clawback within 1 period only: made 1 period later, it lowers period 2's PV.
        ('[volume]\nreturns_timing = "clawback"\nclawback_window_months = 1\n', [250, 0], [25, 0]),
    ],
)
def test_net_volume_with_returns_in_both_timings(tmp_path, volume, bob_pv, ann_pay):
    plan = write(tmp_path / "plan.toml", UNI10 + volume)
    out = tmp_path / "pay.csv"
    assert run_payout(write(tmp_path / "g.csv", PARTS), "--plan", plan, "--out", out) == 0
    t = pd.read_csv(out)
    assert t[t.id == "bob"].pv.tolist() == bob_pv
    assert t[t.id == "bob"].bv.tolist() == bob_pv  # bv defaults to the net PV
    assert t[t.id == "ann"].unilevel.tolist() == pytest.approx(ann_pay)


def test_net_volume_errors_name_the_line(tmp_path):
    plan = write(tmp_path / "plan.toml", UNI10 + '[volume]\nreturns_timing = "clawback"\n')
    # The sale period is not in the file: it was paid by an earlier run.
    gen = write(tmp_path / "g.csv", PARTS.replace("80,1,2", "80,0,2"))
    with pytest.raises(UserError, match=r"line 5 \('sale period 0'\)"):
        payout.pay_genealogy(gen, plan)
    both = write(tmp_path / "b.csv", "id,sponsor_id,pv,purchases\nann,,100,100")
    with pytest.raises(UserError, match="give pv or its parts"):
        payout.pay_genealogy(both, plan)
    neg = write(tmp_path / "n.csv", "id,sponsor_id,purchases,returns\nann,,100,-5")
    with pytest.raises(UserError, match=r"returns is negative: line 2"):
        payout.pay_genealogy(neg, plan)


# --- retail margin -----------------------------------------------------------------------------


def test_retail_margin_column_is_reported_but_not_paid(tmp_path):
    # markup 20%: margin = retail sales x 0.2 / 1.2. bob sold 120 at retail -> 20; cat 60 ->
    # 10. Unilevel 10%: bob's 100 and cat's 100 -> ann 20. The margin is the distributors'
    # own profit: not in total, not in the payout ratio (20 / 300).
    plan = write(
        tmp_path / "plan.toml",
        "[qualification]\nmin_pv = 100\n[retail]\nmarkup = 0.20\n[retail_margin]\n"
        "[unilevel]\npercentages = [0.10]\n",
    )
    gen = write(
        tmp_path / "g.csv",
        "id,sponsor_id,pv,retail_sales\nann,,100,\nbob,ann,100,120\ncat,ann,100,60",
    )
    out = tmp_path / "pay.csv"
    assert run_payout(gen, "--plan", plan, "--out", out) == 0
    t = pd.read_csv(out).set_index("id")
    assert t.retail_margin.to_dict() == pytest.approx({"ann": 0, "bob": 20, "cat": 10})
    assert t.total.to_dict() == pytest.approx({"ann": 20, "bob": 0, "cat": 0})
    run = payout.pay_genealogy(gen, plan)
    assert run.summary()["payout_ratio"] == pytest.approx(20 / 300)
    assert run.summary()["retail_margin"] == pytest.approx(30)


# --- earnings computed elsewhere, named tables -------------------------------------------------

GIVEN = """
id,sponsor_id,pv,earned_unilevel
ann,,100,10
bob,ann,100,40
cat,bob,100,20
"""


def test_given_earnings_feed_a_matching_bonus_and_the_cap(tmp_path):
    # The unilevel was paid by another system: ann 10, bob 40, cat 20 (taken as given).
    # Matching 50% of generation 1 on it: ann matches bob's 40 -> 20; bob matches cat's 20 ->
    # 10. Pre-cap 70 + 30 = 100; revenue 300 x 25% = 75 -> every payout x 0.75:
    # ann (10 + 20) x 0.75 = 22.5, bob (40 + 10) x 0.75 = 37.5, cat 20 x 0.75 = 15.
    plan = write(
        tmp_path / "plan.toml",
        '[unilevel]\ngiven = true\n[matching]\npercentages = [0.5]\nbase = ["unilevel"]\n'
        "[cap]\nratio = 0.25\n",
    )
    run = payout.pay_genealogy(write(tmp_path / "g.csv", GIVEN), plan)
    r = run.results[0]
    assert r.components["unilevel"] == pytest.approx([7.5, 30, 15])
    assert r.components["matching"] == pytest.approx([15, 7.5, 0])
    assert r.total == pytest.approx([22.5, 37.5, 15])
    assert r.cap_scale == pytest.approx(0.75)


def test_two_named_matching_tables(tmp_path):
    # [[matching]] twice on the given unilevel: "match_gen1" 50% of generation 1 -> ann 20,
    # bob 10; "match_gen2" 25% of generation 2 only -> ann on cat's 20 = 5. No cap:
    # ann 10 + 20 + 5 = 35, bob 40 + 10 = 50, cat 20.
    plan = write(
        tmp_path / "plan.toml",
        """
[unilevel]
given = true

[[matching]]
name = "match_gen1"
percentages = [0.5]
base = ["unilevel"]

[[matching]]
name = "match_gen2"
percentages = [0.0, 0.25]
base = ["unilevel"]
""",
    )
    out = tmp_path / "pay.csv"
    assert run_payout(write(tmp_path / "g.csv", GIVEN), "--plan", plan, "--out", out) == 0
    t = pd.read_csv(out).set_index("id")
    assert t.match_gen1.tolist() == [20, 10, 0]
    assert t.match_gen2.tolist() == [5, 0, 0]
    assert t.total.tolist() == [35, 50, 20]


def test_given_earnings_must_match_the_plan(tmp_path):
    gen = write(tmp_path / "g.csv", GIVEN)
    computed = write(tmp_path / "c.toml", "[unilevel]\npercentages = [0.1]\n")
    with pytest.raises(UserError, match="earned_unilevel gives earnings the plan computes"):
        payout.pay_genealogy(gen, computed)
    other = write(tmp_path / "o.toml", "[stairstep]\n")
    with pytest.raises(UserError, match="the plan has no component 'unilevel'"):
        payout.pay_genealogy(gen, other)
    missing = write(tmp_path / "m.toml", "[unilevel]\ngiven = true\n")
    no_col = write(tmp_path / "n.csv", "id,sponsor_id,pv\nann,,100")
    with pytest.raises(UserError, match="add an earned_unilevel column"):
        payout.pay_genealogy(no_col, missing)


# --- the payout table's files: summary, --force, carried state ---------------------------------

DATA = Path(__file__).parent / "data" / "genealogy"


def split_periods(src: Path, folder: Path) -> list[Path]:
    """One file per period of ``src`` (same header)."""
    lines = src.read_text().strip().splitlines()
    header, rows = lines[0], [r for r in lines[1:] if r.strip()]
    col = header.split(",").index("period")
    out = []
    for p in sorted({r.split(",")[col] for r in rows}, key=int):
        path = folder / f"period_{p}.csv"
        write(path, "\n".join([header, *[r for r in rows if r.split(",")[col] == p]]))
        out.append(path)
    return out


@pytest.mark.parametrize(
    ("source", "plan"),
    [
        # Binary: week 2 needs week 1's placement tree and ann's carry (0 | 200).
        (DATA / "binary_two_weeks.csv", "binary_weekly_cap"),
        # Flat fast start: period 2 needs to know dan was paid for in period 1, and when cat
        # joined (period 1, from the joined_period column) for her window.
        (None, None),
    ],
)
def test_two_separate_files_pay_as_one_two_period_file(tmp_path, source, plan):
    if source is None:
        source = write(tmp_path / "kits.csv", KITS)
        plan = write(tmp_path / "plan.toml", KIT_PLAN)
    whole = tmp_path / "whole.csv"
    assert run_payout(source, "--plan", plan, "--out", whole) == 0
    first, second = split_periods(source, tmp_path)
    state = tmp_path / "state.npz"
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert run_payout(first, "--plan", plan, "--out", a, "--state-out", state) == 0
    assert run_payout(second, "--plan", plan, "--out", b, "--state-in", state) == 0
    together = pd.concat([pd.read_csv(a), pd.read_csv(b)], ignore_index=True)
    pd.testing.assert_frame_equal(together, pd.read_csv(whole))
    # Paying the same period again from the state is refused, and so is another plan.
    with pytest.raises(UserError, match="not after period 1"):
        run_payout(first, "--plan", plan, "--out", tmp_path / "c.csv", "--state-in", state)
    other = write(tmp_path / "other.toml", "[unilevel]\npercentages = [0.1]\n")
    with pytest.raises(UserError, match="continue with the same plan"):
        run_payout(second, "--plan", other, "--out", tmp_path / "d.csv", "--state-in", state)
    damaged = write(tmp_path / "damaged.npz", "not a state")
    with pytest.raises(UserError, match="not a state file written by mlmsim payout"):
        run_payout(second, "--plan", plan, "--out", tmp_path / "e.csv", "--state-in", damaged)


def test_summary_json_and_force(tmp_path):
    # binary_two_weeks (see test_payout_cli): 40 + 20 paid on 1,100 + 600 BV; binary breakage
    # 10 in week 2; no cap in the plan (factor 1).
    out = tmp_path / "pay.csv"
    src = DATA / "binary_two_weeks.csv"
    assert run_payout(src, "--plan", "binary_weekly_cap", "--out", out) == 0
    summary = json.loads((tmp_path / "pay.summary.json").read_text())
    assert summary["paid"] == pytest.approx(60)
    assert summary["components"] == pytest.approx({"binary": 60})
    assert summary["revenue"] == pytest.approx(1_700)
    assert summary["payout_ratio"] == pytest.approx(60 / 1_700)
    assert summary["breakage"]["binary"] == pytest.approx(10)
    assert summary["cap_factor"] == 1.0
    assert [p["paid"] for p in summary["by_period"]] == pytest.approx([40, 20])
    # An existing table is not replaced without --force, and nothing else is written.
    before = out.read_text()
    with pytest.raises(UserError, match="exists; pass --force"):
        run_payout(src, "--plan", "binary_weekly_cap", "--out", out)
    assert out.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pay.csv", "pay.summary.json"]
    assert run_payout(src, "--plan", "binary_weekly_cap", "--out", out, "--force") == 0


# --- input dialects ----------------------------------------------------------------------------

UNI = "[qualification]\nmin_pv = 50\n[unilevel]\npercentages = [0.10]\n"


@pytest.mark.parametrize(
    ("text", "options"),
    [
        # Semicolons and decimal commas (a European spreadsheet export), headers in capitals.
        ("ID;Sponsor_ID;PV\nann;;100,5\nbob;ann;50,25\ncat;ann;60", []),
        # The same with the dialect given.
        (
            "ID;Sponsor_ID;PV\nann;;100,5\nbob;ann;50,25\ncat;ann;60",
            ["--sep", ";", "--decimal", ","],
        ),
        # Tabs, points.
        ("id\tsponsor_id\tpv\nann\t\t100.5\nbob\tann\t50.25\ncat\tann\t60", []),
        # Roots marked with 0 or with their own id.
        ("id,sponsor_id,pv\nann,0,100.5\nbob,ann,50.25\ncat,ann,60", ["--root-marker", "0"]),
        ("id,sponsor_id,pv\nann,ann,100.5\nbob,ann,50.25\ncat,ann,60", ["--root-marker", "self"]),
    ],
)
def test_dialects_read_the_same_genealogy(tmp_path, text, options):
    # ann 100.5 PV, bob 50.25 and cat 60 under her; unilevel 10%: ann 5.025 + 6 = 11.025.
    plan = write(tmp_path / "plan.toml", UNI)
    out = tmp_path / "pay.csv"
    assert run_payout(write(tmp_path / "g.csv", text), "--plan", plan, "--out", out, *options) == 0
    t = pd.read_csv(out).set_index("id")
    assert t.pv.to_dict() == pytest.approx({"ann": 100.5, "bob": 50.25, "cat": 60})
    assert t.unilevel.to_dict() == pytest.approx({"ann": 11.025, "bob": 0, "cat": 0})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,sponsor_id,pv\nann,0,100\nbob,ann,50", r"pass --root-marker 0\): line 2"),
        ("id,sponsor_id,pv\nann,ann,100\nbob,ann,50", r"own id.*pass --root-marker self.*line 2"),
        # Decimal commas in a comma-separated file split the field: the line is named.
        (
            "id,sponsor_id,pv\nann,,100\nbob,ann,50,5",
            r"expected 3 fields as in the header: lines 3",
        ),
        ("ID;SPONSOR_ID;PV\nann;;100\nbob;ann;x", r"pv is not a number: line 3 \('x'\)"),
        ("id;sponsor_id;pv\nann;;100\nbob;ann;1.234,5", r"pv is not a number: line 3"),
    ],
)
def test_dialect_mistakes_name_the_line_and_the_fix(tmp_path, text, message):
    plan = write(tmp_path / "plan.toml", UNI)
    gen = write(tmp_path / "g.csv", text)
    out = tmp_path / "pay.csv"
    with pytest.raises(UserError, match=message) as err:
        run_payout(gen, "--plan", plan, "--out", out)
    assert err.value.exit_code == 2
    assert not out.exists() and not (tmp_path / "pay.summary.json").exists()


def write_xlsx(path: Path, rows: list[list]) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_xlsx_is_read_directly_and_errors_name_the_spreadsheet_row(tmp_path):
    # Row 3 is empty (skipped, as a spreadsheet shows it); numbers are Excel numbers.
    plan = write(tmp_path / "plan.toml", UNI)
    rows = [["ID", "Sponsor_ID", "PV"], ["ann", None, 100.5], [], ["bob", "ann", 50.25]]
    rows.append(["cat", "ann", 60])
    out = tmp_path / "pay.csv"
    assert run_payout(write_xlsx(tmp_path / "g.xlsx", rows), "--plan", plan, "--out", out) == 0
    t = pd.read_csv(out).set_index("id")
    assert t.unilevel.to_dict() == pytest.approx({"ann": 11.025, "bob": 0, "cat": 0})
    rows[4] = ["cat", "ann", -60]
    with pytest.raises(UserError, match=r"pv is negative: line 5 \('-60'\)"):
        payout.pay_genealogy(write_xlsx(tmp_path / "bad.xlsx", rows), plan)
    rows[4] = ["cat", 0, 60]
    with pytest.raises(UserError, match=r"--root-marker 0\): line 5"):
        payout.pay_genealogy(write_xlsx(tmp_path / "zero.xlsx", rows), plan)
    damaged = write(tmp_path / "damaged.xlsx", "not a workbook")
    with pytest.raises(UserError, match=r"not a readable \.xlsx workbook"):
        payout.pay_genealogy(damaged, plan)


def test_the_documented_worked_example(tmp_path):
    # docs/plans.md "Worked example": the files there are these, and so are the numbers.
    doc = (Path(__file__).resolve().parents[1] / "docs" / "plans.md").read_text()
    gen, plan = DATA / "worked_example.csv", DATA / "worked_example_plan.toml"
    assert gen.read_text() in doc and plan.read_text() in doc
    out = tmp_path / "payouts.csv"
    assert run_payout(gen, "--plan", plan, "--out", out) == 0
    assert out.read_text() in doc
    t = pd.read_csv(out).set_index("id")
    assert t.total.to_dict() == pytest.approx(
        {"ann": 63.7, "bob": 51, "cat": 0, "dan": 0, "eve": 0}
    )
    s = json.loads((tmp_path / "payouts.summary.json").read_text())
    assert s["paid"] == pytest.approx(114.7) and s["revenue"] == pytest.approx(520)
    assert s["breakage"]["unilevel"] == pytest.approx(27.5)
    assert s["breakage"]["matching"] == pytest.approx(5.9)
    assert s["retail_margin"] == pytest.approx(50)


@pytest.mark.parametrize("plan", ["binary_weekly_cap", "matrix_3x7", "unilevel_7_dt"])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_carried_state_equals_one_file_on_random_genealogies(tmp_path_factory, plan, data):
    # Random growth over three periods: each period keeps everyone so far, some inactive, and
    # adds recruits under earlier members (placed by the plan's rule). Paying period by period
    # through state files gives exactly the lines of paying the whole file.
    n0 = data.draw(st.integers(1, 4))
    growth = [data.draw(st.integers(0, 6)) for _ in range(2)]
    lines = ["id,sponsor_id,pv,active,period"]
    sponsors: list[int] = [-1] * n0
    for p, extra in enumerate([0, *growth], start=1):
        for _ in range(extra):
            sponsors.append(data.draw(st.integers(0, len(sponsors) - 1)))
        for i, s in enumerate(sponsors):
            pv = data.draw(st.sampled_from([0, 50, 100, 150, 400]))
            active = data.draw(st.sampled_from([1, 1, 1, 0]))
            lines.append(f"m{i},{'' if s < 0 else f'm{s}'},{pv},{active},{p}")
    folder = tmp_path_factory.mktemp("split")
    whole = write(folder / "whole.csv", "\n".join(lines))
    assert run_payout(whole, "--plan", plan, "--out", folder / "all.csv") == 0
    parts, state = [], None
    for i, f in enumerate(split_periods(whole, folder)):
        out, new_state = folder / f"p{i}.csv", folder / f"s{i}.npz"
        args = [f, "--plan", plan, "--out", out, "--state-out", new_state]
        assert run_payout(*args, *(["--state-in", state] if state else [])) == 0
        parts.append(pd.read_csv(out, dtype=str, keep_default_na=False))
        state = new_state
    together = pd.concat(parts, ignore_index=True)
    pd.testing.assert_frame_equal(
        together, pd.read_csv(folder / "all.csv", dtype=str, keep_default_na=False)
    )
