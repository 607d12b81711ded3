"""``matching generate``: a synthetic England written in the data contract's formats.

One local authority (the default) is a mid-sized authority of ~500 children and ~250 carer
households; 150 authorities are all of England (~84,000 children, ~43,000 households).  Each
authority is generated from its own seeded stream, so the output is the same bytes for the
same seed whatever the number of worker processes.  Synthetic only: no real child is in here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching import codes
from matching.contract.spec import FILES_BY_NAME
from matching.coverage import CoverageTables
from matching.synth import history as history_mod
from matching.synth import needs as needs_mod
from matching.synth import outcomes as outcomes_mod
from matching.synth.children import ChildArrays, make_children
from matching.synth.geography import Agency, LocalAuthority, make_agencies, make_local_authorities
from matching.synth.history import History, HouseholdState, RiskCodes, simulate_history
from matching.synth.households import NEVER, HouseholdProfile, Households, place_children, profile_households
from matching.synth.needs import NeedsTimeline
from matching.synth.outcomes import InteractingCoefficients, InteractingProcess, OutcomeCoefficients, StandardProcess
from matching.synth.progress import progress_records
from matching.synth.ssda903 import export_903
from matching.taxonomy import Taxonomy, load_taxonomy

GENERATOR_VERSION = "2"
DEFAULT_SNAPSHOT = date(2026, 3, 31)
DEFAULT_SEED = 2024
#: Children per LA: a mid-sized LA for one, the national mean (83,630 / 150) for several.
CHILDREN_ONE_LA = 500
CHILDREN_PER_LA_NATIONAL = 83_630 / 150
_EPOCH = date(1970, 1, 1)

ProgressCallback = Callable[[int, int], None]
#: Tables written to truth/ (never part of the contract).
_TRUTH = ("placement_truth", "stepdown_truth")

_RISK_FROM_NEED_CHILD = {
    "self_harm": "self_harm",
    "sexual_exploitation": "sexual_exploitation",
    "criminal_exploitation": "criminal_exploitation",
    "substance_misuse": "substance_misuse",
    "eating_difficulties": "eating_difficulties",
    "going_missing": "going_missing",
}
_RISK_FROM_NEED_OTHERS = {"physical_aggression": "physical_harm", "sexualised_behaviour": "sexual_harm"}


@dataclass(frozen=True)
class GenerationSummary:
    """What was written."""

    out: Path
    las: int
    seed: int
    rows: dict[str, int]


def _day(d: date) -> int:
    return (d - _EPOCH).days


def _iso(days: np.ndarray) -> np.ndarray:
    """Day numbers to ISO dates; negative sentinels to empty strings."""
    days = np.asarray(days, dtype=np.int64)
    out = days.astype("datetime64[D]").astype(str).astype(object)
    out[days < -100_000] = ""
    return out


def _month(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(str).astype(object)


def _join(values: list[tuple[str, ...]] | np.ndarray) -> list[str]:
    return [";".join(v) for v in values]


def generate(
    out: Path | str,
    *,
    las: int = 1,
    seed: int = DEFAULT_SEED,
    snapshot: date = DEFAULT_SNAPSHOT,
    taxonomy: Taxonomy | None = None,
    workers: int | None = None,
    outcome_process: str = "standard",
    coefficients: OutcomeCoefficients | InteractingCoefficients | None = None,
    progress: ProgressCallback | None = None,
) -> GenerationSummary:
    """Write a synthetic country of ``las`` local authorities to ``out`` (contract files + truth).

    ``outcome_process`` is ``"standard"`` or ``"interacting"`` (:mod:`matching.synth.outcomes`);
    ``coefficients`` replaces its defaults.
    """
    if las < 1:
        raise ValueError("las must be at least 1")
    process = outcomes_mod.outcome_process(outcome_process, coefficients)
    out = Path(out)
    taxonomy = taxonomy or load_taxonomy()
    authorities, agencies, sizes, la_seqs = _plan(las, seed)
    # Each authority's SSDA903 return is written as it is made (in the workers); the XML form for the first.
    (out / "903").mkdir(parents=True, exist_ok=True)
    first = min(a.la_code for a in authorities)
    jobs = [
        (authorities[i], int(sizes[i]), agencies, la_seqs[i], _day(snapshot), taxonomy, process, out / "903",
         authorities[i].la_code == first)
        for i in range(las)
    ]  # fmt: skip
    workers = workers if workers is not None else (1 if las < 4 else 2)
    parts: list[dict[str, pd.DataFrame]] = []
    files_903 = 0
    if workers <= 1:
        for k, job in enumerate(jobs):
            part, written = _generate_la(*job)
            parts.append(part)
            files_903 += written
            if progress:
                progress(k + 1, las)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            chunk = max(1, las // (4 * workers))
            for k, (part, written) in enumerate(pool.map(_generate_la_packed, jobs, chunksize=chunk)):
                parts.append(part)
                files_903 += written
                if progress:
                    progress(k + 1, las)
    tables = {name: pd.concat([p[name] for p in parts], ignore_index=True) for name in parts[0]}
    tables["local_authorities"] = pd.DataFrame(
        {
            "la_code": [a.la_code for a in authorities],
            "name": [a.name for a in authorities],
            "region": [a.region for a in authorities],
            "centre_easting": [a.centre_easting for a in authorities],
            "centre_northing": [a.centre_northing for a in authorities],
            "radius_miles": [f"{a.radius_miles:.1f}" for a in authorities],
        }
    )
    tables["agencies"] = pd.DataFrame(
        {
            "agency_code": [a.agency_code for a in agencies],
            "name": [a.name for a in agencies],
            "agency_type": [a.agency_type for a in agencies],
            "la_code": [a.la_code or "" for a in agencies],
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    rows: dict[str, int] = {}
    for name, frame in tables.items():
        if name in _TRUTH:
            path, ordered = out / "truth" / f"{name}.csv", frame
        else:
            path, ordered = out / f"{name}.csv", frame[[c.name for c in FILES_BY_NAME[name].columns]]
        ordered.to_csv(path, index=False, lineterminator="\n")
        rows[name] = len(ordered)
    meta = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "las": las,
        "snapshot": snapshot.isoformat(),
        "taxonomy_version": taxonomy.version,
        "outcome_process": process.name,
        "outcome_coefficients": process.describe()["coefficients"],
        "records_over_time": {"needs": needs_mod.dynamics(), "households": history_mod.dynamics()},
        "rows": rows,
        "ssda903_files": files_903,
        "note": "Synthetic data only. truth/ holds the generator's true probabilities and the full dated history "
        "of needs assessments; it is not part of the data contract and is never imported.",
    }
    (out / "truth" / "generator.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return GenerationSummary(out=out, las=las, seed=seed, rows=rows)


def _plan(las: int, seed: int) -> tuple[list[LocalAuthority], list[Agency], np.ndarray, list[np.random.SeedSequence]]:
    """The authorities, agencies, children per authority and each authority's own seeded stream."""
    root = np.random.SeedSequence(seed)
    geo_seq, *la_seqs = root.spawn(las + 1)
    geo_rng = np.random.default_rng(geo_seq)
    authorities = make_local_authorities(las, geo_rng)
    agencies = make_agencies(authorities)
    if las == 1:
        sizes = np.array([CHILDREN_ONE_LA])
    else:
        raw = geo_rng.lognormal(0.0, 0.45, las)
        sizes = np.maximum(60, np.round(raw / raw.sum() * CHILDREN_PER_LA_NATIONAL * las)).astype(int)
    return authorities, agencies, sizes, la_seqs


