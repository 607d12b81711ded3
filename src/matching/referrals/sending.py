"""Sending a referral to fostering services, and what a service sees of the referrals sent to it.

The placement officer sees every fostering service in their remit (the authority's in-house service and the
independent agencies) with how many of its households the hard rules leave for this child, and sends the
referral to the ones they choose, each once.  An agency officer sees only the referrals sent to an agency in
their remit: the minimum to judge a fit (the child's age and sex, needs, what the home must offer, the child's
wishes) and that agency's own households ranked and explained for the child; never another agency's households,
never the child's id.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

import numpy as np
from sqlalchemy import Connection, insert, select

from matching.access import Actor
from matching.decisions.decision import Problem, ProblemsError
from matching.domain import Child, Referral, Scope
from matching.eligibility.request import MatchRequest
from matching.ranking import service
from matching.ranking.explanation import MatchExplanation, MatchResult, NearMiss
from matching.ranking.pool import HouseholdPool
from matching.referrals.current import ReferralClosedError, ReferralNotFoundError, open_request
from matching.store import queries, schema

__all__ = [
    "FosteringService",
    "ReferralClosedError",
    "ReferralNotFoundError",
    "ReferralNotSentError",
    "Sending",
    "SendingError",
    "SentReferral",
    "agency_ranking",
    "agency_scope",
    "child_and_referral",
    "open_request",
    "referrals_sent_to",
    "send_referral",
    "sent_referral",
    "sent_to",
    "services_for",
]

_SENT, _AGENCY, _REF, _CHILD = schema.referral_sent, schema.agency, schema.referral, schema.child


class SendingError(ProblemsError):
    """A referral that cannot be sent as asked, with every problem at once."""


class ReferralNotSentError(LookupError):
    """No referral of that id sent to a fostering service in the caller's remit."""


@dataclass(frozen=True)
class Sending:
    """A referral sent to one fostering service: by whom, when, and how many of its households were suitable."""

    referral_id: str
    agency_code: str
    suitable_households: int
    sent_by: str
    sent_at: datetime


@dataclass(frozen=True)
class FosteringService:
    """A fostering service in the caller's remit, as the placement officer chooses where to send a referral."""

    agency_code: str
    name: str
    agency_type: str
    la_code: str | None
    households: int
    suitable_households: int
    sent: Sending | None

    @property
    def kind(self) -> str:
        """The kind of service in words."""
        return "In-house fostering service" if self.agency_type == "la" else "Independent fostering agency"


def sent_to(conn: Connection, referral_id: str, agency_codes: Iterable[str] | None = None) -> list[Sending]:
    """The fostering services a referral was sent to (only ``agency_codes`` when given), first sent first."""
    stmt = select(_SENT).where(_SENT.c.referral_id == referral_id)
    if agency_codes is not None:
        stmt = stmt.where(_SENT.c.agency_code.in_(sorted(set(agency_codes))))
    rows = conn.execute(stmt.order_by(_SENT.c.sent_at, _SENT.c.id)).mappings().all()
    return [_sending(r) for r in rows]


def _sending(r: object) -> Sending:
    row = dict(r)  # type: ignore[call-overload]
    return Sending(
        referral_id=row["referral_id"],
        agency_code=row["agency_code"],
        suitable_households=int(row["suitable_households"]),
        sent_by=row["sent_by"],
        sent_at=row["sent_at"],
    )


def _services_in(conn: Connection, scope: Scope) -> list[dict[str, object]]:
    stmt = select(_AGENCY)
    if scope.agency_codes is not None:
        stmt = stmt.where(_AGENCY.c.agency_code.in_(sorted(scope.agency_codes)))
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    # The in-house services first (the authority's own carers come before buying a placement), then by name.
    return sorted(rows, key=lambda r: (r["agency_type"] != "la", str(r["name"]), str(r["agency_code"])))


def _suitable_by_agency(pool: HouseholdPool, request: MatchRequest) -> tuple[Counter[str], Counter[str]]:
    """Households of each agency in the pool, and those eligible by the hard rules for ``request``."""
    every = Counter(h.agency_code for h in pool.households)
    eligible = np.flatnonzero(pool.failures(request).eligible)
    return every, Counter(pool.households[int(i)].agency_code for i in eligible)


def services_for(
    conn: Connection, referral_id: str, *, scope: Scope, pool: HouseholdPool, on: date
) -> list[FosteringService]:
    """Every fostering service in ``scope`` with how many of its households are suitable for the child of this open
    referral (eligible by the hard rules, as the ranking counts them) and whether it was sent already."""
    request = open_request(conn, scope=scope, referral_id=referral_id, on=on)
    every, suitable = _suitable_by_agency(pool, request)
    sent = {s.agency_code: s for s in sent_to(conn, referral_id)}
    return [
        FosteringService(
            agency_code=str(r["agency_code"]),
            name=str(r["name"]),
            agency_type=str(r["agency_type"]),
            la_code=None if r["la_code"] is None else str(r["la_code"]),
            households=every[str(r["agency_code"])],
            suitable_households=suitable[str(r["agency_code"])],
            sent=sent.get(str(r["agency_code"])),
        )
        for r in _services_in(conn, scope)
    ]


