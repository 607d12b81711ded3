"""How well an eligible household fits: the factors of the 0-100 score, the needs met, the gaps, the warnings.

The score is the sum over factors of ``weight x value`` (value 0-1), so contributions add up to
the score exactly.  Each factor's value is defined here, per household, and the vectorised pool
computes the same numbers over many households at once (tests hold the two together).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from matching import codes
from matching.domain import CarerHousehold
from matching.eligibility.arithmetic import age_on
from matching.eligibility.request import MatchRequest
from matching.eligibility.rules import RuleOutcome, excluded_needs, sibling_clashes
from matching.fit_config import FACTORS, FitConfig
from matching.ranking.explanation import Factor, Gap, NeedMet, StabilityEstimate, Warning
from matching.taxonomy import Taxonomy
from matching.wording import counted, plural

YEARS = ("year's", "years'")  # 1 year's experience, 2 years' experience

_UNKNOWN_ETHNICITY = frozenset(codes.ETHNICITY_GROUPS["Not known"])
_NO_RELIGION = frozenset({"none", "not_known"})


@dataclass(frozen=True)
class FitAssessment:
    """Everything about one household's fit for one request."""

    factors: tuple[Factor, ...]
    needs_met: tuple[NeedMet, ...]
    gaps: tuple[Gap, ...]
    warnings: tuple[Warning, ...]
    distance_miles: float | None

    @property
    def score(self) -> float:
        """The fit score: the sum of the factor contributions."""
        return sum(f.contribution for f in self.factors)


# --- factor values (each 0-1) ------------------------------------------------------


def need_coverage(req: MatchRequest, h: CarerHousehold, taxonomy: Taxonomy) -> dict[str, tuple[float, tuple[str, ...]]]:
    """Coverage 0-1 of each of the group's needs and what provides it (current courses, experience)."""
    on = req.on  # TrainingRecord.current_on, inlined: this runs for every candidate shown
    current = {t.course for t in h.training if t.completed_on <= on and (t.expires_on is None or on < t.expires_on)}
    experience = set(h.experience_needs)
    readings = _readings(taxonomy)
    out: dict[str, tuple[float, tuple[str, ...]]] = {}
    for need in sorted(req.needs):
        reading = readings.get(need)
        if reading is None:
            out[need] = (0.0, ())
            continue
        courses, related_needs, experience_weight = reading
        best = 0.0
        sources: list[str] = []
        for course, weight in courses:
            if course in current:
                best = max(best, weight)
                sources.append(course)
        related = sorted(experience & related_needs)
        if related and experience_weight > 0:
            best = max(best, experience_weight)
            sources.extend(f"experience:{r}" for r in related)
        out[need] = (best, tuple(sources))
    return out


_READINGS: dict[int, tuple[Taxonomy, dict[str, tuple[tuple[tuple[str, float], ...], frozenset[str], float]]]] = {}


def _readings(taxonomy: Taxonomy) -> dict[str, tuple[tuple[tuple[str, float], ...], frozenset[str], float]]:
    """Each need's courses, related experience and experience weight, as plain tuples (once per taxonomy)."""
    cached = _READINGS.get(id(taxonomy))
    if cached is None or cached[0] is not taxonomy:
        table = {
            n: (tuple(d.courses.items()), frozenset(d.experience), d.experience_weight)
            for n, d in taxonomy.needs.items()
        }
        cached = _READINGS[id(taxonomy)] = (taxonomy, table)
    return cached[1]


def needs_value(req: MatchRequest, coverage: dict[str, tuple[float, tuple[str, ...]]]) -> float:
    """Severity-weighted mean coverage of the group's needs: 1.0 when assessed with none, 0.0 when not known
    (no assessment on record for a child of the group: an unknown cannot be shown to be met)."""
    if not req.needs_known:
        return 0.0
    needs = req.needs
    total = sum(needs.values())
    if total == 0:
        return 1.0
    return sum(sev * coverage[n][0] for n, sev in needs.items()) / total


def locality_shares(req: MatchRequest, cfg: FitConfig) -> tuple[float, float, float]:
    """Shares of home, school and in-area in the locality factor, after the child's wishes.

    No school recorded: the school share goes to home.  "I want to stay at my school" moves
    ``wish_shift`` from home to school; "I want to live near my family" moves it back.
    """
    s = cfg.locality
    home, school = s.home, s.school
    wishes = req.referral.wishes
    if req.child.school is None:
        return home + school, 0.0, s.in_area
    if wishes.near_school and not wishes.near_family:
        shift = min(s.wish_shift, home)
        home, school = home - shift, school + shift
    elif wishes.near_family and not wishes.near_school:
        shift = min(s.wish_shift, school)
        home, school = home + shift, school - shift
    return home, school, s.in_area


