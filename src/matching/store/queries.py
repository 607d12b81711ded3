"""Reading the store.  Every query takes the caller's :class:`~matching.domain.Scope`.

Functions are keyword-only and return domain objects, never rows, so the layers above do not
see SQL.  A record outside the caller's scope is reported as absent (``None``), exactly as one
that does not exist, so scope cannot be probed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Select, String, bindparam, cast, func, or_, select

from matching.domain import (
    CarerHousehold,
    Child,
    HouseholdMember,
    Location,
    NeedsProfile,
    PlacementEpisode,
    Referral,
    Scope,
    SdqScore,
    TermsOfApproval,
    TrackRecord,
    TrainingRecord,
    WishesAndFeelings,
)
from matching.store import schema as s
from matching.taxonomy import Taxonomy, load_taxonomy


def _child_scope(stmt: Select[Any], scope: Scope) -> Select[Any]:
    if scope.la_codes is not None:
        stmt = stmt.where(s.child.c.la_code.in_(sorted(scope.la_codes)))
    return stmt


def _household_scope(stmt: Select[Any], scope: Scope) -> Select[Any]:
    if scope.agency_codes is not None:
        stmt = stmt.where(s.household.c.agency_code.in_(sorted(scope.agency_codes)))
    return stmt


def holds_children(conn: Connection) -> bool:
    """Whether any child has been imported into the store (administrative: not scoped)."""
    return conn.execute(select(s.child.c.child_id).limit(1)).first() is not None


def count_rows(conn: Connection) -> dict[str, int]:
    """Rows in each table of the store (administrative: not scoped)."""
    out = {}
    for table in [*s.TABLES.values(), s.ssda903_child, s.import_run]:
        out[table.name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    return out


# --- children ------------------------------------------------------------------------


def list_children(
    conn: Connection,
    *,
    scope: Scope,
    offset: int = 0,
    limit: int = 50,
    la_code: str | None = None,
    sibling_group_id: str | None = None,
) -> tuple[list[Child], int]:
    """A page of children in scope, ordered by id, and the total in scope."""
    base = _child_scope(select(s.child), scope)
    if la_code is not None:
        base = base.where(s.child.c.la_code == la_code)
    if sibling_group_id is not None:
        base = base.where(s.child.c.sibling_group_id == sibling_group_id)
    total = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar_one())
    rows = conn.execute(base.order_by(s.child.c.child_id).offset(offset).limit(limit)).mappings().all()
    return _children_from_rows(conn, rows), total


# Statements for one child, built once: the matching hot path runs them on every request.
_CHILD = select(s.child).where(s.child.c.child_id == bindparam("child_id"))
_CHILD_IN_LAS = _CHILD.where(s.child.c.la_code.in_(bindparam("la_codes", expanding=True)))
_CHILD_NEEDS = select(s.child_need.c.need, s.child_need.c.severity, s.child_need.c.assessed_on).where(
    s.child_need.c.child_id == bindparam("child_id")
)


def needs_in_force(ratings: Iterable[tuple[str, int, date | None]]) -> dict[str, int]:
    """A child's needs as they stand now, from every rating on record: the latest rating of each need (undated
    ratings count as older than any dated one), needs whose latest rating is 0 left out."""
    latest: dict[str, tuple[date, int]] = {}
    for need, severity, on in ratings:
        when = on or date.min
        if need not in latest or when >= latest[need][0]:
            latest[need] = (when, int(severity))
    return {n: v for n, (_, v) in sorted(latest.items()) if v > 0}


_CHILD_REFERRALS = (
    select(s.referral)
    .where(s.referral.c.child_id == bindparam("child_id"))
    .order_by(s.referral.c.referral_date, s.referral.c.referral_id)
)


def get_child(conn: Connection, *, scope: Scope, child_id: str, with_sdq: bool = True) -> Child | None:
    """One child in scope, with needs (and SDQ history unless not wanted); None when absent or out of scope."""
    if scope.la_codes is None:
        row = conn.execute(_CHILD, {"child_id": child_id}).mappings().first()
    else:
        row = conn.execute(_CHILD_IN_LAS, {"child_id": child_id, "la_codes": sorted(scope.la_codes)}).mappings().first()
    if row is None:
        return None
    if with_sdq:
        return _children_from_rows(conn, [row])[0]
    ratings = list(conn.execute(_CHILD_NEEDS, {"child_id": child_id}))
    return _child(row, needs_in_force((n, v, on) for n, v, on in ratings), (), assessed=bool(ratings))


def open_referrals_of(conn: Connection, *, child: Child) -> list[Referral]:
    """The open referrals of a child already read in scope, oldest first (its needs as recorded); none for a
    child who ceased to be looked after."""
    return [r for r in referrals_of(conn, child=child) if r.status == "open"] if child.ceased is None else []


def referrals_of(conn: Connection, *, child: Child) -> list[Referral]:
    """Every referral of a child already read in scope, of any status, oldest first (its needs as recorded)."""
    rows = conn.execute(_CHILD_REFERRALS, {"child_id": child.child_id}).mappings().all()
    return [referral_from_row(r, child.needs, assessed=child.needs_assessed) for r in rows]


def children_by_ids(conn: Connection, *, scope: Scope, child_ids: Iterable[str]) -> list[Child]:
    """Children in scope among ``child_ids`` (order by id)."""
    ids = sorted(set(child_ids))
    rows: list[Any] = []
    for i in range(0, len(ids), 900):
        stmt = _child_scope(select(s.child).where(s.child.c.child_id.in_(ids[i : i + 900])), scope)
        rows.extend(conn.execute(stmt.order_by(s.child.c.child_id)).mappings().all())
    return _children_from_rows(conn, rows)


def child_ids_in_scope(conn: Connection, *, scope: Scope, child_ids: Iterable[str]) -> frozenset[str]:
    """Those of ``child_ids`` that name a child in scope (ids only: for hiding the others in an answer)."""
    ids = sorted(set(child_ids))
    found: set[str] = set()
    for i in range(0, len(ids), 900):
        stmt = _child_scope(select(s.child.c.child_id).where(s.child.c.child_id.in_(ids[i : i + 900])), scope)
        found.update(conn.execute(stmt).scalars())
    return frozenset(found)


def known_la_codes(conn: Connection, la_codes: Iterable[str]) -> frozenset[str]:
    """Those of ``la_codes`` that name a local authority in the store (public reference data)."""
    codes = sorted(set(la_codes))
    return frozenset(
        conn.execute(select(s.local_authority.c.la_code).where(s.local_authority.c.la_code.in_(codes))).scalars()
    )


def la_regions(conn: Connection, la_codes: Iterable[str]) -> dict[str, str]:
    """The region of each of ``la_codes`` that names a local authority in the store (public reference data)."""
    codes = sorted(set(la_codes))
    la = s.local_authority
    found: dict[str, str] = {}
    for i in range(0, len(codes), 900):
        rows = conn.execute(select(la.c.la_code, la.c.region).where(la.c.la_code.in_(codes[i : i + 900])))
        found.update((str(code), str(region)) for code, region in rows)
    return found


def _children_from_rows(conn: Connection, rows: Sequence[Any], with_sdq: bool = True) -> list[Child]:
    ids = [r["child_id"] for r in rows]
    ratings = _ratings(conn, ids)
    sdq: dict[str, list[SdqScore]] = defaultdict(list)
    q = s.sdq_score.c
    for i in range(0, len(ids) if with_sdq else 0, 900):
        stmt = select(q.child_id, q.assessed_on, q.score).where(q.child_id.in_(ids[i : i + 900]))
        for child_id, assessed_on, score in conn.execute(stmt):
            sdq[child_id].append(SdqScore(assessed_on, int(score)))
    needs = {child_id: needs_in_force(r) for child_id, r in ratings.items()}
    return [
        _child(
            r,
            needs.get(r["child_id"], {}),
            tuple(sorted(sdq.get(r["child_id"], []), key=lambda x: x.assessed_on)),
            assessed=r["child_id"] in ratings,
        )
        for r in rows
    ]


def _loc(e: int | None, n: int | None) -> Location | None:
    return Location(int(e), int(n)) if e is not None and n is not None else None


def _child(r: Any, needs: dict[str, int], sdq: tuple[SdqScore, ...], *, assessed: bool) -> Child:
    return Child(
        child_id=r["child_id"],
        la_code=r["la_code"],
        birth_month=r["birth_month"],
        sex=r["sex"],
        ethnicity=r["ethnicity"],
        legal_status=r["legal_status"],
        category_of_need=r["category_of_need"],
        care_started=r["care_started"],
        place=r["place"],
        placement_start=r["placement_start"],
        religion=r["religion"] or "not_known",
        first_languages=tuple(r["first_languages"] or ()),
        uasc=bool(r["uasc"]),
        disability=bool(r["disability"]),
        sen=r["sen"] or "none",
        health_needs=tuple(r["health_needs"] or ()),
        place_provider=r["place_provider"],
        household_id=r["household_id"],
        home=_loc(r["home_easting"], r["home_northing"]),
        school_urn=r["school_urn"],
        school=_loc(r["school_easting"], r["school_northing"]),
        sibling_group_id=r["sibling_group_id"],
        place_with_siblings=bool(r["place_with_siblings"]),
        care_plan_goal=r["care_plan_goal"],
        needs=needs,
        needs_assessed=assessed,
        sdq=sdq,
        ceased=r["ceased"],
    )


# --- households ----------------------------------------------------------------------


def list_households(
    conn: Connection,
    *,
    scope: Scope,
    offset: int = 0,
    limit: int = 50,
    la_code: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> tuple[list[CarerHousehold], int]:
    """A page of households in scope, ordered by id, and the total in scope."""
    base = _household_scope(select(s.household, s.agency.c.agency_type).join(s.agency), scope)
    if la_code is not None:
        base = base.where(s.household.c.la_code == la_code)
    total = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar_one())
    rows = conn.execute(base.order_by(s.household.c.household_id).offset(offset).limit(limit)).mappings().all()
    return _households_from_rows(conn, rows, taxonomy or load_taxonomy()), total


def get_household(
    conn: Connection, *, scope: Scope, household_id: str, taxonomy: Taxonomy | None = None
) -> CarerHousehold | None:
    """One household in scope with its training, members and foster children; None when absent."""
    stmt = _household_scope(
        select(s.household, s.agency.c.agency_type).join(s.agency).where(s.household.c.household_id == household_id),
        scope,
    )
    row = conn.execute(stmt).mappings().first()
    return _households_from_rows(conn, [row], taxonomy or load_taxonomy())[0] if row else None


def all_households(conn: Connection, *, scope: Scope, taxonomy: Taxonomy | None = None) -> list[CarerHousehold]:
    """Every household in scope (for matching)."""
    base = _household_scope(select(s.household, s.agency.c.agency_type).join(s.agency), scope)
    rows = conn.execute(base.order_by(s.household.c.household_id)).mappings().all()
    return _households_from_rows(conn, rows, taxonomy or load_taxonomy())


def households_with_room(
    conn: Connection,
    *,
    scope: Scope,
    taxonomy: Taxonomy | None = None,
    also: Iterable[str] = (),
    within: tuple[int, int, int, int] | None = None,
) -> list[CarerHousehold]:
    """The households in scope that could take a child now, and those of ``also`` in scope (for allocation).

    Could take a child: active, and approved for more children than the store's children living there.  Any
    other household fails the "active" rule, or the vacancy rule for every child (a child who lives there now
    fails "not where the child lives now"), so leaving it out changes no eligible pair, and reading England's
    households with room is several times quicker than reading all of them (about 7,400 of 41,000 generated).
    Foster children recorded only as members are counted by the rules, not here: a superset, never fewer.
    ``within``: only those inside this grid rectangle (least and most easting, least and most northing), such as
    :func:`matching.eligibility.rules.reach` of the children waiting, outside which every household fails the
    distance rule for each of them."""
    living = (
        select(s.child.c.household_id, func.count().label("children"))
        .where(s.child.c.household_id.is_not(None), s.child.c.ceased.is_(None))
        .group_by(s.child.c.household_id)
        .subquery()
    )
    open_ = _household_scope(
        select(s.household.c.household_id)
        .join(s.agency)
        .outerjoin(living, living.c.household_id == s.household.c.household_id)
        .where(
            or_(s.household.c.status.is_(None), s.household.c.status == "active"),
            s.household.c.approved_places > func.coalesce(living.c.children, 0),
        ),
        scope,
    )
    if within is not None:
        h = s.household.c
        open_ = open_.where(h.easting.between(within[0], within[1]), h.northing.between(within[2], within[3]))
    ids = sorted(set(conn.execute(open_).scalars()) | set(also))
    base = _household_scope(select(s.household, s.agency.c.agency_type).join(s.agency), scope)
    rows: list[Any] = []
    for i in range(0, len(ids), 900):
        rows += conn.execute(base.where(s.household.c.household_id.in_(ids[i : i + 900]))).mappings().all()
    rows.sort(key=lambda r: r["household_id"])
    return _households_from_rows(conn, rows, taxonomy or load_taxonomy())


def _households_from_rows(conn: Connection, rows: Sequence[Any], taxonomy: Taxonomy) -> list[CarerHousehold]:
    ids = [r["household_id"] for r in rows]
    training: dict[str, list[TrainingRecord]] = defaultdict(list)
    members: dict[str, list[HouseholdMember]] = defaultdict(list)
    fostered: dict[str, list[HouseholdMember]] = defaultdict(list)
    counts: dict[str, tuple[int, int]] = {}
    for i in range(0, len(ids), 900):
        chunk = ids[i : i + 900]
        t = s.carer_training.c
        trained = select(t.household_id, t.course, t.completed_on, t.expires_on).where(t.household_id.in_(chunk))
        for household_id, course, completed_on, recorded_expiry in conn.execute(trained):
            expires = recorded_expiry
            if expires is None and course in taxonomy.courses:
                expires = taxonomy.course_expiry(course, completed_on)
            training[household_id].append(TrainingRecord(course, completed_on, expires))
        m = s.household_member.c
        living = select(m.household_id, m.member_id, m.kind, m.birth_month, m.sex).where(m.household_id.in_(chunk))
        for household_id, member_id, kind, birth_month, sex in conn.execute(living):
            members[household_id].append(HouseholdMember(member_id, kind, birth_month, sex))
        stmt = select(s.child.c.child_id, s.child.c.household_id, s.child.c.birth_month, s.child.c.sex).where(
            s.child.c.household_id.in_(chunk), s.child.c.ceased.is_(None)
        )
        placed = conn.execute(stmt).all()
        restrictions = resident_restrictions(conn, child_ids=[c.child_id for c in placed])
        for c in placed:
            live, risks = restrictions.get(c.child_id, ("any", ()))
            fostered[c.household_id].append(
                HouseholdMember(c.child_id, "foster_child", c.birth_month, c.sex, live, risks)
            )
        p = s.placement
        ended = select(p.c.household_id, p.c.start_date, p.c.end_date, p.c.unplanned).where(
            p.c.household_id.in_(chunk), p.c.end_date.is_not(None)
        )
        for hid, start, end, unplanned in conn.execute(ended):
            n, u = counts.get(hid, (0, 0))
            counts[hid] = (n + 1, u + int(bool(unplanned) and (end - start).days <= 365))
    return [
        _household(
            r,
            training.get(r["household_id"], []),
            members.get(r["household_id"], []),
            sorted(fostered.get(r["household_id"], []), key=lambda m: m.member_id),
            TrackRecord(*counts.get(r["household_id"], (0, 0))),
        )
        for r in rows
    ]


def resident_restrictions(conn: Connection, *, child_ids: Sequence[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Who each child can live alongside and their risks to others, from their latest referral of any status
    (the record in force); children with no referral are absent.  Read whatever the caller's remit: a child living
    in a household in remit is judged against newcomers even when another authority looks after them, and only
    these two fields leave this function."""
    latest = latest_referrals(conn, scope=None, child_ids=child_ids)
    return {cid: (r.live_alongside, tuple(r.risks_to_others)) for cid, r in latest.items()}


