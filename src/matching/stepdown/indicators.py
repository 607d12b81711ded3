"""Readiness indicators (domain.md section 5), each judged on the home's monthly records with its evidence.

Every indicator says what it saw (value), where it is heading (trend over the trend window),
what it needs (threshold), whether that is met, and, when not, the next step in plain words.
A record that is missing is **not known**: it never counts as met, and never as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

import numpy as np

from matching import codes
from matching.domain import Child
from matching.stepdown.config import ReadinessConfig

Status = Literal["met", "not_met", "not_known"]
LABELS = {
    "care_plan": "Care plan goal is family life",
    "wishes": "The child's wishes",
    "stability": "Settled in the current home",
    "incidents": "Incidents (aggression, self-harm, police, restraints)",
    "missing": "Missing episodes",
    "sdq": "Emotional wellbeing (SDQ total difficulties)",
    "education": "School attendance and exclusions",
    "supervision": "Supervision needed (staffing)",
    "therapy": "Engagement with therapeutic work",
}
_WISH_TEXT = {
    "wants_family": "wants to live with a family",
    "wants_to_return_home": "wants to go home",
    "unsure": "is unsure about moving",
    "wants_to_stay": "wants to stay where they are",
    "not_asked": "has not been asked",
}


@dataclass(frozen=True)
class IndicatorResult:
    """One indicator for one child, with its evidence."""

    name: str
    label: str
    status: Status
    weight: float
    required: bool
    value: str
    trend: str | None
    threshold: str
    action: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return asdict(self)


@dataclass(frozen=True)
class Records:
    """One child's monthly progress records, oldest first (numpy columns; NaN where not recorded)."""

    month: np.ndarray  # datetime64[M]
    incidents: np.ndarray  # aggression + self-harm + police + restraints
    missing: np.ndarray
    attendance: np.ndarray
    exclusion_days: np.ndarray
    staffing: np.ndarray
    therapy: np.ndarray
    sdq: np.ndarray
    wishes: np.ndarray
    goal: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[dict[str, Any]]) -> Records:
        """Build from store rows of one child (any order)."""
        rows = sorted(rows, key=lambda r: r["month"])

        def num(key: str) -> np.ndarray:
            return np.array([np.nan if r[key] is None else float(r[key]) for r in rows])

        def text(key: str) -> np.ndarray:
            return np.array([r[key] or "" for r in rows], dtype=object)

        return cls(
            month=np.array([np.datetime64(r["month"], "M") for r in rows], dtype="datetime64[M]"),
            incidents=np.array(
                [r["physical_aggression"] + r["self_harm"] + r["police"] + r["restraints"] for r in rows], dtype=float
            ),
            missing=np.array([r["missing"] for r in rows], dtype=float),
            attendance=num("attendance"),
            exclusion_days=num("exclusion_days"),
            staffing=text("staffing"),
            therapy=text("therapy_engagement"),
            sdq=num("sdq"),
            wishes=text("wishes"),
            goal=text("care_plan_goal"),
        )


def month_of(d: date) -> np.datetime64:
    """The calendar month of a date."""
    return np.datetime64(d, "M")


def _trend(values: np.ndarray) -> tuple[str | None, float | None]:
    """Falling / rising / steady from a least-squares slope per month (None with fewer than 3 points)."""
    ok = ~np.isnan(values)
    if ok.sum() < 3:
        return None, None
    x = np.arange(len(values))[ok]
    slope = float(np.polyfit(x, values[ok], 1)[0])
    if slope < -0.1:
        return "falling", slope
    if slope > 0.1:
        return "rising", slope
    return "steady", slope


def _months_between(a: date, b: date) -> float:
    return (b - a).days / 30.44


