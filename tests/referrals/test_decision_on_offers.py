"""A decision is measured against the offers: its snapshot keeps every offer as it was compared (explanation, or
the rules it breaks), choosing the best-ranked offer needs no reason even when households above it did not offer,
and choosing any other needs the reasons (a 'departure' in the monitoring)."""

from __future__ import annotations

import json

import pytest

from matching.decisions import DecisionDraft, DecisionError
from matching.decisions.outcomes import record_outcome
from matching.decisions.service import SNAPSHOT_TOP, _top, decide, snapshot_now
from matching.fit_config import load_fit_config
from matching.ranking import service
from matching.referrals import answers, records, sending
from tests.referrals.sending_world import AT, IFA, IFA_SCOPE, ON, SCOPE, World, world

__all__ = ["world"]
OFFICER = "A. Manager, Team manager (placements)"


def _offers_from_the_third_and_fourth(w: World) -> tuple[str, str, str]:
    """IFA001 is sent the referral; its third and fourth best households agree, its best declines."""
    with w.engine.begin() as conn:
        sending.send_referral(conn, w.referral_id, [IFA], scope=SCOPE, pool=w.pool, on=ON, actor=w.officer, now=AT)
        _, ifa = sending.agency_ranking(conn, w.referral_id, [IFA], pool=w.pool, on=ON)
        assert ifa is not None
        best, third, fourth = (ifa.candidates[i].household_id for i in (0, 2, 3))
        for minute, (household, said) in enumerate(((best, "declined"), (third, "agreed"), (fourth, "agreed"))):
            answers.record_answer(
                conn, w.referral_id, household, said, "no_room_now" if said == "declined" else None, None,
                agency_scope=IFA_SCOPE, actor=w.agency, now=AT.replace(minute=minute + 1),
            )  # fmt: skip
    return best, third, fourth


def test_the_snapshot_keeps_the_offers_and_the_best_ranked_offer_is_the_measure(world: World) -> None:
    w = world
    declined, third, fourth = _offers_from_the_third_and_fourth(w)
    cfg = load_fit_config()
    with w.engine.connect() as conn:
        snap = snapshot_now(conn, scope=SCOPE, referral_id=w.referral_id, on=ON, pool=w.pool, cfg=cfg, now=AT)
    snap.verify()
    assert [o["household_id"] for o in snap.offers] == [third, fourth]
    assert snap.best_offer == third
    assert snap.best_ranked == third  # not the household ranked first overall
    assert snap.candidates[0]["household_id"] != third
    offered = {o["household_id"]: o for o in snap.offers}
    assert offered[third]["explanation"] == snap.candidate(third)
    assert offered[third]["rank"] < offered[fourth]["rank"]
    assert declined not in offered

    with w.engine.begin() as conn:  # the best-ranked offer: no reason needed, not a departure
        chosen, _ = decide(
            conn,
            DecisionDraft(  # a reason only if the service warned about it
                "household_chosen", OFFICER, third, ("support_agreed",) if _warnings(snap, third) else (), None,
                _warnings(snap, third),
            ),
            scope=SCOPE, referral_id=w.referral_id, on=ON, pool=w.pool, cfg=cfg, actor=w.officer, now=AT,
        )  # fmt: skip
    assert chosen.best_ranked_household_id == third
    assert chosen.departs_from_ranking is False
    with w.engine.begin() as conn:  # a household chosen matches the referral; a changed mind reopens it
        assert records.get_referral(conn, w.referral_id, scope=SCOPE).status == "matched"
        records.change_status(
            conn, w.referral_id, "open", "decision_changed", scope=SCOPE, actor=w.officer, now=AT
        )  # fmt: skip

    with w.engine.begin() as conn, pytest.raises(DecisionError) as refused:  # the other offer: reasons needed
        decide(
            conn, DecisionDraft("household_chosen", OFFICER, fourth, accepted_warnings=_warnings(snap, fourth)),
            scope=SCOPE, referral_id=w.referral_id, on=ON, pool=w.pool, cfg=cfg, actor=w.officer, now=AT,
        )  # fmt: skip
    message = " ".join(p.message for p in refused.value.problems if p.field == "reason_codes")
    assert "best-ranked offer was ranked" in message

    with w.engine.begin() as conn:
        other, _ = decide(
            conn,
            DecisionDraft(
                "household_chosen", OFFICER, fourth, ("child_wishes",), None, tuple(_warnings(snap, fourth))
            ),
            scope=SCOPE, referral_id=w.referral_id, on=ON, pool=w.pool, cfg=cfg, actor=w.officer, now=AT,
        )  # fmt: skip
    assert other.departs_from_ranking is True
    assert other.best_ranked_household_id == third

    with w.engine.begin() as conn:  # the placement did not start: the referral is open again, and says why
        record_outcome(conn, chosen.decision_id, "not_started", ON, "carers_withdrew", None, w.officer, AT)
        assert records.get_referral(conn, w.referral_id, scope=SCOPE).status == "matched"  # not its latest
        record_outcome(conn, other.decision_id, "not_started", ON, "carers_withdrew", None, w.officer, AT)
        assert records.get_referral(conn, w.referral_id, scope=SCOPE).status == "open"
        last = records.history(conn, w.referral_id)[-1]
    assert (last.status_from, last.status_to, last.reason_code) == ("matched", "open", "placement_fell_through")


def _warnings(snap: object, household: str) -> tuple[str, ...]:
    shown = snap.candidate(household)  # type: ignore[attr-defined]
    return tuple(w["code"] for w in shown["warnings"]) if shown else ()


def test_the_snapshot_ranking_is_the_one_a_ranking_of_its_length_gives(world: World) -> None:
    """The snapshot's ranking is cut from the offers' longer one: it is what ranking ``SNAPSHOT_TOP`` households
    gives; and a cut to any length is that length's ranking, with the nearest misses exactly when it shows them
    (more eligible than the length, and fewer)."""
    w, cfg = world, load_fit_config()
    more_eligible = set()
    with w.engine.connect() as conn:
        for req in service.waiting_requests(conn, scope=SCOPE, on=ON):
            snap = snapshot_now(conn, scope=SCOPE, referral_id=req.referral.referral_id, on=ON, pool=w.pool, cfg=cfg)
            expected = service.rank_households(pool=w.pool, request=req, top=SNAPSHOT_TOP)
            assert snap.payload["ranking"] == json.loads(json.dumps(expected.as_dict()))
            longest = service.rank_households(pool=w.pool, request=req, top=service.MAX_TOP)
            for top in (1, 3, SNAPSHOT_TOP):
                assert _top(longest, top) == service.rank_households(pool=w.pool, request=req, top=top)
                more_eligible.add(longest.eligible >= top)
    assert more_eligible == {True, False}
