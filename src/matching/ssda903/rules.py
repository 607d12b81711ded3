"""SSDA903 code rules by collection year: one table, each rule named by its DfE rule number.

A collection year is named by its return, ``2024-25``, and numbered here by the year it ends
(2025). The rules follow the DfE's validation rules as the community validator
(``data-to-insight/csc-validator-be-903``, ``lac_validator/rules/lac20YY_YY/rule_NNN.py``) reads
them; ``docs/ssda903-rules.md`` is generated from :data:`RULES` (``matching ssda903-docs``) and a
test keeps it in step.

Legacy codes stay what they were: an episode that ended before the collection year began is
history and keeps the code it had when it was recorded (an ended H5 is history, not an error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from matching import codes

#: Collection years this importer knows (2017-18 to 2025-26).
FIRST_YEAR = 2018
LAST_YEAR = 2026

SEX_NUMERIC = {"1": "M", "2": "F"}
SEX_LETTERS = {"M": "M", "F": "F", "U": "U"}
RNE = frozenset({"S", "L", "P", "T", "B", "U"})
#: RNE codes that start a new placement (L is a change of legal status only).
NEW_PLACEMENT = frozenset({"S", "P", "T", "B", "U"})
MISSING_KIND = {"M": "missing", "A": "away"}
#: REC: X1 ends an episode and another begins; every other code ends the period of care.
REC_CONTINUES = "X1"
_YEAR = re.compile(r"^(\d{4})(?:-(\d{2}))?$")

#: P2 (placed with parents, pre-2015 regulations) is not valid after this date (rule 217t).
P2_LAST_DAY = date(2023, 10, 28)

_PLACE_ALWAYS = tuple(sorted(codes.PLACE - {"K3", "Z11", "Z12", "Z13", "Z14"}))


@dataclass(frozen=True)
class Rule:
    """One DfE rule on a 903 field, the collection years it applies in, and what it allows."""

    number: str
    table: str
    field: str
    first: int | None
    last: int | None
    says: str
    allowed: tuple[str, ...] = ()

    def applies(self, year: int) -> bool:
        """True when this rule is in force in collection ``year``."""
        return (self.first is None or year >= self.first) and (self.last is None or year <= self.last)

    @property
    def years(self) -> str:
        """The years in force, as the docs show them."""
        if self.first is None and self.last is None:
            return "every year"
        if self.first is None:
            return f"up to {year_label(self.last or 0)}"
        if self.last is None:
            return f"from {year_label(self.first)}"
        return f"{year_label(self.first)} to {year_label(self.last)}"


#: Every year-dependent 903 rule the importer applies. Code lists that are the same in every year
#: (RNE, LS, CIN, ETHNIC, PLACE_PROVIDER, REASON_PLACE_CHANGE, REC) are checked too, against
#: :mod:`matching.codes`.
RULES: tuple[Rule, ...] = (
    Rule("101", "Header", "SEX", None, 2024, "SEX is 1 (male) or 2 (female).", ("1", "2")),
    Rule("101", "Header", "SEX", 2025, None, "SEX is M, F or U.", ("M", "F", "U")),
    Rule(
        "146",
        "Episodes",
        "PLACE",
        None,
        2024,
        "PLACE is a placement code of the year: H5, P2 and Z1 valid; no K3 or Z11-Z14.",
        tuple(sorted({*_PLACE_ALWAYS, "H5", "P2", "Z1"})),
    ),
    Rule(
        "146",
        "Episodes",
        "PLACE",
        2025,
        2025,
        "PLACE is a placement code of the year: K3 (registered supported accommodation) added; "
        "H5, P2 and Z1 still valid.",
        tuple(sorted({*_PLACE_ALWAYS, "H5", "P2", "Z1", "K3"})),
    ),
    Rule(
        "146",
        "Episodes",
        "PLACE",
        2026,
        None,
        "PLACE is a placement code of the year: Z1 split into Z11-Z14; H5, P2 and Z1 no longer valid.",
        tuple(sorted({*_PLACE_ALWAYS, "K3", "Z11", "Z12", "Z13", "Z14"})),
    ),
    Rule(
        "217t",
        "Episodes",
        "PLACE",
        2024,
        None,
        "P2 is not valid after 28/10/2023: a P2 episode must have ended (DEC) on or before that day.",
        ("P2",),
    ),
    Rule(
        "233",
        "Episodes",
        "REASON_PLACE_CHANGE",
        2026,
        None,
        "REASON_PLACE_CHANGE is empty while the episode is open (no DEC).",
    ),
)


def rules_for(year: int, field: str) -> list[Rule]:
    """The rules on ``field`` in force in collection ``year``."""
    return [r for r in RULES if r.field == field and r.applies(year)]


def collection_year(text: str) -> int:
    """The year a collection ends: ``2024-25`` and ``2025`` both give 2025."""
    m = _YEAR.match(text.strip())
    if not m:
        raise ValueError(f"collection year {text!r}: expected YYYY-YY (e.g. 2025-26) or the year it ends")
    start, end = int(m.group(1)), m.group(2)
    if end is not None and (start + 1) % 100 != int(end):
        raise ValueError(f"collection year {text!r}: the two years must follow each other")
    year = start if end is None else start + 1
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(
            f"collection year {text!r}: this importer knows {year_label(FIRST_YEAR)} to {year_label(LAST_YEAR)}"
        )
    return year


def year_label(year: int) -> str:
    """``2025`` -> ``2024-25``."""
    return f"{year - 1}-{year % 100:02d}"


def year_start(year: int) -> date:
    """1 April on which collection ``year`` begins."""
    return date(year - 1, 4, 1)


def sex_codes(year: int) -> dict[str, str]:
    """Allowed SEX codes in a collection year (rule 101), mapped to the store's M/F/U."""
    (rule,) = rules_for(year, "SEX")
    return {c: (SEX_NUMERIC.get(c) or SEX_LETTERS[c]) for c in rule.allowed}


