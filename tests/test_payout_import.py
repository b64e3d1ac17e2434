"""``mlmsim payout`` on what a company exports: starter kits, retail sales, volume given as its
parts (purchases, customer orders, returns), earnings computed elsewhere, inactive members'
volume, and the published override rule. Every expected number is worked out by hand in the
comments, on genealogies small enough to check with a pencil."""

import argparse
from pathlib import Path

import pandas as pd
import pytest

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
