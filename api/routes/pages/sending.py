"""Sending a referral and what comes back, as pages: the placement officer chooses the fostering services to send
it to (each with its suitable households) and compares the offers; an agency officer reads the referrals sent to
their services, their own households ranked for the child, records the carers' answers and confirms or rejects the
"will not consider" suggestions.  Every write goes through the API's own way (audited before it is committed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from api.auth import Access, Caller
from api.limits import as_at
from api.offload import heavy, limiter
from api.routes.decisions import ReferralId
from api.routes.pages.common import check_csrf, day_text, read_form_lists, when_text
from api.routes.pages.referrals import ReferPage
from api.routes.referral_sending import (
    AnswerIn,
    agency_codes,
    agency_view,
    answer_now,
    decide_now,
    offers_now,
    pools,
    send_now,
    services_now,
)
from api.templating import page_context, templates
from matching.access import Permission
from matching.decisions.decision import Problem
from matching.eligibility.rules import rule_label
from matching.fit_config import FACTORS
from matching.ranking.waiting import URGENCY_LABELS
from matching.referrals import answers as answers_lib
from matching.referrals import sending
from matching.referrals.answers import ANSWERS, DECLINE_REASONS, NEED_REASONS

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

DecidePage = Annotated[Caller, Depends(Access(Permission.DECIDE, page=True))]
ReadReferralsPage = Annotated[Caller, Depends(Access(Permission.READ_REFERRALS, page=True))]
AnswerPage = Annotated[Caller, Depends(Access(Permission.ANSWER_REFERRALS, page=True))]
FORM_BYTES, FORM_FIELDS = 16 * 1024, 80


def _errors(found: Sequence[Problem], anchor: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"field": p.field, "href": f"#{anchor.get(p.field, next(iter(anchor.values())))}", "text": p.message}
            for p in found]  # fmt: skip


def _no_store(response: HTMLResponse) -> HTMLResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


# --- sending ------------------------------------------------------------------------------------------------------


def _send_page(
    request: Request, conn: Connection, caller: Caller, referral_id: str, errors: Sequence[dict[str, str]] = (),
    chosen: Sequence[str] = (), sent_now: int = 0,
) -> HTMLResponse:  # fmt: skip
    services = services_now(request, conn, caller, referral_id)
    first = next((f"#send-{s.agency_code}" for s in services if s.sent is None), "#services")
    errors = [{**e, "href": first} for e in errors]  # the summary's link goes to the first box to tick
    return _no_store(
        templates.TemplateResponse(
            request,
            "referral_send.html",
            {
                **page_context(request),
                "referral_id": referral_id,
                "services": services,
                "errors": list(errors),
                "chosen": set(chosen),
                "sent_now": sent_now,
                "when": when_text,
                "may_decide": caller.principal.may(Permission.DECIDE),
            },
            status_code=422 if errors else 200,
        )
    )


@router.get("/referrals/{referral_id}/send", response_class=HTMLResponse)
@heavy
def send_page(request: Request, referral_id: ReferralId, conn: Connection, caller: ReferPage) -> HTMLResponse:
    """The fostering services of the caller's remit, each with how many of its households suit the child, to choose
    where to send the referral (those sent already marked)."""
    sent_now = request.query_params.get("sent", "")
    return _send_page(request, conn, caller, referral_id, sent_now=int(sent_now) if sent_now.isdigit() else 0)


@router.post("/referrals/{referral_id}/send", response_class=HTMLResponse)
async def send_referral_page(request: Request, referral_id: ReferralId, caller: ReferPage) -> Response:
    """Send the referral to the services ticked (as ``POST /v1/referrals/{referral_id}/sent``); every problem: the
    page again (422); done: the page, saying how many were sent (303)."""
    raw = await read_form_lists(request, max_fields=FORM_FIELDS, max_bytes=FORM_BYTES)
    check_csrf(request, {k: v[0] for k, v in raw.items()})
    chosen = list(dict.fromkeys(v[:64] for v in raw.get("agency_code", [])))

    def record() -> Response:
        with request.app.state.engine.begin() as conn:
            try:
                sent = send_now(request, conn, caller, referral_id, chosen, 303)
            except sending.SendingError as exc:
                errors = [{"field": "agency_code", "href": "#services", "text": p.message} for p in exc.problems]
                return _send_page(request, conn, caller, referral_id, errors, chosen)
        return RedirectResponse(f"/pages/referrals/{referral_id}/send?sent={len(sent)}", status_code=303)

    return await anyio.to_thread.run_sync(record, limiter=limiter(request.app))


# --- offers compared ----------------------------------------------------------------------------------------------


@router.get("/referrals/{referral_id}/offers", response_class=HTMLResponse)
@heavy
def offers_page(request: Request, referral_id: ReferralId, conn: Connection, caller: DecidePage) -> HTMLResponse:
    """Every offer side by side with the service's explanation now (the matches' own numbers), the best-ranked
    marked, the carers who declined or asked for more below, and a link to record the decision on each."""
    compared = offers_now(request, conn, caller, referral_id)
    best = compared.best
    offers = [
        {
            "household_id": o.household_id,
            "agency_code": o.answer.agency_code,
            "answered": when_text(o.answer.recorded_at),
            "best": best is not None and o.household_id == best.household_id,
            "c": None if o.explanation is None else o.explanation.as_dict(),
            "ruled_out": [rule_label(r.code) for r in o.ruled_out],
        }
        for o in compared.offers
    ]
    return _no_store(
        templates.TemplateResponse(
            request,
            "referral_offers.html",
            {
                **page_context(request),
                "compared": compared,
                "offers": offers,
                "result": compared.ranking,
                "factor_names": FACTORS,
                "others": compared.others,
                "when": when_text,
                "may_read_households": caller.principal.may(Permission.READ_HOUSEHOLDS),
            },
        )
    )


# --- the fostering service ----------------------------------------------------------------------------------------


def _needs_words(request: Request, needs: Mapping[str, int]) -> list[tuple[str, str, int]]:
    labels = {n: d.label for n, d in pools(request).taxonomy.needs.items()}
    return [
        (n, labels.get(n, n.replace("_", " ")), s) for n, s in sorted(needs.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


@router.get("/agency/referrals", response_class=HTMLResponse)
@heavy
def inbox_page(request: Request, conn: Connection, caller: ReadReferralsPage) -> HTMLResponse:
    """The referrals sent to the caller's fostering services, newest first, with the answers recorded so far."""
    codes = agency_codes(caller)
    found = sending.referrals_sent_to(conn, codes, on=as_at(request, conn))
    caller.touch(s.child_id for s in found)
    rows = []
    for s in found:
        answered = answers_lib.latest_answers(answers_lib.answers_for(conn, s.referral_id, codes))
        rows.append(
            {
                "referral_id": s.referral_id,
                "status": s.status,
                "urgency": URGENCY_LABELS.get(s.referral.urgency, s.referral.urgency),
                "age": s.age,
                "sent": when_text(s.first_sent),
                "offers": sum(1 for a in answered.values() if a.is_offer),
                "answered": len(answered),
            }
        )
    return templates.TemplateResponse(request, "agency_referrals.html", {**page_context(request), "rows": rows})


