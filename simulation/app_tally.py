"""Student mode's class tally: one distributor per student, counted across browser sessions.

With ``mlmsim app --host 0.0.0.0`` every student opens the page on their own device and gets
their own town (one model per browser session). In student mode each student follows "their"
distributor, the N-th person to join after the founders (N: the order in which the students
switched student mode on), and the page shows how the whole class's distributors are doing.
The tally is the only state the sessions share. It is kept in SQLite: in memory for a server of
one process, in a file when ``mlmsim app --processes N`` serves the sessions from several
processes (the file named by the ``MLMSIM_CLASS_TALLY`` environment variable, which the server
sets for its workers, see :mod:`simulation.app_server`). One implementation for both, and
SQLite's own locking keeps the student numbers unique across processes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass

import numpy as np

from simulation.app_server import TALLY_ENV
from simulation.model import MLMModel


def student_pid(model: MLMModel, number: int) -> int | None:
    """Person row of the ``number``-th person (1-based) to join after the founders, or None.

    Joiners are ordered by month of joining, then by row, so the same town always gives the
    same person the same number.

    Raises:
        ValueError: if ``number`` < 1.
    """
    if number < 1:
        raise ValueError(f"student numbers start at 1, got {number}")
    pop = model.pop
    joined = np.flatnonzero(pop.join_month > 0)
    if joined.size < number:
        return None
    order = np.lexsort((joined, pop.join_month[joined]))
    return int(joined[order[number - 1]])


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st, ..."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


@dataclass(frozen=True)
class Tally:
    """The class's distributors right now.

    Attributes:
        students: students in student mode.
        joined: students whose distributor has joined.
        made_money: of those, distributors with net income (own use valued) >= 0 so far.
    """

    students: int
    joined: int
    made_money: int


class ClassTally:
    """Thread- and process-safe tally of every student's distributor (one per student number).

    Args:
        path: SQLite file shared by the server's processes; None: in this process's memory.
    """

    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.Lock()  # one connection, used by every session's thread
        # A throwaway tally: no journal to disk, no fsync (it lives as long as the server).
        self._db = sqlite3.connect(
            path or ":memory:", timeout=60, check_same_thread=False, isolation_level=None
        )
        with self._lock:
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute("PRAGMA journal_mode=MEMORY")
            # AUTOINCREMENT: a number is never given twice, even after its student left.
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS student "
                "(number INTEGER PRIMARY KEY AUTOINCREMENT, net REAL)"
            )

    def join(self) -> int:
        """A new student: their number (1, 2, ...)."""
        with self._lock:
            return int(self._db.execute("INSERT INTO student (net) VALUES (NULL)").lastrowid)

    def leave(self, number: int) -> None:
        """A student left (student mode off, or the page closed)."""
        with self._lock:
            self._db.execute("DELETE FROM student WHERE number = ?", (number,))

    def report(self, number: int, net: float | None) -> None:
        """Student ``number``'s distributor's net income now, USD (None: not joined yet)."""
        value = None if net is None else float(net)
        with self._lock:
            self._db.execute("UPDATE student SET net = ? WHERE number = ?", (value, number))

    def summary(self) -> Tally:
        """The class right now."""
        with self._lock:
            students, joined, made = self._db.execute(
                "SELECT count(*), count(net), coalesce(sum(net >= 0), 0) FROM student"
            ).fetchone()
        return Tally(students=students, joined=joined, made_money=made)


# Shared by every session of this server process, and by its sibling processes if any.
CLASS = ClassTally(os.environ.get(TALLY_ENV))
