"""Synthetic residential progress records: what children's homes record each month.

Every child whose current placement is a children's home (K2) gets up to 12 monthly records
before the snapshot, drawn from one of four latent paths (written to ``truth/stepdown_truth.csv``):

* ``improving``: a family-based care plan, at least six months in the home, and incidents, missing
  episodes, restraints and police call-outs falling to (near) none over the last three months;
  SDQ falling below 17, attendance rising, ordinary staffing, full engagement with therapy.
  These are the children a readiness assessment should find ready for family life.
* ``plateau``: a family-based plan and calmer records, but one thing still in the way (recent
  missing episodes, 1:1 staffing, a recent flare-up of incidents, or a recent move into the home).
* ``unsettled``: frequent incidents, missing episodes, high SDQ, poor attendance, high staffing.
* ``staying``: the care plan is to stay in residential care or move to independence; records
  may look settled, but the plan is not family life.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching import codes
from matching.synth.children import ChildArrays

MONTHS = 12
_DAY = np.timedelta64(1, "D")


def _month_start(day: int) -> np.datetime64:
    return np.datetime64(int(day), "D").astype("datetime64[M]")


def progress_records(c: ChildArrays, snapshot_day: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly records of every child in a children's home, and the latent path of each (truth)."""
    rows: dict[str, list[object]] = {
        k: []
        for k in (
            "child_id", "month", "physical_aggression", "self_harm", "missing", "police", "restraints",
            "attendance", "exclusion_days", "staffing", "therapy_engagement", "trusted_adult", "family_time",
            "sdq", "wishes", "care_plan_goal",
        )
    }  # fmt: skip
    truth: dict[str, list[object]] = {"child_id": [], "path": [], "months_in_home": []}
    last_month = _month_start(snapshot_day) - np.timedelta64(1, "M")
    for i in np.flatnonzero(c.place == codes.PLACE_CHILDRENS_HOME):
        goal = str(c.care_plan_goal[i])
        # Months in the home as the authority would count them when it assesses on these records
        # (the first of the month after the latest record).
        assess_day = int(_month_start(snapshot_day).astype("datetime64[D]").astype(np.int64))
        in_home = max(1, int((assess_day - int(c.placement_start[i])) // 30.44))
        family = goal in codes.FAMILY_GOALS
        u = rng.random()
        if not family:
            path = "staying"
        elif in_home >= 6 and u < 0.5:
            path = "improving"
        elif u < 0.75:
            path = "plateau"
        else:
            path = "unsettled"
        n = min(MONTHS, in_home)
        months = [last_month - np.timedelta64(n - 1 - m, "M") for m in range(n)]
        snag = str(rng.choice(["missing", "staffing", "incidents"])) if path == "plateau" else ""
        base = rng.gamma(2.0, 2.0)
        no_sdq = rng.random() < 0.2
        sdq_start = int(rng.integers(19, 28))
        if path == "improving" or (path == "staying" and rng.random() < 0.5):
            wishes = "wants_to_return_home" if goal == "return_home" else "wants_family"
            if path == "improving" and rng.random() < 0.15:
                wishes = "unsure"
            if path == "staying":
                wishes = str(rng.choice(["wants_to_stay", "unsure", "wants_family"], p=[0.6, 0.25, 0.15]))
        else:
            wishes = str(rng.choice(["wants_family", "unsure", "wants_to_stay", "not_asked"], p=[0.45, 0.25, 0.2, 0.1]))
        calm = path in ("improving", "plateau") or (path == "staying" and rng.random() < 0.5)
        for m, month in enumerate(months):
            left = n - 1 - m  # months before the most recent
            if calm:
                rate = base * np.exp(-0.6 * m) if path != "plateau" else base * 0.25
                rate = rate if left >= 3 else min(rate, 0.08)
            else:
                rate = base * rng.uniform(0.8, 1.6) + 1.5
            agg = int(rng.poisson(rate))
            if path == "plateau" and snag == "incidents" and left < 2:
                agg = max(agg, 2)  # a recent flare-up: more than the window allows
            miss_rate = 0.0 if calm and left < 3 else (0.3 * rate + (0.8 if not calm else 0.0))
            if path == "plateau" and snag == "missing" and left < 2:
                miss_rate = 1.2
            missing = int(rng.poisson(miss_rate))
            if path == "plateau" and snag == "missing" and left == 0:
                missing = max(missing, 1)
            if calm:
                staffing = "ordinary" if left < 4 else ("one_to_one" if rng.random() < 0.6 else "ordinary")
                if path == "plateau" and snag == "staffing":
                    staffing = "one_to_one"
                attendance = float(np.clip(rng.normal(92 if left < 4 else 75, 5), 0, 100))
                exclusion = int(rng.poisson(0.05 if left < 3 else 0.6))
                therapy = "full" if left < 4 else "partial"
            else:
                staffing = str(rng.choice(["two_to_one", "one_to_one", "ordinary"], p=[0.3, 0.5, 0.2]))
                attendance = float(np.clip(rng.normal(60, 15), 0, 100))
                exclusion = int(rng.poisson(1.5))
                therapy = str(rng.choice(["none", "partial"], p=[0.5, 0.5]))
            sdq: object = ""
            if not no_sdq and (left % 6 == 0):
                drop = (n - 1 - left) * (0.9 if calm else 0.1)
                sdq = int(np.clip(round(sdq_start - drop + rng.normal(0, 1.5)), 0, 40))
            rows["child_id"].append(c.child_id[i])
            rows["month"].append(str(month))
            rows["physical_aggression"].append(agg)
            rows["self_harm"].append(int(rng.poisson(rate * 0.3)))
            rows["missing"].append(missing)
            rows["police"].append(int(rng.poisson(rate * 0.25 + 0.3 * missing)))
            rows["restraints"].append(int(rng.poisson(rate * 0.4)))
            rows["attendance"].append(round(attendance, 1))
            rows["exclusion_days"].append(exclusion)
            rows["staffing"].append(staffing)
            rows["therapy_engagement"].append(therapy)
            rows["trusted_adult"].append("true" if calm and left < 6 else "false")
            rows["family_time"].append("positive" if calm and left < 4 else str(rng.choice(codes.FAMILY_TIME)))
            rows["sdq"].append(sdq)
            rows["wishes"].append(wishes if left < 3 else "not_asked")
            rows["care_plan_goal"].append(goal)
        truth["child_id"].append(c.child_id[i])
        truth["path"].append(path)
        truth["months_in_home"].append(in_home)
    return pd.DataFrame(rows), pd.DataFrame(truth)
