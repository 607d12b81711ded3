"""Monitoring an authority can read: how decisions on referrals went, from the raw records.

For a window of days (by the UTC date each decision was recorded) and the children in a caller's scope:

* how many decisions were recorded, and on how many referrals.  A referral decided more than once in the window
  (a changed mind is a new decision; the store is append-only) counts once, by its **latest** decision in the
  window: every figure below is over those decisions in force;
* how often the best-ranked household was chosen, of the decisions that chose a household;
* the reasons given when choosing a household (:data:`~matching.decisions.OVERRIDE_REASONS`) and for choosing
  none (:data:`~matching.decisions.NO_HOUSEHOLD_REASONS`), most frequent first;
* the days from the referral's date to the decision (median, and the 90th percentile by the nearest-rank
  method), by urgency;
* **who waits longer and who is offered less**: the same days, and the share decided with no household, by each
  attribute results are reported by (:data:`matching.stability.features.GROUP_ATTRIBUTES`: sex, ethnicity group,
  age band at referral, disability, UASC).  Every group of each attribute is listed (:data:`ALL_GROUPS`); a group
  of fewer than :data:`SMALL_GROUP` children (none included) is suppressed: its count and figures are not given
  ("fewer than 5").

Counts only: the result names no child, no household and no officer.  Placement outcomes (started, ended,
12-month stability against its prediction) belong beside these figures, by the same groups
(:func:`group_values`, :func:`group_figures`).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from matching import codes
from matching.decisions.decision import NO_HOUSEHOLD_REASONS, OVERRIDE_REASONS, DecisionOutcome
from matching.domain import Child, Scope
from matching.ranking.waiting import URGENCY_LABELS
from matching.stability.features import GROUP_ATTRIBUTES, age_band, age_band_of
from matching.store import queries, schema

#: A group smaller than this is suppressed (its count and figures are not shown).
SMALL_GROUP = 5
#: What a suppressed count is shown as.
SUPPRESSED = f"fewer than {SMALL_GROUP}"
#: The attributes results are reported by, in words.
ATTRIBUTE_WORDS: dict[str, str] = {
    "sex": "Sex",
    "ethnicity_group": "Ethnicity group",
    "age_band": "Age when referred",
    "disability": "Disability",
    "uasc": "Unaccompanied asylum-seeking child",
}
#: Each attribute's groups in words (a group not listed is shown as its code, as ethnicity groups are words).
GROUP_WORDS: dict[str, dict[str, str]] = {
    "sex": {"M": "Male", "F": "Female", "U": "Not known"},
    "age_band": {"0-4": "0 to 4", "5-10": "5 to 10", "11-15": "11 to 15", "16+": "16 or over"},
    "disability": {"yes": "Disabled", "no": "Not disabled"},
    "uasc": {"yes": "Yes", "no": "No"},
}

#: Every group of each attribute, listed whether or not a child of it was decided (an empty group is shown as
#: suppressed, like a small one: which groups have children is not given away either).
ALL_GROUPS: dict[str, tuple[str, ...]] = {
    "sex": tuple(sorted(codes.SEX, key="FMU".index)),
    "ethnicity_group": tuple(codes.ETHNICITY_GROUPS),
    "age_band": tuple(str(b) for b in age_band(np.array([lo for lo, _ in codes.AGE_BANDS]))),
    "disability": ("yes", "no"),
    "uasc": ("yes", "no"),
}

_D, _R, _C = schema.placement_decision, schema.referral, schema.child


@dataclass(frozen=True)
class DecisionRow:
    """One recorded decision with what monitoring needs of its referral and child (no names)."""

    decision_id: int
    referral_id: str
    decided_at: datetime
    outcome: str
    departs_from_ranking: bool
    reason_codes: tuple[str, ...]
    referral_date: date
    urgency: str
    #: The child's group under each of :data:`GROUP_ATTRIBUTES` (:func:`group_values`).
    groups: Mapping[str, str]

    @property
    def decided_on(self) -> date:
        """The UTC date the decision was recorded."""
        return self.decided_at.astimezone(UTC).date()

    @property
    def days_waited(self) -> int:
        """Days from the referral's date to the decision."""
        return (self.decided_on - self.referral_date).days


@dataclass(frozen=True)
class ReasonCount:
    """How often one reason was given."""

    code: str
    words: str
    count: int


@dataclass(frozen=True)
class Waiting:
    """Days from referral to decision over some decisions: how many, the median and the 90th percentile."""

    n: int
    median_days: float | None
    p90_days: int | None

    @classmethod
    def of(cls, days: Sequence[int]) -> Waiting:
        """The spread of ``days`` (no figures when empty)."""
        if not days:
            return cls(0, None, None)
        return cls(len(days), float(statistics.median(days)), percentile(days, 90))


