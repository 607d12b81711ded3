"""`matching train` learns from recorded outcomes as well as the imported history: a decision whose placement was
recorded as started (and ended) is one more placement to learn from, read as at its start; the same placement in
the imported history (an SSDA903 return) is counted once; an ending that may be a breakdown, known only by its REC,
is left out."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from matching.domain import Scope
from matching.stability.card import model_card
from matching.stability.outcome_placements import ID_PREFIX, PLANNED_END, with_recorded_placements
from matching.stability.train import load_history
from matching.store import queries, schema
from matching.store.engine import upgrade
from matching.store.importer import import_folder
from tests.stability.conftest import Trained

START, END = date(2024, 1, 10), date(2025, 3, 1)


@pytest.fixture
def store(sqlite_engine: Engine, small_folder: Path) -> tuple[Engine, str, str]:
    """The small authority, and a decision choosing a household for a referral's child (no outcome yet)."""
    upgrade(sqlite_engine)
    import_folder(sqlite_engine, small_folder)
    with sqlite_engine.begin() as conn:
        referral = conn.execute(select(schema.referral).limit(1)).mappings().one()
        household = conn.execute(select(schema.household.c.household_id).limit(1)).scalar_one()
        at = datetime(2024, 1, 2, tzinfo=UTC)
        conn.execute(
            insert(schema.recommendation_snapshot).values(
                sha256="a" * 64, referral_id=referral["referral_id"], taken_at=at, payload={}
            )
        )
        conn.execute(
            insert(schema.placement_decision).values(
                id=1, referral_id=referral["referral_id"], snapshot_sha256="a" * 64, outcome="household_chosen",
                household_id=household, best_ranked_household_id=household, departs_from_ranking=False,
                named_officer="A. Officer", reason_codes=[], accepted_warnings=[], recorded_by_user_id=1,
                recorded_by="deb", decided_at=at,
            )
        )  # fmt: skip
    return sqlite_engine, str(referral["child_id"]), str(household)


def _outcome(engine: Engine, kind: str, on: date, reason: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(schema.placement_outcome).values(
                decision_id=1, kind=kind, on_date=on, reason_code=reason, recorded_by_user_id=1, recorded_by="deb",
                recorded_at=datetime(2025, 3, 2, tzinfo=UTC), source="recorded",
            )
        )  # fmt: skip


def _rows(engine: Engine, *, with_outcomes: bool = True):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return load_history(conn, scope=Scope(), with_outcomes=with_outcomes)


def test_a_recorded_placement_is_one_more_to_learn_from(store: tuple[Engine, str, str]) -> None:
    engine, child_id, household = store
    _outcome(engine, "started", START)
    _outcome(engine, "ended", END, "E4A")
    without, with_ = _rows(engine, with_outcomes=False), _rows(engine)
    assert len(with_.rows.label) == len(without.rows.label) + 1
    assert with_.from_recorded_outcomes() == 1
    assert without.from_recorded_outcomes() == 0
    meta = with_.rows.meta
    mine = meta[meta["placement_id"] == f"{ID_PREFIX}1"]
    assert (mine["child_id"].item(), mine["household_id"].item(), mine["start_date"].item()) == (
        child_id,
        household,
        START,
    )
    # lasted a year (ended after it, for a reason that ends care as planned): no unplanned ending
    assert with_.rows.label[mine.index[0]] == 0


def test_the_same_placement_in_the_imported_history_is_counted_once(store: tuple[Engine, str, str]) -> None:
    engine, child_id, household = store
    _outcome(engine, "started", START)
    _outcome(engine, "ended", date(2024, 6, 1), "X1")
    with engine.begin() as conn:  # the 903 import holds it, without the carers, and says why it ended
        conn.execute(
            insert(schema.placement).values(
                placement_id=f"{child_id}-903-001", child_id=child_id, household_id=None, place="U4",
                place_provider="PR1", start_date=START, end_date=date(2024, 6, 1), end_reason="CREQB",
            )
        )  # fmt: skip
    without, with_ = _rows(engine, with_outcomes=False), _rows(engine)
    # without the decision the imported placement has no household, so nothing to learn from it
    assert len(with_.rows.label) == len(without.rows.label) + 1
    meta = with_.rows.meta
    same = meta[(meta["child_id"] == child_id) & (meta["start_date"] == START)]
    assert list(same["placement_id"]) == [f"{child_id}-903-001"]  # once, as imported
    assert same["household_id"].item() == household
    assert with_.rows.label[same.index[0]] == 1  # the import's REASON_PLACE_CHANGE: a breakdown within the year
    assert with_.recorded is not None
    assert (with_.recorded.added, with_.recorded.already_imported) == (0, 1)
    assert with_.from_recorded_outcomes() == 1


def test_an_ending_that_may_be_a_breakdown_is_left_out_unless_imported(store: tuple[Engine, str, str]) -> None:
    engine, child_id, _ = store
    _outcome(engine, "started", START)
    _outcome(engine, "ended", date(2024, 6, 1), "X1")
    with engine.connect() as conn:
        imported = queries.all_placements(conn, scope=Scope())
        recorded = with_recorded_placements(conn, imported, [child_id])
    assert (recorded.added, recorded.already_imported, recorded.left_out) == (0, 0, 1)
    assert len(recorded.placements) == len(imported)


def test_an_open_or_planned_ending_is_added_and_not_started_is_not(store: tuple[Engine, str, str]) -> None:
    engine, child_id, _ = store
    _outcome(engine, "started", START)
    with engine.connect() as conn:
        imported = queries.all_placements(conn, scope=Scope())
        open_one = with_recorded_placements(conn, imported, [child_id])
    assert open_one.added == 1
    added = next(p for p in open_one.placements if p.placement_id == f"{ID_PREFIX}1")
    assert (added.end_date, added.end_reason) == (None, None)
    _outcome(engine, "ended", date(2024, 3, 1), "E11")
    with engine.connect() as conn:
        ended = with_recorded_placements(conn, imported, [child_id])
    added = next(p for p in ended.placements if p.placement_id == f"{ID_PREFIX}1")
    assert (added.end_date, added.end_reason) == (date(2024, 3, 1), PLANNED_END)
    _outcome(engine, "not_started", date(2024, 1, 11), "other")
    with engine.connect() as conn:
        assert with_recorded_placements(conn, imported, [child_id]).added == 0
        assert with_recorded_placements(conn, imported, ["someone else"]).added == 0


def test_the_training_report_and_card_say_how_many_came_from_recorded_outcomes(trained: Trained) -> None:
    td = trained.result.metadata["training_data"]
    assert (td["from_recorded_outcomes"], td["recorded_outcomes_already_imported"]) == (0, 0)  # no decisions there
    meta = copy.deepcopy(trained.result.metadata)
    meta["training_data"] |= {"from_recorded_outcomes": 12, "recorded_outcomes_already_imported": 3}
    card = model_card(meta)
    assert "From recorded outcomes (decisions whose placement was recorded as started): 12 of the placements" in card
    assert "3 recorded placements were already in the imported history" in card
