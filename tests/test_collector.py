"""The collector pause: off inside, back as it was after, however pauses nest or overlap across threads."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from matching.collector import collector_paused


@pytest.fixture(autouse=True)
def _collector_on() -> object:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_on_again_after_even_on_an_error() -> None:
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still open
    assert gc.isenabled()
    with pytest.raises(ValueError, match="boom"), collector_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads_end_with_the_last() -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with collector_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with collector_paused():
        thread.start()
        inside.wait(5)
    assert not gc.isenabled()  # the other thread's pause is still open
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_it_decorates_a_function() -> None:
    @collector_paused()
    def work() -> bool:
        return gc.isenabled()

    assert work() is False
    assert work() is False  # a fresh pause each call
    assert gc.isenabled()


def test_what_the_pause_made_is_not_left_for_the_first_collection_after_it() -> None:
    # England's allocation made millions of objects while paused; all of them were young when it ended, and the first
    # collection after it scanned them all (1.3 s after the allocation had returned).
    thresholds = gc.get_threshold()
    gc.set_threshold(10**9)  # no collection of its own while it looks: the youngest generation as the pause left it
    try:
        with collector_paused():
            made = [[i] for i in range(200_000)]
        young = len(gc.get_objects(generation=0))
    finally:
        gc.set_threshold(*thresholds)
    assert young < 10_000, f"{young:,} objects left in the youngest generation"
    assert len(made) == 200_000


def test_a_cycle_made_while_paused_is_still_collected() -> None:
    class Node:
        other: object = None

    with collector_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b
    assert alive() is not None  # a cycle: only the collector frees it
    gc.collect()
    assert alive() is None


def test_what_other_code_froze_stays_frozen() -> None:
    """Found in review: ending a pause unfroze every object, those another part of the program had frozen with
    ``gc.freeze()`` (before forking workers, so that their pages stay shared) among them."""
    kept = [[i] for i in range(1_000)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with collector_paused():
            made = [[i] for i in range(1_000)]
        # Still frozen (less any frozen object freed meanwhile), and nothing more: what the pause made is not.
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
    assert len(kept) == len(made)
