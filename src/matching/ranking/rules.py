"""Eligibility rules: may this household be considered for this child at all?

Each rule is a named function of a :class:`MatchRequest`, a :class:`CarerHousehold` and the
settings, returning a :class:`RuleOutcome` with a reason code and one plain-English sentence.
These functions are the specification: the vectorised pool (:mod:`matching.ranking.pool`) must
agree with them exactly, and a property test holds it to that.

An emergency placement expected to last under 6 days may go outside the household's terms of
approval when the referral says so (Fostering Services Regs 2011 reg 27); the rules about terms
then pass but are marked ``outside_terms``.  Nothing else can be waived.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from matching.domain import CarerHousehold
from matching.domain.referral import ACTIONABLE
from matching.fit_config import FitConfig
from matching.ranking.request import MatchRequest, month_index


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """The verdict of one rule on one household."""

    code: str
    passed: bool
    reason: str
    outside_terms: bool = False


Rule = Callable[[MatchRequest, CarerHousehold, FitConfig], RuleOutcome]


def emergency_outside_terms(req: MatchRequest) -> bool:
    """True when the referral allows an emergency placement (< 6 days) outside terms of approval."""
    return req.referral.placement_type == "emergency" and req.referral.emergency_outside_terms


def _terms(code: str, ok: bool, req: MatchRequest, reason_fail: str, reason_ok: str) -> RuleOutcome:
    if ok:
        return RuleOutcome(code, True, reason_ok)
    if emergency_outside_terms(req):
        return RuleOutcome(
            code,
            True,
            f"Outside terms of approval ({reason_fail[0].lower()}{reason_fail[1:]}); "
            "allowed for an emergency placement of under 6 days.",
            outside_terms=True,
        )
    return RuleOutcome(code, False, reason_fail)


def household_active(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Only active households take new placements (not on hold or deregistered)."""
    ok = h.status == "active"
    return RuleOutcome(
        "not_active", ok, "The household is active." if ok else f"The household is {h.status.replace('_', ' ')}."
    )


