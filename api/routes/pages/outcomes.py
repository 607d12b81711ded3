"""What happened after a decision, for placement officers: a form (the placement started, ended, or did not
start; the date; the SSDA903 reason it ended or why it did not start; more in words), checked by the library as
``POST /v1/decisions/{decision_id}/outcomes`` checks it, with the same messages, and audited the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from api.auth import Access, Caller
from api.offload import heavy
from api.routes.outcomes import decision_in_remit
from api.routes.pages.common import check_csrf, date_from_fields, day_text, read_form, when_text
from api.templating import page_context, templates
from matching.access import Permission
from matching.decisions import Decision
from matching.decisions.decision import MAX_TEXT, Problem
from matching.decisions.outcomes import (
    END_REASONS,
    KIND_WORDS,
    NOT_STARTED_REASONS,
    Outcome,
    OutcomeError,
    day_in_england,
    outcomes_for,
    placement_state,
    problems,
    record_outcome,
)

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

OUTCOME_PAGE = Access(Permission.DECIDE, page=True)
OutcomePage = Annotated[Caller, Depends(OUTCOME_PAGE)]
DecisionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: The form's own fields, with room to spare.
FORM_FIELDS = 12
#: What each date is called in the messages (as the library words it), by kind.
DATE_WHAT = {
    "started": "The date the placement started",
    "ended": "The date the placement ended",
    "not_started": "The date it was known the placement would not start",
}
#: The state of a placement in words, and its tag's colour.
STATE_TAGS = {
    "awaiting start": ("Waiting to start", "govuk-tag--grey"),
    "started": ("Started", "govuk-tag--green"),
    "ended": ("Ended", "govuk-tag--blue"),
    "not started": ("Did not start", "govuk-tag--yellow"),
}


@dataclass(frozen=True)
class OutcomeForm:
    """The form as sent (every field text, as typed)."""

    kind: str = ""
    day: str = ""
    month: str = ""
    year: str = ""
    reason_ended: str = ""
    reason_not_started: str = ""
    reason_text: str = ""

    @classmethod
    def of(cls, fields: Mapping[str, str]) -> OutcomeForm:
        """The form from the posted fields (anything else ignored)."""
        short = {"kind": "kind", "day": "on-day", "month": "on-month", "year": "on-year"}
        return cls(
            **{attr: fields.get(name, "").strip()[:20] for attr, name in short.items()},
            reason_ended=fields.get("reason_ended", "").strip()[:32],
            reason_not_started=fields.get("reason_not_started", "").strip()[:32],
            reason_text=fields.get("reason_text", "")[: MAX_TEXT + 1],
        )

    @property
    def reason(self) -> str | None:
        """The reason that goes with the kind chosen (None for a start)."""
        chosen = {"ended": self.reason_ended, "not_started": self.reason_not_started}.get(self.kind, "")
        return chosen or None


def _anchor(field: str, kind: str) -> str:
    if field == "on":
        return "on-day"
    if field == "reason":
        return "reason_not_started" if kind == "not_started" else "reason_ended"
    return field if field in ("kind", "reason_text") else "kind"


def _outcome_rows(found: Sequence[Outcome]) -> list[dict[str, str]]:
    words = {**END_REASONS, **NOT_STARTED_REASONS}
    return [
        {
            "kind": KIND_WORDS[o.kind.value],
            "on": day_text(o.on),
            "reason": words.get(o.reason, o.reason) if o.reason else "",
            "text": o.reason_text or "",
            "recorded": f"{when_text(o.recorded_at)} "
            + (o.source_words if o.source != "recorded" else f"by {o.recorded_by}"),
        }
        for o in reversed(found)
    ]


def _page(
    request: Request,
    conn: Connection,
    decision: Decision,
    child_id: str,
    form: OutcomeForm,
    errors: Sequence[dict[str, str]] = (),
    status: int = 200,
) -> HTMLResponse:
    found = outcomes_for(conn, [decision.decision_id])
    state = placement_state(decision, found)
    tag = STATE_TAGS[state.state] if state else ("No household was chosen", "govuk-tag--grey")
    return templates.TemplateResponse(
        request,
        "outcome_form.html",
        {
            **page_context(request),
            "decision": decision,
            "child_id": child_id,
            "decided": when_text(decision.decided_at),
            "state": state,
            "state_tag": tag,
            "started_on": day_text(state.started_on) if state and state.started_on else "",
            "outcomes": _outcome_rows(found),
            "form": form,
            "kinds": KIND_WORDS,
            "end_reasons": list(END_REASONS.items()),
            "not_started_reasons": list(NOT_STARTED_REASONS.items()),
            "errors": list(errors),
            "error_for": {e["field"]: e["text"] for e in errors},
            "error_field": next((e.get("part") or None for e in errors if e["field"] == "on"), None),
        },
        status_code=status,
    )


@router.get("/decisions/{decision_id}/outcome", response_class=HTMLResponse)
@heavy
def outcome_form(request: Request, conn: Connection, decision_id: DecisionId, caller: OutcomePage) -> HTMLResponse:
    """The decision, where its placement stands and what has been recorded, and the form to record what
    happened (404 unless the decision's child is in the caller's remit)."""
    decision, child_id = decision_in_remit(conn, caller, decision_id)
    return _page(request, conn, decision, child_id, OutcomeForm())


@router.post("/decisions/{decision_id}/outcome", response_class=HTMLResponse)
async def record_outcome_page(request: Request, decision_id: DecisionId, caller: OutcomePage) -> Response:
    """Record what happened as ``POST /v1/decisions/{decision_id}/outcomes`` does (the same checks and
    messages: 422 with an error summary), audited, then back to the decision's page."""
    fields = await read_form(request, max_fields=FORM_FIELDS)
    check_csrf(request, fields)
    form = OutcomeForm.of(fields)
    return await run_in_threadpool(_record, request, decision_id, caller, form)


