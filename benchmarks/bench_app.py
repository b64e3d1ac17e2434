"""Classroom page latency in a real browser: one teacher stepping, playing, and N students at once.

Starts ``mlmsim app`` on a free 127.0.0.1 port and drives Debian's chromium with Playwright:

0. launch to interactive (``--launch N`` times, default 1): ``mlmsim app`` started until it
   answers HTTP, and until a first page (1920x1080) has all its charts drawn;
1. one session at 1920x1080, for each town size (default 2,000 and 5,000 people): Step through
   the whole run (36 months), timing in the page each click of Step until the charts show the
   new month: "in view" (the charts on screen, which the page draws first) and "all" (every
   chart, including those scrolled out of view, which the page draws when the browser is
   idle); then Reset and play the 36 months, timing click to the last month drawn;
2. N sessions (browser contexts, default 30) stepping at the same time, each its own town of
   2,000, timing each step click to all its charts drawn (the N browsers share this machine's
   cores with the server);
3. the server alone, over its websocket: N clients in this process (default 30), each a
   page session of ``mlmsim app`` spoken to as the browser does (Jupyter's widget messages
   over the page's websocket), stepping at the same time: each clicks Step, then waits until
   its widgets show the new month and all 9 charts carry that month's option. This is the
   server's side of 30 students on their own devices (their browsers draw on their own
   machines). It also reports the server's CPU time per step (user + system of all its
   processes). It reports how many sessions each server process holds, and each session's
   slowest step;
4. optionally (``--server-sessions``), the same in this process without a server: N pages
   rendered by Solara's test renderer, stepping at once from N threads (no websocket).

``--processes N`` starts every server as ``mlmsim app --processes N`` (the sessions shared by N
server processes; default: the app's own default on 127.0.0.1, one process).

Times are taken inside the page (``performance.now()``: from the Step button's click to the
moment the chart widget marks itself drawn, see ``simulation/app_chart.vue``), so Playwright's
own overhead is not counted. The browsers run on the same machine as the server: with 30
sessions, 30 pages draw charts on the same cores as the server computes them.

Usage::

    python benchmarks/bench_app.py                 # 2,000 and 5,000 people, 30 sessions
    python benchmarks/bench_app.py --sessions 5 --months 12 --sizes 2000
    python benchmarks/bench_app.py --launch 0 --sizes --sessions 0    # server only (websocket)
    python benchmarks/bench_app.py --launch 0 --sizes --sessions 0 --processes 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

# In the page: click a button by its text and record the time; the charts' stamps are
# "<model id>:<month>[:<person>]" once drawn (see simulation/app_chart.vue).
JS_SETUP = """() => {
  window.mlmMarks = {};
  const obs = new MutationObserver((ms) => {
    for (const m of ms) {
      const month = (m.target.dataset.stamp || "").split(":")[1];
      const key = m.target.className;
      (window.mlmMarks[month] = window.mlmMarks[month] || {})[key] = performance.now();
    }
  });
  document.querySelectorAll(".mlm-chart-box").forEach(
    (e) => obs.observe(e, { attributes: true, attributeFilter: ["data-stamp"] }));
}"""
JS_CLICK = """(label) => {
  const all = [...document.querySelectorAll("button")];
  const b = all.find((x) => x.textContent.trim() === label);
  if (!b) {
    throw new Error(`no ${label} button; buttons: ${all.map((x) => x.textContent.trim())}`);
  }
  window.mlmClick = performance.now();
  b.click();
}"""
CHARTS = 9  # chart widgets on the page (simulation.app_charts.CHARTS)
JS_ALL_DRAWN = f"""(month) => {{
  const c = [...document.querySelectorAll(".mlm-chart-box")];
  const at = (e) => (e.dataset.stamp || "").split(":")[1] === String(month);
  return c.length === {CHARTS} && c.every(at);
}}"""
JS_ALL_REACHED = f"""(month) => {{
  const c = [...document.querySelectorAll(".mlm-chart-box")];
  const past = (e) => Number((e.dataset.stamp || "-1").split(":")[1]) >= month;
  return c.length === {CHARTS} && c.every(past);
}}"""
JS_TIMES = """(month) => {
  const marks = window.mlmMarks[String(month)] || {};
  const inView = [...document.querySelectorAll(".mlm-chart-box")].filter((e) => {
    const r = e.getBoundingClientRect();
    return r.bottom > 0 && r.top < window.innerHeight;
  }).map((e) => e.className);
  const t = (keys) => Math.max(...keys.map((k) => marks[k] - window.mlmClick));
  return { inView: t(inView), all: t(Object.keys(marks)), charts: Object.keys(marks).length };
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(processes: int | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, SOLARA_ASSETS_CDN="http://127.0.0.1:9/", PYTHONUNBUFFERED="1")
    more = [] if processes is None else ["--processes", str(processes)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulation", "app", "--port", str(port), *more],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise SystemExit("mlmsim app did not answer within 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):6.0f} ms, p90 {pct(values, 0.9):6.0f} ms, "
        f"p99 {pct(values, 0.99):6.0f} ms, max {max(values):6.0f} ms (n={len(values)})"
    )


