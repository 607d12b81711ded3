"""Ranking: the carer households for a child, and the waiting children for a household.

``rank_households`` is the production path (pre-filtering and scoring over a
:class:`HouseholdPool`); ``rank_households_loop`` is the same answer computed one household at a
time from the rule and fit definitions: the specification, and the benchmark's baseline.
Ordering is by tier (connected persons first, s22C), then score, then household id, so the
ranking is deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
from sqlalchemy import Connection

from matching.domain import CarerHousehold, Child, NeedsProfile, Referral, Scope
from matching.eligibility.arithmetic import ADULT_AGE, age_on
from matching.eligibility.request import MatchRequest
from matching.eligibility.rules import RULE_CODES, RULES, RuleOutcome, evaluate
from matching.fit_config import FitConfig
from matching.ranking import fit as fitmod
from matching.ranking.explanation import (
    TIER_CONNECTED,
    TIER_FOSTER,
    Exclusion,
    MatchExplanation,
    MatchResult,
    NearMiss,
    StabilityEstimate,
)
from matching.ranking.pool import HouseholdPool
from matching.store import queries
from matching.taxonomy import Taxonomy

NEAREST_MISSES = 10
_ROUND = 6  # scores equal to 6 decimals are ties, broken by id (so float noise cannot reorder)

#: The most candidates any caller gets in one ranking (the CLI, the API and the pages alike).
MAX_TOP = 100


class NotFoundError(LookupError):
    """A child or household that does not exist or is outside the caller's scope."""


def tier_of(req: MatchRequest, h: CarerHousehold) -> int:
    """Connected-person carers approved for every child placed come first (s22C)."""
    ok = h.is_kinship and all(c.child_id in h.terms.connected_child_ids for c in req.group)
    return TIER_CONNECTED if ok else TIER_FOSTER


def explain(
    req: MatchRequest,
    h: CarerHousehold,
    cfg: FitConfig,
    taxonomy: Taxonomy,
    rank: int,
    rules: Sequence[RuleOutcome],
    stability: StabilityEstimate | None = None,
    model_note: str | None = None,
) -> MatchExplanation:
    """The explanation of one eligible household (``rules``: its outcomes, of which those outside terms are kept;
    ``model_note``: why there is no learned estimate, when there is none)."""
    outside = tuple(r for r in rules if r.outside_terms)
    a = fitmod.assess(req, h, cfg, taxonomy, outside, stability, model_note)
    return MatchExplanation(
        household_id=h.household_id,
        agency_code=h.agency_code,
        agency_type=h.agency_type,
        rank=rank,
        tier=tier_of(req, h),
        score=a.score,
        factors=a.factors,
        needs_met=a.needs_met,
        gaps=a.gaps,
        warnings=a.warnings,
        outside_terms=outside,
        distance_miles=a.distance_miles,
        vacancies=h.vacancies,
        stability=stability,
    )


def wants_near_misses(near_misses: bool | None, eligible: int, top: int) -> bool:
    """Nearest misses are shown when asked for, and by default when fewer than ``top`` households are eligible."""
    return eligible < top if near_misses is None else near_misses


