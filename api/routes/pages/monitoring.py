"""Monitoring as a page, for placement officers and commissioning leads: how decisions on referrals went for an
authority in their remit in a window of days — the headline figures, the reasons given for choosing a household
(a chart with its table) and for choosing none, days from referral to decision by urgency (a chart with its
table), and who waits longer or is offered less, by group, with small groups suppressed; then what happened: the
estimated against the observed chance of a placement lasting a year by month of decision (a line chart with its
table) and by group, the carers' reasons for declining, and the offers per referral by group.  The same figures as
``GET /v1/monitoring/decisions`` (:func:`api.routes.monitoring.both_for`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, select

from api.auth import Access, Caller
from api.charts import Series, bar_chart, line_chart
from api.offload import heavy
from api.routes.monitoring import LaCode, both_for, window
from api.routes.pages.common import date_from_fields, day_text, text_param
from api.templating import page_context, templates
from matching.access import Permission
from matching.decisions.monitoring import ATTRIBUTE_WORDS, SMALL_GROUP, DecisionMonitoring
from matching.decisions.monitoring_outcomes import TOO_FEW, TOO_FEW_TEXT, Calibration, OutcomeMonitoring
from matching.store import schema

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

MONITOR_PAGE = Access(Permission.MONITOR, page=True)
MonitorPage = Annotated[Caller, Depends(MONITOR_PAGE)]
Part = Annotated[str | None, Query(max_length=20)]
#: The reasons for choosing a household, shortened to fit under a bar (the table gives them in full).
SHORT_REASONS = {
    "child_wishes": "Child's wishes",
    "family_wishes": "Family's wishes",
    "siblings_together": "Brothers and sisters",
    "school_stability": "School",
    "contact": "Contact with family",
    "existing_relationship": "Knows the carers",
    "identity": "Identity",
    "carer_information": "Fostering service knows more",
    "better_offer_withdrawn": "Better offer withdrawn",
    "support_agreed": "Support agreed",
    "other": "Other",
}


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else ""


def _days(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _drift(value: float | None) -> str:
    """A difference in percentage points, signed."""
    return "" if value is None else f"{value * 100:+.0f} points"


def _calibration_cells(c: Calibration) -> dict[str, str]:
    """A calibration's cells as shown: counts, and the rates or "too few to say"."""
    return {
        "started": f"{c.started:,}",
        "pending": f"{c.pending:,}",
        "no_estimate": f"{c.no_estimate:,}",
        "n": f"{c.n:,}",
        "too_few": TOO_FEW_TEXT if c.too_few else "",
        "predicted": _pct(c.mean_predicted),
        "observed": _pct(c.observed_rate),
        "difference": _drift(c.difference),
    }


def _month_words(month: str) -> str:
    year, number = month.split("-")
    return f"{date(int(year), int(number), 1):%b %Y}"


def outcomes_view(o: OutcomeMonitoring) -> dict[str, Any]:
    """What the page shows of the outcome side: the calibration line chart by month with its table, the table by
    group, the decline reasons and the offers by group."""
    months = list(o.by_month)
    chart = None
    if any(not mc.calibration.too_few for mc in months):
        chart = line_chart(
            chart_id="calibration-chart",
            title="Estimated and observed chance of a placement lasting a year, by month of decision",
            description="For the placements that started and were observed a year on: the average estimate shown "
            "when the household was chosen, and the share that lasted a year. A month with fewer than "
            f"{TOO_FEW} such placements has no point. The table below gives the same numbers.",
            x=[_month_words(mc.month) for mc in months],
            series=[
                Series(
                    "Estimated",
                    [None if mc.calibration.too_few else 100 * (mc.calibration.mean_predicted or 0) for mc in months],
                ),
                Series(
                    "Observed",
                    [None if mc.calibration.too_few else 100 * (mc.calibration.observed_rate or 0) for mc in months],
                ),
            ],
            y_label="Lasting a year (%)",
            x_label="Month of decision",
            unit="%",
        )
    return {
        "o": o,
        "calibration": _calibration_cells(o.calibration),
        "calibration_chart": chart,
        "month_rows": [
            {"month": mc.month, "words": _month_words(mc.month), **_calibration_cells(mc.calibration)} for mc in months
        ],
        "calibration_groups": [
            {
                "attribute": g.attribute,
                "group": g.group,
                "attribute_words": ATTRIBUTE_WORDS.get(g.attribute, g.attribute),
                "words": g.words,
                "size": g.n_text,
                "suppressed": g.suppressed,
                **({} if g.calibration is None else _calibration_cells(g.calibration)),
            }
            for g in o.by_group
        ],
        "offer_groups": [
            {
                "attribute": g.attribute,
                "group": g.group,
                "attribute_words": ATTRIBUTE_WORDS.get(g.attribute, g.attribute),
                "words": g.words,
                "n": g.n_text,
                "suppressed": g.suppressed,
                "per": "" if g.offers_per_referral is None else f"{g.offers_per_referral:.1f}",
                "no_offer": ""
                if g.no_offer is None or g.referrals is None
                else f"{g.no_offer:,} ({_share(g.no_offer, g.referrals)})",
            }
            for g in o.offers_by_group
        ],
        "offers_per": "" if o.offers_per_referral is None else f"{o.offers_per_referral:.1f}",
        "as_at_text": day_text(o.as_at),
        "too_few": TOO_FEW,
    }