def _household(
    r: Any,
    training: list[TrainingRecord],
    members: list[HouseholdMember],
    fostered: list[HouseholdMember],
    track: TrackRecord,
) -> CarerHousehold:
    terms = TermsOfApproval(
        age_min=int(r["approved_age_min"]),
        age_max=int(r["approved_age_max"]),
        places=int(r["approved_places"]),
        placement_types=tuple(r["approved_placement_types"] or ()),
        max_sibling_group=int(r["max_sibling_group"] or 1),
        usual_limit_exemption=bool(r["usual_limit_exemption"]),
        connected_child_ids=tuple(r["connected_child_ids"] or ()),
    )
    return CarerHousehold(
        household_id=r["household_id"],
        agency_code=r["agency_code"],
        agency_type=r["agency_type"],
        la_code=r["la_code"],
        location=Location(int(r["easting"]), int(r["northing"])),
        approved_on=r["approved_on"],
        terms=terms,
        status=r["status"] or "active",
        carers=int(r["carers"] or 1),
        ethnicity=r["ethnicity"],
        religion=r["religion"] or "not_known",
        languages=tuple(r["languages"] or ()),
        pets=tuple(r["pets"] or ()),
        smoking=bool(r["smoking"]),
        wheelchair_accessible=bool(r["wheelchair_accessible"]),
        bedrooms_available=int(r["bedrooms_available"] or 0),
        experience_years=float(r["experience_years"] or 0.0),
        experience_needs=tuple(r["experience_needs"] or ()),
        will_not_consider=tuple(r["will_not_consider"] or ()),
        preferred_age_min=r["preferred_age_min"],
        preferred_age_max=r["preferred_age_max"],
        support_package=tuple(r["support_package"] or ()),
        training=tuple(sorted(training, key=lambda t: (t.course, t.completed_on))),
        members=tuple(sorted(members, key=lambda m: m.member_id)),
        foster_children=tuple(fostered),
        track_record=track,
    )


