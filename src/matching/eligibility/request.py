"""What is judged: one child, or siblings to be placed together, each with their own referral, on a date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from matching.domain import Child, NeedsProfile, Referral
from matching.eligibility.arithmetic import age_on
from matching.eligibility.together import Limit, Occupant


def sibling_referral(main: Referral, sibling: Child) -> Referral:
    """The referral a sibling is judged on when they have none of their own.

    It shares what the group shares (date, urgency, placement type, expected stay, settings) and
    takes the sibling's assessed needs from their record.  Nothing that is one child's own is
    borrowed from the other child's referral: no emergency allowance to go outside terms of
    approval, and no restriction, risk, allergy or adaptation is known for this sibling (the
    service's own callers always give each sibling their own referral; this is for callers that
    cannot).
    """
    return Referral(
        referral_id=f"{main.referral_id}:with:{sibling.child_id}",
        child_id=sibling.child_id,
        referral_date=main.referral_date,
        urgency=main.urgency,
        placement_type=main.placement_type,
        needs=NeedsProfile({k: v for k, v in sibling.needs.items() if v > 0}, assessed=sibling.needs_assessed),
        status=main.status,
        expected_duration_weeks=main.expected_duration_weeks,
        expected_duration_days=main.expected_duration_days,
        suitable_for=main.suitable_for,
    )


@dataclass(frozen=True)
class MatchRequest:
    """One child (with any siblings to be placed together) needing a placement on ``on``.

    ``sibling_referrals`` are the siblings' own referrals, in the order of ``siblings``; a
    sibling without one is judged on :func:`sibling_referral`.  Every per-child rule judges each
    child with their own referral.
    """

    referral: Referral
    child: Child
    on: date
    siblings: tuple[Child, ...] = ()
    sibling_referrals: tuple[Referral, ...] = ()

    def __post_init__(self) -> None:
        if self.sibling_referrals and len(self.sibling_referrals) != len(self.siblings):
            raise ValueError("sibling_referrals must give one referral per sibling, in the siblings' order")
        for sib, ref in zip(self.siblings, self.sibling_referrals, strict=False):
            if ref.child_id != sib.child_id:
                raise ValueError(f"referral {ref.referral_id} is for {ref.child_id}, not the sibling {sib.child_id}")

    @property
    def group(self) -> tuple[Child, ...]:
        """Every child to be placed: the child first, then the siblings."""
        return (self.child, *self.siblings)

    @cached_property
    def referrals(self) -> tuple[Referral, ...]:
        """Each child's own referral, in the order of :attr:`group`."""
        own = self.sibling_referrals or tuple(sibling_referral(self.referral, s) for s in self.siblings)
        return (self.referral, *own)

    @cached_property
    def members(self) -> tuple[tuple[Child, Referral], ...]:
        """Each child of the group with their own referral."""
        return tuple(zip(self.group, self.referrals, strict=True))

    @cached_property
    def child_ids(self) -> frozenset[str]:
        """Ids of every child of the group."""
        return frozenset(c.child_id for c in self.group)

    @property
    def group_size(self) -> int:
        """How many children are to be placed together."""
        return 1 + len(self.siblings)

    @cached_property
    def age(self) -> int:
        """The child's age in whole years on the placement date."""
        return age_on(self.child.birth_month, self.on)

    @cached_property
    def ages(self) -> tuple[int, ...]:
        """Ages of the whole group on the placement date."""
        return tuple(age_on(c.birth_month, self.on) for c in self.group)

    @cached_property
    def occupants(self) -> tuple[Occupant, ...]:
        """Each child as an occupant of the household (their own restriction and risks)."""
        return tuple(
            Occupant(c.child_id, c.birth_month, r.live_alongside, tuple(r.risks_to_others)) for c, r in self.members
        )

    @cached_property
    def limits(self) -> tuple[tuple[Limit, ...], ...]:
        """The limits each child of the group puts on other children, on the placement date."""
        return tuple(o.limits(self.on) for o in self.occupants)

    @cached_property
    def needs_known(self) -> bool:
        """Whether every child of the group has an assessment of their needs on record."""
        return all(ref.needs.assessed for ref in self.referrals)

    @cached_property
    def unassessed(self) -> tuple[str, ...]:
        """Ids of the children of the group with no assessment of their needs on record."""
        return tuple(ref.child_id for ref in self.referrals if not ref.needs.assessed)

    @cached_property
    def needs(self) -> dict[str, int]:
        """The needs to be met: for a sibling group, the highest severity of each need in the group."""
        merged: dict[str, int] = {}
        for ref in self.referrals:
            for need, sev in ref.needs.severities.items():
                merged[need] = max(merged.get(need, 0), sev)
        return {k: v for k, v in merged.items() if v > 0}
