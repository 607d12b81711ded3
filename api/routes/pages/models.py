"""The model cards: each learned model the service would load (``models/<kind>/LATEST``), whether this store
trusts it, and its card rendered as a page (the card's own words, its tables as GOV.UK tables, and the
calibration by band of the estimate as a chart with the same numbers in a table).

The card is the ``MODEL_CARD.md`` that training wrote beside the model; it is rendered by a small renderer that
escapes every character of the file first and then knows headings, paragraphs, bullets, pipe tables, bold,
emphasis and code only: no HTML from a file ever reaches the page.
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape
from sqlalchemy import Connection

from api.charts import Band, Series, line_chart
from api.offload import heavy
from api.pools import PoolCache
from api.routes.pages.common import SIGNED_IN
from api.templating import page_context, templates
from matching.stability.artefact import (
    KINDS,
    METADATA_FILE,
    ArtefactError,
    label,
    latest_version,
    models_dir,
    verify_model,
)
from matching.stability.scorer import model_status

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

CARD_FILE = "MODEL_CARD.md"
PREDICTIONS_FILE = "predictions.csv.gz"
#: What each kind of model is called on the pages.
TITLES = {"stability": "Placement stability estimate", "step_down": "Step-down success estimate"}
#: The outcome each kind of model estimates, as the calibration's words say it.
OUTCOMES = {"stability": "ended unplanned within 12 months", "step_down": "ended unplanned within 52 weeks"}
#: The largest card or metadata file read (a card is some 12 kB).
MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class ModelInUse:
    """A kind of model as the service finds it: its version, whether this store trusts it, and in words what
    the service does with it (the same line ``matching models list`` prints)."""

    kind: str
    name: str
    title: str
    version: str | None
    trusted: bool
    in_use: bool
    status: str
    how_trusted: str | None
    folder: Path | None

    @property
    def href(self) -> str:
        """The model card's page."""
        return f"/pages/models/{self.name}"


def models_in_use(conn: Connection, cache: PoolCache) -> list[ModelInUse]:
    """Every kind of learned model: the version its ``LATEST`` names, trusted or not (nothing is unpickled)."""
    root = models_dir()
    lines = model_status(conn, taxonomy=cache.taxonomy, root=root)
    out = []
    for kind, line in zip(KINDS, lines, strict=True):
        name = label(kind)
        try:
            version: str | None = latest_version(root, kind)
        except ArtefactError:
            version = None
        folder = root / kind / version if version else None
        try:
            how: str | None = verify_model(root, version, kind, conn=conn).trusted if version else None
        except ArtefactError:
            how = None
        in_use = version is not None and line.startswith(f"{name} model {version}: in use")
        out.append(ModelInUse(kind, name, TITLES.get(kind, name), version, how is not None, in_use, line, how, folder))
    return out


# --- the card, rendered safely -----------------------------------------------------------------------------------

_INLINE = (
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![*\w])\*([^*\s][^*]*)\*(?![*\w])"), r"<em>\1</em>"),
)


def inline(text: str) -> Markup:
    """One line of the card: escaped, then ``code``, **bold** and *emphasis* (nothing else is markup)."""
    out = str(escape(text))
    for pattern, replacement in _INLINE:
        out = pattern.sub(replacement, out)
    return Markup(out)  # every character of the file was escaped above


@dataclass(frozen=True)
class Section:
    """A ``##`` section of the card: its heading and its blocks rendered."""

    heading: str
    slug: str
    html: Markup


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(rows: list[str], caption: str) -> str:
    head, align, *body = rows
    numeric = [a.strip().endswith(":") for a in _cells(align)]
    th = "".join(
        f'<th scope="col" class="govuk-table__header{" govuk-table__header--numeric" if numeric[i : i + 1] == [True] else ""}">'
        f"{inline(c)}</th>"
        for i, c in enumerate(_cells(head))
    )
    trs = []
    for row in body:
        tds = []
        for i, c in enumerate(_cells(row)):
            num = " govuk-table__cell--numeric" if numeric[i : i + 1] == [True] else ""
            tds.append(f'<td class="govuk-table__cell{num}">{inline(c)}</td>')
        trs.append(f'<tr class="govuk-table__row">{"".join(tds)}</tr>')
    label_text = escape(caption)
    return (
        f'<div class="pm-table-wrap" tabindex="0" role="region" aria-label="{label_text}">'
        f'<table class="govuk-table govuk-body-s"><caption class="govuk-table__caption govuk-visually-hidden">'
        f"{label_text}</caption>"
        f'<thead class="govuk-table__head"><tr class="govuk-table__row">{th}</tr></thead>'
        f'<tbody class="govuk-table__body">{"".join(trs)}</tbody></table></div>'
    )


