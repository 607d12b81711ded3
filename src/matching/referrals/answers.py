"""Carers' answers to a referral sent to their fostering service, and the "will not consider" suggestions a decline
can give rise to.

For each household asked, the service records the carers' answer: agreed to be put forward (an offer), asked for
more information, or declined with a reason from a list (:data:`DECLINE_REASONS`).  Answers are append-only: a
later answer of the same household supersedes the earlier.  A decline about one of the child's needs or risks
offers that need as an addition to the carers' "will not consider" list; it is applied only when the service
confirms it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from matching.access import Actor
from matching.decisions.decision import Problem, ProblemsError
from matching.domain import Scope
from matching.referrals.current import ReferralClosedError
from matching.referrals.sending import ReferralNotSentError, child_and_referral, sent_to
from matching.store import schema

__all__ = [
    "ANSWERS",
    "DECLINE_REASONS",
    "MAX_REASON_TEXT",
    "NEED_REASONS",
    "Answer",
    "AnswerError",
    "Suggestion",
    "SuggestionDecidedError",
    "SuggestionNotFoundError",
    "answers_for",
    "decide_suggestion",
    "households_version",
    "latest_answers",
    "needs_to_name",
    "record_answer",
    "suggestions_for",
]

_A, _S, _H = schema.carer_answer, schema.will_not_consider_suggestion, schema.household

#: The answers a household can give, in words.
ANSWERS: dict[str, str] = {
    "agreed": "Agreed to be put forward",
    "more_information": "Asked for more information",
    "declined": "Declined",
}
#: Why carers declined, in words.
DECLINE_REASONS: dict[str, str] = {
    "needs_beyond_our_experience": "The child's needs are beyond the carers' experience",
    "risk_to_others_in_home": "A risk to others living in the home",
    "no_room_now": "No room now",
    "household_circumstances_changed": "The household's circumstances have changed",
    "age_or_gender_mix": "The child's age or sex would not mix with the children living there",
    "distance_from_school_or_family": "Too far from the child's school or family",
    "carer_unwell_or_away": "A carer is unwell or away",
    "other": "Another reason (written in the text)",
}
#: The decline reasons that can name one of the child's needs or risks (a "will not consider" suggestion).
NEED_REASONS = frozenset({"needs_beyond_our_experience", "risk_to_others_in_home"})
MAX_REASON_TEXT = 2000
#: A suggestion's states.
PENDING, CONFIRMED, REJECTED = "pending", "confirmed", "rejected"


class AnswerError(ProblemsError):
    """An answer that cannot be recorded, with every problem at once."""


class SuggestionNotFoundError(LookupError):
    """No suggestion of that id for a household of the caller's services."""


class SuggestionDecidedError(ValueError):
    """The suggestion was confirmed or rejected already."""


@dataclass(frozen=True)
class Answer:
    """One household's answer to a referral, as recorded."""

    answer_id: int
    referral_id: str
    household_id: str
    agency_code: str
    answer: str
    reason_code: str | None
    reason_text: str | None
    recorded_by: str
    recorded_at: datetime

    @property
    def answer_words(self) -> str:
        """The answer in words."""
        return ANSWERS.get(self.answer, self.answer)

    @property
    def reason_words(self) -> str | None:
        """The decline reason in words (None when there is none)."""
        return None if self.reason_code is None else DECLINE_REASONS.get(self.reason_code, self.reason_code)

    @property
    def is_offer(self) -> bool:
        """True when the carers agreed to be put forward."""
        return self.answer == "agreed"


def _answer(r: object) -> Answer:
    row = dict(r)  # type: ignore[call-overload]
    return Answer(
        answer_id=int(row["id"]),
        referral_id=row["referral_id"],
        household_id=row["household_id"],
        agency_code=row["agency_code"],
        answer=row["answer"],
        reason_code=row["reason_code"],
        reason_text=row["reason_text"],
        recorded_by=row["recorded_by"],
        recorded_at=row["recorded_at"],
    )


def answers_for(conn: Connection, referral_id: str, agency_codes: Iterable[str] | None = None) -> list[Answer]:
    """Every answer recorded on a referral (only households of ``agency_codes`` when given), oldest first."""
    stmt = select(_A).where(_A.c.referral_id == referral_id)
    if agency_codes is not None:
        stmt = stmt.where(_A.c.agency_code.in_(sorted(set(agency_codes))))
    return [_answer(r) for r in conn.execute(stmt.order_by(_A.c.recorded_at, _A.c.id)).mappings()]


def latest_answers(answers: Iterable[Answer]) -> dict[str, Answer]:
    """Each household's answer that stands: its latest (by time recorded, then by order recorded)."""
    out: dict[str, Answer] = {}
    for a in sorted(answers, key=lambda a: (a.recorded_at, a.answer_id)):
        out[a.household_id] = a
    return out