def place_rule(year: int) -> Rule:
    """Rule 146 as in force in ``year``."""
    return next(r for r in rules_for(year, "PLACE") if r.number == "146")


def place_codes(year: int) -> frozenset[str]:
    """PLACE codes valid in a collection year (rule 146)."""
    return frozenset(place_rule(year).allowed)


def history_place_codes() -> frozenset[str]:
    """PLACE codes readable on an episode that ended before the collection year (any year's codes)."""
    return frozenset(codes.PLACE | codes.PLACE_LEGACY)


def place_problem(place: str, dec: date | None, year: int) -> tuple[str, str] | None:
    """(rule number, what was expected) when ``place`` is not valid on this episode in ``year``; else None.

    An episode that ended before the collection year began is history: any year's code is kept."""
    if dec is not None and dec < year_start(year):
        if place in history_place_codes():
            return None
        return "146", "an SSDA903 PLACE code (of any year, for an episode that ended before the year)"
    rule = place_rule(year)
    if place not in rule.allowed:
        return "146", f"a PLACE code valid in {year_label(year)} (rule 146)"
    p2_rule = any(r.number == "217t" for r in rules_for(year, "PLACE"))
    if place == "P2" and p2_rule and (dec is None or dec > P2_LAST_DAY):
        return "217t", "P2 only on an episode that ended on or before 28/10/2023 (rule 217t)"
    return None


def reason_on_open_refused(year: int) -> bool:
    """True when REASON_PLACE_CHANGE must be empty on an open episode (rule 233)."""
    return any(r.number == "233" for r in rules_for(year, "REASON_PLACE_CHANGE"))


def render_docs() -> str:
    """``docs/ssda903-rules.md``: the rule table, generated."""
    lines = [
        "# SSDA903 rules by collection year",
        "",
        "Generated from `src/matching/ssda903/rules.py` (`matching ssda903-docs`); a test keeps it in step.",
        "Rule numbers are the DfE's, as the community validator `data-to-insight/csc-validator-be-903` reads them.",
        f"Collection years known: {year_label(FIRST_YEAR)} to {year_label(LAST_YEAR)}.",
        "An episode that ended before the collection year began is history and keeps its code.",
        "",
        "| DfE rule | table | field | years | rule | codes allowed |",
        "|---|---|---|---|---|---|",
    ]
    for r in RULES:
        allowed = ", ".join(r.allowed) if r.allowed else ""
        lines.append(f"| {r.number} | {r.table} | {r.field} | {r.years} | {r.says} | {allowed} |")
    lines += [
        "",
        "Checked in every year against the code lists in `src/matching/codes.py`: RNE, LS, CIN, ETHNIC,",
        "PLACE_PROVIDER, REASON_PLACE_CHANGE, REC, MISSING (M/A), SDQ_SCORE (0-40).",
        "",
    ]
    return "\n".join(lines)
