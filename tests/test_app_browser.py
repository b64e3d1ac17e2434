"""The classroom page in a real headless Chromium (Debian's chromium, driven by Playwright).

One test, as a teacher uses the page: start ``mlmsim app`` on a free 127.0.0.1 port, open it,
move two sliders, press Reset, step, play and pause; then check that the month counter, the
numbers, the captions and every chart (byte for byte) are those of the same model run here,
that no request left 127.0.0.1, and save a screenshot (copied to docs/img/classroom.png when
MLMSIM_SAVE_SCREENSHOT=1).

The server runs with Solara's CDN pointed at a closed local port: an asset missing from
solara-assets would fail to load instead of being fetched from the internet, as in a classroom
without a connection.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "img" / "classroom.png"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1600, "height": 1000}  # a projector; the full page is ~1,800 px tall

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]

os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
os.environ.setdefault("SOLARA_CHECK_HOOKS", "off")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """``mlmsim app`` on a free port; yields its URL; killed (with its children) afterwards."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        SOLARA_TELEMETRY_MIXPANEL_ENABLE="False",
        SOLARA_ASSETS_CDN="http://127.0.0.1:9/",  # closed port: nothing fetched from outside
        PYTHONUNBUFFERED="1",
    )
    log = io.BytesIO()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulation", "app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 300  # a generous bound: the page starts in seconds
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace")
                pytest.fail(f"mlmsim app exited with {proc.returncode}:\n{out}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("mlmsim app did not answer within 300 s")
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.write(proc.stdout.read() or b"")
        proc.stdout.close()


def eventually(check, timeout: float = 180.0, what: str = "condition"):
    """Call ``check()`` until it returns a truthy value; fail after ``timeout`` seconds.

    The bound is generous on purpose: on a busy machine one month of the page (a model step
    and five charts) can take many seconds; a wait only ends early when the state is there.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def png_bytes(fig) -> bytes:
    """A figure as the page encodes it (solara.FigureMatplotlib: savefig, format png)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# Every chart decoded and drawn: what a screenshot needs, instead of a fixed pause.
IMAGES_LOADED = """() => {
    const imgs = [...document.querySelectorAll("img")];
    return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
}"""

IMAGE_BYTES = """async (img) => {
    const r = await fetch(img.src);
    const b = new Uint8Array(await r.arrayBuffer());
    let s = "";
    for (let i = 0; i < b.length; i += 8192) {
        s += String.fromCharCode.apply(null, b.subarray(i, i + 8192));
    }
    return btoa(s);
}"""


def test_teacher_changes_a_control_steps_plays_and_sees_the_model(server, tmp_path):
    from playwright.sync_api import sync_playwright

    from simulation import app_views as views

    requests: list[str] = []
    failures: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on("request", lambda r: requests.append(r.url))
            page.on(
                "response",
                lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
            page.on("requestfailed", lambda r: failures.append(f"failed {r.url}"))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server)
            step = page.get_by_role("button", name="Step")
            step.wait_for(timeout=180_000)

            def text(cls: str) -> str:
                return page.locator(f".{cls}").inner_text().strip()

            def months_shown() -> int:
                return int(page.get_by_text("Step:").inner_text().split(":")[1])

            slowest_step = [0.0]  # seconds from a Step click to its month on the page

            def settled_month() -> int:
                # Mesa's play loop may still finish one step after pause (it sleeps the play
                # interval, then steps). The page offers no signal for that, so the month
                # counts as settled once it has not changed for longer than the slowest
                # single step measured on this machine, now, plus a margin.
                eventually(lambda: step.is_enabled(), what="pause")
                quiet = 2.0 + 3 * slowest_step[0]
                before, since = months_shown(), time.monotonic()
                while time.monotonic() - since < quiet:
                    time.sleep(0.2)
                    if (now := months_shown()) != before:
                        before, since = now, time.monotonic()
                return before

            def slide(label: str, key: str, presses: int) -> None:
                thumb = page.locator(f".v-input:has(label:text-is('{label}')) [role=slider]")
                thumb.focus()
                for _ in range(presses):
                    thumb.press(key)

            # Move two sliders, then Reset: a new market of 1,000 people, seed 45.
            assert text("mlm-value-month") == "0"
            slide("People", "ArrowLeft", 10)
            slide("Seed", "ArrowRight", 3)
            page.get_by_role("button", name="Reset").click()
            eventually(lambda: "1,000 people" in text("mlm-setup"), what="the reset market")
            assert "seed 45" in text("mlm-setup")

            # Step three months, one click at a time.
            for k in range(1, 4):
                clicked = time.monotonic()
                step.click()
                eventually(lambda k=k: months_shown() == k, what=f"month {k}")
                slowest_step[0] = max(slowest_step[0], time.monotonic() - clicked)

            # Play, let a few months pass, pause; the page then stays on one month.
            page.get_by_role("button", name="▶").click()
            eventually(lambda: months_shown() >= 8, what="play to reach month 8")
            page.get_by_role("button", name="❚❚").click()
            month = settled_month()

            # The same market, run here, must show the same numbers, captions and charts.
            model = views.ClassroomModel(population=1000, seed=45)
            for _ in range(month):
                model.step()
            expected = dict(views.headline(model))
            eventually(
                lambda: text("mlm-value-month") == str(month) == expected["month"],
                what="the headline month",
            )
            for label, value in expected.items():
                assert text(f"mlm-value-{label.replace(' ', '-')}") == value, label
            for key, caption in views.captions(model).items():
                assert text(f"mlm-caption-{key}") == caption, key
            pid = views.pick(model, views.PICKS[0])
            assert f"Person {pid}:" in page.locator(".mlm-story h4").inner_text()
            figures = {
                "tree": views.tree_figure(model, pid),
                "penetration": views.penetration_figure(model),
                "levels": views.levels_figure(model),
                "lost_money": views.lost_money_figure(model),
                "lorenz": views.lorenz_figure(model),
            }
            for key, fig in figures.items():
                want = png_bytes(fig)
                img = page.locator(f".mlm-{key} img")
                eventually(
                    lambda img=img, want=want: base64.b64decode(img.evaluate(IMAGE_BYTES)) == want,
                    what=f"the {key} chart to match the model",
                )
                box = img.bounding_box()
                assert box["width"] > 300 and box["height"] > 200, key

            # Play on until the market has saturated, then photograph what the projector shows
            # first and the whole page.
            page.get_by_role("button", name="▶").click()
            eventually(lambda: months_shown() >= 30, timeout=300, what="play to reach month 30")
            page.get_by_role("button", name="❚❚").click()
            month = settled_month()
            model.run(month - model.month)
            eventually(
                lambda: (
                    text("mlm-value-lost-money-so-far")
                    == dict(views.headline(model))["lost money so far"]
                ),
                what="the numbers after playing on",
            )
            page.wait_for_function(IMAGES_LOADED, timeout=180_000)
            page.screenshot(path=tmp_path / "classroom_top.png")
            page.set_viewport_size({"width": VIEWPORT["width"], "height": 1640})
            page.wait_for_function(IMAGES_LOADED, timeout=180_000)
            shot = tmp_path / "classroom.png"
            page.screenshot(path=shot)
        finally:
            browser.close()

    hosts = {u.split("/")[2] for u in requests if u.startswith(("http:", "https:", "ws:"))}
    assert hosts == {server.split("/")[2]}, f"requests left 127.0.0.1: {sorted(hosts)}"
    assert not failures, failures
    assert not errors, errors
    assert shot.stat().st_size > 50_000
    if os.environ.get("MLMSIM_SAVE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
