"""Recording the decision a named officer made on a referral, and reading it back with what was shown.

The form shows the ranking as it stands now (the snapshot the decision will be recorded on) and records the
decision through the API's own way (:func:`api.routes.decisions.record_now`: the ranking recomputed at that
moment, frozen, the write audited before it is committed), with the library's messages for every problem.  The
decision's page shows the snapshot as stored, its hash checked.  The service records a person's decision; it never
places a child by itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from api.auth import Access, Caller
from api.limits import on_or_as_at
from api.offload import heavy, limiter
from api.pools import PoolCache
from api.routes.decisions import NO_REFERRAL, ReferralId, record_now
from api.routes.outcomes import decision_in_remit
from api.routes.pages.common import check_csrf, day_text, read_form_lists, when_text
from api.templating import page_context, templates
from matching.access import Permission
from matching.decisions import (
    NO_HOUSEHOLD_REASONS,
    OVERRIDE_REASONS,
    Decision,
    DecisionDraft,
    DecisionError,
    DecisionOutcome,
    Problem,
    RecommendationSnapshot,
    SnapshotTamperedError,
    load_snapshot,
    problems,
)
from matching.decisions.decision import MAX_NAME, MAX_TEXT
from matching.decisions.outcomes import END_REASONS, NOT_STARTED_REASONS, outcomes_for, placement_state
from matching.decisions.service import ReferralClosedError, ReferralNotFoundError, snapshot_now
from matching.store import queries

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

DECIDE_PAGE = Access(Permission.DECIDE, page=True)
DecidePage = Annotated[Caller, Depends(DECIDE_PAGE)]
NO_DECISION = "no decision of that id on a referral of a child in your remit"
#: The form's largest size: a reason text of :data:`MAX_TEXT` characters, percent-encoded, and the ticks.
FORM_BYTES, FORM_FIELDS = 48 * 1024, 400
#: A household id as the API accepts one.
HOUSEHOLD_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
OTHER, NONE, RANKED = "other", "none", "ranked:"


def ranking_now(request: Request, conn: Connection, caller: Caller, referral_id: str) -> RecommendationSnapshot:
    """The ranking of an open referral in the caller's remit as it stands now (what a decision would be recorded
    on), on the store's as-at date; 404 outside the remit, 409 when the referral is not open."""
    found = queries.referral_child(conn, scope=caller.scope, referral_id=referral_id)
    if found is None:
        raise HTTPException(status_code=404, detail=NO_REFERRAL)
    caller.touch([found[0]])
    cache: PoolCache = request.app.state.pools
    on = on_or_as_at(request, conn, None, ("query", "on"))
    try:
        return snapshot_now(
            conn,
            scope=caller.scope,
            referral_id=referral_id,
            on=on,
            pool=cache.get(conn, caller.scope),
            cfg=cache.cfg,
        )
    except ReferralNotFoundError:
        raise HTTPException(status_code=404, detail=NO_REFERRAL) from None
    except ReferralClosedError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


