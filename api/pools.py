"""Household pools kept between requests, one per scope, rebuilt when an import lands or a model is trusted or
revoked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

from sqlalchemy import Connection, func, select

from matching.domain import Scope
from matching.fit_config import FitConfig
from matching.pools import load_pool
from matching.ranking.pool import HouseholdPool
from matching.stability.trust import state as trust_state
from matching.store.schema import import_run
from matching.taxonomy import Taxonomy

T = TypeVar("T")


class PoolCache:
    """The ranking pool of each scope, keyed by the newest import and the store's trusted models, so stale data
    is never ranked and a revoked model is never used."""

    def __init__(self, taxonomy: Taxonomy, cfg: FitConfig, recheck_seconds: float = 1.0) -> None:
        self.taxonomy = taxonomy
        self.cfg = cfg
        self.recheck_seconds = recheck_seconds
        self._lock = threading.Lock()
        self._pools: dict[Scope, tuple[tuple[int, ...], HouseholdPool]] = {}
        self._other: dict[Hashable, tuple[tuple[int, ...], object]] = {}
        self._version: tuple[int, ...] = (-1,)
        self._checked = float("-inf")

    def _newest_import(self, conn: Connection) -> tuple[int, ...]:
        # Asked at most once a recheck interval: an import, or a model trusted or revoked, shows within that long.
        now = time.monotonic()
        if now - self._checked >= self.recheck_seconds:
            newest = int(conn.execute(select(func.coalesce(func.max(import_run.c.id), 0))).scalar_one())
            self._version = (newest, *trust_state(conn))
            self._checked = now
        return self._version

    def get_keyed(self, conn: Connection, key: Hashable, build: Callable[[], T]) -> T:
        """Anything built from the store (``build()``), kept under ``key`` until the next import."""
        version = self._newest_import(conn)
        with self._lock:
            cached = self._other.get(key)
            if cached is not None and cached[0] == version:
                return cast(T, cached[1])
            value = build()
            self._other[key] = (version, value)
            return value

    def get(self, conn: Connection, scope: Scope) -> HouseholdPool:
        """The pool for ``scope`` as of the newest import (seen within ``recheck_seconds``)."""
        version = self._newest_import(conn)
        with self._lock:
            cached = self._pools.get(scope)
            if cached is not None and cached[0] == version:
                return cached[1]
            pool = load_pool(conn, scope=scope, taxonomy=self.taxonomy, cfg=self.cfg)
            self._pools[scope] = (version, pool)
            return pool
