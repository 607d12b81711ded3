"""Small domain behaviours the later capabilities rely on."""

from __future__ import annotations

from datetime import date

from matching.domain import PlacementEpisode, Scope
from tests.factories import make_child


def test_scope_limits_by_authority_and_agency() -> None:
    everyone = Scope.everything()
    assert everyone.sees_child("L001")
    assert everyone.sees_household("IFA001")
    mine = Scope.for_local_authority("L001", frozenset({"LA-L001"}))
    assert mine.sees_child("L001")
    assert not mine.sees_child("L002")
    assert mine.sees_household("LA-L001")
    assert not mine.sees_household("IFA001")


def test_unplanned_ending_within_a_year() -> None:
    start = date(2024, 1, 1)
    broke = PlacementEpisode("P1", "C1", "U4", start, end_date=date(2024, 6, 1), end_reason="CREQB")
    planned = PlacementEpisode("P2", "C1", "U4", start, end_date=date(2024, 6, 1), end_reason="CARPL")
    late = PlacementEpisode("P3", "C1", "U4", start, end_date=date(2025, 6, 1), end_reason="CREQB")
    still_open = PlacementEpisode("P4", "C1", "U4", start)
    assert broke.unplanned_within(365) is True
    assert planned.unplanned_within(365) is False
    assert late.unplanned_within(365) is False
    assert still_open.unplanned_within(365) is None
    assert still_open.is_open


def test_child_age_counts_whole_years_from_the_month_of_birth() -> None:
    child = make_child(birth_month=date(2016, 5, 1))
    assert child.age_on(date(2026, 4, 30)) == 9
    assert child.age_on(date(2026, 5, 1)) == 10
    assert child.ethnicity_group == "White"
    assert child.latest_sdq is None
