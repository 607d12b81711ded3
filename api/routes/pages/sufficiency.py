"""Sufficiency for commissioning leads: choose or edit a scenario in a form, run it as a job (as
``POST /v1/sufficiency/runs`` does), watch its progress, then read demand against places by month, the what-if
against its baseline with its range, unmet need by age band and by need, and the bottlenecks.

The form is checked by the API's own model (:class:`api.limits.ScenarioIn`) and the store's
(:func:`matching.sufficiency.service.area_las`): the problems are the API's 422 messages, each shown at its field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool

from api import jobs
from api.auth import Access, Caller
from api.charts import Band, Series, bar_chart, line_chart
from api.errors import validation_problems
from api.limits import ScenarioIn
from api.offload import heavy
from api.routes.pages.common import JOB_STATES, check_csrf, read_form_lists, recent_jobs, when_text
from api.templating import page_context, templates
from matching.access import Permission
from matching.jobs import Job
from matching.jobs import store as job_store
from matching.jobs.kinds import sufficiency_parameters
from matching.paths import DATA_DIR
from matching.store import schema
from matching.sufficiency.scenario import Scenario, ScenarioError, load_scenario
from matching.sufficiency.service import LABELS, area_las
from matching.taxonomy import load_taxonomy

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

KIND, NOUN = "sufficiency", "sufficiency run"
PLANNER_PAGE = Access(Permission.SUFFICIENCY, page=True)
PlannerPage = Annotated[Caller, Depends(PLANNER_PAGE)]
SCENARIOS_DIR = DATA_DIR / "scenarios"
#: The scenario form's size: its text (the description may be long) and its fields (a course checkbox each).
MAX_FORM_BYTES = 32_768
MAX_FORM_FIELDS = 400
#: Groups of new households the form offers at most (the scenario format allows more: the API takes them).
MAX_RECRUIT_ROWS = 5
#: Recent runs listed under the form.
RECENT = 10
#: The headline measures a page shows, in children (cost is in pounds, apart).
CHILD_MEASURES = ("entries", "moves", "step_down", "step_down_placed", "demand", "placed", "unmet", "residential")
AGE_BAND_WORDS = {"0-4": "0 to 4", "5-10": "5 to 10", "11-15": "11 to 15", "16-17": "16 or 17"}
#: The scenario's plain fields: the form's field id, its label and its hint.
PLAIN_FIELDS: dict[str, tuple[str, str]] = {
    "name": ("Name of the scenario", "Shown in your list of runs."),
    "description": ("What the scenario tests (optional)", ""),
    "horizon_months": ("Months ahead", "From 1 to 36."),
    "simulations": ("Simulated futures", "More futures give steadier averages but take longer."),
    "seed": ("Random seed", "The same seed and settings give the same futures."),
    "coverage_threshold": (
        "Need coverage a match must reach",
        "A number from 0 to 1: how well a household must cover the child's assessed needs (0.5 is half).",
    ),
    "deregistration_per_month": (
        "Households leaving each month",
        "A share of households without a child, from 0 to 0.5 (0.009 is about 10% a year).",
    ),
    "approvals_per_month": (
        "New households approved each month (optional)",
        "Leave empty to use the last year's approvals in the data.",
    ),
    "demand_growth": (
        "Change in children entering care",
        "A share: 0.1 is 10% more children than the data's rate, -0.1 is 10% fewer.",
    ),
    "training_renewal": (
        "Share of households renewing training before it expires",
        "A number from 0 to 1.",
    ),
    "step_down": (
        "Children stepping down from children's homes to foster families",
        "Spread over the months ahead: extra children needing a foster family.",
    ),
    "widen_ages": (
        "Households whose approval widens to ages 0 to 17",
        "Existing households approved for a narrower age range.",
    ),
}
RATE_FIELDS = ("deregistration_per_month", "approvals_per_month", "demand_growth", "training_renewal")
RECRUIT_FIELDS = {
    "households": "number of households",
    "youngest": "youngest child",
    "oldest": "oldest child",
    "places": "places each",
    "la": "where they live",
    "courses": "training",
}
_PATH = re.compile(r"^(?:Value error, )?([a-z_]+(?:\.[a-z0-9_]+)*): (.+)$", re.S)


# --- the bundled scenarios and the form ---------------------------------------------------------------------


@functools.cache
def bundled() -> dict[str, Scenario]:
    """The scenarios shipped in data/scenarios/, by name, the baseline first."""
    found = {s.name: s for s in (load_scenario(p) for p in sorted(SCENARIOS_DIR.glob("*.yaml")))}
    return dict(sorted(found.items(), key=lambda item: (item[0] != "baseline", item[0])))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@dataclass
class ScenarioForm:
    """The scenario form as shown or sent: each field's text by its id, the boxes ticked in each group of
    checkboxes, and how many groups of new households it has."""

    values: dict[str, str] = field(default_factory=dict)
    checked: dict[str, set[str]] = field(default_factory=dict)
    recruit_rows: int = 1

    def value(self, name: str) -> str:
        """The text of field ``name`` ("" when empty)."""
        return self.values.get(name, "")

    def ticked(self, name: str) -> set[str]:
        """The boxes ticked in checkbox group ``name``."""
        return self.checked.get(name, set())

    def recruit_empty(self, row: int) -> bool:
        """True when the group of new households in ``row`` asks for none (nothing but the defaults)."""
        return (
            self.value(f"recruit-{row}-households").strip() in ("", "0")
            and not self.ticked(f"recruit-{row}-courses")
            and not self.value(f"recruit-{row}-la").strip()
        )


def form_of(scenario: Scenario) -> ScenarioForm:
    """The form filled in with ``scenario`` (and one empty group of new households to add)."""
    s = scenario
    form = ScenarioForm()
    v = form.values
    v.update(name=s.name, description=s.description, horizon_months=str(s.horizon_months))
    v.update(simulations=str(s.simulations), seed=str(s.seed), coverage_threshold=_number(s.coverage_threshold))
    for rate in RATE_FIELDS:
        v[rate] = _number(getattr(s.rates, rate))
    v["step_down"] = str(s.levers.step_down.children) if s.levers.step_down else ""
    v["widen_ages"] = str(s.levers.widen_ages) if s.levers.widen_ages else ""
    form.checked["las"] = set(s.area.las)
    recruits = s.levers.recruit[:MAX_RECRUIT_ROWS]
    form.recruit_rows = min(MAX_RECRUIT_ROWS, len(recruits) + 1)
    for row in range(form.recruit_rows):
        r = recruits[row] if row < len(recruits) else None
        v[f"recruit-{row}-households"] = str(r.households) if r else ""
        v[f"recruit-{row}-youngest"] = str(r.ages[0] if r else 0)
        v[f"recruit-{row}-oldest"] = str(r.ages[1] if r else 17)
        v[f"recruit-{row}-places"] = str(r.places if r else 2)
        v[f"recruit-{row}-la"] = (r.la or "") if r else ""
        form.checked[f"recruit-{row}-courses"] = set(r.courses) if r else set()
    trained: dict[str, int] = {}
    for t in s.levers.train:
        trained[t.course] = trained.get(t.course, 0) + t.households
    for course in load_taxonomy().course_ids:
        v[f"train-{course}"] = str(trained[course]) if course in trained else ""
    return form


def form_from(fields: Mapping[str, Sequence[str]]) -> ScenarioForm:
    """The form as sent (the first value of each field; every value of a checkbox group)."""
    form = ScenarioForm()
    rows = {
        int(m.group(1)) for k in fields if (m := re.match(r"^recruit-(\d)-", k)) and int(m.group(1)) < MAX_RECRUIT_ROWS
    }
    form.recruit_rows = max(rows, default=0) + 1
    groups = {"las", *(f"recruit-{row}-courses" for row in range(form.recruit_rows))}
    for name, sent in fields.items():
        if name in groups:
            form.checked[name] = {x for x in sent if x}
        elif sent:
            form.values[name] = sent[0][:2000]
    return form


@dataclass(frozen=True)
class Body:
    """The scenario the form stands for, as the API's body, and where its lists' items are on the form."""

    body: dict[str, Any]
    recruit_rows: list[int]
    train_courses: list[str]


def body_of(form: ScenarioForm) -> Body:
    """The API's body for the scenario the form stands for (empty optional fields left to the defaults)."""
    v = {k: x.strip() for k, x in form.values.items()}
    body: dict[str, Any] = {
        "name": v.get("name", ""),
        "description": v.get("description", ""),
        "area": {"las": sorted(form.ticked("las"))},
    }
    for name in ("horizon_months", "simulations", "seed", "coverage_threshold"):
        if v.get(name):
            body[name] = v[name]
    rates = {name: v[name] for name in RATE_FIELDS if v.get(name)}
    if rates:
        body["rates"] = rates
    levers: dict[str, Any] = {}
    recruit_rows = [row for row in range(form.recruit_rows) if not form.recruit_empty(row)]
    if recruit_rows:
        levers["recruit"] = [
            {
                "households": v.get(f"recruit-{row}-households", ""),
                "ages": [v.get(f"recruit-{row}-youngest", ""), v.get(f"recruit-{row}-oldest", "")],
                "places": v.get(f"recruit-{row}-places", ""),
                "courses": sorted(form.ticked(f"recruit-{row}-courses")),
                **({"la": v[f"recruit-{row}-la"]} if v.get(f"recruit-{row}-la") else {}),
            }
            for row in recruit_rows
        ]
    train_courses = [c for c in load_taxonomy().course_ids if v.get(f"train-{c}", "") not in ("", "0")]
    if train_courses:
        levers["train"] = [{"households": v[f"train-{c}"], "course": c} for c in train_courses]
    if v.get("step_down", "") not in ("", "0"):
        levers["step_down"] = {"children": v["step_down"]}
    if v.get("widen_ages", "") not in ("", "0"):
        levers["widen_ages"] = v["widen_ages"]
    if levers:
        body["levers"] = levers
    return Body(body, recruit_rows, train_courses)


