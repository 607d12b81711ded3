"""The waiting list: every open referral in scope, most urgent first, then longest waiting, with filters.

One definition for the CLI (``matching waiting``), the API (``GET /v1/referrals``) and the pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from matching.allocation.instance import URGENCY_ORDER
from matching.domain import Scope
from matching.eligibility.request import MatchRequest
from matching.ranking.service import waiting_requests

#: Plain words for the urgency codes.
URGENCY_LABELS = {"today": "needed today", "within_5_days": "within 5 days", "over_5_days": "more than 5 days"}


@dataclass(frozen=True)
class WaitingFilter:
    """Which open referrals to list (every field optional; all given must hold)."""

    la_code: str | None = None
    urgency: str | None = None
    placement_type: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    need: str | None = None
    child_id: str | None = None  # a search: the child's id starts with this (case-insensitive)
    min_days_waiting: int | None = None  # referred at least this many days before the date

    def admits(self, r: MatchRequest) -> bool:
        """Whether the request passes every given filter."""
        ref = r.referral
        return (
            (self.la_code is None or r.child.la_code == self.la_code)
            and (self.urgency is None or ref.urgency == self.urgency)
            and (self.placement_type is None or ref.placement_type == self.placement_type)
            and (self.age_min is None or r.age >= self.age_min)
            and (self.age_max is None or r.age <= self.age_max)
            and (self.need is None or ref.needs.severities.get(self.need, 0) > 0)
            and (self.child_id is None or r.child.child_id.lower().startswith(self.child_id.lower()))
            and (self.min_days_waiting is None or (r.on - ref.referral_date).days >= self.min_days_waiting)
        )


@dataclass(frozen=True)
class WaitingEntry:
    """One open referral on the waiting list."""

    request: MatchRequest
    days_waiting: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (codes, with the urgency in plain words beside its code)."""
        r, ref = self.request, self.request.referral
        return {
            "child_id": r.child.child_id,
            "referral_id": ref.referral_id,
            "la_code": r.child.la_code,
            "referral_date": ref.referral_date.isoformat(),
            "days_waiting": self.days_waiting,
            "urgency": ref.urgency,
            "urgency_label": URGENCY_LABELS.get(ref.urgency, ref.urgency),
            "placement_type": ref.placement_type,
            "age": r.age,
            "needs": dict(sorted(ref.needs.severities.items(), key=lambda kv: (-kv[1], kv[0]))),
            "needs_assessed": ref.needs.assessed,
            "siblings": [c.child_id for c in r.siblings],
        }


def waiting_list(conn: Connection, *, scope: Scope, on: date, where: WaitingFilter | None = None) -> list[WaitingEntry]:
    """Open referrals in ``scope`` on ``on`` that pass ``where``: most urgent first, then the oldest referral,
    then the child's id (so ties are always broken the same way)."""
    where = where or WaitingFilter()
    found = [r for r in waiting_requests(conn, scope=scope, on=on) if where.admits(r)]
    found.sort(key=lambda r: (URGENCY_ORDER.get(r.referral.urgency, 9), r.referral.referral_date, r.child.child_id))
    return [WaitingEntry(r, (on - r.referral.referral_date).days) for r in found]
