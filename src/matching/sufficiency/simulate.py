"""One simulated future, month by month: demand arrives, places free up, carers come and go, and each
month's waiting children are placed as placements are made today (the allocation engine's
first-come-first-served baseline: in order of arrival, each child to the best-fitting household with
room), in arrays, fast enough for thousands of futures; a property test holds it equal to the engine.

Everything random comes from the future's own seed, so a run gives the same numbers whatever the
number of workers and however the futures are split among them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from matching import codes
from matching.allocation.instance import units_conflict
from matching.sufficiency.model import Inputs

WEEKS_PER_MONTH = 52 / 12
REASONS = ("approval_terms", "skills", "capacity")


def simulate(inp: Inputs, seed: np.random.SeedSequence) -> dict[str, Any]:
    """The outcomes of one future (counts, costs, monthly demand and supply)."""
    # Demand and supply draw from their own streams: a what-if meets the same children as its baseline.
    demand_rng, supply_rng = (np.random.default_rng(s) for s in seed.spawn(2))
    months = inp.months
    n_h = len(inp.household_ids)
    n_needs = inp.proto_needs.shape[1]
    vac = inp.vacancies.copy()
    occ = inp.occupied.copy()
    usual = inp.usual_room.copy()
    active = np.ones(n_h, dtype=bool)
    avail = inp.available_from.copy()
    slots = np.flatnonzero(inp.approval_slots)
    next_slot = 0
    by_band = [np.flatnonzero(inp.proto_band == b) for b in range(len(codes.AGE_BANDS))]
    everyone = np.arange(len(inp.proto_band))
    out: dict[str, Any] = {
        "demand": 0, "placed": 0, "unmet": 0, "siblings_separated": 0, "residential": 0,
        "cost": 0.0, "miles": 0.0, "miles_n": 0,
        "unmet_by_band": np.zeros(len(codes.AGE_BANDS)), "unmet_by_la": np.zeros(len(inp.la_codes)),
        "unmet_by_need": np.zeros(n_needs), "unmet_reason": np.zeros(len(REASONS)),
        "skills_gap_need": np.zeros(n_needs), "skills_gap_band": np.zeros((len(codes.AGE_BANDS), n_needs)),
        "monthly_demand": np.zeros(months), "monthly_vacancies": np.zeros(months), "monthly_unmet": np.zeros(months),
    }  # fmt: skip
    step_down_per_month = np.diff(np.round(np.linspace(0, inp.step_down_children, months + 1)).astype(int))
    for m in range(months):
        k = int(supply_rng.poisson(inp.approvals_per_month))
        if k and next_slot < len(slots):
            avail[slots[next_slot : next_slot + k]] = m
            next_slot += k
        leaving = active & (occ == 0) & (supply_rng.random(n_h) < inp.deregistration) & (avail <= m)
        active &= ~leaving
        ends = supply_rng.binomial(occ, inp.end_hazard)
        occ -= ends
        vac += ends
        usual = np.where(usual >= 0, usual + ends, usual)
        in_area_ends = ends * (inp.household_la >= 0)  # the area's own children move; elsewhere a place frees
        protos: list[int] = []
        for b, pool in enumerate(by_band):
            if len(pool):
                count = int(demand_rng.poisson(inp.entry_rate[b] * (1 + inp.demand_growth)))
                protos += list(demand_rng.choice(pool, size=count))
        moves = int(in_area_ends.sum())
        if moves:
            protos += list(demand_rng.choice(everyone, size=moves))
        if step_down_per_month[m] and len(inp.residential_protos):
            protos += list(demand_rng.choice(inp.residential_protos, size=int(step_down_per_month[m])))
        open_ = active & (avail <= m)
        placed, reasons = _allocate(inp, protos, open_, vac, usual, occ, m)
        weeks_left = (months - m) * WEEKS_PER_MONTH
        out["monthly_demand"][m] = sum(int(inp.proto_size[p]) for p in protos)
        out["monthly_vacancies"][m] = float(vac[open_].sum())
        for j, p in enumerate(protos):
            size = int(inp.proto_size[p])
            out["demand"] += size
            if j in placed:
                _h, miles = placed[j]
                out["placed"] += size
                out["cost"] += inp.weekly_foster * size * weeks_left
                if not np.isnan(miles):
                    out["miles"] += miles * size
                    out["miles_n"] += size
                continue
            out["unmet"] += size
            out["monthly_unmet"][m] += size
            out["residential"] += size
            out["cost"] += inp.weekly_residential * size * weeks_left
            out["siblings_separated"] += size > 1
            out["unmet_by_band"][inp.proto_band[p]] += size
            if inp.proto_la[p] >= 0:
                out["unmet_by_la"][inp.proto_la[p]] += size
            out["unmet_by_need"] += (inp.proto_needs[p] >= 2) * size
            reason = reasons[j]
            out["unmet_reason"][REASONS.index(reason)] += size
            if reason == "skills":
                out["skills_gap_need"] += inp.uncovered[p] * size
                out["skills_gap_band"][inp.proto_band[p]] += inp.uncovered[p] * size
    out["active_households_end"] = int((active & (avail <= months)).sum())
    return out


def _allocate(
    inp: Inputs,
    protos: list[int],
    open_: np.ndarray,
    vac: np.ndarray,
    usual: np.ndarray,
    occ: np.ndarray,
    month: int,
) -> tuple[dict[int, tuple[int, float]], dict[int, str]]:
    """This month's waiting children in order of arrival, each to the best-fitting household with room
    that can meet their needs (how placements are made today: the engine's first-come-first-served
    baseline), and why each of the others was not placed."""
    placed: dict[int, tuple[int, float]] = {}
    reasons: dict[int, str] = {}
    units = inp.proto_units
    joined: dict[int, list[int]] = {}  # household -> prototypes placed there this month

    def may_join(p: int, h: int) -> bool:
        """Whether prototype ``p`` may live with those placed in ``h`` this month (each child's own limits)."""
        return not any(units_conflict(units[p], units[q]) for q in joined.get(h, ()))

    for j, p in enumerate(protos):
        lo, hi = inp.arc_start[p], inp.arc_start[p + 1]
        if hi == lo:
            reasons[j] = "approval_terms"
            continue
        hs = inp.arc_household[lo:hi]
        ok = inp.arc_covered[month // 3, lo:hi]
        if not ok.any():
            reasons[j] = "skills"
            continue
        size = int(inp.proto_size[p])
        room = ok & open_[hs] & (vac[hs] >= size) & ((usual[hs] < 0) | (usual[hs] >= size) | (occ[hs] == 0))
        # arcs are stored best score first: the first with room whose children may live with this one
        a = next((int(a) for a in np.flatnonzero(room) if may_join(p, int(hs[a]))), -1)
        if a < 0:
            reasons[j] = "capacity"
            continue
        h = int(hs[a])
        joined.setdefault(h, []).append(p)
        vac[h] -= size
        occ[h] += size
        if usual[h] >= 0:
            usual[h] = max(0, usual[h] - size)
        placed[j] = (h, float(inp.arc_miles[lo + a]))
    return placed, reasons
