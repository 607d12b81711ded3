"""A pool is shared by the service's request threads: its per-day caches must stay whole under them (found by review:
evicting without a lock raised "dictionary changed size during iteration", or a KeyError when two threads evicted
the same day)."""

from __future__ import annotations

import sys
import threading
from datetime import date, timedelta

from matching.fit_config import load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.taxonomy import load_taxonomy
from tests.factories import make_household


def test_the_caches_stay_whole_when_threads_share_a_pool() -> None:
    pool = HouseholdPool([make_household(household_id=f"H{i}") for i in range(5)], load_taxonomy(), load_fit_config())
    needs = list(pool.tables.need_ids)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(20_000):
                day = date(2026, 1, 1) + timedelta(days=i % 7)  # more days than are kept: eviction all the time
                pool.need_cover(day, needs[i % len(needs)] if i % 2 else f"unknown-{t}-{i % 500}")
                pool.residents_rule_out([10], day + timedelta(days=31 * (i % 6)))
        except BaseException as e:  # any error in a thread is the failure
            errors.append(e)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []
