"""Web pages in the GOV.UK Design System (``api/templates``): signing in and out, the home page, the waiting
children (searched, filtered and paginated as ``GET /v1/referrals`` lists them), a child's summary, and a child's
ranked matches rendered from the same explanations as the API, and a carer household (terms, who lives
there, training, track record and the waiting children it could care for).

Every page but the sign-in page needs a session (signing in, with a password here or by single sign-on in
:mod:`api.routes.sign_on`, sets its cookie: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` except over plain HTTP on
loopback in development); without one a page redirects to sign in.
Every form posts a CSRF token: the sign-in form one bound to a cookie of its own (there is no session yet),
the others the session's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from api.auth import Access, Caller, secure_request, session_cookie_name, touch
from api.deps import MatchPage
from api.limits import as_at, on_or_as_at
from api.offload import heavy
from api.pools import PoolCache
from api.schemas import NO_CHILD, NO_HOUSEHOLD, ChildId, HouseholdId, IsoDate
from api.templating import page_context, templates
from matching import codes
from matching.access import Permission
from matching.accounts.oidc_login import PagesSignOn
from matching.accounts.sessions import DEFAULT_POLICY, create_session, end_session, verify_csrf
from matching.accounts.signin import Refusal, sign_in
from matching.domain.child import Child
from matching.eligibility.arithmetic import age_on
from matching.eligibility.rules import rule_label
from matching.fit_config import FACTORS
from matching.ranking import service
from matching.ranking.waiting import URGENCY_LABELS, WaitingEntry, WaitingFilter, waiting_list
from matching.stepdown.config import load_readiness
from matching.store import queries

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)
SIGNED_IN = Access(None, page=True, audit=False)
MAX_FORM_BYTES = 8192
DEFAULT_NEXT = "/pages/home"
#: The sign-in form's own cookie: a random value the form's CSRF token is bound to.
SIGN_IN_COOKIE = "pm_sign_in"
SECURE_SIGN_IN_COOKIE = "__Host-pm_sign_in"


def safe_next(value: str | None) -> str:
    """A path on this site to go to after signing in (anything else: the home page)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or any(c < " " for c in value):
        return DEFAULT_NEXT
    return value[:2000]


def _form_token(request: Request, nonce: str) -> str:
    secret = request.app.state.settings.signing_secret.encode("utf-8")
    return hmac.new(secret, b"sign-in form v1:" + nonce.encode("utf-8"), hashlib.sha256).hexdigest()


def _sign_in_cookie(request: Request) -> str:
    return SECURE_SIGN_IN_COOKIE if secure_request(request, request.app.state.settings) else SIGN_IN_COOKIE


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form (at most :data:`MAX_FORM_BYTES`); the first value of each field."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HTTPException(status_code=415, detail="send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status_code=413, detail="the form is too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=10)
    return {k: v[0] for k, v in fields.items()}


def sign_in_page(request: Request, next_path: str, message: str | None = None, status: int = 200) -> Response:
    """The sign-in page (the password form and the single sign-on button, as enabled), with ``message``."""
    nonce = secrets.token_urlsafe(32)
    password = "password" in request.app.state.settings.methods
    sign_on: PagesSignOn | None = request.app.state.auth.pages_sign_on
    response = templates.TemplateResponse(
        request,
        "sign_in.html",
        {
            "who": None,
            "message": message,
            "form_token": _form_token(request, nonce),
            "next": next_path,
            "password": password,
            "sso": sign_on.provider_name if sign_on is not None else None,
            "sso_href": "/pages/sign-in/oidc?" + urlencode({"next": next_path}),
        },
        status_code=status,
    )
    secure = secure_request(request, request.app.state.settings)
    response.set_cookie(
        _sign_in_cookie(request), nonce, max_age=3600, path="/", secure=secure, httponly=True, samesite="strict"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    """The sign-in page: the form (username and password) and the single sign-on button, as enabled."""
    return sign_in_page(request, safe_next(next))


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in_submit(request: Request) -> Response:
    """Check the form's CSRF token, then the username and password (throttled); on success, a session."""
    form = await _form(request)
    next_path = safe_next(form.get("next"))
    if "password" not in request.app.state.settings.methods:
        raise HTTPException(status_code=404, detail="signing in with a password is not enabled")
    nonce = request.cookies.get(_sign_in_cookie(request), "")
    submitted = form.get("csrf_token", "")
    if not nonce or not hmac.compare_digest(_form_token(request, nonce), submitted):
        return sign_in_page(request, next_path, "The sign-in form had expired. Please try again.", 400)
    username, password = form.get("username", "")[:200], form.get("password", "")[:1024]
    address = request.client.host if request.client else "unknown"
    engine = request.app.state.engine

    def attempt() -> tuple[str, str] | Refusal:
        with engine.begin() as conn:
            found = sign_in(conn, username, password, address)
            if isinstance(found, Refusal):
                return found
            new = create_session(conn, found)
            return new.session_id, new.csrf_token

    outcome = await run_in_threadpool(attempt)  # argon2 takes tens of milliseconds: off the event loop
    if isinstance(outcome, Refusal):
        status = 429 if outcome is Refusal.THROTTLED else 401
        return sign_in_page(request, next_path, outcome.message, status)
    return signed_in(request, next_path, outcome[0])


def signed_in(request: Request, next_path: str, session_id: str) -> Response:
    """The answer to a successful sign-in (by password or single sign-on): the session's cookie (``HttpOnly``,
    ``SameSite=Lax``, ``Secure`` but over plain HTTP on loopback in development) and a redirect to ``next_path``."""
    response = RedirectResponse(safe_next(next_path), status_code=303)
    secure = secure_request(request, request.app.state.settings)
    response.set_cookie(
        session_cookie_name(request),
        session_id,
        max_age=DEFAULT_POLICY.cookie_max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(_sign_in_cookie(request), path="/", secure=secure, httponly=True, samesite="strict")
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/sign-out", response_class=HTMLResponse)
async def sign_out(request: Request) -> Response:
    """End the session (the form carries its CSRF token) and go back to the sign-in page."""
    form = await _form(request)
    cookie = session_cookie_name(request)
    session_id = request.cookies.get(cookie, "")
    if not session_id or not verify_csrf(session_id, form.get("csrf_token")):
        raise HTTPException(status_code=403, detail="sign out from the page's own form")
    address = request.client.host if request.client else "unknown"
    engine = request.app.state.engine

    def end() -> None:
        with engine.begin() as conn:
            end_session(conn, session_id, address=address)

    await run_in_threadpool(end)
    response = RedirectResponse("/pages/sign-in", status_code=303)
    secure = secure_request(request, request.app.state.settings)
    response.delete_cookie(cookie, path="/", secure=secure, httponly=True, samesite="lax")
    return response


@router.get("/home", response_class=HTMLResponse)
@heavy
def home(request: Request, conn: Connection, caller: Annotated[Caller, Depends(SIGNED_IN)]) -> HTMLResponse:
    """Who is signed in, their remit, what needs their attention (for those who match: the children waiting,
    by urgency, as counts) and the pages their role may use."""
    links = []
    attention = []
    if caller.principal.may(Permission.MATCH):
        links.append({"href": "/pages/waiting", "label": "Children waiting for a placement"})
        waiting_now = waiting_list(conn, scope=caller.scope, on=as_at(request, conn))
        for code, text in (("today", "needed today"), ("within_5_days", "needed within 5 days")):
            n = sum(1 for e in waiting_now if e.request.referral.urgency == code)
            if n:
                attention.append({"href": f"/pages/waiting?urgency={code}", "count": n, "text": text})
        attention.append({"href": "/pages/waiting", "count": len(waiting_now), "text": "waiting in all"})
    if caller.principal.may(Permission.STEP_DOWN):
        links.append({"href": "/pages/step-down", "label": "Step-down readiness of children in children's homes"})
    links.append({"href": "/docs", "label": "The API (needs a bearer token)"})
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            **page_context(request),
            "links": links,
            "attention": attention,
            "description": caller.principal.role.description,
        },
    )


