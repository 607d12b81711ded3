"""The records as at a date serve live scoring as they serve training (issue 15, one way in).

Live scoring used to read the carers' experience from ``experience_needs`` on file (the record now) and
the children living there from the household's members now, where training derived both from the
placement history.  Both now read :class:`~matching.stability.records.PlacementLog`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.domain import PlacementEpisode
from matching.fit_config import load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.stability.features import candidate_features
from matching.stability.records import _TABLE_FROM, Records
from tests.factories import make_child, make_household, make_request, member

CFG = load_fit_config()
ON = date(2026, 3, 1)


def _pool(n: int = 3) -> HouseholdPool:
    from matching.taxonomy import load_taxonomy as taxonomy

    hs = [
        replace(
            make_household(household_id=f"H{k}", experience_needs=tuple(taxonomy().need_ids)),
            members=(member("birth_child", date(2015 + k, 1, 1), member_id=f"B{k}"),),
        )
        for k in range(n)
    ]
    return HouseholdPool(hs, taxonomy(), CFG)


def test_live_experience_comes_from_the_placements_that_had_ended_not_the_record_now() -> None:
    pool = _pool(1)
    child = make_child(child_id="C1", birth_month=date(2012, 1, 1))
    gone = make_child(child_id="C2", birth_month=date(2010, 1, 1))
    req = make_request(child, on=ON)
    empty = Records({}, {}, (), {})
    nothing = candidate_features(pool, req, np.array([0]), records=empty)
    assert nothing["experience_needs"].iat[0] == 0  # the file says every need; the history says none
    ended = PlacementEpisode("P1", "C2", "U4", date(2020, 1, 1), "H0", end_date=date(2022, 1, 1), end_reason="E13")
    needs = {"C2": ((date(2019, 6, 1), "autism", 3), (date(2019, 6, 1), "neglect", 1))}
    records = Records(needs, {}, (ended,), {"C2": gone.birth_month})
    live = candidate_features(pool, req, np.array([0]), records=records)
    assert live["experience_needs"].iat[0] == 1  # autism (actionable); neglect at 1 is not
    assert live["past_endings"].iat[0] == 1
    # Placed after the request's date: neither experience nor a child living there yet.
    later = replace(ended, placement_id="P2", start_date=ON + timedelta(days=5), end_date=None, end_reason=None)
    records = Records(needs, {}, (later,), {"C2": gone.birth_month})
    live = candidate_features(pool, req, np.array([0]), records=records)
    assert live["experience_needs"].iat[0] == 0
    assert live["other_children"].iat[0] == 1  # the birth child only


def test_a_child_placed_there_now_lives_there_but_the_child_asked_for_is_never_counted() -> None:
    pool = _pool(1)
    child = make_child(child_id="C1", birth_month=date(2012, 1, 1))
    other = make_child(child_id="C3", birth_month=date(2023, 1, 1))
    placed = [
        PlacementEpisode("P1", "C3", "U4", date(2025, 1, 1), "H0"),
        PlacementEpisode("P2", "C1", "U4", date(2025, 6, 1), "H0"),  # the child's own current placement
    ]
    records = Records({}, {}, tuple(placed), {"C3": other.birth_month, "C1": child.birth_month})
    live = candidate_features(pool, make_request(child, on=ON), np.array([0]), records=records)
    assert live["other_children"].iat[0] == 2  # the birth child and C3, not C1
    assert bool(live["child_under_5"].iat[0])


_DAY = st.integers(0, 3000).map(lambda d: date(2016, 1, 1) + timedelta(days=d))


@st.composite
def _history(draw: st.DrawFn) -> Records:
    eps = []
    needs: dict[str, tuple[tuple[date | None, str, int], ...]] = {}
    births = {}
    for i in range(draw(st.integers(0, 12))):
        start = draw(_DAY)
        length = draw(st.one_of(st.none(), st.integers(1, 900)))
        end = None if length is None else start + timedelta(days=length)
        eps.append(PlacementEpisode(f"P{i}", f"C{i % 5}", "U4", start, f"H{draw(st.integers(0, 2))}", end_date=end,
                                    end_reason=None if end is None else draw(st.sampled_from(["E13", "E4A"]))))  # fmt: skip
        births[f"C{i % 5}"] = date(2008 + i % 5 * 3, 1, 1)
    for c in range(5):
        needs[f"C{c}"] = tuple(
            (draw(_DAY), draw(st.sampled_from(["autism", "neglect", "self_harm"])), draw(st.integers(0, 3)))
            for _ in range(draw(st.integers(0, 3)))
        )
    return Records(needs, {}, tuple(eps), births)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(_history(), _DAY, st.sampled_from(["C0", "C1", "X"]))
def test_one_date_for_every_household_reads_the_same_as_each_pair_alone(records: Records, on: date, who: str) -> None:
    """Live scoring builds a date's table for every household; training reads each pair alone: same answer."""
    pool = _pool(3)
    log = records.log(pool)
    many = np.tile(np.arange(3), _TABLE_FROM)  # enough pairs on one date for the table
    day = np.full(len(many), on.toordinal())
    ids = np.full(len(many), who, dtype=object)
    table_exp, table_kids = log.experience(many, day), log.children_there(many, day, ids)
    table_end = log.endings(many, day)
    for k in range(3):
        one, d, i = np.array([k]), day[:1], ids[:1]
        assert (log.experience(one, d)[0] == table_exp[k]).all()
        alone = np.sort(log.children_there(one, d, i)[0])
        wide = np.sort(table_kids[k])
        assert np.allclose(alone[~np.isnan(alone)], wide[~np.isnan(wide)])
        assert log.endings(one, d)[0][0] == table_end[0][k]
