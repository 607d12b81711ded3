"""Ranked matches: carers for a child, carers for an ad-hoc referral, waiting children for a carer."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Connection

from api.auth import Caller
from api.deps import Matcher
from api.limits import invalid, on_or_as_at
from api.match_schemas import CarerMatchesOut, LocationIn, MatchResultOut, ReferralIn
from api.offload import heavy
from api.pools import PoolCache
from api.responses import FastJSONResponse
from api.schemas import BAD_BODY, NO_CHILD, NO_HOUSEHOLD, NOT_FOUND, ChildId, HouseholdId, IsoDate
from matching.domain import Child, Location, NeedsProfile, Referral, WishesAndFeelings
from matching.eligibility.arithmetic import age_on
from matching.eligibility.request import MatchRequest, sibling_referral
from matching.ranking import service
from matching.ranking.render import children_payload
from matching.store import queries

router = APIRouter(tags=["matching"])
# Ranking is CPU-bound Python: each route runs in a worker thread of the app's bounded pool (api.offload), so
# /health and the light routes answer while every worker is busy.  With several cores, run several processes.
Top = Annotated[int, Query(ge=1, le=service.MAX_TOP, description="How many candidates.")]
On = Annotated[IsoDate | None, Query(description="Placement date YYYY-MM-DD (default: today).")]
NearMisses = Annotated[
    bool | None,
    Query(
        description="Households failing one rule only: true always, false never, default when fewer than top are eligible."
    ),
]


def _pools(request: Request) -> PoolCache:
    cache: PoolCache = request.app.state.pools
    return cache


@router.get("/v1/children/{child_id}/matches", response_model=MatchResultOut, responses=NOT_FOUND)
@heavy
def child_matches(
    request: Request,
    child_id: ChildId,
    conn: Connection,
    caller: Matcher,
    top: Top = 10,
    on: On = None,
    excluded: bool = False,
    near_misses: NearMisses = None,
) -> FastJSONResponse:
    """Carer households for a child's open referral (or a default one), ranked and explained."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    try:
        req = service.request_for_child(conn, scope=caller.scope, child_id=child_id, on=when)
    except service.NotFoundError as exc:
        raise HTTPException(status_code=404, detail=NO_CHILD) from exc
    caller.touch(c.child_id for c in req.group)
    pool = _pools(request).get(conn, caller.scope)
    # Returned as JSON directly: the shape is MatchResultOut (documented in the route, checked by the tests);
    # skipping a second validation keeps the hot path fast.
    result = service.rank_households(pool=pool, request=req, top=top, with_excluded=excluded, near_misses=near_misses)
    return FastJSONResponse(result.as_dict())


@router.post("/v1/matches", response_model=MatchResultOut, responses=BAD_BODY)
@heavy
def adhoc_matches(
    request: Request,
    body: ReferralIn,
    conn: Connection,
    caller: Matcher,
    top: Top = 10,
    excluded: bool = False,
    near_misses: NearMisses = None,
) -> FastJSONResponse:
    """Carer households for an ad-hoc referral (Placements Standard v2 fields), ranked and explained."""
    taxonomy = _pools(request).taxonomy
    on = on_or_as_at(request, conn, body.placement_date, ("body", "placement_date"))
    errors = _check_referral(body, on, set(taxonomy.need_ids))
    if errors:
        raise RequestValidationError(errors)
    _in_remit(conn, caller, body)
    pool = _pools(request).get(conn, caller.scope)
    result = service.rank_households(
        pool=pool, request=_to_request(body, on), top=top, with_excluded=excluded, near_misses=near_misses
    )
    return FastJSONResponse(result.as_dict())