def authority_world(
    *,
    las: int = 1,
    index: int = 0,
    seed: int = DEFAULT_SEED,
    snapshot: date = DEFAULT_SNAPSHOT,
    outcome_process: str = "standard",
    coefficients: OutcomeCoefficients | InteractingCoefficients | None = None,
    perturb_history_from: date | None = None,
) -> LaWorld:
    """Authority ``index`` of ``generate(las=las, seed=seed, ...)`` in memory, with the state behind its tables.

    ``perturb_history_from`` is a testing aid: every random draw of the placement history from that
    day on comes from another stream, so a test can check that no placement starting before it changed.
    """
    process = outcomes_mod.outcome_process(outcome_process, coefficients)
    authorities, agencies, sizes, la_seqs = _plan(las, seed)
    perturb = _day(perturb_history_from) if perturb_history_from is not None else None
    return build_la(
        authorities[index],
        int(sizes[index]),
        agencies,
        la_seqs[index],
        _day(snapshot),
        load_taxonomy(),
        process,
        perturb,
    )


def _generate_la_packed(job: tuple[Any, ...]) -> tuple[dict[str, pd.DataFrame], int]:
    return _generate_la(*job)


def _generate_la(
    la: LocalAuthority,
    n_children: int,
    agencies: list[Agency],
    seq: np.random.SeedSequence,
    snapshot_day: int,
    taxonomy: Taxonomy,
    process: StandardProcess | InteractingProcess,
    out_903: Path,
    xml: bool,
) -> tuple[dict[str, pd.DataFrame], int]:
    """One authority's tables, its SSDA903 return written to ``out_903`` (and the number of files)."""
    frames = build_la(la, n_children, agencies, seq, snapshot_day, taxonomy, process).frames
    return frames, export_903(frames, out_903, xml=xml)


