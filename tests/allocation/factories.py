"""Small hand-made allocation instances."""

from __future__ import annotations

from datetime import date

from matching.allocation.instance import AllocationInstance, Arc, HouseholdRoom, Unit


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
    return Unit(uid, children, (age,) * size, urgency, referred, la, live, risks)


def room(
    hid: str, vacancies: int = 1, usual_room: int | None = 3, empty: bool = True, la: str = "L001"
) -> HouseholdRoom:
    return HouseholdRoom(hid, la, vacancies, usual_room, empty)


def instance(units: list[Unit], rooms: list[HouseholdRoom], arcs: list[tuple[int, int, float]]) -> AllocationInstance:
    return AllocationInstance(units, rooms, [Arc(u, h, s, 5.0) for u, h, s in arcs])