def send_referral(
    conn: Connection,
    referral_id: str,
    agency_codes: Sequence[str],
    *,
    scope: Scope,
    pool: HouseholdPool,
    on: date,
    actor: Actor,
    now: datetime,
) -> list[Sending]:
    """Send an open referral of a child in ``scope`` to these fostering services of the remit, each once, recording
    how many of each one's households are suitable now; :class:`SendingError` with every problem (none chosen, a
    service outside the remit or unknown, one listed twice or already sent), and nothing sent then."""
    if actor.user_id is None:
        raise ValueError("a referral is sent by a signed-in user")
    request = open_request(conn, scope=scope, referral_id=referral_id, on=on)
    known = {str(r["agency_code"]) for r in _services_in(conn, scope)}
    already = {s.agency_code for s in sent_to(conn, referral_id)}
    found: list[Problem] = []
    if not agency_codes:
        found.append(Problem("agency_codes", "Choose at least one fostering service to send the referral to"))
    seen: set[str] = set()
    for i, code in enumerate(agency_codes):
        at = f"agency_codes.{i}"
        if code not in known:
            found.append(Problem(at, "Choose a fostering service from the list: this one is not in your remit"))
        elif code in seen:
            found.append(Problem(at, "This fostering service is listed twice"))
        elif code in already:
            found.append(Problem(at, "The referral was already sent to this fostering service"))
        seen.add(code)
    if found:
        raise SendingError(found)
    _, suitable = _suitable_by_agency(pool, request)
    out = []
    for code in agency_codes:
        row = {
            "referral_id": referral_id,
            "agency_code": code,
            "suitable_households": suitable[code],
            "sent_by_user_id": actor.user_id,
            "sent_by": actor.username,
            "sent_at": now,
        }
        conn.execute(insert(_SENT).values(**row))
        out.append(Sending(referral_id, code, suitable[code], actor.username, now))
    return out


# --- what a fostering service sees ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SentReferral:
    """A referral as a fostering service sees it: enough to judge whether its carers could meet the child's needs.

    ``child_id`` and ``la_code`` are for the audit trail and for ranking; they are never shown to the service."""

    referral_id: str
    child_id: str
    la_code: str
    status: str
    referral: Referral
    age: int
    sex: str
    sent: tuple[Sending, ...]

    @property
    def first_sent(self) -> datetime:
        """When it was first sent to one of the caller's services."""
        return min(s.sent_at for s in self.sent)


def _sent_rows(
    conn: Connection, agency_codes: Iterable[str], referral_id: str | None = None
) -> dict[str, list[Sending]]:
    codes = sorted(set(agency_codes))
    stmt = select(_SENT).where(_SENT.c.agency_code.in_(codes))
    if referral_id is not None:
        stmt = stmt.where(_SENT.c.referral_id == referral_id)
    out: dict[str, list[Sending]] = {}
    for r in conn.execute(stmt.order_by(_SENT.c.sent_at, _SENT.c.id)).mappings():
        out.setdefault(r["referral_id"], []).append(_sending(r))
    return out


def child_and_referral(conn: Connection, referral_id: str) -> tuple[Child, Referral] | None:
    """The child of a referral and the referral, read in the child's own authority whoever asks (None when there
    is no such referral): for a service it was sent to, which may read this much of it and nothing else of the
    authority; the caller checks it was sent."""
    row = conn.execute(
        select(_REF.c.child_id, _CHILD.c.la_code)
        .join(_CHILD, _CHILD.c.child_id == _REF.c.child_id)
        .where(_REF.c.referral_id == referral_id)
    ).first()
    if row is None:
        return None
    scope = agency_scope(str(row.la_code), ())
    child = queries.get_child(conn, scope=scope, child_id=str(row.child_id), with_sdq=False)
    if child is None:
        return None
    referral = next((r for r in queries.referrals_of(conn, child=child) if r.referral_id == referral_id), None)
    return None if referral is None else (child, referral)


def _seen_by_service(conn: Connection, referral_id: str, sent: list[Sending], on: date) -> SentReferral | None:
    found = child_and_referral(conn, referral_id)
    if found is None:
        return None
    child, referral = found
    return SentReferral(
        referral_id=referral_id,
        child_id=child.child_id,
        la_code=child.la_code,
        status=referral.status,
        referral=referral,
        age=child.age_on(on),
        sex=child.sex,
        sent=tuple(sent),
    )


