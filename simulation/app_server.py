"""``mlmsim app``: start the classroom page (:mod:`simulation.app`) with Solara's server.

Bound to 127.0.0.1 by default (``--host 0.0.0.0`` lets students on the same network open it),
with Solara's telemetry and version check off, so the page makes no request to any other host:
its assets come from the ``solara-assets`` package, including ECharts, with which the browser
draws the charts.

``--processes N`` serves the sessions from N server processes. Each page session (its Mesa
model and widgets) lives in the process whose websocket it opened, and one process runs every
one of its sessions' months under one interpreter lock: with 30 students stepping at once the
last in line waits for the 29 others. Several processes use several cores. They are uvicorn's
worker processes (``uvicorn.run(workers=N)``, as Solara's deployment guide runs its server):
the parent binds the port once and every worker accepts from it, so a new page goes to
whichever worker accepts it first (the least busy, as a rule). Solara's own ``solara run
--workers`` does not start them (it calls ``uvicorn.Server.run``, which ignores ``workers``),
hence the direct call. The page needs nothing else from a worker: the page's HTML and assets are
the same from every worker, and a session's websocket creates its session where it lands.
Two things differ from one process (docs/teaching.md says so to the teacher):

- a page that loses its connection (a laptop put to sleep) and reconnects may land on another
  worker, which does not have its session: Solara's page then asks to be refreshed ("Please
  refresh the page") and starts afresh (Solara's documented behaviour without sticky sessions,
  which would need a proxy in front). With one process it picks up where it left off;
- the class tally of student mode is shared through a small SQLite file in a temporary folder
  (see :mod:`simulation.app_tally`), removed when the server stops.

The default (:func:`default_processes`) is one process on 127.0.0.1 (one teacher's page: a
second process would only cost memory) and one per core, at most
:data:`MAX_DEFAULT_PROCESSES`, when other computers may connect (``--host`` not a loopback
address). Measured with 30 sessions stepping at once over the websocket
(``benchmarks/bench_app.py --processes N``), see docs/teaching.md.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import ipaddress
import logging.config
import os
import shutil
import socket
import sys
import tempfile
import threading
import urllib.request
import warnings
import webbrowser

APP_MODULE = "simulation.app"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

# Solara settings for a classroom without internet and without tracking.
SERVER_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no usage data sent to Mixpanel
    "SOLARA_ASSETS_PROXY": "True",  # assets served by this server (from solara-assets)
    # The "This website runs on Solara" banner sits over the bottom-right chart.
    "SOLARA_THEME_SHOW_BANNER": "False",
    # A Step sends a dozen messages to the browser. By default each one goes from the
    # session's thread to the server's event loop and back (a thread hand-off, a task and a
    # wake-up, under Python's lock shared by every session); Solara's synchronous frame writer
    # sends them from the session's thread. Needs uvicorn's "websockets" implementation (see
    # UVICORN_WS). Measured with 30 sessions stepping at once (benchmarks/bench_app.py): the
    # server's CPU per step 39 -> 31 ms.
    "SOLARA_SERVER_SYNC_WS_WRITE": "True",
}
# The websocket implementation Solara's synchronous frame writer works with. uvicorn marks it
# deprecated (its warning is silenced below); should a later uvicorn drop it, Solara logs that
# the writer is unavailable and sends the default way: the page works the same, a bit slower.
UVICORN_WS = "websockets"
WS_DEPRECATED = "The `websockets` implementation is deprecated"  # uvicorn's warning, silenced
# Python's cyclic garbage collector runs after every 700 new container objects by default.
# A Step builds lists of tens of thousands of points for the charts, so with 30 sessions open
# it collected several times a Step, and every few Steps traversed the whole heap (every
# session's widgets): with 30 sessions stepping at once (benchmarks/bench_app.py) the server
# spent 37.9 ms of CPU a Step at the default and 27.3 ms at 20,000 (the lists are freed by
# reference counting as soon as the option is serialised; only cycles wait for a collection).
GC_THRESHOLD = (20_000, 10, 10)
# Worker processes by default when other computers may connect: one per core, at most this.
# A process holds its sessions (4-5 MB each at 2,000 people) plus about 250 MB of
# Python, Solara and the model's libraries; past the number of cores more processes only
# take turns on the same cores.
MAX_DEFAULT_PROCESSES = 4
MAX_PROCESSES = 32  # a sanity bound on --processes (32 processes: about 8 GB before any session)
# The level ``solara run`` gives uvicorn's own loggers: errors only (no line per request, no
# "Started server process" in the terminal).
UVICORN_LOG_LEVEL = "error"
# Seconds a worker process may take to answer uvicorn's health check before it is restarted.
WORKER_HEALTHCHECK_S = 60
# The environment variable through which the parent tells its workers where the class tally is.
TALLY_ENV = "MLMSIM_CLASS_TALLY"


def with_ws_filter(existing: str) -> str:
    """``PYTHONWARNINGS`` with the websocket deprecation ignored, the user's filters kept.

    Python reads the variable as comma-separated ``-W`` filters; later ones take precedence,
    so ours goes last and only silences the one warning it names.
    """
    ours = f"ignore:{WS_DEPRECATED}:UserWarning"
    kept = [f for f in existing.split(",") if f.strip() and f != ours]
    return ",".join([*kept, ours])


def _use_uvicorn_ws(ws: str) -> None:
    """Make Solara's ``solara run`` start uvicorn with the websocket implementation ``ws``.

    ``solara run`` has no option for it; it builds ``uvicorn.Config(**options)``.
    """
    import uvicorn  # noqa: PLC0415 (only the app server needs it; imported with solara anyway)
    from uvicorn.config import WS_PROTOCOLS  # noqa: PLC0415

    if WS_PROTOCOLS.get(ws) is None:
        return  # this uvicorn has no such implementation: keep its default
    config = uvicorn.Config
    if getattr(config, "_mlmsim_ws", None) == ws:
        return

    class Config(config):
        _mlmsim_ws = ws

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("ws", ws)
            super().__init__(*args, **kwargs)

    uvicorn.Config = Config


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``mlmsim app``."""
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default: 127.0.0.1, this computer only; "
        "0.0.0.0 lets others on the network connect)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--open", action="store_true", help="open the page in the default web browser"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="server processes that share the sessions (default: 1 on 127.0.0.1; with "
        f"another --host, one per CPU core, at most {MAX_DEFAULT_PROCESSES}); more than one "
        "lets many students step at once on several cores",
    )