# --- referrals and placements --------------------------------------------------------


def open_referrals(
    conn: Connection,
    *,
    scope: Scope,
    child_ids: Iterable[str] | None = None,
    sibling_group_id: str | None = None,
    children: Mapping[str, Child] | None = None,
) -> list[Referral]:
    """Open referrals for children in scope (optionally only these children or this sibling group), oldest first.

    ``children``: the children already read (by id), whose needs the referrals take rather than reading them
    again; a referral of a child not among them is left out."""
    stmt = (
        select(s.referral)
        .join(s.child, s.child.c.child_id == s.referral.c.child_id)
        .where(s.referral.c.status == "open", s.child.c.ceased.is_(None))
    )
    if child_ids is not None:
        stmt = stmt.where(s.referral.c.child_id.in_(sorted(set(child_ids))))
    if sibling_group_id is not None:
        stmt = stmt.where(s.child.c.sibling_group_id == sibling_group_id)
    stmt = _child_scope(stmt, scope).order_by(s.referral.c.referral_date, s.referral.c.referral_id)
    rows = conn.execute(stmt).mappings().all()
    if children is not None:
        # The children's needs as read with them (the same ratings, the same rule): not read a second time.
        return [
            referral_from_row(r, children[r["child_id"]].needs, assessed=children[r["child_id"]].needs_assessed)
            for r in rows
            if r["child_id"] in children
        ]
    ratings = _ratings(conn, sorted({r["child_id"] for r in rows}))
    needs = {child_id: needs_in_force(r) for child_id, r in ratings.items()}
    return [referral_from_row(r, needs.get(r["child_id"], {}), assessed=r["child_id"] in ratings) for r in rows]


