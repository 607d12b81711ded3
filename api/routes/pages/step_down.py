"""Step-down readiness as pages: the cohort of children in children's homes (filtered by stage), and one child's
readiness (indicators with their evidence and trend, blockers, actions, family options and the cost difference),
the same assessment as ``GET /v1/step-down`` and ``GET /v1/children/{child_id}/step-down``."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from api.auth import caller_of
from api.charts import Series, bar_chart, line_chart
from api.deps import StepDownPageScope
from api.offload import heavy
from api.routes.stepdown import On, _cohort
from api.schemas import ChildId
from api.stepdown_schemas import Stage
from api.templating import page_context, templates
from matching.access import Permission
from matching.codes import place_label
from matching.domain import Scope
from matching.stepdown.assess import STAGE_LABELS
from matching.stepdown.config import load_readiness
from matching.stepdown.report import STAGE_TAGS, cohort_view, offers_text
from matching.store import queries

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

#: How many months of the home's progress records the child's page charts (the indicators use the last few).
TREND_MONTHS = 12
#: The API's answer when the child is not in the cohort.
NOT_IN_COHORT = "no child with that id in a residential placement (or recently stepped down) in your remit"
STATUS = {
    "met": ("Met", "govuk-tag--green"),
    "not_met": ("Not met", "govuk-tag--red"),
    "not_known": ("Not known", "govuk-tag--grey"),
}


def _may(request: Request, permission: Permission) -> bool:
    caller = caller_of(request)
    return caller is not None and caller.principal.may(permission)


@router.get("/step-down", response_class=HTMLResponse)
@heavy
def cohort_page(
    request: Request, conn: Connection, scope: StepDownPageScope, on: On = None, stage: Stage | None = None
) -> HTMLResponse:
    """The cohort as a page: a chart by stage with its table, value for money, every child (or one stage), each
    linked to their readiness page."""
    c = _cohort(request, conn, scope, on, None)
    view = cohort_view(c, stage)
    counts = cast("list[tuple[str, int]]", view["counts"])
    labels = cast("dict[str, str]", view["labels"])
    chart = bar_chart(
        chart_id="stage-chart",
        title="Children at each step-down stage",
        description=f"Children in children's homes in your remit on {c.assessed_on.isoformat()}, by stage; "
        "the table below gives the same numbers.",
        categories=[labels[s] for s, _ in counts],
        series=[Series("Children", [n for _, n in counts])],
        y_label="Children",
        x_label="Stage",
        unit="children",
    )
    return templates.TemplateResponse(
        request,
        "step_down.html",
        {
            **page_context(request),
            **view,
            "stage_chart": chart,
            "stage": stage,
            "child_pages": _may(request, Permission.READ_CHILDREN),
            "on": c.assessed_on.isoformat(),
            "on_query": f"?on={c.assessed_on.isoformat()}" if on is not None else "",
        },
    )


@router.get("/children/{child_id}/step-down", response_class=HTMLResponse)
@heavy
def child_step_down_page(
    request: Request, child_id: ChildId, conn: Connection, scope: StepDownPageScope, on: On = None
) -> HTMLResponse:
    """One child's step-down readiness: their stage, each indicator with its evidence, trend and the months of
    records behind it (charts with a table of the same numbers), blockers, actions, the family options (linked to
    each household's page) and the cost difference in £ a week."""
    c = _cohort(request, conn, scope, on, child_id)
    if not c.children:
        raise HTTPException(status_code=404, detail=NOT_IN_COHORT)
    a = c.children[0]
    months = _months(conn, scope, a.child_id, c.assessed_on)
    difference = None if a.weekly_cost_candidate is None else round(a.weekly_cost_now - a.weekly_cost_candidate)
    on_query = f"?on={c.assessed_on.isoformat()}" if on is not None else ""
    return templates.TemplateResponse(
        request,
        "step_down_child.html",
        {
            **page_context(request),
            "a": a,
            "assessed_on": c.assessed_on,
            "on": c.assessed_on.isoformat(),
            "on_query": on_query,
            "model_note": c.model_note,
            "stage_label": STAGE_LABELS[a.stage],
            "stage_tag": STAGE_TAGS[a.stage],
            "status": STATUS,
            "months": months,
            "trend_months": TREND_MONTHS,
            "charts": _charts(a.child_id, months),
            "difference": difference,
            "offers": offers_text,
            "place": place_label,
            "child_pages": _may(request, Permission.READ_CHILDREN),
            "household_pages": _may(request, Permission.READ_HOUSEHOLDS),
        },
    )


def _months(conn: Connection, scope: Scope, child_id: str, on: date) -> list[dict[str, Any]]:
    """The child's monthly progress records of the :data:`TREND_MONTHS` before the latest return due on ``on``
    (the months the indicators are judged on), oldest first, as the page shows them."""
    lag = load_readiness().settings.returns_lag_months
    end = _add_months(date(on.year, on.month, 1), -lag)
    start = _add_months(end, -TREND_MONTHS)
    out = []
    for r in queries.progress_rows(conn, scope=scope, child_ids=[child_id]):
        month = r["month"] if isinstance(r["month"], date) else date.fromisoformat(str(r["month"])[:10])
        if not start <= month < end:
            continue
        out.append(
            {
                "month": month.strftime("%b %Y"),
                "short": month.strftime("%b %y"),
                "incidents": r["physical_aggression"] + r["self_harm"] + r["police"] + r["restraints"],
                "missing": r["missing"],
                "attendance": None if r["attendance"] is None else float(r["attendance"]),
                "exclusion_days": r["exclusion_days"],
                "sdq": r["sdq"],
                "staffing": (r["staffing"] or "").replace("_", " "),
                "therapy": (r["therapy_engagement"] or "").replace("_", " "),
                "wishes": (r["wishes"] or "").replace("_", " "),
            }
        )
    return out


def _add_months(d: date, n: int) -> date:
    k = d.year * 12 + d.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


def _charts(child_id: str, months: list[dict[str, Any]]) -> list[Any]:
    """A line chart for each kind of number in the records (counts a month, attendance, SDQ), when recorded."""
    if not months:
        return []
    x = [m["short"] for m in months]

    def values(key: str) -> list[float | None]:
        return [None if m[key] is None else float(m[key]) for m in months]

    charts = [
        line_chart(
            chart_id=f"trend-counts-{child_id}",
            title=f"Incidents, missing episodes and days excluded each month: {child_id}",
            description=f"{len(months)} months of the home's progress records; the table below gives the numbers.",
            x=x,
            series=[
                Series("Incidents", values("incidents")),
                Series("Missing episodes", values("missing")),
                Series("Days excluded from school", values("exclusion_days")),
            ],
            y_label="Number in the month",
            x_label="Month of the record",
        )
    ]
    if any(m["attendance"] is not None for m in months):
        charts.append(
            line_chart(
                chart_id=f"trend-attendance-{child_id}",
                title=f"School attendance each month: {child_id}",
                description="Attendance as a percentage of sessions; the table below gives the numbers.",
                x=x,
                series=[Series("Attendance", values("attendance"))],
                y_label="Attendance (%)",
                x_label="Month of the record",
                unit="%",
            )
        )
    if any(m["sdq"] is not None for m in months):
        charts.append(
            line_chart(
                chart_id=f"trend-sdq-{child_id}",
                title=f"SDQ total difficulties score: {child_id}",
                description="Strengths and Difficulties Questionnaire, 0 to 40 (lower is better; 17 or more is a "
                "cause for concern); months without a score are left out. The table below gives the numbers.",
                x=x,
                series=[Series("SDQ total difficulties", values("sdq"))],
                y_label="SDQ score (0 to 40)",
                x_label="Month of the record",
            )
        )
    return charts
