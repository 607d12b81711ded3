"""One simulated future, month by month: demand arrives, places free up, carers come and go, and each
month's waiting children are placed as placements are made today (the allocation engine's
first-come-first-served baseline: in order of arrival, each child to the best-fitting household with
room), in arrays, fast enough for thousands of futures; a property test holds it equal to the engine.

Random numbers are paired between a what-if and its baseline (common random numbers). Each future,
month and kind of draw has its own stream, ``SeedSequence(entropy=seed, spawn_key=(future, month,
kind))`` (the same as spawning the future's seed, then the month's, then the kind's), so a draw in one
month or of one kind never shifts another: the children entering care are the same in a what-if as in
its baseline, and so is every draw a lever does not touch. Draws about a household (a placement
ending, a deregistration) are keyed by the household's identifier, not its position in the arrays (a
lever that adds carers renumbers them): a 64-bit key from the month's stream mixed with the
household's key (SplitMix64), one per place, so a household in the same state makes the same draw in
both runs, and a place a lever fills draws its ending without moving anyone else's. A run gives the
same numbers whatever the number of workers and however the futures are split among them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from matching import codes
from matching.allocation.instance import units_conflict
from matching.sufficiency.model import Inputs

WEEKS_PER_MONTH = 52 / 12
REASONS = ("approval_terms", "skills", "capacity")
# The kinds of draw, each with its own stream per future and month (the last element of the spawn key).
KINDS = ("entries", "moves", "endings", "approvals", "deregistrations", "step_down")
SEED_SCHEME = (
    "numpy SeedSequence(entropy=seed, spawn_key=(future, month, kind)), kind = "
    + ", ".join(f"{i} {k}" for i, k in enumerate(KINDS))
    + "; endings and deregistrations per household: a 64-bit key drawn from that stream, mixed (SplitMix64) "
    "with the household's key (its identifier hashed) and the place's number"
)
ENTRY, MOVE, STEP_DOWN = 0, 1, 2  # why a child needs a placement this month


def stream(seed: np.random.SeedSequence, month: int, kind: str) -> np.random.Generator:
    """The generator of one kind of draw in one month of the future seeded by ``seed``."""
    key = (*seed.spawn_key, month, KINDS.index(kind))
    return np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=key))


_M1, _M2, _GAMMA = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser on an array of uint64 (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def household_uniforms(rng: np.random.Generator, keys: np.ndarray, places: int = 1) -> np.ndarray:
    """Uniform draws in [0, 1), one per household (by key, not position) and place: (len(keys), places)."""
    base = rng.integers(0, np.iinfo(np.uint64).max, dtype=np.uint64, endpoint=True)
    z = _mix(keys ^ base)
    z = _mix(z[:, None] + _GAMMA * np.arange(1, places + 1, dtype=np.uint64))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def simulate(inp: Inputs, seed: np.random.SeedSequence, trace: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The outcomes of one future (counts, costs, monthly demand and supply). ``trace``, when given,
    receives each month's draws (for the tests of pairing)."""
    months = inp.months
    n_h = len(inp.household_ids)
    n_needs = inp.proto_needs.shape[1]
    vac = inp.vacancies.copy()
    occ = inp.occupied.copy()
    usual = inp.usual_room.copy()
    active = np.ones(n_h, dtype=bool)
    avail = inp.available_from.copy()
    next_approval = 0
    places = int(max(1, occ.max(initial=0), (vac + occ).max(initial=0)))  # vacancies + occupied never grows
    place_no = np.arange(places)
    by_band = [np.flatnonzero(inp.proto_band == b) for b in range(len(codes.AGE_BANDS))]
    everyone = np.arange(len(inp.proto_band))
    out: dict[str, Any] = {
        "demand": 0, "placed": 0, "unmet": 0, "siblings_separated": 0, "residential": 0,
        "entries": 0, "moves": 0, "step_down": 0, "step_down_placed": 0,
        "cost": 0.0, "miles": 0.0, "miles_n": 0,
        "unmet_by_band": np.zeros(len(codes.AGE_BANDS)), "unmet_by_la": np.zeros(len(inp.la_codes)),
        "unmet_by_need": np.zeros(n_needs), "unmet_reason": np.zeros(len(REASONS)),
        "skills_gap_need": np.zeros(n_needs), "skills_gap_band": np.zeros((len(codes.AGE_BANDS), n_needs)),
        "monthly_demand": np.zeros(months), "monthly_vacancies": np.zeros(months), "monthly_unmet": np.zeros(months),
        "monthly_entries": np.zeros(months), "monthly_moves": np.zeros(months),
    }  # fmt: skip
    # Children stepping down: spread evenly over the horizon (by the end of each month), counted in children
    # (a sibling group counts as its size, and is drawn only if it fits in the number still to step down).
    step_down_by = np.round(np.linspace(0, inp.step_down_children, months + 1)).astype(int)[1:]
    step_down_size = inp.proto_size[inp.residential_protos]
    stepped = 0
    for m in range(months):
        t: dict[str, Any] | None = None
        if trace is not None:
            t = {"occupied": dict(zip(inp.household_ids, occ.tolist(), strict=True))}
            trace.append(t)
        # Approvals: copies of recent approvals, switched on in a fixed order.
        k = int(stream(seed, m, "approvals").poisson(inp.approvals_per_month)) if inp.approvals_per_month else 0
        if k:
            avail[(inp.approval_rank >= next_approval) & (inp.approval_rank < next_approval + k)] = m
            next_approval += k
        # Deregistrations: households without children may leave.
        may_leave = np.flatnonzero(active & (occ == 0) & (avail <= m))
        leaving = np.zeros(0, dtype=np.int64)
        if len(may_leave) and inp.deregistration > 0:
            u = household_uniforms(stream(seed, m, "deregistrations"), inp.household_key[may_leave])[:, 0]
            leaving = may_leave[u < inp.deregistration]
            active[leaving] = False
        # Endings: each occupied place ends with the monthly hazard, drawn per household and place.
        ends = np.zeros(n_h, dtype=np.int64)
        lived_in = np.flatnonzero(occ > 0)
        if len(lived_in) and inp.end_hazard > 0:
            u = household_uniforms(stream(seed, m, "endings"), inp.household_key[lived_in], places)
            ends[lived_in] = ((u < inp.end_hazard) & (place_no < occ[lived_in, None])).sum(axis=1)
        occ -= ends
        vac += ends
        usual = np.where(usual >= 0, usual + ends, usual)
        in_area_ends = ends * (inp.household_la >= 0)  # the area's own children move; elsewhere a place frees
        # Demand: children entering care, children whose placement ended, children stepping down.
        protos: list[int] = []
        rng = stream(seed, m, "entries")
        for b, pool in enumerate(by_band):
            if len(pool):
                count = int(rng.poisson(inp.entry_rate[b] * (1 + inp.demand_growth)))
                protos += rng.choice(pool, size=count).tolist()
        n_entries = len(protos)
        moves = int(in_area_ends.sum())
        if moves:
            protos += stream(seed, m, "moves").choice(everyone, size=moves).tolist()
        n_moves = len(protos) - n_entries
        if stepped < step_down_by[m] and len(inp.residential_protos):
            rng = stream(seed, m, "step_down")
            while stepped < step_down_by[m]:
                fits = inp.residential_protos[step_down_size <= inp.step_down_children - stepped]
                if not len(fits):
                    break
                p = int(rng.choice(fits))
                protos.append(p)
                stepped += int(inp.proto_size[p])
        why = [ENTRY] * n_entries + [MOVE] * n_moves + [STEP_DOWN] * (len(protos) - n_entries - n_moves)
        if t is not None:
            t.update(
                approvals=k,
                may_leave={inp.household_ids[i] for i in may_leave},
                leaving={inp.household_ids[i] for i in leaving},
                ends={inp.household_ids[i]: int(ends[i]) for i in np.flatnonzero(ends)},
                entries=protos[:n_entries],
                moves=protos[n_entries : n_entries + n_moves],
                step_down=protos[n_entries + n_moves :],
            )
        open_ = active & (avail <= m)
        placed, reasons = _allocate(inp, protos, open_, vac, usual, occ, m)
        weeks_left = (months - m) * WEEKS_PER_MONTH
        out["monthly_demand"][m] = sum(int(inp.proto_size[p]) for p in protos)
        out["monthly_vacancies"][m] = float(vac[open_].sum())
        for j, p in enumerate(protos):
            size = int(inp.proto_size[p])
            out["demand"] += size
            kind = why[j]
            if kind == ENTRY:
                out["entries"] += size
                out["monthly_entries"][m] += size
            elif kind == MOVE:
                out["moves"] += size
                out["monthly_moves"][m] += size
            else:
                out["step_down"] += size
            if j in placed:
                _h, miles = placed[j]
                out["placed"] += size
                if kind == STEP_DOWN:
                    # From a children's home to a family: the change against staying there (a saving).
                    out["step_down_placed"] += size
                    out["cost"] += (inp.weekly_foster - inp.weekly_residential) * size * weeks_left
                else:
                    out["cost"] += inp.weekly_foster * size * weeks_left
                if not np.isnan(miles):
                    out["miles"] += miles * size
                    out["miles_n"] += size
                continue
            out["unmet"] += size
            out["monthly_unmet"][m] += size
            if kind != STEP_DOWN:
                # A child stepping down who finds no family stays in their children's home: not new
                # residential demand, no new cost, no siblings newly apart (in the baseline they stay there too).
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