def waiting_children(conn: Connection, *, scope: Scope) -> list[Child]:
    """The children in scope, still looked after, with an open referral (ordered by id), with needs and SDQ
    history."""
    has_open = select(s.referral.c.child_id).where(s.referral.c.status == "open")
    stmt = _child_scope(select(s.child).where(s.child.c.ceased.is_(None), s.child.c.child_id.in_(has_open)), scope)
    return _children_from_rows(conn, conn.execute(stmt.order_by(s.child.c.child_id)).mappings().all())


def _ratings(conn: Connection, ids: Sequence[str]) -> dict[str, list[tuple[str, int, date | None]]]:
    """Every need rating on record of each of these children (those with none absent)."""
    ratings: dict[str, list[tuple[str, int, date | None]]] = defaultdict(list)
    n = s.child_need.c
    for i in range(0, len(ids), 900):
        stmt = select(n.child_id, n.need, n.severity, n.assessed_on).where(n.child_id.in_(ids[i : i + 900]))
        for child_id, need, severity, assessed_on in conn.execute(stmt):
            ratings[child_id].append((need, int(severity), assessed_on))
    return ratings


def referral_child(conn: Connection, *, scope: Scope, referral_id: str) -> tuple[str, str] | None:
    """The child and status of a referral for a child in scope (None when unknown or outside scope)."""
    stmt = _child_scope(
        select(s.referral.c.child_id, s.referral.c.status)
        .join(s.child, s.child.c.child_id == s.referral.c.child_id)
        .where(s.referral.c.referral_id == referral_id),
        scope,
    )
    row = conn.execute(stmt).first()
    return None if row is None else (str(row.child_id), str(row.status))


