"""Step-down readiness of every child in a children's home: stage, blockers, next actions, families, cost.

Stages, in order: **not yet ready**, **building readiness**, **ready to start matching**, **in
transition** (ready, and a step-down referral is open), **stepped down** (left residential care for
a family within the last 52 weeks). A care plan that is not for family life, or a child who says
they want to stay, is always the first blocker shown, and such a child is never "ready".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection

from matching import codes
from matching.domain import CarerHousehold, Child, Referral, Scope
from matching.eligibility.request import MatchRequest
from matching.fit_config import FitConfig, load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.ranking.service import default_referral, rank_households
from matching.stability.scorer import StabilityScorer
from matching.stepdown.config import CostConfig, ReadinessConfig, load_costs, load_readiness
from matching.stepdown.indicators import IndicatorResult, Records, evaluate
from matching.stepdown.proposal import CohortProposal, offers_per_family, propose
from matching.store import queries
from matching.taxonomy import Taxonomy, load_taxonomy
from matching.wording import counted

STAGES = ("not_yet_ready", "building_readiness", "ready_to_start_matching", "in_transition", "stepped_down")
STAGE_LABELS = {
    "not_yet_ready": "not yet ready",
    "building_readiness": "building readiness",
    "ready_to_start_matching": "ready to start matching",
    "in_transition": "in transition",
    "stepped_down": "stepped down",
}
FAMILY_PLACES = codes.PLACE_FOSTER | {"P1"}
#: The support a step-down placement plan should hold (Birmingham Step Down, No Wrong Door).
STEP_DOWN_PACKAGE = ("therapeutic_support", "out_of_hours", "enhanced_allowance", "respite")


@dataclass(frozen=True)
class Candidate:
    """A family option for a ready child: a ranked household, a kin household, or going home."""

    kind: str  # "foster", "kin" or "return_home"
    household_id: str | None
    agency_type: str | None
    score: float | None
    distance_miles: float | None
    weekly_cost: float
    plan: tuple[str, ...]  # what the placement plan would need: training, support
    p_lasting: float | None = None  # the stability estimate, when a model is loaded
    p_success: float | None = None  # the step-down estimate (still there at 52 weeks), when a model is loaded
    #: How many other ready children of the cohort this family is offered to (None for going home).
    offered_to_others: int | None = None
    vacancies: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "kind": self.kind,
            "household_id": self.household_id,
            "agency_type": self.agency_type,
            "score": None if self.score is None else round(self.score, 1),
            "distance_miles": None if self.distance_miles is None else round(self.distance_miles, 1),
            "weekly_cost": round(self.weekly_cost),
            "plan": list(self.plan),
            "p_lasting": None if self.p_lasting is None else round(self.p_lasting, 3),
            "p_success": None if self.p_success is None else round(self.p_success, 3),
            "offered_to_others": self.offered_to_others,
            "vacancies": self.vacancies,
        }


@dataclass(frozen=True)
class StepDownAssessment:
    """One child's readiness, with the evidence, what stands in the way, what to do, with whom, at what cost."""

    child_id: str
    la_code: str
    place: str
    stage: str
    score: float
    indicators: tuple[IndicatorResult, ...]
    blockers: tuple[str, ...]
    actions: tuple[str, ...]
    wishes: str
    candidates: tuple[Candidate, ...]
    weekly_cost_now: float
    weekly_cost_candidate: float | None
    note: str | None = None

    @property
    def annual_saving(self) -> float | None:
        """Cost now minus the first candidate's cost, over a year."""
        if self.weekly_cost_candidate is None:
            return None
        return (self.weekly_cost_now - self.weekly_cost_candidate) * 52

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (the issue's keys first)."""
        return {
            "child_id": self.child_id,
            "stage": self.stage,
            "indicators": [i.as_dict() for i in self.indicators],
            "blockers": list(self.blockers),
            "actions": list(self.actions),
            "candidates": [c.as_dict() for c in self.candidates],
            "weekly_cost_now": round(self.weekly_cost_now),
            "weekly_cost_candidate": None if self.weekly_cost_candidate is None else round(self.weekly_cost_candidate),
            "annual_saving": None if self.annual_saving is None else round(self.annual_saving),
            "la_code": self.la_code,
            "place": self.place,
            "score": round(self.score, 1),
            "wishes": self.wishes,
            "note": self.note,
        }


@dataclass
class Cohort:
    """Every assessed child on one date."""

    assessed_on: date
    children: list[StepDownAssessment] = field(default_factory=list)
    model_note: str = "no step-down model loaded: readiness is rules-only"
    #: Who could go where across the cohort within every family's vacancies (when candidates were found).
    proposal: CohortProposal | None = None

    def counts(self) -> dict[str, int]:
        """Children at each stage (every stage listed)."""
        out = dict.fromkeys(STAGES, 0)
        for a in self.children:
            out[a.stage] += 1
        return out

    def costs(self) -> dict[str, float]:
        """Weekly cost now and if every ready child moved to their first option, and the annual difference."""
        now = sum(a.weekly_cost_now for a in self.children)
        ready = [a for a in self.children if a.weekly_cost_candidate is not None]
        after = now - sum(a.weekly_cost_now - (a.weekly_cost_candidate or 0) for a in ready)
        return {
            "weekly_now": round(now),
            "weekly_if_ready_children_move": round(after),
            "annual_difference": round((now - after) * 52),
            "children_with_a_family_option": len(ready),
        }


# --- stages ----------------------------------------------------------------------------


def stage_of(indicators: list[IndicatorResult], cfg: ReadinessConfig, step_down_referral: bool) -> tuple[str, float]:
    """The stage and the readiness score (0-100) from the indicators."""
    score = sum(i.weight for i in indicators if i.status == "met")
    by = {i.name: i for i in indicators}
    hard = by["care_plan"].status != "met" or by["wishes"].value.endswith("wants to stay where they are")
    required_ok = all(i.status == "met" for i in indicators if i.required)
    s = cfg.settings
    if not hard and required_ok and score >= s.ready_score:
        return ("in_transition" if step_down_referral else "ready_to_start_matching"), score
    if score >= s.building_score:
        return "building_readiness", score
    return "not_yet_ready", score


def blockers_and_actions(indicators: list[IndicatorResult], stale: str | None) -> tuple[list[str], list[str]]:
    """What stands in the way (the care plan and the child's own view first), and the next steps."""
    by = {i.name: i for i in indicators}
    blockers: list[str] = []
    actions: list[str] = []
    if by["care_plan"].status != "met":
        blockers.append(f"Care plan: {by['care_plan'].value} (not family life)")
    if by["wishes"].value.endswith("wants to stay where they are"):
        blockers.append("The child says they want to stay where they are")
    if stale:
        blockers.append(f"Records out of date: {stale}")
    order = sorted(indicators, key=lambda i: (i.name not in ("care_plan", "wishes"), not i.required))
    for i in order:
        if i.status == "met":
            continue
        if i.name not in ("care_plan", "wishes") and (i.required or i.status == "not_met"):
            blockers.append(f"{i.label}: {i.value}" if i.status == "not_met" else f"{i.label}: not known")
        if i.action:
            actions.append(i.action)
    if stale:
        actions.insert(0, "Ask the home for its monthly progress records")
    return blockers, list(dict.fromkeys(actions))


# --- the cohort ----------------------------------------------------------------------------


def _records_by_child(rows: list[dict[str, Any]]) -> dict[str, Records]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        grouped[r["child_id"]].append(r)
    return {cid: Records.from_rows(rs) for cid, rs in grouped.items()}


def default_assessment_date(conn: Connection, *, scope: Scope, today: date | None = None) -> date:
    """The store's "as at" date (:func:`matching.store.queries.as_at`), as for every other service; the monthly
    records read on it are those due by then (``returns_lag_months``)."""
    del scope  # one date for the whole store, whoever asks
    return queries.as_at(conn, today)


def _suited(h: CarerHousehold, cfg: ReadinessConfig, on: date) -> bool:
    if "step_down" in h.terms.placement_types:
        return True
    return any(t.course in cfg.step_down_courses and t.current_on(on) for t in h.training)


def assess_cohort(
    conn: Connection,
    *,
    scope: Scope,
    on: date | None = None,
    child_id: str | None = None,
    readiness: ReadinessConfig | None = None,
    costs: CostConfig | None = None,
    fit: FitConfig | None = None,
    taxonomy: Taxonomy | None = None,
    with_candidates: bool = True,
    candidate_pool: StepDownPool | None = None,
) -> Cohort:
    """Assess every child in scope in a residential setting (or one child), and those recently stepped down."""
    cfg = readiness or load_readiness()
    cost = costs or load_costs()
    fit = fit or load_fit_config()
    taxonomy = taxonomy or load_taxonomy()
    places = cfg.settings.placements
    if child_id is not None:
        one = queries.get_child(conn, scope=scope, child_id=child_id)
        children = [one] if one is not None else []
    else:
        children = queries.children_placed_in(conn, scope=scope, places=places)
    rows = queries.progress_rows(conn, scope=scope, child_ids=[c.child_id for c in children])
    when = on or default_assessment_date(conn, scope=scope)
    records = _records_by_child(rows)
    referrals = queries.open_referral_types(conn, scope=scope, child_ids=[c.child_id for c in children])
    cohort = Cohort(when)
    if candidate_pool is not None:  # the learned estimate's status, whether or not any child is ready for it
        cohort.model_note = candidate_pool.note
    residential = [c for c in children if c.place in places]
    ready: list[tuple[int, Child]] = []
    for c in residential:
        inds, stale = evaluate(c, records.get(c.child_id), when, cfg)
        stage, score = stage_of(inds, cfg, "step_down" in referrals.get(c.child_id, set()))
        blockers, actions = blockers_and_actions(inds, stale)
        wishes = next(i.value for i in inds if i.name == "wishes")
        cohort.children.append(
            StepDownAssessment(
                child_id=c.child_id,
                la_code=c.la_code,
                place=c.place,
                stage=stage,
                score=score,
                indicators=tuple(inds),
                blockers=tuple(blockers),
                actions=tuple(actions),
                wishes=wishes,
                candidates=(),
                weekly_cost_now=cost.residential(c.place),
                weekly_cost_candidate=None,
                note=stale,
            )
        )
        if stage in ("ready_to_start_matching", "in_transition"):
            ready.append((len(cohort.children) - 1, c))
    if with_candidates and ready:
        pool = candidate_pool or step_down_pool(
            conn, scope=scope, on=when, readiness=cfg, fit=fit, taxonomy=taxonomy,
            for_children=[c.child_id for _, c in ready],
        )  # fmt: skip
        recorded = queries.latest_referrals(conn, scope=scope, child_ids=[c.child_id for _, c in ready])
        _add_candidates(cohort, ready, records, pool, cfg, cost, recorded)
    _add_stepped_down(conn, scope, cohort, children if child_id else None, cfg, cost)
    return cohort


def step_down_pool(
    conn: Connection,
    *,
    scope: Scope,
    on: date,
    readiness: ReadinessConfig | None = None,
    fit: FitConfig | None = None,
    taxonomy: Taxonomy | None = None,
    with_stability: bool = True,
    for_children: Sequence[str] | None = None,
) -> StepDownPool:
    """The households a step-down can go to: approved for step-down or trained for therapeutic care on ``on``,
    and connected-person (kin) carers (of ``for_children``, or of anyone); with the stability model attached
    when one is loaded (knowing the records of ``for_children``, or of every child in scope)."""
    cfg = readiness or load_readiness()
    fit = fit or load_fit_config()
    taxonomy = taxonomy or load_taxonomy()
    household_scope = Scope(agency_codes=scope.agency_codes)
    households = queries.households_suited_to(
        conn, scope=household_scope, placement_type="step_down", courses=cfg.step_down_courses,
        taxonomy=taxonomy, any_kinship=for_children is None, connected_to=for_children or (), with_vacancy=True,
    )  # fmt: skip
    pool = HouseholdPool([h for h in households if h.is_kinship or _suited(h, cfg, on)], taxonomy, fit)
    success = None
    note = "no step-down model loaded: readiness is rules-only"
    if with_stability:
        from matching.stability.scorer import load_scorer

        scorer, why = load_scorer(conn, scope=scope, taxonomy=taxonomy, child_ids=for_children)
        if scorer is not None:
            pool.with_stability(scorer)
        else:
            pool.model_note = f"rules only: {why}"
        success, why = load_scorer(
            conn, scope=scope, taxonomy=taxonomy, child_ids=for_children, kind="step_down", records_from=scorer
        )
        # Shown, or withheld by the gate (matching.stability.gate) or absent, in the gate's and loader's own words.
        note = why if success is not None else f"readiness is rules-only: {why}"
    return StepDownPool(pool, success, note)


@dataclass(frozen=True)
class StepDownPool:
    """Households a step-down can go to, and the learned step-down estimate when one is loaded."""

    pool: HouseholdPool
    success: StabilityScorer | None
    note: str


def _add_candidates(
    cohort: Cohort,
    ready: list[tuple[int, Child]],
    records: dict[str, Records],
    bundle: StepDownPool,
    cfg: ReadinessConfig,
    cost: CostConfig,
    recorded: dict[str, Referral],
) -> None:
    """Families for the ready children: step-down carers ranked (kin first), going home flagged; costs;
    the learned step-down estimate beside each family when a model is loaded.  Each child is judged on what
    their latest referral (``recorded``) says of them: who they can live alongside, risks, allergies..."""
    on = cohort.assessed_on
    pool = bundle.pool
    cohort.model_note = bundle.note
    requests: list[MatchRequest] = []
    going_home: list[str] = []
    kin_of: dict[str, set[str]] = {}
    for pos, child in ready:
        a = cohort.children[pos]
        options: list[Candidate] = []
        req = MatchRequest(default_referral(child, on, recorded.get(child.child_id)), child, on)
        requests.append(req)
        result = rank_households(pool=pool, request=req, top=cfg.candidates, near_misses=False)
        kin_of[child.child_id] = {m.household_id for m in result.candidates if m.tier == 1}
        success: dict[str, float] = {}
        if bundle.success is not None and result.candidates:
            idx = np.array([pool.index[m.household_id] for m in result.candidates])
            p_fail = bundle.success.p_unplanned(pool, req, idx)
            success = {m.household_id: 1.0 - float(p) for m, p in zip(result.candidates, p_fail, strict=True)}
        for m in result.candidates:
            h = pool.households[pool.index[m.household_id]]
            kin = m.tier == 1
            missing = [] if kin else [f"Add {p.replace('_', ' ')} to the support package"
                                      for p in STEP_DOWN_PACKAGE if p not in h.support_package]  # fmt: skip
            plan = tuple(dict.fromkeys([g.action for g in m.gaps] + missing))
            weekly = cost.flat("kin") if kin else cost.foster(m.agency_type) + cost.flat("step_down_support")
            p_lasting = None if m.stability is None else m.stability.p_lasting
            options.append(
                Candidate(
                    "kin" if kin else "foster",
                    m.household_id,
                    m.agency_type,
                    m.score,
                    m.distance_miles,
                    weekly,
                    plan,
                    p_lasting,
                    success.get(m.household_id),
                    vacancies=h.vacancies,
                )
            )
        rec = records.get(child.child_id)
        wants_home = rec is not None and "wants_to_return_home" in set(rec.wishes)
        if child.care_plan_goal == "return_home":
            going_home.append(child.child_id)
        if child.care_plan_goal == "return_home" or wants_home:
            options.insert(0, Candidate("return_home", None, None, None, None, cost.flat("return_home"),
                                        ("Assess the family's capacity; agree a return-home support plan",)))  # fmt: skip
        extra = [f"For the identified carers: {p}" for p in options[0].plan[:2]] if options else []
        if not options:
            extra = ["No suitable step-down family in the data: ask the fostering service and IFAs in the region"]
        cohort.children[pos] = StepDownAssessment(
            **{
                **a.__dict__,
                "candidates": tuple(options),
                "weekly_cost_candidate": options[0].weekly_cost if options else None,
                "actions": tuple(dict.fromkeys([*a.actions, *extra])),
            }
        )
    _add_offers(cohort, [pos for pos, _ in ready])
    cohort.proposal = propose(pool, requests, going_home=going_home, kin=kin_of, top_k=cfg.candidates)


def _add_offers(cohort: Cohort, positions: list[int]) -> None:
    """Beside each family, how many other ready children of the cohort it is offered to."""
    offered = offers_per_family(
        {
            cohort.children[p].child_id: [c.household_id for c in cohort.children[p].candidates if c.household_id]
            for p in positions
        }
    )
    for p in positions:
        a = cohort.children[p]
        options = tuple(
            c if c.household_id is None else replace(c, offered_to_others=offered[c.household_id] - 1)
            for c in a.candidates
        )
        cohort.children[p] = replace(a, candidates=options)


def _add_stepped_down(
    conn: Connection,
    scope: Scope,
    cohort: Cohort,
    only: list[Child] | None,
    cfg: ReadinessConfig,
    cost: CostConfig,
) -> None:
    """Children who left a residential placement for a family within the window: "stepped down"."""
    window = timedelta(weeks=cfg.settings.stepped_down_weeks)
    since = cohort.assessed_on - window if cohort.assessed_on - date.min > window else date.min
    left = queries.left_places_since(
        conn, scope=scope, places=cfg.settings.placements, since=since,
        child_ids=None if only is None else [c.child_id for c in only],
    )  # fmt: skip
    if not left:
        return
    for c in queries.children_by_ids(conn, scope=scope, child_ids=left):
        if c.ceased is not None or c.place not in FAMILY_PLACES or c.placement_start < left[c.child_id]:
            continue
        if c.placement_start > cohort.assessed_on or left[c.child_id] > cohort.assessed_on:
            continue  # stepped down after the date asked about: not yet, on that date
        weeks = (cohort.assessed_on - c.placement_start).days // 7
        now = cost.flat("return_home") if c.place == "P1" else cost.foster("la") + cost.flat("step_down_support")
        cohort.children.append(
            StepDownAssessment(
                child_id=c.child_id,
                la_code=c.la_code,
                place=c.place,
                stage="stepped_down",
                score=100.0,
                indicators=(),
                blockers=(),
                wishes="",
                candidates=(),
                actions=(
                    f"{counted(weeks, 'week')} in the family placement: keep the support package to 52 weeks "
                    "(graduation)",
                ),
                weekly_cost_now=now,
                weekly_cost_candidate=None,
                note=f"left {left[c.child_id]} for {c.place}",
            )
        )
