"""Outcomes from an SSDA903 import: a decision's placement found in the authority's own return is recorded as
started (and ended) with source ssda903 and no user, in the import's transaction; re-importing adds nothing; a
person's record stands; another authority's child with the same CHILD id is never matched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from matching.access import Actor
from matching.decisions import Decision, record_decision
from matching.decisions.outcomes import (
    SSDA903_RECORDER,
    Outcome,
    OutcomeKind,
    outcomes_for,
    placement_state,
    record_outcome,
)
from matching.decisions.outcomes_903 import START_WINDOW_DAYS, ReturnPlacement, outcomes_from_return, provider_fits
from matching.ssda903.importer import import_903
from matching.store import schema
from matching.store.engine import upgrade
from matching.store.importer import import_folder
from tests.decisions.test_decisions import _snapshot, choosing, officer
from tests.ssda903.helpers import write

DECIDED = datetime(2026, 4, 1, 10, 30, tzinfo=UTC)
YEAR = 2026  # the 2025-26 return (its later episodes are read as they are)


@dataclass
class World:
    engine: Engine
    actor: Actor
    decision: Decision
    child_id: str
    la_code: str
    header: str
    provider: str


def _provider(engine: Engine, household_id: str, la_code: str) -> str:
    h, a = schema.household, schema.agency
    with engine.connect() as conn:
        kind, la = conn.execute(
            select(a.c.agency_type, a.c.la_code)
            .join(h, h.c.agency_code == a.c.agency_code)
            .where(h.c.household_id == household_id)
        ).one()
    return "PR4" if kind == "ifa" else ("PR1" if la == la_code else "PR2")


@pytest.fixture
def world(sqlite_engine: Engine, small_folder: Path) -> World:
    engine = sqlite_engine
    upgrade(engine)
    import_folder(engine, small_folder)
    with engine.begin() as conn:
        actor = officer(conn)
    snap = _snapshot(engine)
    best = snap.candidates[0]
    draft = choosing(best)
    with engine.begin() as conn:
        decision = record_decision(conn, draft, snap, actor=actor, now=DECIDED)
        r, c = schema.referral, schema.child
        child = conn.execute(
            select(c).join(r, r.c.child_id == c.c.child_id).where(r.c.referral_id == decision.referral_id)
        ).one()
    header = f"{child.child_id},{child.sex},01/{child.birth_month:%m/%Y},{child.ethnicity},,,\n"
    return World(
        engine,
        actor,
        decision,
        child.child_id,
        child.la_code,
        header,
        _provider(engine, best["household_id"], child.la_code),
    )


def _episodes(w: World, start: str, place: str = "U4", *, provider: str | None = None, end: str = "") -> str:
    """The child in a children's home until the placement, then the placement (open, or ended with REC E4A)."""
    pr = w.provider if provider is None else provider
    closing = f"{end},E4A,CARPL" if end else ",,"
    return (
        f"{w.child_id},01/01/2026,S,C2,N1,K2,PR1,{start},X1,CARPL,,,\n"
        f"{w.child_id},{start},P,C2,N1,{place},{pr},{closing},,,\n"
    )


def _imported(w: World, tmp_path: Path, episodes: str, name: str = "r") -> list[Outcome]:
    """Import a return of the decision's child; every outcome of the decision after it (checking the import's
    count of outcomes written is what was added)."""
    with w.engine.connect() as conn:
        before = len(outcomes_for(conn, [w.decision.decision_id]))
    folder = write(tmp_path / name, w.header, episodes)
    _, converted = import_903(w.engine, folder, la_code=w.la_code, year=YEAR)
    with w.engine.connect() as conn:
        found = outcomes_for(conn, [w.decision.decision_id])
    assert converted.outcomes == len(found) - before
    return found


def test_a_placement_in_the_return_after_the_decision_is_recorded_as_started_and_ended(
    world: World, tmp_path: Path
) -> None:
    found = _imported(world, tmp_path, _episodes(world, "10/04/2026", end="20/06/2026"))
    assert [(o.kind, o.on, o.reason, o.source) for o in found] == [
        (OutcomeKind.STARTED, date(2026, 4, 10), None, "ssda903"),
        (OutcomeKind.ENDED, date(2026, 6, 20), "E4A", "ssda903"),
    ]
    assert all(o.recorded_by == SSDA903_RECORDER and o.recorded_by_user_id is None for o in found)
    assert found[0].source_words == "from the SSDA903 return"
    state = placement_state(world.decision, found)
    assert state is not None
    assert state.state == "ended"


def test_re_importing_the_same_return_adds_nothing(world: World, tmp_path: Path) -> None:
    episodes = _episodes(world, "10/04/2026", end="20/06/2026")
    first = _imported(world, tmp_path, episodes, "a")
    again = _imported(world, tmp_path, episodes, "b")
    assert again == first
    assert len(first) == 2


def test_a_later_return_adds_the_end_of_a_placement_it_had_as_open(world: World, tmp_path: Path) -> None:
    first = _imported(world, tmp_path, _episodes(world, "10/04/2026"), "a")
    assert [o.kind for o in first] == [OutcomeKind.STARTED]
    later = _imported(world, tmp_path, _episodes(world, "10/04/2026", end="01/09/2026"), "b")
    assert [(o.kind, o.on) for o in later] == [
        (OutcomeKind.STARTED, date(2026, 4, 10)),
        (OutcomeKind.ENDED, date(2026, 9, 1)),
    ]