def latest_referrals(conn: Connection, *, scope: Scope | None, child_ids: Sequence[str]) -> dict[str, Referral]:
    """Each of these children's latest referral of any status (the record in force), within ``scope``; ``None``
    reads them whatever the remit, for internal use only (:func:`resident_restrictions`)."""
    r = s.referral
    out: dict[str, Referral] = {}
    ids = sorted(set(child_ids))
    for i in range(0, len(ids), 900):
        stmt = select(r).join(s.child, s.child.c.child_id == r.c.child_id).where(r.c.child_id.in_(ids[i : i + 900]))
        if scope is not None:
            stmt = _child_scope(stmt, scope)
        stmt = stmt.order_by(r.c.child_id, r.c.referral_date, r.c.referral_id)
        for row in conn.execute(stmt).mappings():
            out[row["child_id"]] = referral_from_row(row, {}, assessed=False)  # needs not read here
    return out


def referral_from_row(r: Any, needs: dict[str, int], *, assessed: bool = True) -> Referral:
    """A Referral from a referral row and the child's assessed needs (``assessed`` False: none on record)."""
    return Referral(
        referral_id=r["referral_id"],
        child_id=r["child_id"],
        referral_date=r["referral_date"],
        urgency=r["urgency"],
        placement_type=r["placement_type"],
        needs=NeedsProfile(dict(needs), assessed=assessed),
        status=r["status"] or "open",
        expected_duration_weeks=r["expected_duration_weeks"],
        expected_duration_days=r["expected_duration_days"],
        live_alongside=r["live_alongside"] or "any",
        risks_to_child=tuple(r["risks_to_child"] or ()),
        risks_to_others=tuple(r["risks_to_others"] or ()),
        allergies=tuple(r["allergies"] or ()),
        respiratory_needs=bool(r["respiratory_needs"]),
        communication_needs=tuple(r["communication_needs"] or ()),
        needs_adaptation=bool(r["needs_adaptation"]),
        dolo=bool(r["dolo"]),
        suitable_for=tuple(r["suitable_for"] or ("foster",)),
        cultural_needs=r["cultural_needs"] or "",
        wishes=WishesAndFeelings(
            text=r["wishes_text"] or "",
            near_school=bool(r["wish_near_school"]),
            near_family=bool(r["wish_near_family"]),
            same_religion=bool(r["wish_same_religion"]),
            same_language=bool(r["wish_same_language"]),
            pets=bool(r["wish_pets"]),
        ),
        emergency_outside_terms=bool(r["emergency_outside_terms"]),
        max_distance_miles=r["max_distance_miles"],
    )


