"""A placement episode in a child's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from matching import codes


@dataclass(frozen=True, slots=True)
class PlacementEpisode:
    """One placement: where, with whom, from when to when, and how it ended (SSDA903 codes)."""

    placement_id: str
    child_id: str
    place: str
    start_date: date
    household_id: str | None = None
    place_provider: str | None = None
    end_date: date | None = None
    end_reason: str | None = None
    distance_miles: float | None = None

    @property
    def is_open(self) -> bool:
        """True while the placement has not ended."""
        return self.end_date is None

    @property
    def unplanned(self) -> bool | None:
        """True for an unplanned ending ("breakdown"); None while open."""
        if self.end_reason is None:
            return None
        return self.end_reason in codes.UNPLANNED_REASONS

    def unplanned_within(self, days: int = 365) -> bool | None:
        """True if it ended unplanned within ``days`` of starting; None if not yet known."""
        if self.end_date is None:
            return None
        return bool(self.unplanned) and (self.end_date - self.start_date).days <= days
