"""A child's summary and a child's ranked matches (compared side by side, printed, or as a CSV file), rendered
from the same explanations as the API."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from api.auth import Access, Caller, touch
from api.deps import MatchPage
from api.limits import on_or_as_at
from api.offload import heavy
from api.pools import PoolCache
from api.schemas import NO_CHILD, ChildId, IsoDate
from api.templating import page_context, templates
from matching import codes
from matching.access import Permission
from matching.decisions import decisions_for
from matching.domain.child import Child
from matching.eligibility.request import MatchRequest
from matching.eligibility.rules import rule_label
from matching.fit_config import FACTORS
from matching.ranking import service
from matching.ranking.explanation import MatchExplanation, MatchResult
from matching.ranking.pool import HouseholdPool
from matching.ranking.waiting import URGENCY_LABELS
from matching.referrals.records import ACTIVE
from matching.stepdown.config import load_readiness
from matching.store import queries

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

CHILD_PAGE = Access(Permission.READ_CHILDREN, page=True)


@router.get("/children/{child_id}", response_class=HTMLResponse)
@heavy
def child_page(
    request: Request,
    child_id: ChildId,
    conn: Connection,
    caller: Annotated[Caller, Depends(CHILD_PAGE)],
    on: Annotated[IsoDate | None, Query()] = None,
) -> HTMLResponse:
    """One child: a summary (age, needs, placement), the wishes and feelings and referral on record, the
    brothers and sisters in the caller's remit, the placement history, and links to the matches and step-down."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    child = queries.get_child(conn, scope=caller.scope, child_id=child_id)
    if child is None:
        raise HTTPException(status_code=404, detail=NO_CHILD)
    referrals = queries.referrals_of(conn, child=child)
    open_referrals = queries.open_referrals_of(conn, child=child)
    referral = open_referrals[-1] if open_referrals else (referrals[-1] if referrals else None)
    siblings: list[Child] = []
    if child.sibling_group_id is not None:
        group, _ = queries.list_children(conn, scope=caller.scope, limit=100, sibling_group_id=child.sibling_group_id)
        siblings = [c for c in sorted(group, key=lambda c: c.child_id) if c.child_id != child.child_id]
    history = queries.child_placements(conn, scope=caller.scope, child_id=child.child_id) or []
    caller.touch([child.child_id, *(c.child_id for c in siblings)])
    cache: PoolCache = request.app.state.pools
    needs = {n: d.label for n, d in cache.taxonomy.needs.items()}
    residential = child.place in load_readiness().settings.placements
    return templates.TemplateResponse(
        request,
        "child.html",
        {
            **page_context(request),
            "child": child,
            "age": child.age_on(when),
            "on_date": when,
            "on": when.isoformat(),
            "on_query": f"?on={when.isoformat()}" if on is not None else "",
            "needs": sorted(child.needs.items(), key=lambda kv: (-kv[1], kv[0])),
            "need_labels": needs,
            "referral": referral,
            "referral_open": bool(open_referrals),
            "urgency_label": URGENCY_LABELS,
            "siblings": siblings,
            "history": history,
            "place": codes.place_label,
            "category": codes.CATEGORY_OF_NEED,
            "may_match": caller.principal.may(Permission.MATCH),
            "may_refer": caller.principal.may(Permission.REFER),
            "active_referral": next((r.referral_id for r in reversed(referrals) if r.status in ACTIVE), None),
            "may_step_down": caller.principal.may(Permission.STEP_DOWN) and residential,
            "decisions": decisions_for(conn, [r.referral_id for r in referrals])
            if caller.principal.may(Permission.DECIDE)
            else [],
        },
    )


@dataclass(frozen=True)
class Ranked:
    """A child's ranking as the matches pages show it: the request, the answer and the date asked about."""

    request: MatchRequest
    result: MatchResult
    on_given: bool


