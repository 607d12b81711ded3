"""Sending a referral to fostering services, their carers' answers, the "will not consider" suggestions a decline
gives rise to, and the offers compared.  The placement team sees the services of its remit and the answers; an
agency officer sees only the referrals sent to their agencies, with their own households ranked, and never a
child's id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from api.auth import Access, Caller
from api.deps import Decider
from api.jobs import JobRoute
from api.limits import on_or_as_at
from api.match_schemas import CandidateOut, NearMissOut
from api.offload import heavy
from api.pools import PoolCache
from api.routes.decisions import NO_REFERRAL, ReferralId
from api.routes.referral_records import Referrer
from api.schemas import BAD_BODY, NOT_FOUND, ErrorOut, Page
from matching.access import Permission
from matching.decisions.decision import Problem
from matching.ranking.explanation import MatchResult
from matching.referrals import answers as answers_lib
from matching.referrals import offers as offers_lib
from matching.referrals import sending
from matching.referrals.answers import ANSWERS, DECLINE_REASONS, MAX_REASON_TEXT
from matching.store import queries

router = APIRouter(tags=["referrals sent"], route_class=JobRoute)  # 405 names both methods of a path

ReferralReader = Annotated[Caller, Depends(Access(Permission.READ_REFERRALS))]
Answerer = Annotated[Caller, Depends(Access(Permission.ANSWER_REFERRALS))]
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
NOT_SENT = "no referral of that id sent to your services"
NO_SUGGESTION = "no suggestion of that id for your services' households"
CLOSED: dict[int | str, dict[str, object]] = {409: {"model": ErrorOut, "description": "The referral is not open"}}


def pools(request: Request) -> PoolCache:
    """The app's ranking pools."""
    cache: PoolCache = request.app.state.pools
    return cache


def now() -> datetime:
    """The moment a write is recorded."""
    return datetime.now(UTC)


def problems_422(found: list[Problem]) -> RequestValidationError:
    """The library's problems as a 422 naming each field of the body (``agency_codes.1`` is item 1 of the list)."""
    return RequestValidationError(
        [
            {
                "type": "value_error",
                "loc": ("body", *(int(p) if p.isdigit() else p for p in problem.field.split("."))),
                "msg": problem.message,
                "input": None,
            }
            for problem in found
        ]
    )


@contextmanager
def http_errors() -> Iterator[None]:
    """The library's referral errors as the API says them: outside the remit or not sent to the caller's services
    404, not open 409."""
    try:
        yield
    except sending.ReferralNotFoundError:
        raise HTTPException(status_code=404, detail=NO_REFERRAL) from None
    except sending.ReferralNotSentError:
        raise HTTPException(status_code=404, detail=NOT_SENT) from None
    except sending.ReferralClosedError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


# --- the placement team -----------------------------------------------------------------------------------------


class SentOut(BaseModel):
    """A referral sent to one fostering service."""

    agency_code: str
    suitable_households: int = Field(description="Households of the service suitable for the child when sent.")
    sent_by: str
    sent_at: datetime


class ServiceOut(BaseModel):
    """A fostering service of the caller's remit, for this referral."""

    agency_code: str
    name: str
    agency_type: str = Field(description="`la` in-house service or `ifa` independent agency.")
    households: int
    suitable_households: int = Field(description="Its households the hard rules leave for this child now.")
    sent: SentOut | None


def _sent_out(s: sending.Sending) -> SentOut:
    return SentOut(
        agency_code=s.agency_code, suitable_households=s.suitable_households, sent_by=s.sent_by, sent_at=s.sent_at
    )


def _open(request: Request, conn: Connection, caller: Caller, referral_id: str) -> date:
    """The as-at date, after checking the referral is in the caller's remit (404) and touching its child."""

    found = queries.referral_child(conn, scope=caller.scope, referral_id=referral_id)
    if found is None:
        raise HTTPException(status_code=404, detail=NO_REFERRAL)
    caller.touch([found[0]])
    return on_or_as_at(request, conn, None, ("query", "on"))


def services_now(
    request: Request, conn: Connection, caller: Caller, referral_id: str
) -> list[sending.FosteringService]:
    """The services of the caller's remit for an open referral in it (404 outside it, 409 not open)."""
    on = _open(request, conn, caller, referral_id)
    with http_errors():
        return sending.services_for(
            conn, referral_id, scope=caller.scope, pool=pools(request).get(conn, caller.scope), on=on
        )


