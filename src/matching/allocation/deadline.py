"""One time limit for a whole allocation: reading the store, building the instance, solving, reporting.

A :class:`Deadline` is made once, when the command or job starts, and handed to every phase.  Each
phase takes what is left and returns its best answer so far when it runs out: reading and building
say how long they took, building stops early (the units not reached are reported as not
considered), the solver's phases each stop at their share, and a little time is kept back for
checking and summarising the answer.  Nothing raises because time ran out: :class:`OutOfTime` is
only raised and caught inside the solver, to stop building a model part way.

Times are :func:`time.perf_counter` values throughout (the clock every phase compares against).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

#: How far past its limit a whole allocation may run (for work that cannot be cut short: checking
#: the answer, a C++ solver's last step); the tests and benchmarks hold it to this.
GRACE_SECONDS = 1.0
#: The shortest time limit an allocation accepts (the command, the API and the form alike): with less, not even the
#: store's waiting list can be read.
MIN_SECONDS = 0.1


class OutOfTime(Exception):  # noqa: N818 - a signal, caught inside the solver, not an error
    """A model being built would not be done in time (caught where it is raised; never reaches a caller)."""


@dataclass(frozen=True)
class Deadline:
    """``seconds`` from ``started`` (a :func:`time.perf_counter` value)."""

    seconds: float
    started: float

    @classmethod
    def start(cls, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now."""
        return cls(float(seconds), time.perf_counter())

    @property
    def at(self) -> float:
        """When it passes, as a :func:`time.perf_counter` value."""
        return self.started + self.seconds

    def elapsed(self) -> float:
        """Seconds since it started."""
        return time.perf_counter() - self.started

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.at - time.perf_counter())

    def expired(self) -> bool:
        """True once it has passed."""
        return time.perf_counter() >= self.at

    def keeping(self, seconds: float) -> float:
        """The time (a :func:`time.perf_counter` value) a phase must stop by to leave ``seconds`` before the
        deadline for the phases after it (now, if that time has passed)."""
        return max(time.perf_counter(), self.at - seconds)

    def share(self, fraction: float, until: float | None = None) -> float:
        """Now plus ``fraction`` of the time left before ``until`` (the deadline when None)."""
        now = time.perf_counter()
        return now + fraction * max(0.0, (self.at if until is None else until) - now)