def _ranked(request: Request, conn: Connection, caller: Caller, child_id: str, on: date | None, top: int) -> Ranked:
    """The child's ranked candidates (as ``GET /v1/children/{child_id}/matches`` ranks them), audited."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    try:
        req = service.request_for_child(conn, scope=caller.scope, child_id=child_id, on=when)
    except service.NotFoundError as exc:
        raise HTTPException(status_code=404, detail=NO_CHILD) from exc
    touch(request, (c.child_id for c in req.group))
    result = service.rank_households(pool=_pool(request, conn, caller), request=req, top=top)
    return Ranked(req, result, on is not None)


def _pool(request: Request, conn: Connection, caller: Caller) -> HouseholdPool:
    cache: PoolCache = request.app.state.pools
    return cache.get(conn, caller.scope)


def _matches_page(
    request: Request,
    caller: Caller,
    ranked: Ranked,
    top: int,
    errors: Sequence[dict[str, str]] = (),
    chosen: Sequence[str] = (),
) -> HTMLResponse:
    """The ranked matches page (with the compare form's ``errors`` and the households ``chosen`` in it)."""
    cache: PoolCache = request.app.state.pools
    result, req = ranked.result, ranked.request
    on_query = f"?on={result.on.isoformat()}" if ranked.on_given else ""
    return templates.TemplateResponse(
        request,
        "matches.html",
        {
            **page_context(request),
            "result": result,
            "on_given": ranked.on_given,
            "on_query": on_query,
            "top": top,
            "excluded": sorted(result.excluded_counts.items(), key=lambda kv: (-kv[1], kv[0])),
            "factor_names": FACTORS,
            "provider": cache.taxonomy.provider_label,
            "rule": rule_label,
            "may_read_households": caller.principal.may(Permission.READ_HOUSEHOLDS),
            "may_decide": caller.principal.may(Permission.DECIDE),
            "summary": _child_summary(req, cache),
            "errors": list(errors),
            "chosen": set(chosen),
            "csv_query": urlencode({"top": top, **({"on": result.on.isoformat()} if ranked.on_given else {})}),
        },
        status_code=422 if errors else 200,
    )


def _child_summary(req: MatchRequest, cache: PoolCache) -> dict[str, object]:
    """What the matches page says about the child above the candidates (as the child's page says it)."""
    labels = {n: d.label for n, d in cache.taxonomy.needs.items()}
    child, referral = req.child, req.referral
    return {
        "age": child.age_on(req.on),
        "needs_assessed": child.needs_assessed,
        "needs": [(labels.get(n, n), sev) for n, sev in sorted(child.needs.items(), key=lambda kv: (-kv[1], kv[0]))],
        "placement_type": referral.placement_type.replace("_", " "),
        "urgency": URGENCY_LABELS.get(referral.urgency, referral.urgency),
        "siblings": [(s.child_id, s.age_on(req.on)) for s in req.siblings],
    }


@router.get("/children/{child_id}/matches", response_class=HTMLResponse)
@heavy
def child_matches_page(
    request: Request,
    child_id: ChildId,
    conn: Connection,
    caller: MatchPage,
    top: Annotated[int, Query(ge=1, le=service.MAX_TOP)] = 10,
    on: Annotated[IsoDate | None, Query()] = None,
) -> HTMLResponse:
    """A child's ranked matches as a page: the child in brief, then each candidate's factor contributions, needs
    and gaps, with a form to compare two or three of them, a printable layout and the shortlist as CSV."""
    return _matches_page(request, caller, _ranked(request, conn, caller, child_id, on, top), top)


#: How many households the compare page sets side by side.
COMPARE_MIN, COMPARE_MAX = 2, 3


@router.get("/children/{child_id}/matches/compare", response_class=HTMLResponse)
@heavy
def compare_matches_page(
    request: Request,
    child_id: ChildId,
    conn: Connection,
    caller: MatchPage,
    household: Annotated[list[str] | None, Query()] = None,
    top: Annotated[int, Query(ge=1, le=service.MAX_TOP)] = 10,
    on: Annotated[IsoDate | None, Query()] = None,
) -> HTMLResponse:
    """Two or three of the child's eligible candidates side by side: each factor's contribution, the score, the
    needs covered, distance, vacancies, warnings and gaps.  Any other choice: the matches page again, with an
    error summary (422)."""
    ranked = _ranked(request, conn, caller, child_id, on, top)
    chosen = list(dict.fromkeys(h.strip()[:64] for h in (household or ())[:50] if h.strip()))
    found = _explanations(_pool(request, conn, caller), ranked, chosen) if len(chosen) >= COMPARE_MIN else {}
    message = (
        "Select two or three households to compare"
        if len(chosen) < COMPARE_MIN
        else "Select no more than three households to compare"
        if len(chosen) > COMPARE_MAX
        else "Select only households from this child's eligible candidates"
        if len(found) < len(chosen)
        else None
    )
    if message is not None:
        first = ranked.result.candidates[0].household_id if ranked.result.candidates else ""
        errors = [{"field": "compare", "href": f"#compare-{first}" if first else "#candidates", "text": message}]
        return _matches_page(request, caller, ranked, top, errors, chosen)
    cache: PoolCache = request.app.state.pools
    compared = [found[h] for h in chosen]
    return templates.TemplateResponse(
        request,
        "matches_compare.html",
        {
            **page_context(request),
            "result": ranked.result,
            "summary": _child_summary(ranked.request, cache),
            "compared": [c.as_dict() for c in compared],
            "factor_names": FACTORS,
            "provider": cache.taxonomy.provider_label,
            "may_read_households": caller.principal.may(Permission.READ_HOUSEHOLDS),
            "on_query": f"?on={ranked.result.on.isoformat()}" if on is not None else "",
            "back_query": urlencode({"top": top, **({"on": ranked.result.on.isoformat()} if on is not None else {})}),
        },
    )


def _explanations(pool: HouseholdPool, ranked: Ranked, chosen: Sequence[str]) -> dict[str, MatchExplanation]:
    """The explanations of the ``chosen`` households among every eligible candidate (ranked as the API ranks
    them: the first :data:`~matching.ranking.service.MAX_TOP`, then all of them when one chosen is further down)."""
    result = ranked.result
    by_id = {c.household_id: c for c in result.candidates}
    for top in (service.MAX_TOP, result.eligible):
        if all(h in by_id for h in chosen) or len(by_id) >= result.eligible:
            break
        result = service.rank_households(pool=pool, request=ranked.request, top=top, near_misses=False)
        by_id = {c.household_id: c for c in result.candidates}
    return {h: by_id[h] for h in chosen if h in by_id}


#: The start of a spreadsheet formula: a CSV cell starting so is prefixed with ``'`` (CSV injection).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A value as a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


@router.get("/children/{child_id}/matches.csv")
@heavy
def child_matches_csv(
    request: Request,
    child_id: ChildId,
    conn: Connection,
    caller: MatchPage,
    top: Annotated[int, Query(ge=1, le=service.MAX_TOP)] = 10,
    on: Annotated[IsoDate | None, Query()] = None,
) -> Response:
    """The shortlist as a CSV file: one row per candidate in rank order (as ``GET /v1/children/{child_id}/matches``
    ranks them), with the score, each factor's contribution, distance, vacancies and how many warnings."""
    result = _ranked(request, conn, caller, child_id, on, top).result
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(["rank", "household", "score", *FACTORS, "distance_miles", "vacancies", "warnings"])
    for c in result.candidates:
        d = c.as_dict()
        contribution = {f["name"]: f["contribution"] for f in d["factors"]}
        row = [
            d["rank"],
            d["household_id"],
            f"{d['score']:.2f}",
            *(f"{contribution.get(name, 0.0):.2f}" for name in FACTORS),
            "" if d["distance_miles"] is None else f"{d['distance_miles']:.1f}",
            d["vacancies"],
            len(d["warnings"]),
        ]
        out.writerow([csv_cell(v) for v in row])
    name = f"matches-{re.sub(r'[^A-Za-z0-9_.-]', '_', result.child_id)}-{result.on.isoformat()}.csv"
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