def _field(loc: Sequence[str | int], body: Body) -> str:
    """The form's field for a problem at ``loc`` in the scenario."""
    head = loc[0] if loc else ""
    if head in ("name", "description", "horizon_months", "simulations", "seed", "coverage_threshold"):
        return str(head)
    if head == "area":
        return "las"
    if head == "rates":
        return str(loc[1]) if len(loc) > 1 and loc[1] in RATE_FIELDS else RATE_FIELDS[0]
    if head != "levers" or len(loc) < 2:
        return "name"
    kind = loc[1]
    index = loc[2] if len(loc) > 2 and isinstance(loc[2], int) else 0
    if kind == "recruit":
        row = body.recruit_rows[index] if index < len(body.recruit_rows) else 0
        part = str(loc[3]) if len(loc) > 3 else "households"
        if part == "ages":
            part = "oldest" if len(loc) > 4 and loc[4] == 1 else "youngest"
        return f"recruit-{row}-{part if part in RECRUIT_FIELDS else 'households'}"
    if kind == "train" and body.train_courses:
        return f"train-{body.train_courses[min(index, len(body.train_courses) - 1)]}"
    return "step_down" if kind == "step_down" else "widen_ages"


def _path(text: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in text.split(".")]


def label_of(field_id: str) -> str:
    """The words a field is known by in an error message."""
    if field_id in PLAIN_FIELDS:
        return PLAIN_FIELDS[field_id][0]
    if field_id == "las":
        return "Authorities"
    if m := re.match(r"^recruit-(\d+)-(\w+)$", field_id):
        return f"New households, group {int(m.group(1)) + 1}: {RECRUIT_FIELDS.get(m.group(2), m.group(2))}"
    if field_id.startswith("train-"):
        course = load_taxonomy().courses.get(field_id[6:])
        return f"Households trained in {course.label if course else field_id[6:]}"
    return field_id


