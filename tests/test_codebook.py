"""The codebook describes every column of every output table, and each folder carries its own.

A table that gains a column the codebook does not describe fails here: the run folders (a
classroom run, and a run with a fast start plan and rejoining switched on), a small sweep and
payout tables of the test genealogies are checked column by column, against the files
actually written.
"""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from simulation import codebook, collect, outcomes
from simulation.cli import main
from simulation.config import load_scenario
from simulation.metrics import CONCENTRATION_COLUMNS, IDS_COLUMNS, SATURATION_COLUMNS
from simulation.runner import run_scenario
from simulation.state import FIELDS
from simulation.sweep import load_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
GENEALOGY = ROOT / "tests" / "data" / "genealogy"

SMALL_SWEEP = """
[sweep]
name = "tiny"
scenario = "classroom"
design = "grid"
replicates = 1
master_seed = 5

[base]
market.population = 300
scenario.months = 12

[parameters]
recruit.join_prob = [0.3, 0.7]
plan.file = ["unilevel_5", "recruiting_heavy"]
"""


# The ranked binary plan of test_payout_cli.py, which pays the genealogy all_columns.csv.
RANKED_BINARY = (
    '[ranks]\nuse_given = true\ntable = [{name = "silver"}, {name = "gold"}]\n'
    "[binary]\npct = 0.10\npct_by_rank = { gold = 0.20 }\n"
)


def _run(tmp_path: Path, name: str, *overrides: str) -> Path:
    scenario, path = load_scenario(
        ROOT / "scenarios" / "classroom.toml",
        ["market.population=300", "scenario.months=14", *overrides],
    )
    out = tmp_path / name
    run_scenario(scenario, scenario_path=path, out=out, figures=False)
    return out


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    return [
        _run(tmp, "classroom"),
        _run(tmp, "fast_start", 'plan.file="unilevel_7_dt"', "rejoin.enabled=true"),
    ]


def _check_folder(folder: Path, tables, prefix: str = "") -> dict:
    """Every column of every table in ``folder`` is described; returns {table: columns}."""
    seen = {}
    for name in tables:
        path = folder / name
        if not path.is_file():
            continue
        cols = codebook.file_columns(path)
        _, missing = codebook.describe(prefix + name, cols)
        assert not missing, f"{name}: columns not in the codebook: {missing}"
        seen[name] = cols
    return seen


def test_every_entry_has_a_meaning_unit_and_population():
    book = codebook.codebook()
    assert set(book) == {
        *codebook.RUN_TABLES,
        *(codebook.SWEEP + t for t in codebook.SWEEP_TABLES),
        *(codebook.ENSEMBLE + t for t in codebook.ENSEMBLE_TABLES),
        codebook.PAYOUT_KIND + codebook.PAYOUT_TABLE,
        codebook.PAYOUT_KIND + codebook.PAYOUT_SUMMARY_FILE,
        *(codebook.MARKET + t for t in codebook.MARKET_TABLES),
    }
    for table, columns in book.items():
        assert columns, table
        for column, entry in columns.items():
            assert set(entry) == {"meaning", "unit", "population"}, (table, column)
            for key, text in entry.items():
                assert isinstance(text, str) and text.strip(), (table, column, key)


def test_codebook_reuses_the_descriptions_written_in_the_code():
    book = codebook.codebook()
    for col, text in collect.MONTHLY_COLUMNS.items():
        assert book["monthly.csv"][col]["meaning"] == text
    for col, text in collect.LEVEL_COLUMNS.items():
        assert book["levels.csv"][col]["meaning"] == text
    fields = {name: meaning for name, _, _, meaning in FIELDS}
    assert book["distributors.parquet"]["pv_total"]["meaning"] == fields["pv_total"]
    assert book["distributors.parquet"]["sponsor"]["meaning"].startswith(fields["sponsor"])
    for col, text in outcomes.OUTCOMES.items():
        assert book["sweep/runs.parquet"][col]["meaning"] == text
    # Each metrics module's column list is the codebook's column list, in order.
    assert tuple(book["concentration.csv"]) == CONCENTRATION_COLUMNS
    assert set(SATURATION_COLUMNS) < set(book["level_saturation.csv"])
    assert set(IDS_COLUMNS) - {"status", "join_month", "quit_month"} < set(
        book["distributors.parquet"]
    )


def test_patterns_resolve_and_unknown_columns_are_reported():
    entries, missing = codebook.describe(
        "monthly.csv", ["month", "paid_unilevel", "paid_fast_start", "paid_recruiting", "bogus"]
    )
    assert missing == ["bogus"]
    # A patterned column gets the pattern's description with its own name filled in.
    assert entries["paid_unilevel"]["meaning"].startswith(
        "Paid this month by the plan component 'unilevel'"
    )
    assert entries["paid_recruiting"]["meaning"].startswith("Paid this month by plan components")
    ages, missing = codebook.describe("survival.csv", ["cohort", "n", "0", "13"])
    assert missing == [] and "still active 13 months after" in ages["13"]["meaning"]
    assert codebook.describe("survival.csv", ["x1"])[1] == ["x1"]
    table = "payout/<payout>.csv"
    assert codebook.describe(table, ["binary", "total"], components=["binary"])[1] == []
    assert codebook.describe(table, ["binary"], components=[])[1] == ["binary"]
    design = "sweep/design.parquet"
    got, missing = codebook.describe(design, ["run_id", "recruit.join_prob", "unit:market.n"])
    assert missing == [] and got["unit:market.n"]["unit"] == "share 0-1"
    assert "parameter recruit.join_prob (" in got["recruit.join_prob"]["meaning"]