def _record(request: Request, decision_id: int, caller: Caller, form: OutcomeForm) -> Response:
    what = DATE_WHAT.get(form.kind, "The date")
    on, date_error, part = date_from_fields(form.day, form.month, form.year, what)
    with request.app.state.engine.begin() as conn:
        decision, child_id = decision_in_remit(conn, caller, decision_id)
        try:
            if date_error is not None:  # the library's other problems, with the date input's own message
                found = [p for p in _problems(conn, decision, form) if p.field != "on"]
                raise OutcomeError(found)
            outcome = record_outcome(
                conn, decision_id, form.kind, on, form.reason, form.reason_text, caller.principal.actor
            )
        except OutcomeError as exc:
            errors = [
                {"field": p.field, "href": f"#{_anchor(p.field, form.kind)}", "text": p.message} for p in exc.problems
            ]
            if date_error is not None:
                errors.insert(
                    1 if errors and errors[0]["field"] == "kind" else 0,
                    {"field": "on", "href": f"#on-{part or 'day'}", "text": date_error, "part": part or ""},
                )
            return _page(request, conn, decision, child_id, form, errors, 422)
        caller.note.detail = f"placement {outcome.kind.value} on decision {decision_id}"
        caller.audit_now(request.app.state.audit, 201)  # recorded before the outcome is committed
    request.app.state.pools.referrals_changed()  # a placement that did not start reopens its referral
    return RedirectResponse(f"/pages/decisions/{decision_id}", status_code=303)


def _problems(conn: Connection, decision: Decision, form: OutcomeForm) -> list[Problem]:
    """Every problem with the form but its date (which the date input's own check words)."""
    earlier = outcomes_for(conn, [decision.decision_id])
    today = day_in_england(datetime.now(UTC))
    return problems(decision, earlier, form.kind, None, form.reason, form.reason_text, today=today)