def identity_shares(req: MatchRequest, cfg: FitConfig) -> tuple[float, float, float]:
    """Shares of ethnicity, religion and language in the identity factor, after the child's wishes."""
    s = cfg.identity
    eth, rel, lang = s.ethnicity, s.religion, s.language
    wishes = req.referral.wishes
    if wishes.same_religion:
        shift = min(s.wish_shift, eth)
        eth, rel = eth - shift, rel + shift
    if wishes.same_language:
        shift = min(s.wish_shift, eth)
        eth, lang = eth - shift, lang + shift
    return eth, rel, lang


def locality_value(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> tuple[float, float | None, float | None]:
    """Locality 0-1, with the miles from home and the miles to the current school (None when unknown)."""
    s = cfg.locality
    home_w, school_w, in_area_w = locality_shares(req, cfg)
    child = req.child
    d_home = child.home.miles_to(h.location) if child.home is not None else None
    d_school = child.school.miles_to(h.location) if child.school is not None else None
    home_part = 0.5 if d_home is None else max(0.0, 1.0 - d_home / s.home_zero_miles)
    school_part = 0.0
    if d_school is not None:
        span = s.school_zero_miles - s.school_full_miles
        school_part = (
            1.0 if d_school <= s.school_full_miles else max(0.0, 1.0 - (d_school - s.school_full_miles) / span)
        )
    in_area = 1.0 if h.la_code == child.la_code else 0.0
    return home_w * home_part + school_w * school_part + in_area_w * in_area, d_home, d_school


def identity_value(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> float:
    """Identity 0-1: ethnicity, religion and language, given due consideration (never a bar)."""
    child = req.child
    if child.ethnicity in _UNKNOWN_ETHNICITY or child.ethnicity == h.ethnicity:
        eth = 1.0
    elif h.ethnicity is not None and codes.ETHNIC_TO_GROUP.get(h.ethnicity) == child.ethnicity_group:
        eth = 0.7
    else:
        eth = 0.0
    rel = 1.0 if child.religion in _NO_RELIGION or child.religion == h.religion else 0.0
    lang = 1.0 if set(child.first_languages) & set(h.languages) else 0.0
    eth_w, rel_w, lang_w = identity_shares(req, cfg)
    return eth_w * eth + rel_w * rel + lang_w * lang


def household_fit_value(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> float:
    """Household fit 0-1: age gap to the other children, the carers' preferred ages, bedrooms."""
    s = cfg.household_fit
    others = [age_on(m.birth_month, req.on) for m in h.children_living_there(req.on)]
    ages = req.ages
    if others:
        gap = min(abs(a - o) for a in ages for o in others)
        gap_part = min(1.0, gap / s.age_gap_full_years)
    else:
        gap_part = 1.0
    lo, hi = h.preferred_age_min, h.preferred_age_max
    pref = 1.0 if lo is None or hi is None or all(lo <= a <= hi for a in ages) else 0.0
    beds = min(1.0, h.bedrooms_available / req.group_size)
    return s.age_gap * gap_part + s.preferred_age * pref + s.bedrooms * beds


def track_record_value(h: CarerHousehold, cfg: FitConfig) -> float:
    """Track record 0-1: past unplanned endings (shrunk to the prior) and years of experience."""
    s = cfg.track_record
    rate = (h.track_record.unplanned_within_12_months + s.prior_unplanned_rate * s.prior_strength) / (
        h.track_record.ended + s.prior_strength
    )
    endings = min(1.0, max(0.0, 1.0 - rate / (2 * s.prior_unplanned_rate)))
    experience = min(1.0, h.experience_years / s.experience_full_years)
    return (1 - s.experience) * endings + s.experience * experience


# --- the assessment ----------------------------------------------------------------


def score(req: MatchRequest, h: CarerHousehold, cfg: FitConfig, taxonomy: Taxonomy) -> float:
    """The fit score alone (exactly ``assess(...).score``: the same terms summed in the same order)."""
    w = cfg.weights
    values = {
        "needs": needs_value(req, need_coverage(req, h, taxonomy)),
        "locality": locality_value(req, h, cfg)[0],
        "household_fit": household_fit_value(req, h, cfg),
        "track_record": track_record_value(h, cfg),
        "identity": identity_value(req, h, cfg),
    }
    return sum(w[name] * values[name] if name in values else 0.0 for name in FACTORS)


def assess(
    req: MatchRequest,
    h: CarerHousehold,
    cfg: FitConfig,
    taxonomy: Taxonomy,
    rules: list[RuleOutcome] | tuple[RuleOutcome, ...] = (),
    stability: StabilityEstimate | None = None,
    model_note: str | None = None,
) -> FitAssessment:
    """The full fit of one household: factors, needs met, gaps and warnings (and the learned estimate, if any;
    without one, ``model_note`` says why: none loaded, or withheld by the gate)."""
    coverage = need_coverage(req, h, taxonomy)
    nv = needs_value(req, coverage)
    loc, d_home, d_school = locality_value(req, h, cfg)
    ident = identity_value(req, h, cfg)
    fit = household_fit_value(req, h, cfg)
    track = track_record_value(h, cfg)
    met_n = sum(1 for c, _ in coverage.values() if c >= taxonomy.met_threshold)
    values: dict[str, tuple[float | None, str]] = {
        "needs": (
            (
                nv,
                f"meets {met_n} of {len(coverage)} needs ({nv:.0%} severity-weighted coverage)"
                if coverage
                else "assessed with no needs to meet",
            )
            if req.needs_known
            else (None, _unassessed_detail(req))
        ),
        "locality": (loc, _locality_detail(d_home, d_school, h.la_code == req.child.la_code)),
        "household_fit": (fit, f"household fit {fit:.0%} (other children's ages, preferences, bedrooms)"),
        "track_record": (
            track,
            f"{counted(h.track_record.ended, 'past placement')}, {h.track_record.unplanned_within_12_months} "
            f"ended unplanned within a year; {h.experience_years:g} {plural(h.experience_years, YEARS[0], YEARS[1])} experience",
        ),
        "identity": (ident, f"identity match {ident:.0%} (ethnicity, religion, language)"),
        "stability": (None, model_note or "no stability model loaded: rules-only ranking")
        if stability is None
        else (stability.p_lasting, stability.describe()),
    }
    weights = cfg.weights
    factors = tuple([_factor(name, weights[name], *values[name]) for name in FACTORS])
    needs_met = tuple(
        NeedMet(
            n, taxonomy.needs[n].label if n in taxonomy.needs else n, req.needs[n], c, c >= taxonomy.met_threshold, by
        )
        for n, (c, by) in coverage.items()
    )
    return FitAssessment(
        factors, needs_met, _gaps(req, h, coverage, taxonomy), _warnings(req, h, cfg, d_home, d_school, rules), d_home
    )


def _unassessed_detail(req: MatchRequest) -> str:
    who = "the child" if req.unassessed == (req.child.child_id,) else ", ".join(req.unassessed)
    return f"not known: no assessment of needs on record for {who}, so no points until they are assessed"


def _factor(name: str, weight: float, value: float | None, detail: str) -> Factor:
    return Factor(name, weight, value, 0.0 if value is None else weight * value, detail)


def _locality_detail(d_home: float | None, d_school: float | None, in_area: bool) -> str:
    parts = ["home location not known" if d_home is None else f"{d_home:.1f} miles from home"]
    if d_school is not None:
        parts.append(f"{d_school:.1f} miles to school")
    parts.append("inside the child's LA" if in_area else "outside the child's LA")
    return ", ".join(parts)


def _gaps(
    req: MatchRequest, h: CarerHousehold, coverage: dict[str, tuple[float, tuple[str, ...]]], taxonomy: Taxonomy
) -> tuple[Gap, ...]:
    gaps: list[Gap] = []
    held = {t.course: t for t in sorted(h.training, key=lambda t: t.completed_on)}
    for need, (cov, _) in coverage.items():
        if cov >= taxonomy.met_threshold or need not in taxonomy.needs:
            continue
        course = taxonomy.best_course(need)
        label = taxonomy.courses[course].label
        record = held.get(course)
        if record is not None and record.expires_on is not None and record.expires_on <= req.on:
            action = (
                f"Renew '{label}' (expired {record.expires_on.isoformat()}) for {taxonomy.needs[need].label.lower()}."
            )
        else:
            action = f"Complete '{label}' for {taxonomy.needs[need].label.lower()}."
        gaps.append(Gap("training", need, action))
        if req.needs[need] >= 3 and "therapeutic_support" not in h.support_package:
            gaps.append(
                Gap(
                    "support", need, f"Therapeutic support for the carers: severe {taxonomy.needs[need].label.lower()}."
                )
            )
    comm = set(req.referral.communication_needs)
    for need, what in (("bsl", "British Sign Language"), ("makaton", "Makaton"), ("pecs", "PECS")):
        if need in comm and need not in h.languages:
            gaps.append(Gap("communication", None, f"{what}: training for the carers or an interpreter."))
    if not set(req.child.first_languages) & set(h.languages) or "esol" in comm:
        spoken = "/".join(req.child.first_languages) or "the child's language"
        if not set(req.child.first_languages) & set(h.languages):
            gaps.append(Gap("communication", None, f"An interpreter and ESOL support ({spoken} not spoken at home)."))
    if req.referral.cultural_needs:
        gaps.append(Gap("identity", None, f"Plan for the child's cultural needs: {req.referral.cultural_needs}"))
    return tuple(gaps)


def _warnings(
    req: MatchRequest,
    h: CarerHousehold,
    cfg: FitConfig,
    d_home: float | None,
    d_school: float | None,
    rules: list[RuleOutcome] | tuple[RuleOutcome, ...],
) -> tuple[Warning, ...]:
    w = cfg.warnings
    out: list[Warning] = []
    outside = [r for r in rules if r.outside_terms]
    if outside:
        out.append(
            Warning(
                "emergency_outside_terms",
                "Emergency placement outside terms of approval ("
                + "; ".join(r.reason for r in outside)
                + f") for under {cfg.rules.emergency_outside_terms_days} days only (Fostering Services Regs reg 27).",
            )
        )
    for clash in sibling_clashes(req):
        out.append(
            Warning(
                "sibling_restriction",
                f"{clash.sentence()} The care plan places them together: the officer must confirm it.",
            )
        )
    mild = excluded_needs(req, h, cfg, mild=True)
    if mild:
        out.append(
            Warning(
                "carer_exclusion_mild",
                "The carers said they will not consider "
                + ", ".join(m.replace("_", " ") for m in mild)
                + ": rated mild here; ask them before proposing.",
            )
        )
    if not req.needs_known:
        out.append(
            Warning(
                "needs_not_assessed",
                f"Needs not known ({', '.join(req.unassessed)}: no assessment on record): nothing here shows the "
                "carers can meet them; assess before proposing.",
            )
        )
    if d_home is None:
        out.append(Warning("home_unknown", "The child's home location is not recorded: distance not checked."))
    elif d_home > w.long_distance_miles:
        out.append(Warning("long_distance", f"{d_home:.0f} miles from home (over {w.long_distance_miles:g})."))
    if d_school is not None and d_school > w.school_move_miles:
        out.append(Warning("school_move", f"{d_school:.0f} miles from the child's school: a school move is likely."))
    if h.la_code != req.child.la_code:
        out.append(Warning("out_of_area", "Outside the child's local authority area."))
    child_group = req.child.ethnicity_group
    carer_group = codes.ETHNIC_TO_GROUP.get(h.ethnicity or "", "Not known")
    if child_group != "Not known" and carer_group not in ("Not known", child_group):
        out.append(
            Warning(
                "trans_cultural",
                "A trans-cultural placement: the plan should set out how the child's "
                "identity, culture and heritage will be supported.",
            )
        )
    wishes = req.referral.wishes
    if wishes.near_school and d_school is not None and d_school > w.school_move_miles:
        out.append(Warning("wish_not_met", "The child asked to stay at their school."))
    if wishes.near_family and d_home is not None and d_home > w.long_distance_miles:
        out.append(Warning("wish_not_met", "The child asked to live near their family."))
    if wishes.same_religion and req.child.religion not in _NO_RELIGION and req.child.religion != h.religion:
        out.append(Warning("wish_not_met", "The child asked for carers who share their faith."))
    if wishes.same_language and not set(req.child.first_languages) & set(h.languages):
        out.append(Warning("wish_not_met", "The child asked for carers who speak their language."))
    if wishes.pets and not h.pets:
        out.append(Warning("wish_not_met", "The child would like a home with pets."))
    if math.isfinite(h.experience_years) and h.experience_years < 1:
        out.append(Warning("new_carers", "Carers approved less than a year ago: check support and TSD progress."))
    return tuple(out)