@dataclass
class LaWorld:
    """One authority after its history: the tables written, and the state behind them (for tests)."""

    frames: dict[str, pd.DataFrame]
    children: ChildArrays
    households: Households
    profile: HouseholdProfile
    state: HouseholdState
    needs: NeedsTimeline
    history: History
    wont_at_approval: list[tuple[str, ...]]  # the "will not consider" lists before any placement
    pref_at_approval: tuple[np.ndarray, np.ndarray]  # preferred ages (min, max) before any placement


def build_la(
    la: LocalAuthority,
    n_children: int,
    agencies: list[Agency],
    seq: np.random.SeedSequence,
    snapshot_day: int,
    taxonomy: Taxonomy,
    process: StandardProcess | InteractingProcess,
    perturb_day: int | None = None,
) -> LaWorld:
    """Generate one authority: its children, households and their history in date order."""
    rng = np.random.default_rng(seq)
    tables = CoverageTables.from_taxonomy(taxonomy)
    children = make_children(la, n_children, snapshot_day, taxonomy, rng)
    in_house = next(a for a in agencies if a.la_code == la.la_code)
    ifas = [a for a in agencies if a.agency_type == "ifa" and a.region == la.region]
    hh, home_of = place_children(la, children, in_house, ifas, rng)
    earliest = np.full(len(hh), snapshot_day, dtype=np.int64)
    np.minimum.at(earliest, home_of[home_of >= 0], children.placement_start[home_of >= 0])
    prof = profile_households(hh, snapshot_day, earliest, taxonomy, rng)
    # Connected-person carers are family or friends: they share the child's identity.
    index_of = {cid: i for i, cid in enumerate(children.child_id)}
    for k, kids in enumerate(hh.kin_for):
        if kids:
            i = index_of[kids[0]]
            prof.ethnicity[k] = children.ethnicity[i]
            prof.religion[k] = children.religion[i]
            prof.languages[k] = children.languages[i]
    members, births = _members(la, hh, snapshot_day, rng)
    need_ids = taxonomy.need_ids
    extra = _risk_extras(children, rng)
    # Unrecorded effects (one per child, one per household), drawn whichever process is chosen so
    # that both processes see the same children and households.
    effects = rng.standard_normal(len(children) + len(hh))
    if isinstance(process, InteractingProcess):
        process = process.with_effects(effects[: len(children)], effects[len(children) :])
    timeline = NeedsTimeline.start(children.severity, children.birth_day, children.care_started, taxonomy, rng)
    state = HouseholdState.build(hh, prof, births, tables)
    wont_at_approval, pref_at_approval = list(prof.wont), (prof.pref_min.copy(), prof.pref_max.copy())
    risk_of_need = {n: (r,) for n, r in (_RISK_FROM_NEED_CHILD | _RISK_FROM_NEED_OTHERS).items()}
    risk_codes = RiskCodes.build(need_ids, risk_of_need)
    hist = simulate_history(
        la.la_code,
        children,
        home_of,
        state,
        tables,
        timeline,
        risk_codes,
        extra,
        process,
        snapshot_day,
        rng,
        redraw_from=perturb_day,
    )
    # The record on the snapshot day: the latest assessments, the households as they are now.
    children.severity = timeline.finish(snapshot_day, rng)
    prof.approved_day[:] = state.approved
    prof.wont = [tuple(w) for w in state.wont]
    prof.pref_min, prof.pref_max = state.pref_min, state.pref_max
    risks_child, risks_others = _risks(children, extra, taxonomy)
    order = hist.ordered()
    frames = {
        "households": _households_frame(la, hh, prof, state.experience, snapshot_day, need_ids),
        "children": _children_frame(la, children, home_of, hh),
        "child_needs": _assessments_frame(children, timeline, need_ids),
        "sdq_scores": _sdq_frame(children, snapshot_day, rng),
        "referrals": _referrals_frame(la, children, home_of, risks_child, risks_others, need_ids, snapshot_day, rng),
        "household_members": members,
        "carer_training": _training_frame(hh, prof, taxonomy),
        "placements": _placements_frame(children, hh, hist, order),
        "placement_truth": pd.DataFrame(
            {
                "placement_id": np.array(hist.placement_id, dtype=object)[order],
                "p_unplanned_12m": np.round(np.array(hist.p_true)[order], 6),
                "latent_logit": np.round(np.array(hist.logit_latent)[order], 4),
                "unplanned_12m": ["" if v < 0 else str(v) for v in np.array(hist.unplanned_12m)[order]],
            }
        ),
    }
    # Drawn last, so adding them left every earlier table's random stream as it was.
    frames["progress_records"], frames["stepdown_truth"] = progress_records(children, snapshot_day, rng)
    return LaWorld(frames, children, hh, prof, state, timeline, hist, wont_at_approval, pref_at_approval)