def all_children(conn: Connection, *, scope: Scope) -> list[Child]:
    """Every child in scope, ordered by id, with needs and SDQ history (for learning from the history)."""
    rows = conn.execute(_child_scope(select(s.child), scope).order_by(s.child.c.child_id)).mappings().all()
    return _children_from_rows(conn, rows)


def _episode(r: Any) -> PlacementEpisode:
    return PlacementEpisode(
        placement_id=r["placement_id"],
        child_id=r["child_id"],
        place=r["place"],
        start_date=r["start_date"],
        household_id=r["household_id"],
        place_provider=r["place_provider"],
        end_date=r["end_date"],
        end_reason=r["end_reason"],
        distance_miles=r["distance_miles"],
    )


def all_placements(conn: Connection, *, scope: Scope, child_ids: Sequence[str] | None = None) -> list[PlacementEpisode]:
    """Every placement of every child in scope (or of these children), by child then start date (ties by id)."""
    p = s.placement
    stmt = _child_scope(select(p).join(s.child, s.child.c.child_id == p.c.child_id), scope).order_by(
        p.c.child_id, p.c.start_date, p.c.placement_id
    )
    if child_ids is None:
        return [_episode(r) for r in conn.execute(stmt).mappings()]
    out: list[PlacementEpisode] = []
    for i in range(0, len(child_ids), 900):
        chunk = stmt.where(p.c.child_id.in_(list(child_ids[i : i + 900])))
        out.extend(_episode(r) for r in conn.execute(chunk).mappings())
    return out


def child_births(conn: Connection, *, scope: Scope) -> dict[str, date]:
    """Each child's birth month, for every child in scope (the ages of children living with carers)."""
    stmt = _child_scope(select(s.child.c.child_id, s.child.c.birth_month), scope)
    return {str(r[0]): r[1] for r in conn.execute(stmt)}


def _chunked(stmt: Select[Any], column: Any, child_ids: Sequence[str] | None) -> list[Select[Any]]:
    if child_ids is None:
        return [stmt]
    return [stmt.where(column.in_(list(child_ids[i : i + 900]))) for i in range(0, len(child_ids), 900)]


def dated_needs(
    conn: Connection, *, scope: Scope, child_ids: Sequence[str] | None = None
) -> dict[str, tuple[tuple[date | None, str, int], ...]]:
    """Each child's rated needs with the date of their assessment (``None`` when undated), oldest first."""
    n = s.child_need
    stmt = _child_scope(
        select(n.c.child_id, n.c.assessed_on, n.c.need, n.c.severity).join(s.child, s.child.c.child_id == n.c.child_id),
        scope,
    )
    out: dict[str, list[tuple[date | None, str, int]]] = defaultdict(list)
    for chunk in _chunked(stmt, n.c.child_id, child_ids):
        for child_id, on, need, severity in conn.execute(chunk):
            out[child_id].append((on, need, int(severity)))
    return {k: tuple(sorted(v, key=lambda x: (x[0] or date.max, x[1]))) for k, v in out.items()}


