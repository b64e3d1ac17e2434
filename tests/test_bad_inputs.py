"""The corpus of bad inputs (tests/data/bad_inputs/cases.toml): scenario, plan, genealogy,
sweep and command-line mistakes, careless and hostile. Each must end with exit status 2, one
message holding the expected fragments (and none of the forbidden ones), no traceback, and
nothing written or changed anywhere."""

from __future__ import annotations

import shutil
import tomllib
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from simulation.cli import main
from simulation.safepath import FolderLock

DATA = Path(__file__).parent / "data" / "bad_inputs"
CASES = tomllib.loads((DATA / "cases.toml").read_text(encoding="utf-8"))["case"]
KINDS = ("scenario", "plan", "genealogy", "sweep", "cli")


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` (links not followed): size and modification time."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(folder))] = (p.is_symlink(), p.is_dir(), st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "run"
    code = main(["run", str(DATA / "scenario_ok.toml"), "--out", str(out), "--quiet",
                 "--no-figures"])  # fmt: skip
    assert code == 0
    return out


def prepare(tmp: Path, steps: list[str], finished_run: Path) -> list[FolderLock]:
    """Apply a case's ``setup`` steps to the working folder; returns locks to release."""
    locks = []
    for step in steps:
        verb, _, arg = step.partition(":")
        if verb == "file":
            (tmp / arg).parent.mkdir(parents=True, exist_ok=True)
            (tmp / arg).write_text("x", encoding="utf-8")
        elif verb == "dir":
            (tmp / arg).mkdir(parents=True, exist_ok=True)
        elif verb == "link":
            link, target = arg.split("->")
            (tmp / link).symlink_to(tmp / target, target_is_directory=True)
        elif verb == "copy":
            src, dst = arg.split("->")
            shutil.copyfile(DATA / src, tmp / dst)
        elif verb == "run":
            shutil.copytree(finished_run, tmp / arg)
        elif verb == "truncate":
            rel, n = arg.split(":")
            lines = (tmp / rel).read_text(encoding="utf-8").splitlines(keepends=True)
            (tmp / rel).write_text("".join(lines[: int(n)]), encoding="utf-8")
        elif verb == "text":
            rel, column, row, value = arg.split(":")
            frame = pd.read_csv(tmp / rel)
            frame[column] = frame[column].astype(object)
            frame.loc[int(row) - 1, column] = value
            frame.to_csv(tmp / rel, index=False)
        elif verb == "rm":
            (tmp / arg).unlink()
        elif verb == "write":
            rel, text = arg.split(":", 1)
            (tmp / rel).write_text(text, encoding="utf-8")
        elif verb == "lock":
            lock = FolderLock(tmp / arg, remove=True)
            lock.acquire()
            locks.append(lock)
        else:  # pragma: no cover - a typo in cases.toml
            raise ValueError(f"unknown setup step {step!r}")
    return locks


def test_corpus_size_and_kinds():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    kinds = Counter(c["kind"] for c in CASES)
    assert set(kinds) == set(KINDS)
    assert len(CASES) >= 100
    assert all(kinds[k] >= 20 for k in KINDS), kinds
    for c in CASES:
        assert c["expect"], f"{c['id']}: no expected message"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(case, tmp_path, monkeypatch, capsys, finished_run):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # default outputs (results/, payouts.csv) would land here
    locks = prepare(work, case.get("setup", []), finished_run)
    args = [a.replace("{data}", str(DATA)).replace("{tmp}", str(work)) for a in case["args"]]
    before, corpus_before = snapshot(work), snapshot(DATA)
    try:
        code = main(args)
        after = snapshot(work)
    finally:
        for lock in locks:
            lock.release()
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}: {err}"
    assert err.startswith("error: "), err
    assert "Traceback" not in err
    for fragment in case["expect"]:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    for fragment in case.get("absent", []):
        assert fragment not in err, f"{fragment!r} must not be shown: {err!r}"
    assert after == before, "nothing may be written or changed"
    assert snapshot(DATA) == corpus_before
    assert Path("/dev/null").is_char_device() and Path("/dev/zero").is_char_device()
