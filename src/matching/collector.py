"""Python's cyclic garbage collector, paused while bulk work makes many small objects.

Reading England's waiting list and building its allocation make millions of rows, tuples and arcs, none of them in
reference cycles.  The collector runs each time enough new objects survive, and each full run rescans the whole heap:
on the national benchmark that was about 1.6 s of reading and building, and 0.7 s of the 0.9 s it took to steer
385,000 arcs.  Paused, nothing is lost: objects are still freed when their last reference goes, and anything in a
cycle is collected once the collector runs again.

When the last pause ends, every object is moved to the oldest generation (``gc.freeze()`` then ``gc.unfreeze()``,
which move lists of objects without scanning them) before the collector is turned on again.  Otherwise every object
made during the pause is still in the youngest generation, and the first collection after it scans them all: 1.3 s
after England's allocation had returned, on time nobody had budgeted (the allocation's deadline ends before it).  In
the oldest generation they are scanned only at the collector's next full run, as any long-lived object is, and cycles
among them are still collected then.  When other code has frozen objects (``gc.freeze()`` before forking worker
processes, say), this is not done: unfreezing would undo theirs.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    """The open pauses, in every thread, and whether the collector ran before the first of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0
        self.was_enabled = False


_PAUSES = _Pauses()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (and on again after the last open pause ends, if it was on
    before the first); nested and concurrent pauses are counted."""
    with _PAUSES.lock:
        if _PAUSES.open == 0:
            _PAUSES.was_enabled = gc.isenabled()
            gc.disable()
        _PAUSES.open += 1
    try:
        yield
    finally:
        with _PAUSES.lock:
            _PAUSES.open -= 1
            if _PAUSES.open == 0:
                if gc.get_freeze_count() == 0:  # never unfreezing what other code froze (before a fork, say)
                    gc.freeze()  # every tracked object to the permanent generation (no scan) ...
                    gc.unfreeze()  # ... and from there to the oldest: nothing young left to scan at the next collection
                if _PAUSES.was_enabled:
                    gc.enable()
