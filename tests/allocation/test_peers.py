"""The peers (HiGHS on the families' rows, plain CP-SAT on the whole model) reach the optimum our solver proves, with
answers the validator accepts."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from matching.allocation.instance import AllocationInstance
from matching.allocation.peers import PeerResult, gap, highs, plain_cpsat
from matching.allocation.result import AllocationStatus
from matching.allocation.solver import SolverSettings, solve
from matching.allocation.validate import objective, violations
from tests.allocation.factories import instance, instances_with_choice, make_unit, room, unit

ONE = SolverSettings(
    time_limit_seconds=10, random_seed=7, workers=1, no_worse_than_first_come=False
)  # the search itself


def _every_family() -> AllocationInstance:
    """Seven units and four households where every family binds: a group too large for one household, a solo child,
    limits on ages between units, rooms of one to three places, and urgency before fit."""
    units = [
        unit("Solo", age=12, live="solo", urgency="today"),
        unit("Teen", age=14, live="only_older"),
        unit("Young", age=6),
        unit("Older", age=16, urgency="within_5_days"),
        make_unit("Sibs", ("S1", "S2", "S3"), (4, 7, 9)),
        unit("Harm", age=11, risks=("physical_harm",)),
        unit("Baby", age=1, urgency="today"),
    ]
    rooms = [
        room("A", vacancies=3),
        room("B", vacancies=2),
        room("C", vacancies=1),
        room("D", vacancies=3, empty=False),
    ]
    arcs = [(0, 0, 90), (0, 1, 60), (1, 0, 70), (1, 3, 80), (2, 0, 50), (2, 1, 65), (3, 0, 40), (3, 3, 45)]
    arcs += [(4, 0, 88), (4, 1, 99), (4, 3, 70), (5, 1, 75), (5, 2, 55), (6, 1, 30), (6, 2, 35), (6, 3, 95)]
    return instance(units, rooms, arcs)


def _agree(inst: AllocationInstance, peer: PeerResult, ours_value: float) -> None:
    assert peer.status == "optimal"
    assert peer.value == pytest.approx(ours_value, abs=1e-6)
    assert peer.bound is not None
    assert peer.bound >= peer.value - 1e-6
    assert violations(inst, peer.assignment) == []
    assert objective(inst, peer.assignment) == peer.value


def test_both_peers_reach_the_optimum_we_prove() -> None:
    inst = _every_family()
    ours = solve(inst, ONE)
    assert ours.status == AllocationStatus.OPTIMAL
    assert ours.gap == 0.0
    assert 4 <= len(ours.assignment) < len(inst.units)  # the rules leave someone out
    for peer in (highs(inst, 10.0, tolerance=0.0), plain_cpsat(inst, 10.0, seed=7, workers=1)):
        _agree(inst, peer, ours.objective)
        assert gap(peer.value, peer.bound) == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances_with_choice())
def test_the_peers_agree_with_us_on_small_instances(case: tuple[AllocationInstance, dict[int, int]]) -> None:
    inst, _ = case
    ours = solve(inst, ONE)
    assert ours.status == AllocationStatus.OPTIMAL
    _agree(inst, highs(inst, 10.0, tolerance=0.0), ours.objective)
    _agree(inst, plain_cpsat(inst, 10.0, seed=7, workers=1), ours.objective)


def test_nothing_to_place_is_proven_at_once() -> None:
    inst = instance([unit("A")], [], [])
    for peer in (highs(inst, 1.0), plain_cpsat(inst, 1.0)):
        assert (peer.status, peer.value, peer.assignment) == ("optimal", 0.0, {})
