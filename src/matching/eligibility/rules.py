"""Eligibility rules: may this household be considered for these children at all?

Each rule is a named function of a :class:`MatchRequest`, a :class:`CarerHousehold` and the
settings, returning a :class:`RuleOutcome` with a reason code and one plain-English sentence.
These functions are the specification: the vectorised columns (:mod:`matching.eligibility.columns`)
must agree with them exactly, and property tests hold them to that.

**Every child is judged on their own referral.**  A per-child rule (terms of approval for age
and placement type, the referral's setting, carers' exclusions, pets and allergies, smoking,
accessibility, distance, a deprivation of liberty order, connected persons) passes only if it
passes for every child of a sibling group, each with their own referral.  Group rules (the
number of places, the vacancy, the usual fostering limit, the approval for sibling groups) judge
the group as a whole.

**Who can live together works both ways.**  The children to be placed are judged against the
children living there (``live_alongside``, ``risk_to_others``), and the children living there
against them (``resident_restrictions``).  Within a sibling group the care plan's "place together"
stands: a restriction between siblings passes with a warning naming both children
(:func:`sibling_clashes`), for the officer to confirm.

**Emergency outside terms** (Fostering Services Regs 2011 reg 27 / Care Planning Regs 2010):
a child's own referral may allow an emergency placement outside the household's terms of
approval only when its expected stay is under ``emergency_outside_terms_days`` days (6 by
default).  Only the age range and the placement type may be waived for that child; the approval
for sibling groups only when every child's referral allows it and no other child lives there,
since the terms on the number of children protect the children already in the household.  The
number of places is never waived (the vacancy counts from it).  Nothing else can be waived.

The household is judged as it would be without the group's own children (a child being moved on
from a household is not judged against themselves, and their own place counts as free).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from matching.domain import CarerHousehold, Child, HouseholdMember, Referral
from matching.eligibility.arithmetic import METRES_PER_MILE, age_on, beyond_miles
from matching.eligibility.request import MatchRequest
from matching.eligibility.together import Clash, Occupant, clashes
from matching.fit_config import FitConfig
from matching.wording import counted


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """The verdict of one rule on one household."""

    code: str
    passed: bool
    reason: str
    outside_terms: bool = False


Rule = Callable[[MatchRequest, CarerHousehold, FitConfig], RuleOutcome]

#: Terms on the number of children that may be waived in an emergency only into a household with no other child.
#: (The number of places is never waived: the vacancy counts from it, and a vacancy is never waived.)
NUMBER_TERMS = ("sibling_group",)
#: Rules about one child's terms of approval that one child's emergency allowance may waive.
CHILD_TERMS = ("terms_age", "terms_placement_type")


def emergency_outside_terms(referral: Referral, cfg: FitConfig) -> bool:
    """True when this referral allows an emergency placement outside terms of approval: it asks for an
    emergency placement, says so, and expects a stay under the configured days (6: "under 6 days")."""
    stay = referral.expected_stay_days
    return (
        referral.placement_type == "emergency"
        and referral.emergency_outside_terms
        and stay is not None
        and stay < cfg.rules.emergency_outside_terms_days
    )


def group_outside_terms(req: MatchRequest, cfg: FitConfig) -> bool:
    """True when every child's own referral allows an emergency placement outside terms."""
    return all(emergency_outside_terms(r, cfg) for r in req.referrals)


def residents(req: MatchRequest, h: CarerHousehold) -> tuple[HouseholdMember, ...]:
    """The children living in ``h`` on the placement date, other than the group's own children."""
    return tuple(m for m in h.children_living_there(req.on) if m.member_id not in req.child_ids)


def fostered_others(req: MatchRequest, h: CarerHousehold) -> int:
    """Foster children living in ``h`` other than the group's own children."""
    return h.foster_children_count - sum(1 for m in h.foster_children if m.member_id in req.child_ids)


def _who(req: MatchRequest, child: Child) -> str:
    return "The child" if req.group_size == 1 else child.child_id


