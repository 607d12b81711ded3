"""The placement plan drafted from a decision (Care Planning Regulations 2010 reg 9 and Schedule 2; Fostering
National Minimum Standard 15): how the placement meets each of the child's needs and by what, the gaps and the
training or support that closes them, the child's wishes and feelings and how they were taken into account,
school and contact, identity, and the support package.

The draft is written from what is on record: the decision's recommendation snapshot (how each need is met, the
gaps and their actions, the distances and the warnings the officer saw), the child's referral (wishes, cultural
needs) and the child and household records.  It is plain text the officer edits; what only people know (contact
arrangements, how the child was told) is left as a prompt to complete.  Nothing about a person is invented.

Versions are append-only (``placement_plan``).  The generated draft is **not stored until the first write**:
:func:`plan_of` answers it as version 0 until an officer saves or agrees; then version 1, 2, ... are stored, and
an agreed version is final (:class:`PlanAgreedError`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from matching import codes
from matching.access import Actor
from matching.decisions.decision import OVERRIDE_REASONS, Decision, DecisionOutcome, Problem, ProblemsError
from matching.decisions.outcomes import OutcomeKind, day_in_england, outcomes_for, standing
from matching.decisions.snapshot import RecommendationSnapshot
from matching.decisions.store import decision_by_id, load_snapshot
from matching.domain import CarerHousehold, Child, Referral, Scope
from matching.store import queries, schema
from matching.taxonomy import Taxonomy

_P, _D = schema.placement_plan, schema.placement_decision

#: The plan's sections, in order: key and heading (the keys are what the API and the store use).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("placement", "The placement"),
    ("needs", "How each of the child's needs is met, and by what"),
    ("gaps", "Gaps, and the training or support agreed to close them"),
    ("wishes", "The child's wishes and feelings"),
    ("wishes_considered", "How the child's wishes and feelings were taken into account"),
    ("school", "Education and school"),
    ("contact", "Contact with family and friends"),
    ("identity", "Identity: culture, religion and language"),
    ("support", "The support package"),
)
SECTION_KEYS = tuple(k for k, _ in SECTIONS)
HEADINGS = dict(SECTIONS)
#: The longest a section may be, in characters.
MAX_SECTION = 8000
#: What the officer still has to write starts with this.
TO_COMPLETE = "To complete:"
SEVERITY_WORDS = {0: "none", 1: "mild", 2: "moderate", 3: "severe"}
URGENCY_WORDS = {"today": "needed today", "within_5_days": "needed within 5 days", "over_5_days": "not urgent"}
SUPPORT_WORDS = {
    "supervising_social_worker": "a supervising social worker",
    "therapeutic_support": "therapeutic support for the carers",
    "out_of_hours": "out-of-hours advice and support",
    "respite": "respite (short breaks)",
    "education_support": "education support",
    "enhanced_allowance": "an enhanced allowance",
}
LANGUAGE_WORDS = {"bsl": "British Sign Language", "esol": "English for speakers of other languages"}
COMMUNICATION_WORDS = {"esol": "ESOL", "bsl": "British Sign Language", "makaton": "Makaton", "pecs": "PECS"}
#: The wishes the referral records, as the child asked, and the warning the ranking gives when the household
#: does not meet each (:func:`matching.ranking.fit._warnings`).
WISHES: tuple[tuple[str, str, str], ...] = (
    ("near_school", "to stay at their school", "The child asked to stay at their school."),
    ("near_family", "to live near their family", "The child asked to live near their family."),
    ("same_religion", "carers who share their faith", "The child asked for carers who share their faith."),
    ("same_language", "carers who speak their language", "The child asked for carers who speak their language."),
    ("pets", "a home with pets", "The child would like a home with pets."),
)
STATES = ("draft", "agreed")


class PlanNotFoundError(LookupError):
    """No decision of that id on a referral of a child in the caller's scope."""


class NoPlacementError(ValueError):
    """The decision chose no household: there is no placement to plan."""


class PlanAgreedError(ValueError):
    """The plan has been agreed: it is final."""


class PlanError(ProblemsError):
    """Sections that cannot be saved, with every problem at once."""


@dataclass(frozen=True)
class Section:
    """One section of the plan: its key, heading and text (plain text the officer can edit)."""

    key: str
    heading: str
    text: str


#: The plan's sections in :data:`SECTIONS` order.
PlanSections = tuple[Section, ...]


