"""Hypothesis strategies for schema-valid children, referrals and carer households."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from matching import codes
from matching.domain import (
    CarerHousehold,
    Child,
    Location,
    Referral,
    TrackRecord,
    TrainingRecord,
    WishesAndFeelings,
)
from matching.eligibility.request import MatchRequest
from matching.taxonomy import load_taxonomy
from tests.factories import HOME, ON, make_child, make_household, make_referral, make_terms, member

TAX = load_taxonomy()
CHILD_IDS = ("C1", "C2", "C3")
ETHNICITIES = ("WBRI", "WOTH", "BAFR", "APKN", "MWBC", "NOBT")


def months(lo: date, hi: date) -> st.SearchStrategy[date]:
    return st.integers(lo.year * 12 + lo.month - 1, hi.year * 12 + hi.month - 1).map(
        lambda m: date(m // 12, m % 12 + 1, 1)
    )


child_birth = months(date(2007, 6, 1), date(2026, 3, 1))  # 18 on the placement date, now and then
location = st.tuples(st.integers(-60_000, 60_000), st.integers(-60_000, 60_000)).map(
    lambda d: Location(HOME.easting + d[0], HOME.northing + d[1])
)
needs = st.dictionaries(st.sampled_from(TAX.need_ids), st.integers(1, 3), max_size=5)


@st.composite
def households(draw: st.DrawFn, index: int = 0) -> CarerHousehold:
    age_min = draw(st.integers(0, 17))
    age_max = draw(st.integers(age_min, 17))
    places = draw(st.integers(1, 4))
    fostered = draw(st.integers(0, places))
    # Foster children living there carry their own restriction and risks; now and then one is a child of the
    # group being matched (a child moved on from this household).
    kids = tuple(
        member(
            "foster_child",
            draw(child_birth),
            draw(st.sampled_from("MF")),
            draw(st.sampled_from((f"F{index}-{i}",) * 6 + CHILD_IDS)),
            draw(st.sampled_from(codes.LIVE_ALONGSIDE + ("any",) * 4)),
            tuple(draw(st.lists(st.sampled_from(codes.RISKS_TO_OTHERS), max_size=2, unique=True))),
        )
        for i in range(fostered)
    )
    kids = tuple({k.member_id: k for k in kids}.values())
    births = tuple(
        member("birth_child", draw(months(date(2000, 1, 1), date(2026, 1, 1))), "F", f"B{index}-{i}")
        for i in range(draw(st.integers(0, 2)))
    )
    # Now and then a foster child from outside the store, with their own restriction and risks.
    births += tuple(
        member(
            "foster_child",
            draw(months(date(2006, 1, 1), date(2026, 1, 1))),
            "M",
            f"X{index}-{i}",
            draw(st.sampled_from(codes.LIVE_ALONGSIDE)),
            tuple(draw(st.lists(st.sampled_from(codes.RISKS_TO_OTHERS), max_size=2, unique=True))),
        )
        for i in range(draw(st.sampled_from([0, 0, 0, 1])))
    )
    kin = draw(st.booleans().map(lambda b: b and draw(st.integers(0, 4)) == 0))
    connected = tuple(draw(st.lists(st.sampled_from(CHILD_IDS), min_size=1, max_size=3, unique=True))) if kin else ()
    terms = make_terms(
        age_min=age_min,
        age_max=age_max,
        places=places,
        placement_types=tuple(draw(st.lists(st.sampled_from(codes.PLACEMENT_TYPES), max_size=4, unique=True))),
        max_sibling_group=draw(st.integers(1, places)),
        usual_limit_exemption=draw(st.booleans()),
        connected_child_ids=connected,
    )
    courses = draw(st.lists(st.sampled_from(TAX.course_ids), max_size=6, unique=True))
    training = tuple(
        TrainingRecord(
            c,
            draw(months(date(2018, 1, 1), date(2026, 6, 1))),
            draw(st.none() | months(date(2020, 1, 1), date(2030, 1, 1))),
        )
        for c in courses
    )
    pref = draw(st.none() | st.tuples(st.integers(0, 17), st.integers(0, 17)).map(sorted))
    return make_household(
        terms,
        household_id=f"H{index:03d}",
        status=draw(st.sampled_from(("active",) * 8 + ("on_hold",))),
        location=draw(location),
        la_code=draw(st.sampled_from(("L001", "L002"))),
        ethnicity=draw(st.sampled_from(ETHNICITIES)),
        religion=draw(st.sampled_from(("none", "christian", "muslim"))),
        languages=tuple(
            draw(st.lists(st.sampled_from(("english", "urdu", "polish")), min_size=1, max_size=2, unique=True))
        ),
        pets=tuple(draw(st.lists(st.sampled_from(codes.PETS), max_size=2, unique=True))),
        smoking=draw(st.booleans()),
        wheelchair_accessible=draw(st.booleans()),
        bedrooms_available=draw(st.integers(0, 4)),
        experience_years=draw(st.floats(0, 30, allow_nan=False)),
        experience_needs=tuple(draw(st.lists(st.sampled_from(TAX.need_ids), max_size=4, unique=True))),
        will_not_consider=tuple(
            draw(st.lists(st.sampled_from(TAX.need_ids + codes.RISKS_TO_OTHERS), max_size=2, unique=True))
        ),
        preferred_age_min=None if pref is None else pref[0],
        preferred_age_max=None if pref is None else pref[1],
        support_package=tuple(draw(st.lists(st.sampled_from(codes.SUPPORT_PACKAGE), max_size=3, unique=True))),
        training=training,
        members=births,
        foster_children=kids,
        track_record=draw(st.tuples(st.integers(0, 10), st.integers(0, 10)).map(lambda t: TrackRecord(t[0], min(t)))),
    )


@st.composite
def household_lists(draw: st.DrawFn, min_size: int = 1, max_size: int = 25) -> list[CarerHousehold]:
    n = draw(st.integers(min_size, max_size))
    return [draw(households(i)) for i in range(n)]


@st.composite
def children(draw: st.DrawFn, child_id: str = "C1") -> Child:
    return make_child(
        child_id=child_id,
        birth_month=draw(child_birth),
        sex=draw(st.sampled_from("MF")),
        ethnicity=draw(st.sampled_from(ETHNICITIES)),
        religion=draw(st.sampled_from(("none", "christian", "muslim", "not_known"))),
        first_languages=(draw(st.sampled_from(("english", "urdu", "polish"))),),
        disability=draw(st.booleans()),
        needs=draw(needs),
        home=draw(st.none() | st.just(HOME)),
        school=draw(st.none() | location),
    )


@st.composite
def referrals(draw: st.DrawFn, child: Child, ptype: str) -> Referral:
    """A child's own referral: every field a per-child rule reads drawn for this child alone."""
    return make_referral(
        child,
        referral_id=f"R-{child.child_id}",
        placement_type=ptype,
        live_alongside=draw(st.sampled_from(codes.LIVE_ALONGSIDE)),
        risks_to_child=tuple(draw(st.lists(st.sampled_from(codes.RISKS_TO_CHILD), max_size=2, unique=True))),
        risks_to_others=tuple(draw(st.lists(st.sampled_from(codes.RISKS_TO_OTHERS), max_size=2, unique=True))),
        allergies=tuple(draw(st.lists(st.sampled_from(codes.PETS), max_size=1))),
        respiratory_needs=draw(st.booleans()),
        needs_adaptation=draw(st.booleans().map(lambda b: b and draw(st.booleans()))),
        dolo=draw(st.booleans().map(lambda b: b and draw(st.booleans()))),
        suitable_for=draw(st.sampled_from((("foster",),) * 4 + (("foster", "residential"), ("residential",)))),
        emergency_outside_terms=ptype == "emergency" and draw(st.booleans()),
        expected_duration_days=draw(st.integers(1, 14)) if ptype == "emergency" else None,
        max_distance_miles=draw(st.none() | st.floats(5, 80)),
        wishes=WishesAndFeelings(
            near_school=draw(st.booleans()),
            near_family=draw(st.booleans()),
            same_religion=draw(st.booleans()),
            same_language=draw(st.booleans()),
        ),
    )


@st.composite
def requests(draw: st.DrawFn) -> MatchRequest:
    """A child, and up to two siblings, each with their own referral (the placement type mostly shared)."""
    child = draw(children())
    siblings = tuple(draw(children(cid)) for cid in CHILD_IDS[1 : 1 + draw(st.integers(0, 2))])
    ptype = draw(st.sampled_from(codes.PLACEMENT_TYPES))
    own = [draw(referrals(c, ptype if draw(st.integers(0, 4)) else draw(st.sampled_from(codes.PLACEMENT_TYPES))))
           for c in (child, *siblings)]  # fmt: skip
    return MatchRequest(own[0], child, ON, siblings, tuple(own[1:]))
