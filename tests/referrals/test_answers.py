"""Carers' answers: only for households of a service the referral was sent to, a decline needs a reason from the
list (and words for "other"), the latest answer of a household stands; a decline naming one of the child's needs
offers it as a "will not consider" suggestion, applied to the household only when the service confirms it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from matching.domain import Scope
from matching.ranking import service
from matching.referrals import answers, sending
from matching.store import schema
from tests.referrals.sending_world import AT, IFA, IFA_SCOPE, ON, OTHER_IFA, SCOPE, World, world

__all__ = ["world"]


def _sent(w: World) -> list[str]:
    """Send the referral to IFA001; its households ranked for the child, best first."""
    with w.engine.begin() as conn:
        sending.send_referral(conn, w.referral_id, [IFA], scope=SCOPE, pool=w.pool, on=ON, actor=w.agency, now=AT)
        _, result = sending.agency_ranking(conn, w.referral_id, [IFA], pool=w.pool, on=ON)
    assert result is not None
    return [c.household_id for c in result.candidates]


def _other_agency_household(w: World) -> str:
    return next(h.household_id for h in w.pool.households if h.agency_code == OTHER_IFA)


def test_a_decline_needs_a_reason_and_every_problem_is_listed(world: World) -> None:
    w = world
    mine = _sent(w)
    cases: list[tuple[dict[str, str | None], list[str]]] = [
        ({"answer": "declined", "reason_code": None}, ["reason_code"]),
        ({"answer": "declined", "reason_code": "not_a_reason"}, ["reason_code"]),
        ({"answer": "declined", "reason_code": "other"}, ["reason_text"]),
        ({"answer": "agreed", "reason_code": "no_room_now"}, ["reason_code"]),
        ({"answer": "maybe", "reason_code": None}, ["answer"]),
        ({"answer": "agreed", "reason_code": None, "household": _other_agency_household(w)}, ["household_id"]),
        ({"answer": "agreed", "reason_code": None, "household": "NOPE"}, ["household_id"]),
        ({"answer": "declined", "reason_code": "no_room_now", "about": "self_harm"}, ["about"]),
        ({"answer": "declined", "reason_code": "needs_beyond_our_experience", "about": "not_a_need"}, ["about"]),
    ]
    for case, fields in cases:
        with pytest.raises(answers.AnswerError) as caught, w.engine.begin() as conn:
            answers.record_answer(
                conn, w.referral_id, str(case.get("household") or mine[0]), str(case["answer"]),
                case["reason_code"], None, agency_scope=IFA_SCOPE, actor=w.agency, now=AT,
                about=case.get("about"),
            )  # fmt: skip
        assert [p.field for p in caught.value.problems] == fields, case
    with w.engine.connect() as conn:
        assert answers.answers_for(conn, w.referral_id) == []
    # A service the referral was not sent to records nothing, whatever the household.
    with pytest.raises(sending.ReferralNotSentError), w.engine.begin() as conn:
        answers.record_answer(
            conn, w.referral_id, _other_agency_household(w), "agreed", None, None,
            agency_scope=Scope(agency_codes=frozenset({OTHER_IFA})), actor=w.agency, now=AT,
        )  # fmt: skip
    with w.engine.begin() as conn:
        a, suggestion = answers.record_answer(
            conn, w.referral_id, mine[0], "declined", "other", "  The carers are moving house  ",
            agency_scope=IFA_SCOPE, actor=w.agency, now=AT,
        )  # fmt: skip
    assert a.reason_text == "The carers are moving house"
    assert suggestion is None
    assert a.reason_words


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_latest_answer_of_each_household_stands(world: World, data: st.DataObject) -> None:
    w = world
    with w.engine.connect() as conn:
        sent = sending.sent_to(conn, w.referral_id, [IFA])
    mine = _sent(w) if not sent else [h.household_id for h in w.pool.households if h.agency_code == IFA][:3]
    steps = data.draw(
        st.lists(st.tuples(st.sampled_from(mine[:3]), st.sampled_from(sorted(answers.ANSWERS))), min_size=1, max_size=8)
    )
    with w.engine.connect() as conn:
        trans = conn.begin()
        try:
            for k, (household, said) in enumerate(steps):
                reason = "no_room_now" if said == "declined" else None
                answers.record_answer(
                    conn, w.referral_id, household, said, reason, None, agency_scope=IFA_SCOPE, actor=w.agency,
                    now=AT.replace(minute=k % 60),
                )  # fmt: skip
            standing = answers.latest_answers(answers.answers_for(conn, w.referral_id))
            expected = dict(steps)
            assert {h: a.answer for h, a in standing.items()} == expected
            assert len(answers.answers_for(conn, w.referral_id)) == len(steps)  # nothing overwritten
        finally:
            trans.rollback()


def test_a_decline_naming_a_need_is_a_suggestion_applied_only_when_confirmed(world: World) -> None:
    w = world
    mine = _sent(w)
    with w.engine.connect() as conn:
        named = answers.needs_to_name(conn, w.referral_id)
        version = answers.households_version(conn)
    need = next(n for n, s in sorted(named.items(), key=lambda kv: -kv[1]) if s > 0)
    first, second = mine[0], mine[1]
    with w.engine.begin() as conn:
        for h in (first, second):
            _, suggestion = answers.record_answer(
                conn, w.referral_id, h, "declined", "needs_beyond_our_experience", None, agency_scope=IFA_SCOPE,
                actor=w.agency, now=AT, about=need,
            )  # fmt: skip
            assert suggestion is not None
    with w.engine.connect() as conn:
        pending = answers.suggestions_for(conn, IFA_SCOPE)
        assert answers.suggestions_for(conn, Scope(agency_codes=frozenset({OTHER_IFA}))) == []
    assert {(s.household_id, s.code) for s in pending} == {(first, need), (second, need)}
    by_household = {s.household_id: s for s in pending}
    with pytest.raises(answers.SuggestionNotFoundError), w.engine.begin() as conn:
        answers.decide_suggestion(
            conn, by_household[first].suggestion_id, True, agency_scope=Scope(agency_codes=frozenset({OTHER_IFA})),
            actor=w.agency, now=AT,
        )  # fmt: skip
    with w.engine.begin() as conn:
        confirmed = answers.decide_suggestion(
            conn, by_household[first].suggestion_id, True, agency_scope=IFA_SCOPE, actor=w.agency, now=AT
        )
        rejected = answers.decide_suggestion(
            conn, by_household[second].suggestion_id, False, agency_scope=IFA_SCOPE, actor=w.agency, now=AT
        )
    assert (confirmed.state, rejected.state) == ("confirmed", "rejected")
    with pytest.raises(answers.SuggestionDecidedError), w.engine.begin() as conn:
        answers.decide_suggestion(conn, confirmed.suggestion_id, False, agency_scope=IFA_SCOPE, actor=w.agency, now=AT)
    with w.engine.connect() as conn:
        wont = dict(conn.execute(select(schema.household.c.household_id, schema.household.c.will_not_consider)).all())
        assert need in (wont[first] or [])
        assert need not in (wont[second] or [])
        assert answers.households_version(conn) == version + 1
        assert answers.suggestions_for(conn, IFA_SCOPE) == []
        assert len(answers.suggestions_for(conn, IFA_SCOPE, state=None)) == 2
    # The ranking, from the store again, respects the carers' choice: the household is ruled out for this child.
    w.reload()
    with w.engine.connect() as conn:
        request = sending.open_request(conn, scope=SCOPE, referral_id=w.referral_id, on=ON)
    ranked = {c.household_id for c in service.rank_households(pool=w.pool, request=request, top=500).candidates}
    assert first not in ranked
    assert second in ranked
    # Declining again about a need the carers already exclude suggests nothing.
    with w.engine.begin() as conn:
        _, again = answers.record_answer(
            conn, w.referral_id, first, "declined", "needs_beyond_our_experience", None, agency_scope=IFA_SCOPE,
            actor=w.agency, now=AT, about=need,
        )  # fmt: skip
    assert again is None


def test_unanswered_counts_the_inbox_referrals_no_household_has_answered(world: World) -> None:
    w = world

    def from_the_inbox(codes: list[str]) -> int:  # the long way: every sent referral read, then its answers
        with w.engine.connect() as conn:
            inbox = sending.referrals_sent_to(conn, codes, on=ON, status="open")
            return sum(1 for s in inbox if not answers.answers_for(conn, s.referral_id, codes))

    def counted(codes: list[str]) -> int:
        with w.engine.connect() as conn:
            return answers.unanswered(conn, codes)

    assert counted([IFA]) == from_the_inbox([IFA]) == 0
    households = _sent(w)
    assert counted([IFA]) == from_the_inbox([IFA]) == 1
    assert counted([OTHER_IFA]) == from_the_inbox([OTHER_IFA]) == 0
    with w.engine.begin() as conn:
        answers.record_answer(
            conn, w.referral_id, households[0], "agreed", None, None, agency_scope=IFA_SCOPE, actor=w.agency, now=AT
        )
    assert counted([IFA]) == from_the_inbox([IFA]) == 0
    assert counted([]) == 0
