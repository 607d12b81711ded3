"""Deciding on a referral: the ranking recomputed at the moment of decision, frozen as the snapshot the decision
is recorded on, so what the officer was shown and what they decided are kept together."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection

from matching.access import Actor
from matching.decisions.decision import Decision, DecisionDraft, DecisionOutcome
from matching.decisions.snapshot import RecommendationSnapshot
from matching.decisions.store import record_decision
from matching.domain import Scope
from matching.fit_config import FitConfig
from matching.ranking import service
from matching.ranking.explanation import MatchResult
from matching.ranking.pool import HouseholdPool
from matching.referrals.current import ReferralClosedError, ReferralNotFoundError
from matching.referrals.offers import Offer, offers_compared
from matching.referrals.records import change_status

__all__ = ["SNAPSHOT_TOP", "ReferralClosedError", "ReferralNotFoundError", "decide", "snapshot_now"]

#: How many ranked households a decision's snapshot keeps (a household further down is "not ranked").
SNAPSHOT_TOP = 25


def snapshot_now(
    conn: Connection,
    *,
    scope: Scope,
    referral_id: str,
    on: date,
    pool: HouseholdPool,
    cfg: FitConfig,
    now: datetime | None = None,
) -> RecommendationSnapshot:
    """The ranking for an open referral in scope as it stands now, and the offers on it compared, frozen
    (:class:`~matching.referrals.current.ReferralNotFoundError` outside the scope,
    :class:`~matching.referrals.current.ReferralClosedError` when not open)."""
    compared = offers_compared(conn, referral_id, scope=scope, pool=pool, on=on, cfg=cfg)
    return RecommendationSnapshot.of(
        _top(compared.ranking, SNAPSHOT_TOP),
        taken_at=now or datetime.now(UTC),
        data_as_at=on,
        fit_config_version=cfg.version,
        fit_weights=cfg.weights,
        offers=[_shown(o) for o in compared.offers],
    )


def _top(result: MatchResult, top: int) -> MatchResult:
    """``result`` (a longer ranking) as :func:`~matching.ranking.service.rank_households` answers it for ``top``:
    the first ``top`` candidates, and the nearest misses only when it would show them for ``top``."""
    misses = result.nearest_misses if service.wants_near_misses(None, result.eligible, top) else ()
    return replace(result, candidates=result.candidates[:top], nearest_misses=misses)


def _shown(offer: Offer) -> dict[str, Any]:
    """An offer as the snapshot keeps it."""
    return {
        "household_id": offer.household_id,
        "agency_code": offer.answer.agency_code,
        "answered_at": offer.answer.recorded_at.isoformat(),
        "rank": offer.rank,
        "explanation": None if offer.explanation is None else offer.explanation.as_dict(),
        "ruled_out": [r.code for r in offer.ruled_out],
    }


def decide(
    conn: Connection,
    draft: DecisionDraft,
    *,
    scope: Scope,
    referral_id: str,
    on: date,
    pool: HouseholdPool,
    cfg: FitConfig,
    actor: Actor,
    now: datetime | None = None,
) -> tuple[Decision, RecommendationSnapshot]:
    """Record ``draft`` on the referral, with the ranking recomputed now as its snapshot (every problem at once:
    :class:`matching.decisions.DecisionError`).  A household chosen matches the referral (its status history
    says by whom): the child no longer waits, and a changed mind reopens it first (``decision_changed``)."""
    at = now or datetime.now(UTC)
    snapshot = snapshot_now(conn, scope=scope, referral_id=referral_id, on=on, pool=pool, cfg=cfg, now=at)
    decision = record_decision(conn, draft, snapshot, actor=actor, now=at)
    if decision.outcome is DecisionOutcome.HOUSEHOLD_CHOSEN:
        change_status(conn, referral_id, "matched", "household_chosen", scope=scope, actor=actor, now=at)
    return decision, snapshot
