"""What a sufficiency run starts from: rates estimated from the store, the children who stand for future
demand, the households (with the scenario's levers applied) and which of them could take whom.

Demand is a stock-and-flow in the spirit of the sector's demand models (domain.md section 6), by age
band: children entering care who need a foster placement (the entry rate of the last year), and
children whose foster placement ends and who need another (the monthly ending hazard of foster
placements). Each demand event is a real child of the area drawn from the same age band (their needs,
home, siblings): the "prototypes". Supply is the area's households (any fostering service) with their
vacancies now, places freed by endings, new approvals at the recent rate (copies of recently approved
households), deregistrations at a configured rate, and the scenario's levers.

Which household could take which prototype is computed once per scenario with the ranking pool (every
eligibility rule, the fit score, the distance) and whether the household's training and experience
cover the child's needs at the scenario's threshold: a match must be eligible and able to meet the
child's assessed needs (Fostering NMS 15).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import Connection

from matching import codes
from matching.allocation.instance import Unit, unit_of
from matching.domain import CarerHousehold, Child, Location, Referral, Scope, TermsOfApproval, TrainingRecord
from matching.eligibility.request import MatchRequest
from matching.fit_config import FitConfig, load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.ranking.service import default_referral
from matching.store import queries
from matching.sufficiency.scenario import Scenario
from matching.taxonomy import Taxonomy, load_taxonomy

TOP_K = 40


@dataclass
class Inputs:
    """Everything one future needs, as arrays (shipped once to every worker)."""

    months: int
    on: date
    # demand
    entry_rate: np.ndarray  # (bands,) children needing a foster placement per month
    end_hazard: float  # monthly chance a foster placement ends and the child needs another
    proto_band: np.ndarray  # (P,)
    proto_size: np.ndarray  # (P,)
    proto_la: np.ndarray  # (P,) index into la_codes
    proto_needs: np.ndarray  # (P, N) severity
    proto_units: list[Unit]
    residential_protos: np.ndarray  # prototypes now in children's homes (step-down demand)
    step_down_children: int
    demand_growth: float
    # supply
    household_ids: list[str]
    vacancies: np.ndarray  # (H,) free places at the start
    occupied: np.ndarray  # (H,) foster children living there now
    usual_room: np.ndarray  # (H,) places under the usual limit (-1: exemption)
    household_la: np.ndarray  # (H,) index into la_codes, -1 outside the area
    available_from: np.ndarray  # (H,) month from which a household can take a child (recruits, approvals)
    approval_rank: np.ndarray  # (H,) order in which copies standing for future approvals are approved (-1: not one)
    household_key: np.ndarray  # (H,) uint64 from the identifier: a household's draws, whatever its position
    approvals_per_month: float
    deregistration: float
    # who could take whom (arcs, by prototype)
    arc_start: np.ndarray  # (P+1,) CSR offsets
    arc_household: np.ndarray
    arc_score: np.ndarray
    arc_miles: np.ndarray
    arc_covered: np.ndarray  # (quarters, arcs) bool: the household meets the prototype's needs that quarter
    la_codes: list[str]
    need_ids: tuple[str, ...]
    course_ids: tuple[str, ...]
    uncovered: np.ndarray  # (P, N) bool: actionable needs no eligible household covers at the threshold
    weekly_foster: float
    weekly_residential: float


def household_key(household_id: str) -> int:
    """A stable 64-bit key for a household's random draws (the same in a what-if as in its baseline)."""
    return int.from_bytes(hashlib.blake2b(household_id.encode(), digest_size=8).digest(), "little")


def _requests(children: list[Child], on: date, recorded: dict[str, Referral]) -> list[MatchRequest]:
    """A prototype request per child or sibling group, each child judged on their recorded referral."""
    groups: dict[str, list[Child]] = {}
    for c in children:
        if c.sibling_group_id is not None and c.place_with_siblings:
            groups.setdefault(c.sibling_group_id, []).append(c)
    out: list[MatchRequest] = []
    seen: set[str] = set()
    for c in sorted(children, key=lambda c: c.child_id):
        if c.child_id in seen:
            continue
        sibs = tuple(s for s in groups.get(c.sibling_group_id or "", []) if s.child_id != c.child_id)[:3]
        seen.update(s.child_id for s in (c, *sibs))
        own = tuple(default_referral(s, on, recorded.get(s.child_id)) for s in sibs)
        out.append(MatchRequest(default_referral(c, on, recorded.get(c.child_id)), c, on, sibs, own))
    return out


