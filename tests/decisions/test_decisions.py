"""Decisions on referrals: the snapshot of what was shown is immutable and checked by its hash; a decision
without a named officer, a departure from the ranking or an accepted warning without a reason is refused
with every problem at once; decisions are append-only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, text, update
from sqlalchemy.exc import DatabaseError

from matching.access import Actor, Remit, Role
from matching.accounts.users import create_user
from matching.decisions import (
    DecisionDraft,
    DecisionError,
    DecisionOutcome,
    RecommendationSnapshot,
    SnapshotTamperedError,
    decisions_for,
    load_snapshot,
    problems,
    record_decision,
    save_snapshot,
)
from matching.domain import Scope
from matching.fit_config import load_fit_config
from matching.pools import load_pool
from matching.ranking import service
from matching.store import schema
from matching.store.engine import upgrade
from matching.store.importer import import_folder
from matching.taxonomy import load_taxonomy

ON = date(2026, 4, 1)
AT = datetime(2026, 4, 1, 10, 30, tzinfo=UTC)


def _snapshot(engine: Engine) -> RecommendationSnapshot:
    """A real ranking of a waiting child of the small authority with at least two candidates, frozen."""
    cfg, taxonomy = load_fit_config(), load_taxonomy()
    with engine.connect() as conn:
        pool = load_pool(conn, scope=Scope(), taxonomy=taxonomy, cfg=cfg)
        for req in service.waiting_requests(conn, scope=Scope(), on=ON):
            result = service.rank_households(pool=pool, request=req, top=5)
            if len(result.candidates) >= 2:
                return RecommendationSnapshot.of(
                    result, taken_at=AT, data_as_at=ON, fit_config_version=cfg.version, fit_weights=cfg.weights
                )
    raise AssertionError("no waiting child with two candidates")


def officer(conn: Connection) -> Actor:
    """A placement officer of the small authority, L001, signed in."""
    user = create_user(
        conn,
        username="deb",
        role=Role.PLACEMENT_OFFICER,
        remit=Remit(frozenset({"L001"}), frozenset()),
        actor=Actor.system("tests"),
        password=None,
    )
    return Actor(user.id, "deb", Role.PLACEMENT_OFFICER.value)


def choosing(candidate: dict[str, Any], officer: str = "A. Officer, Head of Placements") -> DecisionDraft:
    """Choosing ``candidate``, its warnings accepted (with a reason when there are any)."""
    warnings = tuple(w["code"] for w in candidate["warnings"])
    return DecisionDraft(
        DecisionOutcome.HOUSEHOLD_CHOSEN,
        officer,
        candidate["household_id"],
        accepted_warnings=warnings,
        reason_codes=("support_agreed",) if warnings else (),
    )


@pytest.fixture
def store(engine: Engine, small_folder: Path) -> tuple[Engine, RecommendationSnapshot, Actor]:
    upgrade(engine)
    import_folder(engine, small_folder)
    with engine.begin() as conn:
        actor = officer(conn)
    return engine, _snapshot(engine), actor


def _best(snapshot: RecommendationSnapshot) -> dict:
    return snapshot.candidates[0]


def test_choosing_the_best_ranked_household_without_warnings_needs_no_reason(store) -> None:  # type: ignore[no-untyped-def]
    engine, snap, actor = store
    best = _best(snap)
    draft = choosing(best)
    with engine.begin() as conn:
        decision = record_decision(conn, draft, snap, actor=actor, now=AT)
    assert decision.departs_from_ranking is False
    assert decision.best_ranked_household_id == best["household_id"]
    with engine.connect() as conn:
        assert decisions_for(conn, [snap.referral_id]) == [decision]
        stored = load_snapshot(conn, decision.snapshot_sha256)
    assert stored == snap


def test_a_decision_without_a_named_officer_or_a_departure_without_reason_lists_every_problem(store) -> None:  # type: ignore[no-untyped-def]
    engine, snap, actor = store
    second = snap.candidates[1]
    draft = DecisionDraft(DecisionOutcome.HOUSEHOLD_CHOSEN, "   ", second["household_id"])
    with pytest.raises(DecisionError) as caught, engine.begin() as conn:
        record_decision(conn, draft, snap, actor=actor)
    fields = {p.field for p in caught.value.problems}
    assert {"named_officer", "reason_codes"} <= fields
    reasons = next(p.message for p in caught.value.problems if p.field == "reason_codes")
    assert "ranked 2, not first" in reasons
    with engine.connect() as conn:
        assert decisions_for(conn, [snap.referral_id]) == []  # nothing recorded


def test_a_household_not_ranked_needs_a_reason_and_no_household_needs_why(store) -> None:  # type: ignore[no-untyped-def]
    _, snap, _ = store
    outside = problems(DecisionDraft("household_chosen", "A. Officer", "L001-H99999"), snap)
    assert any("not among those ranked" in p.message for p in outside)
    none = problems(DecisionDraft("no_household", "A. Officer"), snap)
    assert [p.field for p in none] == ["reason_codes"]
    other = problems(DecisionDraft("no_household", "A. Officer", reason_codes=("other",)), snap)
    assert [p.field for p in other] == ["reason_text"]
    assert problems(DecisionDraft("no_household", "A. Officer", reason_codes=("no_offer",)), snap) == []
    assert [p.field for p in problems(DecisionDraft("placed", "A. Officer"), snap)] == ["outcome"]


def test_a_changed_snapshot_fails_its_hash(store) -> None:  # type: ignore[no-untyped-def]
    engine, snap, _ = store
    changed = RecommendationSnapshot({**snap.payload, "data_as_at": "2026-03-01"}, snap.sha256)
    with pytest.raises(SnapshotTamperedError):
        changed.verify()
    with engine.begin() as conn, pytest.raises(SnapshotTamperedError):
        save_snapshot(conn, changed)


def test_snapshots_and_decisions_cannot_be_changed_or_deleted_in_the_store(store) -> None:  # type: ignore[no-untyped-def]
    engine, snap, actor = store
    draft = DecisionDraft("no_household", "A. Officer", reason_codes=("no_offer",))
    with engine.begin() as conn:
        record_decision(conn, draft, snap, actor=actor, now=AT)
    for statement in (
        update(schema.recommendation_snapshot).values(referral_id="X"),
        update(schema.placement_decision).values(named_officer="Someone else"),
        text("DELETE FROM placement_decision"),
        text("DELETE FROM recommendation_snapshot"),
    ):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)


_CODES = st.lists(st.sampled_from(["child_wishes", "contact", "other", "nonsense"]), max_size=3, unique=True)


@settings(max_examples=60, deadline=None)
@given(rank=st.integers(0, 4), codes=_CODES, text_given=st.booleans(), accept=st.booleans())
def test_a_complete_decision_is_exactly_one_with_every_reason_practice_asks_for(
    rank: int, codes: list[str], text_given: bool, accept: bool
) -> None:
    snap = _FIXED
    shown = snap.candidates[min(rank, len(snap.candidates) - 1)]
    warnings = tuple(w["code"] for w in shown["warnings"])
    draft = DecisionDraft(
        "household_chosen",
        "A. Officer",
        shown["household_id"],
        reason_codes=tuple(codes),
        reason_text="Because." if text_given else None,
        accepted_warnings=warnings if accept else (),
    )
    needs_reason = shown["rank"] != 1 or bool(warnings)
    complete = (
        (not needs_reason or bool(codes))
        and "nonsense" not in codes
        and ("other" not in codes or text_given)
        and (accept or not warnings)
    )
    assert (problems(draft, snap) == []) == complete


def _fixed_snapshot() -> RecommendationSnapshot:
    """A hand-made snapshot (the property test needs no store): three ranked households, the second warned."""

    def candidate(rank: int, hid: str, warned: bool) -> dict:
        warnings = [{"code": "usual_limit", "message": "Would be over the usual fostering limit"}] if warned else []
        return {"rank": rank, "household_id": hid, "score": 90 - rank, "warnings": warnings}

    payload = {
        "format": 1,
        "taken_at": AT.isoformat(),
        "data_as_at": ON.isoformat(),
        "fit_config_version": 1,
        "fit_weights": {},
        "ranking": {
            "referral_id": "L001-R1",
            "child_id": "L001-C1",
            "candidates": [candidate(1, "H1", False), candidate(2, "H2", True), candidate(3, "H3", False)],
        },
    }
    from matching.decisions.snapshot import digest

    return RecommendationSnapshot(payload, digest(payload))


_FIXED = _fixed_snapshot()
