"""The README works as written on a fresh clone, in a new shell.

The test clones the repository's committed HEAD into a temporary folder, runs the README's
first command (``bash scripts/run.sh``) there, and then every ``mlmsim`` line of the README's
shell blocks, each in a new shell (``env -i`` with only PATH and HOME, so nothing of this
test's environment leaks in) that first runs the README's activation line. Each command must
exit 0 and leave the files it promises.

Cost: ``scripts/run.sh`` runs unchanged (venv, pip upgrade, ``pip install -e .``, the default
run), but the clone's ``.venv`` is created first with a ``.pth`` line pointing at this
interpreter's site-packages (and links to its ``share/`` and ``etc/`` data files), so pip
finds every dependency installed and downloads only the build backend; the editable
install, the entry point and the activation script are the clone's own. Commands that the
README shows at full size get a smaller market (``--set market.population=300 --months 6``
for ``run``, ``--no-report`` for ``sweep``).
Uncommitted changes are not in the clone: this tests the committed state.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ACTIVATE = "source .venv/bin/activate"
SMALL_RUN = "--set market.population=300 --months 6"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
]


def readme_commands(text: str) -> list[str]:
    """The ``mlmsim ...`` lines of the README's bash blocks, without trailing comments."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("mlmsim "):
                commands.append(line)
    return commands


def new_shell_env(home: Path) -> dict[str, str]:
    """What ``env -i PATH=... HOME=...`` leaves: PATH without this test's virtualenv."""
    venv_bin = str(Path(sys.prefix) / "bin")
    path = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p != venv_bin]
    return {"PATH": os.pathsep.join(path), "HOME": str(home)}


def shell(
    cmd: str, cwd: Path, env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["env", "-i", *(f"{k}={v}" for k, v in env.items()), "bash", "-c", cmd],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def results_line(out: str) -> str:
    (line,) = [x for x in out.splitlines() if x.strip().startswith("results:")]
    return line.split("results:", 1)[1].strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_venv(clone: Path, env: dict[str, str]) -> None:
    """Create the clone's .venv with this interpreter's packages visible (no downloads)."""
    python3 = shutil.which("python3", path=env["PATH"])
    if python3 is None:
        pytest.skip("no python3 on the PATH")
    probe = subprocess.run(
        [python3, "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    if probe.stdout.strip() != str(sys.version_info[:2]):
        return  # another Python: scripts/run.sh installs everything itself (slower)
    subprocess.run([python3, "-m", "venv", str(clone / ".venv")], check=True)
    site = next((clone / ".venv" / "lib").glob("python*/site-packages"))
    (site / "_mlmsim_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # The dependencies' data files (Solara's and Jupyter's front-end assets and settings) live
    # under <prefix>/share and <prefix>/etc, where they look for them: link this environment's.
    for data in ("share", "etc"):
        source = Path(sysconfig.get_paths()["data"]) / data
        if source.is_dir():
            (clone / ".venv" / data).symlink_to(source, target_is_directory=True)


def test_readme_commands_work_as_written_on_a_fresh_clone(tmp_path):
    text = README.read_text(encoding="utf-8")
    assert text.splitlines()[3].startswith("bash scripts/run.sh")
    assert ACTIVATE in text, "the README must say how to put mlmsim on the PATH"
    commands = readme_commands(text)
    names = {c.split()[1] for c in commands}
    assert names >= {"run", "report", "payout", "sweep", "stress", "validate", "schema", "app"}

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = new_shell_env(Path(os.environ.get("HOME", tmp_path)))
    seed_venv(clone, env)

    # The README's first command: sets up .venv and runs the default scenario.
    started = time.monotonic()
    first = shell(f"bash scripts/run.sh {SMALL_RUN}", clone, env)
    print(f"{time.monotonic() - started:6.1f} s  bash scripts/run.sh {SMALL_RUN}")
    assert first.returncode == 0, first.stdout + first.stderr
    assert (clone / results_line(first.stdout) / "manifest.json").is_file()
    assert ACTIVATE in first.stdout, "scripts/run.sh should say how to get mlmsim"
    assert (clone / ".venv" / "bin" / "mlmsim").is_file()

    # A new shell has no mlmsim until the activation line.
    bare = shell("command -v mlmsim", clone, env)
    assert bare.returncode != 0, "mlmsim was already on the PATH: the test would prove nothing"

    for command in commands:
        words = shlex.split(command.split("|")[0])
        name = words[1]
        if name == "app":
            check_app(command, clone, env)
            continue
        if name == "run" and "--from" not in words:
            command += f" {SMALL_RUN}"
        if name == "sweep":
            command += " --no-report"
        if name in ("run", "sweep", "stress"):
            command += " --quiet"
        started = time.monotonic()
        done = shell(f"{ACTIVATE} && {command}", clone, env)
        print(f"{time.monotonic() - started:6.1f} s  {command}")
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, f"{command}\n{done.stderr}"
        check_outputs(name, words, done.stdout, clone)


def check_outputs(name: str, words: list[str], out: str, clone: Path) -> None:
    """The files or text each command promises."""
    if name in ("run", "sweep", "stress"):
        assert (clone / results_line(out) / "manifest.json").is_file(), out
    if name == "run" and "--from" in words:
        source = clone / words[words.index("--from") + 1]
        for table in ("monthly.csv", "levels.csv", "distributors.parquet"):
            again = clone / results_line(out) / table
            assert again.read_bytes() == (source / table).read_bytes(), table
    if name == "report":
        assert (clone / words[2] / "report.html").stat().st_size > 10_000
    if name == "payout":
        assert (clone / words[words.index("--out") + 1]).read_text().startswith("period,id,")
    if name == "validate":
        assert "exact checks pass" in out
    if name == "schema":
        assert out.startswith("{")
    if name == "--version":
        assert out.startswith("mlmsim ")


def check_app(command: str, clone: Path, env: dict[str, str]) -> None:
    """Start the page as the README says, on a free port; it must answer; then stop it."""
    port = free_port()
    log = (clone / "app.log").open("wb")  # a file, not a pipe: a full pipe would block the app
    proc = subprocess.Popen(
        [
            "env",
            "-i",
            *(f"{k}={v}" for k, v in env.items()),
            "bash",
            "-c",
            f"{ACTIVATE} && exec {command} --port {port}",
        ],
        cwd=clone,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def output() -> str:
        return (clone / "app.log").read_text(errors="replace")[-3000:]

    try:
        deadline = time.monotonic() + 300  # generous: the page starts in seconds
        while True:
            assert proc.poll() is None, output()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"mlmsim app did not answer:\n{output()}"
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