@dataclass(frozen=True)
class UrgencyWaiting:
    """Time to decision for the referrals of one urgency."""

    urgency: str
    words: str
    waiting: Waiting


@dataclass(frozen=True)
class GroupFigures:
    """One group of one attribute: its size and, unless suppressed, its time to decision and the share decided with
    no household."""

    attribute: str
    group: str
    words: str
    #: None when suppressed (fewer than :data:`SMALL_GROUP`).
    n: int | None
    suppressed: bool
    median_days: float | None
    p90_days: int | None
    no_household: int | None
    no_household_share: float | None

    @property
    def n_text(self) -> str:
        """The group's size as shown: the number, or "fewer than 5"."""
        return SUPPRESSED if self.suppressed else f"{self.n:,}"


@dataclass(frozen=True)
class DecisionMonitoring:
    """The decision side of monitoring for a window (see the module)."""

    la_codes: tuple[str, ...]
    date_from: date
    date_to: date
    decisions_recorded: int
    referrals_decided: int
    household_chosen: int
    no_household: int
    best_ranked_chosen: int
    #: Of the decisions choosing a household, the share choosing the best-ranked (None when there were none).
    best_ranked_share: float | None
    override_reasons: tuple[ReasonCount, ...]
    no_household_reasons: tuple[ReasonCount, ...]
    waiting: Waiting
    by_urgency: tuple[UrgencyWaiting, ...]
    by_group: tuple[GroupFigures, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (dates as ISO text; each group with its size as shown)."""
        out = asdict(self)
        out["la_codes"] = list(self.la_codes)
        out["date_from"], out["date_to"] = self.date_from.isoformat(), self.date_to.isoformat()
        for g, d in zip(self.by_group, out["by_group"], strict=True):
            d["n_text"] = g.n_text
        return out


def percentile(values: Sequence[int], pct: float) -> int:
    """The ``pct``-th percentile of ``values`` by the nearest-rank method (a value that occurs in them)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def group_values(child: Child, on: date) -> dict[str, str]:
    """The child's group under each attribute results are reported by (:data:`GROUP_ATTRIBUTES`), on ``on``:
    sex (SSDA903 code), ethnicity group, age band, disability and UASC ("yes"/"no") — as the stability model's
    results by group name them."""
    values = {
        "sex": child.sex,
        "ethnicity_group": child.ethnicity_group,
        "age_band": age_band_of(child.age_on(on)),
        "disability": "yes" if child.disability else "no",
        "uasc": "yes" if child.uasc else "no",
    }
    return {a: values[a] for a in GROUP_ATTRIBUTES}


def group_words(attribute: str, group: str) -> str:
    """A group in words."""
    return GROUP_WORDS.get(attribute, {}).get(group, group)


def group_figures(
    rows: Sequence[DecisionRow],
    figures: Callable[[Sequence[DecisionRow]], dict[str, Any]],
) -> list[tuple[str, str, int, dict[str, Any] | None]]:
    """For each attribute (in order of :data:`GROUP_ATTRIBUTES`) and each of its groups (:data:`ALL_GROUPS`, then
    any other found in ``rows``): (attribute, group, size, ``figures`` of the group's rows, or None when the group
    is too small or empty)."""
    out: list[tuple[str, str, int, dict[str, Any] | None]] = []
    for attribute in GROUP_ATTRIBUTES:
        members: dict[str, list[DecisionRow]] = defaultdict(list)
        for r in rows:
            members[r.groups[attribute]].append(r)
        known = ALL_GROUPS.get(attribute, ())
        for group in [*known, *sorted(set(members) - set(known))]:
            mine = members.get(group, [])
            out.append((attribute, group, len(mine), figures(mine) if len(mine) >= SMALL_GROUP else None))
    return out


# --- reading the records --------------------------------------------------------------------------------


def decision_rows(conn: Connection, *, scope: Scope, date_from: date, date_to: date) -> list[DecisionRow]:
    """Every decision recorded from ``date_from`` to ``date_to`` (inclusive, UTC dates) on a referral of a child
    in ``scope``, oldest first."""
    start = datetime.combine(date_from - timedelta(days=1), time(), tzinfo=UTC)
    end = datetime.combine(date_to + timedelta(days=2), time(), tzinfo=UTC)
    stmt = (
        select(
            _D.c.id,
            _D.c.referral_id,
            _D.c.decided_at,
            _D.c.outcome,
            _D.c.departs_from_ranking,
            _D.c.reason_codes,
            _R.c.referral_date,
            _R.c.urgency,
            _R.c.child_id,
        )
        .join(_R, _R.c.referral_id == _D.c.referral_id)
        .join(_C, _C.c.child_id == _R.c.child_id)
        .where(_D.c.decided_at >= start, _D.c.decided_at < end)
        .order_by(_D.c.decided_at, _D.c.id)
    )
    if scope.la_codes is not None:
        stmt = stmt.where(_C.c.la_code.in_(sorted(scope.la_codes)))
    found = conn.execute(stmt).mappings().all()
    children = {
        c.child_id: c for c in queries.children_by_ids(conn, scope=scope, child_ids=[r["child_id"] for r in found])
    }
    rows: list[DecisionRow] = []
    for r in found:
        at: datetime = r["decided_at"]
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        child = children.get(r["child_id"])
        if child is None or not date_from <= at.astimezone(UTC).date() <= date_to:
            continue
        rows.append(
            DecisionRow(
                decision_id=int(r["id"]),
                referral_id=str(r["referral_id"]),
                decided_at=at,
                outcome=str(r["outcome"]),
                departs_from_ranking=bool(r["departs_from_ranking"]),
                reason_codes=tuple(r["reason_codes"] or ()),
                referral_date=r["referral_date"],
                urgency=str(r["urgency"]),
                groups=group_values(child, r["referral_date"]),
            )
        )
    return rows


# --- the figures ----------------------------------------------------------------------------------------


def in_force(rows: Iterable[DecisionRow]) -> list[DecisionRow]:
    """Each referral's latest decision among ``rows`` (by time, then id), in referral order."""
    latest: dict[str, DecisionRow] = {}
    for r in sorted(rows, key=lambda r: (r.decided_at, r.decision_id)):
        latest[r.referral_id] = r
    return [latest[k] for k in sorted(latest)]


def reason_counts(counts: Mapping[str, int], words: Mapping[str, str]) -> tuple[ReasonCount, ...]:
    """Each reason's count, most frequent first (ties in the order of ``words``, then by code), in words."""
    order = {code: i for i, code in enumerate(words)}
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], order.get(kv[0], len(order)), kv[0]))
    return tuple(ReasonCount(code, words.get(code, code), n) for code, n in ranked)


