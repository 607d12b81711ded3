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
            "note": "Estimates from simulated futures for planning; Monte Carlo error and 90% intervals given.",
        }


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
<h1>Sufficiency: {{ r.scenario }}</h1><p>{{ r.area|join(", ") }}; {{ r.horizon_months }} months; {{ r.simulations }} futures (seed {{ r.seed }}).
Means with Monte Carlo error and the 90% range of the futures. Planning estimates, not predictions of any child.</p>
<h2>Demand and supply by month</h2>
{% for m in range(r.horizon_months) %}<div class="row"><span class="lbl">month {{ m + 1 }}</span>
<span class="b" style="width:{{ 4 * r.summary.monthly.demand[m] / scale }}rem" title="demand"></span>
<span class="b v" style="width:{{ 4 * r.summary.monthly.vacancies[m] / scale }}rem" title="vacancies"></span>
<span class="b u" style="width:{{ 4 * r.summary.monthly.unmet[m] / scale }}rem" title="unmet"></span>
<span class="n">demand {{ r.summary.monthly.demand[m] }}, vacant places {{ r.summary.monthly.vacancies[m] }}, unmet {{ r.summary.monthly.unmet[m] }}</span></div>{% endfor %}
<p class="n">blue: children needing a foster placement; green: vacant places; red: not placed.</p>
<h2>Headline</h2><table><tr><th></th><th>mean</th><th>MC error</th><th>5%</th><th>95%</th>{% if r.difference_from_baseline %}<th>vs baseline</th><th>90% range</th>{% endif %}</tr>
{% for k, e in r.summary.headline.items() %}<tr><th>{{ k }}</th><td>{{ "{:,.1f}".format(e.mean) }}</td><td>{{ "{:,.2f}".format(e.mc_error) }}</td><td>{{ "{:,.0f}".format(e.low) }}</td><td>{{ "{:,.0f}".format(e.high) }}</td>
{% if r.difference_from_baseline %}{% set d = r.difference_from_baseline[k] %}<td>{{ "{:+,.1f}".format(d.mean) }}</td><td>{{ "{:+,.0f}".format(d.low) }} to {{ "{:+,.0f}".format(d.high) }}</td>{% endif %}</tr>{% endfor %}</table>
{% if r.baseline %}<h2>What-if against the baseline</h2>{% set top = [r.baseline.headline.unmet.mean, r.summary.headline.unmet.mean, 1]|max %}
{% for label, v in [("baseline: unmet", r.baseline.headline.unmet.mean), (r.scenario ~ ": unmet", r.summary.headline.unmet.mean)] %}
<div class="row"><span class="lbl">{{ label }}</span><span class="b u" style="width:{{ 20 * v / top }}rem"></span><span class="n">{{ "%.1f"|format(v) }}</span></div>{% endfor %}
{% set ctop = [r.baseline.headline.cost.mean, r.summary.headline.cost.mean, 1]|max %}
{% for label, v in [("baseline: cost", r.baseline.headline.cost.mean), (r.scenario ~ ": cost", r.summary.headline.cost.mean)] %}
<div class="row"><span class="lbl">{{ label }}</span><span class="b" style="width:{{ 20 * v / ctop }}rem"></span><span class="n">£{{ "{:,.0f}".format(v) }}</span></div>{% endfor %}
<p class="n">Difference in unmet demand: {{ "%+.1f"|format(r.difference_from_baseline.unmet.mean) }} (Monte Carlo error {{ "%.2f"|format(r.difference_from_baseline.unmet.mc_error) }}; 90% of futures {{ "%+.0f"|format(r.difference_from_baseline.unmet.low) }} to {{ "%+.0f"|format(r.difference_from_baseline.unmet.high) }}).</p>{% endif %}
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
    return env.from_string(_REPORT).render(r=_Obj(data), scale=scale)


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