#: The waiting list's page size, and the filters' choices: age bands and the least time waited.
PAGE_SIZE = 25
AGE_BANDS: dict[str, tuple[int, int, str]] = {
    "0-4": (0, 4, "0 to 4"),
    "5-10": (5, 10, "5 to 10"),
    "11-15": (11, 15, "11 to 15"),
    "16-17": (16, 17, "16 or 17"),
}
WAITED: dict[str, tuple[int, str]] = {
    "7": (7, "at least a week"),
    "28": (28, "at least 4 weeks"),
    "91": (91, "at least 13 weeks"),
}
_CHILD_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class WaitingForm:
    """The waiting list's filters as sent (every field text, "" when not chosen), and what is wrong with them."""

    child_id: str = ""
    la_code: str = ""
    urgency: str = ""
    age: str = ""
    need: str = ""
    placement_type: str = ""
    waited: str = ""

    def errors(self, needs: Sequence[str], las: Sequence[str]) -> list[dict[str, str]]:
        """One error a field, in the words the GOV.UK error summary shows (``href`` is the field)."""
        wrong = []
        if self.child_id and not _CHILD_ID.match(self.child_id):
            wrong.append(("child_id", "Enter the start of a child's id: letters, numbers, '.', '-' and '_' only"))
        choices = {
            "la_code": (las, "Choose an authority from the list"),
            "urgency": (codes.URGENCY, "Choose how soon the placement is needed from the list"),
            "age": (tuple(AGE_BANDS), "Choose an age band from the list"),
            "need": (needs, "Choose a need from the list"),
            "placement_type": (codes.PLACEMENT_TYPES, "Choose a placement type from the list"),
            "waited": (tuple(WAITED), "Choose a waiting time from the list"),
        }
        for name, (allowed, message) in choices.items():
            value = getattr(self, name)
            if value and value not in allowed:
                wrong.append((name, message))
        return [{"field": name, "href": f"#{name}", "text": text} for name, text in wrong]

    def where(self) -> WaitingFilter:
        low, high, _ = AGE_BANDS.get(self.age, (None, None, ""))
        return WaitingFilter(
            la_code=self.la_code or None,
            urgency=self.urgency or None,
            placement_type=self.placement_type or None,
            age_min=low,
            age_max=high,
            need=self.need or None,
            child_id=self.child_id or None,
            min_days_waiting=WAITED[self.waited][0] if self.waited else None,
        )

    def query(self, **changes: str | int) -> str:
        """This form's query string (the fields chosen), with ``changes``."""
        fields: dict[str, str | int] = {k: v for k, v in asdict(self).items() if v}
        fields.update(changes)
        return urlencode(fields)


def _text_param(value: str | None) -> str:
    return (value or "").strip()[:64]


