"""Children's needs assessed over time: a first assessment near the start of care, a reassessment
after each unplanned ending, and yearly reviews.  The latest assessment is the profile on file.

Each child has an *underlying* profile (``ChildArrays.severity`` as drawn by
:func:`matching.synth.children.make_children`).  The first assessment, dated in the four weeks
before care starts, shows less of it: each behavioural or emotional need is one level lower with
probability ``P_FIRST_LOWER``, and needs of adolescence (self harm, going missing, exploitation,
substance misuse, offending) are not yet there before the tenth birthday.  At each review a need
below its underlying level comes in by one level with probability ``P_EMERGE`` (needs of
adolescence only from age 10), and a need may ease by one level (``P_EASE``).  After an unplanned
ending the child is reassessed within six weeks: emerging needs come in as at a review, and with
probability ``P_RAISE`` one behaviour-related need goes up a level -- the behaviour that ended the
placement (physical aggression, going missing, self harm...).  The level in force from a day on is
the latest assessment dated on or before it, and that is what the outcome process reads.

A child's draws come from the authority's stream in the order the simulation asks for them
(assessments are applied lazily, when the child's needs are next read), so the result depends only
on the seed and the events before each reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matching.taxonomy import Taxonomy

_YEAR = 365.25
#: Needs that are what they are from the first assessment on: never lower at first, never eased.
STABLE_NEEDS = frozenset({"autism", "learning_disability", "physical_disability_medical"})
#: Needs of adolescence: not in force before the tenth birthday.
ADOLESCENT_NEEDS = frozenset(
    {"self_harm", "sexual_exploitation", "criminal_exploitation", "going_missing", "substance_misuse", "offending"}
)
#: Behaviour-related needs a breakdown may raise (under 10: only the first two and sexualised behaviour).
RAISED_AFTER_BREAKDOWN = (
    "physical_aggression",
    "emotional_regulation",
    "going_missing",
    "self_harm",
    "criminal_exploitation",
    "substance_misuse",
    "offending",
    "education_exclusion",
)
_RAISED_UNDER_10 = frozenset({"physical_aggression", "emotional_regulation", "sexualised_behaviour"})

P_FIRST_LOWER = 0.4
P_EMERGE = 0.5
P_EASE = 0.04
P_RAISE = 0.65
FIRST_REVIEW_DAYS = (150, 240)
REVIEW_EVERY_DAYS = (330, 400)
REASSESS_WITHIN_DAYS = (5, 43)
_NEVER = np.iinfo(np.int64).max // 4


def dynamics() -> dict[str, object]:
    """The parameters of the needs process, for ``truth/generator.json``."""
    return {
        "p_first_assessment_lower": P_FIRST_LOWER,
        "p_emerge_at_review": P_EMERGE,
        "p_ease_at_review": P_EASE,
        "p_raise_after_unplanned_ending": P_RAISE,
        "first_review_days": list(FIRST_REVIEW_DAYS),
        "review_every_days": list(REVIEW_EVERY_DAYS),
        "reassessment_within_days": list(REASSESS_WITHIN_DAYS),
        "stable_needs": sorted(STABLE_NEEDS),
        "adolescent_needs_from_age_10": sorted(ADOLESCENT_NEEDS),
        "raised_after_breakdown": list(RAISED_AFTER_BREAKDOWN),
    }


@dataclass
class NeedsTimeline:
    """Every child's needs in force, their assessments so far, and what is due next."""

    need_ids: tuple[str, ...]
    birth_day: np.ndarray
    underlying: np.ndarray  # (n, needs) the level each need tends to
    level: np.ndarray  # (n, needs) the level in force (the latest assessment applied)
    next_review: np.ndarray  # (n,) day of the next yearly review
    pending: list[list[int]]  # per child: days of reassessments due (after unplanned endings)
    days: list[int] = field(default_factory=list)  # assessments: day,
    child: list[int] = field(default_factory=list)  # child index,
    profile: list[np.ndarray] = field(default_factory=list)  # and the full profile on that day
    last: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # row of each child's latest
    # Masks over the needs (set by start()).
    _stable: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    _adolescent: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    _raisable: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    _raisable_young: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @classmethod
    def start(
        cls,
        underlying: np.ndarray,
        birth_day: np.ndarray,
        care_started: np.ndarray,
        taxonomy: Taxonomy,
        rng: np.random.Generator,
    ) -> NeedsTimeline:
        """First assessments of every child (drawn up front: they depend on nothing that happens in care)."""
        need_ids = taxonomy.need_ids
        n, m = underlying.shape
        stable = np.array([nid in STABLE_NEEDS for nid in need_ids], dtype=bool)
        adolescent = np.array([nid in ADOLESCENT_NEEDS for nid in need_ids], dtype=bool)
        first_day = np.maximum(birth_day, care_started - rng.integers(0, 29, n))
        young = (care_started - birth_day) / _YEAR < 10
        lower = (rng.random((n, m)) < P_FIRST_LOWER) & ~stable[None, :]
        level = np.where(lower, np.maximum(underlying - 1, 0), underlying)
        level[young[:, None] & adolescent[None, :]] = 0
        level = level.astype(np.int64)
        tl = cls(
            need_ids=need_ids,
            birth_day=birth_day,
            underlying=underlying.astype(np.int64).copy(),
            level=level,
            next_review=first_day + rng.integers(*FIRST_REVIEW_DAYS, n),
            pending=[[] for _ in range(n)],
            last=np.arange(n, dtype=np.int64),
        )
        tl.days = [int(d) for d in first_day]
        tl.child = list(range(n))
        tl.profile = [row.copy() for row in level]
        tl._stable = stable
        tl._adolescent = adolescent
        tl._raisable = np.array([nid in RAISED_AFTER_BREAKDOWN for nid in need_ids], dtype=bool)
        tl._raisable_young = np.array([nid in _RAISED_UNDER_10 for nid in need_ids], dtype=bool)
        return tl

    def reassess_after(self, i: int, day: int, snapshot_day: int, rng: np.random.Generator) -> None:
        """Book the reassessment that follows an unplanned ending on ``day`` (dated after it, by the snapshot)."""
        due = min(day + int(rng.integers(*REASSESS_WITHIN_DAYS)), snapshot_day)
        self.pending[i].append(due)

    def advance(self, i: int, day: int, rng: np.random.Generator) -> np.ndarray:
        """Apply child ``i``'s assessments dated on or before ``day``; return the needs then in force."""
        pending = self.pending[i]
        while True:
            review = int(self.next_review[i])
            due = min(pending) if pending else _NEVER
            on = min(review, due)
            if on > day:
                return self.level[i]
            age = (on - int(self.birth_day[i])) / _YEAR
            self._emerge(i, age, rng)
            if review == on:
                self.next_review[i] = on + int(rng.integers(*REVIEW_EVERY_DAYS))
            if due == on:
                pending.remove(due)
                self._raise(i, age, rng)
            self._record(i, on)

    def _emerge(self, i: int, age: float, rng: np.random.Generator) -> None:
        level, under = self.level[i], self.underlying[i]
        allowed = ~self._adolescent if age < 10 else np.ones(len(level), dtype=bool)
        u = rng.random((2, len(level)))
        up = (level < under) & allowed & (u[0] < P_EMERGE)
        ease = (level > 0) & ~up & ~self._stable & (u[1] < P_EASE)
        level += up
        level -= ease
        under[ease] = level[ease]  # eased for good: it does not come back at the next review

    def _raise(self, i: int, age: float, rng: np.random.Generator) -> None:
        if rng.random() >= P_RAISE:
            return
        level = self.level[i]
        can = (self._raisable_young if age < 10 else self._raisable) & (level < 3)
        options = np.flatnonzero(can)
        if len(options) == 0:
            return
        weights = np.where(level[options] > 0, 3.0, 1.0)
        cum = np.cumsum(weights)
        j = int(options[int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))])
        level[j] += 1
        self.underlying[i, j] = max(int(self.underlying[i, j]), int(level[j]))

    def _record(self, i: int, on: int) -> None:
        row = int(self.last[i])
        if self.days[row] == on:  # a review and a reassessment on one day: one assessment
            self.profile[row] = self.level[i].copy()
            return
        self.days.append(on)
        self.child.append(i)
        self.profile.append(self.level[i].copy())
        self.last[i] = len(self.days) - 1

    def finish(self, snapshot_day: int, rng: np.random.Generator) -> np.ndarray:
        """Apply every assessment due by the snapshot; return the snapshot profiles (the latest assessments)."""
        for i in range(len(self.level)):
            self.advance(i, snapshot_day, rng)
        return self.level.copy()

    def latest_day(self) -> np.ndarray:
        """The date of each child's latest assessment (day numbers)."""
        return np.array([self.days[r] for r in self.last], dtype=np.int64)

    def assessments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every assessment as (child index, day, profile rows), in the order made."""
        return (
            np.array(self.child, dtype=np.int64),
            np.array(self.days, dtype=np.int64),
            np.array(self.profile, dtype=np.int64).reshape(len(self.days), len(self.need_ids)),
        )
