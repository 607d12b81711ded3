"""What would place the children an allocation leaves out: more households, grouped and counted (issue 21).

"7 children aged 11-15 with physical and verbal aggression in the North East region: 4 more households
approved for ages 11-15 with 'De-escalation and positive behaviour support' training within 12 miles would
place all 7 (2 of them would place 5)".

**Groups.** The units left out (children, or sibling groups placed whole), except those whose households
were not judged because time ran out (more time, not more households, is what they need), grouped by

- **area**: the region of the child's local authority (:attr:`AllocationInstance.regions`), or the local
  authority itself when its region is not known;
- **ages**: the age bands (:data:`matching.codes.AGE_BANDS`) of the youngest and the oldest child of the unit;
- **group size**: households are approved for a sibling group of a given size, so a size is a lever of its own;
- **leading need** (:func:`leading_need`): the most severe need rated moderate or severe on the children's own
  referrals (a sibling group: each need at its highest in the group); between needs as severe, the one the
  fewest of the allocation's households cover (their current training and experience, read by the taxonomy at
  its "need met" threshold), then the need's code.  None when no need is rated moderate or severe.

**Training** for the need is its best course as the taxonomy spells it (:meth:`Taxonomy.best_course`, as the
sufficiency bottlenecks and the fit gaps name it).

**Counting.**  Each new household is assumed to have the typical room of the area: the approved places of the
area's households with room and no foster child in this allocation (the lower median; of every such household
when the area has none; :data:`DEFAULT_PLACES` when there are none at all), at least the group's size, under the
usual fostering limit.  They stand within ``within_miles`` of the children they would take: the median distance
from home of the children of the area this allocation places (of every child it places when it places none of the
area; the settings' maximum distance, else :data:`DEFAULT_MILES`, when it places nobody), rounded up to a whole
mile; and no further than each child's own maximum distance.

The group's units are packed into new households first fit, most restricted first (a child who must be the only
child, then children who limit who lives with them, then the rest, each by id): a unit joins the first household
opened so far that has room for it, whose place is within reach of its children, and none of whose children it
cannot live with (:func:`matching.allocation.validate.fits`, the allocation's own rules); otherwise it opens a new
household where its child lives.  ``households`` is how many that opens and ``would_place`` the children placed:
the sentence says exactly that construction (a valid placement of those children in those households), not that
no fewer households could do it.  Households are listed fullest first, and the sentence names those that take more
than one unit ("2 of them would place 5"): a placement of its own.

**What the new households are assumed to be**, so that every rule can judge them when the instance carries the
records (:class:`~matching.allocation.instance.RuleContext`): active mainstream carers approved for the group's
ages, placement types and sibling-group size, holding the course, with no pets, not smoking, wheelchair
accessible, with every kind of support and nobody else living there.  A child these would still not take (their
referral does not ask for foster care, they are past the ages of the band, their siblings live too far apart)
counts among the group's children but not among those the households would place, and the rule is named.
An instance without records (made by hand) is judged on room and who may live together only.  Children already
placed stay where they are, and the new households take only the group's children: what the households would do
is at least this.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np

from matching import codes
from matching.allocation.instance import AllocationInstance, HouseholdRoom, RuleContext, Unit
from matching.allocation.validate import fits
from matching.coverage import CoverageTables
from matching.domain import CarerHousehold, Location, TermsOfApproval, TrainingRecord
from matching.domain.referral import ACTIONABLE
from matching.eligibility.arithmetic import beyond_miles
from matching.eligibility.columns import flags
from matching.eligibility.request import MatchRequest
from matching.eligibility.rules import distance_limit, failed, rule_label
from matching.fit_config import FitConfig
from matching.taxonomy import Taxonomy, load_taxonomy
from matching.wording import counted, plural

#: Miles from home of the new households when the allocation places nobody at a known distance and the instance
#: carries no settings (the issue's example figure).
DEFAULT_MILES = 20
#: Approved places of a new household when the allocation has no household without foster children to go by.
DEFAULT_PLACES = 1
#: The usual fostering limit (Children Act 1989 Sch 7) for an instance without its settings (hand-made ones).
USUAL_LIMIT = 3
#: Where a new household stands when none of its children's homes is known (no distance is judged then).
_NOWHERE = Location(0, 0)


@dataclass(frozen=True)
class LeverGroup:
    """Children left out who share an area, ages, group size and leading need, and the new households that would
    place them (see the module's docstring for how they are built)."""

    #: The region, or the local authority when the region is not known.
    area: str
    region: str | None
    ages: tuple[int, int]
    size: int
    need: str | None
    #: The course that meets ``need`` best (None without a need the taxonomy knows).
    training: str | None
    within_miles: int
    #: The instance's units of the group, by unit id.
    units: tuple[int, ...]
    #: The room each new household is assumed to have (the id aside: each has its own).
    room: HouseholdRoom
    #: The instance's units each new household would take, fullest household first.
    households: tuple[tuple[int, ...], ...]
    #: Each new household as a record every rule can judge, in the order of ``households`` (empty when the
    #: instance carries no records).
    records: tuple[CarerHousehold, ...]
    #: Children in the group, and those the first 1, 2, ... new households would place.
    children: int
    placed_by_first: tuple[int, ...]
    #: The age of the oldest child of the group (it may be past the top of ``ages``: 18 or over).
    oldest: int
    #: The group's units these households would still not take, and the rule codes that keep them out.
    ruled_out: tuple[int, ...] = ()
    ruled_out_by: tuple[str, ...] = ()

    @property
    def would_place(self) -> int:
        """Children the new households would place."""
        return self.placed_by_first[-1] if self.placed_by_first else 0


def suggested_levers(
    instance: AllocationInstance, assignment: Mapping[int, int], taxonomy: Taxonomy | None = None
) -> list[dict[str, Any]]:
    """What would place the children left out: per group of them, how many more households of what kind would
    place how many, in plain words (``suggestion``) and in codes and figures; most children first."""
    taxonomy = taxonomy or load_taxonomy()
    out = []
    for g in lever_groups(instance, assignment, taxonomy):
        las = Counter(la for u in g.units for la in [instance.units[u].la_code] * instance.units[u].size)
        out.append(
            {
                "suggestion": _sentence(g, taxonomy),
                "children": g.children,
                "region": g.region,
                "local_authority": min(las, key=lambda la: (-las[la], la)),
                "local_authorities": sorted(las),
                "group_size": g.size,
                "ages": list(g.ages),
                "need": g.need,
                "training": g.training,
                "households": len(g.households),
                "would_place": g.would_place,
                "within_miles": g.within_miles,
                "places_each": g.room.vacancies,
                "placed_by_first": list(g.placed_by_first),
                "ruled_out_by": list(g.ruled_out_by),
            }
        )
    return out


def lever_groups(
    instance: AllocationInstance, assignment: Mapping[int, int], taxonomy: Taxonomy | None = None
) -> list[LeverGroup]:
    """The units ``assignment`` leaves out, grouped, each group with the new households that would place them;
    most children first, then by area, ages, size and need."""
    taxonomy = taxonomy or load_taxonomy()
    ctx = instance.context
    need_of = _NeedOrder(ctx, taxonomy)
    keyed: dict[tuple[str, int, int, int, str], list[int]] = defaultdict(list)
    for u in sorted(range(len(instance.units)), key=lambda i: instance.units[i].unit_id):
        unit = instance.units[u]
        if u in assignment or unit.unit_id in instance.not_considered or unit.unit_id in instance.staying:
            continue  # not reached, or staying where they are: no new household is wanted for them
        lo, hi = _band(min(unit.ages))[0], _band(max(unit.ages))[1]
        need = None if ctx is None else need_of(ctx.requests[u])
        keyed[(_area(instance, unit.la_code), lo, hi, unit.size, need or "")].append(u)
    miles, places = _typical_miles(instance, assignment), _typical_places(instance)
    groups = []
    for (area, lo, hi, size, need), units in keyed.items():
        course = taxonomy.best_course(need) if need in taxonomy.needs else None
        within = miles(area)
        room = _new_room(instance, area, max(size, places(area)))
        packed = _pack(instance, units, room, (lo, hi), course, within)
        groups.append(
            LeverGroup(
                area=area,
                region=instance.regions.get(instance.units[units[0]].la_code),
                ages=(lo, hi),
                size=size,
                need=need or None,
                training=course,
                within_miles=within,
                units=tuple(units),
                room=room,
                households=packed.households,
                records=packed.records,
                children=sum(instance.units[u].size for u in units),
                placed_by_first=tuple(
                    itertools.accumulate(sum(instance.units[u].size for u in h) for h in packed.households)
                ),
                oldest=max(max(instance.units[u].ages) for u in units),
                ruled_out=packed.ruled_out,
                ruled_out_by=packed.ruled_out_by,
            )
        )
    groups.sort(key=lambda g: (-g.children, g.area, g.ages, g.size, g.need or ""))
    return groups


def leading_need(req: MatchRequest, covered: Mapping[str, float] | None = None) -> str | None:
    """The need a lever for these children addresses: the most severe rated moderate or severe; between needs as
    severe, the one the smallest share of households cover (``covered``: need -> share), then by code."""
    needs = {n: s for n, s in req.needs.items() if s >= ACTIONABLE}
    if not needs:
        return None
    top = max(needs.values())
    tied = [n for n, s in needs.items() if s == top]
    shares = covered or {}
    return min(tied, key=lambda n: (n not in shares, shares.get(n, 0.0), n))


def covered_share(households: Sequence[CarerHousehold], taxonomy: Taxonomy, on: date) -> dict[str, float]:
    """Each need of the taxonomy: the share of ``households`` whose training current ``on`` and experience cover it
    (coverage at the taxonomy's "need met" threshold, :class:`~matching.coverage.CoverageTables`)."""
    tables = CoverageTables.from_taxonomy(taxonomy)
    if not households:
        return dict.fromkeys(tables.need_ids, 0.0)
    current = flags([[t.course for t in h.training if t.current_on(on)] for h in households], tables.course_ids)
    experience = flags([h.experience_needs for h in households], tables.need_ids)
    met = tables.need_coverage(current, experience) >= tables.met_threshold
    return {n: float(s) for n, s in zip(tables.need_ids, np.mean(met, axis=0), strict=True)}


class _NeedOrder:
    """:func:`leading_need` of each request, with the households' coverage computed once, when first needed."""

    def __init__(self, ctx: RuleContext | None, taxonomy: Taxonomy) -> None:
        self.ctx, self.taxonomy = ctx, taxonomy
        self.covered: dict[str, float] | None = None

    def __call__(self, req: MatchRequest) -> str | None:
        needs = [s for s in req.needs.values() if s >= ACTIONABLE]
        if needs.count(max(needs, default=0)) > 1 and self.covered is None and self.ctx is not None:
            self.covered = covered_share(self.ctx.households, self.taxonomy, req.on)
        return leading_need(req, self.covered)


def _band(age: int) -> tuple[int, int]:
    """The age band holding ``age``."""
    return codes.AGE_BANDS[codes.age_band_index(age)]


def _area(instance: AllocationInstance, la_code: str) -> str:
    """The region of a local authority, or the authority when its region is not known."""
    return instance.regions.get(la_code, la_code)


def _typical_miles(instance: AllocationInstance, assignment: Mapping[int, int]) -> Callable[[str], int]:
    """Miles from home of an area's new households: see the module's docstring."""
    by_area: dict[str, list[float]] = defaultdict(list)
    for u, k in assignment.items():
        known = instance.arcs[k].distance_miles
        if known is not None:
            by_area[_area(instance, instance.units[u].la_code)].append(known)
    everyone = [m for ms in by_area.values() for m in ms]
    ctx = instance.context
    fallback = DEFAULT_MILES if ctx is None else ctx.cfg.rules.max_distance_miles
    overall = max(1, math.ceil(statistics.median(everyone) if everyone else fallback))
    typical = {area: max(1, math.ceil(statistics.median(found))) for area, found in by_area.items()}
    return lambda area: typical.get(area, overall)


def _typical_places(instance: AllocationInstance) -> Callable[[str], int]:
    """Approved places of an area's new households: see the module's docstring."""
    by_area: dict[str, list[int]] = defaultdict(list)
    for h in instance.households:
        if h.empty and h.vacancies > 0:
            by_area[_area(instance, h.la_code)].append(h.vacancies)
    everyone = [n for ns in by_area.values() for n in ns]
    overall = statistics.median_low(everyone) if everyone else DEFAULT_PLACES
    typical = {area: statistics.median_low(found) for area, found in by_area.items()}
    return lambda area: typical.get(area, overall)


def _new_room(instance: AllocationInstance, area: str, places: int) -> HouseholdRoom:
    """The room of a new household of ``area`` approved for ``places`` children, under the usual fostering limit."""
    ctx = instance.context
    limit = USUAL_LIMIT if ctx is None else ctx.cfg.rules.usual_fostering_limit
    return HouseholdRoom("new", area, places, limit, True)


@dataclass(frozen=True)
class _Packing:
    households: tuple[tuple[int, ...], ...]
    records: tuple[CarerHousehold, ...]
    ruled_out: tuple[int, ...]
    ruled_out_by: tuple[str, ...]


def _pack(
    instance: AllocationInstance,
    units: list[int],
    room: HouseholdRoom,
    ages: tuple[int, int],
    course: str | None,
    within: int,
) -> _Packing:
    """The group's units packed first fit, most restricted first, into new households of ``room``."""
    ctx = instance.context
    local = AllocationInstance([instance.units[u] for u in units], [], [])
    at = {u: i for i, u in enumerate(units)}
    proto = None if ctx is None else _record(ctx, units, room, ages, course)
    ruled_out: list[int] = []
    why: set[str] = set()
    members: list[list[int]] = []
    sites: list[Location | None] = []
    open_: list[int] = []
    for u in sorted(units, key=lambda v: (_restriction(instance.units[v]), instance.units[v].unit_id)):
        req = None if ctx is None or proto is None else ctx.requests[u]
        site = None if req is None else next((c.home for c in req.group if c.home is not None), None)
        if req is not None and proto is not None and ctx is not None:
            problems = {o.code for o in failed(req, replace(proto, location=site or _NOWHERE), ctx.cfg)}
            if not problems and not _reaches(req, site, within, ctx.cfg):
                problems = {"distance"}  # its own children live further apart than the households' reach
            if problems:
                ruled_out.append(u)
                why |= problems
                continue
        joined = False
        for j in open_:
            if ctx is not None and req is not None and not _reaches(req, sites[j], within, ctx.cfg):
                continue
            if fits(local, [at[v] for v in members[j]], at[u], j):
                members[j].append(u)
                sites[j] = sites[j] or site
                joined = True
                break
        if not joined:
            j = len(members)
            local.households.append(replace(room, household_id=f"new-{j + 1}"))
            members.append([u])
            sites.append(site)
            open_.append(j)
        if local.households[j].after([instance.units[v] for v in members[j]]).places <= 0:
            open_.remove(j)
    order = sorted(range(len(members)), key=lambda j: (-sum(instance.units[v].size for v in members[j]), j))
    records = (
        ()
        if proto is None
        else tuple(
            replace(proto, household_id=f"new-{i + 1}", location=sites[j] or _NOWHERE) for i, j in enumerate(order)
        )
    )
    return _Packing(tuple(tuple(members[j]) for j in order), records, tuple(ruled_out), tuple(sorted(why)))


def _restriction(unit: Unit) -> int:
    """Packing order: a unit that must live alone first, then one that limits who lives with it, then the rest."""
    return 0 if unit.solo else 1 if unit.restricts else 2


def _reaches(req: MatchRequest, site: Location | None, within: float, cfg: FitConfig) -> bool:
    """True if every child of ``req`` whose home is known lives within ``within`` miles of ``site`` and within
    their own maximum distance (nothing to judge when the site is not known)."""
    if site is None:
        return True
    for child, ref in req.members:
        home = child.home
        if home is None:
            continue
        limit = min(within, distance_limit(ref, cfg))
        if beyond_miles(float(site.easting - home.easting), float(site.northing - home.northing), limit):
            return False
    return True


def _record(
    ctx: RuleContext, units: list[int], room: HouseholdRoom, ages: tuple[int, int], course: str | None
) -> CarerHousehold:
    """A new household as the lever describes it, for the rules to judge (see the module's docstring)."""
    reqs = [ctx.requests[u] for u in units]
    on = reqs[0].on
    types = tuple(sorted({r.placement_type for req in reqs for r in req.referrals}))
    size = max(req.group_size for req in reqs)
    return CarerHousehold(
        household_id="new",
        agency_code="new",
        agency_type="la",
        la_code=reqs[0].child.la_code,
        location=_NOWHERE,
        approved_on=on,
        terms=TermsOfApproval(ages[0], ages[1], room.vacancies, types, max_sibling_group=size),
        wheelchair_accessible=True,
        bedrooms_available=room.vacancies,
        support_package=tuple(codes.SUPPORT_PACKAGE),
        training=() if course is None else (TrainingRecord(course, on),),
    )


def _sentence(g: LeverGroup, taxonomy: Taxonomy) -> str:
    """The group and its lever in plain words: taxonomy labels, no codes but an area's without a known region."""
    lo, hi = g.ages
    who = f"{counted(g.children, 'child')} aged {lo}-{hi}"
    if g.oldest > hi:  # past the oldest band (18 or over): said, since no approval for children covers them
        who += f" (the oldest {g.oldest})"
    if g.size > 1:
        groups = g.children // g.size
        who += f" in a sibling group of {g.size}" if groups == 1 else f" in {groups} sibling groups of {g.size}"
    if g.need is not None:
        known = taxonomy.needs.get(g.need)
        label = known.label if known is not None else g.need.replace("_", " ")
        who += f" with {label[0].lower()}{label[1:]}"
    who += f" in the {g.region} region" if g.region is not None else f" in {g.area}"
    kind = f"{g.size} siblings together aged {lo}-{hi}" if g.size > 1 else f"ages {lo}-{hi}"
    kept_out = ", ".join(rule_label(c) for c in g.ruled_out_by)
    would, left, k = g.would_place, g.children - g.would_place, len(g.households)
    if not would:
        return f"{who}: more households approved for {kind} would not place them ({kept_out})"
    training = "" if g.training is None else f" with '{taxonomy.courses[g.training].label}' training"
    whom = str(would) if left else "them" if would == 1 else "both" if would == 2 else f"all {would}"
    text = f"{who}: {k} more {plural(k, 'household')} approved for {kind}{training} within {g.within_miles} miles "
    text += f"would place {whom}"
    each = [b - a for a, b in itertools.pairwise((0, *g.placed_by_first))]
    shared = sum(1 for n in each if n > g.size)  # households taking more than one unit: listed first
    if 0 < shared < k:
        text += f" ({shared} of them would place {g.placed_by_first[shared - 1]})"
    if left:
        text += f"; {left} would not be placed even so ({kept_out})"
    return text
