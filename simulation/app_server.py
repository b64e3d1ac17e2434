"""``mlmsim app``: start the classroom page (:mod:`simulation.app`) with Solara's server.

Bound to 127.0.0.1 by default (``--host 0.0.0.0`` lets students on the same network open it),
with Solara's telemetry and version check off, so the page makes no request to any other host:
its assets come from the ``solara-assets`` package, including ECharts, with which the browser
draws the charts.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import ipaddress
import os
import socket
import sys
import warnings

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
# Python's cyclic garbage collector runs after every 700 new container objects by default.
# A Step builds lists of tens of thousands of points for the charts, so with 30 sessions open
# it collected several times a Step, and every few Steps traversed the whole heap (every
# session's widgets): with 30 sessions stepping at once (benchmarks/bench_app.py) the server
# spent 37.9 ms of CPU a Step at the default and 27.3 ms at 20,000 (the lists are freed by
# reference counting as soon as the option is serialised; only cycles wait for a collection).
GC_THRESHOLD = (20_000, 10, 10)


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


def run(args: argparse.Namespace) -> int:
    """Run the server until Ctrl+C; returns its exit status."""
    if not 0 < args.port < 65536:
        print(f"error: --port must be 1..65535, got {args.port}", file=sys.stderr)
        return 2
    problem = _bind_problem(args.host, args.port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    url = f"http://{args.host}:{args.port}/"
    print(f"Classroom page: {url}   (stop with Ctrl+C)", flush=True)
    if not _is_loopback(args.host):
        print(f"Listening on {args.host}: other computers on this network can open the page.")
    # Solara reads its settings from the environment when first imported: set them first.
    os.environ.update(SERVER_ENV)
    # Solara warns on every page load over plain http from an address other than
    # "localhost" (e.g. 127.0.0.1, or a LAN address) that it cannot set a SameSite=None
    # cookie and falls back to SameSite=Lax. Lax is right here: the page is not embedded in
    # another site's iframe. The warning filled the terminal with a long cookie text.
    warnings.filterwarnings(
        "ignore", message="Cookies with samesite=none require https", category=UserWarning
    )
    warnings.filterwarnings(
        "ignore", message="The `websockets` implementation is deprecated", category=UserWarning
    )
    _use_uvicorn_ws(UVICORN_WS)
    gc.set_threshold(*GC_THRESHOLD)
    # Lazy on purpose: solara must see SERVER_ENV at import, and it costs 1.3 s at every
    # CLI start.
    from solara.__main__ import cli as solara_cli  # noqa: PLC0415

    with contextlib.suppress(KeyboardInterrupt):
        solara_cli.main(args=solara_args(args.host, args.port, args.open), standalone_mode=False)
    return 0
