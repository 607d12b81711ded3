"""A cohort-wide step-down proposal that respects each family's vacancies.

Each ready child's candidate families are ranked for that child alone, so one family with three
vacancies can be offered to eight children.  This module says, for each family, how many other ready
children it is offered to, and proposes who could go where across the cohort with the allocation engine
(:mod:`matching.allocation`): each family takes at most its vacancies, the rules between children placed
together hold, placing children comes first, then fit.  A child whose plan is to return home needs no
family's place and is proposed to go home.  A proposal for the officer: nothing here moves a child.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from matching.allocation.instance import build_instance
from matching.allocation.solver import SolverSettings, solve
from matching.eligibility.request import MatchRequest
from matching.ranking.pool import HouseholdPool

#: Seconds the solver may take for a cohort (a cohort is small: tens of children).
PROPOSAL_TIME_LIMIT = 5.0
PROPOSAL_SEED = 2024


@dataclass(frozen=True)
class ProposedMove:
    """One ready child and where the proposal would have them go."""

    child_id: str
    kind: str  # "foster", "kin" or "return_home"
    household_id: str | None
    score: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "child_id": self.child_id,
            "kind": self.kind,
            "household_id": self.household_id,
            "score": None if self.score is None else round(self.score, 1),
        }


@dataclass
class CohortProposal:
    """Who could go where across the cohort, within every family's vacancies; who could not, and why."""

    moves: list[ProposedMove] = field(default_factory=list)
    unplaced: list[dict[str, str]] = field(default_factory=list)
    status: str = "none"
    note: str = "A proposal for a named officer to consider: nothing here changes a child's placement."

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "status": self.status,
            "moves": [m.as_dict() for m in self.moves],
            "unplaced": self.unplaced,
            "note": self.note,
        }


def offers_per_family(candidates: dict[str, list[str]]) -> Counter[str]:
    """How many ready children each family is offered to, from each child's list of candidate household ids."""
    return Counter(h for households in candidates.values() for h in set(households))


def propose(
    pool: HouseholdPool,
    requests: list[MatchRequest],
    *,
    going_home: list[str],
    kin: dict[str, set[str]],
    top_k: int,
    time_limit_seconds: float = PROPOSAL_TIME_LIMIT,
    seed: int = PROPOSAL_SEED,
) -> CohortProposal:
    """Allocate the ready children of ``requests`` (each judged on their own referral) to the families of
    ``pool``, at most each family's vacancies, their ``top_k`` best families each; ``going_home`` children go
    home and take no place; ``kin[child]`` names the child's connected-person households (shown as kin)."""
    out = CohortProposal(moves=[ProposedMove(c, "return_home", None, None) for c in sorted(going_home)])
    home = set(going_home)
    to_place = [r for r in requests if r.child.child_id not in home]
    if not to_place:
        out.status = "optimal"
        return out
    instance = build_instance(pool, to_place, top_k=top_k)
    result = solve(instance, SolverSettings(time_limit_seconds=time_limit_seconds, random_seed=seed))
    out.status = result.status
    for u, k in sorted(result.assignment.items(), key=lambda kv: instance.units[kv[0]].unit_id):
        arc = instance.arcs[k]
        household = instance.households[arc.household].household_id
        for child in instance.units[u].child_ids:
            kind = "kin" if household in kin.get(child, set()) else "foster"
            out.moves.append(ProposedMove(child, kind, household, arc.score))
    out.moves.sort(key=lambda m: m.child_id)
    out.unplaced = sorted(result.unplaced, key=lambda r: str(r.get("unit_id", r.get("child_id", ""))))
    return out