def evaluate(
    child: Child, records: Records | None, on: date, cfg: ReadinessConfig
) -> tuple[list[IndicatorResult], str | None]:
    """Every indicator for ``child`` on ``on``, and why the records cannot be used (None when they can)."""
    s, ind = cfg.settings, cfg.indicators
    # The month after the latest record due on ``on``: the windows end just before it.
    now = month_of(on) - np.timedelta64(s.returns_lag_months, "M")
    window_start = now - np.timedelta64(s.window_months, "M")
    trend_start = now - np.timedelta64(s.trend_months, "M")
    stale: str | None = None
    if records is None or len(records.month) == 0:
        stale = "no monthly progress records from the home"
    elif records.month[-1] < now - np.timedelta64(s.stale_after_months, "M"):
        stale = f"the latest progress record is for {records.month[-1]}: ask the home for the months since"
    usable = records is not None and stale is None
    win = (records.month >= window_start) & (records.month < now) if usable and records else None
    trw = (records.month >= trend_start) & (records.month < now) if usable and records else None
    out: list[IndicatorResult] = []

    def add(
        name: str, status: Status, value: str, threshold: str, action: str | None, trend: str | None = None
    ) -> None:
        i = ind[name]
        out.append(IndicatorResult(name, LABELS[name], status, i.weight, i.required, value, trend, threshold, action))

    # Care plan goal: the latest recorded goal, else the child's record.
    goal = str(records.goal[-1]) if records is not None and len(records.goal) and records.goal[-1] else None
    goal = goal or child.care_plan_goal
    if goal is None:
        add("care_plan", "not_known", "no care plan goal recorded", "foster, kin, return home or adoption",
            "Record the care plan's permanence goal")  # fmt: skip
    elif goal in codes.FAMILY_GOALS:
        add("care_plan", "met", goal.replace("_", " "), "foster, kin, return home or adoption", None)
    else:
        add("care_plan", "not_met", goal.replace("_", " "), "foster, kin, return home or adoption",
            "The care plan is not for family life: review it at the next looked-after review if a family could "
            "now meet the child's needs")  # fmt: skip

    # Wishes: the latest recorded view.
    asked = [w for w in (records.wishes if records is not None else []) if w and w != "not_asked"]
    wish = asked[-1] if asked else "not_asked"
    text = f"the child {_WISH_TEXT.get(wish, wish)}"
    if wish in ("wants_family", "wants_to_return_home"):
        add("wishes", "met", text, "wants a family or to go home", None)
    elif wish == "not_asked":
        add("wishes", "not_known", text, "wants a family or to go home",
            "Ask the child what they want, with their advocate if they wish")  # fmt: skip
    elif wish == "unsure":
        add("wishes", "not_met", text, "wants a family or to go home",
            "Talk with the child about family life: they are unsure")  # fmt: skip
    else:
        add("wishes", "not_met", text, "wants a family or to go home",
            "The child says they want to stay: listen to why before any plan to move them")  # fmt: skip

    # Stability: months in the current home (the last move).
    months = _months_between(child.placement_start, on)
    need = ind["stability"].min_months or 0
    if months < 0:
        add("stability", "not_known", "the current placement began after this date", f"at least {need:g} months",
            "Assess on a date after the current placement began")  # fmt: skip
    else:
        add("stability", "met" if months >= need else "not_met", f"{months:.0f} months in the current home",
            f"at least {need:g} months", None if months >= need else
            f"{int(np.ceil(need - months))} more months settled in the current home")  # fmt: skip

    if not usable or records is None or win is None or trw is None:
        for name in ("incidents", "missing", "sdq", "education", "supervision", "therapy"):
            add(name, "not_known", "not known", "-", None)
        return out, stale

    have = int(win.sum())
    short = have < s.window_months
    # Incidents in the window, trend over the trend window.
    n_inc = float(np.nansum(records.incidents[win]))
    cap = ind["incidents"].max_in_window or 0
    trend, _ = _trend(records.incidents[trw])
    if short:
        add("incidents", "not_known", f"only {have} of {s.window_months} months recorded", f"at most {cap}",
            "Ask the home for the missing months")  # fmt: skip
    else:
        add("incidents", "met" if n_inc <= cap else "not_met", f"{n_inc:.0f} in the last {s.window_months} months",
            f"at most {cap} in {s.window_months} months", None if n_inc <= cap else
            f"Fewer incidents: {n_inc:.0f} in the last {s.window_months} months, at most {cap} needed "
            "(keep the de-escalation plan going and review next month)", trend)  # fmt: skip

    # Missing episodes: months since the last one.
    cap_m = ind["missing"].max_in_window or 0
    n_miss = float(np.nansum(records.missing[win]))
    if short:
        add("missing", "not_known", f"only {have} of {s.window_months} months recorded", f"at most {cap_m}",
            "Ask the home for the missing months")  # fmt: skip
    else:
        with_missing = np.flatnonzero(records.missing > 0)
        since = int((now - records.month[with_missing[-1]]).astype(int)) - 1 if len(with_missing) else None
        more = max(1, s.window_months - (since or 0))
        add("missing", "met" if n_miss <= cap_m else "not_met", f"{n_miss:.0f} in the last {s.window_months} months",
            f"at most {cap_m}", None if n_miss <= cap_m else
            f"{_words(more)} more month{'s' if more != 1 else ''} without missing episodes")  # fmt: skip

    # SDQ: latest score in the trend window; falling counts too.
    sdq_cfg = ind["sdq"]
    scores = records.sdq[trw]
    scores = scores[~np.isnan(scores)]
    concern = sdq_cfg.concern_from or 17
    if len(scores) == 0:
        add("sdq", "not_known", "no SDQ in the last " + f"{s.trend_months} months", f"below {concern}, or falling",
            "Complete an SDQ (none recorded recently)")  # fmt: skip
    else:
        latest, first = float(scores[-1]), float(scores[0])
        fall = first - latest
        ok = latest < concern or (len(scores) > 1 and fall >= (sdq_cfg.min_fall or 3))
        band = "normal" if latest <= 13 else ("borderline" if latest <= 16 else "cause for concern")
        add("sdq", "met" if ok else "not_met", f"{latest:.0f} ({band})", f"below {concern}, or falling by "
            f"{sdq_cfg.min_fall or 3}+", None if ok else
            "Continue therapeutic support and re-assess the SDQ in three months",
            None if len(scores) < 2 else ("falling" if fall > 0 else "rising" if fall < 0 else "steady"))  # fmt: skip

    # Education: attendance and exclusions in the window.
    edu = ind["education"]
    att = records.attendance[win]
    exc = records.exclusion_days[win]
    if np.isnan(att).all():
        add("education", "not_known", "attendance not recorded", f"attendance {edu.min_attendance:g}%+",
            "Record school attendance with the virtual school")  # fmt: skip
    else:
        mean_att = float(np.nanmean(att))
        days = float(np.nansum(exc))
        ok = mean_att >= (edu.min_attendance or 0) and days <= (edu.max_exclusion_days or 0)
        parts = []
        if mean_att < (edu.min_attendance or 0):
            parts.append(f"attendance up to {edu.min_attendance:g}% (now {mean_att:.0f}%)")
        if days > (edu.max_exclusion_days or 0):
            parts.append(f"no exclusions ({days:.0f} days in the last {s.window_months} months)")
        add("education", "met" if ok else "not_met", f"attendance {mean_att:.0f}%, {days:.0f} days excluded",
            f"attendance {edu.min_attendance:g}%+, at most {edu.max_exclusion_days} days excluded",
            None if ok else "With the virtual school: " + " and ".join(parts))  # fmt: skip

    # Supervision: ordinary staffing throughout the window.
    staffing = [x for x in records.staffing[win] if x]
    higher = [x for x in staffing if x != "ordinary"]
    if not staffing:
        add("supervision", "not_known", "staffing not recorded", "ordinary staffing", "Record the staffing needed")
    else:
        add("supervision", "met" if not higher else "not_met",
            "ordinary staffing" if not higher else f"{higher[-1].replace('_to_', ':').replace('one', '1').replace('two', '2')} "
            f"staffing in {len(higher)} of {len(staffing)} months", "ordinary staffing for "
            f"{s.window_months} months", None if not higher else
            f"{s.window_months} months needing only ordinary staffing")  # fmt: skip

    # Therapy: engagement in the latest recorded month of the window.
    therapy = [x for x in records.therapy[win] if x]
    if not therapy:
        add("therapy", "not_known", "not recorded", "partial or full engagement", "Record engagement with therapy")
    else:
        ok = therapy[-1] in ("partial", "full")
        add("therapy", "met" if ok else "not_met", f"{therapy[-1]} engagement", "partial or full engagement",
            None if ok else "Offer therapeutic work the child can engage with")  # fmt: skip
    return out, None


def _words(n: int) -> str:
    return {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six"}.get(n, str(n))