def rank_households(
    *,
    pool: HouseholdPool,
    request: MatchRequest,
    top: int = 10,
    with_excluded: bool = False,
    near_misses: bool | None = None,
) -> MatchResult:
    """The ``top`` households for ``request``, their explanations, and why the others were ruled out.

    ``near_misses``: households failing one rule only, best first: True always, False never,
    None (default) when fewer than ``top`` households are eligible, when they matter most.
    """
    cfg, taxonomy = pool.cfg, pool.taxonomy
    failures = pool.failures(request)
    eligible = np.flatnonzero(failures.eligible)
    scores = pool.scores(request, eligible)
    tiers = pool.tiers(request, eligible)
    order = np.lexsort((eligible, -np.round(scores, _ROUND), tiers))
    chosen = eligible[order[:top]]
    p_chosen = pool.stability_p(request, chosen)
    candidates = []
    for rank, i in enumerate(chosen, start=1):
        h = pool.households[int(i)]
        waived = [RULES[r](request, h, cfg) for r in np.flatnonzero(failures.outside_terms[:, i])]
        est = None
        if p_chosen is not None and pool.stability is not None:
            est = pool.stability.estimate(float(p_chosen[rank - 1]))
        candidates.append(explain(request, h, cfg, taxonomy, rank, waived, est, pool.model_note))
    counts = failures.counts()
    excluded_counts = {code: int(c) for code, c in zip(RULE_CODES, counts, strict=True) if c}
    misses: list[NearMiss] = []
    if wants_near_misses(near_misses, len(eligible), top):
        near = np.flatnonzero(failures.failures_per_household == 1)
        for i, score in _best_scored(pool, request, near, NEAREST_MISSES):
            h = pool.households[i]
            failed = RULES[int(np.flatnonzero(failures.failed[:, i])[0])](request, h, cfg)
            misses.append(NearMiss(h.household_id, failed.code, failed.reason, score))
    excluded = None
    if with_excluded:
        excluded = tuple(
            Exclusion(
                pool.households[int(i)].household_id,
                tuple(r for r in evaluate(request, pool.households[int(i)], cfg) if not r.passed),
            )
            for i in np.flatnonzero(~failures.eligible)
        )
    return MatchResult(
        child_id=request.child.child_id,
        referral_id=request.referral.referral_id,
        on=request.on,
        considered=len(pool),
        candidates=tuple(candidates),
        eligible=len(eligible),
        excluded_counts=excluded_counts,
        nearest_misses=tuple(misses),
        excluded=excluded,
        model=pool.model_note,
        notes=_notes(request),
    )


