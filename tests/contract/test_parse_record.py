"""One record parsed by the contract's rule gives what the whole file's parse gives for that row, whichever
columns are given (a blank optional column is parsed once and kept, so this checks the shortcut is exact)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.contract.spec import REFERRALS
from matching.contract.validate import ValidationReport, _parse_columns, _python_value, parse_record
from matching.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
TODAY = date(2026, 4, 1)
SAMPLES: dict[str, list[str]] = {
    "referral_id": ["R-1"],
    "child_id": ["C1", ""],
    "referral_date": ["2026-03-30", "31/03/2026", "2027-01-01", "not a date"],
    "status": ["open", "closed", "nonsense", ""],
    "urgency": ["today", "within_5_days", "soon"],
    "placement_type": ["long_term", "emergency", "forever"],
    "expected_duration_weeks": ["12", "-1", "x"],
    "expected_duration_days": ["3", "9000"],
    "live_alongside": ["any", "nope"],
    "risks_to_child": ["self_harm", "self_harm;going_missing", "bad code"],
    "allergies": ["cats", "dragons"],
    "respiratory_needs": ["true", "false", "maybe"],
    "needs_adaptation": ["yes", "no", "true"],
    "wishes_text": ["Wants to stay near school", ""],
    "wish_near_school": ["true", "false"],
}


def _reference(values: dict[str, str]) -> tuple[dict[str, Any], list[tuple[str, str, str, str]]]:
    """The whole file's parse of one row with every column present (what parse_record did before)."""
    frame = pd.DataFrame({c.name: [values.get(c.name, "").strip()] for c in REFERRALS.columns}, dtype=object)
    report = ValidationReport(folder=Path(REFERRALS.filename))
    parsed = _parse_columns(REFERRALS, frame, report, TAXONOMY, TODAY)
    out = {c.name: _python_value(c, parsed[c.name].iloc[0]) for c in REFERRALS.columns}
    return out, sorted((p.column or "", p.value or "", p.expected, p.code) for p in report.problems)


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in SAMPLES.items()}))
def test_a_record_parses_as_its_row_in_a_file_would(values: dict[str, str]) -> None:
    got, problems = parse_record(REFERRALS, values, taxonomy=TAXONOMY, today=TODAY)
    want, want_problems = _reference(values)
    assert got == want
    assert sorted((p.column or "", p.value or "", p.expected, p.code) for p in problems) == want_problems
    assert all(p.row is None for p in problems)


def test_the_blank_values_handed_out_are_copies() -> None:
    first, _ = parse_record(REFERRALS, {}, taxonomy=TAXONOMY, today=TODAY)
    first["suitable_for"].append("changed")
    second, _ = parse_record(REFERRALS, {}, taxonomy=TAXONOMY, today=TODAY)
    assert "changed" not in second["suitable_for"]