def _apply_levers(
    households: list[CarerHousehold], scenario: Scenario, on: date, rng: np.random.Generator, taxonomy: Taxonomy
) -> list[CarerHousehold]:
    lv = scenario.levers
    out = list(households)
    order = rng.permutation(len(out))
    for t in lv.train:
        done = 0
        for i in order:
            h = out[i]
            if done >= t.households:
                break
            if h.is_kinship or any(r.course == t.course and r.current_on(on) for r in h.training):
                continue
            rec = TrainingRecord(t.course, on, taxonomy.course_expiry(t.course, on))
            out[i] = dataclasses.replace(h, training=(*h.training, rec))
            done += 1
    widened = 0
    for i in order:
        if widened >= lv.widen_ages:
            break
        h = out[i]
        if h.is_kinship or (h.terms.age_min == 0 and h.terms.age_max == 17):
            continue
        out[i] = dataclasses.replace(h, terms=dataclasses.replace(h.terms, age_min=0, age_max=17))
        widened += 1
    return out


def _recruits(
    scenario: Scenario, households: list[CarerHousehold], on: date, rng: np.random.Generator, taxonomy: Taxonomy
) -> list[tuple[CarerHousehold, int]]:
    """New households from the recruit levers, each with the month it is approved (spread over the horizon)."""
    out: list[tuple[CarerHousehold, int]] = []
    template = next(h for h in households if not h.is_kinship)
    for j, r in enumerate(scenario.levers.recruit):
        homes = [h for h in households if not h.is_kinship and (r.la is None or h.la_code == r.la)] or households
        for n in range(r.households):
            where = homes[int(rng.integers(len(homes)))]
            month = int(n * scenario.horizon_months / max(1, r.households))
            loc = Location(where.location.easting + int(rng.integers(-2000, 2000)), where.location.northing)
            terms = TermsOfApproval(r.ages[0], r.ages[1], r.places, ("emergency", "short_term", "long_term", "step_down"),
                                    max_sibling_group=r.places)  # fmt: skip
            h = dataclasses.replace(
                template, household_id=f"NEW-{j}-{n:04d}", la_code=where.la_code, location=loc, terms=terms,
                approved_on=on, experience_years=0.0, experience_needs=(), members=(), foster_children=(),
                training=tuple(TrainingRecord(c, on, taxonomy.course_expiry(c, on)) for c in r.courses),
                will_not_consider=(), preferred_age_min=None, preferred_age_max=None, bedrooms_available=r.places,
                status="active",
            )  # fmt: skip
            out.append((h, month))
    return out