async def open_page(browser, url: str, viewport: dict):
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    await page.goto(url, timeout=600_000)
    await page.wait_for_function(JS_ALL_DRAWN, arg=0, timeout=600_000)
    await page.evaluate(JS_SETUP)
    return context, page


async def step_once(page, month: int) -> dict:
    await page.evaluate(JS_CLICK, "Step")
    await page.wait_for_function(JS_ALL_DRAWN, arg=month, timeout=180_000, polling=20)
    return await page.evaluate(JS_TIMES, month)


async def set_people(page, people: int) -> None:
    thumb = page.locator(".v-input:has(label:text-is('People')) [role=slider]")
    now = int(await thumb.get_attribute("aria-valuenow"))
    changed = now != people
    key = "ArrowRight" if people > now else "ArrowLeft"
    if people == int(await thumb.get_attribute("aria-valuemax")):
        await thumb.focus()
        await thumb.press("End")  # one event, not 30 that race the server's echoes
        now = people
    while now != people:
        # One press at a time, each waited for: the server echoes every value.
        want = now + (100 if key == "ArrowRight" else -100)
        await thumb.focus()
        await thumb.press(key)
        deadline = time.monotonic() + 180
        while int(await thumb.get_attribute("aria-valuenow")) != want:
            if time.monotonic() > deadline:
                raise SystemExit(f"the People slider did not reach {want}")
            await asyncio.sleep(0.05)
        now = want
    if changed:  # the server has the value once it says what Reset will do
        await page.wait_for_function(
            "(n) => document.querySelector('.mlm-pending').textContent.includes(n)",
            arg=f"{people:,} people",
            timeout=180_000,
        )
    await page.evaluate(JS_CLICK, "Reset")
    await page.wait_for_function(
        "(n) => document.querySelector('.mlm-setup').textContent.includes(n)",
        arg=f"{people:,} people",
        timeout=180_000,
    )
    await page.wait_for_function(JS_ALL_DRAWN, arg=0, timeout=180_000)
    await page.evaluate(JS_SETUP)


async def one_session(browser, url: str, people: int, months: int) -> None:
    context, page = await open_page(browser, url, {"width": 1920, "height": 1080})
    try:
        await set_people(page, people)
        in_view, every = [], []
        for month in range(1, months + 1):
            t = await step_once(page, month)
            in_view.append(t["inView"])
            every.append(t["all"])
        print(f"  {people:,} people, Step, charts in view: {summary(in_view)}")
        print(f"  {people:,} people, Step, all charts:     {summary(every)}")
        await page.evaluate(JS_CLICK, "Reset")
        await page.wait_for_function(JS_ALL_DRAWN, arg=0, timeout=180_000)
        await page.evaluate(JS_SETUP)
        start = time.monotonic()
        await page.evaluate(JS_CLICK, "▶")
        await page.wait_for_function(JS_ALL_REACHED, arg=months, timeout=600_000, polling=50)
        print(
            f"  {people:,} people, play {months} months (normal speed): "
            f"{time.monotonic() - start:.1f} s to month {months} drawn"
        )
    finally:
        await context.close()


async def student(browser, url, months: int, gate, opened: list, ready: asyncio.Event, out: list):
    async with gate:  # a few pages load at a time: loading is not what is measured
        context, page = await open_page(browser, url, {"width": 1280, "height": 720})
    try:
        opened.append(page)
        await ready.wait()
        for month in range(1, months + 1):
            out.append((await step_once(page, month))["all"])
    finally:
        await context.close()


async def launch(browser, processes: int | None = None) -> None:
    """``mlmsim app`` started to its first page drawn in the browser (the browser already runs)."""
    start = time.monotonic()
    proc, url = start_server(processes)
    answered = time.monotonic() - start
    try:
        context, _page = await open_page(browser, url, {"width": 1920, "height": 1080})
        drawn = time.monotonic() - start
        await context.close()
    finally:
        stop_server(proc)
    print(
        f"launch to interactive: the server answers after {answered:.1f} s, the first page "
        f"has all its charts drawn after {drawn:.1f} s"
    )


async def main_async(args) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(args.launch):
            await launch(browser, args.processes)
        if args.sizes or args.sessions:
            await pages(browser, args)
        await browser.close()