@dataclass(frozen=True)
class PlanVersion:
    """A version of a decision's plan: version 0 is the generated draft, not stored; 1, 2, ... are stored."""

    decision_id: int
    version: int
    state: str
    sections: PlanSections
    edited_by: str
    edited_by_user_id: int | None
    edited_at: datetime | None

    @property
    def agreed(self) -> bool:
        """True when this version was agreed (it is final)."""
        return self.state == "agreed"

    def texts(self) -> dict[str, str]:
        """Each section's text by key."""
        return {s.key: s.text for s in self.sections}


# --- the draft ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What the draft is written from."""

    decision: Decision
    snapshot: RecommendationSnapshot
    shown: Mapping[str, Any] | None  # the chosen household as the snapshot shows it (None: not ranked)
    child: Child
    referral: Referral | None
    household: CarerHousehold | None  # None when outside the caller's remit
    started_on: date | None


def _facts(conn: Connection, decision_id: int, scope: Scope, taxonomy: Taxonomy) -> _Facts:
    decision, child_id = _checked(conn, decision_id, scope)
    assert decision.household_id is not None  # a household was chosen
    child = queries.get_child(conn, scope=scope, child_id=child_id, with_sdq=False)
    if child is None:
        raise PlanNotFoundError(f"no decision {decision_id}")
    snapshot = load_snapshot(conn, decision.snapshot_sha256)
    if snapshot is None:  # the foreign key keeps every decision's snapshot
        raise PlanNotFoundError(f"no snapshot for decision {decision_id}")
    referral = next((r for r in queries.referrals_of(conn, child=child) if r.referral_id == decision.referral_id), None)
    household = queries.get_household(conn, scope=scope, household_id=decision.household_id, taxonomy=taxonomy)
    started = standing(outcomes_for(conn, [decision_id])).get(OutcomeKind.STARTED)
    return _Facts(
        decision,
        snapshot,
        snapshot.candidate(decision.household_id),
        child,
        referral,
        household,
        started.on if started else None,
    )


def draft_plan(conn: Connection, decision_id: int, *, scope: Scope, taxonomy: Taxonomy) -> PlanSections:
    """The placement plan drafted from a decision that chose a household, for a child in ``scope``
    (:class:`PlanNotFoundError` outside it; :class:`NoPlacementError` when no household was chosen)."""
    f = _facts(conn, decision_id, scope, taxonomy)
    texts = {
        "placement": _placement(f),
        "needs": _needs(f, taxonomy),
        "gaps": _gaps(f, taxonomy),
        "wishes": _wishes(f),
        "wishes_considered": _wishes_considered(f),
        "school": _school(f),
        "contact": _contact(f),
        "identity": _identity(f),
        "support": _support(f),
    }
    return tuple(Section(key, heading, texts[key]) for key, heading in SECTIONS)