def _shown(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ranked households of a snapshot as the pages list them: rank, household, score, warnings."""
    return [
        {
            "rank": c["rank"],
            "household_id": c["household_id"],
            "agency": f"{str(c['agency_type']).upper()} {c['agency_code']}",
            "tier": str(c["tier"]).replace("_", " "),
            "score": float(c["score"]),
            "warnings": list(c["warnings"]),
        }
        for c in payload["ranking"]["candidates"]
    ]


def _offers_shown(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The offers a snapshot kept, as the decision page lists them: household, service, rank (or the rules it
    broke), score and warnings."""
    out = []
    for o in payload.get("offers") or ():
        shown = o.get("explanation") or {}
        out.append(
            {
                "household_id": o["household_id"],
                "agency_code": o["agency_code"],
                "rank": o.get("rank"),
                "score": None if not shown else float(shown["score"]),
                "warnings": list(shown.get("warnings", [])),
                "ruled_out": list(o.get("ruled_out") or []),
            }
        )
    return out


#: A blank form.
EMPTY_FORM: dict[str, Any] = {
    "choice": "",
    "other_household": "",
    "named_officer": "",
    "override_reason": [],
    "no_household_reason": [],
    "reason_text": "",
    "accepted_warning": [],
}


def _form_page(
    request: Request,
    caller: Caller,
    snapshot: RecommendationSnapshot,
    form: Mapping[str, Any] = EMPTY_FORM,
    errors: Sequence[dict[str, str]] = (),
) -> HTMLResponse:
    payload = snapshot.payload
    error_for: dict[str, str] = {}
    for e in errors:
        error_for[e["field"]] = f"{error_for[e['field']]}. {e['text']}" if e["field"] in error_for else e["text"]
    response = templates.TemplateResponse(
        request,
        "decision_form.html",
        {
            **page_context(request),
            "referral_id": snapshot.referral_id,
            "child_id": payload["ranking"]["child_id"],
            "shown": _shown(payload),
            "data_as_at": day_text(str(payload["data_as_at"])),
            "model": payload["ranking"]["model"],
            "fit_config_version": payload["fit_config_version"],
            "considered": payload["ranking"]["considered"],
            "eligible": payload["ranking"]["eligible"],
            "override_reasons": OVERRIDE_REASONS,
            "no_household_reasons": NO_HOUSEHOLD_REASONS,
            "form": form,
            "errors": list(errors),
            "error_for": error_for,
            "max_name": MAX_NAME,
            "max_text": MAX_TEXT,
            "may_read_households": caller.principal.may(Permission.READ_HOUSEHOLDS),
        },
        status_code=422 if errors else 200,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/referrals/{referral_id}/decision", response_class=HTMLResponse)
@heavy
def decision_form(
    request: Request,
    referral_id: ReferralId,
    conn: Connection,
    caller: DecidePage,
    household_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")] = None,
) -> HTMLResponse:
    """The form to record the decision a named officer made on an open referral, under the ranking as it stands
    now (what the decision will be recorded on); ``household_id`` (from the offers compared) is chosen already."""
    snapshot = ranking_now(request, conn, caller, referral_id)
    form = EMPTY_FORM
    if household_id is not None:
        ranked = snapshot.candidate(household_id) is not None
        form = {
            **EMPTY_FORM,
            "choice": f"{RANKED}{household_id}" if ranked else OTHER,
            "other_household": "" if ranked else household_id,
        }
    return _form_page(request, caller, snapshot, form)


def _form_of(raw: Mapping[str, list[str]]) -> dict[str, Any]:
    """The submitted form, each text trimmed to a little over what the library accepts (so it still says so)."""

    def one(name: str, limit: int) -> str:
        return (raw.get(name) or [""])[0][: limit + 1]

    def many(name: str) -> list[str]:
        return list(dict.fromkeys(v[:200] for v in raw.get(name, [])))

    return {
        "choice": one("choice", 80),
        "other_household": one("other_household", 64).strip(),
        "named_officer": one("named_officer", MAX_NAME),
        "override_reason": many("override_reason"),
        "no_household_reason": many("no_household_reason"),
        "reason_text": one("reason_text", MAX_TEXT),
        "accepted_warning": many("accepted_warning"),
    }


def _draft(form: Mapping[str, Any]) -> DecisionDraft:
    """The decision the form describes (the reasons of the outcome chosen; the warnings of the household chosen)."""
    choice = str(form["choice"])
    if choice == NONE:
        return DecisionDraft(
            DecisionOutcome.NO_HOUSEHOLD,
            form["named_officer"],
            None,
            tuple(form["no_household_reason"]),
            form["reason_text"] or None,
        )
    if choice == OTHER:
        household: str | None = form["other_household"] or None
    elif choice.startswith(RANKED):
        household = choice.removeprefix(RANKED) or None
    else:
        household = None
    prefix = f"{household}:"
    accepted = tuple(w.removeprefix(prefix) for w in form["accepted_warning"] if household and w.startswith(prefix))
    return DecisionDraft(
        DecisionOutcome.HOUSEHOLD_CHOSEN if choice else "",
        form["named_officer"],
        household,
        tuple(form["override_reason"]),
        form["reason_text"] or None,
        accepted,
    )


def _errors(
    found: Sequence[Problem], form: Mapping[str, Any], snapshot: RecommendationSnapshot
) -> list[dict[str, str]]:
    """The library's problems as the error summary lists them, each with the part of the form it is shown at
    (``field``) and a link to its first input."""
    ranked = snapshot.candidates
    first_choice = f"choice-{ranked[0]['household_id']}" if ranked else "choice-other"
    choice = str(form["choice"])
    household = choice.removeprefix(RANKED) if choice.startswith(RANKED) else None
    chosen = snapshot.candidate(household) if household else None
    reasons = ("no_household_reason", NO_HOUSEHOLD_REASONS) if choice == NONE else ("override_reason", OVERRIDE_REASONS)
    at: dict[str, tuple[str, str]] = {  # the library's field: where the form shows it, and the input linked to
        "outcome": ("choice", first_choice),
        "household_id": ("other_household", "other_household") if choice == OTHER else ("choice", first_choice),
        "named_officer": ("named_officer", "named_officer"),
        "recorded_by": ("named_officer", "named_officer"),
        "reason_codes": (reasons[0], f"{reasons[0]}-{next(iter(reasons[1]))}"),
        "reason_text": ("reason_text", "reason_text"),
        "accepted_warnings": (f"accept-{household}", f"accept-{household}-0")
        if chosen and chosen["warnings"]
        else ("choice", first_choice),
    }
    out = []
    for p in found:
        field, anchor = at.get(p.field, ("choice", first_choice))
        out.append({"field": field, "href": f"#{anchor}", "text": p.message})
    return out


@router.post("/referrals/{referral_id}/decision", response_class=HTMLResponse)
async def record_decision_page(request: Request, referral_id: ReferralId, caller: DecidePage) -> Response:
    """Record the decision (as ``POST /v1/referrals/{referral_id}/decisions`` records it: the ranking recomputed
    now, frozen, audited); every problem: the form again (422) with the library's messages; done: the decision's
    page (303)."""
    raw = await read_form_lists(request, max_fields=FORM_FIELDS, max_bytes=FORM_BYTES)
    check_csrf(request, {k: v[0] for k, v in raw.items()})
    form = _form_of(raw)
    draft = _draft(form)
    malformed = (
        [Problem("household_id", "Enter the household's id as the service shows it, for example L001-H00134")]
        if form["choice"] == OTHER and form["other_household"] and not HOUSEHOLD_ID.match(form["other_household"])
        else []
    )

    def record() -> Response:
        with request.app.state.engine.begin() as conn:
            found: list[Problem] = list(malformed)
            if not found:
                try:
                    decision, _ = record_now(request, conn, caller, referral_id, draft, 303)
                except DecisionError as exc:
                    found = list(exc.problems)
                else:
                    done = RedirectResponse(f"/pages/decisions/{decision.decision_id}", status_code=303)
        if not found:
            request.app.state.pools.referrals_changed()  # committed: a household chosen matched the referral
            return done
        with request.app.state.engine.begin() as conn:
            snapshot = ranking_now(request, conn, caller, referral_id)
            if malformed:
                found += [p for p in problems(draft, snapshot) if p.field != "household_id"]
            return _form_page(request, caller, snapshot, form, _errors(found, form, snapshot))

    return await anyio.to_thread.run_sync(record, limiter=limiter(request.app))


def _decision_rows(d: Decision, snapshot: RecommendationSnapshot) -> dict[str, Any]:
    """What the decision's page says of it, in words."""
    reasons = OVERRIDE_REASONS if d.outcome is DecisionOutcome.HOUSEHOLD_CHOSEN else NO_HOUSEHOLD_REASONS
    chosen = snapshot.candidate(d.household_id) if d.household_id else None
    messages = {w["code"]: w["message"] for w in (chosen or {}).get("warnings", [])}
    return {
        "id": d.decision_id,
        "referral_id": d.referral_id,
        "outcome": "A household was chosen"
        if d.outcome is DecisionOutcome.HOUSEHOLD_CHOSEN
        else "No household was chosen",
        "household_id": d.household_id,
        "chosen_rank": chosen["rank"] if chosen else None,
        "best_ranked": d.best_ranked_household_id,
        "departs": d.departs_from_ranking,
        "named_officer": d.named_officer,
        "reasons": [reasons.get(c, c) for c in d.reason_codes],
        "reason_text": d.reason_text,
        "accepted_warnings": [messages.get(c, c) for c in d.accepted_warnings],
        "recorded_by": d.recorded_by,
        "when": when_text(d.decided_at),
    }


@router.get("/decisions/{decision_id}", response_class=HTMLResponse)
@heavy
def decision_page(
    request: Request,
    decision_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    conn: Connection,
    caller: DecidePage,
) -> HTMLResponse:
    """A recorded decision (outcome, household, reasons, who decided and who recorded it, when) and what was shown
    when it was made: the snapshot's ranking, its date, model and weights, and its SHA-256, checked.  A snapshot
    that no longer matches its hash is an error page, never shown."""
    decision, child_id = decision_in_remit(conn, caller, decision_id)
    context = {**page_context(request), "child_id": child_id, "decision_id": decision_id}
    try:
        snapshot = load_snapshot(conn, decision.snapshot_sha256)
    except SnapshotTamperedError:
        caller.note.detail = f"decision {decision_id}: snapshot does not match its hash"
        response = templates.TemplateResponse(
            request, "decision_tampered.html", {**context, "sha256": decision.snapshot_sha256}, status_code=500
        )
        response.headers["Cache-Control"] = "no-store"
        return response
    if snapshot is None:  # the foreign key keeps every decision's snapshot
        raise HTTPException(status_code=404, detail=NO_DECISION)
    payload = snapshot.payload
    response = templates.TemplateResponse(
        request,
        "decision.html",
        {
            **context,
            "decision": _decision_rows(decision, snapshot),
            "shown": _shown(payload),
            "offers": _offers_shown(payload),
            "sha256": snapshot.sha256,
            "taken_at": when_text(datetime.fromisoformat(str(payload["taken_at"]))),
            "data_as_at": day_text(str(payload["data_as_at"])),
            "model": payload["ranking"]["model"],
            "fit_config_version": payload["fit_config_version"],
            "considered": payload["ranking"]["considered"],
            "eligible": payload["ranking"]["eligible"],
            "may_read_households": caller.principal.may(Permission.READ_HOUSEHOLDS),
            "placement": placement_state(decision, outcomes_for(conn, [decision_id])),
            "reason_words": {**END_REASONS, **NOT_STARTED_REASONS},
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response