async def pages(browser, args) -> None:
    """One session stepping and playing at each size, then N sessions at once (browsers)."""
    proc, url = start_server(args.processes)
    try:
        print("One session (1920x1080), click to charts drawn, timed in the page:")
        for people in args.sizes:
            await one_session(browser, url, people, args.months)
        if args.sessions:
            ready = asyncio.Event()
            gate = asyncio.Semaphore(4)
            opened: list = []
            out: list[float] = []
            tasks = [
                asyncio.create_task(
                    student(browser, url, args.student_steps, gate, opened, ready, out)
                )
                for _ in range(args.sessions)
            ]
            # Open every page first: loading 30 pages is not what is measured.
            while len(opened) < args.sessions:
                if any(t.done() for t in tasks):
                    await asyncio.gather(*tasks)  # raises the failure
                await asyncio.sleep(0.2)
            ready.set()
            start = time.monotonic()
            await asyncio.gather(*tasks)
            wall = time.monotonic() - start
            print(
                f"{args.sessions} sessions stepping at once (1280x720, 2,000 people, "
                f"{args.student_steps} steps each, {wall:.1f} s), per step: {summary(out)}"
            )
    finally:
        stop_server(proc)


# A chart widget's option starts with its stamp (see simulation.app_charts.stamp).
SPEC_MONTH = re.compile(r'^\{"mlmStamp":"[^:"]*:(\d+)')


def server_processes(pid: int) -> list:
    """The server (process ``pid``) and its worker processes, if any (psutil processes)."""
    import psutil

    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of the server ``pid`` and its worker processes."""
    import psutil

    total = 0.0
    for p in server_processes(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def sessions_by_process(pid: int, port: int) -> list[int]:
    """Connections to ``port`` held by each of the server's processes (one websocket per open
    page once the pages are loaded: how many sessions each process serves)."""
    counts = []
    for p in server_processes(pid):
        conns = p.net_connections(kind="tcp")
        counts.append(sum(c.laddr.port == port and c.status == "ESTABLISHED" for c in conns))
    return sorted((n for n in counts if n), reverse=True)


class WidgetClient:
    """One page session over the page's websocket, as Solara's browser client opens it.

    It keeps every widget's state from the server's messages (``comm_open`` and ``update``)
    and clicks a button by sending the button's click event, as ipyvue does in the browser.
    """

    def __init__(self, url: str):
        self.url = url
        self.state: dict[str, dict] = {}  # comm id -> widget state
        self.changed = asyncio.Event()
        self.started = asyncio.Event()
        self.session = uuid.uuid4().hex

    def _message(self, msg_type: str, content: dict) -> str:
        header = {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "bench",
            "session": self.session,
            "date": "",
            "version": "5.3",
        }
        return json.dumps(
            {
                "header": header,
                "parent_header": {},
                "metadata": {},
                "content": content,
                "channel": "shell",
                "buffers": [],
            }
        )

    async def open(self) -> None:
        import websockets

        def cookie() -> str:  # the page's session cookie, as the browser gets it
            with urllib.request.urlopen(self.url, timeout=120) as r:
                r.read()
                return r.headers.get("Set-Cookie", "").split(";")[0]

        jar = await asyncio.to_thread(cookie)
        ws_url = self.url.replace("http://", "ws://", 1)
        kernel = uuid.uuid4()
        self.ws = await websockets.connect(
            f"{ws_url}jupyter/api/kernels/{kernel}/channels?session_id={self.session}",
            additional_headers={"Cookie": jar},
            max_size=None,
        )
        self.reader = asyncio.create_task(self._read())
        control = uuid.uuid4().hex
        await self.ws.send(
            self._message(
                "comm_open", {"comm_id": control, "target_name": "solara.control", "data": {}}
            )
        )
        run = {"path": "", "appName": "__default__", "dark": False, "themes": None}
        await self.ws.send(
            self._message("comm_msg", {"comm_id": control, "data": {"method": "run", "args": run}})
        )
        await asyncio.wait_for(self.started.wait(), 600)

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "comm_open":
                self.state[content["comm_id"]] = dict(content["data"].get("state", {}))
            elif kind == "comm_msg":
                data = content["data"]
                if data.get("method") == "update":
                    self.state.setdefault(content["comm_id"], {}).update(data["state"])
                elif data.get("method") == "finished":
                    self.started.set()
            self.changed.set()

    def month_shown(self) -> str:
        (text,) = [
            s["children"][0]
            for s in self.state.values()
            if "mlm-month-status" in (s.get("class_") or "").split()
        ]
        return text

    def chart_months(self) -> list[int]:
        """The month of each chart widget's option (-1: none yet)."""
        out = []
        for s in self.state.values():
            if "spec" in s and "mlm-chart-box" in str(s.get("attributes", "")):
                hit = SPEC_MONTH.match(s["spec"])
                out.append(int(hit.group(1)) if hit else -1)
        return out

    def shows(self, month: int) -> bool:
        """The month status and all the charts show ``month``."""
        text = self.month_shown()
        charts = self.chart_months()
        return (
            text.startswith((f"Month {month} of", f"Month {month}:"))
            and len(charts) == CHARTS
            and all(c == month for c in charts)
        )

    async def click(self, label: str) -> None:
        (button,) = [
            k
            for k, s in self.state.items()
            if s.get("_model_name") == "BtnModel" and s.get("children") == [label]
        ]
        content = {"event": "click", "data": {}}
        await self.ws.send(
            self._message(
                "comm_msg", {"comm_id": button, "data": {"method": "custom", "content": content}}
            )
        )

    async def step(self, month: int) -> float:
        """Click Step; ms until the page shows ``month`` in its status and every chart."""
        start = time.perf_counter()
        await self.click("Step")
        while not self.shows(month):
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 600)
        return 1000 * (time.perf_counter() - start)

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


