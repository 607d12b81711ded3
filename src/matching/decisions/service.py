"""Deciding on a referral: the ranking recomputed at the moment of decision, frozen as the snapshot the decision
is recorded on, so what the officer was shown and what they decided are kept together."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Connection

from matching.access import Actor
from matching.decisions.decision import Decision, DecisionDraft
from matching.decisions.snapshot import RecommendationSnapshot
from matching.decisions.store import record_decision
from matching.domain import Scope
from matching.fit_config import FitConfig
from matching.ranking import service
from matching.ranking.pool import HouseholdPool
from matching.store import queries

#: How many ranked households a decision's snapshot keeps (a household further down is "not ranked").
SNAPSHOT_TOP = 25


class ReferralNotFoundError(LookupError):
    """No referral of that id for a child in the caller's scope."""


class ReferralClosedError(ValueError):
    """The referral is not open (or is not the child's current one): nothing to decide."""


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
    """The ranking for an open referral in scope as it stands now, frozen."""
    found = queries.referral_child(conn, scope=scope, referral_id=referral_id)
    if found is None:
        raise ReferralNotFoundError(f"no referral {referral_id!r}")
    child_id, status = found
    if status != "open":
        raise ReferralClosedError(f"referral {referral_id!r} is {status}, not open")
    request = service.request_for_child(conn, scope=scope, child_id=child_id, on=on)
    if request.referral.referral_id != referral_id:
        raise ReferralClosedError(f"referral {referral_id!r} is not the child's current open referral")
    result = service.rank_households(pool=pool, request=request, top=SNAPSHOT_TOP)
    return RecommendationSnapshot.of(
        result,
        taken_at=now or datetime.now(UTC),
        data_as_at=on,
        fit_config_version=cfg.version,
        fit_weights=cfg.weights,
    )


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
    :class:`matching.decisions.DecisionError`)."""
    at = now or datetime.now(UTC)
    snapshot = snapshot_now(conn, scope=scope, referral_id=referral_id, on=on, pool=pool, cfg=cfg, now=at)
    return record_decision(conn, draft, snapshot, actor=actor, now=at), snapshot
