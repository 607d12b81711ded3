"""Offers compared: every household whose carers agreed to be put forward, side by side with the service's
explanation recomputed now (the same ranking objects the matches page shows: rank, score, factors, stability
estimate, warnings, needs met), and which of them is best-ranked.

An offered household the hard rules now rule out stays in the comparison with the rules it breaks: an offer never
vanishes from the officer's view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection

from matching.domain import Scope
from matching.eligibility.rules import RuleOutcome, evaluate
from matching.fit_config import FitConfig
from matching.ranking import service
from matching.ranking.explanation import MatchExplanation, MatchResult
from matching.ranking.pool import HouseholdPool
from matching.referrals.answers import Answer, answers_for, latest_answers
from matching.referrals.current import open_request

__all__ = ["Offer", "OffersCompared", "offers_compared"]


@dataclass(frozen=True)
class Offer:
    """One offer: the carers' answer and the service's explanation now (None when a hard rule rules the household
    out now: then ``ruled_out`` names the rules it breaks; both empty when the household is outside the remit)."""

    answer: Answer
    explanation: MatchExplanation | None
    ruled_out: tuple[RuleOutcome, ...] = ()

    @property
    def household_id(self) -> str:
        """The household offered."""
        return self.answer.household_id

    @property
    def rank(self) -> int | None:
        """Its rank in the full ranking now (None when not ranked)."""
        return None if self.explanation is None else self.explanation.rank


@dataclass(frozen=True)
class OffersCompared:
    """A referral's offers side by side, best-ranked first, and the other answers (declined, asked for more)."""

    referral_id: str
    child_id: str
    on: date
    ranking: MatchResult
    fit_config_version: int
    offers: tuple[Offer, ...]
    others: tuple[Answer, ...]

    @property
    def best(self) -> Offer | None:
        """The best-ranked offer (None when no offer is ranked)."""
        ranked = [o for o in self.offers if o.rank is not None]
        return min(ranked, key=lambda o: o.rank or 0) if ranked else None


def offers_compared(
    conn: Connection, referral_id: str, *, scope: Scope, pool: HouseholdPool, on: date, cfg: FitConfig
) -> OffersCompared:
    """Every offer on an open referral of a child in ``scope`` with its explanation recomputed now, as the full
    ranking over ``pool`` places it; :class:`~matching.referrals.current.ReferralNotFoundError` outside the scope,
    :class:`~matching.referrals.current.ReferralClosedError` when not open."""
    request = open_request(conn, scope=scope, referral_id=referral_id, on=on)
    standing = latest_answers(answers_for(conn, referral_id))
    offered = [a for a in standing.values() if a.is_offer]
    result = service.rank_households(pool=pool, request=request, top=service.MAX_TOP)
    by_id = {c.household_id: c for c in result.candidates}
    wanted = {a.household_id for a in offered}
    if not wanted <= set(by_id) and len(by_id) < result.eligible:  # an offer further down: rank them all
        every = service.rank_households(pool=pool, request=request, top=result.eligible, near_misses=False)
        by_id = {c.household_id: c for c in every.candidates}
    in_pool = {h.household_id: h for h in pool.households}
    offers = []
    for a in offered:
        if a.household_id in by_id:
            offers.append(Offer(a, by_id[a.household_id]))
        elif a.household_id in in_pool:
            failed = tuple(r for r in evaluate(request, in_pool[a.household_id], pool.cfg) if not r.passed)
            offers.append(Offer(a, None, failed))
        else:
            offers.append(Offer(a, None))
    offers.sort(key=lambda o: (o.rank is None, o.rank or 0, o.household_id))
    others = tuple(sorted((a for a in standing.values() if not a.is_offer), key=lambda a: (a.answer, a.household_id)))
    return OffersCompared(
        referral_id=referral_id,
        child_id=request.child.child_id,
        on=on,
        ranking=result,
        fit_config_version=cfg.version,
        offers=tuple(offers),
        others=others,
    )
