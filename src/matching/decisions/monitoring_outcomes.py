"""The outcome side of monitoring, beside the decision side (:mod:`matching.decisions.monitoring`), over the same
decisions (each referral's latest decision recorded in the window, of the children in scope):

* **predicted against observed 12-month stability** (calibration drift), by month of decision and by group: of
  the decisions that chose a household whose placement started, the estimate the decision was shown for that
  household (its snapshot's ``stability.p_lasting``: the chance of lasting a year without an unplanned ending),
  against whether it lasted a year (:func:`~matching.decisions.outcomes.lasted_a_year`).  Only a placement that
  started at least a year before the as-at day is *observed*; a later one is *pending*.  A placement shown with no
  estimate (no model loaded, or the household was not among those ranked) is counted apart.  Below
  :data:`TOO_FEW` placements observed with an estimate, no rate or difference is given ("too few to say");
* **carers' decline reasons** by frequency: the reasons of the carers' answers that stand (a household's latest
  answer to a referral), for the referrals decided;
* **who is offered less**: the offers per referral decided (households whose answer standing is "agreed"), and the
  share with no offer at all, by group.

Groups are those of the decision side (:func:`~matching.decisions.monitoring.group_values`: sex, ethnicity group,
age band at referral, disability, UASC) and a group of fewer than
:data:`~matching.decisions.monitoring.SMALL_GROUP` children is suppressed, as there.  Counts only: the result
names no child, household or officer.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from matching.decisions.decision import DecisionOutcome
from matching.decisions.monitoring import (
    SMALL_GROUP,
    SUPPRESSED,
    DecisionMonitoring,
    DecisionRow,
    ReasonCount,
    decision_rows,
    group_figures,
    group_words,
    in_force,
    reason_counts,
    summarise,
)
from matching.decisions.outcomes import Outcome, OutcomeKind, lasted_a_year, outcomes_for, standing
from matching.decisions.snapshot import shown_for
from matching.domain import Scope
from matching.store import schema

#: Fewer placements observed with an estimate than this, and no rate or difference is given.
TOO_FEW = 5
#: What is shown instead of a rate from too few placements.
TOO_FEW_TEXT = "too few to say"


@dataclass(frozen=True)
class StabilityRow:
    """One decision that chose a household whose placement started: the estimate shown, and what happened."""

    decision: DecisionRow
    #: The chosen household's estimate of lasting a year, as shown (None: no estimate was shown).
    predicted: float | None
    started_on: date
    #: Whether it lasted a year (None: pending, it started less than a year before the as-at day).
    lasted: bool | None


@dataclass(frozen=True)
class Calibration:
    """Predicted against observed over some placements that started."""

    started: int
    pending: int
    #: Observed, but shown with no estimate.
    no_estimate: int
    #: Observed with an estimate: the placements compared.
    n: int
    mean_predicted: float | None
    observed_rate: float | None
    #: observed_rate - mean_predicted (positive: more lasted than estimated).
    difference: float | None

    @property
    def too_few(self) -> bool:
        """True when too few were observed with an estimate to give a rate."""
        return self.n < TOO_FEW

    @classmethod
    def of(cls, rows: Sequence[StabilityRow]) -> Calibration:
        """The figures of ``rows``."""
        observed = [r for r in rows if r.lasted is not None]
        compared = [r for r in observed if r.predicted is not None]
        n = len(compared)
        if n < TOO_FEW:
            mean = rate = diff = None
        else:
            mean = sum(float(r.predicted or 0.0) for r in compared) / n
            rate = sum(bool(r.lasted) for r in compared) / n
            diff = rate - mean
        return cls(
            started=len(rows),
            pending=len(rows) - len(observed),
            no_estimate=len(observed) - n,
            n=n,
            mean_predicted=mean,
            observed_rate=rate,
            difference=diff,
        )


@dataclass(frozen=True)
class MonthCalibration:
    """Predicted against observed for the decisions of one month (``YYYY-MM``)."""

    month: str
    calibration: Calibration


@dataclass(frozen=True)
class GroupCalibration:
    """Predicted against observed for one group (None when the group is suppressed)."""

    attribute: str
    group: str
    words: str
    suppressed: bool
    calibration: Calibration | None

    @property
    def n_text(self) -> str:
        """The group's placements started as shown: a number, or "fewer than 5"."""
        return SUPPRESSED if self.calibration is None else f"{self.calibration.started:,}"


@dataclass(frozen=True)
class GroupOffers:
    """Offers per referral decided for one group (None figures when suppressed)."""

    attribute: str
    group: str
    words: str
    suppressed: bool
    referrals: int | None
    offers: int | None
    offers_per_referral: float | None
    no_offer: int | None
    no_offer_share: float | None

    @property
    def n_text(self) -> str:
        """The group's referrals as shown: a number, or "fewer than 5"."""
        return SUPPRESSED if self.referrals is None else f"{self.referrals:,}"