def needs_to_name(conn: Connection, referral_id: str) -> dict[str, int]:
    """The child's needs (severity 1-3) and the referral's risks (severity 0 here) a decline can name, by code."""
    found = child_and_referral(conn, referral_id)
    if found is None:
        return {}
    _, referral = found
    out = {n: s for n, s in referral.needs.severities.items() if s > 0}
    for risk in (*referral.risks_to_others, *referral.risks_to_child):
        out.setdefault(risk, 0)
    return out


def record_answer(
    conn: Connection,
    referral_id: str,
    household_id: str,
    answer: str,
    reason_code: str | None,
    reason_text: str | None,
    *,
    agency_scope: Scope,
    actor: Actor,
    now: datetime,
    about: str | None = None,
) -> tuple[Answer, int | None]:
    """Record a household's answer to a referral sent to its service; the answer, and the id of the "will not
    consider" suggestion it gave rise to (a decline for a reason of :data:`NEED_REASONS` naming, in ``about``, one
    of the child's needs or risks the carers do not already exclude).

    :class:`ReferralNotSentError` when the referral was not sent to a service of ``agency_scope``;
    :class:`ReferralClosedError` when it is no longer open; :class:`AnswerError` with every problem (an unknown
    answer, a decline without a reason from the list, "other" without text, a household not of a service the
    referral was sent to in the remit, a need the child does not have)."""
    if actor.user_id is None:
        raise ValueError("an answer is recorded by a signed-in user")
    codes = agency_scope.agency_codes
    sent = {s.agency_code for s in sent_to(conn, referral_id, codes)}
    if not sent:
        raise ReferralNotSentError(f"no referral {referral_id!r} sent to your services")
    status = conn.execute(
        select(schema.referral.c.status).where(schema.referral.c.referral_id == referral_id)
    ).scalar_one_or_none()
    if status != "open":
        raise ReferralClosedError(f"referral {referral_id!r} is {status}, not open")
    text = (reason_text or "").strip() or None
    found: list[Problem] = []
    row = conn.execute(
        select(_H.c.household_id, _H.c.agency_code, _H.c.will_not_consider).where(_H.c.household_id == household_id)
    ).first()
    if row is None or row.agency_code not in sent:
        found.append(Problem("household_id", "Choose a household of a service this referral was sent to"))
    if answer not in ANSWERS:
        found.append(Problem("answer", "Choose the carers' answer: agreed, asked for more information or declined"))
    if answer == "declined":
        if reason_code is None or reason_code == "":
            found.append(Problem("reason_code", "Choose why the carers declined"))
        elif reason_code not in DECLINE_REASONS:
            found.append(Problem("reason_code", "Choose why the carers declined from the list"))
        elif reason_code == "other" and text is None:
            found.append(Problem("reason_text", "Say why the carers declined when the reason is 'another reason'"))
    elif reason_code:
        found.append(Problem("reason_code", "Give a reason only when the carers declined"))
    if text is not None and len(text) > MAX_REASON_TEXT:
        found.append(Problem("reason_text", f"Write the reason in {MAX_REASON_TEXT} characters or fewer"))
    if about:
        if answer != "declined" or reason_code not in NEED_REASONS:
            found.append(Problem("about", "Name a need only for a decline about the child's needs or risks"))
        elif about not in needs_to_name(conn, referral_id):
            found.append(Problem("about", "Choose one of the child's needs or risks on this referral"))
    if found:
        raise AnswerError(found)
    assert row is not None
    values = {
        "referral_id": referral_id,
        "household_id": household_id,
        "agency_code": row.agency_code,
        "answer": answer,
        "reason_code": reason_code if answer == "declined" else None,
        "reason_text": text,
        "recorded_by_user_id": actor.user_id,
        "recorded_by": actor.username,
        "recorded_at": now,
    }
    answer_id = int(conn.execute(insert(_A).values(**values).returning(_A.c.id)).scalar_one())
    recorded = Answer(answer_id, referral_id, household_id, str(row.agency_code), answer, values["reason_code"],
                      text, actor.username, now)  # fmt: skip
    suggestion = None
    if about and about not in tuple(row.will_not_consider or ()):
        pending = conn.execute(
            select(_S.c.id).where(_S.c.household_id == household_id, _S.c.code == about, _S.c.state == PENDING)
        ).first()
        if pending is None:
            suggestion = int(
                conn.execute(
                    insert(_S)
                    .values(household_id=household_id, code=about, answer_id=answer_id, state=PENDING)
                    .returning(_S.c.id)
                ).scalar_one()
            )
    return recorded, suggestion