def _best_scored(pool: HouseholdPool, request: MatchRequest, idx: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best-scoring of ``idx`` (ties by id), scoring only those that could still be among them.

    Households are scored in order of an upper bound of their score; once the k-th best exact
    score beats the next bound (by more than rounding), no household left can enter: the answer
    is the one full scoring would give.
    """
    if len(idx) == 0:
        return []
    bounds = pool.score_upper_bounds(request, idx)
    perm = np.lexsort((idx, -bounds))
    order, bound_sorted = idx[perm], bounds[perm]
    done: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    pos, chunk = 0, 16 * k
    while pos < len(order):
        take = order[pos : pos + chunk]
        done.append(take)
        scores.append(pool.scores(request, take))
        pos += len(take)
        chunk *= 2
        got = np.concatenate(scores)
        if len(got) >= k and pos < len(order):
            kth = np.sort(np.round(got, _ROUND))[::-1][k - 1]
            if bound_sorted[pos] < kth - 1e-6:
                break
    all_idx, all_scores = np.concatenate(done), np.concatenate(scores)
    best = np.lexsort((all_idx, -np.round(all_scores, _ROUND)))[:k]
    return [(int(all_idx[j]), float(all_scores[j])) for j in best]


def rank_households_loop(
    *,
    households: Sequence[CarerHousehold],
    request: MatchRequest,
    cfg: FitConfig,
    taxonomy: Taxonomy,
    top: int = 10,
    near_misses: bool | None = None,
) -> MatchResult:
    """The same ranking computed one household at a time from the rule and fit definitions."""
    ranked: list[tuple[int, float, str, CarerHousehold, list[RuleOutcome]]] = []
    counts: Counter[str] = Counter()
    one_rule_off: list[tuple[RuleOutcome, CarerHousehold]] = []
    for h in households:
        outcomes = [rule(request, h, cfg) for rule in RULES]
        failed = [o for o in outcomes if not o.passed]
        for o in failed:
            counts[o.code] += 1
        if not failed:
            score = fitmod.score(request, h, cfg, taxonomy)
            ranked.append((tier_of(request, h), -round(score, _ROUND), h.household_id, h, outcomes))
        elif len(failed) == 1:
            one_rule_off.append((failed[0], h))
    ranked.sort(key=lambda r: (r[0], r[1], r[2]))
    misses: list[tuple[float, str, RuleOutcome, CarerHousehold]] = []
    if wants_near_misses(near_misses, len(ranked), top):  # scored only when they will be shown
        misses = sorted(
            ((-round(fitmod.score(request, h, cfg, taxonomy), _ROUND), h.household_id, r, h) for r, h in one_rule_off),
            key=lambda m: (m[0], m[1]),
        )
    candidates = tuple(
        explain(request, h, cfg, taxonomy, k, outcomes)
        for k, (_, _, _, h, outcomes) in enumerate(ranked[:top], start=1)
    )
    near = tuple(NearMiss(h.household_id, r.code, r.reason, -s) for s, _, r, h in misses[:NEAREST_MISSES])
    return MatchResult(
        child_id=request.child.child_id,
        referral_id=request.referral.referral_id,
        on=request.on,
        considered=len(households),
        candidates=candidates,
        eligible=len(ranked),
        excluded_counts={c: counts[c] for c in RULE_CODES if counts[c]},
        nearest_misses=near,
        notes=_notes(request),
    )


def _notes(req: MatchRequest) -> tuple[str, ...]:
    notes = []
    if req.referral.wishes.text:
        notes.append(f"The child's wishes and feelings: {req.referral.wishes.text}")
    if not req.referral.needs:
        notes.append("No assessed needs are recorded for this child: needs coverage cannot be judged.")
    if req.siblings:
        notes.append(
            f"To be placed with {len(req.siblings)} sibling{'s' if len(req.siblings) > 1 else ''}: "
            + ", ".join(s.child_id for s in req.siblings)
        )
    if req.referral.referral_id.startswith("default:"):
        notes.append("No open referral: matched on the child's record with default referral settings.")
    return tuple(notes)


# --- the reverse query: children for a household ----------------------------------


@dataclass(frozen=True)
class ChildCandidate:
    """A waiting child a household could care for, with the same explanation as the forward query."""

    child_id: str
    referral_id: str
    urgency: str
    explanation: MatchExplanation


def rank_children(
    *, household: CarerHousehold, requests: Sequence[MatchRequest], cfg: FitConfig, taxonomy: Taxonomy, top: int = 10
) -> tuple[list[ChildCandidate], dict[str, int]]:
    """The waiting children ``household`` could best care for, and why the others were not shown."""
    scored: list[tuple[int, float, str, MatchRequest, list[RuleOutcome]]] = []
    counts: Counter[str] = Counter()
    for req in requests:
        outcomes = evaluate(req, household, cfg)
        failed = [o for o in outcomes if not o.passed]
        for o in failed:
            counts[o.code] += 1
        if not failed:
            score = fitmod.score(req, household, cfg, taxonomy)
            scored.append((tier_of(req, household), -round(score, _ROUND), req.referral.referral_id, req, outcomes))
    scored.sort(key=lambda r: (r[0], r[1], r[2]))
    out = [
        ChildCandidate(
            req.child.child_id,
            req.referral.referral_id,
            req.referral.urgency,
            explain(req, household, cfg, taxonomy, k, outcomes),
        )
        for k, (_, _, _, req, outcomes) in enumerate(scored[:top], start=1)
    ]
    return out, {c: counts[c] for c in RULE_CODES if counts[c]}


# --- building requests from the store ---------------------------------------------


def rank_children_for_household(
    conn: Connection, *, scope: Scope, household_id: str, on: date, cfg: FitConfig, taxonomy: Taxonomy, top: int = 10
) -> tuple[CarerHousehold, list[ChildCandidate], dict[str, int], int]:
    """The reverse query from the store: the household, its best waiting children, exclusions, children considered."""
    household = queries.get_household(conn, scope=scope, household_id=household_id, taxonomy=taxonomy)
    if household is None:
        raise NotFoundError(f"no household with id {household_id!r}")
    requests = waiting_requests(conn, scope=scope, on=on)
    found, excluded = rank_children(household=household, requests=requests, cfg=cfg, taxonomy=taxonomy, top=top)
    return household, found, excluded, len(requests)


def default_referral(child: Child, on: date, recorded: Referral | None = None) -> Referral:
    """A referral from the child's record when none is open (long-term foster care, not urgent).

    ``recorded``: the child's latest referral of any status; what it says of the child alone (who they can live
    alongside, risks, allergies, respiratory needs, an adapted home, a DoLO, the maximum distance) still holds,
    so the child is judged on it rather than on a blank.
    """
    base = Referral(
        referral_id=f"default:{child.child_id}",
        child_id=child.child_id,
        referral_date=on,
        urgency="over_5_days",
        placement_type="long_term",
        needs=NeedsProfile(dict(child.needs), assessed=child.needs_assessed),
    )
    if recorded is None:
        return base
    return replace(
        base,
        live_alongside=recorded.live_alongside,
        risks_to_child=recorded.risks_to_child,
        risks_to_others=recorded.risks_to_others,
        allergies=recorded.allergies,
        respiratory_needs=recorded.respiratory_needs,
        communication_needs=recorded.communication_needs,
        needs_adaptation=recorded.needs_adaptation,
        dolo=recorded.dolo,
        max_distance_miles=recorded.max_distance_miles,
    )


def request_for_child(conn: Connection, *, scope: Scope, child_id: str, on: date) -> MatchRequest:
    """The match request for a child in scope: its open referral (or a default) and siblings referred with it."""
    child = queries.get_child(conn, scope=scope, child_id=child_id, with_sdq=False)
    if child is None:
        raise NotFoundError(f"no child with id {child_id!r}")
    every = queries.referrals_of(conn, child=child)
    mine = [r for r in every if r.status == "open"] if child.ceased is None else []
    if not mine:
        return MatchRequest(default_referral(child, on, every[-1] if every else None), child, on)
    siblings, their_referrals = _siblings_referred(conn, scope, child)
    return MatchRequest(mine[-1], child, on, siblings, their_referrals)


def _siblings_referred(conn: Connection, scope: Scope, child: Child) -> tuple[tuple[Child, ...], tuple[Referral, ...]]:
    """Brothers and sisters to be placed with the child (those of its group who are referred too), each with
    their own latest open referral."""
    if child.sibling_group_id is None or not child.place_with_siblings:
        return (), ()
    latest = _latest_by_child(queries.open_referrals(conn, scope=scope, sibling_group_id=child.sibling_group_id))
    if len(set(latest) - {child.child_id}) == 0:
        return (), ()
    group, _ = queries.list_children(conn, scope=scope, limit=10_000, sibling_group_id=child.sibling_group_id)
    sibs = tuple(
        c for c in sorted(group, key=lambda c: c.child_id) if c.child_id != child.child_id and c.child_id in latest
    )
    return sibs, tuple(latest[c.child_id] for c in sibs)


def _latest_by_child(referrals: Sequence[Referral]) -> dict[str, Referral]:
    """Each child's latest open referral (the list is oldest first)."""
    return {r.child_id: r for r in referrals}


