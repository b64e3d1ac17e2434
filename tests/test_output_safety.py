"""Output paths and locks: nothing escapes the chosen folder, one writer per folder,
nothing half-written, no temporary files left behind (docs/safety.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from simulation.cli import main
from simulation.errors import UserError
from simulation.safepath import FolderLock, safe_name

ROOT = Path(__file__).resolve().parents[1]
GENEALOGY = ROOT / "tests" / "data" / "genealogy" / "binary_two_weeks.csv"

SMALL = """
[scenario]
name = {name}
months = 3
[market]
population = 200
founders = 2
mean_degree = 4
"""


def small_scenario(tmp_path: Path, name: str = "small") -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(SMALL.format(name=json.dumps(name)), encoding="utf-8")
    return path


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def wait_for(predicate, what: str, timeout: float = 300.0) -> None:
    """Wait on state (generous bound for a busy machine), never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("name", "component"),
    [
        ("../../x", "x"),
        ("/tmp/evil", "tmp_evil"),
        ("..", "unnamed"),
        ("a/../../b", "a_b"),
        ("my run", "my_run"),
        ("classroom", "classroom"),
        ("Übersicht 2024", "Übersicht_2024"),
        ("a\\..\\b", "a_b"),
    ],
)
def test_safe_name(name, component):
    assert safe_name(name) == component