def agency_scope(la_code: str, agency_codes: Iterable[str]) -> Scope:
    """What a fostering service ranks a referral sent to it on: the child's authority (for the child and their
    history) and its own households only."""
    return Scope(la_codes=frozenset({la_code}), agency_codes=frozenset(agency_codes))


def sent_referral(conn: Connection, referral_id: str, agency_codes: Iterable[str], *, on: date) -> SentReferral:
    """A referral sent to one of ``agency_codes`` as the service sees it; :class:`ReferralNotSentError` otherwise."""
    codes = frozenset(agency_codes)
    sent = _sent_rows(conn, codes, referral_id).get(referral_id) if codes else None
    found = _seen_by_service(conn, referral_id, sent, on) if sent else None
    if found is None:
        raise ReferralNotSentError(f"no referral {referral_id!r} sent to your services")
    return found


def referrals_sent_to(
    conn: Connection, agency_codes: Iterable[str], *, on: date, status: str | None = None
) -> list[SentReferral]:
    """The referrals sent to any of ``agency_codes`` (only those of ``status`` when given), newest sent first:
    a fostering service's inbox."""
    codes = frozenset(agency_codes)
    if not codes:
        return []
    out = []
    for referral_id, sent in _sent_rows(conn, codes).items():
        seen = _seen_by_service(conn, referral_id, sent, on)
        if seen is not None and (status is None or seen.status == status):
            out.append(seen)
    return sorted(out, key=lambda s: (s.first_sent, s.referral_id), reverse=True)


def _restricted(pool: HouseholdPool, agency_codes: frozenset[str]) -> HouseholdPool:
    """``pool`` if it holds only these agencies' households, else a pool of theirs alone (same model)."""
    if all(h.agency_code in agency_codes for h in pool.households):
        return pool
    own = HouseholdPool([h for h in pool.households if h.agency_code in agency_codes], pool.taxonomy, pool.cfg)
    own.stability, own.model_note = pool.stability, pool.model_note
    return own


def _scrub(text: str, ids: Sequence[str]) -> str:
    """``text`` with any of these children's ids put in words (a service never sees a child's id)."""
    if not ids:
        return text
    pattern = re.compile("|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)))
    return pattern.sub("a child", text)


def _scrubbed(e: MatchExplanation, ids: Sequence[str]) -> MatchExplanation:
    return replace(
        e,
        factors=tuple(replace(f, detail=_scrub(f.detail, ids)) for f in e.factors),
        gaps=tuple(replace(g, action=_scrub(g.action, ids)) for g in e.gaps),
        warnings=tuple(replace(w, message=_scrub(w.message, ids)) for w in e.warnings),
        outside_terms=tuple(replace(r, reason=_scrub(r.reason, ids)) for r in e.outside_terms),
    )


def agency_ranking(
    conn: Connection,
    referral_id: str,
    agency_codes: Iterable[str],
    *,
    pool: HouseholdPool,
    on: date,
    top: int = service.MAX_TOP,
    seen: SentReferral | None = None,
) -> tuple[SentReferral, MatchResult | None]:
    """A referral sent to one of ``agency_codes`` and those agencies' own households ranked and explained for the
    child (None when the referral is no longer open): the same rules and scores as the placement team's ranking,
    over these agencies' households alone (``pool`` should be theirs, from :func:`agency_scope`; any other
    household in it is left out).  No child's id appears in the result's words.
    :class:`ReferralNotSentError` when it was not sent to them; ``seen``: the referral as :func:`sent_referral`
    gave it to the caller already (not read again)."""
    codes = frozenset(agency_codes)
    if seen is None or seen.referral_id != referral_id:
        seen = sent_referral(conn, referral_id, codes, on=on)
    if seen.status != "open":
        return seen, None
    try:
        request = open_request(conn, scope=agency_scope(seen.la_code, codes), referral_id=referral_id, on=on)
    except (ReferralNotFoundError, ReferralClosedError):
        return seen, None
    own = _restricted(pool, codes)
    result = service.rank_households(pool=own, request=request, top=top)
    ids = sorted(
        {c.child_id for c in request.group}
        | {m.member_id for h in own.households for m in (*h.foster_children, *h.members)}
    )
    candidates = tuple(_scrubbed(c, ids) for c in result.candidates if c.agency_code in codes)
    misses = tuple(NearMiss(m.household_id, m.rule, _scrub(m.reason, ids), m.score) for m in result.nearest_misses)
    notes = [n for n in result.notes if not n.startswith("To be placed with")]
    if request.siblings:
        n = len(request.siblings)
        notes.append(f"To be placed with {n} brother{'s' if n > 1 else ''} or sister{'s' if n > 1 else ''}.")
    return seen, replace(
        result,
        child_id="",
        candidates=candidates,
        nearest_misses=misses,
        notes=tuple(_scrub(n, ids) for n in notes),
    )
