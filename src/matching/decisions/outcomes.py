"""What happened after a decision: the placement it chose started (a date), ended (a date and the SSDA903 reason,
REC), or never started (why, in words).

Outcomes are append-only: a correction is a new record of the same kind, and the latest of each kind stands.
An outcome is recorded by a signed-in person (source ``recorded``) or read from the authority's SSDA903 return
(source ``ssda903``, no user: :mod:`matching.decisions.outcomes_903`), which fills in only what no person has
recorded.  Whatever is recorded, the state stays whole: a placement never ends without having started, never ends before it
started, and one that started is never also "not started".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select

from matching import codes
from matching.access import Actor
from matching.decisions.decision import MAX_TEXT, Decision, DecisionOutcome, Problem, ProblemsError
from matching.decisions.store import decision_by_id
from matching.domain import Scope
from matching.referrals.records import change_status
from matching.store import schema

_O, _D = schema.placement_outcome, schema.placement_decision
#: Days are England's: a decision at 00:30 on a summer night is on that day, not the day before (UTC).
ENGLAND = ZoneInfo("Europe/London")


class OutcomeKind(StrEnum):
    """What happened to the placement a decision chose."""

    STARTED = "started"
    ENDED = "ended"
    NOT_STARTED = "not_started"


#: Each kind in words.
KIND_WORDS: dict[str, str] = {
    "started": "The placement started",
    "ended": "The placement ended",
    "not_started": "The placement did not start",
}

#: Words for the SSDA903 REC codes (:data:`matching.codes.REASON_CEASED`, which is the list checked against).
REC_WORDS: dict[str, str] = {
    "X1": "Still looked after: moved to another placement, or the legal status changed",
    "E11": "Adopted: the application for an adoption order was not opposed",
    "E12": "Adopted: the court dispensed with consent",
    "E13": "Left care to live with parents, relatives or others without parental responsibility",
    "E14": "Accommodation on remand ended",
    "E15": "An age assessment found the young person to be 18 or over",
    "E16": "Moved abroad",
    "E17": "Aged 18 or over and stayed with the carers (including staying put)",
    "E2": "Died",
    "E3": "Care taken over by another local authority in the UK",
    "E41": "A residence order or child arrangements order was granted",
    "E45": "Special guardianship order to former foster carers who are relatives or friends",
    "E46": "Special guardianship order to former foster carers who are not relatives or friends",
    "E47": "Special guardianship order to other carers who are relatives or friends",
    "E48": "Special guardianship order to other carers who are not relatives or friends",
    "E4A": "Returned home to people with parental responsibility, as planned in the care plan",
    "E4B": "Returned home to people with parental responsibility, not as planned",
    "E5": "Moved to independent living with formal support",
    "E6": "Moved to independent living without formal support",
    "E7": "Moved to residential care funded by adult social care",
    "E8": "Stopped being looked after for another reason",
    "E9": "Sentenced to custody",
}
#: The reasons a placement ends, as offered: the SSDA903 REC codes with their words, X1 first.
END_REASONS: dict[str, str] = {
    code: f"{REC_WORDS.get(code, code)} ({code})"
    for code in sorted(codes.REASON_CEASED, key=lambda c: (c != "X1", c[:2], len(c), c))
}
#: Why a placement that was chosen never started.
NOT_STARTED_REASONS: dict[str, str] = {
    "carers_withdrew": "The carers withdrew",
    "service_withdrew": "The fostering service withdrew the offer",
    "child_plan_changed": "The child's plan changed",
    "child_returned_home": "The child returned home or to family",
    "child_declined": "The child did not want to move there",
    "other": "Another reason (written below)",
}
#: Where an outcome came from: recorded by a signed-in person, or read from an SSDA903 return.
SOURCES: dict[str, str] = {"recorded": "recorded", "ssda903": "from the SSDA903 return"}
#: Who an outcome read from an SSDA903 return is recorded by.
SSDA903_RECORDER = "ssda903 import"
#: REC codes of an ending counted as the placement *not* lasting, when it came within 12 months of the start.
#: The stability estimate is of "lasting a year without an unplanned ending"; an outcome holds only REC, which
#: says why the episode ceased, not whether a move was planned.  X1 (moved to another placement) is counted as not
#: lasting whether or not the move was planned (the record cannot tell), and E4B (returned home, not as planned);
#: every other REC ends the child's care for a reason that is no breakdown of the placement (adoption, a special
#: guardianship or child arrangements order, returning home as planned, turning 18, custody ...).
NOT_LASTING_REC: frozenset[str] = frozenset({"X1", "E4B"})
#: Days a placement must last to count as lasting a year (as the stability model counts: within 365 days).
YEAR_DAYS = 365
#: The states :func:`placement_state` gives.
STATES = ("awaiting start", "started", "ended", "not started")


class OutcomeError(ProblemsError):
    """An outcome that cannot be recorded, with every problem at once."""


@dataclass(frozen=True)
class Outcome:
    """A recorded outcome."""

    outcome_id: int
    decision_id: int
    kind: OutcomeKind
    on: date
    reason: str | None
    reason_text: str | None
    recorded_by: str
    recorded_at: datetime
    #: "recorded" (by a signed-in person) or "ssda903" (read from an SSDA903 return).
    source: str = "recorded"
    #: The person who recorded it; None when read from an SSDA903 return.
    recorded_by_user_id: int | None = None

    @property
    def source_words(self) -> str:
        """Where it came from, in words ("recorded", "from the SSDA903 return")."""
        return SOURCES.get(self.source, self.source)


@dataclass(frozen=True)
class PlacementState:
    """Where the placement a decision chose stands: its state, the days it started and ended, and the reason it
    ended (an SSDA903 REC code) or did not start."""

    state: str
    started_on: date | None = None
    ended_on: date | None = None
    not_started_on: date | None = None
    reason: str | None = None
    reason_text: str | None = None


def day_in_england(moment: datetime) -> date:
    """The day ``moment`` falls on in England (a moment without a zone is taken as UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(ENGLAND).date()


def standing(outcomes: Sequence[Outcome]) -> dict[OutcomeKind, Outcome]:
    """The outcome that stands of each kind recorded: the latest (a later one corrects an earlier)."""
    out: dict[OutcomeKind, Outcome] = {}
    for o in sorted(outcomes, key=lambda o: (o.recorded_at, o.outcome_id)):
        out[o.kind] = o
    return out


def placement_state(decision: Decision, outcomes: Sequence[Outcome]) -> PlacementState | None:
    """Where the placement ``decision`` chose stands, from its ``outcomes`` (None when it chose no household)."""
    if decision.outcome is not DecisionOutcome.HOUSEHOLD_CHOSEN:
        return None
    now = standing([o for o in outcomes if o.decision_id == decision.decision_id])
    started, ended, not_started = (now.get(k) for k in OutcomeKind)
    if not_started is not None:
        return PlacementState(
            "not started", not_started_on=not_started.on, reason=not_started.reason, reason_text=not_started.reason_text
        )
    if started is None:
        return PlacementState("awaiting start")
    if ended is None:
        return PlacementState("started", started_on=started.on)
    return PlacementState(
        "ended", started_on=started.on, ended_on=ended.on, reason=ended.reason, reason_text=ended.reason_text
    )


def lasted_a_year(started_on: date, ended_on: date | None, reason: str | None, as_at: date) -> bool | None:
    """Whether a placement that started on ``started_on`` lasted a year as the stability estimate means it: no
    ending within :data:`YEAR_DAYS` of the start for a reason counted as not lasting (:data:`NOT_LASTING_REC`).
    Only a placement that started at least a year before ``as_at`` is observed: None (pending) otherwise."""
    if (as_at - started_on).days < YEAR_DAYS:
        return None
    if ended_on is not None and (ended_on - started_on).days <= YEAR_DAYS:
        return reason not in NOT_LASTING_REC
    return True


def _day(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def problems(
    decision: Decision | None,
    outcomes: Sequence[Outcome],
    kind: OutcomeKind | str,
    on: date | None,
    reason: str | None,
    text: str | None,
    *,
    today: date,
) -> list[Problem]:
    """Everything that stops this outcome being recorded on ``decision`` after ``outcomes`` (empty when it can
    be), ``today`` being the day in England."""
    if decision is None:
        return [Problem("decision_id", "There is no decision of that id")]
    found: list[Problem] = []
    if text is not None and len(text) > MAX_TEXT:
        found.append(Problem("reason_text", f"What happened must be {MAX_TEXT} characters or fewer"))
    if decision.outcome is not DecisionOutcome.HOUSEHOLD_CHOSEN:
        return [Problem("kind", "No household was chosen in this decision, so there is no placement to record")]
    try:
        what = OutcomeKind(kind)
    except ValueError:
        return [*found, Problem("kind", "Choose what happened: the placement started, ended, or did not start")]
    now = standing([o for o in outcomes if o.decision_id == decision.decision_id])
    started, ended, not_started = (now.get(k) for k in OutcomeKind)
    the_date = {
        OutcomeKind.STARTED: "The date the placement started",
        OutcomeKind.ENDED: "The date the placement ended",
        OutcomeKind.NOT_STARTED: "The date it was known the placement would not start",
    }[what]
    decided = day_in_england(decision.decided_at)
    dated: list[str] = []  # what is wrong with the date: only the first is shown
    if on is None:
        dated.append(f"Enter {the_date[0].lower()}{the_date[1:]}")
    elif on > today:
        dated.append(f"{the_date} must be today or in the past")
    elif on < decided:
        dated.append(f"{the_date} must be on or after the day of the decision, {_day(decided)}")
    if what is OutcomeKind.STARTED:
        if not_started is not None:
            found.append(Problem("kind", "The placement was recorded as not started: record a new decision instead"))
        elif ended is not None and on is not None and on > ended.on:
            dated.append(f"{the_date} must be on or before the day it ended, {_day(ended.on)}")
        if reason:
            found.append(Problem("reason", "Give no reason for a placement starting"))
    elif what is OutcomeKind.ENDED:
        if started is None:
            found.append(Problem("kind", "Record the day the placement started before recording its end"))
        elif on is not None and on < started.on:
            dated.append(f"{the_date} must be on or after the day it started, {_day(started.on)}")
        if not reason:
            found.append(Problem("reason", "Choose the reason the placement ended"))
        elif reason not in codes.REASON_CEASED:
            found.append(Problem("reason", "Choose the reason the placement ended from the SSDA903 list (REC)"))
    else:
        if started is not None:
            found.append(Problem("kind", "The placement started: record the day it ended instead"))
        if not reason:
            found.append(Problem("reason", "Choose why the placement did not start"))
        elif reason not in NOT_STARTED_REASONS:
            found.append(Problem("reason", "Choose why the placement did not start from the list"))
        elif reason == "other" and not (text or "").strip():
            found.append(Problem("reason_text", "Write why the placement did not start"))
    if dated:
        found.append(Problem("on", dated[0]))
    order = ("kind", "on", "reason", "reason_text")
    return sorted(found, key=lambda p: order.index(p.field) if p.field in order else len(order))


def outcomes_for(conn: Connection, decision_ids: Sequence[int]) -> list[Outcome]:
    """Every outcome recorded on these decisions, oldest first (the latest of each kind stands)."""
    if not decision_ids:
        return []
    rows = conn.execute(
        select(_O).where(_O.c.decision_id.in_(sorted(set(decision_ids)))).order_by(_O.c.recorded_at, _O.c.id)
    ).mappings()
    return [_outcome(dict(r)) for r in rows]


def record_outcome(
    conn: Connection,
    decision_id: int,
    kind: OutcomeKind | str,
    on: date | None,
    reason: str | None,
    text: str | None,
    actor: Actor,
    now: datetime | None = None,
) -> Outcome:
    """Record what happened to the placement ``decision_id`` chose, by the signed-in ``actor``;
    :class:`OutcomeError` with every problem when it cannot be recorded."""
    at = now or datetime.now(UTC)
    # The decision's row is locked (PostgreSQL) so two outcomes of one placement are checked one after the other.
    conn.execute(select(_D.c.id).where(_D.c.id == decision_id).with_for_update()).first()
    decision = decision_by_id(conn, decision_id)
    earlier = outcomes_for(conn, [decision_id]) if decision is not None else []
    found = problems(decision, earlier, kind, on, reason, text, today=day_in_england(at))
    if actor.user_id is None:
        found.append(Problem("recorded_by", "An outcome is recorded by a signed-in person, not the service"))
    if found:
        raise OutcomeError(found)
    assert on is not None
    values = {
        "decision_id": decision_id,
        "kind": OutcomeKind(kind).value,
        "on_date": on,
        "reason_code": reason or None,
        "reason_text": (text or "").strip() or None,
        "recorded_by_user_id": actor.user_id,
        "recorded_by": actor.username,
        "recorded_at": at,
        "source": "recorded",
    }
    outcome_id = conn.execute(insert(_O).values(**values).returning(_O.c.id)).scalar_one()
    if OutcomeKind(kind) is OutcomeKind.NOT_STARTED:
        assert decision is not None
        _waits_again(conn, decision, actor, at)
    return _outcome({**values, "id": outcome_id})


def _waits_again(conn: Connection, decision: Decision, actor: Actor, at: datetime) -> None:
    """A placement that did not start reopens the referral it matched (when this is its latest decision): the
    child waits again, and the referral's history says why and who recorded it."""
    r, c = schema.referral, schema.child
    latest = (
        select(_D.c.id)
        .where(_D.c.referral_id == r.c.referral_id)
        .order_by(_D.c.decided_at.desc(), _D.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    found = conn.execute(
        select(r.c.status, c.c.la_code, latest.label("latest"))
        .join(c, c.c.child_id == r.c.child_id)
        .where(r.c.referral_id == decision.referral_id)
    ).first()
    if found is None or found.status != "matched" or found.latest != decision.decision_id:
        return
    # the caller checked the decision is in its remit: the child's own authority is the scope of the change
    scope = Scope.for_local_authority(str(found.la_code), frozenset())
    change_status(conn, decision.referral_id, "open", "placement_fell_through", scope=scope, actor=actor, now=at)


def _outcome(row: dict[str, object]) -> Outcome:
    at, on = row["recorded_at"], row["on_date"]
    assert isinstance(at, datetime)
    assert isinstance(on, date)
    return Outcome(
        outcome_id=int(row["id"]),  # type: ignore[call-overload]
        decision_id=int(row["decision_id"]),  # type: ignore[call-overload]
        kind=OutcomeKind(str(row["kind"])),
        on=on,
        reason=None if row["reason_code"] is None else str(row["reason_code"]),
        reason_text=None if row["reason_text"] is None else str(row["reason_text"]),
        recorded_by=str(row["recorded_by"]),
        recorded_at=at if at.tzinfo else at.replace(tzinfo=UTC),
        source=str(row.get("source") or "recorded"),
        recorded_by_user_id=None if row.get("recorded_by_user_id") is None else int(row["recorded_by_user_id"]),  # type: ignore[call-overload]
    )
