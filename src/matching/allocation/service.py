"""Allocation from the store: the waiting children of an area, the households they could go to, solved."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, select

from matching.allocation.instance import AllocationInstance, build_instance
from matching.allocation.solver import AllocationResult, SolverSettings, solve
from matching.domain import Scope
from matching.fit_config import FitConfig
from matching.pools import load_pool
from matching.ranking.service import waiting_requests
from matching.store import schema
from matching.taxonomy import Taxonomy


def area_scope(conn: Connection, *, la_code: str | None = None, region: str | None = None) -> Scope:
    """The children of one LA or one region (all when neither); households from anywhere."""
    if la_code is None and region is None:
        return Scope.everything()
    stmt = select(schema.local_authority.c.la_code)
    stmt = (
        stmt.where(schema.local_authority.c.la_code == la_code)
        if la_code
        else stmt.where(schema.local_authority.c.region == region)
    )
    codes = frozenset(conn.execute(stmt).scalars())
    if not codes:
        raise LookupError(f"no local authority {la_code!r}" if la_code else f"no region {region!r}")
    return Scope(la_codes=codes)


def allocate(
    conn: Connection,
    *,
    scope: Scope,
    on: date,
    cfg: FitConfig,
    taxonomy: Taxonomy,
    settings: SolverSettings | None = None,
    top_k: int = 50,
    min_fit: float = 0.0,
    max_distance_miles: float | None = None,
    keep_current: float | None = None,
) -> tuple[AllocationInstance, AllocationResult]:
    """Every open referral in scope allocated to the households that could take them (a proposal)."""
    requests = waiting_requests(conn, scope=scope, on=on)
    pool = load_pool(
        conn, scope=Scope(agency_codes=scope.agency_codes), taxonomy=taxonomy, cfg=cfg, with_stability=False
    )
    instance = build_instance(
        pool, requests, top_k=top_k, min_fit=min_fit, max_distance_miles=max_distance_miles, keep_current=keep_current
    )
    return instance, solve(instance, settings)