@dataclass(frozen=True)
class OutcomeMonitoring:
    """The outcome side of monitoring (see the module)."""

    as_at: date
    calibration: Calibration
    by_month: tuple[MonthCalibration, ...]
    by_group: tuple[GroupCalibration, ...]
    declines: int
    decline_reasons: tuple[ReasonCount, ...]
    referrals: int
    offers: int
    offers_per_referral: float | None
    offers_by_group: tuple[GroupOffers, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (dates as ISO text; each group with its size as shown)."""
        out = asdict(self)
        out["as_at"] = self.as_at.isoformat()
        sizes = {
            "by_group": [g.n_text for g in self.by_group],
            "offers_by_group": [g.n_text for g in self.offers_by_group],
        }
        for key, texts in sizes.items():
            for text, d in zip(texts, out[key], strict=True):
                d["n_text"] = text
        return out


def decline_words() -> Mapping[str, str]:
    """The decline reasons in words (the carers' answers' own list)."""
    from matching.referrals.answers import DECLINE_REASONS  # the referrals package builds on this one

    return DECLINE_REASONS


# --- reading the records --------------------------------------------------------------------------------


def predicted_for(payload: Mapping[str, Any], household_id: str | None) -> float | None:
    """The estimate a snapshot ``payload`` showed for ``household_id`` of lasting a year (None when none shown)."""
    if household_id is None:
        return None
    c = shown_for(payload, household_id)
    p = None if c is None else (c.get("stability") or {}).get("p_lasting")
    return None if p is None else float(p)


def stability_rows(conn: Connection, decisions: Sequence[DecisionRow], *, as_at: date) -> list[StabilityRow]:
    """Of ``decisions`` (in force), those that chose a household whose placement started, with the estimate shown
    and whether it lasted a year as known on ``as_at``."""
    chosen = [d for d in decisions if d.outcome == DecisionOutcome.HOUSEHOLD_CHOSEN]
    if not chosen:
        return []
    found: dict[int, list[Outcome]] = defaultdict(list)
    for o in outcomes_for(conn, [d.decision_id for d in chosen]):
        found[o.decision_id].append(o)
    started: list[tuple[DecisionRow, Outcome, Outcome | None]] = []
    for d in chosen:
        now = standing(found[d.decision_id])
        if OutcomeKind.STARTED in now and OutcomeKind.NOT_STARTED not in now:
            started.append((d, now[OutcomeKind.STARTED], now.get(OutcomeKind.ENDED)))
    predicted = _predicted(conn, [d.decision_id for d, _, _ in started])
    return [
        StabilityRow(
            decision=d,
            predicted=predicted.get(d.decision_id),
            started_on=began.on,
            lasted=lasted_a_year(
                began.on, None if ended is None else ended.on, None if ended is None else ended.reason, as_at
            ),
        )
        for d, began, ended in started
    ]


def _predicted(conn: Connection, decision_ids: Sequence[int]) -> dict[int, float | None]:
    """The estimate each decision's snapshot showed for the household it chose (each snapshot read once)."""
    _D, _S = schema.placement_decision, schema.recommendation_snapshot  # noqa: N806 - tables
    chose: dict[int, tuple[str | None, str]] = {}
    for i in range(0, len(decision_ids), 900):
        stmt = select(_D.c.id, _D.c.household_id, _D.c.snapshot_sha256).where(_D.c.id.in_(decision_ids[i : i + 900]))
        chose.update({int(r.id): (r.household_id, str(r.snapshot_sha256)) for r in conn.execute(stmt)})
    shas = sorted({sha for _, sha in chose.values()})
    payloads: dict[str, Mapping[str, Any]] = {}
    for i in range(0, len(shas), 900):
        stmt = select(_S.c.sha256, _S.c.payload).where(_S.c.sha256.in_(shas[i : i + 900]))
        payloads.update({str(r.sha256): r.payload or {} for r in conn.execute(stmt)})
    return {i: predicted_for(payloads.get(sha, {}), household) for i, (household, sha) in chose.items()}


def standing_answers(conn: Connection, referral_ids: Sequence[str]) -> list[tuple[str, str, str, str | None]]:
    """Each household's latest answer to each of these referrals: (referral, household, answer, reason code)."""
    a = schema.carer_answer
    wanted = sorted(set(referral_ids))
    latest: dict[tuple[str, str], tuple[str, str | None]] = {}
    for i in range(0, len(wanted), 900):
        stmt = (
            select(a.c.referral_id, a.c.household_id, a.c.answer, a.c.reason_code)
            .where(a.c.referral_id.in_(wanted[i : i + 900]))
            .order_by(a.c.recorded_at, a.c.id)
        )
        for r in conn.execute(stmt):
            latest[(str(r.referral_id), str(r.household_id))] = (str(r.answer), r.reason_code)
    return [(ref, hh, ans, reason) for (ref, hh), (ans, reason) in sorted(latest.items())]


# --- the figures ----------------------------------------------------------------------------------------


def summarise_outcomes(
    current: Sequence[DecisionRow],
    stability: Sequence[StabilityRow],
    answers: Sequence[tuple[str, str, str, str | None]],
    *,
    as_at: date,
    words: Mapping[str, str] | None = None,
) -> OutcomeMonitoring:
    """The outcome figures of the decisions in force ``current``, their placements ``stability`` and the carers'
    ``answers`` standing to their referrals."""
    words = decline_words() if words is None else words
    by_decision = {r.decision.decision_id: r for r in stability}
    months: dict[str, list[StabilityRow]] = defaultdict(list)
    for r in stability:
        months[f"{r.decision.decided_on:%Y-%m}"].append(r)

    def calibration_of(rows: Sequence[DecisionRow]) -> dict[str, Any]:
        return {"calibration": Calibration.of([by_decision[r.decision_id] for r in rows])}

    started_decisions = [r.decision for r in stability]
    by_group = tuple(
        GroupCalibration(a, g, group_words(a, g), figures is None, None if figures is None else figures["calibration"])
        for a, g, _n, figures in group_figures(started_decisions, calibration_of)
    )

    referrals = {r.referral_id for r in current}
    mine = [x for x in answers if x[0] in referrals]
    offers: Counter[str] = Counter(ref for ref, _hh, ans, _why in mine if ans == "agreed")
    declined = Counter(why or "not_given" for _ref, _hh, ans, why in mine if ans == "declined")

    def offers_of(rows: Sequence[DecisionRow]) -> dict[str, Any]:
        total = sum(offers[r.referral_id] for r in rows)
        none = sum(offers[r.referral_id] == 0 for r in rows)
        return {"offers": total, "per": total / len(rows), "none": none, "none_share": none / len(rows)}

    offers_by_group = []
    for a, g, n, figures in group_figures(current, offers_of):
        if figures is None:
            offers_by_group.append(GroupOffers(a, g, group_words(a, g), True, None, None, None, None, None))
        else:
            offers_by_group.append(
                GroupOffers(
                    a, g, group_words(a, g), False, n, figures["offers"], figures["per"], figures["none"],
                    figures["none_share"],
                )
            )  # fmt: skip
    total_offers = sum(offers[r] for r in referrals)
    return OutcomeMonitoring(
        as_at=as_at,
        calibration=Calibration.of(stability),
        by_month=tuple(MonthCalibration(m, Calibration.of(rows)) for m, rows in sorted(months.items())),
        by_group=by_group,
        declines=sum(declined.values()),
        decline_reasons=reason_counts(declined, words),
        referrals=len(referrals),
        offers=total_offers,
        offers_per_referral=total_offers / len(referrals) if referrals else None,
        offers_by_group=tuple(offers_by_group),
    )


def outcomes_of(conn: Connection, rows: Sequence[DecisionRow], *, as_at: date) -> OutcomeMonitoring:
    """The outcome side of monitoring of the decisions ``rows`` (as :func:`~matching.decisions.monitoring.
    decision_rows` reads them), their placements as known on ``as_at``."""
    current = in_force(rows)
    stability = stability_rows(conn, current, as_at=as_at)
    answers = standing_answers(conn, [r.referral_id for r in current])
    return summarise_outcomes(current, stability, answers, as_at=as_at)


def outcome_monitoring(
    conn: Connection, *, scope: Scope, date_from: date, date_to: date, as_at: date
) -> OutcomeMonitoring:
    """The outcome side of monitoring of the decisions recorded from ``date_from`` to ``date_to`` (inclusive, UTC
    dates) for the children in ``scope``, their placements as known on ``as_at`` (counts only)."""
    return outcomes_of(conn, decision_rows(conn, scope=scope, date_from=date_from, date_to=date_to), as_at=as_at)


def monitoring(
    conn: Connection, *, scope: Scope, date_from: date, date_to: date, as_at: date
) -> tuple[DecisionMonitoring, OutcomeMonitoring]:
    """Both sides of monitoring (:func:`~matching.decisions.monitoring.decision_monitoring` and
    :func:`outcome_monitoring`) over one reading of the decisions."""
    rows = decision_rows(conn, scope=scope, date_from=date_from, date_to=date_to)
    decided = summarise(rows, la_codes=scope.la_codes or (), date_from=date_from, date_to=date_to)
    return decided, outcomes_of(conn, rows, as_at=as_at)


__all__ = [
    "SMALL_GROUP",
    "TOO_FEW",
    "TOO_FEW_TEXT",
    "Calibration",
    "GroupCalibration",
    "GroupOffers",
    "MonthCalibration",
    "OutcomeMonitoring",
    "StabilityRow",
    "monitoring",
    "outcome_monitoring",
    "outcomes_of",
    "predicted_for",
    "stability_rows",
    "standing_answers",
    "summarise_outcomes",
]