@router.get("/v1/referrals/{referral_id}/services", response_model=list[ServiceOut], responses={**NOT_FOUND, **CLOSED})
@heavy
def services(request: Request, conn: Connection, referral_id: ReferralId, caller: Referrer) -> list[ServiceOut]:
    """Every fostering service of the caller's remit (in-house first) with how many of its households are
    suitable for the child of this open referral, and whether the referral was sent to it."""
    return [
        ServiceOut(
            agency_code=s.agency_code,
            name=s.name,
            agency_type=s.agency_type,
            households=s.households,
            suitable_households=s.suitable_households,
            sent=None if s.sent is None else _sent_out(s.sent),
        )
        for s in services_now(request, conn, caller, referral_id)
    ]


class SendIn(BaseModel):
    """The fostering services to send the referral to."""

    model_config = ConfigDict(extra="forbid", strict=True)

    agency_codes: list[Code] = Field(max_length=50, description="Services of your remit, each once.")


def send_now(
    request: Request, conn: Connection, caller: Caller, referral_id: str, codes: list[str], status: int
) -> list[sending.Sending]:
    """Send the referral (audited with ``status`` before the caller commits): the API's and the pages' one way.
    404 outside the remit, 409 not open; :class:`~matching.referrals.sending.SendingError` with every problem."""
    on = _open(request, conn, caller, referral_id)
    with http_errors():
        sent = sending.send_referral(
            conn,
            referral_id,
            codes,
            scope=caller.scope,
            pool=pools(request).get(conn, caller.scope),
            on=on,
            actor=caller.principal.actor,
            now=now(),
        )
    caller.note.detail = f"referral {referral_id} sent to {len(sent)} fostering services"
    caller.audit_now(request.app.state.audit, status)
    return sent


@router.post(
    "/v1/referrals/{referral_id}/sent",
    status_code=201,
    response_model=list[SentOut],
    responses={**NOT_FOUND, **BAD_BODY, **CLOSED},
)
def send(request: Request, referral_id: ReferralId, body: SendIn, caller: Referrer) -> list[SentOut]:
    """Send an open referral of a child in the caller's remit to fostering services of the remit, each once; 422
    lists every problem (none chosen, a service outside the remit, listed twice, already sent)."""
    with request.app.state.engine.begin() as conn:
        try:
            sent = send_now(request, conn, caller, referral_id, list(body.agency_codes), 201)
        except sending.SendingError as exc:
            raise problems_422(exc.problems) from None
    return [_sent_out(s) for s in sent]


@router.get("/v1/referrals/{referral_id}/sent", response_model=list[SentOut], responses=NOT_FOUND)
@heavy
def sent(request: Request, conn: Connection, referral_id: ReferralId, caller: Referrer) -> list[SentOut]:
    """The fostering services a referral of a child in the caller's remit was sent to, first sent first."""
    _open(request, conn, caller, referral_id)
    return [_sent_out(s) for s in sending.sent_to(conn, referral_id)]


class AnswerOut(BaseModel):
    """A household's answer to a referral."""

    id: int
    household_id: str
    agency_code: str
    answer: Literal["agreed", "more_information", "declined"]
    answer_words: str
    reason_code: str | None
    reason_words: str | None
    reason_text: str | None
    recorded_by: str
    recorded_at: datetime
    stands: bool = Field(description="True for the household's latest answer (the one that stands).")


def _answers_out(found: list[answers_lib.Answer]) -> list[AnswerOut]:
    standing = {a.answer_id for a in answers_lib.latest_answers(found).values()}
    return [
        AnswerOut(
            id=a.answer_id,
            household_id=a.household_id,
            agency_code=a.agency_code,
            answer=a.answer,
            answer_words=a.answer_words,
            reason_code=a.reason_code,
            reason_words=a.reason_words,
            reason_text=a.reason_text,
            recorded_by=a.recorded_by,
            recorded_at=a.recorded_at,
            stands=a.answer_id in standing,
        )
        for a in found
    ]


@router.get("/v1/referrals/{referral_id}/answers", response_model=list[AnswerOut], responses=NOT_FOUND)
@heavy
def all_answers(request: Request, conn: Connection, referral_id: ReferralId, caller: Decider) -> list[AnswerOut]:
    """Every carers' answer on a referral of a child in the caller's remit, oldest first (each household's latest
    stands), for the placement team."""
    _open(request, conn, caller, referral_id)
    return _answers_out(answers_lib.answers_for(conn, referral_id))


