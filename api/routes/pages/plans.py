"""The placement plan of a decision, for placement officers and managers: the plan to read and print (the print
stylesheet the shortlist uses), the form to edit it (a text box per section, every problem listed at once), and
agreeing it.  Writes go through the API's own way (:func:`api.routes.plans.write_now`: the library's checks,
audited before commit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from api.auth import Access, Caller
from api.limits import PLAN_BODY_BYTES
from api.offload import heavy
from api.routes.outcomes import decision_in_remit
from api.routes.pages.common import check_csrf, read_form_lists, when_text
from api.routes.plans import plan_call, write_now
from api.templating import page_context, templates
from matching.access import Permission
from matching.decisions.plan import MAX_SECTION, SECTIONS, PlanVersion, plan_of, plan_versions
from matching.decisions.plan_pdf import plan_pdf

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

PLAN_PAGE = Access(Permission.DECIDE, page=True)
PlanPage = Annotated[Caller, Depends(PLAN_PAGE)]
DecisionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: The form: a text per section and the token, each at most a section's length, percent-encoded.
FORM_FIELDS, FORM_BYTES = len(SECTIONS) + 4, PLAN_BODY_BYTES
STATE_TAGS = {"draft": ("Draft", "govuk-tag--yellow"), "agreed": ("Agreed", "govuk-tag--green")}


def _history(versions: Sequence[PlanVersion]) -> list[dict[str, str]]:
    return [
        {
            "version": str(v.version),
            "state": STATE_TAGS[v.state][0] if v.state in STATE_TAGS else v.state,
            "by": v.edited_by,
            "when": when_text(v.edited_at),
        }
        for v in reversed(versions)
    ]


@router.get("/decisions/{decision_id}/plan.pdf", response_class=Response)
@heavy
def plan_pdf_download(request: Request, conn: Connection, decision_id: DecisionId, caller: PlanPage) -> Response:
    """The plan's current version (or the generated draft) as a PDF to download; 404 outside the remit, 409 when
    no household was chosen."""
    plan = plan_call(request, conn, caller, decision_id, plan_of)
    decision, child_id = decision_in_remit(conn, caller, decision_id)
    when = when_text(plan.edited_at) if plan.edited_at else ""
    body = plan_pdf(plan, child_id=child_id, household_id=decision.household_id, when=when)
    name = f"placement-plan-{decision_id}-v{plan.version}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.get("/decisions/{decision_id}/plan", response_class=HTMLResponse)
@heavy
def plan_page(request: Request, conn: Connection, decision_id: DecisionId, caller: PlanPage) -> HTMLResponse:
    """The plan of a decision that chose a household (the current version, or the draft generated from the
    decision), printable, with its versions; 404 outside the remit, 409 when no household was chosen."""
    plan = plan_call(request, conn, caller, decision_id, plan_of)
    decision, child_id = decision_in_remit(conn, caller, decision_id)
    response = templates.TemplateResponse(
        request,
        "plan.html",
        {
            **page_context(request),
            "decision": decision,
            "child_id": child_id,
            "plan": plan,
            "state_tag": STATE_TAGS.get(plan.state, (plan.state, "govuk-tag--grey")),
            "history": _history(plan_versions(conn, decision_id)),
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_page(
    request: Request,
    decision_id: int,
    child_id: str,
    texts: Mapping[str, str],
    errors: Sequence[dict[str, str]] = (),
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        "plan_form.html",
        {
            **page_context(request),
            "decision_id": decision_id,
            "child_id": child_id,
            "sections": SECTIONS,
            "texts": texts,
            "errors": list(errors),
            "error_for": {e["field"]: e["text"] for e in errors},
            "max_section": MAX_SECTION,
        },
        status_code=422 if errors else 200,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/decisions/{decision_id}/plan/edit", response_class=HTMLResponse)
@heavy
def plan_form(request: Request, conn: Connection, decision_id: DecisionId, caller: PlanPage) -> HTMLResponse:
    """The form to edit the plan: a text box per section holding the current version (409 once agreed)."""
    plan = plan_call(request, conn, caller, decision_id, plan_of)
    if plan.agreed:
        raise HTTPException(status_code=409, detail="the plan was agreed: it is final")
    _, child_id = decision_in_remit(conn, caller, decision_id)
    return _form_page(request, decision_id, child_id, plan.texts())


@router.post("/decisions/{decision_id}/plan/edit", response_class=HTMLResponse)
async def save_plan_page(request: Request, decision_id: DecisionId, caller: PlanPage) -> Response:
    """Save the sections as a new version (as ``PUT /v1/decisions/{decision_id}/plan`` does); every problem: the
    form again (422); saved: the plan's page (303)."""
    raw = await read_form_lists(request, max_fields=FORM_FIELDS, max_bytes=FORM_BYTES)
    fields = {k: v[0] for k, v in raw.items()}
    check_csrf(request, fields)
    texts = {key: fields.get(key, "")[: MAX_SECTION + 1] for key, _ in SECTIONS}
    return await run_in_threadpool(_save, request, decision_id, caller, texts)


def _save(request: Request, decision_id: int, caller: Caller, texts: dict[str, str]) -> Response:
    with request.app.state.engine.begin() as conn:
        try:
            write_now(request, conn, caller, decision_id, texts, 303)
        except RequestValidationError as exc:
            errors = [
                {"field": str(e["loc"][-1]), "href": f"#{e['loc'][-1]}", "text": str(e["msg"])} for e in exc.errors()
            ]
            _, child_id = decision_in_remit(conn, caller, decision_id)
            return _form_page(request, decision_id, child_id, texts, errors)
    return RedirectResponse(f"/pages/decisions/{decision_id}/plan", status_code=303)


@router.post("/decisions/{decision_id}/plan/agreed", response_class=HTMLResponse)
async def agree_plan_page(request: Request, decision_id: DecisionId, caller: PlanPage) -> Response:
    """The signed-in officer agrees the current version (as ``POST /v1/decisions/{decision_id}/plan/agreed``),
    then back to the plan's page."""
    fields = {k: v[0] for k, v in (await read_form_lists(request, max_fields=4)).items()}
    check_csrf(request, fields)

    def agree() -> Response:
        with request.app.state.engine.begin() as conn:
            write_now(request, conn, caller, decision_id, None, 303)
        return RedirectResponse(f"/pages/decisions/{decision_id}/plan", status_code=303)

    return await run_in_threadpool(agree)