def form_errors(problems: Sequence[Mapping[str, Any]], body: Body) -> list[dict[str, str]]:
    """The API's 422 problems (``{"loc", "msg"}``) as the error summary's entries, one a field, each at its
    field: the field's name, then the API's message (without the path it names)."""
    out: dict[str, dict[str, str]] = {}
    for p in problems:
        loc = [x for x in p.get("loc", ()) if x != "body"]
        msg = str(p.get("msg", "invalid"))
        if m := _PATH.match(msg):
            loc, msg = _path(m.group(1)), m.group(2)
        msg = msg.removeprefix("Value error, ")
        if len(loc) == 3 and loc[1] == "recruit" and msg.startswith("ages"):  # the group's own check of its ages
            loc = [*loc, "ages"]
        where = _field(loc, body)
        out.setdefault(where, {"field": where, "href": f"#{where}", "text": f"{label_of(where)}: {msg}"})
    return list(out.values())


def check(form: ScenarioForm) -> tuple[ScenarioIn | None, Body, list[dict[str, str]]]:
    """The scenario, checked by the API's model (within the API's limits), or the problems at their fields."""
    body = body_of(form)
    try:
        return ScenarioIn.model_validate(body.body), body, []
    except ValidationError as exc:
        return None, body, form_errors(validation_problems(exc.errors()), body)