class OfferOut(BaseModel):
    """An offer, with the service's explanation now (None when a rule rules the household out now)."""

    household_id: str
    agency_code: str
    answered_at: datetime
    best_ranked: bool
    explanation: CandidateOut | None
    ruled_out: list[dict[str, str]] = Field(description="The rules the household breaks now (code and reason).")


class OffersOut(BaseModel):
    """A referral's offers side by side."""

    referral_id: str
    child_id: str
    placement_date: date
    considered: int
    eligible: int
    model: str
    fit_config_version: int
    best_ranked_household_id: str | None
    offers: list[OfferOut]
    other_answers: list[AnswerOut]


def offers_now(request: Request, conn: Connection, caller: Caller, referral_id: str) -> offers_lib.OffersCompared:
    """The offers on an open referral in the caller's remit (404 outside it, 409 not open)."""
    on = _open(request, conn, caller, referral_id)
    cache = pools(request)
    with http_errors():
        return offers_lib.offers_compared(
            conn, referral_id, scope=caller.scope, pool=cache.get(conn, caller.scope), on=on, cfg=cache.cfg
        )


@router.get("/v1/referrals/{referral_id}/offers", response_model=OffersOut, responses={**NOT_FOUND, **CLOSED})
@heavy
def offers(request: Request, conn: Connection, referral_id: ReferralId, caller: Decider) -> OffersOut:
    """Every offer on an open referral (households whose carers' latest answer is "agreed") with the explanation
    the full ranking gives it now (the same numbers as the matches), the best-ranked among them, and the other
    answers; an offer ruled out now is kept, with the rules it breaks."""
    c = offers_now(request, conn, caller, referral_id)
    best = c.best
    return OffersOut(
        referral_id=c.referral_id,
        child_id=c.child_id,
        placement_date=c.on,
        considered=c.ranking.considered,
        eligible=c.ranking.eligible,
        model=c.ranking.model,
        fit_config_version=c.fit_config_version,
        best_ranked_household_id=None if best is None else best.household_id,
        offers=[
            OfferOut(
                household_id=o.household_id,
                agency_code=o.answer.agency_code,
                answered_at=o.answer.recorded_at,
                best_ranked=best is not None and o.household_id == best.household_id,
                explanation=None if o.explanation is None else CandidateOut(**o.explanation.as_dict()),
                ruled_out=[{"code": r.code, "reason": r.reason} for r in o.ruled_out],
            )
            for o in c.offers
        ],
        other_answers=_answers_out(list(c.others)),
    )


# --- the fostering service --------------------------------------------------------------------------------------


class ReferralSeenOut(BaseModel):
    """A referral as a fostering service sees it: enough to judge a fit, never the child's id."""

    referral_id: str
    status: str
    referral_date: date
    urgency: str
    placement_type: str
    expected_stay_days: int | None
    age: int
    sex: str
    needs: dict[str, int] = Field(description="Need code: severity 1-3.")
    needs_assessed: bool
    live_alongside: str
    risks_to_others: list[str]
    risks_to_child: list[str]
    allergies: list[str]
    respiratory_needs: bool
    communication_needs: list[str]
    needs_adaptation: bool
    wishes: str
    wishes_near_school: bool
    wishes_near_family: bool
    sent_to: list[SentOut]


def seen_out(s: sending.SentReferral) -> ReferralSeenOut:
    """The API's view of a referral sent to the caller's services."""
    r = s.referral
    return ReferralSeenOut(
        referral_id=s.referral_id,
        status=s.status,
        referral_date=r.referral_date,
        urgency=r.urgency,
        placement_type=r.placement_type,
        expected_stay_days=r.expected_stay_days,
        age=s.age,
        sex=s.sex,
        needs={n: v for n, v in sorted(r.needs.severities.items(), key=lambda kv: (-kv[1], kv[0])) if v > 0},
        needs_assessed=r.needs.assessed,
        live_alongside=r.live_alongside,
        risks_to_others=list(r.risks_to_others),
        risks_to_child=list(r.risks_to_child),
        allergies=list(r.allergies),
        respiratory_needs=r.respiratory_needs,
        communication_needs=list(r.communication_needs),
        needs_adaptation=r.needs_adaptation,
        wishes=r.wishes.text,
        wishes_near_school=r.wishes.near_school,
        wishes_near_family=r.wishes.near_family,
        sent_to=[_sent_out(x) for x in s.sent],
    )