def _day(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def _words(code: str) -> str:
    return code.replace("_", " ")


def _listed(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _placement(f: _Facts) -> str:
    d, child, h = f.decision, f.child, f.household
    on = f.started_on or day_in_england(d.decided_at)
    lines = [f"Child: {child.child_id}, aged {child.age_on(on)}."]
    if f.referral is not None:
        lines.append(
            f"Referral: {f.referral.referral_id}, for a {_words(f.referral.placement_type)} placement, "
            f"{URGENCY_WORDS.get(f.referral.urgency, _words(f.referral.urgency))}."
        )
    carers = f"Carers: household {d.household_id}"
    if h is not None:
        carers += f" ({h.carers} {'carer' if h.carers == 1 else 'carers'}), approved by the "
        carers += codes.agency_label(h.agency_type, h.agency_code)
    elif f.shown is not None:
        carers += f", approved by the {codes.agency_label(str(f.shown['agency_type']), str(f.shown['agency_code']))}"
    lines.append(carers + ".")
    lines.append(f"Decided on {_day(day_in_england(d.decided_at))} by {d.named_officer} (decision {d.decision_id}).")
    if f.started_on is not None:
        lines.append(f"Start date: {_day(f.started_on)}.")
    else:
        lines.append(f"Start date: {TO_COMPLETE} the day the child moves in (not yet recorded).")
    return "\n".join(lines)


def _needs(f: _Facts, taxonomy: Taxonomy) -> str:
    if f.shown is None:
        lines = [
            "The household was not among those the service ranked, so it has no account of how the household "
            f"meets the child's needs. {TO_COMPLETE} how each need is met, and by what."
        ]
        for need, severity in sorted(f.child.needs.items(), key=lambda kv: (-kv[1], kv[0])):
            label = taxonomy.needs[need].label if need in taxonomy.needs else _words(need)
            lines.append(f"- {label} ({SEVERITY_WORDS.get(severity, severity)}):")
        return "\n".join(lines)
    met = list(f.shown["needs_met"])
    if not met:
        if not f.child.needs_assessed:
            return (
                "No assessment of the child's needs was on record when the decision was made: nothing shows how "
                f"the carers meet them. {TO_COMPLETE} the needs once assessed, and how each is met."
            )
        return "The child was assessed with no needs for the carers to meet."
    lines = []
    for n in sorted(met, key=lambda n: (-int(n["severity"]), str(n["need"]))):
        rated = SEVERITY_WORDS.get(int(n["severity"]), str(n["severity"]))
        by = _listed([taxonomy.provider_label(b) for b in n["by"]])
        if n["met"]:
            how = f"met by {by}"
        elif by:
            how = f"partly met ({float(n['coverage']):.0%}) by {by}: see the gaps"
        else:
            how = "not met yet: see the gaps"
        lines.append(f"- {n['label']} ({rated}): {how}.")
    return "\n".join(lines)


def _gaps(f: _Facts, taxonomy: Taxonomy) -> str:
    lines = []
    gaps = list(f.shown["gaps"]) if f.shown else []
    for g in gaps:
        need = g.get("need")
        what = taxonomy.needs[need].label if need in taxonomy.needs else (_words(need) if need else _words(g["kind"]))
        lines.append(f"- {what}: {g['action']} {TO_COMPLETE} who arranges it, and by when.")
    if not gaps:
        lines.append(
            "The service found no gaps." if f.shown else "The household was not ranked, so the service has no gaps."
        )
        lines.append(f"{TO_COMPLETE} any gap the team sees, and the training or support that closes it.")
    messages = {w["code"]: w["message"] for w in (f.shown or {}).get("warnings", [])}
    accepted = [messages.get(c, _words(c)) for c in f.decision.accepted_warnings]
    if accepted:
        lines.append("")
        lines.append("Warnings accepted at the decision:")
        lines += [f"- {w}" for w in accepted]
    return "\n".join(lines)


def _asked(r: Referral | None) -> list[tuple[str, str, str]]:
    return [] if r is None else [w for w in WISHES if getattr(r.wishes, w[0])]


def _wishes(f: _Facts) -> str:
    r = f.referral
    lines = []
    if r is not None and r.wishes.text.strip():
        lines.append(f"In the child's words, as recorded with the referral: {r.wishes.text.strip()}")
    else:
        lines.append(f"No wishes were recorded with the referral. {TO_COMPLETE} what the child said, and how.")
    asked = _asked(r)
    if asked:
        lines.append("The child asked for: " + _listed([w[1] for w in asked]) + ".")
    return "\n".join(lines)


def _wishes_considered(f: _Facts) -> str:
    asked = _asked(f.referral)
    warned = {w["message"] for w in (f.shown or {}).get("warnings", []) if w["code"] == "wish_not_met"}
    lines = []
    for _, words, warning in asked:
        if f.shown is None:
            lines.append(f"- {words[0].upper()}{words[1:]}: {TO_COMPLETE} whether the household meets this.")
        elif warning in warned:
            lines.append(f"- {words[0].upper()}{words[1:]}: not met by this household. {TO_COMPLETE} why.")
        else:
            lines.append(f"- {words[0].upper()}{words[1:]}: met by this household.")
    if "child_wishes" in f.decision.reason_codes:
        lines.append(f"The decision gave as a reason: {OVERRIDE_REASONS['child_wishes'].lower()}.")
    if not asked:
        lines.append("The referral records no particular wishes about where to live.")
    lines.append(f"{TO_COMPLETE} how the child's wishes and feelings were weighed, and how the child was told.")
    return "\n".join(lines)


def _factor_detail(f: _Facts, name: str) -> str:
    return next((str(x["detail"]) for x in (f.shown or {}).get("factors", []) if x["name"] == name), "")


def _school(f: _Facts) -> str:
    child = f.child
    lines = []
    if child.school_urn:
        lines.append(f"School: URN {child.school_urn}.")
    else:
        lines.append("No school is recorded for the child.")
    miles = re.search(r"([0-9.]+) miles to school", _factor_detail(f, "locality"))
    if miles:
        lines.append(f"The household is {miles.group(1)} miles from the school.")
    move = [w["message"] for w in (f.shown or {}).get("warnings", []) if w["code"] == "school_move"]
    lines += move
    if child.sen != "none":
        lines.append(f"Special educational needs: {'an EHC plan' if child.sen == 'ehcp' else 'SEN support'}.")
    lines.append(f"{TO_COMPLETE} how the child gets to school and who takes them; the school's contact.")
    return "\n".join(lines)


def _contact(f: _Facts) -> str:
    lines = []
    miles = None if f.shown is None else f.shown.get("distance_miles")
    if miles is not None:
        lines.append(f"The household is {float(miles):.1f} miles from the child's home.")
    else:
        lines.append("The distance from the child's home is not known.")
    lines += [
        w["message"] for w in (f.shown or {}).get("warnings", []) if w["code"] in ("long_distance", "out_of_area")
    ]
    if f.child.sibling_group_id is not None:
        together = "to be placed together" if f.child.place_with_siblings else "not to be placed together"
        lines.append(
            f"The child has brothers or sisters (group {f.child.sibling_group_id}); the care plan says {together}."
        )
    lines.append(
        f"{TO_COMPLETE} contact arrangements: with whom, how often, where, whether supervised, and who takes the child."
    )
    return "\n".join(lines)


def _languages(langs: Sequence[str]) -> str:
    return _listed([LANGUAGE_WORDS.get(x, _words(x).capitalize()) for x in langs]) or "not recorded"


def _identity(f: _Facts) -> str:
    c, h, r = f.child, f.household, f.referral
    lines = [
        f"The child: ethnicity {c.ethnicity_group} ({c.ethnicity}); religion {_words(c.religion).capitalize()}; "
        f"first language {_languages(c.first_languages)}."
    ]
    if r is not None and r.cultural_needs.strip():
        lines.append(f"Cultural needs from the referral: {r.cultural_needs.strip()}")
    if r is not None and r.communication_needs:
        lines.append(
            "Communication needs: "
            + _listed([COMMUNICATION_WORDS.get(x, _words(x)) for x in r.communication_needs])
            + "."
        )
    if h is not None:
        group = codes.ETHNIC_TO_GROUP.get(h.ethnicity or "", "Not known")
        lines.append(
            f"The household offers: ethnicity {group}; religion {_words(h.religion).capitalize()}; "
            f"languages spoken {_languages(h.languages)}."
        )
    detail = _factor_detail(f, "identity")
    if detail:
        lines.append(f"The service's reading: {detail}.")
    lines += [w["message"] for w in (f.shown or {}).get("warnings", []) if w["code"] == "trans_cultural"]
    lines.append(f"{TO_COMPLETE} how the carers will support the child's identity, culture, faith and language.")
    return "\n".join(lines)


def _support(f: _Facts) -> str:
    lines = []
    gaps = [g for g in (f.shown or {}).get("gaps", []) if g["kind"] in ("training", "support", "communication")]
    if gaps:
        lines.append("To close the gaps:")
        lines += [f"- {g['action']}" for g in gaps]
    package = f.household.support_package if f.household is not None else ()
    if package:
        lines.append(
            "The fostering service provides: " + _listed([SUPPORT_WORDS.get(p, _words(p)) for p in package]) + "."
        )
    if "respite" not in package:
        lines.append(f"Respite: not in the household's package. {TO_COMPLETE} whether respite is agreed.")
    lines.append(f"Supervising social worker: {TO_COMPLETE} how often they visit the carers.")
    lines.append(f"{TO_COMPLETE} any other support agreed, who provides it, and when it is reviewed.")
    return "\n".join(lines)


# --- versions ----------------------------------------------------------------------------------------------


def section_problems(texts: Mapping[str, Any]) -> list[Problem]:
    """Everything wrong with the sections as sent, each problem named by its section key (empty when fine):
    unknown keys, missing keys, texts that are not text or are too long."""
    found = [Problem(str(k), "This is not a section of the plan") for k in texts if k not in HEADINGS]
    for key, heading in SECTIONS:
        if key not in texts:
            found.append(Problem(key, f"Write the section '{heading}' (it is missing)"))
        elif not isinstance(texts[key], str):
            found.append(Problem(key, f"The section '{heading}' must be text"))
        elif len(texts[key]) > MAX_SECTION:
            found.append(Problem(key, f"The section '{heading}' must be {MAX_SECTION} characters or fewer"))
    return found


def sections_of(texts: Mapping[str, str]) -> PlanSections:
    """The sections of checked texts, in order, each trimmed of trailing spaces and with Unix line ends."""
    return tuple(
        Section(key, heading, texts[key].replace("\r\n", "\n").replace("\r", "\n").strip()) for key, heading in SECTIONS
    )


def plan_versions(conn: Connection, decision_id: int) -> list[PlanVersion]:
    """Every stored version of a decision's plan, oldest first (the caller checks the decision is in its remit)."""
    rows = conn.execute(select(_P).where(_P.c.decision_id == decision_id).order_by(_P.c.version, _P.c.id)).mappings()
    return [_version(dict(r)) for r in rows]


def plan_of(conn: Connection, decision_id: int, *, scope: Scope, taxonomy: Taxonomy) -> PlanVersion:
    """The current version of a decision's plan: the latest stored, or the generated draft (version 0, not
    stored) when none is; the errors of :func:`draft_plan`."""
    stored = plan_versions(conn, decision_id)
    if stored:
        _checked(conn, decision_id, scope)
        return stored[-1]
    return PlanVersion(
        decision_id, 0, "draft", draft_plan(conn, decision_id, scope=scope, taxonomy=taxonomy), "service", None, None
    )


def _checked(conn: Connection, decision_id: int, scope: Scope) -> tuple[Decision, str]:
    """The decision and its child: :class:`PlanNotFoundError` outside ``scope``, :class:`NoPlacementError` when
    it chose no household."""
    decision = decision_by_id(conn, decision_id)
    found = None if decision is None else queries.referral_child(conn, scope=scope, referral_id=decision.referral_id)
    if decision is None or found is None:
        raise PlanNotFoundError(f"no decision {decision_id}")
    if decision.outcome is not DecisionOutcome.HOUSEHOLD_CHOSEN or decision.household_id is None:
        raise NoPlacementError(f"decision {decision_id} chose no household")
    return decision, str(found[0])


def save_plan_version(
    conn: Connection,
    decision_id: int,
    texts: Mapping[str, Any],
    *,
    scope: Scope,
    actor: Actor,
    now: datetime | None = None,
) -> PlanVersion:
    """Store the officer's sections (``{key: text}``) as the next draft version; :class:`PlanError` with every
    problem, :class:`PlanAgreedError` once a version is agreed, and the errors of :func:`plan_of`."""
    _lock(conn, decision_id)
    _checked(conn, decision_id, scope)
    found = section_problems(texts)
    if actor.user_id is None:
        found.append(Problem("edited_by", "A plan is written by a signed-in person, not the service"))
    if found:
        raise PlanError(found)
    earlier = plan_versions(conn, decision_id)
    if any(v.agreed for v in earlier):
        raise PlanAgreedError(f"the plan of decision {decision_id} was agreed: it is final")
    return _insert(conn, decision_id, len(earlier) + 1, "draft", sections_of(texts), actor, now)


def agree_plan(
    conn: Connection,
    decision_id: int,
    *,
    scope: Scope,
    taxonomy: Taxonomy,
    actor: Actor,
    now: datetime | None = None,
) -> PlanVersion:
    """The signed-in officer ``actor`` agrees the current version (the generated draft when none is stored): a
    new version, agreed, with the same sections; final.  :class:`PlanAgreedError` when already agreed."""
    _lock(conn, decision_id)
    current = plan_of(conn, decision_id, scope=scope, taxonomy=taxonomy)
    if current.agreed:
        raise PlanAgreedError(f"the plan of decision {decision_id} was agreed: it is final")
    if actor.user_id is None:
        raise PlanError([Problem("edited_by", "A plan is agreed by a signed-in person, not the service")])
    return _insert(conn, decision_id, current.version + 1, "agreed", current.sections, actor, now)


def _lock(conn: Connection, decision_id: int) -> None:
    """The decision's row locked (PostgreSQL) so two writes to one plan are numbered one after the other."""
    conn.execute(select(_D.c.id).where(_D.c.id == decision_id).with_for_update()).first()


def _insert(
    conn: Connection,
    decision_id: int,
    version: int,
    state: str,
    sections: PlanSections,
    actor: Actor,
    now: datetime | None,
) -> PlanVersion:
    values = {
        "decision_id": decision_id,
        "version": version,
        "state": state,
        "sections": [{"key": s.key, "heading": s.heading, "text": s.text} for s in sections],
        "edited_by_user_id": actor.user_id,
        "edited_by": actor.username,
        "edited_at": now or datetime.now(UTC),
    }
    conn.execute(insert(_P).values(**values))
    return _version(values)


def _version(row: dict[str, Any]) -> PlanVersion:
    at = row["edited_at"]
    stored = {str(s["key"]): s for s in row["sections"]}
    sections = tuple(
        Section(
            key,
            str(stored[key].get("heading") or heading) if key in stored else heading,
            str(stored.get(key, {}).get("text", "")),
        )
        for key, heading in SECTIONS
    )
    return PlanVersion(
        decision_id=int(row["decision_id"]),
        version=int(row["version"]),
        state=str(row["state"]),
        sections=sections,
        edited_by=str(row["edited_by"]),
        edited_by_user_id=None if row["edited_by_user_id"] is None else int(row["edited_by_user_id"]),
        edited_at=at if at is None or at.tzinfo else at.replace(tzinfo=UTC),
    )
