"""Snapshots and decisions in the store (append-only tables; see migration 0010)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select

from matching.access import Actor
from matching.decisions.decision import (
    Decision,
    DecisionDraft,
    DecisionError,
    DecisionOutcome,
    Problem,
    departs_from_ranking,
    problems,
)
from matching.decisions.snapshot import RecommendationSnapshot
from matching.store import schema

_S, _D = schema.recommendation_snapshot, schema.placement_decision


def save_snapshot(conn: Connection, snapshot: RecommendationSnapshot) -> str:
    """Store ``snapshot`` once (the same content is stored once, under its hash); its hash."""
    snapshot.verify()
    if conn.execute(select(_S.c.sha256).where(_S.c.sha256 == snapshot.sha256)).first() is None:
        taken = datetime.fromisoformat(str(snapshot.payload["taken_at"]))
        conn.execute(
            insert(_S).values(
                sha256=snapshot.sha256, referral_id=snapshot.referral_id, taken_at=taken, payload=snapshot.payload
            )
        )
    return snapshot.sha256


def load_snapshot(conn: Connection, sha256: str) -> RecommendationSnapshot | None:
    """The stored snapshot of that hash (checked: :class:`SnapshotTamperedError` if changed), or None."""
    row = conn.execute(select(_S.c.payload).where(_S.c.sha256 == sha256)).first()
    if row is None:
        return None
    snapshot = RecommendationSnapshot(row.payload, sha256)
    snapshot.verify()
    return snapshot


def record_decision(
    conn: Connection,
    draft: DecisionDraft,
    snapshot: RecommendationSnapshot,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> Decision:
    """Record ``draft`` as made on ``snapshot`` (stored first if it is not yet), by the signed-in ``actor``;
    :class:`DecisionError` with every problem when it is incomplete."""
    found = problems(draft, snapshot)
    if found:
        raise DecisionError(found)
    if actor.user_id is None:
        raise DecisionError([Problem("recorded_by", "A decision is recorded by a signed-in person, not the service")])
    sha = save_snapshot(conn, snapshot)
    at = now or datetime.now(UTC)
    outcome = DecisionOutcome(draft.outcome)
    values = {
        "referral_id": snapshot.referral_id,
        "snapshot_sha256": sha,
        "outcome": outcome.value,
        "household_id": draft.household_id if outcome is DecisionOutcome.HOUSEHOLD_CHOSEN else None,
        "best_ranked_household_id": snapshot.best_ranked,
        "departs_from_ranking": departs_from_ranking(draft, snapshot),
        "named_officer": draft.named_officer.strip(),
        "reason_codes": list(draft.reason_codes),
        "reason_text": (draft.reason_text or "").strip() or None,
        "accepted_warnings": sorted(draft.accepted_warnings),
        "recorded_by_user_id": actor.user_id,
        "recorded_by": actor.username,
        "decided_at": at,
    }
    decision_id = conn.execute(insert(_D).values(**values).returning(_D.c.id)).scalar_one()
    return _decision({**values, "id": decision_id})


def decisions_for(conn: Connection, referral_ids: Sequence[str]) -> list[Decision]:
    """Every decision recorded on these referrals, oldest first (a later one supersedes an earlier)."""
    if not referral_ids:
        return []
    rows = conn.execute(
        select(_D).where(_D.c.referral_id.in_(sorted(set(referral_ids)))).order_by(_D.c.decided_at, _D.c.id)
    ).mappings()
    return [_decision(dict(r)) for r in rows]


def decisions_in_force(conn: Connection, child_ids: Iterable[str]) -> list[tuple[Decision, str]]:
    """Each referral's latest decision (it supersedes the earlier ones), of the referrals of these children, with
    the referral's child; in the order the referrals were first decided."""
    r = schema.referral
    ids = sorted(set(child_ids))
    first: dict[str, tuple[datetime, int]] = {}
    latest: dict[str, tuple[Decision, str]] = {}
    for i in range(0, len(ids), 900):
        stmt = (
            select(_D, r.c.child_id)
            .join(r, r.c.referral_id == _D.c.referral_id)
            .where(r.c.child_id.in_(ids[i : i + 900]))
            .order_by(_D.c.decided_at, _D.c.id)
        )
        for row in conn.execute(stmt).mappings():
            d = _decision(dict(row))
            first.setdefault(d.referral_id, (d.decided_at, d.decision_id))
            latest[d.referral_id] = (d, str(row["child_id"]))
    return [latest[ref] for ref in sorted(latest, key=first.__getitem__)]


def decision_by_id(conn: Connection, decision_id: int) -> Decision | None:
    """The decision recorded under ``decision_id``, or None (the caller checks the referral is in its remit)."""
    row = conn.execute(select(_D).where(_D.c.id == decision_id)).mappings().first()
    return None if row is None else _decision(dict(row))


def _decision(row: dict[str, object]) -> Decision:
    at = row["decided_at"]
    assert isinstance(at, datetime)
    return Decision(
        decision_id=int(row["id"]),  # type: ignore[call-overload]
        referral_id=str(row["referral_id"]),
        snapshot_sha256=str(row["snapshot_sha256"]),
        outcome=DecisionOutcome(str(row["outcome"])),
        household_id=None if row["household_id"] is None else str(row["household_id"]),
        best_ranked_household_id=None
        if row["best_ranked_household_id"] is None
        else str(row["best_ranked_household_id"]),
        departs_from_ranking=bool(row["departs_from_ranking"]),
        named_officer=str(row["named_officer"]),
        reason_codes=tuple(row["reason_codes"]),  # type: ignore[arg-type]
        reason_text=None if row["reason_text"] is None else str(row["reason_text"]),
        accepted_warnings=tuple(row["accepted_warnings"]),  # type: ignore[arg-type]
        recorded_by=str(row["recorded_by"]),
        decided_at=at if at.tzinfo else at.replace(tzinfo=UTC),
    )