def _first_failing(
    req: MatchRequest, check: Callable[[Child, Referral], str | None]
) -> tuple[Child, Referral, str] | None:
    """The first child of the group (with their referral and the reason) for whom ``check`` finds a problem."""
    for child, ref in req.members:
        why = check(child, ref)
        if why is not None:
            return child, ref, why
    return None


def _per_child_terms(
    code: str, req: MatchRequest, cfg: FitConfig, check: Callable[[Child, Referral], str | None], ok_reason: str
) -> RuleOutcome:
    """A term of approval judged child by child, each child's own emergency allowance waiving it for them only."""
    waived: list[str] = []
    for child, ref in req.members:
        why = check(child, ref)
        if why is None:
            continue
        if not emergency_outside_terms(ref, cfg):
            return RuleOutcome(code, False, why)
        waived.append(why)
    if waived:
        return RuleOutcome(
            code,
            True,
            "Outside terms of approval ("
            + "; ".join(w[0].lower() + w[1:].rstrip(".") for w in waived)
            + f"); allowed for an emergency placement of under {cfg.rules.emergency_outside_terms_days} days.",
            outside_terms=True,
        )
    return RuleOutcome(code, True, ok_reason)


def _group_terms(
    code: str, req: MatchRequest, h: CarerHousehold, cfg: FitConfig, ok: bool, why: str, ok_reason: str
) -> RuleOutcome:
    """A term about the number of children: waived in an emergency only for every child and an empty household."""
    if ok:
        return RuleOutcome(code, True, ok_reason)
    if group_outside_terms(req, cfg) and not residents(req, h):
        return RuleOutcome(
            code,
            True,
            f"Outside terms of approval ({why[0].lower()}{why[1:].rstrip('.')}); allowed for an emergency placement of "
            f"under {cfg.rules.emergency_outside_terms_days} days with no other child in the household.",
            outside_terms=True,
        )
    return RuleOutcome(code, False, why)