@router.get("/v1/carers/{household_id}/matches", response_model=CarerMatchesOut, responses=NOT_FOUND)
@heavy
def carer_matches(
    request: Request, household_id: HouseholdId, conn: Connection, caller: Matcher, top: Top = 10, on: On = None
) -> dict[str, Any]:
    """The waiting children a household with a vacancy could best care for."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    cache = _pools(request)
    try:
        household, found, excl, considered = service.rank_children_for_household(
            conn,
            scope=caller.scope,
            household_id=household_id,
            on=when,
            cfg=cache.cfg,
            taxonomy=cache.taxonomy,
            top=top,
        )
    except service.NotFoundError as exc:
        raise HTTPException(status_code=404, detail=NO_HOUSEHOLD) from exc
    caller.touch(c.child_id for c in found)
    return children_payload(household, found, excl, considered, when)


def _in_remit(conn: Connection, caller: Caller, body: ReferralIn) -> None:
    """422 for an authority the store does not know, 403 for one outside the caller's remit; 422 for a child id
    that is not a child in the remit (unknown or outside it alike, so the answer never tells whether an id exists
    elsewhere; an ad-hoc referral for a child not yet recorded leaves child_id out); the children named are
    audited."""
    if not queries.known_la_codes(conn, [body.child.la_code]):
        raise invalid(("body", "child", "la_code"), "no local authority with this code in the store")
    if body.child.la_code not in caller.principal.remit.la_codes:
        raise HTTPException(status_code=403, detail="child.la_code: the authority is not in your remit")
    named = {
        i: path
        for i, path in (
            (body.child.child_id, "child.child_id"),
            *((s.child_id, f"siblings_to_place_with.{k}.child_id") for k, s in enumerate(body.siblings_to_place_with)),
        )
        if i is not None
    }
    if not named:
        return
    mine = queries.child_ids_in_scope(conn, scope=caller.scope, child_ids=list(named))
    if unknown := sorted(named[i] for i in named if i not in mine):
        raise invalid(
            ("body", *(int(p) if p.isdigit() else p for p in unknown[0].split("."))),
            "no child with this id in your remit (leave child_id out for a child not yet recorded)",
        )
    caller.touch(mine)


def _month(text: str) -> date:
    y, m = text.split("-")
    return date(int(y), int(m), 1)


def _check_referral(body: ReferralIn, on: date, needs: set[str]) -> list[dict[str, Any]]:
    """Cross-field rules, each reported at its field path."""
    errors: list[dict[str, Any]] = []

    def err(loc: tuple[str | int, ...], msg: str) -> None:
        errors.append({"type": "value_error", "loc": ("body", *loc), "msg": msg})  # never the value sent

    born = _month(body.child.birth_month)
    age = age_on(born, on)
    if born > on or not 0 <= age <= 17:
        err(("child", "birth_month"), f"the child must be aged 0-17 on the placement date {on.isoformat()}")
    for key, sev in body.needs.items():
        if key not in needs:
            err(("needs", key), "not a need domain of the taxonomy in force")
        elif not 0 <= sev <= 3:
            err(("needs", key), "severity must be 0, 1, 2 or 3")
    seen: set[str] = set()
    for i, sib in enumerate(body.siblings_to_place_with):
        if sib.child_id is not None and sib.child_id == body.child.child_id:
            err(("siblings_to_place_with", i, "child_id"), "a sibling group cannot contain the child itself")
        if sib.child_id is not None and sib.child_id in seen:
            err(("siblings_to_place_with", i, "child_id"), "this sibling is listed twice")
        seen.add(sib.child_id or "")
        sb = _month(sib.birth_month)
        if sb > on or not 0 <= age_on(sb, on) <= 17:
            err(("siblings_to_place_with", i, "birth_month"), "a sibling must be aged 0-17 on the placement date")
        for key, sev in sib.needs.items():
            if key not in needs or not 0 <= sev <= 3:
                err(("siblings_to_place_with", i, "needs", key), "a taxonomy need with severity 0-3")
    if "supported_accommodation" in body.suitable_for and age < 16:
        err(("suitable_for",), "supported accommodation is for 16-17 year olds only")
    if body.emergency_outside_terms and body.placement_type != "emergency":
        err(("emergency_outside_terms",), "only an emergency placement may go outside terms of approval")
    for i, sib in enumerate(body.siblings_to_place_with):
        if sib.emergency_outside_terms and body.placement_type != "emergency":
            err(
                ("siblings_to_place_with", i, "emergency_outside_terms"),
                "only an emergency placement may go outside terms of approval",
            )
    return errors


def _child(child_id: str, la_code: str, born: date, sex: str, on: date, **kw: Any) -> Child:
    # An ad-hoc child has no SSDA903 episode: legal status, need category and placement are not known.
    return Child(
        child_id=child_id,
        la_code=la_code,
        birth_month=born,
        sex=sex,
        legal_status="",
        category_of_need="",
        care_started=on,
        place="",
        placement_start=on,
        **kw,
    )


def _loc(p: LocationIn | None) -> Location | None:
    return None if p is None else Location(p.easting, p.northing)


def _to_request(body: ReferralIn, on: date) -> MatchRequest:
    c = body.child
    needs = {k: v for k, v in body.needs.items() if v > 0}
    child = _child(
        c.child_id or "adhoc",
        c.la_code,
        _month(c.birth_month),
        c.sex,
        on,
        ethnicity=c.ethnicity,
        religion=c.religion,
        first_languages=tuple(c.first_languages),
        disability=c.disability,
        home=_loc(c.home),
        school=_loc(c.school),
        needs=needs,
    )
    # A sibling shares the child's authority, identity and home; what differs is given per sibling.
    siblings = tuple(
        replace(
            child,
            child_id=s.child_id or f"adhoc-sibling-{i + 1}",
            birth_month=_month(s.birth_month),
            sex=s.sex,
            disability=s.disability,
            school=None,
            needs={k: v for k, v in s.needs.items() if v > 0},
        )
        for i, s in enumerate(body.siblings_to_place_with)
    )
    w = body.wishes
    referral = Referral(
        referral_id="adhoc",
        child_id=child.child_id,
        referral_date=on,
        urgency=body.needed_by,
        placement_type=body.placement_type,
        needs=NeedsProfile(needs),
        expected_duration_weeks=body.expected_duration_weeks,
        expected_duration_days=body.expected_duration_days,
        live_alongside=body.live_alongside,
        risks_to_child=tuple(body.risks_to_child),
        risks_to_others=tuple(body.risks_to_others),
        allergies=tuple(body.allergies),
        respiratory_needs=body.respiratory_needs,
        communication_needs=tuple(body.communication_needs),
        needs_adaptation=body.needs_adaptation,
        dolo=body.dolo,
        suitable_for=tuple(body.suitable_for),
        cultural_needs=body.cultural_needs,
        wishes=WishesAndFeelings(w.text, w.near_school, w.near_family, w.same_religion, w.same_language, w.pets),
        emergency_outside_terms=body.emergency_outside_terms,
        max_distance_miles=body.max_distance_miles,
    )
    sibling_referrals = tuple(
        replace(
            sibling_referral(referral, sib),
            live_alongside=s.live_alongside,
            risks_to_child=tuple(s.risks_to_child),
            risks_to_others=tuple(s.risks_to_others),
            allergies=tuple(s.allergies),
            respiratory_needs=s.respiratory_needs,
            needs_adaptation=s.needs_adaptation,
            dolo=s.dolo,
            emergency_outside_terms=s.emergency_outside_terms,
            max_distance_miles=s.max_distance_miles,
        )
        for s, sib in zip(body.siblings_to_place_with, siblings, strict=True)
    )
    return MatchRequest(referral, child, on, siblings, sibling_referrals)