def test_run_folders_every_column_described_and_columns_json_matches(run_dirs):
    for folder in run_dirs:
        seen = _check_folder(folder, codebook.RUN_TABLES)
        assert set(seen) == set(codebook.RUN_TABLES), folder.name
        data = json.loads((folder / "columns.json").read_text())
        assert data["codebook"] == "docs/codebook.md"
        # columns.json lists exactly the tables written and their columns, in file order.
        assert {t: list(c) for t, c in data["tables"].items()} == seen
        manifest = json.loads((folder / "manifest.json").read_text())
        assert "columns.json" in manifest["files"]
    classroom, fast = (json.loads((f / "columns.json").read_text())["tables"] for f in run_dirs)
    # Patterned and switched-on columns: each run lists its own.
    paid = [c for c in classroom["monthly.csv"] if c.startswith("paid_")]
    assert paid == ["paid_unilevel", "paid_recruiting"]
    fast_paid = [c for c in fast["monthly.csv"] if c.startswith("paid_")]
    assert "paid_fast_start" in fast_paid and "paid_fast_start" not in paid
    assert "rejoined" in fast["monthly.csv"] and "rejoined" not in classroom["monthly.csv"]
    assert fast["monthly.csv"]["paid_fast_start"]["unit"] == "USD"
    months = [c for c in classroom["survival.csv"] if c.isdigit()]
    assert months == [str(a) for a in range(15)]
    sponsor = classroom["distributors.parquet"]["sponsor"]["meaning"]
    assert "quitter" in sponsor and "-1" in sponsor


def test_sponsor_is_minus_one_for_quitters_as_documented(run_dirs):
    dist = pd.read_parquet(run_dirs[0] / "distributors.parquet")
    quit_ = dist["status"] == "quit"
    assert quit_.any() and (dist.loc[quit_, "sponsor"] == -1).all()
    roots = dist["level"] == 1
    assert (dist.loc[roots, "sponsor"] == -1).all() and (dist.loc[roots, "enroller"] == -1).all()


def test_sweep_folder_every_column_described(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text(SMALL_SWEEP, encoding="utf-8")
    out = tmp_path / "out"
    run_sweep(load_sweep(path), out, workers=1, progress=False, report=False)
    seen = _check_folder(out, codebook.SWEEP_TABLES, codebook.SWEEP)
    assert set(seen) == {"runs.parquet", "monthly.parquet", "design.parquet"}
    data = json.loads((out / "columns.json").read_text())
    assert {t: list(c) for t, c in data["tables"].items()} == seen
    runs = data["tables"]["runs.parquet"]
    assert runs["recruit.join_prob"]["meaning"].startswith("The value of the varied parameter")
    # Two plans: the union of their paid_<component> columns.
    paid = [c for c in seen["monthly.parquet"] if c.startswith("paid_")]
    assert len(paid) >= 3
    assert "columns.json" in json.loads((out / "manifest.json").read_text())["files"]


@pytest.mark.parametrize(
    ("genealogy", "plan", "components"),
    [
        ("binary_two_weeks.csv", "binary_weekly_cap", ["binary"]),
        ("matrix_spillover.csv", "matrix_3x7", ["matrix"]),
        ("all_columns.csv", RANKED_BINARY, ["binary"]),
    ],
)
def test_payout_table_every_column_described(tmp_path, genealogy, plan, components):
    if plan == RANKED_BINARY:  # a plan with ranks: the table has a rank column
        (tmp_path / "plan.toml").write_text(plan, encoding="utf-8")
        plan = str(tmp_path / "plan.toml")
    out = tmp_path / "pay.csv"
    assert main(["payout", str(GENEALOGY / genealogy), "--plan", plan, "--out", str(out)]) == 0
    cols = list(pd.read_csv(out, nrows=0).columns)
    summary = json.loads((tmp_path / "pay.summary.json").read_text())
    assert list(summary["columns"]) == cols
    for c in components:
        assert summary["columns"][c]["unit"] == "USD"
    if "all_columns" in genealogy:
        assert {"rank", "carry_left", "carry_right"} <= set(cols)
    _, missing = codebook.describe("payout/<payout>.csv", cols, components=components)
    assert not missing
    _, missing = codebook.describe("payout/<payout>.summary.json", list(summary))
    assert not missing


def test_committed_codebook_page_is_current():
    script = ROOT / "docs" / "gen_codebook.py"
    res = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr


def test_gen_codebook_check_detects_a_stale_page(tmp_path):
    script = ROOT / "docs" / "gen_codebook.py"
    page = tmp_path / "codebook.md"
    page.write_text("old\n", encoding="utf-8")
    stale = subprocess.run(
        [sys.executable, str(script), "--page", str(page), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert stale.returncode == 1 and "gen_codebook.py" in stale.stderr
    wrote = subprocess.run(
        [sys.executable, str(script), "--page", str(page)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrote.returncode == 0
    text = page.read_text(encoding="utf-8")
    assert "`paid_<component>`" in text and "`topup_pv`" in text and "`share_zero`" in text