def agency_codes(caller: Caller) -> frozenset[str]:
    """The caller's agencies."""
    return caller.scope.agency_codes or frozenset()


@router.get("/v1/agency/referrals")
@heavy
def inbox(
    request: Request,
    conn: Connection,
    caller: ReferralReader,
    status: Annotated[Literal["open", "all"], Query(description="Open referrals only (default), or all.")] = "open",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[ReferralSeenOut]:
    """The referrals sent to the caller's fostering services, newest sent first."""
    on = on_or_as_at(request, conn, None, ("query", "on"))
    found = sending.referrals_sent_to(conn, agency_codes(caller), on=on, status=None if status == "all" else status)
    shown = found[offset : offset + limit]
    caller.touch(s.child_id for s in shown)
    return Page[ReferralSeenOut](items=[seen_out(s) for s in shown], total=len(found), offset=offset, limit=limit)


class AgencyReferralOut(BaseModel):
    """A referral sent to the caller's services, their households ranked for the child, and their answers."""

    referral: ReferralSeenOut
    considered: int
    eligible: int
    model: str
    candidates: list[CandidateOut]
    nearest_misses: list[NearMissOut]
    notes: list[str]
    answers: list[AnswerOut]


def agency_view(
    request: Request, conn: Connection, caller: Caller, referral_id: str
) -> tuple[sending.SentReferral, MatchResult | None, list[answers_lib.Answer]]:
    """A referral sent to the caller's services, their households ranked (None when not open) and their answers;
    404 when it was not sent to them."""
    codes = agency_codes(caller)
    on = on_or_as_at(request, conn, None, ("query", "on"))
    with http_errors():
        seen = sending.sent_referral(conn, referral_id, codes, on=on)
        pool = pools(request).get(conn, sending.agency_scope(seen.la_code, codes))
        seen, result = sending.agency_ranking(conn, referral_id, codes, pool=pool, on=on, seen=seen)
    caller.touch([seen.child_id])
    return seen, result, answers_lib.answers_for(conn, referral_id, codes)


@router.get("/v1/agency/referrals/{referral_id}", response_model=AgencyReferralOut, responses=NOT_FOUND)
@heavy
def agency_referral(
    request: Request, conn: Connection, referral_id: ReferralId, caller: ReferralReader
) -> AgencyReferralOut:
    """A referral sent to the caller's services with their own households ranked and explained for the child
    (none once it is no longer open) and the answers recorded; 404 if it was not sent to them."""
    seen, result, found = agency_view(request, conn, caller, referral_id)
    return AgencyReferralOut(
        referral=seen_out(seen),
        considered=0 if result is None else result.considered,
        eligible=0 if result is None else result.eligible,
        model="" if result is None else result.model,
        candidates=[] if result is None else [CandidateOut(**c.as_dict()) for c in result.candidates],
        nearest_misses=[]
        if result is None
        else [
            NearMissOut(household_id=m.household_id, rule=m.rule, reason=m.reason, score=round(m.score, 2))
            for m in result.nearest_misses
        ],
        notes=[] if result is None else list(result.notes),
        answers=_answers_out(found),
    )


class AnswerIn(BaseModel):
    """A household's answer to a referral sent to its service."""

    model_config = ConfigDict(extra="forbid", strict=True)

    household_id: Code
    answer: Literal["agreed", "more_information", "declined"] = Field(description=", ".join(ANSWERS))
    reason_code: Code | None = Field(default=None, description=f"When declined: {', '.join(DECLINE_REASONS)}.")
    reason_text: str | None = Field(default=None, max_length=MAX_REASON_TEXT, description="Required for `other`.")
    about: Code | None = Field(
        default=None,
        description="For a decline about the child's needs or risks: which one (a need or risk code of the "
        "referral); offered to the service as an addition to the carers' 'will not consider' list.",
    )


class AnswerRecordedOut(AnswerOut):
    """The answer recorded, and the suggestion it gave rise to."""

    suggestion_id: int | None


def answer_now(
    request: Request,
    conn: Connection,
    caller: Caller,
    referral_id: str,
    body: AnswerIn,
    status: int,
) -> tuple[answers_lib.Answer, int | None]:
    """Record an answer (audited with ``status`` before the caller commits): the API's and the pages' one way.
    404 not sent to the caller's services, 409 not open; :class:`~matching.referrals.answers.AnswerError`."""
    codes = agency_codes(caller)
    on = on_or_as_at(request, conn, None, ("query", "on"))
    with http_errors():
        seen = sending.sent_referral(conn, referral_id, codes, on=on)
        recorded = answers_lib.record_answer(
            conn,
            referral_id,
            body.household_id,
            body.answer,
            body.reason_code,
            body.reason_text,
            agency_scope=caller.scope,
            actor=caller.principal.actor,
            now=now(),
            about=body.about,
        )
    caller.touch([seen.child_id])
    caller.note.detail = f"answer on referral {referral_id}"
    caller.audit_now(request.app.state.audit, status)
    return recorded


@router.post(
    "/v1/agency/referrals/{referral_id}/answers",
    status_code=201,
    response_model=AnswerRecordedOut,
    responses={**NOT_FOUND, **BAD_BODY, **CLOSED},
)
def record_answer(request: Request, referral_id: ReferralId, body: AnswerIn, caller: Answerer) -> AnswerRecordedOut:
    """Record a household's answer to a referral sent to the caller's services: agreed to be put forward (an
    offer), asked for more information, or declined with a reason from the list (and words for `other`).  The
    latest answer of a household stands.  422 lists every problem."""
    with request.app.state.engine.begin() as conn:
        try:
            answer, suggestion = answer_now(request, conn, caller, referral_id, body, 201)
        except answers_lib.AnswerError as exc:
            raise problems_422(exc.problems) from None
    out = _answers_out([answer])[0]
    return AnswerRecordedOut(**out.model_dump(), suggestion_id=suggestion)


class SuggestionOut(BaseModel):
    """A need or risk offered as an addition to a household's "will not consider" list."""

    id: int
    household_id: str
    agency_code: str
    code: str
    state: Literal["pending", "confirmed", "rejected"]
    referral_id: str
    reason_code: str | None
    reason_words: str | None
    answered_at: datetime
    decided_by: str | None
    decided_at: datetime | None


def suggestion_out(s: answers_lib.Suggestion) -> SuggestionOut:
    """The API's view of a suggestion."""
    return SuggestionOut(
        id=s.suggestion_id,
        household_id=s.household_id,
        agency_code=s.agency_code,
        code=s.code,
        state=s.state,
        referral_id=s.referral_id,
        reason_code=s.reason_code,
        reason_words=s.reason_words,
        answered_at=s.answered_at,
        decided_by=s.decided_by,
        decided_at=s.decided_at,
    )


@router.get("/v1/agency/suggestions", response_model=list[SuggestionOut])
@heavy
def suggestions(request: Request, conn: Connection, caller: Answerer) -> list[SuggestionOut]:  # noqa: ARG001
    """The pending "will not consider" suggestions for households of the caller's services, oldest first."""
    return [suggestion_out(s) for s in answers_lib.suggestions_for(conn, caller.scope)]


class DecideIn(BaseModel):
    """Confirm (add the need to the carers' list) or reject a suggestion."""

    model_config = ConfigDict(extra="forbid", strict=True)

    confirm: bool


def decide_now(
    request: Request, conn: Connection, caller: Caller, suggestion_id: int, confirm: bool, status: int
) -> answers_lib.Suggestion:
    """Confirm or reject a suggestion (audited with ``status`` before the caller commits; the ranking's pools
    reloaded after a confirmation): 404 outside the caller's services, 409 decided already."""
    try:
        decided = answers_lib.decide_suggestion(
            conn, suggestion_id, confirm, agency_scope=caller.scope, actor=caller.principal.actor, now=now()
        )
    except answers_lib.SuggestionNotFoundError:
        raise HTTPException(status_code=404, detail=NO_SUGGESTION) from None
    except answers_lib.SuggestionDecidedError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    caller.note.detail = f"suggestion {suggestion_id} {decided.state}"
    caller.audit_now(request.app.state.audit, status)
    return decided


@router.post(
    "/v1/agency/suggestions/{suggestion_id}",
    response_model=SuggestionOut,
    responses={**NOT_FOUND, **BAD_BODY, 409: {"model": ErrorOut, "description": "Decided already"}},
)
def decide(
    request: Request,
    suggestion_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: DecideIn,
    caller: Answerer,
) -> SuggestionOut:
    """Confirm a pending suggestion (the need is added to the household's "will not consider" list, and the
    ranking respects it from now on) or reject it (the list is left as it is); each is decided once."""
    with request.app.state.engine.begin() as conn:
        decided = decide_now(request, conn, caller, suggestion_id, body.confirm, 200)
    if decided.state == "confirmed":
        pools(request).reload()
    return suggestion_out(decided)
