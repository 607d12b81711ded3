"""Small hand-made allocation instances."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import strategies as st

from matching.allocation.instance import AllocationInstance, Arc, HouseholdRoom, Unit
from matching.eligibility.together import Limit, limits_of

LIVE = ["any", "any", "solo", "only_older", "only_younger"]
RISKS = [(), (), ("sexual_harm",), ("physical_harm",), ("sexual_harm", "physical_harm")]


def child_limits(
    ages: tuple[int, ...], restrictions: list[tuple[str, tuple[str, ...]]]
) -> tuple[tuple[Limit, ...], ...]:
    """Each child's limits from their own (live_alongside, risks_to_others); children past the list have none."""
    return tuple(limits_of(a, *restrictions[i]) if i < len(restrictions) else () for i, a in enumerate(ages))


def make_unit(
    uid: str,
    child_ids: tuple[str, ...],
    ages: tuple[int, ...],
    urgency: str = "over_5_days",
    referred: date = date(2026, 3, 1),
    la: str = "L001",
    live: str = "any",
    risks: tuple[str, ...] = (),
    per_child: list[tuple[str, tuple[str, ...]]] | None = None,
) -> Unit:
    """A unit whose first child has ``live`` and ``risks`` (or every child their own, with ``per_child``)."""
    return Unit(uid, child_ids, ages, urgency, referred, la, child_limits(ages, per_child or [(live, risks)]))


def unit(
    uid: str,
    size: int = 1,
    age: int = 10,
    urgency: str = "over_5_days",
    live: str = "any",
    risks: tuple[str, ...] = (),
    referred: date = date(2026, 3, 1),
    la: str = "L001",
) -> Unit:
    children = tuple(f"{uid}-{i}" for i in range(size)) if size > 1 else (uid,)
    return make_unit(uid, children, (age,) * size, urgency, referred, la, live, risks)


def room(
    hid: str, vacancies: int = 1, usual_room: int | None = 3, empty: bool = True, la: str = "L001"
) -> HouseholdRoom:
    return HouseholdRoom(hid, la, vacancies, usual_room, empty)


def instance(units: list[Unit], rooms: list[HouseholdRoom], arcs: list[tuple[int, int, float]]) -> AllocationInstance:
    return AllocationInstance(units, rooms, [Arc(u, h, s, 5.0) for u, h, s in arcs])


@st.composite
def instances_with_choice(draw: st.DrawFn) -> tuple[AllocationInstance, dict[int, int]]:
    """A few units (mixed ages, rules and sizes), one to three households, every pair eligible, and a choice
    of household (or none) for each unit."""
    n_units = draw(st.integers(1, 5))
    units = []
    for i in range(n_units):
        size = draw(st.sampled_from([1, 1, 1, 2, 3, 4]))
        ages = tuple(draw(st.lists(st.integers(0, 17), min_size=size, max_size=size)))
        each = [(draw(st.sampled_from(LIVE)), draw(st.sampled_from(RISKS))) for _ in ages]
        units.append(make_unit(f"U{i}", tuple(f"U{i}-{j}" for j in range(size)), ages, "over_5_days", per_child=each))
    rooms = []
    n_households = draw(st.integers(1, 3))
    for h in range(n_households):
        vacancies = draw(st.integers(1, 5))
        exempt = draw(st.booleans())
        rooms.append(
            HouseholdRoom(f"H{h}", "L001", vacancies, None if exempt else draw(st.integers(0, 3)), draw(st.booleans()))
        )
    arcs = [Arc(u, h, 50.0, 1.0) for u in range(n_units) for h in range(n_households)]
    instance = AllocationInstance(units, rooms, arcs)
    choice = {}
    for u in range(n_units):
        h = draw(st.sampled_from([None, *range(n_households)]))
        if h is not None:
            choice[u] = n_households * u + h
    return instance, choice


def drawn_unit(draw: st.DrawFn, uid: str, sizes: list[int], lives: list[str]) -> Unit:
    """A unit of a drawn size (from ``sizes``), age and urgency, its first child drawn a rule from ``lives`` and
    at most one risk to others."""
    return unit(
        uid,
        size=draw(st.sampled_from(sizes)),
        age=draw(st.integers(0, 17)),
        urgency=draw(st.sampled_from(["today", "within_5_days", "over_5_days"])),
        live=draw(st.sampled_from(lives)),
        risks=tuple(draw(st.lists(st.sampled_from(["sexual_harm", "physical_harm"]), max_size=1))),
    )


def drawn_room(draw: st.DrawFn, hid: str) -> HouseholdRoom:
    """A household of 1-4 drawn free places, usual room (or an exemption) and emptiness."""
    return room(
        hid,
        vacancies=draw(st.integers(1, 4)),
        usual_room=draw(st.sampled_from([None, 1, 2, 3])),
        empty=draw(st.booleans()),
    )


def drawn_rooms(draw: st.DrawFn, n_households: int, most_places: int) -> list[HouseholdRoom]:
    """Households in two areas (L1, L2) of 1 to ``most_places`` free places, within the usual limit, empty."""
    return [
        HouseholdRoom(f"H{h}", draw(st.sampled_from(["L1", "L2"])), draw(st.integers(1, most_places)), 3, True)
        for h in range(n_households)
    ]


def drawn_arcs(draw: st.DrawFn, n_units: int, n_households: int, unknown_miles: bool = False) -> list[Arc]:
    """Any of the pairs, each its own fit (1-100) and miles (0-60; some unknown with ``unknown_miles``)."""
    miles = st.integers(0, 60).map(float)
    return [
        Arc(u, h, draw(st.integers(1, 100)) * 1.0, draw(st.one_of(st.none(), miles) if unknown_miles else miles))
        for u in range(n_units)
        for h in range(n_households)
        if draw(st.booleans())
    ]


def seeded_instance(
    seed: int, n_units: int, n_households: int, share: float, sizes: list[int], limits: bool = False
) -> tuple[AllocationInstance, np.random.Generator]:
    """A larger instance from ``seed``, and its generator (to draw on from): units of ``sizes`` referred over 20
    days in two areas (with ``limits``, of any age, each its first child's rule and risks), households of 1-3
    places, and each pair with probability ``share``, its own fit and miles."""
    rnd = np.random.default_rng(seed)
    units = []
    for i in range(n_units):
        size = int(rnd.choice(sizes))
        rule = (
            {"age": int(rnd.integers(0, 18)), "live": str(rnd.choice(LIVE)), "risks": RISKS[int(rnd.integers(0, 5))]}
            if limits
            else {}
        )
        referred = date(2026, 3, 1 + int(rnd.integers(0, 20)))
        units.append(unit(f"U{i}", size=size, referred=referred, la=str(rnd.choice(["L1", "L2"])), **rule))  # type: ignore[arg-type]
    rooms = [
        HouseholdRoom(f"H{h}", str(rnd.choice(["L1", "L2"])), int(rnd.integers(1, 4)), 3, True)
        for h in range(n_households)
    ]
    arcs = [
        Arc(u, h, float(rnd.integers(1, 100)), float(rnd.integers(0, 60)))
        for u in range(n_units)
        for h in range(n_households)
        if rnd.random() < share
    ]
    return AllocationInstance(units, rooms, arcs), rnd
