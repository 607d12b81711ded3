"""Outcomes read from an SSDA903 return: the placement a decision chose, found in the authority's own return.

After a return of authority ``LA`` is imported (in the same transaction: all or nothing), each decision on a
referral of one of the return's children that chose a household, in force (the referral's latest decision) and
not recorded as "did not start", is matched to a placement in the return:

* the child: the return's CHILD of ``LA`` is mapped to the store's child through ``ssda903_child`` (authority,
  CHILD), and that child must be the one the decision's referral is about.  A CHILD id is unique only within its
  authority, so another authority's child with the same CHILD is never matched;
* a new placement: the first episode of the placement (as the importer runs episodes into placements) starts a
  placement, RNE in :data:`matching.ssda903.rules.NEW_PLACEMENT` (S, P, T, B, U; not L, a change of legal status
  only), in foster care, PLACE U1 to U6 (:data:`matching.codes.PLACE_FOSTER`);
* its start (DECOM) from the day of the decision to :data:`START_WINDOW_DAYS` after it;
* the carers: a 903 episode does not name the carer household, so the household chosen cannot be confirmed.
  What can be checked is that the episode does not contradict it: PLACE_PROVIDER, when given, is the kind of
  service the household belongs to (PR1 the authority's own carers, PR2 another authority's, PR4 or PR5 an
  independent agency: :func:`provider_fits`), and a household the store kept on that placement is the one chosen.

A placement goes to at most one decision: the nearest decision before it (fewest days from decision to start).

What is written: ``placement_outcome`` rows with source ``ssda903``, no user, recorded by
:data:`~matching.decisions.outcomes.SSDA903_RECORDER`: *started* on DECOM, and *ended* on the placement's last
DEC with that episode's REC.  The import only fills in what is not known: it writes a kind only when no outcome
of that kind stands, except that a later return may correct an *ended* that an earlier return wrote (a different
DEC or REC).  An outcome a person recorded is never superseded by an import (a person's record of the same kind
stands); and once a placement's start stands, the return's placement starting that day is the one followed.  So
re-importing the same return adds nothing.  An outcome that would break the placement's state (an end before the
start, a day in the future) is not written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, insert, select

from matching import codes
from matching.decisions.decision import Decision, DecisionOutcome
from matching.decisions.outcomes import (
    SSDA903_RECORDER,
    Outcome,
    OutcomeKind,
    _outcome,
    day_in_england,
    outcomes_for,
    problems,
    standing,
)
from matching.decisions.store import decisions_in_force
from matching.ssda903.rules import NEW_PLACEMENT
from matching.store import schema

#: Days from a decision to the start of the placement it chose, for a return's placement to be taken as that one.
#: A matched placement usually starts within days; planned introductions to long-term carers take some weeks.
#: Sixty days holds those, and is short enough that a later move (a placement after the chosen one broke down, or
#: one found on a later referral) is not taken for the chosen placement.
START_WINDOW_DAYS = 60
#: PLACE_PROVIDER codes of each kind of fostering service (see :func:`provider_fits`).
PROVIDER_OWN_LA = "PR1"
PROVIDER_OTHER_LA = "PR2"

_O = schema.placement_outcome


@dataclass(frozen=True)
class ReturnPlacement:
    """One placement of a return's child, as the importer ran its episodes together."""

    child: str
    start: date
    place: str
    first_rne: str
    place_provider: str | None = None
    end: date | None = None
    #: REC of the placement's last episode (why it ceased), when it ended.
    rec: str | None = None
    #: The carer household the store kept on this placement, if any (a 903 episode names none).
    household_id: str | None = None

    @property
    def is_new_foster_placement(self) -> bool:
        """A foster placement (U1-U6) that began at a new-placement episode (RNE S, P, T, B or U)."""
        return self.first_rne in NEW_PLACEMENT and self.place in codes.PLACE_FOSTER


def provider_fits(provider: str | None, agency_kind: str | None, agency_la: str | None, la_code: str) -> bool:
    """Whether an episode's PLACE_PROVIDER fits the chosen household's fostering service: PR1 the authority's own
    (in-house) carers, PR2 another authority's, PR4/PR5 an independent agency; any when not given or not known."""
    if not provider or agency_kind is None:
        return True
    if agency_kind == "ifa":
        return provider in codes.PROVIDER_IFA
    if agency_kind == "la":
        return provider == (PROVIDER_OWN_LA if agency_la == la_code else PROVIDER_OTHER_LA)
    return True


