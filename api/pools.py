"""Household pools kept between requests, one per scope, rebuilt when an import lands or a model is trusted or
revoked.

Both caches are bounded by count and drop the least recently used entry first: a key can come from the caller
(a step-down date, a remit), so an unbounded cache would grow with every distinct request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

from sqlalchemy import Connection, func, select

from matching.domain import Scope
from matching.fit_config import FitConfig
from matching.pools import load_pool
from matching.ranking.pool import HouseholdPool
from matching.referrals.answers import households_version
from matching.stability.trust import state as trust_state
from matching.store.schema import import_run
from matching.taxonomy import Taxonomy

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


#: Keyed entries built from referrals (see :meth:`PoolCache.referrals_changed`).
REFERRAL_KEYS: tuple[str, ...] = ("store-dates", "step-down-cohort", "step-down-counts")


def _keep(cache: OrderedDict[K, V], key: K, value: V, limit: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)


class PoolCache:
    """The ranking pool of each scope, keyed by the newest import and the store's trusted models, so stale data
    is never ranked and a revoked model is never used; at most
    ``max_pools`` pools and ``max_keyed`` other entries, the least recently used dropped first."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        cfg: FitConfig,
        recheck_seconds: float = 1.0,
        *,
        max_pools: int = 8,
        max_keyed: int = 32,
    ) -> None:
        self.taxonomy = taxonomy
        self.cfg = cfg
        self.recheck_seconds = recheck_seconds
        self.max_pools = max_pools
        self.max_keyed = max_keyed
        self._lock = threading.Lock()
        self._pools: OrderedDict[Scope, tuple[tuple[int, ...], HouseholdPool]] = OrderedDict()
        self._other: OrderedDict[Hashable, tuple[tuple[int, ...], object]] = OrderedDict()
        self._version: tuple[int, ...] = (-1,)
        self._checked = float("-inf")

    def _newest_import(self, conn: Connection) -> tuple[int, ...]:
        # Asked at most once a recheck interval: an import, a model trusted or revoked, or a household's "will not
        # consider" list changed by a confirmed suggestion shows within that long.
        now = time.monotonic()
        if now - self._checked >= self.recheck_seconds:
            newest = int(conn.execute(select(func.coalesce(func.max(import_run.c.id), 0))).scalar_one())
            self._version = (newest, *trust_state(conn), households_version(conn))
            self._checked = now
        return self._version

    def reload(self) -> None:
        """Ask the store on the next use whether households changed (after this process changed one: a confirmed
        "will not consider" suggestion), rather than within ``recheck_seconds``."""
        self._checked = float("-inf")

    def get_keyed(self, conn: Connection, key: Hashable, build: Callable[[], T]) -> T:
        """Anything built from the store (``build()``), kept under ``key`` until the next import."""
        version = self._newest_import(conn)
        with self._lock:
            cached = self._other.get(key)
            if cached is not None and cached[0] == version:
                self._other.move_to_end(key)
                return cast(T, cached[1])
            value = build()
            _keep(self._other, key, (version, value), self.max_keyed)
            return value

    def get(self, conn: Connection, scope: Scope) -> HouseholdPool:
        """The pool for ``scope`` as of the newest import (seen within ``recheck_seconds``)."""
        version = self._newest_import(conn)
        with self._lock:
            cached = self._pools.get(scope)
            if cached is not None and cached[0] == version:
                self._pools.move_to_end(scope)
                return cached[1]
            pool = load_pool(conn, scope=scope, taxonomy=self.taxonomy, cfg=self.cfg)
            _keep(self._pools, scope, (version, pool), self.max_pools)
            return pool

    def forget(self, *names: str) -> None:
        """Drop the kept entries whose key starts with one of ``names`` (built from records the service has just
        written itself, which no import marks): the next read builds them again."""
        with self._lock:
            for key in [k for k in self._other if isinstance(k, tuple) and k and k[0] in names]:
                del self._other[key]

    def referrals_changed(self) -> None:
        """A referral was made or its status moved: drop what was built from referrals (the store's dates, which
        give the as-at date, and the step-down cohort and its counts).  The household pools hold no referral."""
        self.forget(*REFERRAL_KEYS)

    def sizes(self) -> tuple[int, int]:
        """How many pools and other entries are kept now."""
        with self._lock:
            return len(self._pools), len(self._other)
