"""``mlmsim app``: start the classroom page (:mod:`simulation.app`) with Solara's server.

Bound to 127.0.0.1 by default (``--host 0.0.0.0`` lets students on the same network open it),
with Solara's telemetry and version check off, so the page makes no request to any other host:
its assets come from the ``solara-assets`` package, including ECharts, with which the browser
draws the charts.
"""

from __future__ import annotations

import argparse
import contextlib
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
}


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


def _port_free(host: str, port: int) -> bool:
    """True if ``host:port`` can be bound now (a clear message beats uvicorn's traceback)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.bind((host, port))
    except OSError:
        return False
    return True


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
    if not _port_free(args.host, args.port):
        print(
            f"error: port {args.port} on {args.host} is in use (is the page already running? "
            f"open http://{args.host}:{args.port}/ or start another with --port {args.port + 1})",
            file=sys.stderr,
        )
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
    from solara.__main__ import cli as solara_cli

    with contextlib.suppress(KeyboardInterrupt):
        solara_cli.main(args=solara_args(args.host, args.port, args.open), standalone_mode=False)
    return 0