def _authorities(conn: Connection, caller: Caller) -> list[tuple[str, str]]:
    """The authorities in the caller's remit, as (code, "Name (code)")."""
    la = schema.local_authority
    codes = sorted(caller.principal.remit.la_codes)
    names = {r.la_code: r.name for r in conn.execute(select(la.c.la_code, la.c.name).where(la.c.la_code.in_(codes)))}
    return [(c, f"{names[c]} ({c})" if c in names else c) for c in codes]


def view_of(m: DecisionMonitoring) -> dict[str, Any]:
    """What the page shows of the figures: text for each cell and the two charts."""
    reasons = list(m.override_reasons)
    override_chart = (
        bar_chart(
            chart_id="override-chart",
            title="Reasons given for choosing a household, most frequent first",
            description=f"Of {m.household_chosen:,} decisions choosing a household: how many gave each reason (a "
            "decision may give several). The table below gives the same numbers.",
            categories=[SHORT_REASONS.get(r.code, r.words) for r in reasons],
            series=[Series("Decisions", [r.count for r in reasons])],
            y_label="Decisions",
            x_label="Reason",
        )
        if reasons
        else None
    )
    urgency_chart = bar_chart(
        chart_id="urgency-chart",
        title="Days from referral to decision, by urgency",
        description="The median and the 90th percentile of the days from each referral's date to its decision, "
        "for each urgency. The table below gives the same numbers.",
        categories=[u.words.capitalize() for u in m.by_urgency],
        series=[
            Series("Median", [u.waiting.median_days for u in m.by_urgency]),
            Series("90th percentile", [u.waiting.p90_days for u in m.by_urgency]),
        ],
        y_label="Days",
        x_label="Urgency",
        unit="days",
    )
    groups = []
    for g in m.by_group:
        groups.append(
            {
                "attribute": g.attribute,
                "group": g.group,
                "attribute_words": ATTRIBUTE_WORDS.get(g.attribute, g.attribute),
                "words": g.words,
                "n": g.n_text,
                "suppressed": g.suppressed,
                "median": _days(g.median_days),
                "p90": _days(g.p90_days),
                "no_household": ""
                if g.no_household is None or g.n is None
                else f"{g.no_household:,} ({_share(g.no_household, g.n)})",
            }
        )
    return {
        "m": m,
        "best_share": _share(m.best_ranked_chosen, m.household_chosen),
        "median": _days(m.waiting.median_days),
        "p90": _days(m.waiting.p90_days),
        "override_chart": override_chart,
        "urgency_chart": urgency_chart,
        "urgency_rows": [
            {
                "urgency": u.urgency,
                "words": u.words.capitalize(),
                "n": f"{u.waiting.n:,}",
                "median": _days(u.waiting.median_days),
                "p90": _days(u.waiting.p90_days),
            }
            for u in m.by_urgency
        ],
        "groups": groups,
        "small_group": SMALL_GROUP,
        "period": f"{day_text(m.date_from)} to {day_text(m.date_to)}",
    }


def _dates(fields: dict[str, dict[str, str]]) -> tuple[dict[str, date | None], list[dict[str, str]], dict[str, Any]]:
    """The two days the date inputs give, and what is wrong with them (GOV.UK's messages)."""
    days: dict[str, date | None] = {}
    errors: list[dict[str, str]] = []
    marks: dict[str, Any] = {}
    for prefix, what in (("from", "The first day"), ("to", "The last day")):
        f = fields[prefix]
        when, error, part = date_from_fields(f["day"], f["month"], f["year"], what)
        days[prefix] = when
        if error:
            errors.append({"href": f"#{prefix}-{part or 'day'}", "text": error})
            marks[prefix] = {"error": error, "field": part}
    if not errors:
        try:
            window(days["from"], days["to"])
        except RequestValidationError as exc:
            message = str(exc.errors()[0]["msg"])
            errors.append({"href": "#from-day", "text": message})
            marks["from"] = {"error": message, "field": None}
    return days, errors, marks


@router.get("/monitoring", response_class=HTMLResponse)
@heavy
def monitoring_page(
    request: Request,
    conn: Connection,
    caller: MonitorPage,
    la_code: LaCode = None,
    from_day: Annotated[Part, Query(alias="from-day")] = None,
    from_month: Annotated[Part, Query(alias="from-month")] = None,
    from_year: Annotated[Part, Query(alias="from-year")] = None,
    to_day: Annotated[Part, Query(alias="to-day")] = None,
    to_month: Annotated[Part, Query(alias="to-month")] = None,
    to_year: Annotated[Part, Query(alias="to-year")] = None,
) -> HTMLResponse:
    """How decisions went for an authority in the caller's remit (every one when none is chosen) in a window (a
    two years to today unless given); 422 with the problems at their fields for a day that is not real or a window that
    runs backwards, 403 for an authority outside the remit."""
    fields = {
        "from": {"day": text_param(from_day), "month": text_param(from_month), "year": text_param(from_year)},
        "to": {"day": text_param(to_day), "month": text_param(to_month), "year": text_param(to_year)},
    }
    days, errors, marks = _dates(fields)
    context: dict[str, Any] = {
        **page_context(request),
        "authorities": _authorities(conn, caller),
        "la_code": la_code or "",
        "fields": fields,
        "errors": errors,
        "marks": marks,
    }
    if errors:
        return templates.TemplateResponse(request, "monitoring.html", context, status_code=422)
    m, o = both_for(request, conn, caller, la_code or None, days["from"], days["to"])
    for prefix, day in (("from", m.date_from), ("to", m.date_to)):
        fields[prefix] = {"day": str(day.day), "month": str(day.month), "year": str(day.year)}
    return templates.TemplateResponse(request, "monitoring.html", {**context, **view_of(m), **outcomes_view(o)})
