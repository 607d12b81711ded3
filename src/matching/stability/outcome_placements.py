"""Placements learned from recorded outcomes: the stability model learns from what happened after decisions as
well as from the imported placement history.

A decision in force (its referral's latest) that chose household H for child C, whose placement is recorded as
started on day D (and not as "did not start"), is a placement (C, H, D), ending on the day its end was recorded.
Its features are read as at D like any other placement's (:func:`matching.stability.features.history_features`).

The same placement may also be in the imported history (an SSDA903 return holds the child's placements, though not
the carers): an imported placement of the same child starting the same day, with no household or the same one, is
that placement.  It is counted once: the imported record is kept (its REASON_PLACE_CHANGE says whether the ending
was planned), with the household the decision names when the import had none.

An outcome gives the reason an episode ceased (REC), not whether the placement ended as planned.  A recorded
placement that ended within a year for a reason that may be a breakdown (:data:`~matching.decisions.outcomes.
NOT_LASTING_REC`: a move to another placement, a return home not as planned) is therefore left out unless the
imported history holds it; any other ending is taken as planned (:data:`PLANNED_END`), so the placement lasted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from matching.decisions.decision import DecisionOutcome
from matching.decisions.outcomes import NOT_LASTING_REC, YEAR_DAYS, OutcomeKind, outcomes_for, standing
from matching.decisions.store import decisions_in_force
from matching.domain import PlacementEpisode

#: The placement code given to a recorded placement the imported history does not hold (foster care with carers
#: who are not relatives or friends: the households the service ranks).
RECORDED_PLACE = "U6"
#: The REASON_PLACE_CHANGE given to a recorded ending that is no breakdown (see the module).
PLANNED_END = "CARPL"
#: How a recorded placement's id begins (then the decision's id).
ID_PREFIX = "decision-"


@dataclass(frozen=True)
class RecordedPlacements:
    """The history with the recorded placements: the placements, and what the recorded outcomes added."""

    placements: tuple[PlacementEpisode, ...]
    #: Ids of the placements there because of a recorded outcome (new, or an imported one given its household).
    from_outcomes: frozenset[str]
    #: Recorded placements the imported history did not hold.
    added: int
    #: Recorded placements the imported history already held (counted once).
    already_imported: int
    #: Recorded placements left out: ended within a year for a reason that may be a breakdown.
    left_out: int


def with_recorded_placements(
    conn: Connection, imported: Sequence[PlacementEpisode], child_ids: Iterable[str]
) -> RecordedPlacements:
    """The ``imported`` placements with those recorded outcomes show for the children ``child_ids`` (see the
    module), by child then start."""
    decisions = [
        (d.decision_id, child_id, d.household_id)
        for d, child_id in decisions_in_force(conn, child_ids)
        if d.outcome is DecisionOutcome.HOUSEHOLD_CHOSEN and d.household_id is not None
    ]
    found = outcomes_for(conn, [i for i, *_ in decisions])
    by_decision: dict[int, list] = {}
    for o in found:
        by_decision.setdefault(o.decision_id, []).append(o)
    placements = list(imported)
    at = {(p.child_id, p.start_date): k for k, p in enumerate(placements)}
    from_outcomes: set[str] = set()
    added = already = left_out = 0
    for decision_id, child_id, household_id in decisions:
        now = standing(by_decision.get(decision_id, []))
        started, ended = now.get(OutcomeKind.STARTED), now.get(OutcomeKind.ENDED)
        if started is None or OutcomeKind.NOT_STARTED in now:
            continue
        k = at.get((child_id, started.on))
        if k is not None and placements[k].household_id in (None, household_id):
            already += 1
            if placements[k].household_id is None:
                placements[k] = dataclasses.replace(placements[k], household_id=household_id)
                from_outcomes.add(placements[k].placement_id)
            continue
        if k is not None:
            continue  # the import places the child with other carers that day: the import stands
        end_reason = None
        if ended is not None:
            if (ended.on - started.on).days <= YEAR_DAYS and ended.reason in NOT_LASTING_REC:
                left_out += 1
                continue
            end_reason = PLANNED_END
        placement = PlacementEpisode(
            placement_id=f"{ID_PREFIX}{decision_id}",
            child_id=child_id,
            place=RECORDED_PLACE,
            start_date=started.on,
            household_id=household_id,
            end_date=None if ended is None else ended.on,
            end_reason=end_reason,
        )
        placements.append(placement)
        at[(child_id, started.on)] = len(placements) - 1
        from_outcomes.add(placement.placement_id)
        added += 1
    placements.sort(key=lambda p: (p.child_id, p.start_date, p.placement_id))
    return RecordedPlacements(tuple(placements), frozenset(from_outcomes), added, already, left_out)
