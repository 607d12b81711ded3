"""What a match is asked for: a referral, the child (and siblings to place together), a date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from matching.domain import Child, Referral


def month_index(d: date) -> int:
    """Months since year 0: ages in whole years are differences of these // 12."""
    return d.year * 12 + d.month - 1


@dataclass(frozen=True)
class MatchRequest:
    """One child (with any siblings to be placed together) needing a placement on ``on``."""

    referral: Referral
    child: Child
    on: date
    siblings: tuple[Child, ...] = ()

    @property
    def group(self) -> tuple[Child, ...]:
        """Every child to be placed: the child first, then the siblings."""
        return (self.child, *self.siblings)

    @property
    def group_size(self) -> int:
        """How many children are to be placed together."""
        return 1 + len(self.siblings)

    @cached_property
    def age(self) -> int:
        """The child's age in whole years on the placement date."""
        return self.child.age_on(self.on)

    @cached_property
    def ages(self) -> tuple[int, ...]:
        """Ages of the whole group on the placement date."""
        return tuple(c.age_on(self.on) for c in self.group)

    @cached_property
    def needs(self) -> dict[str, int]:
        """The needs to be met: for a sibling group, the highest severity of each need in the group."""
        merged: dict[str, int] = dict(self.referral.needs.severities)
        for sib in self.siblings:
            for need, sev in sib.needs.items():
                merged[need] = max(merged.get(need, 0), sev)
        return {k: v for k, v in merged.items() if v > 0}
