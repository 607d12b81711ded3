"""Offers compared: every household whose latest answer is "agreed", with exactly the explanation the full ranking
gives it now, the best-ranked among them named; an offer the rules now rule out stays, with the rule it breaks."""

from __future__ import annotations

from sqlalchemy import update

from matching.domain import Scope
from matching.fit_config import load_fit_config
from matching.ranking import service
from matching.referrals import answers, offers, sending
from matching.store import schema
from tests.referrals.sending_world import AT, IFA, IFA_SCOPE, ON, OWN, SCOPE, World, world

__all__ = ["world"]
OWN_SCOPE = Scope(agency_codes=frozenset({OWN}))


def _answer(w: World, household: str, said: str, scope: Scope = IFA_SCOPE, minute: int = 0) -> None:
    with w.engine.begin() as conn:
        answers.record_answer(
            conn, w.referral_id, household, said, "no_room_now" if said == "declined" else None, None,
            agency_scope=scope, actor=w.agency, now=AT.replace(minute=minute),
        )  # fmt: skip


def test_offers_carry_the_rankings_own_numbers_and_the_best_ranked_is_named(world: World) -> None:
    w = world
    with w.engine.begin() as conn:
        sending.send_referral(conn, w.referral_id, [OWN, IFA], scope=SCOPE, pool=w.pool, on=ON, actor=w.officer, now=AT)
        _, ifa = sending.agency_ranking(conn, w.referral_id, [IFA], pool=w.pool, on=ON)
        _, own = sending.agency_ranking(conn, w.referral_id, [OWN], pool=w.pool, on=ON)
    assert ifa is not None
    assert own is not None
    a, b, c = (x.household_id for x in ifa.candidates[:3])
    o = own.candidates[0].household_id
    _answer(w, a, "declined", minute=1)
    _answer(w, a, "agreed", minute=2)  # changed their mind: the offer stands
    _answer(w, b, "agreed", minute=3)
    _answer(w, b, "more_information", minute=4)  # no longer an offer
    _answer(w, c, "declined", minute=5)
    _answer(w, o, "agreed", scope=OWN_SCOPE, minute=6)
    with w.engine.connect() as conn:
        compared = offers.offers_compared(conn, w.referral_id, scope=SCOPE, pool=w.pool, on=ON, cfg=load_fit_config())
        request = sending.open_request(conn, scope=SCOPE, referral_id=w.referral_id, on=ON)
    assert {x.household_id for x in compared.offers} == {a, o}
    full = service.rank_households(pool=w.pool, request=request, top=service.MAX_TOP)
    by_id = {x.household_id: x for x in full.candidates}
    for offer in compared.offers:
        assert offer.explanation is not None
        assert offer.explanation.as_dict() == by_id[offer.household_id].as_dict()  # the matches page's numbers
    best = min(compared.offers, key=lambda x: by_id[x.household_id].rank)
    assert compared.best == best
    assert compared.offers[0] == best
    assert {(x.household_id, x.answer) for x in compared.others} == {(b, "more_information"), (c, "declined")}


def test_an_offer_ruled_out_now_stays_with_the_rule_it_breaks(world: World) -> None:
    w = world
    with w.engine.begin() as conn:
        sending.send_referral(conn, w.referral_id, [IFA], scope=SCOPE, pool=w.pool, on=ON, actor=w.officer, now=AT)
        _, ifa = sending.agency_ranking(conn, w.referral_id, [IFA], pool=w.pool, on=ON)
        need = next(n for n, s in answers.needs_to_name(conn, w.referral_id).items() if s > 0)
    assert ifa is not None
    first, second = ifa.candidates[0].household_id, ifa.candidates[1].household_id
    _answer(w, first, "agreed", minute=1)
    _answer(w, second, "agreed", minute=2)
    with w.engine.begin() as conn:  # the carers' list changes (an import, or a confirmed suggestion)
        conn.execute(
            update(schema.household).where(schema.household.c.household_id == first).values(will_not_consider=[need])
        )
    w.reload()
    with w.engine.connect() as conn:
        compared = offers.offers_compared(conn, w.referral_id, scope=SCOPE, pool=w.pool, on=ON, cfg=load_fit_config())
    by_id = {x.household_id: x for x in compared.offers}
    assert set(by_id) == {first, second}
    assert by_id[first].explanation is None
    assert by_id[first].rank is None
    assert "carer_exclusions" in {r.code for r in by_id[first].ruled_out}
    assert compared.best is not None
    assert compared.best.household_id == second
    assert compared.offers[-1].household_id == first  # ranked offers first
