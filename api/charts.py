"""Server-rendered SVG charts that people and assistive technology can read: a title and a description, axes
with labels and units, a legend that names every series, series told apart by shape or pattern as well as by
colour, and nothing drawn that a page does not also show as numbers in a table.

The SVG is written with presentation attributes only (no ``style``), so the pages' Content-Security-Policy
needs no ``unsafe-inline``.  Each chart is ``role="img"`` labelled by its ``<title>`` and ``<desc>``; the table
beside it is the accessible view of the same numbers (the page renders it from the same data).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

#: Colours from the GOV.UK palette with at least 3:1 contrast against white (WCAG 1.4.11), in series order.
PALETTE = ("#1d70b8", "#d4351c", "#00703c", "#4c2c92", "#f47738", "#505a5f")
#: Line dash patterns in series order (the first solid), so lines differ without colour.
DASHES = ("", "8 4", "2 3", "10 3 2 3", "4 4", "1 2")
#: Marker shapes in series order.
MARKERS = ("circle", "square", "triangle", "diamond", "circle", "square")
#: Bar fill patterns in series order (the first solid).
PATTERNS = ("solid", "stripes", "dots", "cross", "solid", "stripes")

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 78, 16, 16, 78
#: Roughly how wide one character of a 12 px axis label is (for wrapping labels to the room they have).
CHAR_PX = 6.6


@dataclass(frozen=True)
class Series:
    """One named series of values (``None``: no value at that point)."""

    name: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Band:
    """A range around a line (e.g. the 10th to 90th percentile of a forecast), named in the legend."""

    name: str
    low: Sequence[float]
    high: Sequence[float]


def nice_ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """About ``count`` round tick values covering ``low`` to ``high`` (1, 2, 2.5 or 5 times a power of ten);
    ``whole``: whole numbers only (for counts: no "0.2 children")."""
    if not math.isfinite(low) or not math.isfinite(high):
        low, high = 0.0, 1.0
    if high - low < 1e-9 * max(1.0, abs(low)):
        high = low + max(1.0, abs(low) * 0.1)
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if whole:  # 0.2 or 2.5 children is no tick: 1, or the step rounded to a whole number
        step = max(1.0, float(round(step)))
    first = math.floor(low / step)
    last = math.ceil(high / step)
    digits = max(0, -math.floor(math.log10(step)) + 1)
    return [round(k * step, digits) for k in range(first, last + 1)]


def number(value: float, unit: str = "") -> str:
    """A value as the axis writes it: thousands separated, at most one decimal place, with its unit."""
    text = f"{value:,.0f}" if abs(value - round(value)) < 1e-9 or abs(value) >= 100 else f"{value:,.1f}"
    if unit.startswith("£"):
        return f"£{text}{unit[1:]}"
    return f"{text}{(' ' + unit) if unit else ''}"


def _attrs(**values: object) -> str:
    return " ".join(f'{k.rstrip("_").replace("_", "-")}="{escape(str(v), quote=True)}"' for k, v in values.items())


def _defs(chart_id: str) -> str:
    parts = []
    for i, colour in enumerate(PALETTE):
        pid = f"{chart_id}-p{i}"
        kind = PATTERNS[i]
        if kind == "solid":
            continue
        if kind == "stripes":
            shape = f'<path d="M0,6 L6,0 M-1,1 L1,-1 M5,7 L7,5" stroke="{colour}" stroke-width="2"/>'
        elif kind == "dots":
            shape = f'<circle cx="3" cy="3" r="1.6" fill="{colour}"/>'
        else:
            shape = f'<path d="M0,0 L6,6 M6,0 L0,6" stroke="{colour}" stroke-width="1.4"/>'
        parts.append(
            f'<pattern id="{pid}" width="6" height="6" patternUnits="userSpaceOnUse">'
            f'<rect width="6" height="6" fill="#ffffff"/>{shape}</pattern>'
        )
    return f"<defs>{''.join(parts)}</defs>" if parts else ""


def _fill(chart_id: str, i: int) -> str:
    i %= len(PALETTE)
    return PALETTE[i] if PATTERNS[i] == "solid" else f"url(#{chart_id}-p{i})"


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if kind == "triangle":
        return f'<path d="M{x:.1f},{y - 5:.1f} L{x + 5:.1f},{y + 4:.1f} L{x - 5:.1f},{y + 4:.1f} Z" fill="{colour}"/>'
    if kind == "diamond":
        return f'<path d="M{x:.1f},{y - 5:.1f} L{x + 5:.1f},{y:.1f} L{x:.1f},{y + 5:.1f} L{x - 5:.1f},{y:.1f} Z" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'


def _legend_key(chart_id: str, i: int, kind: str) -> str:
    colour = PALETTE[i % len(PALETTE)]
    if kind == "bar":
        return f'<rect x="0" y="-9" width="14" height="12" fill="{_fill(chart_id, i)}" stroke="{colour}" stroke-width="1.5"/>'
    if kind == "band":
        return '<rect x="0" y="-9" width="14" height="12" fill="#b1b4b6" fill-opacity="0.6"/>'
    dash = DASHES[i % len(DASHES)]
    line = f'<line x1="0" y1="-3" x2="22" y2="-3" stroke="{colour}" stroke-width="2.5"' + (
        f' stroke-dasharray="{dash}"/>' if dash else "/>"
    )
    return line + _marker(MARKERS[i % len(MARKERS)], 11, -3, colour)


def _frame(
    chart_id: str, title: str, description: str, y_label: str, x_label: str, body: str, legend: list[tuple[str, str]]
) -> Markup:
    keys = []
    x = LEFT
    y = HEIGHT - 14
    for key, name in legend:
        keys.append(
            f'<g transform="translate({x},{y})">{key}<text x="28" y="0" font-size="13">{escape(name)}</text></g>'
        )
        x += 40 + 7 * len(name)
    svg = (
        f'<svg class="pm-chart" id="{escape(chart_id)}" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'font-family="system-ui, -apple-system, Segoe UI, Arial, sans-serif" fill="#0b0c0c">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
        f"{_defs(chart_id)}{body}"
        f'<text x="14" y="{TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f}" font-size="13" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f})">{escape(y_label)}</text>'
        f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.0f}" y="{HEIGHT - 32}" font-size="13" '
        f'text-anchor="middle">{escape(x_label)}</text>'
        f"{''.join(keys)}</svg>"
    )
    return Markup(svg)


def _y_axis(ticks: list[float], y_of: object, unit: str) -> str:
    parts = []
    for t in ticks:
        y = y_of(t)  # type: ignore[operator]
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#b1b4b6" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end">{escape(number(t, unit))}</text>'
        )
    return "".join(parts)


def wrap(label: str, chars: int, lines: int = 2) -> list[str]:
    """``label`` in at most ``lines`` lines of about ``chars`` characters, broken between words (the last line
    cut with an ellipsis when it does not fit)."""
    out: list[str] = []
    for word in label.split():
        if out and len(out[-1]) + 1 + len(word) <= chars:
            out[-1] += " " + word
        else:
            out.append(word)
    if len(out) > lines:
        out = [*out[: lines - 1], " ".join(out[lines - 1 :])]
    return [line if len(line) <= chars else line[: max(1, chars - 1)] + "…" for line in out] or [""]


def _x_labels(labels: Sequence[str], x_of: object, every: int, room: float) -> str:
    parts = []
    base = HEIGHT - BOTTOM
    chars = max(4, int(room * every / CHAR_PX))
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = x_of(i)  # type: ignore[operator]
        lines = "".join(
            f'<tspan x="{x:.1f}" dy="{0 if n == 0 else 13}">{escape(line)}</tspan>'
            for n, line in enumerate(wrap(label, chars))
        )
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 5}" stroke="#0b0c0c"/>'
            f'<text x="{x:.1f}" y="{base + 18}" font-size="12" text-anchor="middle">{lines}</text>'
        )
    return "".join(parts)


def _every(n: int) -> int:
    return max(1, math.ceil(n / 12))


def _scale(values: Sequence[float], zero: bool = True) -> tuple[list[float], float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    low = min([*finite, 0.0] if zero else finite or [0.0])
    high = max(finite or [1.0])
    whole = all(float(v).is_integer() for v in finite)
    ticks = nice_ticks(low, high, whole=whole)
    return ticks, ticks[0], ticks[-1]


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    y_label: str,
    x_label: str,
    unit: str = "",
) -> Markup:
    """Grouped vertical bars: one group per category, one bar per series (each series its own colour and fill
    pattern, named in the legend), a y axis with round ticks in ``unit`` starting at zero."""
    values = [v for s in series for v in s.values if v is not None]
    ticks, low, high = _scale(values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - (v - low) / ((high - low) or 1))

    n = max(1, len(categories))
    group = plot_w / n
    bar = min(48.0, group * 0.8 / max(1, len(series)))

    def x_of(i: int) -> float:
        return LEFT + group * (i + 0.5)

    parts = [_y_axis(ticks, y_of, unit)]
    for si, s in enumerate(series):
        colour = PALETTE[si % len(PALETTE)]
        for ci, v in enumerate(s.values):
            if v is None:
                continue
            x = x_of(ci) - bar * len(series) / 2 + bar * si
            top, bottom = y_of(max(v, 0.0)), y_of(min(v, 0.0))
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar * 0.92:.1f}" height="{max(bottom - top, 0.5):.1f}" '
                f'fill="{_fill(chart_id, si)}" stroke="{colour}" stroke-width="1.5">'
                f"<title>{escape(s.name)}, {escape(categories[ci])}: {escape(number(v, unit))}</title></rect>"
            )
    base = y_of(0.0) if low <= 0 <= high else HEIGHT - BOTTOM
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base:.1f}" y2="{base:.1f}" stroke="#0b0c0c"/>')
    parts.append(_x_labels(categories, x_of, _every(n), group))
    legend = [(_legend_key(chart_id, i, "bar"), s.name) for i, s in enumerate(series)]
    return _frame(chart_id, title, description, y_label, x_label, "".join(parts), legend)


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    x: Sequence[str],
    series: Sequence[Series],
    y_label: str,
    x_label: str,
    unit: str = "",
    band: Band | None = None,
    zero: bool = True,
) -> Markup:
    """Lines over ``x`` (each series its own colour, dash and marker, named in the legend), with an optional
    shaded ``band`` (e.g. a forecast's range) behind them; a y axis in ``unit``."""
    values = [v for s in series for v in s.values if v is not None]
    if band is not None:
        values += [*band.low, *band.high]
    ticks, low, high = _scale(values, zero)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(1, len(x))

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - (v - low) / ((high - low) or 1))

    def x_of(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    parts = [_y_axis(ticks, y_of, unit)]
    if band is not None and band.low:
        upper = [f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(band.high)]
        lower = [f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in reversed(list(enumerate(band.low)))]
        parts.append(f'<polygon points="{" ".join(upper + lower)}" fill="#b1b4b6" fill-opacity="0.6"/>')
    for si, s in enumerate(series):
        colour = PALETTE[si % len(PALETTE)]
        dash = DASHES[si % len(DASHES)]
        points = [(x_of(i), y_of(v), v, i) for i, v in enumerate(s.values) if v is not None]
        if len(points) > 1:
            d = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
            parts.append(
                f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2.5"'
                + (f' stroke-dasharray="{dash}"/>' if dash else "/>")
            )
        for px, py, v, i in points:
            parts.append(
                f"<g>{_marker(MARKERS[si % len(MARKERS)], px, py, colour)}"
                f"<title>{escape(s.name)}, {escape(x[i])}: {escape(number(v, unit))}</title></g>"
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}" stroke="#0b0c0c"/>'
    )
    parts.append(_x_labels(x, x_of, _every(n), plot_w / n))
    legend = [(_legend_key(chart_id, i, "line"), s.name) for i, s in enumerate(series)]
    if band is not None:
        legend.append((_legend_key(chart_id, 0, "band"), band.name))
    return _frame(chart_id, title, description, y_label, x_label, "".join(parts), legend)
