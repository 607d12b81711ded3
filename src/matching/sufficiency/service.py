"""A sufficiency run end to end: the scenario's area, its futures, the baseline beside it, and the outputs."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlalchemy import Connection, select

from matching import codes
from matching.store import schema
from matching.sufficiency.model import build_inputs
from matching.sufficiency.run import HEADLINES, Progress, compare, run_futures, summarise
from matching.sufficiency.scenario import Levers, Scenario, ScenarioError
from matching.sufficiency.simulate import SEED_SCHEME

# What each measure counts, in plain words (children over the horizon; cost in pounds over the horizon).
LABELS = {
    "entries": "children entering care",
    "moves": "children moving on after a placement ended",
    "step_down": "children stepping down from children's homes",
    "step_down_placed": "of whom placed with a foster family",
    "demand": "children needing a foster placement (all of the above)",
    "placed": "placed with a foster family",
    "unmet": "not placed with a foster family (unmet demand)",
    "residential": "needing a children's home instead",
    "siblings_separated": "sibling groups separated",
    "cost": "placement cost",
}
PAIRED = (
    "Each future is simulated twice on the same random draws, once as the baseline and once with the levers: "
    "the same children enter care in both, and every draw the levers do not touch is the same, so a difference "
    "is the levers' effect, not chance. The figure after ± is the standard error of the average difference over "
    "the {n:,} futures: with many more futures the average would very likely (95%) stay within about twice that. "
    "'90% of futures' is how much the difference itself varies from one future to another."
)


def area_las(conn: Connection, scenario: Scenario) -> list[str]:
    """The local authorities of the scenario's area (ScenarioError naming the field when unknown)."""
    la = schema.local_authority
    if scenario.area.region is not None:
        codes = sorted(conn.execute(select(la.c.la_code).where(la.c.region == scenario.area.region)).scalars())
        if not codes:
            raise ScenarioError("area.region: no such region in the store")
        return codes
    known = set(conn.execute(select(la.c.la_code).where(la.c.la_code.in_(scenario.area.las))).scalars())
    missing = [i for i, c in enumerate(scenario.area.las) if c not in known]
    if missing:
        raise ScenarioError(f"area.las.{missing[0]}: not in the store ({len(missing)} of the authorities are not)")
    return sorted(known)


@dataclass
class SufficiencyResult:
    """The scenario's summary, the baseline's (when levers are pulled), and the difference."""

    scenario: Scenario
    las: list[str]
    summary: dict[str, Any]
    baseline: dict[str, Any] | None
    difference: dict[str, Any] | None
    futures: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "scenario": self.scenario.name,
            "area": self.las,
            "horizon_months": self.scenario.horizon_months,
            "simulations": self.scenario.simulations,
            "seed": self.scenario.seed,
            "summary": self.summary,
            "baseline": self.baseline,
            "difference_from_baseline": self.difference,
            "what_if": self.what_if_lines(),
            "provenance": {
                "seed": self.scenario.seed,
                "futures": self.scenario.simulations,
                "random_numbers": SEED_SCHEME,
                "paired_with_baseline": self.difference is not None,
            },
            "note": "Estimates from simulated futures for planning, not predictions of any child. Each figure is "
            "the average over the futures, ± its standard error (how far the average could move with more "
            "futures), with the range of the middle 90% of futures.",
        }

    def what_if_lines(self) -> dict[str, Any] | None:
        """The what-if against its baseline, measure by measure, in plain words (None for a baseline run):
        baseline, what-if, the paired difference ± its standard error, and the moves the levers cause."""
        if self.difference is None:
            return None
        months = self.scenario.horizon_months
        rates = self.summary.get("weekly_cost", {})
        lines = []
        for key in ("entries", "moves", "step_down", "step_down_placed", "demand", "placed", "unmet", "residential",
                    "siblings_separated", "cost"):  # fmt: skip
            d = self.difference[key]
            if key.startswith("step_down") and not self.difference["step_down"]["what_if"]:
                continue
            money = key == "cost"
            unit = "£" if money else "sibling groups" if key == "siblings_separated" else "children"
            unit += f" over the {months} months"
            text = (
                f"{LABELS[key][0].upper()}{LABELS[key][1:]} ({unit}): baseline {figure(d['baseline'], money)}, "
                f"what-if {figure(d['what_if'], money)}, difference {figure(d['mean'], money, signed=True)} "
                f"± {figure(d['mc_error'], money, places=2)} (90% of futures {figure(d['low'], money, signed=True)} "
                f"to {figure(d['high'], money, signed=True)})"
            )
            if money and rates:
                text += (
                    f"; at £{rates['foster']:,.0f} a week in foster care and £{rates['residential']:,.0f} a week "
                    "in a children's home, from each placement to the end of the horizon"
                )
            lines.append({
                "measure": key, "label": LABELS[key], "unit": unit, "baseline": d["baseline"],
                "what_if": d["what_if"], "difference": d["mean"], "standard_error": d["mc_error"],
                "ci95": d["ci95"], "futures_90": [d["low"], d["high"]], "text": text,
            })  # fmt: skip
        mv = self.difference["moves"]
        moves = {
            "difference": mv["mean"], "standard_error": mv["mc_error"], "ci95": mv["ci95"],
            "futures_90": [mv["low"], mv["high"]],
            "text": f"Moves caused by the lever: {figure(mv['mean'], signed=True)} ± {figure(mv['mc_error'], places=2)} "
            f"children over the {months} months (90% of futures {figure(mv['low'], signed=True)} to "
            f"{figure(mv['high'], signed=True)}): the net number of placements that ended with the levers and not in the baseline "
            "(more children placed means more placements that can end), each child needing another placement. "
            "Apart from these and any children stepping down, demand is the baseline's: the same children enter care.",
        }  # fmt: skip
        return {
            "lines": lines,
            "moves_caused_by_lever": moves,
            "how_to_read": PAIRED.format(n=self.scenario.simulations),
        }


