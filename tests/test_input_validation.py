"""Valid inputs that must keep working next to the strict checks (BOM, integers for decimals,
--set text), the memory estimate, bounded reads, and spreadsheet-safe CSV output."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from simulation import memory, userfile
from simulation.cli import main
from simulation.config import load_scenario
from simulation.errors import ConfigError
from simulation.results import spreadsheet_safe, spreadsheet_safe_frame, write_csv
from simulation.sweep import load_sweep

BOM = b"\xef\xbb\xbf"
SMALL = "[scenario]\nmonths = 3\n[market]\npopulation = 200\nmean_degree = 4\n"


def test_bom_scenario_runs(tmp_path, capsys):
    path = tmp_path / "notepad.toml"
    path.write_bytes(BOM + SMALL.replace("\n", "\r\n").encode())
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--no-figures"]) == 0
    assert (out / "manifest.json").is_file()


def test_bom_sweep_and_plan_are_read(tmp_path):
    (tmp_path / "s.toml").write_bytes(BOM + SMALL.encode())
    plan = (Path(__file__).resolve().parents[1] / "scenarios/plans/unilevel_5.toml").read_bytes()
    (tmp_path / "p.toml").write_bytes(BOM + plan)
    (tmp_path / "sweep.toml").write_bytes(
        BOM
        + b'[sweep]\nscenario = "s.toml"\n[parameters]\n"recruit.join_prob" = [0.2, 0.3]\n'
        + b'"plan.file" = ["p.toml"]\n'
    )
    sweep = load_sweep(tmp_path / "sweep.toml")
    assert len(sweep.points) == 2
    assert sweep.plans["p.toml"]["data"]["unilevel"]["percentages"] == [
        0.08,
        0.05,
        0.04,
        0.04,
        0.04,
    ]


def test_integer_for_a_decimal_and_set_text(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SMALL + "[recruit]\njoin_prob = 1\n", encoding="utf-8")
    scen, _ = load_scenario(path, ["scenario.name=2024", "market.population=300"])
    assert scen.recruit.join_prob == 1.0
    assert scen.scenario.name == "2024"
    assert scen.market.population == 300


def test_toml_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "big.toml"
    path.write_text(SMALL + "# " + "x" * 2000 + "\n", encoding="utf-8")
    monkeypatch.setattr(userfile, "MAX_TOML_BYTES", 1000)
    with pytest.raises(ConfigError, match=r"more than the limit of 1,000 bytes"):
        load_scenario(path)


def test_memory_estimate_matches_its_formula_and_refuses(monkeypatch, tmp_path):
    # 1,000,000 persons x 1,000 contacts: 160 MiB + 1e6 x (230 + 1,400) + 1e9 x 12 bytes
    need = memory.estimate_bytes(1_000_000, 1000, "small_world")
    assert need == 160 * 1024**2 + 1_000_000 * 1630 + 1_000_000_000 * 12
    assert memory.estimate_bytes(1_000_000, 1000, "well_mixed") == 160 * 1024**2 + 1_630_000_000
    path = tmp_path / "s.toml"
    path.write_text("[market]\npopulation = 1000000\nmean_degree = 1000\n", encoding="utf-8")
    monkeypatch.setattr(memory, "machine_memory", lambda: 8 * 1024**3)
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert "needs up to 12.9 GB of memory" in str(caught.value)
    assert "more than this machine's 8.0 GB" in str(caught.value)


def test_machine_memory_is_read():
    have = memory.machine_memory()
    assert have is None or have > 256 * 1024**2


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-5", "-5"),  # a number to a spreadsheet, not a formula
        ("+1.5e3", "+1.5e3"),
        ("ann", "ann"),
        ("", ""),
        (-5.5, -5.5),
    ],
)
def test_spreadsheet_safe_cells(cell, written):
    assert spreadsheet_safe(cell) == written


def test_write_csv_neutralises_text_only(tmp_path):
    frame = pd.DataFrame({"label": ["=1+1", "ok", "@x"], "amount": [-5.5, 2.0, -1.0]})
    write_csv(frame, tmp_path / "t.csv")
    with open(tmp_path / "t.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == [["label", "amount"], ["'=1+1", "-5.5"], ["ok", "2"], ["'@x", "-1"]]
    assert spreadsheet_safe_frame(frame)["amount"].tolist() == [-5.5, 2.0, -1.0]
    assert frame["label"].tolist() == ["=1+1", "ok", "@x"]  # the caller's frame is unchanged


def test_payout_ids_cannot_run_as_formulas(tmp_path, capsys):
    gen = tmp_path / "g.csv"
    gen.write_text(
        'id,sponsor_id,pv\n"=HYPERLINK(""http://x"",""y"")",,200\n@boss,"=HYPERLINK(""http://x"",""y"")",150\n'
        "-7,@boss,100\n",
        encoding="utf-8",
    )
    out = tmp_path / "p.csv"
    assert main(["payout", str(gen), "--plan", "unilevel_5", "--out", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ['\'=HYPERLINK("http://x","y")', "'@boss", "-7"]
    # amounts are numbers, untouched: @boss earns 8% of -7's 100 BV, the root 8% of 150 + 5% of 100
    assert [float(r["unilevel"]) for r in rows] == [pytest.approx(17.0), 8.0, 0.0]
    assert not any(c.startswith(("=", "@")) for r in rows for c in r.values())