def _reasons(rows: Iterable[DecisionRow], words: Mapping[str, str]) -> tuple[ReasonCount, ...]:
    return reason_counts(Counter(code for r in rows for code in dict.fromkeys(r.reason_codes)), words)


def _group_row(attribute: str, group: str, n: int, figures: dict[str, Any] | None) -> GroupFigures:
    if figures is None:
        return GroupFigures(attribute, group, group_words(attribute, group), None, True, None, None, None, None)
    return GroupFigures(attribute, group, group_words(attribute, group), n, False, **figures)


def _waiting_and_offered(rows: Sequence[DecisionRow]) -> dict[str, Any]:
    w = Waiting.of([r.days_waited for r in rows])
    none = sum(r.outcome == DecisionOutcome.NO_HOUSEHOLD for r in rows)
    return {
        "median_days": w.median_days,
        "p90_days": w.p90_days,
        "no_household": none,
        "no_household_share": none / len(rows),
    }


def summarise(
    rows: Sequence[DecisionRow], *, la_codes: Iterable[str], date_from: date, date_to: date
) -> DecisionMonitoring:
    """The monitoring figures of ``rows`` (the decisions recorded in the window; see the module)."""
    current = in_force(rows)
    chosen = [r for r in current if r.outcome == DecisionOutcome.HOUSEHOLD_CHOSEN]
    none = [r for r in current if r.outcome == DecisionOutcome.NO_HOUSEHOLD]
    best = sum(not r.departs_from_ranking for r in chosen)
    urgencies = [*URGENCY_LABELS, *sorted({r.urgency for r in current} - set(URGENCY_LABELS))]
    by_urgency = tuple(
        UrgencyWaiting(u, URGENCY_LABELS.get(u, u), Waiting.of([r.days_waited for r in current if r.urgency == u]))
        for u in urgencies
    )
    return DecisionMonitoring(
        la_codes=tuple(sorted(la_codes)),
        date_from=date_from,
        date_to=date_to,
        decisions_recorded=len(rows),
        referrals_decided=len(current),
        household_chosen=len(chosen),
        no_household=len(none),
        best_ranked_chosen=best,
        best_ranked_share=best / len(chosen) if chosen else None,
        override_reasons=_reasons(chosen, OVERRIDE_REASONS),
        no_household_reasons=_reasons(none, NO_HOUSEHOLD_REASONS),
        waiting=Waiting.of([r.days_waited for r in current]),
        by_urgency=by_urgency,
        by_group=tuple(_group_row(*g) for g in group_figures(current, _waiting_and_offered)),
    )


def decision_monitoring(conn: Connection, *, scope: Scope, date_from: date, date_to: date) -> DecisionMonitoring:
    """How decisions went from ``date_from`` to ``date_to`` (inclusive) for the children in ``scope`` (its
    authorities; counts only)."""
    rows = decision_rows(conn, scope=scope, date_from=date_from, date_to=date_to)
    return summarise(rows, la_codes=scope.la_codes or (), date_from=date_from, date_to=date_to)