def _agency_page(
    request: Request, conn: Connection, caller: Caller, referral_id: str, errors: Sequence[dict[str, str]] = (),
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    seen, result, found = agency_view(request, conn, caller, referral_id)
    standing = answers_lib.latest_answers(found)
    r = seen.referral
    needs = _needs_words(request, {n: v for n, v in r.needs.severities.items() if v > 0})
    risks = [*r.risks_to_others, *r.risks_to_child]
    return _no_store(
        templates.TemplateResponse(
            request,
            "agency_referral.html",
            {
                **page_context(request),
                "seen": seen,
                "r": r,
                "urgency": URGENCY_LABELS.get(r.urgency, r.urgency),
                "needs": needs,
                "risks": risks,
                "result": result,
                "candidates": [] if result is None else [c.as_dict() for c in result.candidates],
                "standing": standing,
                "answers": ANSWERS,
                "reasons": DECLINE_REASONS,
                "need_reasons": NEED_REASONS,
                "nameable": [*((n, label) for n, label, _ in needs), *((k, k.replace("_", " ")) for k in risks)],
                "may_answer": caller.principal.may(Permission.ANSWER_REFERRALS) and seen.status == "open",
                "errors": list(errors),
                "form": form or {},
                "when": when_text,
                "day": day_text,
                "rule": rule_label,
            },
            status_code=422 if errors else 200,
        )
    )


@router.get("/agency/referrals/{referral_id}", response_class=HTMLResponse)
@heavy
def agency_referral_page(
    request: Request, referral_id: ReferralId, conn: Connection, caller: ReadReferralsPage
) -> HTMLResponse:
    """A referral sent to the caller's services as they see it (the child's age, needs, what the home must offer,
    their wishes; never the child's id), their own households ranked and explained, and a form per household to
    record the carers' answer."""
    return _agency_page(request, conn, caller, referral_id)


@router.post("/agency/referrals/{referral_id}/answers", response_class=HTMLResponse)
async def answer_page(request: Request, referral_id: ReferralId, caller: AnswerPage) -> Response:
    """Record a household's answer (as ``POST /v1/agency/referrals/{referral_id}/answers``); every problem: the page
    again (422) with the household's form kept; done: the page (303)."""
    raw = await read_form_lists(request, max_fields=FORM_FIELDS, max_bytes=FORM_BYTES)
    form = {k: v[0][:2100] for k, v in raw.items()}
    check_csrf(request, form)
    household = form.get("household_id", "")[:64]
    body = AnswerIn.model_construct(
        household_id=household,
        answer=form.get("answer", ""),  # type: ignore[arg-type]  # the library checks it
        reason_code=form.get("reason_code") or None,
        reason_text=form.get("reason_text") or None,
        about=form.get("about") or None,
    )
    anchor = {f: f"{f}-{household}" for f in ("answer", "reason_code", "reason_text", "about", "household_id")}

    def record() -> Response:
        with request.app.state.engine.begin() as conn:
            try:
                answer_now(request, conn, caller, referral_id, body, 303)
            except answers_lib.AnswerError as exc:
                return _agency_page(request, conn, caller, referral_id, _errors(exc.problems, anchor), form)
        return RedirectResponse(f"/pages/agency/referrals/{referral_id}#household-{household}", status_code=303)

    return await anyio.to_thread.run_sync(record, limiter=limiter(request.app))


@router.get("/agency/suggestions", response_class=HTMLResponse)
@heavy
def suggestions_page(request: Request, conn: Connection, caller: AnswerPage) -> HTMLResponse:
    """The pending "will not consider" suggestions for the caller's households, each to confirm or reject."""
    labels = {n: d.label for n, d in pools(request).taxonomy.needs.items()}
    found = answers_lib.suggestions_for(conn, caller.scope)
    rows: list[dict[str, Any]] = [
        {"s": s, "label": labels.get(s.code, s.code.replace("_", " ")), "answered": when_text(s.answered_at)}
        for s in found
    ]
    return _no_store(
        templates.TemplateResponse(request, "agency_suggestions.html", {**page_context(request), "rows": rows})
    )


@router.post("/agency/suggestions/{suggestion_id}", response_class=HTMLResponse)
async def decide_suggestion_page(
    request: Request, suggestion_id: Annotated[int, Path(ge=1, le=2**31 - 1)], caller: AnswerPage
) -> Response:
    """Confirm or reject a suggestion (as ``POST /v1/agency/suggestions/{suggestion_id}``); back to the list (303)."""
    raw = await read_form_lists(request, max_fields=5)
    form = {k: v[0] for k, v in raw.items()}
    check_csrf(request, form)
    if form.get("confirm") not in ("yes", "no"):
        raise HTTPException(status_code=422, detail="choose confirm or reject")

    def record() -> Response:
        with request.app.state.engine.begin() as conn:
            decided = decide_now(request, conn, caller, suggestion_id, form["confirm"] == "yes", 303)
        if decided.state == "confirmed":
            pools(request).reload()
        return RedirectResponse("/pages/agency/suggestions", status_code=303)

    return await anyio.to_thread.run_sync(record, limiter=limiter(request.app))
