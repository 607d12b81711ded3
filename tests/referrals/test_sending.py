"""Sending a referral: every service of the remit with its suitable households (the ranking's eligible
households of that service), each service once, every problem at once; a service sees only the referrals sent to
it and only its own households, ranked exactly as the placement team's ranking ranks them."""

from __future__ import annotations

from itertools import combinations

import pytest
from sqlalchemy import func, select, update

from matching.domain import Scope
from matching.ranking import service
from matching.referrals import sending
from matching.store import schema
from tests.referrals.sending_world import AT, IFA, ON, OTHER_IFA, OWN, SCOPE, World, world

__all__ = ["world"]


def _sent_rows(w: World) -> int:
    with w.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.referral_sent)).scalar_one())


def test_every_service_of_the_remit_is_listed_with_its_suitable_households(world: World) -> None:
    w = world
    with w.engine.connect() as conn:
        services = sending.services_for(conn, w.referral_id, scope=SCOPE, pool=w.pool, on=ON)
        request = sending.open_request(conn, scope=SCOPE, referral_id=w.referral_id, on=ON)
    assert next(s.agency_code for s in services) == OWN  # the in-house service first
    assert {s.agency_code for s in services} == {OWN, IFA, OTHER_IFA}
    result = service.rank_households(pool=w.pool, request=request, top=service.MAX_TOP)
    by_agency = {s.agency_code: s.suitable_households for s in services}
    assert sum(by_agency.values()) == result.eligible
    if result.eligible <= service.MAX_TOP:
        for code, n in by_agency.items():
            assert n == sum(1 for c in result.candidates if c.agency_code == code)
    assert all(s.sent is None for s in services)
    assert sum(s.households for s in services) == len(w.pool)


def test_a_referral_is_sent_to_each_service_once_and_every_problem_is_listed(world: World) -> None:
    w = world
    with w.engine.begin() as conn:
        sent = sending.send_referral(
            conn, w.referral_id, [OWN, IFA], scope=SCOPE, pool=w.pool, on=ON, actor=w.officer, now=AT
        )
    assert [s.agency_code for s in sent] == [OWN, IFA]
    with w.engine.connect() as conn:
        services = {
            s.agency_code: s for s in sending.services_for(conn, w.referral_id, scope=SCOPE, pool=w.pool, on=ON)
        }
        sent_ifa = services[IFA].sent
        assert sent_ifa is not None
        assert sent_ifa.suitable_households == services[IFA].suitable_households
        assert services[OTHER_IFA].sent is None
        assert [s.agency_code for s in sending.sent_to(conn, w.referral_id)] == [OWN, IFA]
    before = _sent_rows(w)
    with pytest.raises(sending.SendingError) as caught, w.engine.begin() as conn:
        sending.send_referral(
            conn, w.referral_id, [OTHER_IFA, IFA, "IFA999", OTHER_IFA], scope=SCOPE, pool=w.pool, on=ON,
            actor=w.officer, now=AT,
        )  # fmt: skip
    assert [p.field for p in caught.value.problems] == ["agency_codes.1", "agency_codes.2", "agency_codes.3"]
    assert _sent_rows(w) == before  # nothing sent: not even the one that was fine
    with pytest.raises(sending.SendingError) as caught, w.engine.begin() as conn:
        sending.send_referral(conn, w.referral_id, [], scope=SCOPE, pool=w.pool, on=ON, actor=w.officer, now=AT)
    assert [p.field for p in caught.value.problems] == ["agency_codes"]
    # A service outside the sender's remit is refused as unknown.
    narrow = Scope(la_codes=SCOPE.la_codes, agency_codes=frozenset({OWN}))
    with pytest.raises(sending.SendingError), w.engine.begin() as conn:
        sending.send_referral(
            conn, w.referral_id, [OTHER_IFA], scope=narrow, pool=w.pool, on=ON, actor=w.officer, now=AT
        )


def test_only_an_open_referral_in_scope_is_sent(world: World) -> None:
    w = world
    elsewhere = Scope(la_codes=frozenset({"L999"}), agency_codes=SCOPE.agency_codes)
    with pytest.raises(sending.ReferralNotFoundError), w.engine.connect() as conn:
        sending.services_for(conn, w.referral_id, scope=elsewhere, pool=w.pool, on=ON)
    with w.engine.begin() as conn:
        conn.execute(
            update(schema.referral).where(schema.referral.c.referral_id == w.referral_id).values(status="closed")
        )
    with pytest.raises(sending.ReferralClosedError), w.engine.begin() as conn:
        sending.send_referral(conn, w.referral_id, [IFA], scope=SCOPE, pool=w.pool, on=ON, actor=w.officer, now=AT)


def test_a_service_sees_only_the_referrals_sent_to_it_and_the_minimum_of_the_child(world: World) -> None:
    w = world
    with w.engine.begin() as conn:
        sending.send_referral(conn, w.referral_id, [IFA], scope=SCOPE, pool=w.pool, on=ON, actor=w.officer, now=AT)
    with w.engine.connect() as conn:
        inbox = sending.referrals_sent_to(conn, [IFA], on=ON)
        assert sending.referrals_sent_to(conn, [OTHER_IFA], on=ON) == []
        assert sending.referrals_sent_to(conn, [], on=ON) == []
        with pytest.raises(sending.ReferralNotSentError):
            sending.sent_referral(conn, w.referral_id, [OTHER_IFA], on=ON)
    assert [r.referral_id for r in inbox] == [w.referral_id]
    seen = inbox[0]
    assert seen.status == "open"
    assert 0 <= seen.age <= 17
    assert seen.sent[0].agency_code == IFA
    assert seen.referral.referral_id == w.referral_id


def test_an_agency_never_sees_another_agencys_households_and_its_own_rank_as_in_the_full_ranking(world: World) -> None:
    """For every set of services the referral was sent to, the ranking they see holds only their households, in
    the order and with the scores of the full ranking, whether the pool given is theirs or everyone's."""
    w = world
    with w.engine.begin() as conn:
        sending.send_referral(
            conn, w.referral_id, [OWN, IFA, OTHER_IFA], scope=SCOPE, pool=w.pool, on=ON, actor=w.officer, now=AT
        )
    with w.engine.connect() as conn:
        request = sending.open_request(conn, scope=SCOPE, referral_id=w.referral_id, on=ON)
        full = service.rank_households(pool=w.pool, request=request, top=service.MAX_TOP)
        for k in (1, 2):
            for codes in combinations((OWN, IFA, OTHER_IFA), k):
                _seen, result = sending.agency_ranking(conn, w.referral_id, codes, pool=w.pool, on=ON)
                assert result is not None
                assert {c.agency_code for c in result.candidates} <= set(codes)
                expected = [(c.household_id, c.score) for c in full.candidates if c.agency_code in codes]
                got = [(c.household_id, c.score) for c in result.candidates]
                assert got == expected[: len(got)]
                assert len(got) == min(len(expected), service.MAX_TOP)
                assert [c.rank for c in result.candidates] == list(range(1, len(got) + 1))
                assert result.considered == sum(1 for h in w.pool.households if h.agency_code in codes)
                assert {m.household_id for m in result.nearest_misses} <= {
                    h.household_id for h in w.pool.households if h.agency_code in codes
                }
                text = repr(result)
                assert w.child_id not in text
                assert result.child_id == ""
    with pytest.raises(sending.ReferralNotSentError), w.engine.connect() as conn:
        sending.agency_ranking(conn, w.referral_id, ["IFA999"], pool=w.pool, on=ON)