def default_processes(host: str, cores: int | None = None) -> int:
    """Server processes when ``--processes`` is not given.

    One on a loopback address (the teacher's own page); otherwise one per core (``cores``,
    default ``os.cpu_count()``), at most :data:`MAX_DEFAULT_PROCESSES`.
    """
    if _is_loopback(host):
        return 1
    return max(1, min(MAX_DEFAULT_PROCESSES, cores or os.cpu_count() or 1))


def solara_args(host: str, port: int, open_browser: bool = False) -> list[str]:
    """Arguments of ``solara run`` for the classroom page."""
    return [
        "run",
        APP_MODULE,
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--open" if open_browser else "--no-open",
        "--no-check-version",  # otherwise Solara asks pypi.org for its latest version
        "--theme-variant",
        "light",
    ]


def _bind_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound now, or None.

    A clear message beats uvicorn's traceback: an unknown host name, an address of no
    interface here, or a port in use.
    """
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.bind((host, port))
    except socket.gaierror:
        return f"--host {host!r}: no such host name or address (try 127.0.0.1 or 0.0.0.0)"
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            return (
                f"port {port} on {host} is in use (is the page already running? "
                f"open http://{host}:{port}/ or start another with --port {port + 1})"
            )
        if err.errno == errno.EADDRNOTAVAIL:
            return f"--host {host}: not an address of this computer (try 127.0.0.1 or 0.0.0.0)"
        return f"cannot listen on {host}:{port}: {err.strerror}"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tune_process() -> None:
    """What every process that serves sessions needs: quiet warnings, the GC threshold."""
    # Solara warns on every page load over plain http from an address other than
    # "localhost" (e.g. 127.0.0.1, or a LAN address) that it cannot set a SameSite=None
    # cookie and falls back to SameSite=Lax. Lax is right here: the page is not embedded in
    # another site's iframe. The warning filled the terminal with a long cookie text.
    warnings.filterwarnings(
        "ignore", message="Cookies with samesite=none require https", category=UserWarning
    )
    warnings.filterwarnings("ignore", message=WS_DEPRECATED, category=UserWarning)
    gc.set_threshold(*GC_THRESHOLD)


def worker_app():
    """The page's ASGI app in one worker process (uvicorn's ``factory``, see :func:`run`).

    The worker is a fresh interpreter (spawned): it inherits the environment
    (:data:`SERVER_ENV`, ``SOLARA_APP``, :data:`TALLY_ENV`), not the parent's settings.
    """
    _tune_process()
    # Solara reads SERVER_ENV at import. Only the workers import it: the parent's memory
    # 205 -> 178 MB.
    from solara.__main__ import LOGGING_CONFIG  # noqa: PLC0415
    from solara.server.starlette import app  # noqa: PLC0415

    logging.config.dictConfig(LOGGING_CONFIG)  # Solara's logging, as ``solara run`` sets it
    return app


def _open_when_ready(url: str) -> None:
    """Open ``url`` in the default browser once the server answers (in a daemon thread)."""

    def wait_and_open() -> None:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except OSError:
                threading.Event().wait(0.3)
        webbrowser.open(url)

    threading.Thread(target=wait_and_open, daemon=True).start()


def _run_workers(args: argparse.Namespace, processes: int) -> None:
    """Serve with ``processes`` uvicorn worker processes sharing one listening socket."""
    import inspect  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415 (imported with solara anyway: only the app server needs it)

    os.environ["SOLARA_APP"] = APP_MODULE  # what ``solara run`` sets for its server
    os.environ["SERVER_NAME"] = args.host
    os.environ["SERVER_PORT"] = str(args.port)
    # A worker imports uvicorn's websocket implementation (which warns that it is deprecated)
    # before it calls worker_app: the filter goes through the environment (Python's -W syntax).
    os.environ["PYTHONWARNINGS"] = with_ws_filter(os.environ.get("PYTHONWARNINGS", ""))
    tally_dir = tempfile.mkdtemp(prefix="mlmsim-tally-")
    os.environ[TALLY_ENV] = os.path.join(tally_dir, "tally.sqlite")
    try:
        if args.open:
            _open_when_ready(f"http://{args.host}:{args.port}/")
        uvicorn.run(
            f"{__name__}:worker_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=processes,
            ws=UVICORN_WS if uvicorn.config.WS_PROTOCOLS.get(UVICORN_WS) else "auto",
            log_config=None,  # each worker sets Solara's (worker_app)
            log_level=UVICORN_LOG_LEVEL,
            # uvicorn kills and restarts a worker that does not answer its health check in
            # time (default 5 s), and every page that worker served loses its session. On a
            # busy classroom machine a worker stepping many models can be that slow: allow a
            # minute (older uvicorn releases have no such check and no such option).
            **(
                {"timeout_worker_healthcheck": WORKER_HEALTHCHECK_S}
                if "timeout_worker_healthcheck" in inspect.signature(uvicorn.run).parameters
                else {}
            ),
        )
    finally:
        shutil.rmtree(tally_dir, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    """Run the server until Ctrl+C; returns its exit status."""
    if not 0 < args.port < 65536:
        print(f"error: --port must be 1..65535, got {args.port}", file=sys.stderr)
        return 2
    processes = default_processes(args.host) if args.processes is None else args.processes
    if not 0 < processes <= MAX_PROCESSES:
        print(f"error: --processes must be 1..{MAX_PROCESSES}, got {processes}", file=sys.stderr)
        return 2
    problem = _bind_problem(args.host, args.port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    url = f"http://{args.host}:{args.port}/"
    print(f"Classroom page: {url}   (stop with Ctrl+C)", flush=True)
    if not _is_loopback(args.host):
        print(f"Listening on {args.host}: other computers on this network can open the page.")
    if processes > 1:
        print(f"Serving from {processes} processes.")
    # Solara reads its settings from the environment when first imported: set them first.
    os.environ.update(SERVER_ENV)
    _tune_process()
    if processes > 1:
        with contextlib.suppress(KeyboardInterrupt):
            _run_workers(args, processes)
        return 0
    _use_uvicorn_ws(UVICORN_WS)
    # Lazy on purpose: solara must see SERVER_ENV at import, and it costs 1.3 s at every
    # CLI start.
    from solara.__main__ import cli as solara_cli  # noqa: PLC0415

    with contextlib.suppress(KeyboardInterrupt):
        solara_cli.main(args=solara_args(args.host, args.port, args.open), standalone_mode=False)
    return 0
