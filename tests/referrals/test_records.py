"""Referrals the service owns: made and changed by the contract's own rule, every problem at once and nothing
written while there is one; statuses moved only as allowed, each write in the history with who and when."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, func, select

from matching.access import Actor
from matching.domain import Scope
from matching.referrals import (
    TRANSITIONS,
    ReferralError,
    ReferralNotFoundError,
    ReferralStateError,
    change_status,
    create_referral,
    get_referral,
    history,
    update_referral,
)
from matching.referrals.words import STATUS_REASONS
from matching.store import schema as s
from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder

NOW = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
ACTOR = Actor(7, "deb", "placement_officer")
SCOPE = Scope(la_codes=frozenset({"L001"}), agency_codes=frozenset())
ELSEWHERE = Scope(la_codes=frozenset({"L999"}), agency_codes=frozenset())
GOOD = {
    "referral_date": "2026-03-30",
    "urgency": "within_5_days",
    "placement_type": "short_term",
    "expected_duration_days": 90,
    "risks_to_child": ["going_missing"],
    "wishes_text": "Wants to stay near her school.",
    "wish_near_school": True,
}


@pytest.fixture(scope="module")
def store(small_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('referrals') / 'store.db'}")
    upgrade(engine)
    import_folder(engine, small_folder)
    yield engine
    engine.dispose()


@pytest.fixture
def conn(store: Engine) -> Iterator[Connection]:
    """A connection whose writes are undone after the test."""
    with store.connect() as c:
        trans = c.begin()
        yield c
        trans.rollback()


def _free_child(conn: Connection) -> str:
    """A looked-after child with no referral that is open or matched."""
    active = select(s.referral.c.child_id).where(s.referral.c.status.in_(("open", "matched")))
    stmt = (
        select(s.child.c.child_id)
        .where(s.child.c.ceased.is_(None), s.child.c.child_id.not_in(active))
        .order_by(s.child.c.child_id)
    )
    return str(conn.execute(stmt).scalars().first())


def _count(conn: Connection, table: object) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_referral_is_made_changed_and_closed_with_its_history(conn: Connection) -> None:
    child = _free_child(conn)
    rid = create_referral(conn, {"child_id": child, **GOOD}, scope=SCOPE, actor=ACTOR, now=NOW)
    assert rid.startswith("R-")
    made = get_referral(conn, rid, scope=SCOPE)
    assert made is not None
    assert (made.child_id, made.status, made.fields["referral_date"]) == (child, "open", date(2026, 3, 30))
    assert made.fields["risks_to_child"] == ["going_missing"]
    assert made.fields["suitable_for"] == ["foster"]  # the contract's default
    assert get_referral(conn, rid, scope=ELSEWHERE) is None
    changed = update_referral(conn, rid, {"urgency": "today", "wish_pets": True}, scope=SCOPE, actor=ACTOR, now=NOW)
    assert set(changed) == {"urgency", "wish_pets"}
    assert update_referral(conn, rid, {"urgency": "today"}, scope=SCOPE, actor=ACTOR, now=NOW) == ()
    assert change_status(conn, rid, "closed", "no_longer_needed", scope=SCOPE, actor=ACTOR, now=NOW) == "open"
    with pytest.raises(ReferralStateError):
        update_referral(conn, rid, {"urgency": "over_5_days"}, scope=SCOPE, actor=ACTOR, now=NOW)
    entries = history(conn, rid)
    assert [e.kind for e in entries] == ["created", "updated", "status"]
    assert "wishes_text" in entries[0].fields
    assert "urgency" in entries[0].fields
    assert set(entries[1].fields) == {"urgency", "wish_pets"}
    assert (entries[2].status_from, entries[2].status_to, entries[2].reason_code) == (
        "open",
        "closed",
        "no_longer_needed",
    )
    assert {e.changed_by for e in entries} == {"deb"}
    text = repr(entries)
    assert "near her school" not in text
    assert "going_missing" not in text


def test_a_referral_with_several_bad_fields_lists_them_all_and_writes_nothing(conn: Connection) -> None:
    before = (_count(conn, s.referral), _count(conn, s.referral_history))
    bad = {
        "child_id": _free_child(conn),
        "referral_date": "2026-04-02",  # tomorrow
        "urgency": "yesterday",
        "expected_duration_days": -3,
        "risks_to_child": ["going_missing", "not_a_risk"],
        "wishes_text": "x" * 5000,
        "colour": "blue",
    }
    with pytest.raises(ReferralError) as caught:
        create_referral(conn, bad, scope=SCOPE, actor=ACTOR, now=NOW)
    fields = {p.field for p in caught.value.problems}
    assert fields == {
        "referral_date",
        "urgency",
        "placement_type",
        "expected_duration_days",
        "risks_to_child",
        "wishes_text",
        "colour",
    }
    for p in caught.value.problems:
        assert "yesterday" not in p.message
        assert "not_a_risk" not in p.message
        assert "blue" not in p.message
        assert p.expected
    assert (_count(conn, s.referral), _count(conn, s.referral_history)) == before


def test_the_child_must_be_in_the_remit_and_without_another_open_referral(conn: Connection) -> None:
    child = _free_child(conn)
    with pytest.raises(ReferralError) as outside:
        create_referral(conn, {"child_id": child, **GOOD}, scope=ELSEWHERE, actor=ACTOR, now=NOW)
    with pytest.raises(ReferralError) as unknown:
        create_referral(conn, {"child_id": "NO-SUCH", **GOOD}, scope=SCOPE, actor=ACTOR, now=NOW)
    assert outside.value.problems == unknown.value.problems  # the same words: existence is not told
    create_referral(conn, {"child_id": child, **GOOD}, scope=SCOPE, actor=ACTOR, now=NOW)
    with pytest.raises(ReferralError) as twice:
        create_referral(conn, {"child_id": child, **GOOD}, scope=SCOPE, actor=ACTOR, now=NOW)
    assert [p.field for p in twice.value.problems] == ["child_id"]


def test_the_child_id_the_id_and_the_status_cannot_be_edited(conn: Connection) -> None:
    rid = create_referral(conn, {"child_id": _free_child(conn), **GOOD}, scope=SCOPE, actor=ACTOR, now=NOW)
    with pytest.raises(ReferralError) as caught:
        update_referral(
            conn, rid, {"child_id": "X", "referral_id": "Y", "status": "closed"}, scope=SCOPE, actor=ACTOR, now=NOW
        )
    assert {p.field for p in caught.value.problems} == {"child_id", "referral_id", "status"}
    with pytest.raises(ReferralNotFoundError):
        update_referral(conn, rid, {"urgency": "today"}, scope=ELSEWHERE, actor=ACTOR, now=NOW)
    assert len(history(conn, rid)) == 1


def test_closing_needs_a_reason_from_the_list(conn: Connection) -> None:
    rid = create_referral(conn, {"child_id": _free_child(conn), **GOOD}, scope=SCOPE, actor=ACTOR, now=NOW)
    for reason in (None, "because"):
        with pytest.raises(ReferralError) as caught:
            change_status(conn, rid, "closed", reason, scope=SCOPE, actor=ACTOR, now=NOW)
        assert [p.field for p in caught.value.problems] == ["reason_code"]
    with pytest.raises(ReferralError):
        change_status(conn, rid, "lost", None, scope=SCOPE, actor=ACTOR, now=NOW)
    assert get_referral(conn, rid, scope=SCOPE).status == "open"  # type: ignore[union-attr]


_STATUSES = ("open", "matched", "closed")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.sampled_from(_STATUSES), max_size=8))
def test_any_sequence_of_changes_leaves_the_history_ending_in_the_referral_status(
    store: Engine, moves: list[str]
) -> None:
    with store.connect() as conn:
        trans = conn.begin()
        try:
            rid = create_referral(conn, {"child_id": _free_child(conn), **GOOD}, scope=SCOPE, actor=ACTOR, now=NOW)
            for to in moves:
                before = get_referral(conn, rid, scope=SCOPE)
                assert before is not None
                reason = next(iter(STATUS_REASONS[to])) if to == "closed" else None
                written = len(history(conn, rid))
                if (before.status, to) in TRANSITIONS:
                    change_status(conn, rid, to, reason, scope=SCOPE, actor=ACTOR, now=NOW)
                else:
                    with pytest.raises(ReferralStateError):
                        change_status(conn, rid, to, reason, scope=SCOPE, actor=ACTOR, now=NOW)
                    assert get_referral(conn, rid, scope=SCOPE) == before  # refused: nothing changed
                    assert len(history(conn, rid)) == written
            final = get_referral(conn, rid, scope=SCOPE)
            assert final is not None
            statuses = [e.status_to for e in history(conn, rid) if e.status_to is not None]
            assert statuses[-1] == final.status
        finally:
            trans.rollback()
