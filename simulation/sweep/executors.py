"""Executors: runs in this process, in a local process pool, or on a Dask cluster."""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any
from urllib.parse import urlsplit

from simulation.errors import UserError, check_terminated
from simulation.sweep.task import run_task

# --------------------------------------------------------------------------------------------
# executors


# How long to try to reach a Dask scheduler before giving up.
CONNECT_TIMEOUT = "20s"

OnResult = Callable[[dict[str, Any]], None]


def run_inprocess(
    tasks: list[dict[str, Any]],
    on_result: OnResult,
    fn: Callable[[dict[str, Any]], dict[str, Any]] = run_task,
) -> int:
    """Run every task in this process, one after another; returns the runs lost (none).

    ``fn`` is the task function (default :func:`run_task`, a sweep's run; ``mlmsim run
    --seeds`` passes its own), as in :func:`run_pool` and :func:`run_dask`.
    """
    for t in tasks:
        on_result(fn(t))
    return 0


def _warn_lost(err: BaseException, count: int) -> None:
    """Report a run lost to the executor (not to its own error): the first few only."""
    if count <= 3:
        hint = ""
        if isinstance(err, ModuleNotFoundError):
            hint = " (is mlmsim installed where the workers run?)"
        print(f"warning: a run was lost: {type(err).__name__}: {err}{hint}", file=sys.stderr)
    elif count == 4:
        print("warning: more runs lost; the count is in the summary", file=sys.stderr)


def run_pool(
    tasks: list[dict[str, Any]],
    workers: int,
    on_result: OnResult,
    fn: Callable[[dict[str, Any]], dict[str, Any]] = run_task,
) -> int:
    """Local processes; at most a few tasks per worker in flight. Returns runs lost.

    A worker that dies (out of memory, killed) breaks the pool: the runs in flight and those
    not submitted yet are lost (not recorded), the finished ones are kept.
    """
    lost = 0
    broken = False
    pending: set[Any] = set()
    todo = iter(tasks)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("spawn"),
        initializer=worker_init,
        initargs=(os.getpid(),),
    )

    def submit(n: int) -> None:
        nonlocal broken
        for t in itertools.islice(todo, 0 if broken else n):
            try:
                pending.add(pool.submit(fn, t))
            except BrokenProcessPool:
                broken = True
                return

    try:
        submit(4 * workers)
        while pending:
            done, rest = wait(pending, return_when=FIRST_COMPLETED)
            check_terminated()  # a SIGTERM whose exception a finalizer swallowed
            pending.clear()
            pending.update(rest)
            for fut in done:
                try:
                    res = fut.result()
                except Exception as err:
                    lost += 1
                    broken = broken or isinstance(err, BrokenProcessPool)
                    _warn_lost(err, lost)
                    continue
                on_result(res)
            submit(len(done))
    except BaseException:
        # Interrupted (Ctrl+C, SIGTERM) or failed: stop the workers now rather than let them
        # finish their runs; finished runs are already written, a rerun resumes.
        _stop_workers(pool)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return lost + sum(1 for _ in todo)


def _stop_workers(pool: Any) -> None:
    """Terminate a process pool's workers (the pool keeps them in ``_processes``)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def worker_init(parent: int) -> None:
    """Pool worker start-up: end this worker when the sweep's process ends, however it ends.

    On Linux the kernel sends the worker SIGKILL when its parent dies (``prctl
    PR_SET_PDEATHSIG``), even if the parent was killed with SIGKILL; elsewhere a daemon
    thread checks every second that the parent is still there. A parent that died before
    this ran is noticed at once.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def check_scheduler_address(address: str) -> None:
    """Refuse a malformed Dask scheduler address at once (before any connection attempt).

    Accepted: ``[scheme://]host[:port]`` with scheme one of tcp, tls, ws, wss, ucx (default
    tcp), a host name or IP address (IPv6 in brackets) and a port 1-65535; or ``inproc://``.

    Raises:
        UserError: naming the address and what is wrong with it.
    """
    text = address.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    where = f"--scheduler {address!r}"
    if scheme not in _SCHEMES:
        raise UserError(f"{where}: unknown protocol '{scheme}' (use {', '.join(_SCHEMES)})")
    if scheme == "inproc":
        return
    try:
        parts = urlsplit(f"//{rest}")
        port = parts.port
    except ValueError as err:
        raise UserError(f"{where}: not an address host:port ({err})") from None
    if not parts.hostname or parts.path or parts.query or parts.fragment or parts.username:
        raise UserError(f"{where}: not an address host:port, e.g. tcp://10.0.0.5:8786")
    if port == 0:
        raise UserError(f"{where}: port 0 is not a port a scheduler listens on")


def run_dask(
    tasks: list[dict[str, Any]],
    address: str,
    on_result: OnResult,
    fn: Callable[[dict[str, Any]], dict[str, Any]] = run_task,
) -> int:
    """On a Dask cluster through ``distributed.Client``. Returns runs lost.

    Dask reschedules the runs of a worker that dies; a run lost anyway (its workers kept
    dying, or they cannot import mlmsim) is counted, not recorded.
    """
    from distributed import Client, as_completed  # noqa: PLC0415 - 0.8 s at every CLI start

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise UserError(f"--scheduler {address}: cannot reach the Dask scheduler: {err}") from None
    lost = 0
    try:
        futures = client.map(fn, tasks, pure=False)
        ac = as_completed(futures, loop=client.loop)
        del futures
        for fut in ac:
            try:
                res = fut.result()
            except Exception as err:
                lost += 1
                _warn_lost(err, lost)
                continue
            finally:
                fut.release()
            on_result(res)
    finally:
        client.close()
    return lost


def executor_label(scheduler: str | None, workers: int, runs: int) -> str:
    """How ``runs`` runs are executed, as reported: Dask, in-process or local processes.

    One worker, or at most one run, runs in this process; otherwise up to ``workers`` local
    processes (never more than there are runs).
    """
    if scheduler:
        return f"dask:{scheduler}"
    if workers == 1 or runs <= 1:
        return "in-process"
    return f"local processes ({min(workers, runs)})"


def check_workers(workers: int | None, scheduler: str | None) -> int:
    """Local worker processes to use (default: every core); the scheduler address checked.

    Raises:
        UserError: fewer than one worker, or a malformed scheduler address.
    """
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise UserError(f"--workers {workers}: need at least 1")
    if scheduler:
        check_scheduler_address(scheduler)
    return workers
