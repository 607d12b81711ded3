"""The placement plan drafted from a real decision on the small synthetic authority: every need the snapshot
shows is in the needs section, every gap's action in the gaps section; versions append; an agreed plan is final;
bad sections are refused with every problem at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError

from matching.access import Actor
from matching.decisions import DecisionDraft, DecisionOutcome, RecommendationSnapshot, record_decision
from matching.decisions.plan import (
    MAX_SECTION,
    SECTION_KEYS,
    NoPlacementError,
    PlanAgreedError,
    PlanError,
    PlanNotFoundError,
    agree_plan,
    draft_plan,
    plan_of,
    plan_versions,
    save_plan_version,
)
from matching.domain import Scope
from matching.store import schema
from matching.taxonomy import load_taxonomy
from tests.decisions.test_decisions import AT, choosing
from tests.decisions.test_decisions import store as decision_store

store = pytest.fixture(decision_store.__wrapped__, name="store")  # type: ignore[attr-defined]

MINE = Scope(la_codes=frozenset({"L001"}))


def _chosen(engine: Engine, snap: RecommendationSnapshot, actor: Actor) -> int:
    """A decision choosing the best-ranked household (its warnings accepted)."""
    with engine.begin() as conn:
        return record_decision(conn, choosing(snap.candidates[0]), snap, actor=actor, now=AT).decision_id


def test_the_draft_says_how_each_need_is_met_and_each_gap_is_closed(store) -> None:  # type: ignore[no-untyped-def]
    engine, snap, actor = store
    decision_id = _chosen(engine, snap, actor)
    taxonomy = load_taxonomy()
    with engine.connect() as conn:
        plan = draft_plan(conn, decision_id, scope=MINE, taxonomy=taxonomy)
    assert tuple(s.key for s in plan) == SECTION_KEYS
    texts = {s.key: s.text for s in plan}
    best = snap.candidates[0]
    assert best["needs_met"], "the small authority's waiting child should have needs"
    for need in best["needs_met"]:
        assert need["label"] in texts["needs"]
        for by in need["by"]:
            assert taxonomy.provider_label(by) in texts["needs"]
    for gap in best["gaps"]:
        assert gap["action"] in texts["gaps"]
    assert best["household_id"] in texts["placement"]
    assert snap.payload["ranking"]["child_id"] in texts["placement"]
    assert "To complete:" in texts["contact"]
    assert all(s.text.strip() for s in plan)
    assert "_" not in texts["needs"]  # words, not codes


def test_a_decision_without_a_household_or_out_of_scope_has_no_plan(store) -> None:  # type: ignore[no-untyped-def]
    engine, snap, actor = store
    none = DecisionDraft(DecisionOutcome.NO_HOUSEHOLD, "A. Officer", reason_codes=("no_offer",))
    with engine.begin() as conn:
        no_household = record_decision(conn, none, snap, actor=actor, now=AT).decision_id
    chosen = _chosen(engine, snap, actor)
    taxonomy = load_taxonomy()
    with engine.begin() as conn:
        with pytest.raises(NoPlacementError):
            draft_plan(conn, no_household, scope=MINE, taxonomy=taxonomy)
        with pytest.raises(NoPlacementError):
            save_plan_version(conn, no_household, dict.fromkeys(SECTION_KEYS, "x"), scope=MINE, actor=actor)
        with pytest.raises(PlanNotFoundError):
            plan_of(conn, chosen, scope=Scope(la_codes=frozenset({"L999"})), taxonomy=taxonomy)
        with pytest.raises(PlanNotFoundError):
            plan_of(conn, 10**6, scope=MINE, taxonomy=taxonomy)


def test_versions_append_and_an_agreed_plan_is_final(store) -> None:  # type: ignore[no-untyped-def]
    engine, snap, actor = store
    decision_id = _chosen(engine, snap, actor)
    taxonomy = load_taxonomy()
    with engine.begin() as conn:
        first = plan_of(conn, decision_id, scope=MINE, taxonomy=taxonomy)
        assert (first.version, first.state, first.edited_by, first.edited_by_user_id) == (0, "draft", "service", None)
        assert plan_versions(conn, decision_id) == []  # the generated draft is not stored by reading it
        texts = first.texts() | {"contact": "Weekly with mum, supervised.\r\n"}
        one = save_plan_version(conn, decision_id, texts, scope=MINE, actor=actor, now=AT)
        two = save_plan_version(
            conn, decision_id, texts | {"school": "Stays at school."}, scope=MINE, actor=actor, now=AT + timedelta(1)
        )
        assert (one.version, two.version) == (1, 2)
        assert one.texts()["contact"] == "Weekly with mum, supervised."
        assert plan_of(conn, decision_id, scope=MINE, taxonomy=taxonomy) == two
        agreed = agree_plan(conn, decision_id, scope=MINE, taxonomy=taxonomy, actor=actor, now=AT + timedelta(2))
        assert (agreed.version, agreed.state, agreed.sections) == (3, "agreed", two.sections)
        assert agreed.edited_by == actor.username
        with pytest.raises(PlanAgreedError):
            save_plan_version(conn, decision_id, texts, scope=MINE, actor=actor)
        with pytest.raises(PlanAgreedError):
            agree_plan(conn, decision_id, scope=MINE, taxonomy=taxonomy, actor=actor)
        assert [v.version for v in plan_versions(conn, decision_id)] == [1, 2, 3]
    with engine.begin() as conn, pytest.raises(DatabaseError):  # append-only in the store itself
        conn.execute(text("UPDATE placement_plan SET state = 'draft'"))


def test_agreeing_the_generated_draft_stores_it_agreed(store) -> None:  # type: ignore[no-untyped-def]
    engine, snap, actor = store
    decision_id = _chosen(engine, snap, actor)
    taxonomy = load_taxonomy()
    with engine.begin() as conn:
        generated = draft_plan(conn, decision_id, scope=MINE, taxonomy=taxonomy)
        agreed = agree_plan(conn, decision_id, scope=MINE, taxonomy=taxonomy, actor=actor, now=AT)
        assert (agreed.version, agreed.state, agreed.sections) == (1, "agreed", generated)
        rows = conn.execute(
            select(schema.placement_plan.c.version).where(schema.placement_plan.c.decision_id == decision_id)
        )
        assert list(rows.scalars()) == [1]


def test_bad_sections_are_refused_with_every_problem_at_once(store) -> None:  # type: ignore[no-untyped-def]
    engine, snap, actor = store
    decision_id = _chosen(engine, snap, actor)
    texts: dict[str, object] = dict.fromkeys(SECTION_KEYS, "fine")
    del texts["needs"]
    texts["school"] = "x" * (MAX_SECTION + 1)
    texts["contact"] = 3
    texts["favourite_colour"] = "blue"
    with engine.begin() as conn, pytest.raises(PlanError) as caught:
        save_plan_version(conn, decision_id, texts, scope=MINE, actor=actor)
    assert sorted(p.field for p in caught.value.problems) == ["contact", "favourite_colour", "needs", "school"]
    with engine.connect() as conn:
        assert plan_versions(conn, decision_id) == []
    with engine.begin() as conn, pytest.raises(PlanError) as by_service:
        save_plan_version(conn, decision_id, dict.fromkeys(SECTION_KEYS, "x"), scope=MINE, actor=Actor.system("job"))
    assert [p.field for p in by_service.value.problems] == ["edited_by"]
