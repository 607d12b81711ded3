"""The SVG charts: well-formed, labelled for assistive technology, axes that cover the data, text escaped."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from api.charts import Band, Series, bar_chart, line_chart, nice_ticks, number

SVG = "{http://www.w3.org/2000/svg}"


@given(st.floats(-1e6, 1e6), st.floats(0, 1e6))
def test_ticks_cover_the_range_in_round_ascending_steps(low: float, span: float) -> None:
    high = low + span
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low + 1e-6 * max(1, abs(low))
    assert ticks[-1] >= high - 1e-6 * max(1, abs(high))
    assert len(ticks) <= 12
    assert all(b > a for a, b in itertools.pairwise(ticks))


def test_numbers_carry_their_unit() -> None:
    assert number(1234, "£ per week") == "£1,234 per week"
    assert number(2.5, "miles") == "2.5 miles"
    assert number(12, "children") == "12 children"


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup.replace("<svg class", f'<svg xmlns="{SVG[1:-1]}" class', 1))


def test_bar_chart_is_labelled_and_names_every_series_and_value() -> None:
    svg = bar_chart(
        chart_id="c1",
        title="Children placed <by> method",
        description="Optimised against first come, first served",
        categories=["Placed", "Unplaced"],
        series=[Series("Optimised", [40, 5]), Series("First come", [30, 15])],
        y_label="Children",
        x_label="Outcome",
        unit="children",
    )
    root = _parse(str(svg))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert [t.text for t in root.findall(f"{SVG}title")] == ["Children placed <by> method"]
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert "Optimised, Placed: 40 children" in titles
    assert "First come, Unplaced: 15 children" in titles
    legend = [t.text for t in root.iter(f"{SVG}text")]
    assert {"Optimised", "First come", "Children", "Outcome"} <= set(legend)
    assert "style=" not in str(svg)


def test_line_chart_draws_each_series_and_the_band() -> None:
    svg = line_chart(
        chart_id="c2",
        title="Demand against places",
        description="By month",
        x=["2026-04", "2026-05", "2026-06"],
        series=[Series("Demand", [10, 12, None]), Series("Places", [11, 11, 11])],
        band=Band("10th to 90th percentile", [8, 9, 9], [12, 14, 15]),
        y_label="Children",
        x_label="Month",
    )
    root = _parse(str(svg))
    assert len(root.findall(f".//{SVG}polyline")) == 2
    assert len(root.findall(f".//{SVG}polygon")) == 1
    assert [t.text for t in root.iter(f"{SVG}text")].count("10th to 90th percentile") == 1


def test_long_axis_labels_wrap_between_words_into_two_lines_at_most() -> None:
    from api.charts import wrap

    assert wrap("ready to start matching", 12) == ["ready to", "start match…"]
    assert wrap("building readiness", 14) == ["building", "readiness"]
    assert wrap("stepped down", 20) == ["stepped down"]
    lines = wrap("a very long label indeed with many words", 10)
    assert len(lines) == 2
    assert all(len(line) <= 10 for line in lines)


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_counts_get_whole_ticks(low: int, span: int) -> None:
    ticks = nice_ticks(low, low + span, whole=True)
    assert all(float(t).is_integer() for t in ticks)
    assert ticks[0] <= low
    assert ticks[-1] >= low + span
