"""The cohort as a CSV (one row per child) and as a self-contained HTML report with a chart by stage."""

from __future__ import annotations

import csv
import io

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from matching.codes import place_label
from matching.stepdown.assess import STAGE_LABELS, STAGES, Candidate, Cohort
from matching.wording import counted

CSV_COLUMNS = (
    "child_id", "la_code", "place", "stage", "score", "wishes", "first_blocker", "next_action",
    "candidates", "weekly_cost_now", "weekly_cost_candidate", "annual_saving", "note",
)  # fmt: skip

_COLOURS = {
    "not_yet_ready": "#b8463f",
    "building_readiness": "#d9a03f",
    "ready_to_start_matching": "#3f8f5a",
    "in_transition": "#3f6fb8",
    "stepped_down": "#6b4fa0",
}

#: The report's only style: one ``<style>`` element and no ``style`` attribute, so a page serving it can allow
#: this exact text by its hash in a Content-Security-Policy and nothing else inline.
REPORT_CSS = """
 body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 72rem; }
 svg.bar { display: block; width: 100%; height: 2.2rem; border-radius: 4px; margin: .5rem 0 1rem; }
 svg.bar text { fill: #fff; font-size: .8rem; }
 table { border-collapse: collapse; width: 100%; font-size: .85rem; }
 table.counts { width: auto; }
 th, td { text-align: left; border-bottom: 1px solid #ddd; padding: .3rem .4rem; vertical-align: top; }
 .stage { color: #fff; border-radius: 3px; padding: 0 .3rem; white-space: nowrap; }
 .muted { color: #666; }
""" + "".join(f" .stage.{s} {{ background: {c}; }}\n" for s, c in _COLOURS.items())

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Step-down readiness {{ cohort.assessed_on }}</title>
<style>{{ css }}</style></head><body>
<h1>Step-down readiness</h1>
<p class="muted">Assessed on {{ cohort.assessed_on }} from the homes' monthly progress records. Decision support: a named
officer decides, with the child. {{ total }} children.</p>
<p class="muted" id="model-note">Learned step-down estimate: {{ cohort.model_note }}</p>
<h2>Cohort by stage</h2>
<svg class="bar" role="img" aria-label="{% for s, n in counts %}{{ labels[s] }} {{ n }}; {% endfor %}">
{% for s, n, x, w in segments %}<svg x="{{ x }}%" width="{{ w }}%" height="100%"><title>{{ labels[s] }}: {{ n }}</title>
<rect width="100%" height="100%" fill="{{ colours[s] }}"/><text x="5" y="60%">{{ labels[s] }} {{ n }}</text></svg>{% endfor %}</svg>
<table class="counts"><tr>{% for s, n in counts %}<th><span class="stage {{ s }}">{{ labels[s] }}</span></th>{% endfor %}</tr>
<tr>{% for s, n in counts %}<td>{{ n }}</td>{% endfor %}</tr></table>
<h2>Value for money</h2>
<p>Weekly cost now £{{ "{:,}".format(costs.weekly_now) }}; if every child with a family option moved to it,
£{{ "{:,}".format(costs.weekly_if_ready_children_move) }}: £{{ "{:,}".format(costs.annual_difference) }} a year
({{ costs.children_with_a_family_option }} children). Costs from data/stepdown/costs.yaml.</p>
<h2>Children</h2>
<table><thead><tr><th>child</th><th>stage</th><th>score</th><th>the child's wishes</th><th>first blocker</th>
<th>next action</th><th>family options</th><th>£/week now → option</th></tr></thead><tbody>
{% for a in children %}<tr><td>{{ a.child_id }}<br><span class="muted">{{ a.la_code }} {{ place(a.place) }}</span></td>
<td><span class="stage {{ a.stage }}">{{ labels[a.stage] }}</span></td>
<td>{{ "%.0f"|format(a.score) }}</td><td>{{ a.wishes }}</td><td>{{ a.blockers[0] if a.blockers else "" }}</td>
<td>{{ a.actions[0] if a.actions else "" }}</td>
<td>{% for c in a.candidates %}{{ c.kind.replace("_", " ") }}{% if c.household_id %} {{ c.household_id }}{% endif %}{% if c.score %} ({{ "%.0f"|format(c.score) }}){% endif %}{% if c.p_success is not none %}, {{ "%.0f"|format(100 * c.p_success) }}% estimated still there at 52 weeks{% endif %}{% if c.offered_to_others is not none %} <span class="muted">{{ offers(c) }}</span>{% endif %}<br>{% endfor %}</td>
<td>{{ "{:,.0f}".format(a.weekly_cost_now) }}{% if a.weekly_cost_candidate is not none %} → {{ "{:,.0f}".format(a.weekly_cost_candidate) }}{% endif %}</td></tr>
{% endfor %}</tbody></table>
{% if cohort.proposal %}<h2>A proposal within every family's vacancies</h2>
<p class="muted">Each child's family options above are ranked for that child alone, and one family may be offered to
several children. This proposal places as many ready children as the families' vacancies allow, then the best fit,
with the allocation engine ({{ cohort.proposal.status }}). {{ cohort.proposal.note }}</p>
<table><thead><tr><th>child</th><th>proposed</th><th>fit score</th></tr></thead><tbody>
{% for m in cohort.proposal.moves %}<tr><td>{{ m.child_id }}</td><td>{{ m.kind.replace("_", " ") }}{% if m.household_id %} {{ m.household_id }}{% endif %}</td>
<td>{% if m.score is not none %}{{ "%.0f"|format(m.score) }}{% endif %}</td></tr>
{% endfor %}{% for u in cohort.proposal.unplaced %}<tr><td>{{ u.child_id }}</td><td>no family in this proposal</td><td>{{ u.detail }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
</body></html>
"""

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def cohort_csv(cohort: Cohort) -> str:
    """One row per child: stage, score, wishes, the first blocker and action, options and costs."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for a in cohort.children:
        w.writerow(
            [
                a.child_id, a.la_code, a.place, a.stage, f"{a.score:.0f}", a.wishes,
                a.blockers[0] if a.blockers else "", a.actions[0] if a.actions else "",
                ";".join(f"{c.kind}:{c.household_id or ''}" for c in a.candidates),
                f"{a.weekly_cost_now:.0f}", "" if a.weekly_cost_candidate is None else f"{a.weekly_cost_candidate:.0f}",
                "" if a.annual_saving is None else f"{a.annual_saving:.0f}", a.note or "",
            ]
        )  # fmt: skip
    return buf.getvalue()


#: govuk-frontend's tag colour for each stage (the service's pages; each has accessible contrast).
STAGE_TAGS = {
    "not_yet_ready": "govuk-tag--red",
    "building_readiness": "govuk-tag--yellow",
    "ready_to_start_matching": "govuk-tag--green",
    "in_transition": "govuk-tag--blue",
    "stepped_down": "govuk-tag--purple",
}


def cohort_view(cohort: Cohort, stage: str | None = None) -> dict[str, object]:
    """What a page of the cohort shows: counts and chart segments by stage, costs, the children (of ``stage``)
    in order of stage then score, and the helpers for their text."""
    counts = cohort.counts()
    order = {s: i for i, s in enumerate(STAGES)}
    children = sorted(cohort.children, key=lambda a: (-order[a.stage], -a.score, a.child_id))
    if stage is not None:
        children = [a for a in children if a.stage == stage]
    total = max(1, len(cohort.children))
    segments, x = [], 0.0
    for s in STAGES:
        if counts[s]:
            w = 100 * counts[s] / total
            segments.append((s, counts[s], round(x, 3), round(w, 3)))
            x += w
    return {
        "cohort": cohort,
        "counts": [(s, counts[s]) for s in STAGES],
        "segments": segments,
        "labels": STAGE_LABELS,
        "tag": STAGE_TAGS,
        "costs": cohort.costs(),
        "children": children,
        "offers": offers_text,
        "place": place_label,
    }


def cohort_html(cohort: Cohort) -> str:
    """The cohort report: a chart of children by stage, value for money, and every child's summary."""
    view = cohort_view(cohort)
    return _ENV.from_string(_TEMPLATE).render(
        css=Markup(REPORT_CSS), total=max(1, len(cohort.children)), colours=_COLOURS, **view
    )


def offers_text(c: Candidate) -> str:
    """How contested a family is, in plain words: its places and the other ready children it is offered to."""
    places = "" if c.vacancies is None else f"{counted(c.vacancies, 'place')}; "
    others = c.offered_to_others or 0
    if not others:
        return f"({places}offered to no other ready child)"
    return f"({places}also offered to {counted(others, 'other ready child', 'other ready children')})"