async def read_scenario_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded scenario form (a checkbox a course and group): every value of each field, its CSRF token
    checked."""
    fields = await read_form_lists(request, MAX_FORM_FIELDS, MAX_FORM_BYTES)
    check_csrf(request, {"csrf_token": (fields.get("csrf_token") or [""])[0]})
    return fields


# --- the form page --------------------------------------------------------------------------------------------


def recent_runs(conn: Connection, caller: Caller) -> list[dict[str, Any]]:
    """The caller's latest sufficiency runs they may still read (newest first)."""
    out = []
    for job in recent_jobs(conn, caller, KIND, RECENT):
        scenario = job.parameters.get("scenario") or {}
        out.append(
            {
                "id": job.job_id,
                "name": str(scenario.get("name", "")),
                "area": ", ".join(sorted(job.area)),
                "months": scenario.get("horizon_months"),
                "futures": scenario.get("simulations"),
                "status": job.state,
                "progress": job.progress,
                "created": when_text(job.created_at),
            }
        )
    return out


def _authorities(conn: Connection, caller: Caller) -> list[tuple[str, str]]:
    la = schema.local_authority
    remit = sorted(caller.principal.remit.la_codes)
    found = conn.execute(select(la.c.la_code, la.c.name).where(la.c.la_code.in_(remit)))
    names: dict[str, str] = {str(code): str(name or "") for code, name in found}
    return [(code, f"{names[code]} ({code})" if names.get(code) else code) for code in remit]