def test_a_person_s_record_stands_and_the_return_follows_the_start_they_gave(world: World, tmp_path: Path) -> None:
    with world.engine.begin() as conn:
        record_outcome(
            conn, world.decision.decision_id, "started", date(2026, 4, 12), None, None, world.actor,
            datetime(2026, 4, 13, tzinfo=UTC),
        )  # fmt: skip
    # the return's placement starting on another day is not this one: nothing is added
    found = _imported(world, tmp_path, _episodes(world, "10/04/2026", end="20/06/2026"), "a")
    assert [(o.kind, o.source) for o in found] == [(OutcomeKind.STARTED, "recorded")]
    # the return's placement starting on the day the person gave: its end is added, the start is theirs
    found = _imported(world, tmp_path, _episodes(world, "12/04/2026", end="20/06/2026"), "b")
    assert [(o.kind, o.source) for o in found] == [(OutcomeKind.STARTED, "recorded"), (OutcomeKind.ENDED, "ssda903")]


@pytest.mark.parametrize(
    ("start", "place", "provider", "why"),
    [
        ("25/03/2026", "U4", None, "before the decision"),
        ("15/07/2026", "U4", None, f"more than {START_WINDOW_DAYS} days after"),
        ("10/04/2026", "K2", "PR1", "a children's home, not foster care"),
        ("10/04/2026", "U4", "PR0", "a provider that is not the chosen household's service"),
    ],
)
def test_a_placement_that_is_not_the_chosen_one_is_not_matched(
    world: World, tmp_path: Path, start: str, place: str, provider: str | None, why: str
) -> None:
    assert why
    assert _imported(world, tmp_path, _episodes(world, start, place, provider=provider)) == []


def test_a_placement_started_by_a_change_of_legal_status_only_is_no_new_placement(world: World, tmp_path: Path) -> None:
    episodes = (
        f"{world.child_id},05/03/2026,S,V2,N1,U4,{world.provider},10/04/2026,X1,,,,\n"
        f"{world.child_id},10/04/2026,L,C2,N1,U4,{world.provider},,,,,,\n"
    )
    assert _imported(world, tmp_path, episodes) == []


def test_another_authority_s_child_with_the_same_child_id_is_never_matched(world: World, tmp_path: Path) -> None:
    with world.engine.begin() as conn:
        conn.execute(
            insert(schema.local_authority).values(
                la_code="L999", name="Elsewhere", region="X", centre_easting=400_000, centre_northing=300_000,
                radius_miles=10,
            )
        )  # fmt: skip
    folder = write(tmp_path / "other", world.header, _episodes(world, "10/04/2026", end="20/06/2026"))
    _, converted = import_903(world.engine, folder, la_code="L999", year=YEAR)
    assert converted.mapping[world.child_id] == f"L999.{world.child_id}"  # a child of its own
    assert converted.outcomes == 0
    with world.engine.connect() as conn:
        assert outcomes_for(conn, [world.decision.decision_id]) == []


def test_a_failed_import_writes_no_outcome(world: World, tmp_path: Path) -> None:
    from matching.contract.validate import ContractError

    bad = _episodes(world, "10/04/2026", end="20/06/2026") + f"{world.child_id},31/02/2026,P,C2,N1,U4,PR1,,,,,,\n"
    folder = write(tmp_path / "bad", world.header, bad)
    with pytest.raises(ContractError):
        import_903(world.engine, folder, la_code=world.la_code, year=YEAR)
    with world.engine.connect() as conn:
        assert outcomes_for(conn, [world.decision.decision_id]) == []


def test_the_provider_fits_the_kind_of_fostering_service() -> None:
    assert provider_fits("PR1", "la", "L001", "L001")
    assert not provider_fits("PR1", "la", "L002", "L001")
    assert provider_fits("PR2", "la", "L002", "L001")
    assert provider_fits("PR4", "ifa", None, "L001")
    assert provider_fits("PR5", "ifa", None, "L001")
    assert not provider_fits("PR1", "ifa", None, "L001")
    assert provider_fits(None, "ifa", None, "L001")
    assert provider_fits("PR0", None, None, "L001")


def test_a_placement_goes_to_the_nearest_decision_before_it(world: World) -> None:
    """Two referrals of one child decided a month apart: the placement after the second is the second's."""
    w = world
    snap2 = _snapshot(w.engine)
    draft = choosing(snap2.candidates[0])
    with w.engine.begin() as conn:
        r = schema.referral
        row = conn.execute(select(r).where(r.c.referral_id == w.decision.referral_id)).mappings().one()
        conn.execute(insert(r).values({**row, "referral_id": "SECOND"}))
        payload = {**snap2.payload, "ranking": {**snap2.payload["ranking"], "referral_id": "SECOND"}}
        from matching.decisions.snapshot import RecommendationSnapshot, digest

        second = record_decision(
            conn, draft, RecommendationSnapshot(payload, digest(payload)), actor=w.actor,
            now=datetime(2026, 5, 1, 9, tzinfo=UTC),
        )  # fmt: skip
        conn.execute(insert(schema.ssda903_child).values(la_code=w.la_code, child=w.child_id, child_id=w.child_id))
        written = outcomes_from_return(
            conn,
            w.la_code,
            [ReturnPlacement(w.child_id, date(2026, 5, 3), "U4", "P", None)],
            now=datetime(2026, 6, 1, tzinfo=UTC),
        )
    assert [(o.decision_id, o.kind) for o in written] == [(second.decision_id, OutcomeKind.STARTED)]
