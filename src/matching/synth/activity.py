"""Generated activity for the bundled data: the stream of work a placement team and its fostering services would
have recorded — referrals sent to services, carers' answers, offers, decisions by a named officer, placement
plans and what happened after — so that ``make run`` shows the referral pages, the agency's inbox and the
monitoring with something in them.

It is written through the service's own functions (the same checks as a person's entries), by the
demonstration accounts, in time order:

- for the authority's referrals of the last ``months`` months before the as-at date that were matched (the
  referral was open then), it was sent to the authority's own fostering service and an agency; the carers of each
  service's best-ranked households answered (agreed, asked for more, or declined with a reason, now and then
  naming one of the child's needs); the named officer decided on the ranking recomputed on that day, usually on
  the best-ranked offer, otherwise with the reasons; the placement plan was agreed; the placement started a few
  days later and lasted, or ended (SSDA903 X1) within the year, drawn from the estimate the officer was shown
  with a drift for older children, so the monitoring's estimated-against-observed has something to find;
- a few of today's open referrals are sent and partly answered, and left for the people using the service.

The placements it records are the stream's own, not the imported history's: ``matching train`` on a store with
generated activity learns from them as it would from an authority's recorded outcomes.

Development only (it needs the demonstration accounts); seeded, so the same store and seed give the same
activity.  It is written once: a store whose authority already has decisions is left as it is.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, select, update

from matching.access import Actor, Role
from matching.accounts.demo import DEMO_ACCOUNTS
from matching.accounts.users import get_user
from matching.decisions.decision import OVERRIDE_REASONS, DecisionDraft, DecisionError
from matching.decisions.outcomes import ENGLAND, record_outcome
from matching.decisions.plan import agree_plan
from matching.decisions.service import decide, snapshot_now
from matching.domain import Scope
from matching.eligibility.arithmetic import age_on
from matching.fit_config import FitConfig
from matching.ranking.pool import HouseholdPool
from matching.referrals.answers import NEED_REASONS, needs_to_name, record_answer
from matching.referrals.current import ReferralClosedError, ReferralNotFoundError
from matching.referrals.sending import agency_ranking, send_referral
from matching.store import schema
from matching.taxonomy import Taxonomy

#: How far back the stream goes: long enough for placements to reach 12 months (observed stability).
DEFAULT_MONTHS = 30
#: Carers asked per fostering service (its best-ranked households for the child).
ASKED_PER_SERVICE = 4
#: Of today's open referrals, how many are sent and partly answered.
OPEN_SENT = 8
#: How carers answer (agreed, asked for more information, declined), and why they decline.
ANSWER_WEIGHTS = {"agreed": 0.35, "more_information": 0.15, "declined": 0.5}
DECLINE_WEIGHTS = {
    "no_room_now": 0.3,
    "needs_beyond_our_experience": 0.2,
    "age_or_gender_mix": 0.15,
    "distance_from_school_or_family": 0.12,
    "household_circumstances_changed": 0.1,
    "carer_unwell_or_away": 0.08,
    "risk_to_others_in_home": 0.05,
}
#: Share of decisions on the best-ranked offer (the rest choose another offer, with reasons).
BEST_OFFER_SHARE = 0.75
#: Days from sending to the decision, by urgency.
DAYS_TO_DECIDE = {"today": (0, 1), "within_5_days": (1, 5), "over_5_days": (3, 21)}
#: Children this old or older fare worse than the estimate shown (a drift for the monitoring to find).
DRIFT_AGE, DRIFT = 13, 0.15
OVERRIDES = tuple(c for c in OVERRIDE_REASONS if c not in ("other", "support_agreed", "better_offer_withdrawn"))


@dataclass(frozen=True)
class ActivityActors:
    """Who records what: the placement officer sends, each service's officer answers, the manager decides."""

    placement_officer: Actor
    placement_manager: Actor
    #: Fostering service code: its officer (services without one are sent referrals and do not answer).
    service_officers: dict[str, Actor]
    named_officer: str = "Demo placement manager, Team manager (placements)"


def demo_actors(conn: Connection) -> ActivityActors | None:
    """The demonstration accounts as the activity's actors (the placement officer, the placement manager and each
    fostering service's officer); None when any of them is missing."""
    users = {d.username: get_user(conn, d.username) for d in DEMO_ACCOUNTS}
    actor = {name: Actor(u.id, u.username, u.role.value) for name, u in users.items() if u is not None}
    if len(actor) < len(users):
        return None
    officers = {code: actor[d.username] for d in DEMO_ACCOUNTS if d.role is Role.FOSTERING_OFFICER
                for code in d.remit.agency_codes}  # fmt: skip
    by_role = {d.role: actor[d.username] for d in DEMO_ACCOUNTS}
    return ActivityActors(by_role[Role.PLACEMENT_OFFICER], by_role[Role.PLACEMENT_MANAGER], officers)


