"""Monitoring an authority can read: how decisions on referrals went in a window of days (the best-ranked
household chosen or not, the reasons given, time from referral to decision by urgency, and who waits longer or is
offered less, by group), and the outcome side: estimated against observed 12-month stability, carers' decline
reasons and offers per referral.  Counts only: the answer names no child, household or officer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from api.auth import Caller
from api.deps import Monitor
from api.limits import as_at, invalid
from api.offload import heavy
from api.schemas import ErrorOut, IsoDate
from matching.decisions.monitoring import SMALL_GROUP, DecisionMonitoring
from matching.decisions.monitoring_outcomes import TOO_FEW, OutcomeMonitoring, monitoring

router = APIRouter(prefix="/v1/monitoring", tags=["monitoring"])

#: The window when none is given: two years to today (a placement is observed a year after it starts, so only
#: the older year of a window can say whether the estimates held).
DEFAULT_DAYS = 731
#: The longest window asked for at once.
MAX_DAYS = 5 * 366
NOT_IN_REMIT = "the authority is not in your remit"
LaCode = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.\-]{1,64}$", description="One authority in your remit.")]
From = Annotated[IsoDate | None, Query(alias="from", description="First day YYYY-MM-DD (default: two years ago).")]
To = Annotated[IsoDate | None, Query(alias="to", description="Last day YYYY-MM-DD (default: today, UTC).")]


class ReasonOut(BaseModel):
    """How often one reason was given."""

    code: str
    words: str
    count: int


class WaitingOut(BaseModel):
    """Days from the referral's date to the decision."""

    n: int
    median_days: float | None
    p90_days: int | None = Field(description="90th percentile (nearest rank).")


class UrgencyOut(BaseModel):
    """Time to decision for one urgency."""

    urgency: str
    words: str
    waiting: WaitingOut


class GroupOut(BaseModel):
    """One group of one attribute; a group of fewer than 5 children gives no count or figure."""

    attribute: str
    group: str
    words: str
    n: int | None
    n_text: str = Field(description='The count as shown: a number, or "fewer than 5".')
    suppressed: bool
    median_days: float | None
    p90_days: int | None
    no_household: int | None
    no_household_share: float | None


class CalibrationOut(BaseModel):
    """Predicted against observed 12-month stability over the placements that started."""

    started: int
    pending: int = Field(description="Started less than a year before the as-at day: not yet observed.")
    no_estimate: int = Field(description="Observed, but the decision was shown no estimate for the household.")
    n: int = Field(description="Observed with an estimate: the placements compared.")
    mean_predicted: float | None = Field(description=f"None below {TOO_FEW} compared (too few to say).")
    observed_rate: float | None = Field(description="The share that lasted a year.")
    difference: float | None = Field(description="observed_rate - mean_predicted: the calibration drift.")


class MonthCalibrationOut(BaseModel):
    """Predicted against observed for the decisions of one month."""

    month: str
    calibration: CalibrationOut


class GroupCalibrationOut(BaseModel):
    """Predicted against observed for one group; a group of fewer than 5 placements started gives no figure."""

    attribute: str
    group: str
    words: str
    n_text: str
    suppressed: bool
    calibration: CalibrationOut | None


class DeclineOut(BaseModel):
    """How often carers declined for one reason."""

    code: str
    words: str
    count: int


class GroupOffersOut(BaseModel):
    """Offers (carers who agreed to be put forward) per referral decided, for one group."""

    attribute: str
    group: str
    words: str
    n_text: str
    suppressed: bool
    referrals: int | None
    offers: int | None
    offers_per_referral: float | None
    no_offer: int | None
    no_offer_share: float | None


class OutcomeMonitoringOut(BaseModel):
    """The outcome side: predicted against observed 12-month stability (by month of decision and by group), the
    carers' decline reasons, and the offers per referral by group, over the same decisions."""

    as_at: str
    calibration: CalibrationOut
    by_month: list[MonthCalibrationOut]
    by_group: list[GroupCalibrationOut]
    declines: int
    decline_reasons: list[DeclineOut]
    referrals: int
    offers: int
    offers_per_referral: float | None
    offers_by_group: list[GroupOffersOut]


class DecisionMonitoringOut(BaseModel):
    """How decisions went in the window; each referral counts once, by its latest decision in the window."""

    la_codes: list[str]
    date_from: str
    date_to: str
    decisions_recorded: int
    referrals_decided: int
    household_chosen: int
    no_household: int
    best_ranked_chosen: int
    best_ranked_share: float | None = Field(description="Of the decisions choosing a household.")
    override_reasons: list[ReasonOut]
    no_household_reasons: list[ReasonOut]
    waiting: WaitingOut
    by_urgency: list[UrgencyOut]
    by_group: list[GroupOut] = Field(description=f"Groups of fewer than {SMALL_GROUP} children are suppressed.")
    outcomes: OutcomeMonitoringOut


def window(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """The window asked for, with the defaults (two years to today); 422 when it runs backwards or is too long."""
    to = date_to or datetime.now(UTC).date()
    start = date_from or to - timedelta(days=DEFAULT_DAYS - 1)
    if start > to:
        raise invalid(("query", "from"), "The first day must be on or before the last day")
    if (to - start).days >= MAX_DAYS:
        raise invalid(("query", "from"), f"The window must be {MAX_DAYS:,} days or fewer")
    return start, to


def both_for(
    request: Request,
    conn: Connection,
    caller: Caller,
    la_code: str | None,
    date_from: date | None,
    date_to: date | None,
) -> tuple[DecisionMonitoring, OutcomeMonitoring]:
    """The decision and the outcome side of monitoring of one authority in the caller's remit (all of them when
    ``la_code`` is None), over one reading of the decisions; the placements as known on the store's as-at date
    (what happened after it is not in the records yet, so a placement is observed a year on only when that year
    is in them).  403 for an authority outside the remit, 422 for a window that runs backwards or is too long."""
    start, to = window(date_from, date_to)
    scope = caller.scope
    if la_code is not None:
        if la_code not in caller.principal.remit.la_codes:
            raise HTTPException(status_code=403, detail=NOT_IN_REMIT)
        scope = scope.narrowed(la_codes=[la_code])
    caller.note.detail = f"monitoring {la_code or 'remit'} {start.isoformat()} to {to.isoformat()}"
    return monitoring(conn, scope=scope, date_from=start, date_to=to, as_at=as_at(request, conn))


@router.get(
    "/decisions",
    response_model=DecisionMonitoringOut,
    responses={403: {"model": ErrorOut, "description": "The authority is not in the caller's remit"}},
)
@heavy
def decisions(
    request: Request,
    conn: Connection,
    caller: Monitor,
    la_code: LaCode = None,
    date_from: From = None,
    date_to: To = None,
) -> dict[str, Any]:
    """How decisions on referrals went for the children of an authority in the caller's remit (every authority in
    it when none is named) from ``from`` to ``to`` (inclusive; by the UTC date each was recorded): how often the
    best-ranked household was chosen, the reasons given, days from referral to decision by urgency, and the same
    with the share decided with no household by sex, ethnicity group, age band, disability and UASC (groups of
    fewer than 5 suppressed).  A referral decided twice counts once, by its latest decision.  ``outcomes``: of
    those decisions, the estimated against the observed 12-month stability of the placements that started (by
    month of decision and by group; only placements started a year or more before the store's as-at date are
    observed), the carers' decline reasons, and the offers per referral by group.  Names no child."""
    m, o = both_for(request, conn, caller, la_code, date_from, date_to)
    return {**m.as_dict(), "outcomes": o.as_dict()}