def figure(value: float, money: bool = False, *, signed: bool = False, places: int = 1) -> str:
    """A figure for the reports: children to ``places`` decimals, pounds whole; ``signed`` for a difference."""
    value = round(value, 0 if money else places) + 0.0  # no "-0.0"
    sign = ("+" if value >= 0 else "-") if signed else ("-" if value < 0 else "")
    return f"{sign}£{abs(value):,.0f}" if money else f"{sign}{abs(value):,.{places}f}"


def run_scenario(
    conn: Connection,
    scenario: Scenario,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> SufficiencyResult:
    """Simulate the scenario (and, when it pulls levers, the baseline on the same futures)."""
    las = area_las(conn, scenario)
    inp = build_inputs(conn, scenario, la_codes=las)
    runs = 1 if scenario.is_baseline else 2
    total = scenario.simulations * runs
    offset = 0

    def step(done: int, _n: int) -> None:
        if progress:
            progress(offset + done, total)

    futures = run_futures(inp, scenario.seed, scenario.simulations, scheduler=scheduler, workers=workers, progress=step)
    summary = summarise(inp, futures)
    base_summary = difference = None
    if runs == 2:
        offset = scenario.simulations
        plain = scenario.model_copy(update={"levers": Levers()})  # the same assumptions, no lever pulled
        base_inp = build_inputs(conn, plain, la_codes=las)
        base = run_futures(base_inp, scenario.seed, scenario.simulations, scheduler=scheduler, workers=workers,
                           progress=step)  # fmt: skip
        base_summary = summarise(base_inp, base)
        difference = compare(base, futures)
    return SufficiencyResult(scenario, las, summary, base_summary, difference, futures)


def futures_csv(result: SufficiencyResult) -> str:
    """One row per simulated future: the headline figures."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["future", *HEADLINES, *(f"unmet_{b}" for b in codes.AGE_BAND_NAMES)])
    for i, f in enumerate(result.futures):
        w.writerow([i, *(round(float(f[k]), 2) for k in HEADLINES), *(round(float(x), 2) for x in f["unmet_by_band"])])
    return buf.getvalue()


_REPORT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sufficiency: {{ r.scenario }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
.row{display:flex;align-items:center;gap:.5rem;margin:.15rem 0}.lbl{width:14rem;font-size:.85rem}
.b{height:1rem;background:#3f6fb8}.v{background:#3f8f5a}.u{background:#b8463f}.n{font-size:.8rem;color:#555}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:right}</style></head><body>
<h1>Sufficiency: {{ r.scenario }}</h1><p>{{ r.area|join(", ") }}; {{ r.horizon_months }} months; {{ r.simulations }} futures (seed {{ r.seed }}; random numbers: {{ r.provenance.random_numbers }}).
Each figure is the average over the futures, ± its standard error (how far the average could move with more futures: very likely within twice that), with the range of the middle 90% of futures. Planning estimates, not predictions of any child.</p>
<h2>Demand and supply by month</h2>
{% for m in range(r.horizon_months) %}<div class="row"><span class="lbl">month {{ m + 1 }}</span>
<span class="b" style="width:{{ 4 * r.summary.monthly.demand[m] / scale }}rem" title="demand"></span>
<span class="b v" style="width:{{ 4 * r.summary.monthly.vacancies[m] / scale }}rem" title="vacancies"></span>
<span class="b u" style="width:{{ 4 * r.summary.monthly.unmet[m] / scale }}rem" title="unmet"></span>
<span class="n">demand {{ r.summary.monthly.demand[m] }}, vacant places {{ r.summary.monthly.vacancies[m] }}, unmet {{ r.summary.monthly.unmet[m] }}</span></div>{% endfor %}
<p class="n">blue: children needing a foster placement; green: vacant places; red: not placed.</p>
<h2>Headline</h2><table><tr><th></th><th>average</th><th>± standard error</th><th>5% of futures</th><th>95% of futures</th></tr>
{% for k, e in r.summary.headline.items() %}<tr><th>{{ labels.get(k, k) }}{% if k == "cost" %} (£ over {{ r.horizon_months }} months){% endif %}</th><td>{{ "{:,.1f}".format(e.mean) }}</td><td>{{ "{:,.2f}".format(e.mc_error) }}</td><td>{{ "{:,.0f}".format(e.low) }}</td><td>{{ "{:,.0f}".format(e.high) }}</td></tr>{% endfor %}</table>
{% if r.what_if %}<h2>The what-if against its baseline, future by future</h2><table><tr><th></th><th>baseline</th><th>what-if</th><th>difference</th><th>± standard error</th><th>90% of futures</th></tr>
{% for l in r.what_if.lines %}<tr><th>{{ l.label }} ({{ l.unit }})</th><td>{{ "{:,.1f}".format(l.baseline) }}</td><td>{{ "{:,.1f}".format(l.what_if) }}</td><td>{{ "{:+,.1f}".format(l.difference) }}</td><td>{{ "{:,.2f}".format(l.standard_error) }}</td><td>{{ "{:+,.0f}".format(l.futures_90[0]) }} to {{ "{:+,.0f}".format(l.futures_90[1]) }}</td></tr>{% endfor %}</table>
<p>{{ r.what_if.moves_caused_by_lever.text }}</p><p class="n">{{ r.what_if.how_to_read }}</p>{% endif %}
{% if r.baseline %}<h2>What-if against the baseline</h2>{% set top = [r.baseline.headline.unmet.mean, r.summary.headline.unmet.mean, 1]|max %}
{% for label, v in [("baseline: unmet", r.baseline.headline.unmet.mean), (r.scenario ~ ": unmet", r.summary.headline.unmet.mean)] %}
<div class="row"><span class="lbl">{{ label }}</span><span class="b u" style="width:{{ 20 * v / top }}rem"></span><span class="n">{{ "%.1f"|format(v) }}</span></div>{% endfor %}
{% set ctop = [r.baseline.headline.cost.mean, r.summary.headline.cost.mean, 1]|max %}
{% for label, v in [("baseline: cost", r.baseline.headline.cost.mean), (r.scenario ~ ": cost", r.summary.headline.cost.mean)] %}
<div class="row"><span class="lbl">{{ label }}</span><span class="b" style="width:{{ 20 * v / ctop }}rem"></span><span class="n">£{{ "{:,.0f}".format(v) }}</span></div>{% endfor %}
<p class="n">Difference in unmet demand: {{ "%+.1f"|format(r.difference_from_baseline.unmet.mean) }} ± {{ "%.2f"|format(r.difference_from_baseline.unmet.mc_error) }} (standard error of the average difference over the paired futures; 90% of futures {{ "%+.0f"|format(r.difference_from_baseline.unmet.low) }} to {{ "%+.0f"|format(r.difference_from_baseline.unmet.high) }}).</p>{% endif %}
<h2>Unmet demand by need</h2>{% set top = (r.summary.unmet_by_need.values()|list or [1])|max %}
{% for need, v in r.summary.unmet_by_need.items()|sort(attribute=1, reverse=True) %}<div class="row"><span class="lbl">{{ need.replace("_", " ") }}</span>
<span class="b u" style="width:{{ 20 * v / top }}rem"></span><span class="n">{{ v }}</span></div>{% endfor %}
<h2>Bottlenecks</h2><ol>{% for b in r.summary.bottlenecks %}<li>{{ b.text }}</li>{% endfor %}</ol>
</body></html>"""


def report_html(result: SufficiencyResult) -> str:
    """A self-contained report: demand against supply by month, the headline, unmet demand by need, bottlenecks."""
    data = json.loads(json.dumps(result.as_dict()))
    monthly = data["summary"]["monthly"]
    scale = max([*monthly["demand"], *monthly["vacancies"], 1.0]) / 10
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(_REPORT).render(r=_Obj(data), scale=scale, labels=LABELS)


class _Obj(dict[str, Any]):
    """Attribute access for the template."""

    def __getattr__(self, key: str) -> Any:
        value = self[key]
        return _Obj(value) if isinstance(value, dict) else value


def write_outputs(result: SufficiencyResult, out: Path) -> list[Path]:
    """summary.json, futures.csv, bottlenecks.csv and report.html under ``out`` (written only when complete)."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "summary.json": json.dumps(result.as_dict(), indent=2),
        "futures.csv": futures_csv(result),
        "report.html": report_html(result),
    }
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["rank", "kind", "share_of_all_unmet", "text"])
    for i, b in enumerate(result.summary["bottlenecks"], start=1):
        w.writerow([i, b["kind"], b["share_of_all_unmet"], b["text"]])
    files["bottlenecks.csv"] = buf.getvalue()
    written = []
    for name, text in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out / name)
        written.append(out / name)
    return written
