"""Student mode's class tally: one distributor per student, counted across browser sessions.

With ``mlmsim app --host 0.0.0.0`` every student opens the page on their own device and gets
their own town (one model per browser session). In student mode each student follows "their"
distributor, the N-th person to join after the founders (N: the order in which the students
switched student mode on), and the page shows how the whole class's distributors are doing.
The tally is the only state the sessions share: a process-wide object behind a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

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
    """Thread-safe tally of every student's distributor (one per student number)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._net: dict[int, float | None] = {}

    def join(self) -> int:
        """A new student: their number (1, 2, ...)."""
        with self._lock:
            self._next += 1
            self._net[self._next] = None
            return self._next

    def leave(self, number: int) -> None:
        """A student left (student mode off, or the page closed)."""
        with self._lock:
            self._net.pop(number, None)

    def report(self, number: int, net: float | None) -> None:
        """Student ``number``'s distributor's net income now, USD (None: not joined yet)."""
        with self._lock:
            if number in self._net:
                self._net[number] = None if net is None else float(net)

    def summary(self) -> Tally:
        """The class right now."""
        with self._lock:
            nets = [v for v in self._net.values() if v is not None]
            return Tally(
                students=len(self._net),
                joined=len(nets),
                made_money=sum(v >= 0 for v in nets),
            )


CLASS = ClassTally()  # shared by every session of this server process