def _members(
    la: LocalAuthority, hh: Households, snapshot_day: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, list[tuple[int, ...]]]:
    rows: dict[str, list[str]] = {"member_id": [], "household_id": [], "kind": [], "birth_month": [], "sex": []}
    all_births: list[tuple[int, ...]] = []
    k = 0
    for h in range(len(hh)):
        kin = len(hh.kin_for[h]) > 0
        births: list[int] = []
        if rng.random() < (0.25 if kin else 0.35):
            for _ in range(int(rng.integers(1, 4))):
                births.append(snapshot_day - int(rng.uniform(0.2, 20.0) * 365.25))
        adults = [snapshot_day - int(rng.uniform(18, 30) * 365.25)] if rng.random() < 0.1 else []
        for kind, days in (("birth_child", births), ("other_adult", adults)):
            for d in days:
                k += 1
                rows["member_id"].append(f"{la.la_code}-M{k:05d}")
                rows["household_id"].append(hh.ids[h])
                rows["kind"].append(kind)
                rows["birth_month"].append(str(np.datetime64(d, "D").astype("datetime64[M]")))
                rows["sex"].append("M" if rng.random() < 0.5 else "F")
        all_births.append(tuple(births))
    return pd.DataFrame(rows), all_births


def _risk_extras(children: ChildArrays, rng: np.random.Generator) -> np.ndarray:
    """Risks to others not implied by a need: flags per child, in the order of ``history.EXTRA_RISKS``."""
    n = len(children)
    u = rng.random((n, 2))
    fire = (children.age_months >= 120) & (u[:, 0] < 0.015 + 0.02 * (children.complexity > 1))
    animals = (children.age_months >= 60) & (u[:, 1] < 0.02)
    return np.column_stack([fire, animals])