def build_inputs(
    conn: Connection,
    scenario: Scenario,
    *,
    la_codes: list[str],
    cfg: FitConfig | None = None,
    taxonomy: Taxonomy | None = None,
    weekly_foster: float = 820.0,
    weekly_residential: float = 3830.0,
    max_prototypes: int = 1500,
) -> Inputs:
    """The arrays of a run: rates from the store, prototypes, households with levers, arcs."""
    cfg = cfg or load_fit_config()
    taxonomy = taxonomy or load_taxonomy()
    # One stream per use, so a what-if draws the same prototypes and approvals as its baseline.
    rng_protos, rng_levers, rng_recruits, rng_clones = (
        np.random.default_rng(s) for s in np.random.SeedSequence([scenario.seed, 903]).spawn(4)
    )
    scope = Scope(la_codes=frozenset(la_codes))
    children = queries.all_children(conn, scope=scope)
    placements = queries.all_placements(conn, scope=scope)
    on = max((p.start_date for p in placements), default=date.today()) + timedelta(days=1)
    # Entry rate by band: children whose care began in the last year and whose first placement was foster.
    first: dict[str, str] = {}
    for p in placements:
        first.setdefault(p.child_id, p.place)
    year_ago = on - timedelta(days=365)
    entries = np.zeros(len(codes.AGE_BANDS))
    for c in children:
        if c.care_started >= year_ago and first.get(c.child_id) in codes.PLACE_FOSTER:
            entries[codes.age_band_index(c.age_on(c.care_started))] += 1
    entry_rate = entries / 12.0
    # Ending hazard of foster placements over the last three years (ended / placement-months).
    since = on - timedelta(days=3 * 365)
    ended = exposure = 0.0
    for p in placements:
        if p.place not in codes.PLACE_FOSTER:
            continue
        start = max(p.start_date, since)
        stop = p.end_date or on
        if stop <= start:
            continue
        exposure += (stop - start).days / 30.44
        ended += p.end_date is not None and p.end_date >= since
    end_hazard = ended / exposure if exposure else 0.0
    # Prototypes: children of the area in foster care or waiting, by band (bootstrap sample).
    # (never a child who ceased to be looked after)
    candidates = [
        c for c in children if c.ceased is None and (c.place in codes.PLACE_FOSTER or c.place in ("K2", "R1", "P1"))
    ]
    if len(candidates) > max_prototypes:
        pick = np.sort(rng_protos.choice(len(candidates), size=max_prototypes, replace=False))
        candidates = [candidates[i] for i in pick]
    recorded = queries.latest_referrals(conn, scope=scope, child_ids=[c.child_id for c in candidates])
    requests = _requests(candidates, on, recorded)
    households = queries.all_households(conn, scope=Scope.everything(), taxonomy=taxonomy)
    area = set(la_codes)
    households = [h for h in households if h.status == "active"]
    households = _apply_levers(households, scenario, on, rng_levers, taxonomy)
    local = [h for h in households if h.la_code in area] or households
    recruits = _recruits(scenario, local, on, rng_recruits, taxonomy)
    approvals = [h for h in households if h.la_code in area and h.approved_on >= year_ago and not h.is_kinship]
    approvals_per_month = len(approvals) / 12.0
    if scenario.rates.approvals_per_month is not None:
        approvals_per_month = scenario.rates.approvals_per_month
        approvals = approvals or [h for h in households if h.la_code in area and not h.is_kinship]
    slots = int(np.ceil(approvals_per_month * scenario.horizon_months * 2 + 3)) if approvals else 0
    clones = [
        dataclasses.replace(
            approvals[int(rng_clones.integers(len(approvals)))],
            household_id=f"APPROVAL-{i:04d}",
            foster_children=(),
            members=(),
        )
        for i in range(slots)
    ]
    everyone = households + [h for h, _ in recruits] + clones
    pool = HouseholdPool(everyone, taxonomy, cfg)
    la_list = sorted(area)
    la_index = {la: i for i, la in enumerate(la_list)}
    n = len(pool)
    available = np.zeros(n, dtype=np.int64)
    approval_rank = np.full(n, -1, dtype=np.int64)
    for h, month in recruits:
        available[pool.index[h.household_id]] = month
    for i, h in enumerate(clones):
        approval_rank[pool.index[h.household_id]] = i
        available[pool.index[h.household_id]] = 10**6  # switched on per future when approved
    occupied = np.array([h.foster_children_count for h in pool.households], dtype=np.int64)
    vacancies = np.array([h.vacancies for h in pool.households], dtype=np.int64)
    limit = cfg.rules.usual_fostering_limit
    usual = np.array([-1 if h.terms.usual_limit_exemption else max(0, limit - h.foster_children_count)
                      for h in pool.households], dtype=np.int64)  # fmt: skip
    # Arcs: eligible households per prototype, best TOP_K by score; and whether needs are covered.
    tables = pool.tables
    need_pos = {nid: j for j, nid in enumerate(tables.need_ids)}
    starts, arc_h, arc_s, arc_m, arc_c = [0], [], [], [], []
    proto_needs = np.zeros((len(requests), len(tables.need_ids)))
    uncovered = np.zeros((len(requests), len(tables.need_ids)), dtype=bool)
    # Training current in each quarter of the horizon: courses expire unless the carers renew them
    # (a share of households renew, drawn once per scenario).
    quarters = (scenario.horizon_months + 2) // 3
    renews = (
        np.random.default_rng(np.random.SeedSequence([scenario.seed, 904])).random(n) < scenario.rates.training_renewal
    )
    start_current = pool.current_courses(on)
    current_q = [
        pool.current_courses(on + timedelta(days=round(91.3 * q))) | (start_current & renews[:, None])
        for q in range(quarters)
    ]
    for pi, req in enumerate(requests):
        for need, sev in req.needs.items():
            if need in need_pos:
                proto_needs[pi, need_pos[need]] = sev
        idx = np.flatnonzero(pool.failures(req).eligible)
        sev = proto_needs[pi]
        if len(idx):
            scores = pool.scores(req, idx)
            order = np.lexsort((idx, -np.round(scores, 6)))
            actionable = sev >= 2
            cov = tables.need_coverage(start_current[idx], pool.experience[idx])
            uncovered[pi] = actionable & ~(cov >= scenario.coverage_threshold).any(axis=0)
            idx, scores = idx[order][:TOP_K], scores[order][:TOP_K]
            covered = np.ones((quarters, len(idx)), dtype=bool)
            if sev.any():
                for q in range(quarters):
                    cov_q = tables.need_coverage(current_q[q][idx], pool.experience[idx])
                    covered[q] = tables.weighted_coverage(sev, cov_q) >= scenario.coverage_threshold
            miles = pool.home_miles(req, idx) if req.child.home is not None else np.full(len(idx), np.nan)
            arc_h.append(idx)
            arc_s.append(scores)
            arc_m.append(miles)
            arc_c.append(covered)
        else:
            uncovered[pi] = sev >= 2
        starts.append(starts[-1] + len(idx))
    cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)  # noqa: E731
    # Only households some child could go to are simulated (renumbered, in the pool's order).
    keep = np.unique(cat(arc_h, np.int64))
    renumber = np.full(n, -1, dtype=np.int64)
    renumber[keep] = np.arange(len(keep))
    arc_h = [renumber[a] for a in arc_h]
    available, approval_rank, occupied = available[keep], approval_rank[keep], occupied[keep]
    vacancies, usual = vacancies[keep], usual[keep]
    kept = [pool.households[int(i)] for i in keep]
    units = [
        dataclasses.replace(unit_of(f"P{p}", req), urgency="over_5_days", referral_date=on)
        for p, req in enumerate(requests)
    ]
    residential = np.array([p for p, req in enumerate(requests) if req.child.place in ("K2", "R1")], dtype=np.int64)
    return Inputs(
        months=scenario.horizon_months,
        on=on,
        entry_rate=entry_rate,
        end_hazard=end_hazard,
        proto_band=np.array([codes.age_band_index(req.age) for req in requests], dtype=np.int64),
        proto_size=np.array([req.group_size for req in requests], dtype=np.int64),
        proto_la=np.array([la_index.get(req.child.la_code, -1) for req in requests], dtype=np.int64),
        proto_needs=proto_needs,
        proto_units=units,
        residential_protos=residential,
        step_down_children=scenario.levers.step_down.children if scenario.levers.step_down else 0,
        demand_growth=scenario.rates.demand_growth,
        household_ids=[h.household_id for h in kept],
        vacancies=vacancies,
        occupied=occupied,
        usual_room=usual,
        household_la=np.array([la_index.get(h.la_code, -1) for h in kept], dtype=np.int64),
        available_from=available,
        approval_rank=approval_rank,
        household_key=np.array([household_key(h.household_id) for h in kept], dtype=np.uint64),
        approvals_per_month=approvals_per_month,
        deregistration=scenario.rates.deregistration_per_month,
        arc_start=np.array(starts, dtype=np.int64),
        arc_household=cat(arc_h, np.int64),
        arc_score=cat(arc_s, np.float64),
        arc_miles=cat(arc_m, np.float64),
        arc_covered=np.concatenate(arc_c, axis=1) if arc_c else np.zeros((quarters, 0), dtype=bool),
        la_codes=la_list,
        need_ids=tables.need_ids,
        course_ids=tables.course_ids,
        uncovered=uncovered,
        weekly_foster=weekly_foster,
        weekly_residential=weekly_residential,
    )
