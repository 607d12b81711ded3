"""Who may live with whom: every restriction is a range of other children's ages it rules out.

A child's referral may say who they can live alongside (``solo``, ``only_older``,
``only_younger``) and what risks they pose to others (``sexual_harm`` to younger children,
``physical_harm`` to children under 5).  Each becomes a :class:`Limit`: the ages (in whole years,
on the placement date) of other children that may not live in the same household.  A pair of
children may live together only if neither child's limits rule out the other: the rules work
both ways, for the children being placed and the children already living there.

Ranking, the vectorised rules, the allocation model and the allocation validator all read these
limits; none re-derives them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import numpy as np

from matching.eligibility.arithmetic import ADULT_AGE, age_on

T = TypeVar("T", int, np.ndarray)

#: The rule code a limit belongs to, by the restriction it comes from.
LIMIT_RULE = {
    "solo": "live_alongside",
    "only_older": "live_alongside",
    "only_younger": "live_alongside",
    "sexual_harm": "risk_to_others",
    "physical_harm": "risk_to_others",
}
#: Risks to others that limit who may live in the household (others, such as fire setting, do not).
AGE_RISKS = ("sexual_harm", "physical_harm")
#: Age under which ``physical_harm`` rules a child out.
PHYSICAL_HARM_UNDER = 5

_WORDS = {
    "solo": "must live as the only child",
    "only_older": "can live only with older children",
    "only_younger": "can live only with younger children",
    "sexual_harm": "poses a risk of sexual harm to younger children",
    "physical_harm": f"poses a risk of physical harm to children under {PHYSICAL_HARM_UNDER}",
}


@dataclass(frozen=True, slots=True)
class Limit:
    """Ages ``lo``..``hi`` (inclusive, whole years) of other children that ``kind`` rules out."""

    kind: str
    lo: int
    hi: int

    @property
    def rule(self) -> str:
        """The rule code this limit is reported under."""
        return LIMIT_RULE[self.kind]

    @property
    def words(self) -> str:
        """The restriction in plain words (after a child's name)."""
        return _WORDS[self.kind]

    def forbids(self, age: int) -> bool:
        """True if another child aged ``age`` may not live alongside."""
        return self.lo <= age <= self.hi and age < ADULT_AGE


#: Every kind of limit, in a fixed order (the vectorised rules index kinds by position here).
LIMIT_KINDS: tuple[str, ...] = tuple(LIMIT_RULE)


def bounds(kind: str, age: T) -> tuple[T, T]:
    """The ages (lo, hi) that a child aged ``age`` with a limit of ``kind`` rules out (scalars or arrays):
    ``solo`` everyone; ``only_older`` anyone as young or younger; ``only_younger`` anyone as old or older;
    ``sexual_harm`` anyone younger; ``physical_harm`` anyone under 5.  An empty range has lo > hi."""
    top = ADULT_AGE - 1
    zero = age * 0
    if kind == "solo":
        return zero, zero + top
    if kind == "only_older":
        return zero, age
    if kind == "only_younger":
        return age, zero + top
    if kind == "sexual_harm":
        return zero, age - 1
    if kind == "physical_harm":
        return zero, zero + PHYSICAL_HARM_UNDER - 1
    raise ValueError(f"unknown limit {kind!r}")


def kinds_of(live_alongside: str, risks_to_others: Iterable[str]) -> tuple[str, ...]:
    """The kinds of limit a referral's restriction and risks to others put on other children."""
    risks = set(risks_to_others)
    out = [live_alongside] if live_alongside in ("solo", "only_older", "only_younger") else []
    return (*out, *(r for r in AGE_RISKS if r in risks))


def limits_of(age: int, live_alongside: str, risks_to_others: Iterable[str]) -> tuple[Limit, ...]:
    """The limits a child aged ``age`` with this restriction and these risks puts on other children."""
    out = []
    for kind in kinds_of(live_alongside, risks_to_others):
        lo, hi = bounds(kind, age)
        hi = min(hi, ADULT_AGE - 1)  # only children are ruled out
        if lo <= hi:
            out.append(Limit(kind, lo, hi))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Occupant:
    """A child as far as living together goes: who, born when, and their own restriction and risks."""

    child_id: str
    birth_month: date
    live_alongside: str = "any"
    risks_to_others: tuple[str, ...] = ()

    def age(self, on: date) -> int:
        """Whole years on ``on``."""
        return age_on(self.birth_month, on)

    def limits(self, on: date) -> tuple[Limit, ...]:
        """The limits this child puts on others on ``on``."""
        return limits_of(self.age(on), self.live_alongside, self.risks_to_others)

    @property
    def restricts(self) -> bool:
        """True if this child limits who may live alongside at all."""
        return self.live_alongside != "any" or any(r in AGE_RISKS for r in self.risks_to_others)


@dataclass(frozen=True, slots=True)
class Clash:
    """One child's limit ruling out another child: ``holder``'s ``limit`` forbids ``other`` (aged ``other_age``)."""

    holder: str
    limit: Limit
    other: str
    other_age: int

    @property
    def rule(self) -> str:
        """The rule code of the limit."""
        return self.limit.rule

    def sentence(self) -> str:
        """One plain-English sentence naming both children and the restriction."""
        return f"{self.holder} {self.limit.words}; {self.other} is {self.other_age}."


def clashes(a: Occupant, b: Occupant, on: date) -> list[Clash]:
    """Every way ``a`` and ``b`` may not live together on ``on`` (both directions; empty when they may).

    A limit rules out children only (under 18); whoever holds it, whatever their age, keeps it."""
    out = [Clash(a.child_id, lim, b.child_id, b.age(on)) for lim in a.limits(on) if lim.forbids(b.age(on))]
    out += [Clash(b.child_id, lim, a.child_id, a.age(on)) for lim in b.limits(on) if lim.forbids(a.age(on))]
    return out


def age_mask(ages: Iterable[int]) -> int:
    """The children's ages (under 18) as bits of one integer: bit ``a`` for age ``a``."""
    return sum(1 << a for a in set(ages) if 0 <= a < ADULT_AGE)


def forbidden_mask(limits: Iterable[Sequence[Limit]]) -> int:
    """Every age some limit rules out, as bits of one integer (:func:`age_mask`'s layout)."""
    out = 0
    for lims in limits:
        for lim in lims:
            for a in range(max(lim.lo, 0), min(lim.hi, ADULT_AGE - 1) + 1):
                out |= 1 << a
    return out


def ages_clash(
    ages_a: Sequence[int],
    limits_a: Sequence[Sequence[Limit]],
    ages_b: Sequence[int],
    limits_b: Sequence[Sequence[Limit]],
) -> bool:
    """True if some child of group a and some child of group b may not live together (ages and limits per child)."""
    return any(lim.forbids(x) for lims in limits_a for lim in lims for x in ages_b) or any(
        lim.forbids(x) for lims in limits_b for lim in lims for x in ages_a
    )
