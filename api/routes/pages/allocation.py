"""Batch allocation for commissioning leads: a form (the area and how hard to try), the job's progress, then who
goes where, the children left without a household with the reasons and what would place them, and the
comparison with first come first served.  The form is checked by the API's own request model
(:class:`api.routes.allocations.AllocationRequest`) and its area and date rules, and is always run as a job
(the page never waits for the solver), through the same queue, audit and remit checks as ``POST /v1/allocations``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool

from api import jobs
from api.auth import Access, Caller
from api.charts import Series, bar_chart
from api.errors import validation_problems
from api.limits import as_at, request_settings
from api.offload import heavy
from api.routes.allocations import KIND, NOUN, AllocationRequest, _placement_date, _scope_and_waiting
from api.routes.pages.common import JOB_STATES, check_csrf, day_text, read_form, recent_jobs, when_text
from api.templating import page_context, templates
from matching.access import Permission
from matching.allocation.deadline import MIN_SECONDS
from matching.allocation.report import quality_words
from matching.decisions.monitoring import ATTRIBUTE_WORDS
from matching.jobs import Job
from matching.jobs import store as job_store
from matching.jobs.kinds import allocation_children
from matching.store import schema

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

ALLOCATION_PAGE = Access(Permission.ALLOCATE, page=True)
AllocationPage = Annotated[Caller, Depends(ALLOCATION_PAGE)]

#: The most fields the form may send (its own eleven, with room to spare).
FORM_FIELDS = 16
#: The caller's jobs listed under the form, newest first.
RECENT_JOBS = 10
#: Each form field's label, as the error summary names it; the API's fields map to the form's.
LABELS = {
    "area": "Area",
    "placement_date": "Placement date",
    "objective": "What to aim for",
    "first_come": "The children first come first served would place",
    "time_limit_seconds": "Time limit",
    "min_fit": "Least fit",
    "max_distance_miles": "Greatest distance",
    "keep_current_points": "Keep current carers",
    "seed": "Seed",
}
_FIELD_OF = {"la_code": "area", "region": "area"}
#: Where the error summary's link for a field goes (a date input: its day box).
_ANCHOR = {"placement_date": "placement_date-day"}
OBJECTIVES = {
    "total": (
        "Place as many children as possible, then the best total fit",
        "The most children placed (within the choice below about the children first come first served would "
        "place); among the ways of placing that many, the highest fit added up over all of them.",
    ),
    "fairness": (
        "Place as many children as possible, then look after the worst-off child",
        "As many children placed (within the choice below about the children first come first served would place); "
        "then the lowest fit any placed child gets is made as high as it can be, then the total fit.",
    ),
}
#: The like-for-like rule's choices (``no_worse_than_first_come``): label and hint of each.
FIRST_COME = {
    "no_worse": (
        "Leave none of them worse off",
        "Over the children both would place, the proposal's mean fit is no lower, and its mean distance from home "
        "and placements out of area no higher, than first come first served's. It may place a few fewer children.",
    ),
    "children_first": (
        "Place the most children, even if some of them fare worse",
        "To place more children, some that first come first served would place may go to homes that fit them less "
        "well or are further away; the comparison shows how they fare.",
    ),
}
UNPLACED_REASONS = {
    "no_eligible_household": "No household with room could take them",
    "households_taken": "Every household that could take them went to other children",
    "not_considered": "Not considered before the time limit",
    "stays_with_current_carers": "Staying with their current carers",
}


@dataclass(frozen=True)
class AllocationForm:
    """The form as sent (every field text, as typed)."""

    area: str = ""
    day: str = ""
    month: str = ""
    year: str = ""
    objective: str = "total"
    first_come: str = "no_worse"
    time_limit_seconds: str = "10"
    min_fit: str = "0"
    max_distance_miles: str = ""
    keep_current_points: str = ""
    seed: str = "2024"

    @classmethod
    def of(cls, fields: Mapping[str, str]) -> AllocationForm:
        """The form from the posted fields (anything else ignored; each at most 100 characters)."""
        names = {
            "area": "area",
            "day": "placement_date-day",
            "month": "placement_date-month",
            "year": "placement_date-year",
            **{k: k for k in ("objective", "first_come", "time_limit_seconds", "min_fit", "max_distance_miles")},
            **{k: k for k in ("keep_current_points", "seed")},
        }
        return cls(**{attr: fields.get(name, "").strip()[:100] for attr, name in names.items()})

    def request_body(self) -> dict[str, Any]:
        """What the API would be sent: numbers as numbers, a field left blank left out (its default), text that
        is not a number as it is (the API's model then says what is wrong with it)."""
        body: dict[str, Any] = {}
        kind, _, name = self.area.partition(":")
        if kind == "la":
            body["la_code"] = name
        elif kind == "region":
            body["region"] = name
        elif self.area:
            body["la_code"] = self.area
        if self.day or self.month or self.year:
            parts = (self.year, self.month, self.day)
            body["placement_date"] = (
                f"{int(self.year):04d}-{int(self.month):02d}-{int(self.day):02d}"
                if all(p.isdigit() and len(p) <= 4 for p in parts)
                else "not a date"
            )
        if self.objective:
            body["objective"] = self.objective
        body["no_worse_than_first_come"] = self.first_come != "children_first"
        for name in ("time_limit_seconds", "min_fit", "max_distance_miles", "keep_current_points"):
            text = getattr(self, name)
            if text:
                body[name] = _number(text, float)
        if self.seed:
            body["seed"] = _number(self.seed, int)
        return body


def _number(text: str, kind: type[float] | type[int]) -> Any:
    try:
        return kind(text)
    except ValueError:
        return text


def _errors(problems: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The API's problems (``loc``, ``msg``) as the error summary lists them: one a field, its label first."""
    out: dict[str, dict[str, str]] = {}
    for p in problems:
        loc = [str(x) for x in p.get("loc", ())]
        field = _FIELD_OF.get(loc[-1], loc[-1]) if len(loc) > 1 else "area"
        if field not in LABELS or field in out:
            continue
        out[field] = {
            "field": field,
            "href": f"#{_ANCHOR.get(field, field)}",
            "text": f"{LABELS[field]}: {p['msg']}",
        }
    return [out[f] for f in LABELS if f in out]


@dataclass(frozen=True)
class Area:
    """A choice of area: an authority, or a region whose authorities are all in the remit."""

    value: str
    label: str


def areas(conn: Connection, remit: frozenset[str]) -> list[Area]:
    """The authorities in the remit, then each region whose authorities are all in it."""
    la = schema.local_authority
    rows = conn.execute(select(la.c.la_code, la.c.name, la.c.region).order_by(la.c.la_code)).all()
    out = [Area(f"la:{r.la_code}", f"{r.name} ({r.la_code})") for r in rows if r.la_code in remit]
    regions: dict[str, list[str]] = {}
    for r in rows:
        if r.region:
            regions.setdefault(r.region, []).append(r.la_code)
    for region, codes in sorted(regions.items()):
        if set(codes) <= remit:
            n = len(codes)
            out.append(Area(f"region:{region}", f"{region} region ({n} authorit{'y' if n == 1 else 'ies'})"))
    return out


def _job_rows(conn: Connection, caller: Caller) -> list[dict[str, Any]]:
    """The caller's latest allocation jobs they may still read (newest first): state, when, area, link."""
    return [
        {
            "id": j.job_id,
            "state": j.state,
            "state_label": JOB_STATES.get(j.state, (j.state, ""))[0],
            "tag": JOB_STATES.get(j.state, ("", "govuk-tag--grey"))[1],
            "progress": j.progress,
            "created": when_text(j.created_at),
            "area": ", ".join(sorted(j.area)),
        }
        for j in recent_jobs(conn, caller, KIND, RECENT_JOBS)
    ]


def _form_page(
    request: Request,
    caller: Caller,
    conn: Connection,
    form: AllocationForm | None,
    errors: Sequence[dict[str, str]] = (),
    status: int = 200,
) -> HTMLResponse:
    """The form (as sent, or with the defaults), the errors, and the caller's recent jobs."""
    choices = areas(conn, caller.principal.remit.la_codes)
    if form is None:
        on = as_at(request, conn)
        first = choices[0].value if choices else ""
        form = AllocationForm(area=first, day=str(on.day), month=str(on.month), year=str(on.year))
    settings = request.app.state.settings
    return templates.TemplateResponse(
        request,
        "allocation_form.html",
        {
            **page_context(request),
            "form": form,
            "areas": choices,
            "objectives": OBJECTIVES,
            "first_come": FIRST_COME,
            "errors": list(errors),
            "error_for": {e["field"]: e["text"] for e in errors},
            "jobs": _job_rows(conn, caller),
            "max_seconds": request_settings().allocation_max_seconds,
            "min_seconds": MIN_SECONDS,
            "max_children": settings.allocation_max_children,
        },
        status_code=status,
    )


@router.get("/allocations", response_class=HTMLResponse)
@heavy
def allocation_form(request: Request, conn: Connection, caller: AllocationPage) -> HTMLResponse:
    """The allocation form (area, placement date, what to aim for, time limit and the other options of
    ``POST /v1/allocations``), with the caller's recent allocation jobs below it."""
    return _form_page(request, caller, conn, None)


@router.post("/allocations", response_class=HTMLResponse)
async def start_allocation_page(request: Request, caller: AllocationPage) -> Response:
    """Check the form as ``POST /v1/allocations`` checks its body (422 with an error summary), the area against
    the remit (403) and the children in it against the limit (413), then queue the allocation as a job (429 when
    the queue is full), record it in the audit trail and go to its page."""
    fields = await read_form(request, max_fields=FORM_FIELDS)
    check_csrf(request, fields)
    form = AllocationForm.of(fields)
    engine = request.app.state.engine

    def again(errors: Sequence[dict[str, str]], status: int, headers: Mapping[str, str] | None = None) -> Response:
        with engine.connect() as conn:
            page = _form_page(request, caller, conn, form, errors, status)
        page.headers.update(headers or {})
        return page

    def refused(field: str, message: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
        text = f"{LABELS[field]}: {message[:1].upper()}{message[1:]}" if field == "area" else message
        error = {"field": field, "href": f"#{_ANCHOR.get(field, field)}", "text": text}
        return again([error], status, headers)

    try:
        body = AllocationRequest.model_validate(form.request_body())
    except ValidationError as exc:
        problems = validation_problems([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        return await run_in_threadpool(again, _errors(problems), 422)
    try:
        placement_date: date = await run_in_threadpool(_placement_date, request, body)
        scope, waiting = await run_in_threadpool(_scope_and_waiting, engine, caller, body)
    except RequestValidationError as exc:
        return await run_in_threadpool(again, _errors(validation_problems(exc.errors())), 422)
    except HTTPException as exc:
        return await run_in_threadpool(refused, "area", str(exc.detail), 422 if exc.status_code == 404 else 403)
    settings = request.app.state.settings
    if waiting > settings.allocation_max_children:
        message = (
            f"{waiting} children are waiting in this area; an allocation can take at most "
            f"{settings.allocation_max_children} (MATCHING_ALLOCATION_MAX_CHILDREN). Choose a smaller area."
        )
        return await run_in_threadpool(refused, "area", message, 413)
    parameters = body.parameters(scope, placement_date)
    area = scope.la_codes or frozenset()
    caller.note.detail = f"area {', '.join(sorted(area))}"
    try:
        await run_in_threadpool(jobs.ensure_room, request, caller)
    except HTTPException as exc:
        message = f"Too many allocations are waiting to run: {exc.detail}"
        return await run_in_threadpool(refused, "area", message, exc.status_code, exc.headers)
    await run_in_threadpool(caller.audit_now, request.app.state.audit, 202)  # recorded before the batch starts
    job = await run_in_threadpool(jobs.submit, request, caller, KIND, parameters, area)
    return RedirectResponse(f"/pages/allocations/{job.job_id}", status_code=303)


def _figures(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The measures compared, optimised against first come first served: (label, unit, the two values)."""
    ours = result.get("summary") or {}
    fcfs = (result.get("baselines") or {}).get("first_come_first_served") or {}
    rows = [
        ("Children placed", "children", "placed"),
        ("Sibling groups kept together", "groups", "siblings_together"),
        ("Children placed outside their own authority", "children", "out_of_area"),
        ("Mean fit of the children placed", "points out of 100", "mean_fit"),
        ("Fit of the worst-off child placed", "points out of 100", "worst_fit"),
        ("Mean distance from home", "miles", "mean_distance_miles"),
    ]
    return [{"label": label, "unit": unit, "ours": ours.get(key), "fcfs": fcfs.get(key)} for label, unit, key in rows]


def _like_for_like(result: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """The like-for-like rows: (the children, placed by, their figures)."""
    cmp = result.get("like_for_like") or {}
    if not cmp:
        return []
    ours, fcfs = "This allocation", "First come first served"
    return [
        ("Placed by both", ours, cmp["both"]["ours"]),
        ("Placed by both", fcfs, cmp["both"]["first_come_first_served"]),
        ("Placed only by this allocation", ours, cmp["only_ours"]),
        ("Placed only by first come first served", fcfs, cmp["only_first_come_first_served"]),
    ]


def _chart(result: Mapping[str, Any]) -> Any:
    """The children counts, optimised against first come first served, as a bar chart."""
    ours = result.get("summary") or {}
    fcfs = (result.get("baselines") or {}).get("first_come_first_served") or {}
    waiting = int(ours.get("waiting") or 0)
    keys = (("Placed", "placed"), ("Not placed", None), ("Placed out of area", "out_of_area"))

    def values(summary: Mapping[str, Any]) -> list[float | None]:
        placed = int(summary.get("placed") or 0)
        return [float(summary.get(k) or 0) if k else float(waiting - placed) for _, k in keys]

    return bar_chart(
        chart_id="allocation-comparison",
        title="Children placed: this allocation against first come first served",
        description=f"Of {waiting} waiting children: placed, not placed and placed out of their own authority, "
        "for this allocation and for first come first served. The same numbers are in the table below.",
        categories=[label for label, _ in keys],
        series=[Series("This allocation", values(ours)), Series("First come first served", values(fcfs))],
        y_label="Children",
        x_label="",
        unit="",
    )


@router.get("/allocations/{job_id}", response_class=HTMLResponse)
def allocation_job_page(request: Request, job_id: str, caller: AllocationPage) -> HTMLResponse:
    """One of the caller's allocation jobs (404 for anyone else's): its progress while it waits or runs (the
    page refreshes itself), then who goes where, the children not placed with the reasons and what would place
    them, and the comparison with first come first served as a chart and a table."""
    job: Job = jobs.job_for(request, job_id, KIND, caller, NOUN)
    result = job.result if job.state == job_store.DONE else None
    context: dict[str, Any] = {
        **page_context(request),
        "job": job,
        "state_label": JOB_STATES.get(job.state, (job.state, ""))[0],
        "tag": JOB_STATES.get(job.state, ("", "govuk-tag--grey"))[1],
        "created": when_text(job.created_at),
        "finished": when_text(job.finished_at),
        "area": ", ".join(sorted(job.area)),
        "placement_date": day_text(str(job.parameters.get("on", ""))),
        "parameters": job.parameters,
        "objective": OBJECTIVES.get(str(job.parameters.get("objective")), ("", ""))[0],
        "waiting_or_running": job.state in (job_store.QUEUED, job_store.RUNNING),
        "result": result,
    }
    if result is not None:
        caller.touch(allocation_children(result))
        summary = result.get("summary") or {}
        fcfs = (result.get("baselines") or {}).get("first_come_first_served") or {}
        context |= {
            "summary": summary,
            "fcfs": fcfs,
            "status_text": quality_words(result),
            "figures": _figures(result),
            "chart": _chart(result),
            "like": _like_for_like(result),
            "groups": [
                {**g, "label": ATTRIBUTE_WORDS.get(g["attribute"], g["attribute"]) + ": " + g["words"]}
                for g in result.get("fairness_by_group") or []
            ],
            "assignments": result.get("assignments") or [],
            "unplaced": [
                {**u, "reason_text": UNPLACED_REASONS.get(str(u.get("reason")), str(u.get("reason", "")))}
                for u in result.get("unplaced") or []
            ],
            "levers": result.get("levers") or [],
            "link_children": caller.principal.may(Permission.READ_CHILDREN),
            "link_households": caller.principal.may(Permission.READ_HOUSEHOLDS),
        }
    return templates.TemplateResponse(request, "allocation_job.html", context)


@router.post("/allocations/{job_id}/cancel", response_class=HTMLResponse)
async def cancel_allocation_page(request: Request, job_id: str, caller: AllocationPage) -> Response:
    """Cancel one of the caller's allocation jobs (the form carries the CSRF token), then back to its page (which
    says how it ended, if it ended first)."""
    fields = await read_form(request)
    check_csrf(request, fields)
    try:
        await run_in_threadpool(jobs.cancel, request, job_id, KIND, caller, NOUN)
    except HTTPException as exc:
        if exc.status_code != 409:  # ended already: its page says how
            raise
    return RedirectResponse(f"/pages/allocations/{job_id}", status_code=303)


@router.post("/allocations/{job_id}/restart", response_class=HTMLResponse)
async def restart_allocation_page(request: Request, job_id: str, caller: AllocationPage) -> Response:
    """Queue an interrupted allocation job of the caller's again (as ``POST /v1/allocations/{id}/restart`` does:
    over the households of the agencies now in their remit), then go to the new job's page."""
    fields = await read_form(request)
    check_csrf(request, fields)

    def restart() -> Job:
        job = jobs.job_for(request, job_id, KIND, caller, NOUN)
        agencies = sorted(caller.scope.agency_codes or ())
        return jobs.restart(request, job_id, KIND, caller, NOUN, {**job.parameters, "agency_codes": agencies})

    again = await run_in_threadpool(restart)
    return RedirectResponse(f"/pages/allocations/{again.job_id}", status_code=303)