def connected_person(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """A kinship household is approved for its named children only."""
    if not h.is_kinship:
        return RuleOutcome("connected_person_only", True, "Mainstream carers: not limited to named children.")
    ok = all(c.child_id in h.terms.connected_child_ids for c in req.group)
    return RuleOutcome(
        "connected_person_only",
        ok,
        "Approved as connected persons for this child."
        if ok
        else "Approved as connected persons (family and friends) for named children only.",
    )


def setting(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """The referral must consider foster care."""
    ok = "foster" in req.referral.suitable_for
    return RuleOutcome(
        "setting",
        ok,
        "The referral considers foster care." if ok else "The referral asks for a setting other than foster care.",
    )


def terms_age(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Every child placed must be within the approved age range."""
    ages = req.ages
    ok = all(h.terms.covers_age(a) for a in ages)
    shown = ", ".join(str(a) for a in ages)
    return _terms(
        "terms_age",
        ok,
        req,
        f"Approved for ages {h.terms.age_min}-{h.terms.age_max}; the child"
        f"{'ren are' if len(ages) > 1 else ' is'} {shown}.",
        f"Approved for ages {h.terms.age_min}-{h.terms.age_max}.",
    )


def terms_placement_type(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """The placement type asked for must be one the household is approved for."""
    wanted = req.referral.placement_type
    ok = wanted in h.terms.placement_types
    label = wanted.replace("_", " ")
    return _terms(
        "terms_placement_type", ok, req, f"Not approved for {label} placements.", f"Approved for {label} placements."
    )


def terms_places(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """The household must be approved for at least as many children as are to be placed."""
    ok = h.terms.places >= req.group_size
    return _terms(
        "terms_places",
        ok,
        req,
        f"Approved for {h.terms.places} child{'ren' if h.terms.places != 1 else ''}; {req.group_size} to be placed.",
        f"Approved for {h.terms.places} children.",
    )


def vacancy(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """There must be a free place for every child to be placed."""
    free = h.terms.places - h.foster_children_count
    ok = free >= req.group_size
    return RuleOutcome(
        "vacancy",
        ok,
        f"{free} vacanc{'y' if free == 1 else 'ies'}."
        if ok
        else f"{max(free, 0)} vacanc{'y' if free == 1 else 'ies'}; {req.group_size} needed.",
    )


def usual_limit(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """At most 3 foster children unless they are all siblings or the LA granted an exemption (Sch 7)."""
    after = h.foster_children_count + req.group_size
    limit = cfg.rules.usual_fostering_limit
    all_siblings = h.foster_children_count == 0 and req.group_size > 1
    ok = after <= limit or all_siblings or h.terms.usual_limit_exemption
    return RuleOutcome(
        "usual_limit",
        ok,
        "Within the usual fostering limit."
        if ok
        else f"Would make {after} foster children, over the usual limit of {limit}, without an exemption.",
    )


def sibling_group(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """A sibling group to be placed together must fit the household's approval for sibling groups."""
    if req.group_size == 1:
        return RuleOutcome("sibling_group", True, "A single child.")
    ok = h.terms.max_sibling_group >= req.group_size
    return _terms(
        "sibling_group",
        ok,
        req,
        f"Approved for sibling groups of up to {h.terms.max_sibling_group}; "
        f"{req.group_size} siblings to place together.",
        "Can take the whole sibling group together.",
    )


def live_alongside(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Who the child can live alongside vs the children already in the household."""
    mode = req.referral.live_alongside
    others = h.children_living_there(req.on)
    if mode == "any" or not others:
        return RuleOutcome(
            "live_alongside",
            True,
            "No restriction on who the child lives alongside."
            if mode == "any"
            else "No other children in the household.",
        )
    me = req.age
    ages = [_age(m.birth_month, req) for m in others]
    if mode == "solo":
        return RuleOutcome(
            "live_alongside",
            False,
            f"The child must live as the only child; {len(others)} other "
            f"child{'ren live' if len(others) > 1 else ' lives'} there.",
        )
    if mode == "only_older":
        ok = all(a > me for a in ages)
        return RuleOutcome(
            "live_alongside",
            ok,
            "All other children are older."
            if ok
            else "The child can live only with older children; a child of the same age or younger lives there.",
        )
    ok = all(a < me for a in ages)
    return RuleOutcome(
        "live_alongside",
        ok,
        "All other children are younger."
        if ok
        else "The child can live only with younger children; a child of the same age or older lives there.",
    )


def risks_to_others(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Risks the child poses to others vs the ages of the children already there."""
    risks = set(req.referral.risks_to_others)
    others = h.children_living_there(req.on)
    ages = [_age(m.birth_month, req) for m in others]
    if "sexual_harm" in risks and any(a < req.age for a in ages):
        return RuleOutcome("risk_to_others", False, "A risk of sexual harm to others, and a younger child lives there.")
    if "physical_harm" in risks and any(a < 5 for a in ages):
        return RuleOutcome(
            "risk_to_others", False, "A risk of physical harm to others, and a child under 5 lives there."
        )
    return RuleOutcome("risk_to_others", True, "No conflict between risks to others and the children there.")


def carer_exclusions(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Needs or risks the carers have said they will not consider are respected, not overridden."""
    asked = {n for n, s in req.needs.items() if s >= ACTIONABLE}
    asked |= set(req.referral.risks_to_child) | set(req.referral.risks_to_others)
    clash = sorted(asked & set(h.will_not_consider))
    return RuleOutcome(
        "carer_exclusions",
        not clash,
        "Nothing the carers will not consider."
        if not clash
        else f"The carers will not consider: {', '.join(c.replace('_', ' ') for c in clash)}.",
    )


def pets(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Pets vs the child's allergies and any risk of harm to animals."""
    allergic = sorted(set(req.referral.allergies) & set(h.pets))
    if allergic:
        return RuleOutcome("pets", False, f"The child is allergic to {', '.join(allergic)}s kept there.")
    if "harm_to_animals" in req.referral.risks_to_others and h.pets:
        return RuleOutcome("pets", False, "A risk of harm to animals, and the household keeps pets.")
    return RuleOutcome("pets", True, "No conflict with pets.")


def smoking(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """No smoking household for a child under 5, with respiratory needs, or with a disability."""
    if not h.smoking:
        return RuleOutcome("smoking", True, "A non-smoking household.")
    young = any(a < 5 for a in req.ages)
    ok = not (young or req.referral.respiratory_needs or any(c.disability for c in req.group))
    return RuleOutcome(
        "smoking",
        ok,
        "A smoking household, acceptable for this child."
        if ok
        else "A smoking household: not for a child under 5, with respiratory needs or a disability.",
    )


def accessibility(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """A child who needs an adapted home needs a wheelchair-accessible household."""
    ok = not req.referral.needs_adaptation or h.wheelchair_accessible
    return RuleOutcome(
        "accessibility",
        ok,
        "Accessibility needs are met."
        if ok
        else "The child needs an adapted home; this one is not wheelchair accessible.",
    )


def distance(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Within the maximum distance from home (the referral's, else the configured default)."""
    limit = req.referral.max_distance_miles or cfg.rules.max_distance_miles
    if req.child.home is None:
        return RuleOutcome("distance", True, "Home location not known: distance not checked.")
    miles = req.child.home.miles_to(h.location)
    de = h.location.easting - req.child.home.easting
    dn = h.location.northing - req.child.home.northing
    ok = float(de * de + dn * dn) <= (limit * 1609.3) ** 2  # squared metres: no rounding at the limit
    return RuleOutcome(
        "distance",
        ok,
        f"{miles:.1f} miles from home." if ok else f"{miles:.1f} miles from home, beyond the {limit:g}-mile limit.",
    )


def deprivation_of_liberty(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """A child under a deprivation of liberty order needs therapeutic and out-of-hours support."""
    if not req.referral.dolo:
        return RuleOutcome("dolo", True, "No deprivation of liberty order.")
    need = {"therapeutic_support", "out_of_hours"}
    ok = need <= set(h.support_package)
    return RuleOutcome(
        "dolo",
        ok,
        "Therapeutic and out-of-hours support in place for a DoLO."
        if ok
        else "A deprivation of liberty order needs therapeutic and out-of-hours support around the carers.",
    )


#: Every rule, in the order reasons are reported.
RULES: tuple[Rule, ...] = (
    household_active,
    connected_person,
    setting,
    terms_age,
    terms_placement_type,
    terms_places,
    vacancy,
    usual_limit,
    sibling_group,
    live_alongside,
    risks_to_others,
    carer_exclusions,
    pets,
    smoking,
    accessibility,
    distance,
    deprivation_of_liberty,
)
RULE_CODES: tuple[str, ...] = (
    "not_active", "connected_person_only", "setting", "terms_age", "terms_placement_type", "terms_places", "vacancy",
    "usual_limit", "sibling_group", "live_alongside", "risk_to_others", "carer_exclusions", "pets", "smoking",
    "accessibility", "distance", "dolo",
)  # fmt: skip


def evaluate(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> list[RuleOutcome]:
    """Every rule's verdict on one household, in rule order."""
    return [rule(req, h, cfg) for rule in RULES]


def _age(birth_month: date, req: MatchRequest) -> int:
    return (month_index(req.on) - month_index(birth_month)) // 12