def _blocks(lines: list[str], heading: str) -> Markup:
    out: list[str] = []
    para: list[str] = []
    bullets: list[str] = []
    table: list[str] = []
    tables = 0

    def flush() -> None:
        nonlocal tables
        if para:
            out.append(f'<p class="govuk-body">{inline(" ".join(para))}</p>')
            para.clear()
        if bullets:
            items = "".join(f"<li>{inline(b)}</li>" for b in bullets)
            out.append(f'<ul class="govuk-list govuk-list--bullet">{items}</ul>')
            bullets.clear()
        if table:
            tables += 1
            if len(table) >= 2:
                out.append(_table(list(table), heading if tables == 1 else f"{heading} ({tables})"))
            else:
                out.append(f'<p class="govuk-body">{inline(table[0])}</p>')
            table.clear()

    for raw in lines:
        line = raw.rstrip()
        if not line.strip():
            flush()
        elif line.lstrip().startswith("|"):
            if para or bullets:
                flush()
            table.append(line)
        elif line.startswith("- "):
            if para or table:
                flush()
            bullets.append(line[2:])
        elif bullets and line.startswith("  "):
            bullets[-1] += " " + line.strip()
        else:
            if bullets or table:
                flush()
            para.append(line.strip())
    flush()
    return Markup("".join(out))  # built from escaped text only


def slug(text: str) -> str:
    """An id for a heading: lower case letters, digits and hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "section"


def render_card(text: str) -> tuple[str, list[Section]]:
    """The card's title (its ``#`` line, as text) and its ``##`` sections rendered (escaped, GOV.UK classes)."""
    title = ""
    sections: list[Section] = []
    heading, body = "", list[str]()
    for line in text.splitlines():
        if line.startswith("# ") and not title:
            title = line[2:].strip().replace("`", "")
        elif line.startswith("## "):
            if heading or any(b.strip() for b in body):
                sections.append(Section(heading, slug(heading), _blocks(body, heading or "About")))
            heading, body = line[3:].strip(), []
        else:
            body.append(line)
    if heading or any(b.strip() for b in body):
        sections.append(Section(heading, slug(heading), _blocks(body, heading or "About")))
    return title, sections


# --- calibration -------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _mean_predicted(path: str, _stamp: tuple[int, int], edges: tuple[tuple[float, float], ...]) -> tuple[float, ...]:
    """The mean held-out prediction in each band of the estimate (``p_model`` of the predictions file), cached
    while the file is unchanged."""
    sums = [0.0] * len(edges)
    counts = [0] * len(edges)
    last = len(edges) - 1
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            try:
                p = float(row["p_model"])
            except (KeyError, ValueError):
                continue
            for i, (lo, hi) in enumerate(edges):
                if lo <= p < hi or (i == last and lo <= p <= hi):
                    sums[i] += p
                    counts[i] += 1
                    break
    return tuple(s / c if c else (lo + hi) / 2 for s, c, (lo, hi) in zip(sums, counts, edges, strict=True))