@pytest.mark.parametrize("name", ["../../x", "/tmp/mlmsim-absolute-name"])
def test_scenario_name_cannot_leave_results(tmp_path, monkeypatch, name, capsys):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    scen = small_scenario(tmp_path, name)
    monkeypatch.chdir(work)
    assert main(["run", str(scen), "--quiet", "--no-figures"]) == 0
    (run_dir,) = (work / "results").glob("*/*")
    assert run_dir.parent.name == safe_name(name)
    assert (run_dir / "manifest.json").is_file()
    # nothing anywhere else: only the scenario file and the results tree
    outside = {p for p in tmp_path.rglob("*") if work / "results" not in (p, *p.parents)}
    assert outside == {scen, tmp_path / "a", work}
    assert not Path("/tmp/mlmsim-absolute-name").exists()


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        ("file", "is a file, expected a folder"),
        ("empty", "--out is empty"),
        ("device", "is a device, expected a folder"),
        ("under_file", "is a file, not a folder"),
    ],
)
def test_run_out_refused_before_simulating(tmp_path, make, fragment, capsys):
    scen = small_scenario(tmp_path)
    target = tmp_path / "out"
    if make == "file":
        target.write_text("keep me", encoding="utf-8")
        out = str(target)
    elif make == "empty":
        out = ""
    elif make == "device":
        out = "/dev/null"
    else:
        target.write_text("keep me", encoding="utf-8")
        out = str(target / "run")
    before = files_under(tmp_path)
    code = main(["run", str(scen), "--out", out, "--quiet", "--no-figures"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert fragment in err
    assert "Traceback" not in err
    assert files_under(tmp_path) == before
    if make in ("file", "under_file"):
        assert target.read_text(encoding="utf-8") == "keep me"
    assert Path("/dev/null").is_char_device()


def test_run_out_symlink_out_of_the_folder_is_refused(tmp_path, capsys):
    scen = small_scenario(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "figures").symlink_to(elsewhere, target_is_directory=True)
    code = main(["run", str(scen), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "symbolic link pointing outside" in err
    assert list(elsewhere.iterdir()) == []
    assert files_under(out) == {"figures"}


def test_run_into_finished_run_or_sweep_folder_refused(tmp_path, capsys):
    scen = small_scenario(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(scen), "--out", str(out), "--quiet", "--no-figures"]) == 0
    manifest = (out / "manifest.json").read_bytes()
    assert main(["run", str(scen), "--out", str(out), "--quiet", "--seed", "7"]) == 2
    assert "already holds a finished run" in capsys.readouterr().err
    assert (out / "manifest.json").read_bytes() == manifest
    assert ".lock" not in files_under(out)


def test_failed_run_leaves_no_folder(tmp_path, capsys):
    # A population the network cannot be built for fails inside the run: no empty folder.
    scen = tmp_path / "s.toml"
    edges = tmp_path / "edges.txt"
    edges.write_text("0 1\n1 999\n", encoding="utf-8")
    scen.write_text(
        f"[market]\npopulation = 100\nnetwork = 'edge_list'\nedge_list = '{edges}'\n",
        encoding="utf-8",
    )
    out = tmp_path / "new" / "run"
    assert main(["run", str(scen), "--out", str(out), "--quiet", "--no-figures"]) == 2
    assert "out of range" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_only_mlmsim_temporaries_are_removed(tmp_path):
    from simulation.safepath import remove_stale_temporaries

    keep = [".editor.swp.tmp", "notes.tmp", ".x.abc.tmp", "deep/.a.csv.abcd1234.tmp"]
    for name in [*keep, ".a.csv.abcd1234.tmp", "runs/.r.json.abcd_234.tmp"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert remove_stale_temporaries(tmp_path) == 2
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        ".editor.swp.tmp",
        ".x.abc.tmp",
        "deep/.a.csv.abcd1234.tmp",
        "notes.tmp",
    ]


def test_stale_temporary_files_removed_on_the_next_run(tmp_path, capsys):
    scen = small_scenario(tmp_path)
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    # what a run killed mid-write leaves: temporary files beside and below the tables
    (out / ".monthly.csv.k2j3h4x8.tmp").write_text("half", encoding="utf-8")
    (out / "figures" / ".growth.png.a1b2c3d4.tmp").write_bytes(b"half")
    assert main(["run", str(scen), "--out", str(out), "--quiet"]) == 0
    left = [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name == ".lock"]
    assert left == []
    assert (out / "manifest.json").is_file()


def _mlmsim(*args: str) -> list[str]:
    return [sys.executable, "-m", "simulation", *args]


def test_run_killed_mid_write_then_rerun_leaves_no_temporary_files(tmp_path):
    scen = tmp_path / "big.toml"
    scen.write_text("[scenario]\nmonths = 24\n[market]\npopulation = 60000\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _mlmsim("run", str(scen), "--out", str(out), "--quiet"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # killed while writing: after the first table, before the manifest
        wait_for(lambda: (out / "monthly.csv").exists() or proc.poll() is not None, "a table")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    if proc.returncode == 0:
        pytest.skip("the run finished before it could be killed")
    assert not (out / "manifest.json").exists()
    # what an unlucky kill leaves (the kill above may fall between files)
    (out / ".levels.csv.zz9_ab12.tmp").write_text("half", encoding="utf-8")
    done = subprocess.run(
        _mlmsim("run", str(scen), "--out", str(out), "--quiet", "--no-figures"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [p for p in out.rglob("*") if p.name.endswith(".tmp")] == []
    assert (out / "manifest.json").is_file()


def test_two_runs_into_one_folder_exactly_one_succeeds(tmp_path):
    scen = tmp_path / "big.toml"
    scen.write_text("[scenario]\nmonths = 36\n[market]\npopulation = 60000\n", encoding="utf-8")
    out = tmp_path / "out"
    first = subprocess.Popen(
        _mlmsim("run", str(scen), "--out", str(out), "--quiet", "--no-figures", "--seed", "1"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the first run holds the folder's lock from before it simulates until it is done
        wait_for(lambda: (out / ".lock").exists() or first.poll() is not None, "the lock")
        second = subprocess.run(
            _mlmsim("run", str(scen), "--out", str(out), "--quiet", "--no-figures", "--seed", "2"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        _, first_err = first.communicate()
    assert first.returncode == 0, first_err
    assert second.returncode == 2
    assert "Traceback" not in second.stderr
    assert (
        "another mlmsim command is writing this folder" in second.stderr
        or "already holds a finished run" in second.stderr  # the first was already done
    )
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 1
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["seed"] == 1
    assert len(pd.read_csv(out / "monthly.csv")) == 37
    assert not (out / ".lock").exists()


def test_folder_lock_refuses_a_second_holder_and_cleans_up(tmp_path):
    with FolderLock(tmp_path, remove=True):
        assert (tmp_path / ".lock").exists()
        with pytest.raises(UserError, match="another mlmsim command is writing"):
            FolderLock(tmp_path).acquire()
    assert not (tmp_path / ".lock").exists()
    with FolderLock(tmp_path):  # free again
        pass


def test_lock_released_when_the_holder_is_killed(tmp_path):
    code = (
        "import sys, time; from simulation.safepath import FolderLock;"
        f"l = FolderLock(__import__('pathlib').Path({str(tmp_path)!r})); l.acquire();"
        "print('held', flush=True); time.sleep(600)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(UserError):
            FolderLock(tmp_path).acquire()
        proc.kill()
    finally:
        proc.wait()
    with FolderLock(tmp_path):
        pass


# ------------------------------------------------------------------------------------------
# payout and report outputs


def test_payout_out_is_the_genealogy(tmp_path, capsys):
    gen = tmp_path / "g.csv"
    gen.write_bytes(GENEALOGY.read_bytes())
    code = main(["payout", str(gen), "--plan", "binary_weekly_cap", "--out", str(gen)])
    err = capsys.readouterr().err
    assert code == 2
    assert "is the input file" in err
    assert gen.read_bytes() == GENEALOGY.read_bytes()
    assert files_under(tmp_path) == {"g.csv"}


def test_payout_out_device_refused(tmp_path, capsys):
    code = main(["payout", str(GENEALOGY), "--plan", "binary_weekly_cap", "--out", "/dev/null"])
    assert code == 2
    assert "/dev/null: is a device, expected a regular file" in capsys.readouterr().err
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize(("out", "fragment"), [("", "--out is empty"), (".", "is a folder")])
def test_payout_out_empty_or_folder(tmp_path, monkeypatch, out, fragment, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["payout", str(GENEALOGY), "--plan", "binary_weekly_cap", "--out", out])
    assert code == 2
    assert fragment in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_payout_leaves_no_lock_or_temporary_files(tmp_path, capsys):
    out = tmp_path / "p.csv"
    (tmp_path / ".p.csv.st4le_0k.tmp").write_text("half", encoding="utf-8")
    code = main(["payout", str(GENEALOGY), "--plan", "binary_weekly_cap", "--out", str(out)])
    assert code == 0
    # The table and its summary beside it; no lock, no temporary file.
    assert files_under(tmp_path) == {"p.csv", "p.summary.json"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    scen = small_scenario(tmp)
    out = tmp / "run"
    assert main(["run", str(scen), "--out", str(out), "--quiet", "--no-figures"]) == 0
    return out


def test_report_out_folder_device_or_input_refused(run_dir, tmp_path, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    for out, fragment in [
        (str(tmp_path), "is a folder, expected a file name"),
        ("/dev/null", "is a device"),
        (str(run_dir / "monthly.csv"), "is the input file"),
        (str(tmp_path / "file" / "r.html"), "does not exist"),
    ]:
        assert main(["report", str(run_dir), "--out", out]) == 2
        err = capsys.readouterr().err
        assert fragment in err, err
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == before
    assert list(tmp_path.iterdir()) == []


def test_report_refused_while_a_command_writes_the_run_folder(run_dir, capsys):
    with FolderLock(run_dir, remove=True):
        assert main(["report", str(run_dir)]) == 2
    assert "another mlmsim command is writing this folder" in capsys.readouterr().err
    assert not (run_dir / "report.html").exists()


# ------------------------------------------------------------------------------------------
# sweeps

SWEEP = """
[sweep]
name = {name}
scenario = "scenario.toml"
replicates = 1
[parameters]
"recruit.join_prob" = [0.2, 0.3]
"""


def small_sweep(tmp_path: Path, name: str) -> Path:
    small_scenario(tmp_path)
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(name=json.dumps(name)), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["../../x", "/tmp/mlmsim-absolute-sweep"])
def test_sweep_name_cannot_leave_results(tmp_path, monkeypatch, name, capsys):
    sweep = small_sweep(tmp_path, name)
    work = tmp_path / "w"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["sweep", str(sweep), "--workers", "1", "--quiet", "--no-report"]) == 0
    assert (work / "results" / "sweeps" / safe_name(name) / "manifest.json").is_file()
    assert {p.name for p in tmp_path.iterdir()} == {"scenario.toml", "sweep.toml", "w"}
    assert not Path("/tmp/mlmsim-absolute-sweep").exists()


def test_sweep_into_a_finished_run_folder_refused(run_dir, tmp_path, capsys):
    sweep = small_sweep(tmp_path, "s")
    manifest = (run_dir / "manifest.json").read_bytes()
    before = files_under(run_dir)
    code = main(["sweep", str(sweep), "--out", str(run_dir), "--workers", "1", "--quiet"])
    assert code == 2
    assert "holds a finished run, not a sweep" in capsys.readouterr().err
    assert (run_dir / "manifest.json").read_bytes() == manifest
    assert files_under(run_dir) == before


def test_sweep_refused_while_another_writes_the_folder(tmp_path, capsys):
    sweep = small_sweep(tmp_path, "s")
    out = tmp_path / "out"
    out.mkdir()
    with FolderLock(out, remove=True):
        code = main(["sweep", str(sweep), "--out", str(out), "--workers", "1", "--quiet"])
    assert code == 2
    assert "another mlmsim command is writing this folder" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_sweep_out_is_a_file_refused(tmp_path, capsys):
    sweep = small_sweep(tmp_path, "s")
    out = tmp_path / "out"
    out.write_text("x", encoding="utf-8")
    code = main(["sweep", str(sweep), "--out", str(out), "--workers", "1", "--quiet"])
    assert code == 2
    assert "is a file, expected a folder" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "x"


def test_environment_has_no_stale_state():
    assert os.path.exists("/dev/null") and Path("/dev/null").is_char_device()