# --- suggestions -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """A need or risk offered as an addition to a household's "will not consider" list, from a decline."""

    suggestion_id: int
    household_id: str
    agency_code: str
    code: str
    state: str
    referral_id: str
    reason_code: str | None
    answered_at: datetime
    decided_by: str | None
    decided_at: datetime | None

    @property
    def reason_words(self) -> str | None:
        """The decline reason in words."""
        return None if self.reason_code is None else DECLINE_REASONS.get(self.reason_code, self.reason_code)


def _suggestions(conn: Connection, agency_scope: Scope, suggestion_id: int | None = None) -> list[Suggestion]:
    stmt = (
        select(
            _S,
            _H.c.agency_code,
            _A.c.referral_id,
            _A.c.reason_code,
            _A.c.recorded_at,
        )
        .join(_H, _H.c.household_id == _S.c.household_id)
        .join(_A, _A.c.id == _S.c.answer_id)
    )
    if agency_scope.agency_codes is not None:
        stmt = stmt.where(_H.c.agency_code.in_(sorted(agency_scope.agency_codes)))
    if suggestion_id is not None:
        stmt = stmt.where(_S.c.id == suggestion_id)
    return [
        Suggestion(
            suggestion_id=int(r["id"]),
            household_id=r["household_id"],
            agency_code=r["agency_code"],
            code=r["code"],
            state=r["state"],
            referral_id=r["referral_id"],
            reason_code=r["reason_code"],
            answered_at=r["recorded_at"],
            decided_by=r["decided_by"],
            decided_at=r["decided_at"],
        )
        for r in conn.execute(stmt.order_by(_S.c.id)).mappings()
    ]


def suggestions_for(conn: Connection, agency_scope: Scope, *, state: str | None = PENDING) -> list[Suggestion]:
    """The suggestions for households of the caller's services (only those in ``state``; None: all), oldest first."""
    return [s for s in _suggestions(conn, agency_scope) if state is None or s.state == state]


def decide_suggestion(
    conn: Connection, suggestion_id: int, confirm: bool, *, agency_scope: Scope, actor: Actor, now: datetime
) -> Suggestion:
    """Confirm a pending suggestion (its need is added to the household's "will not consider" list in the store)
    or reject it (the list is left as it is); each suggestion is decided once.
    :class:`SuggestionNotFoundError` outside the caller's services; :class:`SuggestionDecidedError` when decided."""
    found = _suggestions(conn, agency_scope, suggestion_id)
    if not found:
        raise SuggestionNotFoundError(f"no suggestion {suggestion_id}")
    s = found[0]
    if s.state != PENDING:
        raise SuggestionDecidedError(f"suggestion {suggestion_id} was {s.state} already")
    state = CONFIRMED if confirm else REJECTED
    done = conn.execute(
        update(_S)
        .where(_S.c.id == suggestion_id, _S.c.state == PENDING)
        .values(state=state, decided_by_user_id=actor.user_id, decided_by=actor.username, decided_at=now)
    )
    if done.rowcount != 1:  # decided by someone else in the meantime
        raise SuggestionDecidedError(f"suggestion {suggestion_id} was decided already")
    if confirm:
        current = conn.execute(select(_H.c.will_not_consider).where(_H.c.household_id == s.household_id)).scalar_one()
        codes = list(current or ())
        if s.code not in codes:
            conn.execute(
                update(_H).where(_H.c.household_id == s.household_id).values(will_not_consider=[*codes, s.code])
            )
    return Suggestion(
        s.suggestion_id, s.household_id, s.agency_code, s.code, state, s.referral_id, s.reason_code,
        s.answered_at, actor.username, now,
    )  # fmt: skip


def households_version(conn: Connection) -> int:
    """Changes whenever a suggestion confirmed changes a household's "will not consider" list (for caches of
    households built from the store)."""
    return int(conn.execute(select(func.count()).select_from(_S).where(_S.c.state == CONFIRMED)).scalar_one())


def unanswered(conn: Connection, agency_codes: Iterable[str]) -> int:
    """How many open referrals were sent to any of ``agency_codes`` with no answer yet from a household of
    theirs (one query: the home page asks it on every visit)."""
    codes = sorted(set(agency_codes))
    if not codes:
        return 0
    s, a, r = schema.referral_sent, schema.carer_answer, schema.referral
    answered = select(a.c.id).where(a.c.referral_id == s.c.referral_id, a.c.agency_code.in_(codes))
    stmt = (
        select(func.count(func.distinct(s.c.referral_id)))
        .join(r, r.c.referral_id == s.c.referral_id)
        .where(s.c.agency_code.in_(codes), r.c.status == "open", ~answered.exists())
    )
    return int(conn.execute(stmt).scalar_one())