def _risks(
    children: ChildArrays, extra: np.ndarray, taxonomy: Taxonomy
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Risks to and from each child on the snapshot day, from the needs then and the extra flags."""
    idx = {nid: j for j, nid in enumerate(taxonomy.need_ids)}
    to_child: list[tuple[str, ...]] = []
    to_others: list[tuple[str, ...]] = []
    for i in range(len(children)):
        sev = children.severity[i]
        rc = [r for need, r in _RISK_FROM_NEED_CHILD.items() if need in idx and sev[idx[need]] >= 2]
        ro = [r for need, r in _RISK_FROM_NEED_OTHERS.items() if need in idx and sev[idx[need]] >= 2]
        if extra[i, 0]:
            ro.append("fire_setting")
        if extra[i, 1]:
            ro.append("harm_to_animals")
        to_child.append(tuple(r for r in codes.RISKS_TO_CHILD if r in rc))
        to_others.append(tuple(r for r in codes.RISKS_TO_OTHERS if r in ro))
    return to_child, to_others


def _children_frame(la: LocalAuthority, c: ChildArrays, home_of: np.ndarray, hh: Households) -> pd.DataFrame:
    n = len(c)
    hid = np.array([hh.ids[k] if k >= 0 else "" for k in home_of], dtype=object)
    school_age = c.school_e >= 0
    return pd.DataFrame(
        {
            "child_id": c.child_id,
            "la_code": la.la_code,
            "birth_month": _month(c.birth_day),
            "sex": c.sex,
            "ethnicity": c.ethnicity,
            "religion": c.religion,
            "first_languages": _join(c.languages),
            "uasc": np.where(c.uasc, "true", "false"),
            "disability": np.where(c.disability, "true", "false"),
            "sen": c.sen,
            "health_needs": _join(c.health),
            "legal_status": c.legal_status,
            "category_of_need": c.cin,
            "care_started": _iso(c.care_started),
            "place": c.place,
            "place_provider": c.provider,
            "placement_start": _iso(c.placement_start),
            "household_id": hid,
            "home_easting": c.home_e,
            "home_northing": c.home_n,
            "school_urn": c.school_urn,
            "school_easting": np.where(school_age, c.school_e.astype(str), ""),
            "school_northing": np.where(school_age, c.school_n.astype(str), ""),
            "sibling_group_id": [g or "" for g in c.sibling_group],
            "place_with_siblings": np.where(c.place_together, "true", "false"),
            "care_plan_goal": c.care_plan_goal,
        },
        index=range(n),
    )


def _assessments_frame(c: ChildArrays, timeline: NeedsTimeline, need_ids: tuple[str, ...]) -> pd.DataFrame:
    """Every assessment: one row per (child, need, assessed_on), by child and date.

    A child's assessment is the whole profile on its date.  It lists every need rated above 0, and at
    severity 0 each need the child's previous assessment rated above 0 that it no longer does, so the
    file reads the same whether a reader takes each child's latest assessment or each need's latest
    rating on or before a date (the contract's reading: the latest rating of each need is in force).
    This is ``child_needs``: the history, keyed by (child, need, assessed_on).
    """
    child, days, profile = timeline.assessments()
    order = np.lexsort((days, child))
    child, days, profile = child[order], days[order], profile[order]
    previous = np.zeros_like(profile)
    same = np.r_[False, child[1:] == child[:-1]]
    previous[same] = profile[np.flatnonzero(same) - 1]
    rows, cols = np.nonzero((profile > 0) | (previous > 0))
    return pd.DataFrame(
        {
            "child_id": c.child_id[child[rows]],
            "need": np.array(need_ids, dtype=object)[cols],
            "severity": profile[rows, cols],
            "assessed_on": _iso(days[rows]),
        }
    )


def _sdq_frame(c: ChildArrays, snapshot_day: int, rng: np.random.Generator) -> pd.DataFrame:
    ids: list[str] = []
    days: list[int] = []
    scores: list[int] = []
    for i in range(len(c)):
        if c.age_months[i] < 48:
            continue
        base = 12.5 + 4.0 * c.complexity[i]
        for k in range(int(rng.integers(1, 5))):
            d = snapshot_day - k * 365 - int(rng.integers(5, 60))
            if d < c.care_started[i] or d < c.birth_day[i] + 4 * 365:
                break
            ids.append(str(c.child_id[i]))
            days.append(d)
            scores.append(int(np.clip(round(base + 0.8 * k + rng.normal(0, 3)), 0, 40)))
    return pd.DataFrame({"child_id": ids, "assessed_on": _iso(np.array(days, dtype=np.int64)), "score": scores})


_WISHES = (
    ("I want to stay at my school and keep my friends.", "wish_near_school"),
    ("I want to live close to my mum and see my family.", "wish_near_family"),
    ("I would like a family who shares my faith.", "wish_same_religion"),
    ("I want carers who speak my language.", "wish_same_language"),
    ("I would like a home with a dog.", "wish_pets"),
)


def _live_alongside(risks_to_others: tuple[str, ...], rng: np.random.Generator) -> str:
    """Who a child can live alongside, drawn from the risks they pose to others."""
    if "sexual_harm" in risks_to_others:
        return "solo" if rng.random() < 0.5 else "only_older"
    if "physical_harm" in risks_to_others:
        return str(rng.choice(["only_older", "solo", "any"], p=[0.5, 0.2, 0.3]))
    return str(rng.choice(["any", "only_younger", "only_older"], p=[0.85, 0.08, 0.07]))


def _referrals_frame(
    la: LocalAuthority,
    c: ChildArrays,
    home_of: np.ndarray,
    risks_child: list[tuple[str, ...]],
    risks_others: list[tuple[str, ...]],
    need_ids: tuple[str, ...],
    snapshot_day: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    eligible = np.isin(c.place, ["U4", "U5", "U6", "K2", "R1", "Z11", "Z12"]) | (c.place == "P1")
    p = np.where(c.place == "K2", 0.12, 0.09)
    picked = eligible & (rng.random(len(c)) < p)
    # Siblings to be placed together are referred together, with one date, urgency and type.
    for i in np.flatnonzero(picked):
        if c.sibling_group[i] is not None and c.place_together[i]:
            picked |= (c.sibling_group == c.sibling_group[i]) & eligible
    chosen = np.flatnonzero(picked)
    idx = {nid: j for j, nid in enumerate(need_ids)}
    rows: list[dict[str, object]] = []
    shared: dict[object, tuple[str, str, int, int | None]] = {}
    for k, i in enumerate(chosen):
        age = c.age_months[i] / 12
        key = c.sibling_group[i] if c.sibling_group[i] is not None and c.place_together[i] else i
        if key not in shared:
            urgency = str(rng.choice(codes.URGENCY, p=[0.15, 0.35, 0.50]))
            if c.place[i] == "K2" and c.care_plan_goal[i] in ("foster", "kin"):
                ptype = "step_down"
            elif urgency == "today" and rng.random() < 0.6:
                ptype = "emergency"
            else:
                ptype = str(rng.choice(["long_term", "short_term", "respite"], p=[0.55, 0.40, 0.05]))
            # An emergency is expected to last 1-14 days: under 6 days it may go outside terms of approval.
            days = int(rng.integers(1, 15)) if ptype == "emergency" else None
            shared[key] = (urgency, ptype, snapshot_day - int(rng.integers(0, 45)), days)
        urgency, ptype, referred_on, days = shared[key]
        ro = risks_others[i]
        live = _live_alongside(ro, rng)
        sev = c.severity[i]
        wishes = [
            (text, flag) for text, flag in _WISHES if rng.random() < (0.35 if flag == "wish_near_school" else 0.15)
        ]
        row: dict[str, object] = {
            "referral_id": f"{la.la_code}-R{k + 1:05d}",
            "child_id": c.child_id[i],
            "referral_date": _iso(np.array([referred_on]))[0],
            "status": "open",
            "urgency": urgency,
            "placement_type": ptype,
            "expected_duration_weeks": -(-days // 7) if days else {"short_term": 26, "respite": 2}.get(ptype, 104),
            "expected_duration_days": days if days else "",
            "live_alongside": live,
            "risks_to_child": ";".join(risks_child[i]),
            "risks_to_others": ";".join(ro),
            "allergies": str(rng.choice(["", "cat", "dog"], p=[0.94, 0.04, 0.02])),
            "respiratory_needs": "true" if "asthma" in c.health[i] else "false",
            "communication_needs": "esol" if c.uasc[i] else ("makaton" if rng.random() < 0.02 else ""),
            "needs_adaptation": "true"
            if (
                "physical_disability_medical" in idx
                and sev[idx["physical_disability_medical"]] >= 3
                and rng.random() < 0.5
            )
            else "false",
            "dolo": "true" if (age >= 12 and c.complexity[i] > 2.0 and rng.random() < 0.2) else "false",
            "suitable_for": "foster" if c.place[i] != "K2" else "foster;residential",
            "cultural_needs": "Halal diet and support to attend mosque"
            if c.religion[i] == "muslim" and rng.random() < 0.5
            else "",
            "wishes_text": " ".join(t for t, _ in wishes),
            "emergency_outside_terms": "true" if ptype == "emergency" and rng.random() < 0.3 else "false",
            "max_distance_miles": "" if rng.random() < 0.8 else "25",
        }
        for text, flag in _WISHES:
            row[flag] = "true" if (text, flag) in wishes else "false"
        rows.append(row)
    # The children living with foster carers now were placed on a referral of their own: it records who they can
    # live alongside and the risks they pose, which newcomers to the household are judged against.
    placed = np.flatnonzero((home_of >= 0) & ~picked)
    sharing = np.bincount(home_of[home_of >= 0], minlength=int(home_of.max()) + 1 if len(home_of) else 0)
    for k, i in enumerate(placed, start=len(rows) + 1):
        ro = risks_others[i]
        start = int(c.placement_start[i])
        live = _live_alongside(ro, rng)
        if live == "solo" and sharing[home_of[i]] > 1:  # a child who must live alone lives alone
            live = "only_older"
        rows.append(
            {
                "referral_id": f"{la.la_code}-R{k:05d}",
                "child_id": c.child_id[i],
                "referral_date": _iso(np.array([start - int(rng.integers(0, 30))]))[0],
                "status": "matched",
                "urgency": str(rng.choice(codes.URGENCY, p=[0.15, 0.35, 0.50])),
                "placement_type": "long_term" if c.place[i] in ("U1", "U4") else "short_term",
                "expected_duration_weeks": 104 if c.place[i] in ("U1", "U4") else 26,
                "live_alongside": live,
                "risks_to_child": ";".join(risks_child[i]),
                "risks_to_others": ";".join(ro),
                "suitable_for": "foster",
                "respiratory_needs": "true" if "asthma" in c.health[i] else "false",
            }
        )
    cols = [col.name for col in FILES_BY_NAME["referrals"].columns]
    return pd.DataFrame(rows, columns=cols)


def _households_frame(
    la: LocalAuthority,
    hh: Households,
    prof: HouseholdProfile,
    experience: np.ndarray,
    snapshot_day: int,
    need_ids: tuple[str, ...],
) -> pd.DataFrame:
    h = len(hh)
    # The experience on record now: before approval, and the actionable needs of every child whose
    # placement there has ended (the outcome process used it as it stood on each start day).
    cared = experience
    names = np.array(need_ids, dtype=object)
    years = (snapshot_day - prof.approved_day) / 365.25
    return pd.DataFrame(
        {
            "household_id": hh.ids,
            "agency_code": hh.agency,
            "la_code": la.la_code,
            "easting": hh.east,
            "northing": hh.north,
            "status": prof.status,
            "approved_on": _iso(prof.approved_day),
            "approved_age_min": hh.age_min,
            "approved_age_max": hh.age_max,
            "approved_places": hh.places,
            "approved_placement_types": _join(prof.types),
            "max_sibling_group": hh.max_siblings,
            "usual_limit_exemption": np.where(prof.exemption, "true", "false"),
            "connected_child_ids": _join(hh.kin_for),
            "carers": prof.carers,
            "ethnicity": prof.ethnicity,
            "religion": prof.religion,
            "languages": _join(prof.languages),
            "pets": _join(prof.pets),
            "smoking": np.where(prof.smoking, "true", "false"),
            "wheelchair_accessible": np.where(prof.wheelchair, "true", "false"),
            "bedrooms_available": prof.bedrooms,
            "experience_years": np.round(years, 1),
            "experience_needs": [";".join(names[cared[k]]) for k in range(h)],
            "will_not_consider": _join(prof.wont),
            "preferred_age_min": np.where(prof.pref_min >= 0, prof.pref_min.astype(str), ""),
            "preferred_age_max": np.where(prof.pref_max >= 0, prof.pref_max.astype(str), ""),
            "support_package": _join(prof.support),
        }
    )


def _training_frame(hh: Households, prof: HouseholdProfile, taxonomy: Taxonomy) -> pd.DataFrame:
    rows, cols = np.nonzero(prof.course_done < NEVER)
    done = prof.course_done[rows, cols]
    done = np.maximum(done, prof.approved_day[rows] - 365)
    return pd.DataFrame(
        {
            "household_id": np.array(hh.ids, dtype=object)[rows],
            "course": np.array(taxonomy.course_ids, dtype=object)[cols],
            "completed_on": _iso(done),
            "expires_on": "",
        }
    )


def _placements_frame(c: ChildArrays, hh: Households, hist: History, order: np.ndarray) -> pd.DataFrame:
    end = np.array(hist.end, dtype=np.int64)[order]
    household = np.array(hist.household, dtype=np.int64)[order]
    return pd.DataFrame(
        {
            "placement_id": np.array(hist.placement_id, dtype=object)[order],
            "child_id": c.child_id[np.array(hist.child, dtype=np.int64)[order]],
            "household_id": [hh.ids[k] if k >= 0 else "" for k in household],
            "place": np.array(hist.place, dtype=object)[order],
            "place_provider": np.array(hist.provider, dtype=object)[order],
            "start_date": _iso(np.array(hist.start, dtype=np.int64)[order]),
            "end_date": np.where(end < 0, "", _iso(np.where(end < 0, 0, end))),
            "end_reason": np.array(hist.reason, dtype=object)[order],
            "distance_miles": np.array(hist.distance)[order],
        }
    )
