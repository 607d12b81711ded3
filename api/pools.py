"""Household pools kept between requests, one per scope, rebuilt when an import lands."""

from __future__ import annotations

import threading

from sqlalchemy import Connection, func, select

from matching.domain import Scope
from matching.fit_config import FitConfig
from matching.ranking.pool import HouseholdPool
from matching.ranking.service import load_pool
from matching.store.schema import import_run
from matching.taxonomy import Taxonomy


class PoolCache:
    """The ranking pool of each scope, keyed by the newest import so stale data is never ranked."""

    def __init__(self, taxonomy: Taxonomy, cfg: FitConfig) -> None:
        self.taxonomy = taxonomy
        self.cfg = cfg
        self._lock = threading.Lock()
        self._pools: dict[Scope, tuple[int, HouseholdPool]] = {}

    def get(self, conn: Connection, scope: Scope) -> HouseholdPool:
        """The pool for ``scope`` as of the newest import."""
        version = int(conn.execute(select(func.coalesce(func.max(import_run.c.id), 0))).scalar_one())
        with self._lock:
            cached = self._pools.get(scope)
            if cached is not None and cached[0] == version:
                return cached[1]
            pool = load_pool(conn, scope=scope, taxonomy=self.taxonomy, cfg=self.cfg)
            self._pools[scope] = (version, pool)
            return pool
