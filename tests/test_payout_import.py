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