@dataclass(frozen=True)
class _Referral:
    """One of the authority's referrals as the activity reads it."""

    referral_id: str
    child_id: str
    referral_date: date
    status: str
    urgency: str
    birth_month: date


@dataclass
class ActivitySummary:
    """What was written."""

    referrals: int = 0
    sent: int = 0
    answers: int = 0
    offers: int = 0
    decisions: int = 0
    departures: int = 0
    no_household: int = 0
    started: int = 0
    ended: int = 0
    plans: int = 0
    open_sent: int = 0
    skipped: str | None = None

    def text(self) -> str:
        """One line for the command's output."""
        if self.skipped:
            return f"activity not generated: {self.skipped}"
        return (
            f"activity generated: {self.referrals} referrals sent to {self.sent} services, {self.answers} carers' "
            f"answers ({self.offers} offers), {self.decisions} decisions ({self.departures} not on the best-ranked "
            f"offer, {self.no_household} on no household), {self.plans} placement plans agreed, {self.started} "
            f"placements started, {self.ended} ended; {self.open_sent} open referrals sent and awaiting answers"
        )


def _moment(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ENGLAND).astimezone(UTC)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _has_decisions(conn: Connection, la_code: str) -> bool:
    r, d, c = schema.referral, schema.placement_decision, schema.child
    mine = select(r.c.referral_id).join(c, c.c.child_id == r.c.child_id).where(c.c.la_code == la_code)
    return conn.execute(select(d.c.id).where(d.c.referral_id.in_(mine)).limit(1)).first() is not None


def generate_activity(
    conn: Connection,
    *,
    la_code: str,
    pool: HouseholdPool,
    cfg: FitConfig,
    taxonomy: Taxonomy,
    actors: ActivityActors,
    on: date,
    seed: int,
    months: int = DEFAULT_MONTHS,
) -> ActivitySummary:
    """Write the authority's generated activity up to ``on`` (see the module's docstring); what was written.
    ``pool`` is the ranking's pool for the authority and its services."""
    summary = ActivitySummary()
    if _has_decisions(conn, la_code):
        summary.skipped = f"{la_code} already has decisions"
        return summary
    rng = random.Random(seed)
    r, c = schema.referral, schema.child
    rows = [
        _Referral(*row)
        for row in conn.execute(
            select(r.c.referral_id, r.c.child_id, r.c.referral_date, r.c.status, r.c.urgency, c.c.birth_month)
            .join(c, c.c.child_id == r.c.child_id)
            .where(c.c.la_code == la_code, c.c.ceased.is_(None))
            .order_by(r.c.referral_date, r.c.referral_id)
        )
    ]
    services = sorted({h.agency_code for h in pool.households})
    scope = Scope(la_codes=frozenset({la_code}), agency_codes=frozenset(services))
    waiting = {row.child_id for row in rows if row.status == "open"}
    since = on - timedelta(days=round(months * 30.44))
    for row in rows:
        if row.status != "matched" or not since <= row.referral_date < on or row.child_id in waiting:
            continue
        with (
            _open_until_matched(conn, row.referral_id),
            suppress(ReferralClosedError, ReferralNotFoundError),  # not the child's current one as things stand
        ):
            _decided(conn, rng, summary, row, services, scope, pool, cfg, taxonomy, actors, on)
    for row in [row for row in rows if row.status == "open"][-OPEN_SENT:]:
        sent_on = min(on, row.referral_date + timedelta(days=1))
        try:
            _send_and_answer(conn, rng, summary, row.referral_id, sent_on, services, scope, pool, actors, on)
        except (ReferralClosedError, ReferralNotFoundError):
            continue
        summary.open_sent += 1
    return summary


@contextmanager
def _open_until_matched(conn: Connection, referral_id: str) -> Iterator[None]:
    """A matched referral open while its way to the decision is written, then matched again: it was open until it
    was matched (an imported referral keeps only its latest status, so no status change is recorded)."""
    r = schema.referral
    conn.execute(update(r).where(r.c.referral_id == referral_id).values(status="open"))
    yield
    conn.execute(update(r).where(r.c.referral_id == referral_id).values(status="matched"))