def waiting_requests(conn: Connection, *, scope: Scope, on: date) -> list[MatchRequest]:
    """A request for every open referral in scope made on or before ``on`` for a child under 18 on ``on``
    (siblings referred together are one request each)."""
    children = {c.child_id: c for c in queries.waiting_children(conn, scope=scope)}
    # Waiting on ``on``: an open referral made by then, for a child under 18 then.  The same test for the child
    # referred and for every sibling placed with them (an 18-year-old sibling, or one referred later, is not waiting).
    referrals = [
        r
        for r in queries.open_referrals(conn, scope=scope, children=children)
        if r.child_id in children and r.referral_date <= on and age_on(children[r.child_id].birth_month, on) < ADULT_AGE
    ]
    # The children read with an open referral still open when the referrals were read (a referral closed between
    # the two reads leaves its child out, never half in).
    referred = {r.child_id for r in referrals}
    by_group: dict[str, list[Child]] = {}
    for c in children.values():
        if c.sibling_group_id is not None and c.child_id in referred:
            by_group.setdefault(c.sibling_group_id, []).append(c)
    latest = _latest_by_child(referrals)
    out = []
    for r in referrals:
        child = children[r.child_id]
        sibs: tuple[Child, ...] = ()
        if child.sibling_group_id is not None and child.place_with_siblings:
            sibs = tuple(
                c
                for c in sorted(by_group[child.sibling_group_id], key=lambda c: c.child_id)
                if c.child_id != child.child_id and c.child_id in referred
            )
        out.append(MatchRequest(r, child, on, sibs, tuple(latest[c.child_id] for c in sibs)))
    return out
