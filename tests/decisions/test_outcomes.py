"""Outcomes of decisions: the placement chosen started, ended (with an SSDA903 REC reason) or never started
(with why); every problem is listed at once; corrections are new records; and whatever is attempted, a placement
never ends without having started or before it started."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text, update
from sqlalchemy.exc import DatabaseError

from matching import codes
from matching.access import Actor, Remit, Role
from matching.accounts.users import create_user
from matching.decisions import Decision, DecisionDraft, record_decision
from matching.decisions.outcomes import (
    END_REASONS,
    NOT_STARTED_REASONS,
    REC_WORDS,
    OutcomeError,
    OutcomeKind,
    day_in_england,
    outcomes_for,
    placement_state,
    record_outcome,
)
from matching.decisions.store import decision_by_id
from matching.store import schema
from matching.store.engine import make_engine, upgrade
from tests.decisions.test_decisions import _FIXED

AT = datetime(2026, 4, 1, 10, 30, tzinfo=UTC)  # the decision
DAY = date(2026, 4, 1)
LATER = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)  # when the outcomes are recorded


def _actor(engine: Engine, username: str = "deb") -> Actor:
    with engine.begin() as conn:
        user = create_user(
            conn,
            username=username,
            role=Role.PLACEMENT_OFFICER,
            remit=Remit(frozenset({"L001"}), frozenset()),
            actor=Actor.system("tests"),
            password=None,
        )
    return Actor(user.id, username, Role.PLACEMENT_OFFICER.value)


def _decide(engine: Engine, actor: Actor, outcome: str = "household_chosen") -> Decision:
    if outcome == "household_chosen":
        draft = DecisionDraft("household_chosen", "A. Officer, Head of Placements", "H1")
    else:
        draft = DecisionDraft("no_household", "A. Officer", reason_codes=("no_offer",))
    with engine.begin() as conn:
        return record_decision(conn, draft, _FIXED, actor=actor, now=AT)


@pytest.fixture
def store(engine: Engine) -> tuple[Engine, Actor, Decision]:
    actor = _actor(engine)
    return engine, actor, _decide(engine, actor)


def test_a_placement_starts_then_ends_with_an_ssda903_reason(store) -> None:  # type: ignore[no-untyped-def]
    engine, actor, decision = store
    assert placement_state(decision, []) is not None
    assert placement_state(decision, []).state == "awaiting start"  # type: ignore[union-attr]
    with engine.begin() as conn:
        started = record_outcome(conn, decision.decision_id, "started", DAY, None, None, actor, LATER)
        ended = record_outcome(conn, decision.decision_id, "ended", date(2026, 4, 15), "E4A", " Home. ", actor, LATER)
    assert started.kind is OutcomeKind.STARTED
    assert ended.reason_text == "Home."
    with engine.connect() as conn:
        stored = outcomes_for(conn, [decision.decision_id])
        assert decision_by_id(conn, decision.decision_id) == decision
        assert decision_by_id(conn, 10**9) is None
    assert stored == [started, ended]
    state = placement_state(decision, stored)
    assert state is not None
    assert (state.state, state.started_on, state.ended_on, state.reason) == ("ended", DAY, date(2026, 4, 15), "E4A")


def test_a_later_record_of_the_same_kind_corrects_the_earlier(store) -> None:  # type: ignore[no-untyped-def]
    engine, actor, decision = store
    with engine.begin() as conn:
        record_outcome(conn, decision.decision_id, "started", date(2026, 4, 3), None, None, actor, LATER)
        record_outcome(conn, decision.decision_id, "started", date(2026, 4, 2), None, None, actor, LATER)
        stored = outcomes_for(conn, [decision.decision_id])
    state = placement_state(decision, stored)
    assert state is not None
    assert (state.state, state.started_on) == ("started", date(2026, 4, 2))
    assert len(stored) == 2  # both kept


def test_every_problem_is_listed_at_once(store) -> None:  # type: ignore[no-untyped-def]
    engine, actor, decision = store
    with pytest.raises(OutcomeError) as caught, engine.begin() as conn:
        record_outcome(conn, decision.decision_id, "ended", date(2026, 3, 1), "E99", "x" * 5000, actor, LATER)
    assert {(p.field, p.message) for p in caught.value.problems} >= {
        ("kind", "Record the day the placement started before recording its end"),
        ("on", "The date the placement ended must be on or after the day of the decision, 1 April 2026"),
        ("reason", "Choose the reason the placement ended from the SSDA903 list (REC)"),
        ("reason_text", "What happened must be 4000 characters or fewer"),
    }
    with pytest.raises(OutcomeError) as caught, engine.begin() as conn:
        record_outcome(conn, decision.decision_id, "started", date(2026, 5, 1), None, None, actor, LATER)
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("on", "The date the placement started must be today or in the past")
    ]
    with engine.connect() as conn:
        assert outcomes_for(conn, [decision.decision_id]) == []  # nothing recorded


def test_an_end_before_the_start_or_a_start_after_the_end_is_refused(store) -> None:  # type: ignore[no-untyped-def]
    engine, actor, decision = store
    d = decision.decision_id
    with engine.begin() as conn:
        record_outcome(conn, d, "started", date(2026, 4, 5), None, None, actor, LATER)
    with pytest.raises(OutcomeError, match="on or after the day it started, 5 April 2026"), engine.begin() as conn:
        record_outcome(conn, d, "ended", date(2026, 4, 4), "X1", None, actor, LATER)
    with engine.begin() as conn:
        record_outcome(conn, d, "ended", date(2026, 4, 10), "X1", None, actor, LATER)
    with pytest.raises(OutcomeError, match="on or before the day it ended, 10 April 2026"), engine.begin() as conn:
        record_outcome(conn, d, "started", date(2026, 4, 11), None, None, actor, LATER)


def test_a_placement_that_never_started_says_why_and_cannot_follow_a_start(store) -> None:  # type: ignore[no-untyped-def]
    engine, actor, decision = store
    d = decision.decision_id
    with pytest.raises(OutcomeError) as caught, engine.begin() as conn:
        record_outcome(conn, d, "not_started", date(2026, 4, 2), None, None, actor, LATER)
    assert [p.field for p in caught.value.problems] == ["reason"]
    with pytest.raises(OutcomeError) as caught, engine.begin() as conn:
        record_outcome(conn, d, "not_started", date(2026, 4, 2), "other", " ", actor, LATER)
    assert [p.message for p in caught.value.problems] == ["Write why the placement did not start"]
    with engine.begin() as conn:
        record_outcome(conn, d, "not_started", date(2026, 4, 2), "carers_withdrew", None, actor, LATER)
        state = placement_state(decision, outcomes_for(conn, [d]))
    assert state is not None
    assert (state.state, state.reason) == ("not started", "carers_withdrew")
    with pytest.raises(OutcomeError, match="recorded as not started"), engine.begin() as conn:
        record_outcome(conn, d, "started", date(2026, 4, 3), None, None, actor, LATER)
    other = _decide(engine, actor)
    with engine.begin() as conn:
        record_outcome(conn, other.decision_id, "started", date(2026, 4, 3), None, None, actor, LATER)
    with pytest.raises(OutcomeError, match="The placement started"), engine.begin() as conn:
        record_outcome(conn, other.decision_id, "not_started", date(2026, 4, 4), "other", "x", actor, LATER)


def test_no_placement_to_record_for_no_household_an_unknown_decision_or_the_service(store) -> None:  # type: ignore[no-untyped-def]
    engine, actor, _ = store
    none = _decide(engine, actor, "no_household")
    assert placement_state(none, []) is None
    with pytest.raises(OutcomeError, match="No household was chosen"), engine.begin() as conn:
        record_outcome(conn, none.decision_id, "started", DAY, None, None, actor, LATER)
    with pytest.raises(OutcomeError, match="no decision of that id"), engine.begin() as conn:
        record_outcome(conn, 10**9, "started", DAY, None, None, actor, LATER)
    decision = _decide(engine, actor)
    with pytest.raises(OutcomeError, match="signed-in person"), engine.begin() as conn:
        record_outcome(conn, decision.decision_id, "started", DAY, None, None, Actor.system("job"), LATER)
    with pytest.raises(OutcomeError, match="Choose what happened"), engine.begin() as conn:
        record_outcome(conn, decision.decision_id, "moved_in", DAY, None, None, actor, LATER)


def test_outcomes_cannot_be_changed_or_deleted_in_the_store(store) -> None:  # type: ignore[no-untyped-def]
    engine, actor, decision = store
    with engine.begin() as conn:
        record_outcome(conn, decision.decision_id, "started", DAY, None, None, actor, LATER)
    for statement in (
        update(schema.placement_outcome).values(on_date=date(2026, 4, 2)),
        text("DELETE FROM placement_outcome"),
    ):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)


def test_the_end_reasons_are_the_ssda903_rec_codes_each_in_words() -> None:
    assert set(END_REASONS) == set(REC_WORDS) == codes.REASON_CEASED
    assert next(iter(END_REASONS)) == "X1"
    assert all(f"({code})" in words for code, words in END_REASONS.items())
    assert "other" in NOT_STARTED_REASONS


def test_days_are_englands() -> None:
    assert day_in_england(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == date(2026, 7, 1)  # BST
    assert day_in_england(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == date(2026, 12, 31)


# --- Property: whatever is attempted, the state stays whole ---------------------------------------------


@pytest.fixture(scope="module")
def property_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Actor]]:
    engine = make_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('outcomes')) / 'store.db'}")
    upgrade(engine)
    yield engine, _actor(engine, "prop")
    engine.dispose()


_ATTEMPT = st.tuples(
    st.sampled_from(["started", "ended", "not_started", "nonsense"]),
    st.one_of(st.none(), st.integers(-3, 25).map(lambda n: DAY + timedelta(days=n))),
    st.sampled_from([None, "", "X1", "E13", "E99", "carers_withdrew", "other"]),
    st.sampled_from([None, "", "Because."]),
)


@settings(max_examples=80, deadline=None)
@given(attempts=st.lists(_ATTEMPT, max_size=8))
def test_any_sequence_of_attempts_leaves_a_consistent_placement(
    property_store: tuple[Engine, Actor], attempts: list[tuple[str, date | None, str | None, str | None]]
) -> None:
    engine, actor = property_store
    decision = _decide(engine, actor)
    for i, (kind, on, reason, words) in enumerate(attempts):
        refused: list[object] | None = None
        try:
            with engine.begin() as conn:
                record_outcome(conn, decision.decision_id, kind, on, reason, words, actor, LATER + timedelta(i))
        except OutcomeError as exc:
            refused = list(exc.problems)
        assert refused is None or refused  # a refusal names at least one problem
        with engine.connect() as conn:
            stored = outcomes_for(conn, [decision.decision_id])
        state = placement_state(decision, stored)
        assert state is not None
        kinds = [o.kind for o in stored]
        assert not (OutcomeKind.STARTED in kinds and OutcomeKind.NOT_STARTED in kinds)
        if OutcomeKind.ENDED in kinds:  # never ended without having started first
            assert OutcomeKind.STARTED in kinds[: kinds.index(OutcomeKind.ENDED)]
        assert all(DAY <= o.on <= day_in_england(o.recorded_at) for o in stored)  # never in its own future
        if state.state == "ended":
            assert state.started_on is not None
            assert state.ended_on is not None
            assert state.ended_on >= state.started_on  # never ended before it started
            assert state.reason in codes.REASON_CEASED
        if state.state == "not started":
            assert state.reason in NOT_STARTED_REASONS
