"""SSDA903 code lists by collection year (the DfE changes them; validation must follow the year).

A collection year is named by its return, ``2024-25``, and numbered here by the year it ends
(2025). Changes handled: SEX was 1/2 up to 2023-24 and M/F/U from 2024-25; K3 (registered
supported accommodation) exists from 2024-25; Z1 was split into Z11-Z14 from 2025-26. Legacy
placement codes (H5, P2, and Z1 after the split) are readable in history: on episodes that have
ended, never on an open one.
"""

from __future__ import annotations

import re

from matching import codes

SEX_NUMERIC = {"1": "M", "2": "F"}
RNE = frozenset({"S", "L", "P", "T", "B", "U"})
#: RNE codes that start a new placement (L is a change of legal status only).
NEW_PLACEMENT = frozenset({"S", "P", "T", "B", "U"})
MISSING_KIND = {"M": "missing", "A": "away"}
_YEAR = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def collection_year(text: str) -> int:
    """The year a collection ends: ``2024-25`` and ``2025`` both give 2025."""
    m = _YEAR.match(text.strip())
    if not m:
        raise ValueError(f"collection year {text!r}: expected YYYY-YY (e.g. 2025-26) or the year it ends")
    start, end = int(m.group(1)), m.group(2)
    if end is None:
        return start
    if (start + 1) % 100 != int(end):
        raise ValueError(f"collection year {text!r}: the two years must follow each other")
    return start + 1


def year_label(year: int) -> str:
    """``2025`` -> ``2024-25``."""
    return f"{year - 1}-{year % 100:02d}"


def sex_codes(year: int) -> dict[str, str]:
    """Allowed SEX codes in a collection year, mapped to the store's M/F/U."""
    return dict(SEX_NUMERIC) if year <= 2024 else {"M": "M", "F": "F", "U": "U"}


def place_codes(year: int) -> frozenset[str]:
    """PLACE codes valid for an open episode in a collection year."""
    base = set(codes.PLACE) - {"K3", "Z11", "Z12", "Z13", "Z14"}
    if year >= 2025:
        base.add("K3")
    if year >= 2026:
        base |= {"Z11", "Z12", "Z13", "Z14"}
    else:
        base.add("Z1")
    return frozenset(base)


def history_place_codes() -> frozenset[str]:
    """PLACE codes readable on an episode that has ended (any year's codes, legacy included)."""
    return frozenset(codes.PLACE | codes.PLACE_LEGACY)