def _send_and_answer(
    conn: Connection,
    rng: random.Random,
    summary: ActivitySummary,
    referral_id: str,
    sent_on: date,
    services: list[str],
    scope: Scope,
    pool: HouseholdPool,
    actors: ActivityActors,
    on: date,
    *,
    answer_days: int = 2,
) -> list[str]:
    """Send the referral to every service with an officer and one other, and record the answers of each
    answering service's best-ranked carers over the next ``answer_days`` days; the households that agreed."""
    answering = [a for a in services if a in actors.service_officers]
    others = [a for a in services if a not in actors.service_officers]
    chosen = answering + rng.sample(others, k=min(1, len(others)))
    send_referral(
        conn, referral_id, chosen, scope=scope, pool=pool, on=sent_on,
        actor=actors.placement_officer, now=_moment(sent_on, 9),
    )  # fmt: skip
    summary.referrals += 1
    summary.sent += len(chosen)
    nameable = sorted(needs_to_name(conn, referral_id))
    offered: list[str] = []
    for agency in answering:
        _, ranked = agency_ranking(conn, referral_id, [agency], pool=pool, on=sent_on, top=ASKED_PER_SERVICE)
        if ranked is None:
            continue
        for k, candidate in enumerate(ranked.candidates):
            said = _pick(rng, ANSWER_WEIGHTS)
            reason = _pick(rng, DECLINE_WEIGHTS) if said == "declined" else None
            about = rng.choice(nameable) if reason in NEED_REASONS and nameable else None
            day = min(on, sent_on + timedelta(days=rng.randint(0, answer_days)))
            record_answer(
                conn, referral_id, candidate.household_id, said, reason, None,
                agency_scope=Scope(la_codes=frozenset(), agency_codes=frozenset({agency})),
                actor=actors.service_officers[agency], now=_moment(day, 11, k), about=about,
            )  # fmt: skip
            summary.answers += 1
            if said == "agreed":
                offered.append(candidate.household_id)
    summary.offers += len(offered)
    return offered


def _decided(
    conn: Connection,
    rng: random.Random,
    summary: ActivitySummary,
    row: _Referral,
    services: list[str],
    scope: Scope,
    pool: HouseholdPool,
    cfg: FitConfig,
    taxonomy: Taxonomy,
    actors: ActivityActors,
    on: date,
) -> None:
    """One referral's way from sending to what happened after the decision."""
    referral_id = row.referral_id
    sent_on = row.referral_date + timedelta(days=rng.randint(0, 1))
    low, high = DAYS_TO_DECIDE.get(row.urgency, (3, 21))
    decided_on = min(on, sent_on + timedelta(days=rng.randint(low, high)))
    sent_on = min(sent_on, decided_on)
    offered = _send_and_answer(
        conn, rng, summary, referral_id, sent_on, services, scope, pool, actors, on,
        answer_days=max(0, (decided_on - sent_on).days),
    )  # fmt: skip
    at = _moment(decided_on, 16)
    manager = actors.placement_manager
    if not offered:
        decision, _ = decide(
            conn, DecisionDraft("no_household", actors.named_officer, None, ("no_offer",)),
            scope=scope, referral_id=referral_id, on=decided_on, pool=pool, cfg=cfg, actor=manager, now=at,
        )  # fmt: skip
        summary.decisions += 1
        summary.no_household += 1
        return
    shown = snapshot_now(conn, scope=scope, referral_id=referral_id, on=decided_on, pool=pool, cfg=cfg, now=at)
    ranked = [o["household_id"] for o in shown.offers if o.get("rank") is not None]
    if not ranked:
        ranked = list(offered)
    best = shown.best_ranked or ranked[0]
    household = best if len(ranked) == 1 or rng.random() < BEST_OFFER_SHARE else rng.choice(ranked[1:])
    seen = shown.candidate(household)
    warnings = tuple(w["code"] for w in seen["warnings"]) if seen else ()
    reasons: tuple[str, ...] = ()
    if household != best or seen is None:
        reasons = (rng.choice(OVERRIDES),)
    if warnings:
        reasons = (*reasons, "support_agreed")
    try:
        decision, snapshot = decide(
            conn, DecisionDraft("household_chosen", actors.named_officer, household, reasons, None, warnings),
            scope=scope, referral_id=referral_id, on=decided_on, pool=pool, cfg=cfg, actor=manager, now=at,
        )  # fmt: skip
    except DecisionError:
        return  # the ranking changed between the two looks: no decision recorded
    summary.decisions += 1
    summary.departures += decision.departs_from_ranking
    agree_plan(conn, decision.decision_id, scope=scope, taxonomy=taxonomy, actor=manager, now=at + timedelta(hours=1))
    summary.plans += 1
    started = decided_on + timedelta(days=rng.randint(0, 5))
    if started > on:
        return
    record_outcome(conn, decision.decision_id, "started", started, None, None, manager, _moment(started, 17))
    summary.started += 1
    estimate = snapshot.candidate(household)
    p_lasting = (estimate or {}).get("stability") or {}
    lasting = float(p_lasting.get("p_lasting", 0.7))
    if age_on(row.birth_month, decided_on) >= DRIFT_AGE:
        lasting = max(0.0, lasting - DRIFT)
    if rng.random() < lasting:
        return
    ended = started + timedelta(days=rng.randint(14, 364))
    if ended > on:
        return
    record_outcome(conn, decision.decision_id, "ended", ended, "X1", None, manager, _moment(ended, 17))
    summary.ended += 1
