"""A sweep's pool workers end with the sweep, however it ends (SIGKILL, SIGTERM)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]

SWEEP = """
[sweep]
name = "lifetime"
scenario = "classroom"
replicates = 200
[base]
market.population = 4000
scenario.months = 60
[parameters]
recruit.join_prob = [0.2, 0.3]
"""


def wait_for(predicate, what: str, timeout: float = 300.0):
    """Wait on state with a generous bound (a busy 2-core machine), no fixed sleeps."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def workers_of(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for c in children:
        try:
            if "spawn_main" in " ".join(c.cmdline()):
                found.append(c)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_no_worker_survives_the_sweep(tmp_path, sig):
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP, encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulation",
            "sweep",
            str(path),
            "--workers",
            "2",
            "--out",
            str(out),
            "--quiet",
            "--no-report",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a signal to the parent only, as a scheduler or kill(1) sends
    )
    try:
        workers = wait_for(
            lambda: len(workers_of(proc.pid)) >= 2 and workers_of(proc.pid), "two pool workers"
        )
        # the workers are at work: at least one run finished
        wait_for(
            lambda: any((out / "runs").glob("*.json")) or proc.poll() is not None, "a finished run"
        )
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(sig)
        code = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_for(lambda: not alive(workers), "the workers to end", timeout=120)
    if sig == signal.SIGTERM:
        err = proc.stderr.read()
        assert code == 128 + signal.SIGTERM, err
        assert "terminated" in err
    else:
        assert code == -signal.SIGKILL
    assert not (out / "manifest.json").exists()  # unfinished: a rerun resumes
    assert not (out / ".lock").exists() or sig == signal.SIGKILL


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_sigterm_lost_in_a_finalizer_is_still_acted_on():
    """Python drops an exception raised while a finalizer runs; the flag the SIGTERM handler
    sets first is checked by the sweep's wait loop, so the sweep still stops."""
    from simulation import errors

    class Finalised:
        def __del__(self):
            errors.request_termination()  # as the handler would, inside a finalizer

    try:
        Finalised()  # dropped at once: its __del__ raises, and Python ignores it
        with pytest.raises(errors.Terminated):
            errors.check_terminated()
    finally:
        errors.clear_termination()
    errors.check_terminated()  # cleared: nothing raised
