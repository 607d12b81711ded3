"""A referral: what a child needs now (Placements Standard v2 vocabulary)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

#: Severity at or above which a need is "actionable" (CANS-style: 2 or 3).
ACTIONABLE = 2


@dataclass(frozen=True, slots=True)
class NeedsProfile:
    """Need domain (from the taxonomy) -> severity 0 none, 1 mild, 2 moderate, 3 severe.

    ``assessed`` is False when no assessment of the child's needs is on record: then an empty profile means
    "not known", not "no needs"."""

    severities: dict[str, int] = field(default_factory=dict)
    assessed: bool = True

    def actionable(self) -> dict[str, int]:
        """The needs rated 2 or 3."""
        return {k: v for k, v in self.severities.items() if v >= ACTIONABLE}

    def __bool__(self) -> bool:
        return any(v > 0 for v in self.severities.values())


@dataclass(frozen=True, slots=True)
class WishesAndFeelings:
    """The child's voice: what they said, and the preferences it expresses."""

    text: str = ""
    near_school: bool = False
    near_family: bool = False
    same_religion: bool = False
    same_language: bool = False
    pets: bool = False


@dataclass(frozen=True, slots=True)
class Referral:
    """A request for a placement for one child, with everything matching needs to know."""

    referral_id: str
    child_id: str
    referral_date: date
    urgency: str
    placement_type: str
    needs: NeedsProfile
    status: str = "open"
    expected_duration_weeks: int | None = None
    expected_duration_days: int | None = None
    live_alongside: str = "any"
    risks_to_child: tuple[str, ...] = ()
    risks_to_others: tuple[str, ...] = ()
    allergies: tuple[str, ...] = ()
    respiratory_needs: bool = False
    communication_needs: tuple[str, ...] = ()
    needs_adaptation: bool = False
    dolo: bool = False
    suitable_for: tuple[str, ...] = ("foster",)
    cultural_needs: str = ""
    wishes: WishesAndFeelings = field(default_factory=WishesAndFeelings)
    emergency_outside_terms: bool = False
    max_distance_miles: float | None = None

    @property
    def expected_stay_days(self) -> int | None:
        """How long the placement is expected to last, in days (from days, else whole weeks); None when not recorded
        (a stay of "0 weeks" says nothing about the days)."""
        if self.expected_duration_days is not None:
            return self.expected_duration_days
        weeks = self.expected_duration_weeks
        return None if weeks is None or weeks < 1 else 7 * weeks