def dated_risks(
    conn: Connection, *, scope: Scope, child_ids: Sequence[str] | None = None
) -> dict[str, tuple[tuple[date, frozenset[str]], ...]]:
    """Risks to and from each child in scope (or these children) by referral date, oldest first."""
    r = s.referral
    stmt = _child_scope(
        select(r.c.child_id, r.c.referral_date, r.c.risks_to_child, r.c.risks_to_others).join(
            s.child, s.child.c.child_id == r.c.child_id
        ),
        scope,
    )
    out: dict[str, list[tuple[date, frozenset[str]]]] = defaultdict(list)
    for chunk in _chunked(stmt, r.c.child_id, child_ids):
        for child_id, on, to_child, to_others in conn.execute(chunk):
            out[child_id].append((on, frozenset(to_child or ()) | frozenset(to_others or ())))
    return {k: tuple(sorted(v, key=lambda x: x[0])) for k, v in out.items()}


def child_placements(conn: Connection, *, scope: Scope, child_id: str) -> list[PlacementEpisode] | None:
    """A child's placement history, oldest first; None when the child is absent or out of scope."""
    if get_child(conn, scope=scope, child_id=child_id) is None:
        return None
    rows = (
        conn.execute(
            select(s.placement)
            .where(s.placement.c.child_id == child_id)
            .order_by(s.placement.c.start_date, s.placement.c.placement_id)
        )
        .mappings()
        .all()
    )
    return [_episode(r) for r in rows]


# --- step-down --------------------------------------------------------------------------


def children_placed_in(conn: Connection, *, scope: Scope, places: Iterable[str]) -> list[Child]:
    """Children in scope whose current placement has one of these SSDA903 PLACE codes, by id (never a child
    who ceased to be looked after)."""
    stmt = _child_scope(
        select(s.child).where(s.child.c.place.in_(sorted(set(places))), s.child.c.ceased.is_(None)), scope
    )
    rows = conn.execute(stmt.order_by(s.child.c.child_id)).mappings().all()
    return _children_from_rows(conn, rows)