def form_page(
    request: Request,
    conn: Connection,
    caller: Caller,
    form: ScenarioForm,
    chosen: str,
    errors: Sequence[Mapping[str, str]] = (),
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page: the bundled scenarios to choose from, the form (filled in), the caller's recent runs."""
    taxonomy = load_taxonomy()
    return templates.TemplateResponse(
        request,
        "sufficiency.html",
        {
            **page_context(request),
            "scenarios": bundled(),
            "chosen": chosen,
            "form": form,
            "fields": PLAIN_FIELDS,
            "errors": list(errors),
            "error_for": {e["field"]: e["text"] for e in errors},
            "authorities": _authorities(conn, caller),
            "courses": [(c, taxonomy.courses[c].label) for c in taxonomy.course_ids],
            "runs": recent_runs(conn, caller),
            "tags": JOB_STATES,
        },
        status_code=status,
        headers=dict(headers or {}),
    )


@router.get("/sufficiency", response_class=HTMLResponse)
@heavy
def sufficiency_form(
    request: Request,
    conn: Connection,
    caller: PlannerPage,
    scenario: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    """Choose a bundled scenario or edit one (the form is filled in with the chosen one); your recent runs."""
    if scenario is not None and scenario not in bundled():
        error = {"field": "scenario", "href": "#scenario", "text": "Choose a scenario from the list"}
        return form_page(request, conn, caller, form_of(bundled()["baseline"]), "baseline", [error], 422)
    chosen = scenario or "baseline"
    return form_page(request, conn, caller, form_of(bundled()[chosen]), chosen)


@router.post("/sufficiency", response_class=HTMLResponse)
async def run_scenario_form(request: Request, caller: PlannerPage) -> Response:
    """Check the form (CSRF, then the API's own rules) and start the run as a job, as
    ``POST /v1/sufficiency/runs`` does; 303 to the run's page.  Problems: the form again with an error summary
    (422); an authority outside the remit: 403; a full queue: the form again with the reason (429)."""
    fields = await read_scenario_form(request)
    form = form_from(fields)
    chosen = (fields.get("chosen") or ["baseline"])[0]
    scenario, body, errors = check(form)

    def start() -> Response:
        engine = request.app.state.engine
        with engine.connect() as conn:
            if scenario is None:
                return form_page(request, conn, caller, form, chosen, errors, 422)
            try:
                area = frozenset(area_las(conn, scenario))
            except ScenarioError as exc:
                problems = [{"loc": _path(str(exc).split(":", 1)[0]), "msg": str(exc)}]
                return form_page(request, conn, caller, form, chosen, form_errors(problems, body), 422)
            if outside := sorted(area - caller.principal.remit.la_codes):
                raise HTTPException(
                    status_code=403, detail=f"the area has authorities outside your remit: {', '.join(outside)}"
                )
            caller.note.detail = f"area {', '.join(sorted(area))}"
            try:
                jobs.ensure_room(request, caller)
                caller.audit_now(request.app.state.audit, 303)  # a batch over children starts only once it is recorded
                job = jobs.submit(request, caller, KIND, sufficiency_parameters(scenario), area)
            except HTTPException as exc:
                if exc.status_code != 429:
                    raise
                full = {"field": "", "href": "", "text": f"The run was not started: {exc.detail}. Wait for one of "
                        "your runs to finish, or cancel one below, then run it again."}  # fmt: skip
                return form_page(request, conn, caller, form, chosen, [full], 429, exc.headers)
        return RedirectResponse(f"/pages/sufficiency/{job.job_id}", status_code=303)

    return await run_in_threadpool(start)


# --- a run's page ---------------------------------------------------------------------------------------------


def _f1(value: float) -> str:
    return f"{value:,.1f}"


def _money(value: float) -> str:
    value = round(value) + 0
    return f"{'-' if value < 0 else ''}£{abs(value):,.0f}"


def _signed(value: float, money: bool = False) -> str:
    text = _money(abs(value)) if money else _f1(abs(value))
    return ("-" if round(value, 0 if money else 1) < 0 else "+") + text


def result_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """What the run's page shows of a result: the charts (SVG) and the same numbers as rows for their tables."""
    summary = result["summary"]
    months = int(result["horizon_months"])
    futures = int(result["simulations"])
    monthly = summary["monthly"]
    month_labels = [str(m + 1) for m in range(months)]
    demand_chart = line_chart(
        chart_id="chart-monthly",
        title="Children needing a foster family against vacant places, by month",
        description=(
            f"Averages over {futures:,} simulated futures, months 1 to {months}: children needing a foster "
            f"placement from {_f1(monthly['demand'][0])} to {_f1(monthly['demand'][-1])} a month; vacant places "
            f"from {_f1(monthly['vacancies'][0])} to {_f1(monthly['vacancies'][-1])}; children not placed from "
            f"{_f1(monthly['unmet'][0])} to {_f1(monthly['unmet'][-1])}. The table below has every month."
        ),
        x=month_labels,
        series=[
            Series("Children needing a foster placement", monthly["demand"]),
            Series("Vacant places", monthly["vacancies"]),
            Series("Children not placed", monthly["unmet"]),
        ],
        y_label="Children or places, each month",
        x_label="Month ahead",
    )
    monthly_rows = [
        [label, _f1(monthly["demand"][m]), _f1(monthly["vacancies"][m]), _f1(monthly["unmet"][m])]
        for m, label in enumerate(month_labels)
    ]
    headline = summary["headline"]
    headline_rows = []
    for key in (*CHILD_MEASURES, "siblings_separated", "cost"):
        e = headline[key]
        if key.startswith("step_down") and not headline["step_down"]["mean"]:
            continue
        money = key == "cost"
        unit = "£" if money else "sibling groups" if key == "siblings_separated" else "children"
        fmt = _money if money else _f1
        headline_rows.append(
            {
                "measure": key,
                "label": f"{LABELS[key][0].upper()}{LABELS[key][1:]} ({unit} over the {months} months)",
                "cells": [fmt(e["mean"]), _money(e["mc_error"]) if money else f"{e['mc_error']:,.2f}",
                          f"{fmt(e['low'])} to {fmt(e['high'])}"],
            }
        )  # fmt: skip
    view: dict[str, Any] = {
        "months": months,
        "futures": futures,
        "area": result.get("area") or [],
        "demand_chart": demand_chart,
        "monthly_rows": monthly_rows,
        "headline_rows": headline_rows,
        "weekly_cost": summary.get("weekly_cost") or {},
        "bottlenecks": [b["text"] for b in summary.get("bottlenecks") or []],
        "note": result.get("note", ""),
    }
    baseline = result.get("baseline")
    what_if = result.get("what_if")
    if what_if and baseline:
        difference = result.get("difference_from_baseline") or {}
        view.update(_what_if_view(what_if, difference.get("unmet_by_month"), months, futures))
    view.update(_unmet_view(summary, baseline, futures))
    return view


def _what_if_view(
    what_if: Mapping[str, Any], by_month: Mapping[str, Any] | None, months: int, futures: int
) -> dict[str, Any]:
    view: dict[str, Any] = {}
    if by_month:  # results from before it was kept have none: the table below still has every figure
        base, plus = by_month["baseline"], by_month["what_if"]
        low = [b + d for b, d in zip(base, by_month["low"], strict=True)]
        high = [b + d for b, d in zip(base, by_month["high"], strict=True)]
        labels = [str(m + 1) for m in range(len(base))]
        view["what_if_chart"] = line_chart(
            chart_id="chart-what-if",
            title="Children not placed with a foster family so far: the what-if against its baseline",
            description=(
                f"Averages over the same {futures:,} simulated futures with and without the levers, counted from the "
                f"start to the end of each month: by month {months}, baseline {_f1(base[-1])}, what-if "
                f"{_f1(plus[-1])} children. The shaded range is the baseline plus the difference in the middle 90% "
                "of futures. The table below has every month."
            ),
            x=labels,
            series=[Series("Baseline (average)", base), Series("What-if (average)", plus)],
            band=Band("Range: 90% of futures", low, high),
            y_label="Children not placed so far",
            x_label="Month ahead",
        )
        view["what_if_month_rows"] = [
            [
                label,
                _f1(base[m]),
                _f1(plus[m]),
                _signed(plus[m] - base[m]),
                f"{_signed(by_month['low'][m])} to {_signed(by_month['high'][m])}",
            ]
            for m, label in enumerate(labels)
        ]
    rows = []
    for line in what_if["lines"]:
        money = line["measure"] == "cost"
        fmt = _money if money else _f1
        low, high = line["futures_90"]
        rows.append(
            {
                "measure": line["measure"],
                "label": f"{line['label'][0].upper()}{line['label'][1:]} ({line['unit']})",
                "cells": [
                    fmt(line["baseline"]),
                    fmt(line["what_if"]),
                    _signed(line["difference"], money),
                    _money(line["standard_error"]) if money else f"{line['standard_error']:,.2f}",
                    f"{_signed(low, money)} to {_signed(high, money)}",
                ],
            }
        )
    return view | {
        "what_if": True,
        "what_if_rows": rows,
        "moves_text": what_if["moves_caused_by_lever"]["text"],
        "how_to_read": what_if["how_to_read"],
    }


def _unmet_view(summary: Mapping[str, Any], baseline: Mapping[str, Any] | None, futures: int) -> dict[str, Any]:
    bands = list(summary["unmet_by_age_band"])
    band_words = [f"{AGE_BAND_WORDS.get(b, b)} years" for b in bands]
    series = [Series("This scenario", [float(summary["unmet_by_age_band"][b]) for b in bands])]
    if baseline:
        series.append(Series("Baseline", [float(baseline["unmet_by_age_band"].get(b, 0.0)) for b in bands]))
    by_band = bar_chart(
        chart_id="chart-age-band",
        title="Children not placed with a foster family, by age band",
        description=(
            f"Average over {futures:,} futures, over the whole horizon: "
            + "; ".join(
                f"{w}: " + ", ".join(f"{s.name.lower()} {_f1(s.values[i] or 0)}" for s in series)
                for i, w in enumerate(band_words)
            )
            + ". The table below has the same numbers."
        ),
        categories=band_words,
        series=series,
        y_label="Children not placed",
        x_label="Age band",
    )
    band_rows = [[w, *(_f1(s.values[i] or 0) for s in series)] for i, w in enumerate(band_words)]
    taxonomy = load_taxonomy()
    needs = sorted(summary["unmet_by_need"].items(), key=lambda item: -item[1])
    base_need = (baseline or {}).get("unmet_by_need") or {}
    need_names = [taxonomy.needs[n].label if n in taxonomy.needs else n.replace("_", " ") for n, _ in needs]
    need_series = [Series("This scenario", [float(v) for _, v in needs])]
    if baseline:
        need_series.append(Series("Baseline", [float(base_need.get(n, 0.0)) for n, _ in needs]))
    top = min(len(needs), 6)
    by_need = bar_chart(
        chart_id="chart-need",
        title="Children not placed with a foster family, by need (the six most common)",
        description=(
            f"Average over {futures:,} futures of children not placed who have each need (a child may have "
            "several): "
            + "; ".join(f"{need_names[i]} {_f1(needs[i][1])}" for i in range(top))
            + ". The table below lists every need."
        ),
        categories=[str(i + 1) for i in range(top)],
        series=[Series(s.name, list(s.values[:top])) for s in need_series],
        y_label="Children not placed",
        x_label="Need (numbered as in the table below)",
    )
    need_rows = [[str(i + 1), need_names[i], *(_f1(s.values[i] or 0) for s in need_series)] for i in range(len(needs))]
    return {
        "band_chart": by_band,
        "band_rows": band_rows,
        "need_chart": by_need if needs else None,
        "need_rows": need_rows,
        "series_names": [s.name for s in series],
    }


def _scenario_summary(job: Job) -> dict[str, Any]:
    s = job.parameters.get("scenario") or {}
    levers = s.get("levers") or {}
    pulled = []
    for r in levers.get("recruit") or []:
        ages = r.get("ages") or [0, 17]
        pulled.append(f"recruit {r.get('households')} households for ages {ages[0]} to {ages[1]}, "
                      f"{r.get('places', 2)} places each")  # fmt: skip
    for t in levers.get("train") or []:
        course = load_taxonomy().courses.get(t.get("course"))
        pulled.append(f"train {t.get('households')} households in {course.label if course else t.get('course')}")
    if levers.get("step_down"):
        pulled.append(f"{levers['step_down'].get('children')} children step down from children's homes")
    if levers.get("widen_ages"):
        pulled.append(f"widen {levers['widen_ages']} households' approval to ages 0 to 17")
    return {
        "name": s.get("name", ""),
        "description": s.get("description", ""),
        "months": s.get("horizon_months"),
        "futures": s.get("simulations"),
        "seed": s.get("seed"),
        "levers": pulled,
    }


@router.get("/sufficiency/{job_id}", response_class=HTMLResponse)
@heavy
def run_page(request: Request, job_id: str, caller: PlannerPage) -> HTMLResponse:
    """A run of the caller's: its progress while it waits or runs (the page refreshes itself), then its results
    as charts with their tables and the bottlenecks; what happened if it failed, was cancelled or interrupted.
    404 for anyone else's run."""
    job = jobs.job_for(request, job_id[:64], KIND, caller, NOUN)
    result = job.result if job.state == job_store.DONE else None
    error = job.error
    view = None
    if result is not None and "error" in result and "summary" not in result:
        error = str(result["error"])
    elif result is not None:
        view = result_view(result)
    return templates.TemplateResponse(
        request,
        "sufficiency_run.html",
        {
            **page_context(request),
            "job": job,
            "tag": JOB_STATES.get(job.state, (job.state, "govuk-tag--grey")),
            "running": job.state in (job_store.QUEUED, job_store.RUNNING),
            "scenario": _scenario_summary(job),
            "error": error,
            "view": view,
        },
    )


@router.post("/sufficiency/{job_id}/cancel", response_class=HTMLResponse)
async def cancel_run(request: Request, job_id: str, caller: PlannerPage) -> Response:
    """Cancel a run of the caller's (the form carries its CSRF token), as ``DELETE /v1/sufficiency/runs/{id}``;
    back to its page, which says it was cancelled (or how it ended, if it ended first)."""
    await read_scenario_form(request)  # checks the form's CSRF token

    def cancel() -> None:
        try:
            jobs.cancel(request, job_id[:64], KIND, caller, NOUN)
        except HTTPException as exc:
            if exc.status_code != 409:  # it ended first: its page says how
                raise

    await run_in_threadpool(cancel)
    return RedirectResponse(f"/pages/sufficiency/{job_id[:64]}", status_code=303)


@router.post("/sufficiency/{job_id}/restart", response_class=HTMLResponse)
async def restart_run(request: Request, job_id: str, caller: PlannerPage) -> Response:
    """Queue an interrupted run of the caller's again with the same scenario (the form carries its CSRF token), as
    ``POST /v1/sufficiency/runs/{id}/restart``; back to its page."""
    await read_scenario_form(request)  # checks the form's CSRF token
    again = await run_in_threadpool(jobs.restart, request, job_id[:64], KIND, caller, NOUN)
    return RedirectResponse(f"/pages/sufficiency/{again.job_id}", status_code=303)
