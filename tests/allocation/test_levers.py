"""Levers for the children an allocation leaves out: grouped by area, ages, size and need, and counted honestly."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.allocation.instance import AllocationInstance, Arc, build_instance
from matching.allocation.levers import LeverGroup, covered_share, leading_need, lever_groups, suggested_levers
from matching.allocation.solver import SolverSettings, solve
from matching.allocation.validate import violations
from matching.domain import CarerHousehold, Location
from matching.eligibility.request import MatchRequest
from matching.fit_config import load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.taxonomy import load_taxonomy
from tests.allocation.factories import instance, room, unit
from tests.factories import ON, make_child, make_household, make_request, make_terms, trained

ONE = SolverSettings(
    time_limit_seconds=5, random_seed=1, workers=1, no_worse_than_first_come=False
)  # the search itself
CFG = load_fit_config()
TAX = load_taxonomy()


def with_new_households(
    inst: AllocationInstance, assignment: dict[int, int], group: LeverGroup
) -> tuple[AllocationInstance, dict[int, int]]:
    """The instance with the group's new households (their room, an arc from every unit of the group to each, and
    their records when the instance has records), and ``assignment`` with the group placed as the lever says."""
    first = len(inst.households)
    rooms = [replace(group.room, household_id=f"new-{i + 1}") for i in range(len(group.households))]
    arcs = list(inst.arcs)
    placed = dict(assignment)
    for i, units in enumerate(group.households):
        for u in group.units:
            arcs.append(Arc(u, first + i, 50.0, None))
            if u in units:
                placed[u] = len(arcs) - 1
    ctx = inst.context
    if ctx is not None:
        ctx = replace(ctx, households=[*ctx.households, *group.records])
    grown = replace(inst, households=[*inst.households, *rooms], arcs=arcs, context=ctx, _arrays={})
    return grown, placed


def test_groups_are_by_region_ages_and_group_size_most_children_first() -> None:
    units = [
        unit("A", age=12, la="L001"),
        unit("B", age=14, la="L002"),
        unit("C", age=9, la="L001"),
        unit("D", age=12, la="L003"),
        unit("S", size=2, age=13, la="L001"),
        unit("P", age=12, la="L001"),
    ]
    inst = instance(units, [room("H", vacancies=1)], [(5, 0, 80)])
    inst.regions = {"L001": "North East", "L002": "North East", "L003": "London"}
    result = solve(inst, ONE)
    assert [inst.units[u].unit_id for u in result.assignment] == ["P"]
    levers = result.levers
    assert [(lv["region"], lv["ages"], lv["group_size"], lv["children"]) for lv in levers] == [
        ("North East", [11, 15], 1, 2),
        ("North East", [11, 15], 2, 2),
        ("London", [11, 15], 1, 1),
        ("North East", [5, 10], 1, 1),
    ]
    assert levers[0]["local_authorities"] == ["L001", "L002"]
    assert levers[0]["local_authority"] == "L001"  # ties: by code
    assert levers[0]["suggestion"] == (
        "2 children aged 11-15 in the North East region: 2 more households approved for ages 11-15 within 5 miles "
        "would place both"
    )
    assert levers[1]["suggestion"] == (
        "2 children aged 11-15 in a sibling group of 2 in the North East region: 1 more household approved for "
        "2 siblings together aged 11-15 within 5 miles would place both"
    )
    assert result.as_dict(inst)["levers"] == levers


def test_without_regions_the_local_authority_is_the_area() -> None:
    inst = instance([unit("A", age=9), unit("B", age=10), unit("S", size=3, age=12), unit("C", age=16)],
                    [room("H")], [(3, 0, 80)])  # fmt: skip
    levers = solve(inst, ONE).levers
    assert [lv["suggestion"] for lv in levers] == [
        "3 children aged 11-15 in a sibling group of 3 in L001: 1 more household approved for 3 siblings together "
        "aged 11-15 within 5 miles would place all 3",
        "2 children aged 5-10 in L001: 2 more households approved for ages 5-10 within 5 miles would place both",
    ]
    assert levers[0] | {"suggestion": ""} == {
        "suggestion": "",
        "children": 3,
        "region": None,
        "local_authority": "L001",
        "local_authorities": ["L001"],
        "group_size": 3,
        "ages": [11, 15],
        "need": None,
        "training": None,
        "households": 1,
        "would_place": 3,
        "within_miles": 5,
        "places_each": 3,
        "placed_by_first": [3],
        "ruled_out_by": [],
    }


def test_a_young_person_turning_18_is_in_the_oldest_band_and_said_to_be_older() -> None:
    (lever,) = solve(instance([unit("Y", age=18)], [], []), ONE).levers
    assert lever["ages"] == [16, 17]
    assert lever["suggestion"].startswith("1 child aged 16-17 (the oldest 18) in L001: ")


def test_no_approval_for_children_places_an_18_year_old() -> None:
    adult = make_request(make_child(child_id="Y", birth_month=date(2008, 1, 1)))
    (lever,) = suggested_levers(_built([adult], []), {})
    assert (lever["would_place"], lever["households"], lever["ruled_out_by"]) == (0, 0, ["terms_age"])
    assert lever["suggestion"] == (
        "1 child aged 16-17 (the oldest 18) in the North East region: more households approved for ages 16-17 "
        "would not place them (outside the ages the carers are approved for)"
    )


def test_children_not_considered_for_lack_of_time_get_no_lever() -> None:
    inst = instance([unit("A"), unit("B")], [], [])
    inst.not_considered = {"B"}
    assert [lv["children"] for lv in solve(inst, ONE).levers] == [1]


def test_new_households_have_the_typical_room_of_the_area() -> None:
    # Households with room and no foster child approved for 1, 2 and 2 places: new ones for 2 (the lower median).
    rooms = [room("H1", vacancies=1), room("H2", vacancies=2), room("H3", vacancies=2), room("F", 3, empty=False)]
    inst = instance([unit(f"U{i}", age=12) for i in range(5)], rooms, [])
    (lever,) = solve(inst, ONE).levers
    assert (lever["places_each"], lever["households"], lever["would_place"]) == (2, 3, 5)
    assert lever["placed_by_first"] == [2, 4, 5]
    assert lever["suggestion"].endswith("would place all 5 (2 of them would place 4)")


def test_a_solo_child_takes_a_whole_household() -> None:
    units = [unit("Solo", age=12, live="solo"), unit("A", age=12), unit("B", age=13)]
    inst = instance(units, [room("H", vacancies=3)], [])
    (group,) = lever_groups(inst, {})
    assert [{inst.units[u].unit_id for u in h} for h in group.households] == [{"A", "B"}, {"Solo"}]  # fullest first
    assert group.would_place == 3


def test_a_pair_who_cannot_live_together_is_not_put_in_one_household() -> None:
    # Teen (12) can live only with older children: Young (11) cannot join her, Older (14) can.
    units = [unit("Teen", age=12, live="only_older"), unit("Young", age=11), unit("Older", age=14)]
    inst = instance(units, [room("H", vacancies=3)], [])
    (group,) = lever_groups(inst, {})
    together = [{inst.units[u].unit_id for u in h} for h in group.households]
    assert together == [{"Teen", "Older"}, {"Young"}]
    assert group.would_place == 3


def test_a_large_sibling_group_has_a_household_of_its_own() -> None:
    inst = instance([unit("S1", size=4, age=12), unit("S2", size=4, age=13)], [room("H", vacancies=1)], [])
    (lever,) = solve(inst, ONE).levers
    assert (lever["places_each"], lever["households"], lever["would_place"]) == (4, 2, 8)


def test_the_leading_need_is_the_most_severe_and_its_training_the_taxonomys_best_course() -> None:
    child = make_child(child_id="A", birth_month=date(2013, 1, 1), needs={"physical_aggression": 3, "self_harm": 2})
    inst = _built([make_request(child)], [])
    (lever,) = suggested_levers(inst, {})
    assert (lever["need"], lever["training"]) == ("physical_aggression", TAX.best_course("physical_aggression"))
    assert lever["suggestion"] == (
        "1 child aged 11-15 with physical and verbal aggression in the North East region: 1 more household approved "
        "for ages 11-15 with 'De-escalation and positive behaviour support' training within 60 miles would place them"
    )


def test_children_with_different_leading_needs_are_different_groups() -> None:
    born = date(2013, 1, 1)
    kids = [
        make_child(child_id="A", birth_month=born, needs={"physical_aggression": 3, "self_harm": 2}),
        make_child(child_id="B", birth_month=born, needs={"physical_aggression": 2}),
        make_child(child_id="C", birth_month=born, needs={"self_harm": 3, "physical_aggression": 2}),
        make_child(child_id="D", birth_month=born, needs={"autism": 1}),
    ]
    levers = suggested_levers(_built([make_request(c, referral_id=c.child_id) for c in kids], []), {})
    assert [(lv["need"], lv["training"], lv["children"]) for lv in levers] == [
        ("physical_aggression", "de_escalation_pbs", 2),
        (None, None, 1),
        ("self_harm", "self_harm_awareness", 1),
    ]
    assert levers[1]["suggestion"] == (
        "1 child aged 11-15 in the North East region: 1 more household approved for ages 11-15 within 60 miles "
        "would place them"
    )


def test_between_needs_as_severe_the_one_fewest_households_cover_leads() -> None:
    req = make_request(make_child(needs={"self_harm": 3, "neglect": 3, "autism": 1}))
    assert leading_need(req) == "neglect"  # no coverage known: by code
    households = [trained(make_household(household_id=f"H{i}"), "self_harm_awareness") for i in range(3)]
    covered = covered_share(households, TAX, ON)
    assert covered["self_harm"] == 1.0
    assert covered["neglect"] == 0.0
    assert leading_need(req, {"self_harm": 0.0, "neglect": 0.5}) == "self_harm"
    assert leading_need(req, covered) == "neglect"
    assert leading_need(make_request(make_child(needs={"autism": 1}))) is None  # mild needs lead no lever


def test_children_far_apart_need_households_of_their_own_within_the_typical_distance() -> None:
    # One child placed 4.5 miles from home: new households stand within 5 miles of the children they take.
    # The other two live 93 and 124 miles from the one household, beyond the 60-mile limit, and 31 miles apart.
    placed = make_child(child_id="P", birth_month=date(2013, 1, 1), home=Location(300_000, 300_000))
    near = make_child(child_id="N", birth_month=date(2013, 1, 1), home=Location(450_000, 300_000))
    far = make_child(child_id="F", birth_month=date(2012, 1, 1), home=Location(500_000, 300_000))
    h = make_household(household_id="H1", terms=make_terms(age_min=11, age_max=15, places=3),
                       location=Location(300_000, 307_250))  # fmt: skip
    inst = _built([make_request(c) for c in (placed, near, far)], [h])
    result = solve(inst, ONE)
    assert [inst.units[u].unit_id for u in result.assignment] == ["P"]
    (group,) = lever_groups(inst, result.assignment)
    assert group.within_miles == 5
    assert len(group.households) == 2  # 31 miles apart
    grown, assignment = with_new_households(inst, result.assignment, group)
    assert violations(grown, assignment) == []  # every rule, for every child, in the new households as recorded


def test_children_close_together_share_a_new_household_that_every_rule_accepts() -> None:
    kids = [make_child(child_id=f"C{i}", birth_month=date(2013, 1, 1), needs={"self_harm": 2}) for i in range(3)]
    inst = _built([make_request(c) for c in kids], [make_household(terms=make_terms(places=2))])
    (group,) = lever_groups(inst, {})
    assert (group.room.vacancies, len(group.households), group.would_place) == (2, 2, 3)
    assert group.records[0].training[0].course == "self_harm_awareness"
    grown, assignment = with_new_households(inst, {}, group)
    assert violations(grown, assignment) == []


def test_a_child_no_new_household_would_take_is_counted_and_the_rule_named() -> None:
    wants_residential = make_request(
        make_child(child_id="R", birth_month=date(2013, 1, 1)), suitable_for=("residential",)
    )
    fosters = make_request(make_child(child_id="F", birth_month=date(2013, 1, 1)), referral_id="R2")
    (lever,) = suggested_levers(_built([wants_residential, fosters], []), {})
    assert (lever["children"], lever["would_place"], lever["ruled_out_by"]) == (2, 1, ["setting"])
    assert lever["suggestion"].endswith("would place 1; 1 would not be placed even so (foster care not asked for)")


def _built(requests: list[MatchRequest], households: list[CarerHousehold]) -> AllocationInstance:
    """The instance the service would build (with the records), its local authority in the North East."""
    inst = build_instance(HouseholdPool(households, TAX, CFG), requests)
    inst.regions = {"L001": "North East"}
    return inst


@st.composite
def left_out(draw: st.DrawFn) -> AllocationInstance:
    """More children than households, most of one area and age band, some who must live alone or limit who lives
    with them; new households for two or three children (the households without a foster child)."""
    n = draw(st.integers(2, 10))
    units = [
        unit(
            f"U{i}",
            size=draw(st.sampled_from([1, 1, 1, 1, 2, 4])),
            age=draw(st.sampled_from([9, 11, 12, 12, 13, 14, 15])),
            live=draw(st.sampled_from(["any"] * 5 + ["solo", "only_older", "only_younger"])),
            risks=draw(st.sampled_from([()] * 5 + [("sexual_harm",), ("physical_harm",)])),
            la=draw(st.sampled_from(["L001", "L001", "L001", "L002"])),
        )
        for i in range(n)
    ]
    rooms = [room("E", vacancies=draw(st.sampled_from([2, 3])))]
    rooms += [room(f"H{j}", vacancies=draw(st.integers(1, 3)), empty=False) for j in range(draw(st.integers(0, 3)))]
    arcs = sorted({(u, h) for u in range(n) for h in draw(st.lists(st.integers(0, len(rooms) - 1), max_size=1))})
    inst = instance(units, rooms, [(u, h, draw(st.floats(0, 100))) for u, h in arcs])
    inst.regions = {"L001": "North East"}
    return inst


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(left_out())
def test_the_households_a_lever_names_really_place_the_children_it_counts(inst: AllocationInstance) -> None:
    result = solve(inst, ONE)
    before = sum(inst.units[u].size for u in result.assignment)
    groups = lever_groups(inst, result.assignment)
    assert sum(g.children for g in groups) == sum(u.size for u in inst.units) - before
    for group in groups:
        assert 0 <= group.would_place <= group.children
        assert group.would_place == sum(inst.units[u].size for h in group.households for u in h)
        assert all(u not in result.assignment for u in group.units)
        grown, assignment = with_new_households(inst, result.assignment, group)
        assert violations(grown, assignment) == []
        again = solve(grown, ONE)
        if result.status == again.status == "optimal":
            assert sum(grown.units[u].size for u in again.assignment) >= before + group.would_place