def left_places_since(
    conn: Connection, *, scope: Scope, places: Iterable[str], since: Any, child_ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """Children in scope (or these children) who left a placement of these PLACE codes on or after ``since``:
    id to the date left."""
    p = s.placement
    stmt = _child_scope(
        select(p.c.child_id, func.max(p.c.end_date))
        .join(s.child, s.child.c.child_id == p.c.child_id)
        .where(p.c.place.in_(sorted(set(places))), p.c.end_date.is_not(None), p.c.end_date >= since)
        .group_by(p.c.child_id),
        scope,
    )
    if child_ids is not None:
        stmt = stmt.where(p.c.child_id.in_(list(child_ids)))
    return {row[0]: row[1] for row in conn.execute(stmt)}


def progress_rows(conn: Connection, *, scope: Scope, child_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Monthly progress records of these children (in scope), by child and month."""
    ids = sorted(set(child_ids))
    out: list[dict[str, Any]] = []
    r = s.progress_record
    for i in range(0, len(ids), 900):
        stmt = _child_scope(
            select(r).join(s.child, s.child.c.child_id == r.c.child_id).where(r.c.child_id.in_(ids[i : i + 900])),
            scope,
        )
        out.extend(dict(m) for m in conn.execute(stmt.order_by(r.c.child_id, r.c.month)).mappings())
    return out


def open_referral_types(conn: Connection, *, scope: Scope, child_ids: Iterable[str]) -> dict[str, set[str]]:
    """Placement types of each child's open referrals (in scope)."""
    ids = sorted(set(child_ids))
    out: dict[str, set[str]] = defaultdict(set)
    r = s.referral
    for i in range(0, len(ids), 900):
        stmt = _child_scope(
            select(r.c.child_id, r.c.placement_type)
            .join(s.child, s.child.c.child_id == r.c.child_id)
            .where(r.c.child_id.in_(ids[i : i + 900]), r.c.status == "open"),
            scope,
        )
        for child_id, ptype in conn.execute(stmt):
            out[child_id].add(ptype)
    return dict(out)


def households_suited_to(
    conn: Connection,
    *,
    scope: Scope,
    placement_type: str,
    courses: Iterable[str],
    connected_to: Iterable[str] = (),
    any_kinship: bool = False,
    with_vacancy: bool = False,
    taxonomy: Taxonomy | None = None,
) -> list[CarerHousehold]:
    """Households in scope approved for ``placement_type``, or holding one of ``courses`` (current or not),
    or approved as connected persons for one of the children ``connected_to`` (or for anyone: ``any_kinship``)."""
    h = s.household
    ids: set[str] = set()
    typed = _household_scope(select(h.c.household_id, h.c.approved_placement_types), scope)
    kin = sorted(set(connected_to))
    # A coarse text filter on the JSON list in SQL, then the exact test here.
    like = cast(h.c.approved_placement_types, String).like(f'%"{placement_type}"%')
    for hid, types in conn.execute(typed.where(like)):
        if placement_type in (types or ()):
            ids.add(hid)
    trained = _household_scope(
        select(h.c.household_id)
        .join(s.carer_training, s.carer_training.c.household_id == h.c.household_id)
        .where(s.carer_training.c.course.in_(sorted(set(courses))))
        .distinct(),
        scope,
    )
    ids.update(hid for (hid,) in conn.execute(trained))
    if kin or any_kinship:
        wanted = set(kin)
        linked = _household_scope(
            select(h.c.household_id, h.c.connected_child_ids).where(
                cast(h.c.connected_child_ids, String).not_in(["[]", "null"]), h.c.connected_child_ids.is_not(None)
            ),
            scope,
        )
        ids.update(
            hid for hid, linked_ids in conn.execute(linked) if linked_ids and (any_kinship or wanted & set(linked_ids))
        )
    if with_vacancy:
        ids = _with_vacancy(conn, sorted(ids))
    if not ids:
        return []
    rows: list[Any] = []
    base = select(s.household, s.agency.c.agency_type).join(s.agency)
    ordered = sorted(ids)
    for i in range(0, len(ordered), 900):
        stmt = _household_scope(base.where(h.c.household_id.in_(ordered[i : i + 900])), scope)
        rows.extend(conn.execute(stmt).mappings().all())
    rows.sort(key=lambda r: r["household_id"])
    return _households_from_rows(conn, rows, taxonomy or load_taxonomy())


def newest_progress_month(conn: Connection, *, scope: Scope) -> Any:
    """The newest month of any progress record of a child in scope (None when there are none)."""
    r = s.progress_record
    stmt = _child_scope(select(func.max(r.c.month)).join(s.child, s.child.c.child_id == r.c.child_id), scope)
    return conn.execute(stmt).scalar_one_or_none()


def data_dates(conn: Connection) -> tuple[date, date] | None:
    """The first and last dates of the store's records (care started, placements begun and ended, referrals,
    needs and SDQ assessments, progress records), over the whole store: dates only, no one's record.  None when
    the store holds none."""
    found: list[date] = []
    for column in (
        s.child.c.care_started,
        s.child.c.placement_start,
        s.placement.c.start_date,
        s.placement.c.end_date,
        s.referral.c.referral_date,
        s.child_need.c.assessed_on,
        s.sdq_score.c.assessed_on,
        s.progress_record.c.month,
    ):
        low, high = conn.execute(select(func.min(column), func.max(column))).one()
        found += [d for d in (low, high) if d is not None]
    return (min(found), max(found)) if found else None


def as_at(conn: Connection, today: date | None = None) -> date:
    """The date every service answers for unless told otherwise: the day after the store's last dated record,
    never after today (today for an empty store).  A store refreshed daily answers for today; a return or a
    generated authority that ends in the past answers for the day its records end, so that nobody waits past
    their 18th birthday and "needed today" means the records' today."""
    return as_at_of(data_dates(conn), today)


def as_at_of(span: tuple[date, date] | None, today: date | None = None) -> date:
    """:func:`as_at` from the store's :func:`data_dates` already read."""
    today = today or date.today()
    return today if span is None else min(today, span[1] + timedelta(days=1))


def _with_vacancy(conn: Connection, ids: list[str]) -> set[str]:
    """Those of ``ids`` with an approved place free (the vacancy rule, counted in SQL)."""
    h, c, m = s.household, s.child, s.household_member
    out: set[str] = set()
    for i in range(0, len(ids), 900):
        chunk = ids[i : i + 900]
        taken: dict[str, int] = defaultdict(int)
        for hid, n in conn.execute(
            select(c.c.household_id, func.count())
            .where(c.c.household_id.in_(chunk), c.c.ceased.is_(None))
            .group_by(c.c.household_id)
        ):
            taken[hid] += int(n)
        for hid, n in conn.execute(
            select(m.c.household_id, func.count())
            .where(m.c.household_id.in_(chunk), m.c.kind == "foster_child")
            .group_by(m.c.household_id)
        ):
            taken[hid] += int(n)
        for hid, places in conn.execute(
            select(h.c.household_id, h.c.approved_places).where(h.c.household_id.in_(chunk))
        ):
            if places > taken[hid]:
                out.add(hid)
    return out