def calibration(folder: Path, bands: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """The card's bands of the estimate with the mean prediction in each (from the held-out predictions when
    they are there, else the band's middle), and whether the means are the predictions' own."""
    edges = tuple((float(b["p_low"]), float(b["p_high"])) for b in bands)
    path = folder / PREDICTIONS_FILE
    means: tuple[float, ...] | None = None
    if path.is_file():
        stat = path.stat()
        try:
            means = _mean_predicted(str(path), (stat.st_mtime_ns, stat.st_size), edges)
        except (OSError, EOFError, csv.Error, UnicodeDecodeError):
            means = None
    rows = []
    for i, b in enumerate(bands):
        predicted = means[i] if means else (edges[i][0] + edges[i][1]) / 2
        rows.append(
            {
                "low": 100 * edges[i][0],
                "high": 100 * edges[i][1],
                "n": int(b["n"]),
                "predicted": 100 * predicted,
                "observed": 100 * float(b["observed"]),
                "ci_low": 100 * float(b["ci_low"]),
                "ci_high": 100 * float(b["ci_high"]),
            }
        )
    return rows, means is not None


def calibration_chart(model: ModelInUse, rows: list[dict[str, Any]], from_predictions: bool, outcome: str) -> Markup:
    """Observed against predicted by band of the estimate, with the observed rate's 95% interval."""
    x = [f"{r['predicted']:.0f}%" for r in rows]
    predicted_is = "the mean estimate" if from_predictions else "the middle of the band"
    return line_chart(
        chart_id=f"calibration-{model.name}",
        title=f"Calibration of the {model.title.lower()}: observed against predicted",
        description=(
            f"For each tenth of the held-out placements, ordered by the estimate, {predicted_is} (across) and the "
            f"share that {outcome} (up), with its 95% interval. A well calibrated model's points lie on the "
            "line where observed equals predicted. The table below gives the same numbers."
        ),
        x=x,
        series=[
            Series("Observed", [r["observed"] for r in rows]),
            Series("Perfect calibration", [r["predicted"] for r in rows]),
        ],
        band=Band("Observed, 95% interval", [r["ci_low"] for r in rows], [r["ci_high"] for r in rows]),
        y_label="Observed (% of placements)",
        x_label=f"Predicted ({predicted_is}, % of placements)",
        unit="%",
    )


# --- the pages ---------------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_FILE_BYTES:
        return None
    return data.decode("utf-8", "replace")


@router.get("/models", response_class=HTMLResponse, dependencies=[Depends(SIGNED_IN)])
@heavy
def models(request: Request, conn: Connection) -> HTMLResponse:
    """The learned models the service would load, each with its version, whether this store trusts it, what the
    service does with it, and a link to its card."""
    cache: PoolCache = request.app.state.pools
    return templates.TemplateResponse(
        request,
        "model_cards.html",
        {**page_context(request), "models": models_in_use(conn, cache), "folder": str(models_dir())},
    )


@router.get("/models/{name}", response_class=HTMLResponse, dependencies=[Depends(SIGNED_IN)])
@heavy
def model_card(request: Request, conn: Connection, name: str) -> HTMLResponse:
    """A model's card as a page: what it estimates, its training data, how good it is against the rules-only
    baseline and the ceiling, its calibration (chart and table), its results by group, and its limits."""
    cache: PoolCache = request.app.state.pools
    found = [m for m in models_in_use(conn, cache) if m.name == name]
    if not found or found[0].folder is None:
        raise HTTPException(status_code=404, detail="no such model")
    model = found[0]
    assert model.folder is not None
    text = _read_text(model.folder / CARD_FILE)
    meta_text = _read_text(model.folder / METADATA_FILE)
    try:
        meta: dict[str, Any] = json.loads(meta_text) if meta_text else {}
    except json.JSONDecodeError:
        meta = {}
    if not isinstance(meta, dict):
        meta = {}
    title, sections = render_card(text) if text else ("", [])
    bands = meta.get("bands") if isinstance(meta.get("bands"), list) else None
    rows: list[dict[str, Any]] = []
    chart: Markup | None = None
    from_predictions = False
    outcome = OUTCOMES.get(model.kind, "ended unplanned")
    try:
        if bands:
            rows, from_predictions = calibration(model.folder, bands)
            chart = calibration_chart(model, rows, from_predictions, outcome)
    except (KeyError, TypeError, ValueError):
        rows, chart = [], None
    metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
    training = meta.get("training_data") if isinstance(meta.get("training_data"), dict) else {}
    gate = meta.get("gate") if isinstance(meta.get("gate"), dict) else {}
    return templates.TemplateResponse(
        request,
        "model_card.html",
        {
            **page_context(request),
            "model": model,
            "card_title": title,
            "sections": sections,
            "has_card": text is not None,
            "meta": meta,
            "metrics": metrics,
            "training": training,
            "gate": gate,
            "chart": chart,
            "calibration": rows,
            "from_predictions": from_predictions,
            "outcome": outcome,
        },
    )