async def websocket_sessions(sessions: int, steps: int, processes: int | None = None) -> None:
    """N page sessions of a real ``mlmsim app`` over its websocket, stepping at the same time."""
    proc, url = start_server(processes)
    try:
        clients = [WidgetClient(url) for _ in range(sessions)]
        opening = []
        for c in clients:  # one at a time: opening 30 pages is not what is measured
            start = time.perf_counter()
            await c.open()
            opening.append(1000 * (time.perf_counter() - start))
            if not c.shows(0):
                raise SystemExit(f"a new page shows {c.month_shown()!r}, not month 0")
        print(f"opening a page over the websocket (one after the other): {summary(opening)}")
        port = int(url.rsplit(":", 1)[1].strip("/"))
        held = sessions_by_process(proc.pid, port)
        print(f"sessions held by each server process: {held}")
        out: list[float] = []
        worst: list[float] = []  # each session's slowest step

        async def student(c: WidgetClient) -> None:
            mine = []
            for month in range(1, steps + 1):
                mine.append(await c.step(month))
            out.extend(mine)
            worst.append(max(mine))

        cpu0, start = cpu_seconds(proc.pid), time.monotonic()
        await asyncio.gather(*(student(c) for c in clients))
        wall, cpu = time.monotonic() - start, cpu_seconds(proc.pid) - cpu0
        print(
            f"{sessions} sessions stepping at once, server over its websocket (2,000 people, "
            f"{steps} steps each, {wall:.1f} s; server CPU {1000 * cpu / (sessions * steps):.1f} "
            f"ms a step), per step: {summary(out)}"
        )
        print(f"  each session's slowest step: {summary(worst)}")
        for c in clients:
            await c.close()
    finally:
        stop_server(proc)


def server_only(sessions: int, steps: int) -> None:
    """N sessions' pages in this process (Solara's test renderer, no browser, no websocket),
    each stepping in its own thread at the same time: what the server's CPU and Python's GIL
    allow when every browser is on another machine."""
    import threading

    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    import io

    import ipyvuetify as v
    import solara

    from simulation import app

    with contextlib.redirect_stdout(io.StringIO()):  # Solara prints the app bar title
        pages = [solara.render(solara.AppLayout(children=[app.Page()]))[1] for _ in range(sessions)]
    out: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(sessions)

    def student(rc) -> None:
        step = rc.find(v.Btn, children=["Step"]).widget
        barrier.wait()
        for _ in range(steps):
            t = time.perf_counter()
            step.click()
            with lock:
                out.append(1000 * (time.perf_counter() - t))

    threads = [threading.Thread(target=student, args=(rc,)) for rc in pages]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    print(
        f"{sessions} sessions stepping at once, server only ({steps} steps each, {wall:.1f} s, "
        f"{1000 * wall / (sessions * steps):.0f} ms of server time a step), per step: "
        f"{summary(out)}"
    )
    for rc in pages:
        rc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[2000, 5000])
    parser.add_argument("--months", type=int, default=36, help="months stepped per size")
    parser.add_argument("--sessions", type=int, default=30, help="concurrent sessions (0: skip)")
    parser.add_argument(
        "--launch", type=int, default=1, help="times to start the server and time its first page"
    )
    parser.add_argument("--student-steps", type=int, default=10, help="steps per session")
    parser.add_argument(
        "--ws-sessions",
        type=int,
        default=30,
        help="sessions stepping at once over the server's websocket, no browsers (0: skip)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="mlmsim app --processes of every server started (default: the app's default)",
    )
    parser.add_argument(
        "--server-sessions",
        type=int,
        default=0,
        help="sessions stepping at once in this process, no server or browsers (0: skip)",
    )
    args = parser.parse_args()
    print(
        f"cores: {os.cpu_count()}, load average at start: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if args.launch or args.sizes or args.sessions:
        asyncio.run(main_async(args))
    if args.ws_sessions:
        asyncio.run(websocket_sessions(args.ws_sessions, args.student_steps, args.processes))
    if args.server_sessions:
        server_only(args.server_sessions, args.student_steps)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