@router.get("/waiting", response_class=HTMLResponse)
@heavy
def waiting(
    request: Request,
    conn: Connection,
    caller: MatchPage,
    on: Annotated[IsoDate | None, Query()] = None,
    child_id: Annotated[str | None, Query(max_length=200)] = None,
    la_code: Annotated[str | None, Query(max_length=200)] = None,
    urgency: Annotated[str | None, Query(max_length=200)] = None,
    age: Annotated[str | None, Query(max_length=200)] = None,
    need: Annotated[str | None, Query(max_length=200)] = None,
    placement_type: Annotated[str | None, Query(max_length=200)] = None,
    waited: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Open referrals in scope: search by id, filters, most urgent first then the oldest referral, a page at a
    time (the same list and order as ``GET /v1/referrals``: :func:`matching.ranking.waiting.waiting_list`)."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    form = WaitingForm(*(_text_param(v) for v in (child_id, la_code, urgency, age, need, placement_type, waited)))
    cache: PoolCache = request.app.state.pools
    needs = {n: d.label for n, d in cache.taxonomy.needs.items()}
    every = waiting_list(conn, scope=caller.scope, on=when)
    las = sorted({e.request.child.la_code for e in every} | set(caller.principal.remit.la_codes))
    errors = form.errors(tuple(needs), las)
    if errors:
        entries: list[WaitingEntry] = []
    else:
        where = form.where()
        entries = [e for e in every if where.admits(e.request)]
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(page, pages)
    shown = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    rows = [e.as_dict() for e in shown]
    caller.touch(c for e in shown for c in (e.request.child.child_id, *(s.child_id for s in e.request.siblings)))
    return templates.TemplateResponse(
        request,
        "waiting.html",
        {
            **page_context(request),
            "rows": rows,
            "total": len(entries),
            "on": when.isoformat(),
            "on_given": on is not None,
            "form": form,
            "errors": errors,
            "error_for": {e["field"]: e["text"] for e in errors},
            "page": page,
            "pages": pages,
            "first": (page - 1) * PAGE_SIZE + 1,
            "needs": needs,
            "las": las,
            "urgencies": URGENCY_LABELS,
            "placement_types": codes.PLACEMENT_TYPES,
            "age_bands": AGE_BANDS,
            "waited_choices": WAITED,
        },
        status_code=422 if errors else 200,
    )


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
            "may_step_down": caller.principal.may(Permission.STEP_DOWN) and residential,
        },
    )


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
    """A child's ranked matches as a page: a stacked bar of factor contributions per candidate."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    try:
        req = service.request_for_child(conn, scope=caller.scope, child_id=child_id, on=when)
    except service.NotFoundError as exc:
        raise HTTPException(status_code=404, detail=NO_CHILD) from exc
    touch(request, (c.child_id for c in req.group))
    cache: PoolCache = request.app.state.pools
    result = service.rank_households(pool=cache.get(conn, caller.scope), request=req, top=top)
    excluded = sorted(result.excluded_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return templates.TemplateResponse(
        request,
        "matches.html",
        {
            **page_context(request),
            "result": result,
            "on_given": on is not None,
            "excluded": excluded,
            "factor_names": FACTORS,
            "provider": cache.taxonomy.provider_label,
            "rule": rule_label,
            "may_read_households": caller.principal.may(Permission.READ_HOUSEHOLDS),
        },
    )


HOUSEHOLD_PAGE = Access(Permission.READ_HOUSEHOLDS, page=True, audit=False)  # audited when it names children
#: Who lives in a household, as the page says it (ages only: no one's id).
MEMBER_KINDS = {"foster_child": "Foster child", "birth_child": "Birth child", "other_adult": "Other adult"}


@router.get("/households/{household_id}", response_class=HTMLResponse)
@heavy
def household_page(
    request: Request,
    household_id: HouseholdId,
    conn: Connection,
    caller: Annotated[Caller, Depends(HOUSEHOLD_PAGE)],
    on: Annotated[IsoDate | None, Query()] = None,
) -> HTMLResponse:
    """One carer household in the caller's remit: its terms of approval and vacancies, who lives there (ages
    only), training (current or not on the date), track record and, for those who match, the waiting children
    it could best care for (as ``GET /v1/carers/{household_id}/matches`` ranks them, top 10)."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    cache: PoolCache = request.app.state.pools
    household = queries.get_household(conn, scope=caller.scope, household_id=household_id, taxonomy=cache.taxonomy)
    if household is None:
        raise HTTPException(status_code=404, detail=NO_HOUSEHOLD)
    may_read_children = caller.principal.may(Permission.READ_CHILDREN)
    connected: list[str] = []
    named = set(household.terms.connected_child_ids)
    if named and may_read_children:
        visible = queries.child_ids_in_scope(conn, scope=caller.scope, child_ids=named)
        connected = [c for c in household.terms.connected_child_ids if c in visible]
    ages = sorted(
        (
            (MEMBER_KINDS.get(m.kind, m.kind.replace("_", " ").capitalize()), age_on(m.birth_month, when))
            for m in (*household.foster_children, *household.members)
        ),
        key=lambda p: (p[0], -p[1]),
    )
    people = [{"kind": kind, "age": age} for kind, age in ages]
    training = [
        {
            "course": cache.taxonomy.provider_label(r.course),
            "completed_on": r.completed_on,
            "expires_on": r.expires_on,
            "current": r.current_on(when),
        }
        for r in sorted(household.training, key=lambda r: (r.completed_on, r.course))
    ]
    may_match = caller.principal.may(Permission.MATCH)
    candidates: list[service.ChildCandidate] = []
    considered = 0
    excluded: list[tuple[str, int]] = []
    if may_match:
        _, candidates, excl, considered = service.rank_children_for_household(
            conn,
            scope=caller.scope,
            household_id=household.household_id,
            on=when,
            cfg=cache.cfg,
            taxonomy=cache.taxonomy,
            top=10,
        )
        excluded = sorted(excl.items(), key=lambda kv: (-kv[1], kv[0]))
    caller.touch([*connected, *(c.child_id for c in candidates)])
    return templates.TemplateResponse(
        request,
        "household.html",
        {
            **page_context(request),
            "household": household,
            "on": when.isoformat(),
            "on_query": f"?on={when.isoformat()}" if on is not None else "",
            "connected": connected,
            "people": people,
            "training": training,
            "may_match": may_match,
            "may_read_children": may_read_children,
            "candidates": candidates,
            "considered": considered,
            "excluded": excluded,
            "urgency_label": URGENCY_LABELS,
            "rule": rule_label,
        },
    )
