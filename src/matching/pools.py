"""Household pools ready for ranking: every household in scope, with the learned estimate when one is verified.

This sits above :mod:`matching.ranking` and :mod:`matching.stability` so that neither imports the other
the wrong way: ranking knows a stability model only as a protocol; stability builds on ranking.
"""

from __future__ import annotations

from sqlalchemy import Connection

from matching.domain import Scope
from matching.fit_config import FitConfig
from matching.ranking.pool import HouseholdPool
from matching.store import queries
from matching.taxonomy import Taxonomy


def load_pool(
    conn: Connection, *, scope: Scope, taxonomy: Taxonomy, cfg: FitConfig, with_stability: bool = True
) -> HouseholdPool:
    """Every household in scope, as a pool ready for ranking.

    With ``with_stability`` the verified stability model (if any) is attached and scored as one
    factor; without one, or when it cannot be used, the ranking is rules-only and says why.
    """
    pool = HouseholdPool(queries.all_households(conn, scope=scope, taxonomy=taxonomy), taxonomy, cfg)
    if with_stability:
        from matching.stability.scorer import load_scorer  # the learning stack loads only when asked for

        scorer, note = load_scorer(conn, scope=scope, taxonomy=taxonomy)
        if scorer is None:
            pool.model_note = f"rules only: {note}"
        else:
            pool.with_stability(scorer)
    return pool
