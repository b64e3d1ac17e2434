"""The command line as a new user meets it: --version, --set mistakes, repeating a run, pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--set", "market.population=300", "--months", "6", "--quiet", "--no-figures"]


def mlmsim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "simulation", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


# ------------------------------------------------------------------------------ --version


def test_version_is_the_installed_package_version_and_the_pyproject_one():
    proc = mlmsim("--version")
    assert proc.returncode == 0, proc.stderr
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert proc.stdout.strip() == f"mlmsim {pyproject}" == f"mlmsim {version('mlmsim')}"


# ------------------------------------------------------------------------------ --set errors

# (command, the --set item) -> fragments of the one-line message
SET_MISTAKES = [
    (
        ["run"],
        "recruit.joinprob=0.3",
        [
            "--set 'recruit.joinprob=0.3': unknown key 'recruit.joinprob'",
            "closest valid keys: recruit.join_prob",
        ],
    ),
    (
        ["stress", "unilevel_5", "--seeds", "1"],
        "recruit.joinprob=0.3",
        [
            "--set 'recruit.joinprob=0.3': unknown key 'recruit.joinprob'",
            "closest valid keys: recruit.join_prob",
        ],
    ),
    (
        ["run"],
        "markets.population=300",
        ["unknown key 'markets.population'", "closest valid keys: market.population"],
    ),
    (["run"], "population=300", ["closest valid keys: market.population"]),
    (["run"], "market.colour=red", ["unknown key 'market.colour'", "[market]: market.population"]),
    (
        ["run"],
        "market.population=many",
        ["--set 'market.population=many': market.population = 'many'", "valid integer"],
    ),
    (["run"], "market.population", ["--set 'market.population': expected section.key=value"]),
]


@pytest.mark.parametrize(("command", "item", "fragments"), SET_MISTAKES)
def test_a_set_mistake_names_the_flag_the_key_and_the_closest_keys(
    command, item, fragments, capsys, tmp_path
):
    out = tmp_path / "out"
    code = main([*command, "--set", item, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    # A command-line mistake is not blamed on the scenario file.
    assert "classroom.toml" not in err
    assert not out.exists()


def test_a_set_mistake_from_the_shell_exits_2_without_a_traceback():
    proc = mlmsim("run", "--set", "recruit.joinprob=0.3", "--quiet")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "closest valid keys: recruit.join_prob" in proc.stderr


def test_a_check_across_keys_names_the_file_and_the_set(capsys):
    code = main(["run", "--set", "market.founders=5000", "--quiet", "--no-figures"])
    err = capsys.readouterr().err
    assert code == 2
    assert "classroom.toml with --set 'market.founders=5000'" in err
    assert "market.founders (5000) cannot exceed market.population (2000)" in err


def test_a_sweep_file_key_mistake_reads_like_a_set_mistake(tmp_path, capsys):
    sweep = tmp_path / "s.toml"
    sweep.write_text('[sweep]\nscenario = "classroom"\n[parameters]\nrecruit.joinprob = [0.1]\n')
    code = main(["sweep", str(sweep), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{sweep}: parameters.recruit.joinprob: unknown key 'recruit.joinprob'" in err
    assert "closest valid keys: recruit.join_prob" in err


# ------------------------------------------------------------------------------ --from


def test_a_run_repeated_from_its_folder_writes_the_same_bytes(tmp_path, capsys):
    first, again, positional = tmp_path / "first", tmp_path / "again", tmp_path / "positional"
    assert main(["run", *SMALL, "--seed", "3", "--out", str(first)]) == 0
    assert main(["run", "--from", str(first), "--quiet", "--no-figures", "--out", str(again)]) == 0
    manifest = str(first / "manifest.json")
    assert main(["run", manifest, "--quiet", "--no-figures", "--out", str(positional)]) == 0
    capsys.readouterr()
    files = set(json.loads((first / "manifest.json").read_text())["files"])
    assert {"monthly.csv", "levels.csv", "distributors.parquet"} <= files
    for repeat in (again, positional):
        assert set(json.loads((repeat / "manifest.json").read_text())["files"]) == files
        for name in sorted(files):
            assert (repeat / name).read_bytes() == (first / name).read_bytes(), name
    m1 = json.loads((first / "manifest.json").read_text())
    m2 = json.loads((again / "manifest.json").read_text())
    assert m1["overrides"] == ["market.population=300", "scenario.seed=3", "scenario.months=6"]
    assert m2["overrides"] == m1["overrides"] and m2["scenario"] == m1["scenario"]
    assert m2["repeated_from"] == str(first) and "repeated_from" not in m1


def test_a_repeat_does_not_read_the_scenario_or_plan_file_again(tmp_path, capsys):
    scen = tmp_path / "town.toml"
    plan = tmp_path / "plan.toml"
    plan.write_text((ROOT / "scenarios" / "plans" / "unilevel_5.toml").read_text())
    scen.write_text(
        '[scenario]\nname = "town"\nseed = 5\nmonths = 6\n[market]\npopulation = 300\n'
        '[plan]\nfile = "plan.toml"\n'
    )
    first, again = tmp_path / "first", tmp_path / "again"
    assert main(["run", str(scen), "--quiet", "--no-figures", "--out", str(first)]) == 0
    scen.write_text("this is no longer TOML")
    plan.unlink()
    assert main(["run", "--from", str(first), "--quiet", "--no-figures", "--out", str(again)]) == 0
    capsys.readouterr()
    for name in ("monthly.csv", "levels.csv", "distributors.parquet"):
        assert (again / name).read_bytes() == (first / name).read_bytes(), name


def test_a_repeat_with_a_change_records_it(tmp_path, capsys):
    first, again = tmp_path / "first", tmp_path / "again"
    assert main(["run", *SMALL, "--out", str(first)]) == 0
    assert main(["run", "--from", str(first), "--seed", "9", *SMALL[-2:], "--out", str(again)]) == 0
    capsys.readouterr()
    m2 = json.loads((again / "manifest.json").read_text())
    assert m2["seed"] == 9 and m2["overrides"][-1] == "scenario.seed=9"
    assert m2["scenario"]["market"]["population"] == 300


def test_the_folder_name_shows_the_overrides(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", *SMALL, "--set", "recruit.join_prob=0.3"]) == 0
    (run,) = (tmp_path / "results" / "classroom").iterdir()
    assert run.name.endswith(
        "-seed42-market.population=300-recruit.join_prob=0.3-scenario.months=6"
    ), run.name
    assert f"results: results/classroom/{run.name}" in capsys.readouterr().out


def test_a_long_or_odd_override_list_gives_a_safe_short_name():
    from simulation.results import LABEL_MAX, override_label

    label = override_label(
        ["plan.file=../plans/x y.toml", *[f"market.population={i}" for i in range(30)]]
    )
    assert len(label) == LABEL_MAX + 1 and "/" not in label and " " not in label
    assert override_label(["scenario.seed=3"]) == ""
    assert label != override_label(["plan.file=../plans/x y.toml", "market.population=0"])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--from", "nowhere"], "--from nowhere: no manifest.json there"),
        (["classroom", "--from", "x"], "give one"),
    ],
)
def test_bad_from(args, fragment, capsys, tmp_path):
    assert main(["run", *args, "--quiet", "--out", str(tmp_path / "o")]) == 2
    assert fragment in capsys.readouterr().err


def test_a_manifest_that_is_not_one(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text('{"hello": 1}')
    assert main(["run", "--from", str(tmp_path), "--quiet", "--out", str(tmp_path / "o")]) == 2
    assert "not a run manifest (no scenario, plan, seed)" in capsys.readouterr().err


# ------------------------------------------------------------------------------ pipes


def test_a_reader_that_stops_early_ends_the_command_quietly():
    read, write = os.pipe()
    os.close(read)  # as `mlmsim schema | head` once head has exited
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "simulation", "schema"],
            cwd=ROOT,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write)
    assert proc.stderr == ""
    assert proc.returncode == 141  # the shell's status for a command ended by SIGPIPE


# --------------------------------------------------------------- plan values with --set


def test_set_changes_a_plan_value_and_the_manifest_records_it(tmp_path):
    base = ["--set", "market.population=400", "--set", "quit.enabled=false", "--months", "8"]
    base += ["--quiet", "--no-figures"]
    plain, double = tmp_path / "plain", tmp_path / "double"
    assert main(["run", *base, "--out", str(plain)]) == 0
    changed = "plan.unilevel.percentages=[0.16, 0.10, 0.08, 0.08, 0.08]"
    assert main(["run", *base, "--set", changed, "--out", str(double)]) == 0
    a = pd.read_csv(plain / "monthly.csv")
    b = pd.read_csv(double / "monthly.csv")
    # The same market (without quits or expectations, pay does not change who joins or
    # buys); every unilevel percentage doubled and the cap (45%) far away: twice the pay.
    assert (a["joined"] == b["joined"]).all()
    assert a["paid_unilevel"].sum() > 0
    assert np.allclose(b["paid_unilevel"], 2 * a["paid_unilevel"], rtol=1e-9)
    manifest = json.loads((double / "manifest.json").read_text())
    assert manifest["plan"]["unilevel"]["percentages"] == [0.16, 0.10, 0.08, 0.08, 0.08]
    assert manifest["scenario"]["plan"]["set"] == {
        "unilevel.percentages": [0.16, 0.10, 0.08, 0.08, 0.08]
    }


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ("plan.binary.pay_pct=0.1", "the plan has no [binary] table"),
        ("plan.unilevel.colour=1", "unknown key"),
        ("plan.cap.ratio=2", "cap.ratio"),
    ],
)
def test_a_bad_plan_value_is_refused_before_anything_runs(tmp_path, capsys, change, fragment):
    out = tmp_path / "run"
    code = main(["run", "--set", change, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err
    assert not out.exists()