def _services(conn: Connection, household_ids: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
    """Each household's fostering service: (kind, authority of an in-house service)."""
    h, a = schema.household, schema.agency
    wanted = sorted(set(household_ids))
    if not wanted:
        return {}
    stmt = (
        select(h.c.household_id, a.c.agency_type, a.c.la_code)
        .join(a, a.c.agency_code == h.c.agency_code)
        .where(h.c.household_id.in_(wanted))
    )
    return {str(r.household_id): (r.agency_type, r.la_code) for r in conn.execute(stmt)}


def _children(conn: Connection, la_code: str, children: Iterable[str]) -> dict[str, str]:
    """The store's child of each of ``la_code``'s CHILD ids (only that authority's mapping)."""
    m = schema.ssda903_child
    wanted = sorted(set(children))
    out: dict[str, str] = {}
    for i in range(0, len(wanted), 900):
        stmt = select(m.c.child, m.c.child_id).where(m.c.la_code == la_code, m.c.child.in_(wanted[i : i + 900]))
        out.update({str(c): str(cid) for c, cid in conn.execute(stmt)})
    return out


def outcomes_from_return(
    conn: Connection, la_code: str, placements: Sequence[ReturnPlacement], *, now: datetime | None = None
) -> list[Outcome]:
    """Write the outcomes ``la_code``'s imported return shows of its decisions' placements (see the module); the
    outcomes written, none when the return shows nothing new."""
    at = now or datetime.now(UTC)
    today = day_in_england(at)
    child_ids = _children(conn, la_code, {p.child for p in placements})
    by_child: dict[str, list[ReturnPlacement]] = defaultdict(list)
    for p in placements:
        if p.child in child_ids and p.is_new_foster_placement:
            by_child[child_ids[p.child]].append(p)
    if not by_child:
        return []
    chosen = [
        (d, c)
        for d, c in decisions_in_force(conn, by_child)
        if d.outcome is DecisionOutcome.HOUSEHOLD_CHOSEN and d.household_id is not None
    ]
    earlier: dict[int, list[Outcome]] = defaultdict(list)
    for o in outcomes_for(conn, [d.decision_id for d, _ in chosen]):
        earlier[o.decision_id].append(o)
    services = _services(conn, (str(d.household_id) for d, _ in chosen))

    matched: dict[int, ReturnPlacement] = {}
    taken: set[tuple[str, date]] = set()
    pairs: list[tuple[int, int, Decision, ReturnPlacement]] = []
    for d, child_id in chosen:
        now_standing = standing(earlier[d.decision_id])
        if OutcomeKind.NOT_STARTED in now_standing:
            continue  # a person said it did not start: the return does not overrule them
        started = now_standing.get(OutcomeKind.STARTED)
        if started is not None:  # the start is known: follow the return's placement starting that day
            same = [p for p in by_child[child_id] if p.start == started.on]
            if same:
                matched[d.decision_id] = same[0]
                taken.add((child_id, started.on))
            continue
        decided = day_in_england(d.decided_at)
        kind, agency_la = services.get(str(d.household_id), (None, None))
        for p in by_child[child_id]:
            days = (p.start - decided).days
            if not 0 <= days <= START_WINDOW_DAYS:
                continue
            if p.household_id is not None and p.household_id != d.household_id:
                continue
            if not provider_fits(p.place_provider, kind, agency_la, la_code):
                continue
            pairs.append((days, d.decision_id, d, p))
    child_of = {d.decision_id: c for d, c in chosen}
    for _, decision_id, _d, p in sorted(pairs, key=lambda t: (t[0], t[1], t[3].start)):
        key = (child_of[decision_id], p.start)
        if decision_id in matched or key in taken:
            continue
        matched[decision_id] = p
        taken.add(key)

    decisions = {d.decision_id: d for d, _ in chosen}
    written: list[Outcome] = []
    for decision_id in sorted(matched):
        p, d = matched[decision_id], decisions[decision_id]
        have = list(earlier[decision_id])
        now_standing = standing(have)
        wanted: list[tuple[OutcomeKind, date, str | None]] = []
        if OutcomeKind.STARTED not in now_standing:
            wanted.append((OutcomeKind.STARTED, p.start, None))
        if p.end is not None and p.rec:
            ended = now_standing.get(OutcomeKind.ENDED)
            if ended is None or (ended.source == "ssda903" and (ended.on, ended.reason) != (p.end, p.rec)):
                wanted.append((OutcomeKind.ENDED, p.end, p.rec))
        for kind, on, reason in wanted:
            if problems(d, have, kind, on, reason, None, today=today):
                break  # it would not keep the placement's state whole (so neither would what follows)
            o = _write(conn, decision_id, kind, on, reason, at)
            have.append(o)
            written.append(o)
    return written


def _write(
    conn: Connection, decision_id: int, kind: OutcomeKind, on: date, reason: str | None, at: datetime
) -> Outcome:
    values = {
        "decision_id": decision_id,
        "kind": kind.value,
        "on_date": on,
        "reason_code": reason,
        "reason_text": None,
        "recorded_by_user_id": None,
        "recorded_by": SSDA903_RECORDER,
        "recorded_at": at,
        "source": "ssda903",
    }
    outcome_id = conn.execute(insert(_O).values(**values).returning(_O.c.id)).scalar_one()
    return _outcome({**values, "id": outcome_id})