def household_active(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Only active households take new placements (not on hold or deregistered)."""
    ok = h.status == "active"
    return RuleOutcome(
        "not_active", ok, "The household is active." if ok else f"The household is {h.status.replace('_', ' ')}."
    )


def current_home(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """A referral asks for a placement elsewhere: the household where a child of the group lives now is not one."""
    here = sorted(m.member_id for m in h.foster_children if m.member_id in req.child_ids)
    if not here:
        return RuleOutcome("current_home", True, "Not where the child lives now.")
    return RuleOutcome("current_home", False, f"{', '.join(here)} live{'s' if len(here) == 1 else ''} here now.")


def connected_person(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """A kinship household is approved for its named children only: every child placed must be named."""
    if not h.is_kinship:
        return RuleOutcome("connected_person_only", True, "Mainstream carers: not limited to named children.")
    missing = [c.child_id for c in req.group if c.child_id not in h.terms.connected_child_ids]
    if not missing:
        return RuleOutcome("connected_person_only", True, "Approved as connected persons for this child.")
    who = "" if req.group_size == 1 else f" ({', '.join(missing)} not named)"
    return RuleOutcome(
        "connected_person_only",
        False,
        f"Approved as connected persons (family and friends) for named children only{who}.",
    )


def setting(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Every child's referral must consider foster care."""
    bad = _first_failing(req, lambda c, r: None if "foster" in r.suitable_for else "other")
    if bad is None:
        return RuleOutcome("setting", True, "The referral considers foster care.")
    return RuleOutcome(
        "setting",
        False,
        "The referral asks for a setting other than foster care."
        if req.group_size == 1
        else f"{bad[0].child_id}'s referral asks for a setting other than foster care.",
    )


def terms_age(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Every child placed must be within the approved age range (each child's own emergency allowance aside)."""
    t = h.terms

    def check(child: Child, ref: Referral) -> str | None:
        age = age_on(child.birth_month, req.on)
        if t.covers_age(age):
            return None
        return (
            f"Approved for ages {t.age_min}-{t.age_max}; {_who(req, child).replace('The child', 'the child')} is {age}."
        )

    return _per_child_terms("terms_age", req, cfg, check, f"Approved for ages {t.age_min}-{t.age_max}.")


def terms_placement_type(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """The placement type each child's referral asks for must be one the household is approved for."""

    def check(child: Child, ref: Referral) -> str | None:
        if ref.placement_type in h.terms.placement_types:
            return None
        label = ref.placement_type.replace("_", " ")
        who = "" if req.group_size == 1 else f" ({child.child_id})"
        return f"Not approved for {label} placements{who}."

    label = ", ".join(sorted({r.placement_type.replace("_", " ") for r in req.referrals}))
    return _per_child_terms("terms_placement_type", req, cfg, check, f"Approved for {label} placements.")


def terms_places(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """The household must be approved for at least as many children as are to be placed (never waived)."""
    p, g = h.terms.places, req.group_size
    return RuleOutcome(
        "terms_places",
        p >= g,
        f"Approved for {counted(p, 'child')}." if p >= g else f"Approved for {counted(p, 'child')}; {g} to be placed.",
    )


def vacancy(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """There must be a free place for every child to be placed."""
    free = h.terms.places - fostered_others(req, h)
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
    fostered = fostered_others(req, h)
    after = fostered + req.group_size
    limit = cfg.rules.usual_fostering_limit
    all_siblings = fostered == 0 and req.group_size > 1
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
    m, g = h.terms.max_sibling_group, req.group_size
    return _group_terms(
        "sibling_group",
        req,
        h,
        cfg,
        m >= g,
        f"Approved for sibling groups of up to {m}; {g} siblings to place together.",
        "Can take the whole sibling group together.",
    )


def _resident_occupant(m: HouseholdMember) -> Occupant:
    return Occupant(m.member_id, m.birth_month, m.live_alongside, m.risks_to_others)


def _newcomer_clashes(req: MatchRequest, h: CarerHousehold, rule: str) -> list[Clash]:
    """Clashes where a child of the group holds a limit of ``rule`` that rules out a child living there."""
    others = [(m.member_id, age_on(m.birth_month, req.on)) for m in residents(req, h)]
    if not others:
        return []
    return [
        Clash(me.child_id, lim, who, age)
        for me, limits in zip(req.occupants, req.limits, strict=True)
        for lim in limits
        if lim.rule == rule
        for who, age in others
        if lim.forbids(age)
    ]


def _clash_outcome(code: str, found: list[Clash], ok_reason: str) -> RuleOutcome:
    if not found:
        return RuleOutcome(code, True, ok_reason)
    return RuleOutcome(code, False, " ".join(dict.fromkeys(c.sentence() for c in found)))


def live_alongside(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Who each child can live alongside, against the children already living there."""
    return _clash_outcome(
        "live_alongside",
        _newcomer_clashes(req, h, "live_alongside"),
        "No restriction on who the child lives alongside is broken by the children there.",
    )


def risks_to_others(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Risks each child poses to others, against the ages of the children already living there."""
    return _clash_outcome(
        "risk_to_others",
        _newcomer_clashes(req, h, "risk_to_others"),
        "No conflict between risks to others and the children there.",
    )


def resident_restrictions(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """The restrictions and risks of the children already living there, against each child to be placed."""
    found = []
    for m in residents(req, h):
        them = _resident_occupant(m)
        if not them.restricts:
            continue
        for lim in them.limits(req.on):
            found += [
                Clash(them.child_id, lim, c.child_id, a)
                for c, a in zip(req.group, req.ages, strict=True)
                if lim.forbids(a)
            ]
    return _clash_outcome(
        "resident_restrictions", found, "No restriction of a child living there rules these children out."
    )


def sibling_clashes(req: MatchRequest) -> list[Clash]:
    """Restrictions between children of the group itself: the care plan places them together, so these are
    not a bar but a warning for the officer to confirm (each names both children and the restriction)."""
    occ = req.occupants
    out: list[Clash] = []
    for i in range(len(occ)):
        for j in range(i + 1, len(occ)):
            out += clashes(occ[i], occ[j], req.on)
    return out


def excluded_needs(req: MatchRequest, h: CarerHousehold, cfg: FitConfig, *, mild: bool = False) -> list[str]:
    """What the carers said they will not consider that a child of the group has: needs at or above the configured
    severity (every recorded severity by default) and the risks on each child's referral; with ``mild``, only the
    needs below that severity (shown as a warning when the configuration allows them)."""
    wont = set(h.will_not_consider)
    if not wont:
        return []
    floor = cfg.rules.carer_exclusions_from_severity
    found: set[str] = set()
    for ref in req.referrals:
        for need, sev in ref.needs.severities.items():
            if sev > 0 and (sev < floor if mild else sev >= floor):
                found.add(need)
        if not mild:
            found |= set(ref.risks_to_child) | set(ref.risks_to_others)
    return sorted(found & wont)


def carer_exclusions(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Needs or risks the carers have said they will not consider are respected, not overridden, at any severity."""
    clash = excluded_needs(req, h, cfg)
    return RuleOutcome(
        "carer_exclusions",
        not clash,
        "Nothing the carers will not consider."
        if not clash
        else f"The carers will not consider: {', '.join(c.replace('_', ' ') for c in clash)}.",
    )


def pets(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Pets against each child's allergies and any risk of harm to animals."""
    for child, ref in req.members:
        allergic = sorted(set(ref.allergies) & set(h.pets))
        who = _who(req, child)
        if allergic:
            return RuleOutcome("pets", False, f"{who} is allergic to {', '.join(allergic)}s kept there.")
        if "harm_to_animals" in ref.risks_to_others and h.pets:
            return RuleOutcome("pets", False, f"{who}: a risk of harm to animals, and the household keeps pets.")
    return RuleOutcome("pets", True, "No conflict with pets.")


def smoking(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """No smoking household for a child under 5, with respiratory needs, or with a disability."""
    if not h.smoking:
        return RuleOutcome("smoking", True, "A non-smoking household.")
    bad = _first_failing(
        req,
        lambda c, r: "bad" if age_on(c.birth_month, req.on) < 5 or r.respiratory_needs or c.disability else None,
    )
    if bad is None:
        return RuleOutcome("smoking", True, "A smoking household, acceptable for this child.")
    return RuleOutcome(
        "smoking",
        False,
        f"A smoking household: not for a child under 5, with respiratory needs or a disability"
        f"{'' if req.group_size == 1 else f' ({bad[0].child_id})'}.",
    )


def accessibility(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """A child who needs an adapted home needs a wheelchair-accessible household."""
    bad = None if h.wheelchair_accessible else _first_failing(req, lambda c, r: "x" if r.needs_adaptation else None)
    if bad is None:
        return RuleOutcome("accessibility", True, "Accessibility needs are met.")
    return RuleOutcome(
        "accessibility", False, f"{_who(req, bad[0])} needs an adapted home; this one is not wheelchair accessible."
    )


def distance_limit(ref: Referral, cfg: FitConfig) -> float:
    """The furthest a child may be placed from home: their referral's maximum, else the configured default."""
    return ref.max_distance_miles or cfg.rules.max_distance_miles


def reach(requests: Iterable[MatchRequest], cfg: FitConfig) -> tuple[int, int, int, int] | None:
    """The grid rectangle (least and most easting, least and most northing, in metres) outside which every
    household fails :func:`distance` for every one of ``requests``; None when some request has no child with a
    home (it sets no distance, so any household may pass).  A household passes only within each child's limit
    of their home, so within that child's square."""
    box: tuple[int, int, int, int] | None = None
    for req in requests:
        child, ref = next(((c, r) for c, r in req.members if c.home is not None), (None, None))
        if child is None or ref is None or child.home is None:
            return None
        span = math.ceil(distance_limit(ref, cfg) * METRES_PER_MILE) + 1
        e, n = child.home.easting, child.home.northing
        mine = (e - span, e + span, n - span, n + span)
        box = (
            mine
            if box is None
            else (min(box[0], mine[0]), max(box[1], mine[1]), min(box[2], mine[2]), max(box[3], mine[3]))
        )
    return box


def distance(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """Each child within their own maximum distance from home (their referral's, else the configured default)."""
    shown = []
    for child, ref in req.members:
        if child.home is None:
            continue
        limit = distance_limit(ref, cfg)
        de = float(h.location.easting - child.home.easting)
        dn = float(h.location.northing - child.home.northing)
        miles = child.home.miles_to(h.location)
        if beyond_miles(de, dn, limit):
            return RuleOutcome(
                "distance", False, f"{_who(req, child)}: {miles:.1f} miles from home, beyond the {limit:g}-mile limit."
            )
        shown.append(f"{miles:.1f} miles from home")
    if not shown:
        return RuleOutcome("distance", True, "Home location not known: distance not checked.")
    return RuleOutcome("distance", True, f"{shown[0]}.")


def deprivation_of_liberty(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> RuleOutcome:
    """A child under a deprivation of liberty order needs therapeutic and out-of-hours support."""
    if not any(r.dolo for r in req.referrals):
        return RuleOutcome("dolo", True, "No deprivation of liberty order.")
    ok = {"therapeutic_support", "out_of_hours"} <= set(h.support_package)
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
    current_home,
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
    resident_restrictions,
    carer_exclusions,
    pets,
    smoking,
    accessibility,
    distance,
    deprivation_of_liberty,
)
RULE_CODES: tuple[str, ...] = (
    "not_active", "current_home", "connected_person_only", "setting", "terms_age", "terms_placement_type", "terms_places", "vacancy",
    "usual_limit", "sibling_group", "live_alongside", "risk_to_others", "resident_restrictions", "carer_exclusions",
    "pets", "smoking", "accessibility", "distance", "dolo",
)  # fmt: skip
#: Rule code -> what it means in plain words, for people (the codes stay in the JSON).
RULE_LABELS: dict[str, str] = {
    "not_active": "not taking placements now (on hold or deregistered)",
    "current_home": "where the child lives now",
    "connected_person_only": "a kinship household approved for other children",
    "setting": "foster care not asked for",
    "terms_age": "outside the ages the carers are approved for",
    "terms_placement_type": "not approved for this kind of placement",
    "terms_places": "approved for fewer children",
    "vacancy": "no free place",
    "usual_limit": "over the usual limit of 3 foster children",
    "sibling_group": "not approved for a sibling group this size",
    "live_alongside": "a child there the child cannot live alongside",
    "risk_to_others": "a risk to a child living there",
    "resident_restrictions": "a child living there cannot live with this child",
    "carer_exclusions": "the carers will not consider one of the child's needs",
    "pets": "pets (allergy or risk to animals)",
    "smoking": "a smoking household",
    "accessibility": "not wheelchair accessible",
    "distance": "too far from home",
    "dolo": "no therapeutic and out-of-hours support for a deprivation of liberty order",
}
assert set(RULE_LABELS) == set(RULE_CODES)


def rule_label(code: str) -> str:
    """A rule's code in plain words (the code itself when unknown)."""
    return RULE_LABELS.get(code, code.replace("_", " "))


#: Rule code -> its position in :data:`RULES`.
RULE_INDEX: dict[str, int] = {code: i for i, code in enumerate(RULE_CODES)}


def evaluate(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> list[RuleOutcome]:
    """Every rule's verdict on one household, in rule order."""
    return [rule(req, h, cfg) for rule in RULES]


def failed(req: MatchRequest, h: CarerHousehold, cfg: FitConfig) -> list[RuleOutcome]:
    """The rules ``h`` fails for ``req`` (empty when eligible)."""
    return [o for o in evaluate(req, h, cfg) if not o.passed]
