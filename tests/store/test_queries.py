"""Store queries return domain objects and respect the caller's scope."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from matching.domain import Scope
from matching.store import queries
from matching.store.importer import import_folder


@pytest.fixture
def loaded(engine: Engine, small_folder: Path) -> Engine:
    import_folder(engine, small_folder)
    return engine


def test_children_page_and_total(loaded: Engine) -> None:
    with loaded.connect() as conn:
        page, total = queries.list_children(conn, scope=Scope.everything(), offset=10, limit=5)
    assert total == 500
    assert [c.child_id for c in page] == sorted(c.child_id for c in page)
    assert page[0].child_id == "L001-C00011"


def test_child_carries_needs_and_sdq_history(loaded: Engine) -> None:
    with loaded.connect() as conn:
        page, _ = queries.list_children(conn, scope=Scope.everything(), limit=500)
    with_needs = [c for c in page if c.needs]
    with_sdq = [c for c in page if c.sdq]
    assert len(with_needs) > 300
    assert len(with_sdq) > 200
    assert all(0 <= s.score <= 40 for c in with_sdq for s in c.sdq)
    assert all(c.latest_sdq is None for c in page if not c.sdq)  # not known is never zero


def test_scope_hides_other_authorities_children(loaded: Engine) -> None:
    with loaded.connect() as conn:
        elsewhere = Scope.for_local_authority("L999")
        assert queries.list_children(conn, scope=elsewhere) == ([], 0)
        assert queries.get_child(conn, scope=elsewhere, child_id="L001-C00001") is None
        assert queries.get_child(conn, scope=Scope.for_local_authority("L001"), child_id="L001-C00001") is not None
        assert queries.child_placements(conn, scope=elsewhere, child_id="L001-C00001") is None


def test_scope_limits_households_by_agency(loaded: Engine) -> None:
    with loaded.connect() as conn:
        everyone, total = queries.list_households(conn, scope=Scope.everything(), limit=1000)
        in_house = Scope(agency_codes=frozenset({"LA-L001"}))
        mine, mine_total = queries.list_households(conn, scope=in_house, limit=1000)
    assert 0 < mine_total < total
    assert {h.agency_code for h in mine} == {"LA-L001"}
    assert {h.agency_type for h in everyone} == {"la", "ifa"}


def test_household_has_terms_training_members_and_children(loaded: Engine) -> None:
    with loaded.connect() as conn:
        households = queries.all_households(conn, scope=Scope.everything())
    assert all(h.foster_children_count <= h.terms.places for h in households)
    assert sum(h.vacancies for h in households) > 0
    kin = [h for h in households if h.is_kinship]
    assert kin
    assert all(set(h.foster_child_ids) <= set(h.terms.connected_child_ids) for h in kin)
    assert sum(h.track_record.ended for h in households) > 0
    assert sum(h.track_record.unplanned_within_12_months for h in households) > 0
    trained = [h for h in households if h.training]
    assert trained
    assert any(t.expires_on is not None for h in trained for t in h.training)


def test_open_referrals_oldest_first(loaded: Engine) -> None:
    with loaded.connect() as conn:
        refs = queries.open_referrals(conn, scope=Scope.everything())
    assert refs
    keys = [(r.referral_date, r.referral_id) for r in refs]
    assert keys == sorted(keys)
    assert any(r.needs for r in refs)


def test_placement_history_in_order_with_unplanned_flag(loaded: Engine) -> None:
    with loaded.connect() as conn:
        history = queries.child_placements(conn, scope=Scope.everything(), child_id="L001-C00001")
    assert history
    assert history[-1].is_open
    assert [p.start_date for p in history] == sorted(p.start_date for p in history)
    assert all(p.unplanned is not None for p in history[:-1])
