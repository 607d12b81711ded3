"""Explanations are data: the CLI, the API and the pages all render these objects."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from matching.eligibility.rules import RuleOutcome

#: Tiers of the Children Act 1989 s22C ladder among foster carers: connected persons first.
TIER_CONNECTED = 1
TIER_FOSTER = 2
TIER_NAMES = {TIER_CONNECTED: "connected_person", TIER_FOSTER: "foster_carer"}


@dataclass(frozen=True, slots=True)
class Factor:
    """One part of the fit score: its weight, how well the household does (0-1) and what it adds."""

    name: str
    weight: float
    value: float | None
    contribution: float
    detail: str


@dataclass(frozen=True, slots=True)
class NeedMet:
    """How well one of the child's needs is covered, and by what."""

    need: str
    label: str
    severity: int
    coverage: float
    met: bool
    by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Gap:
    """Something the placement plan must add (Fostering NMS Standard 15): training, support or resources."""

    kind: str
    need: str | None
    action: str


@dataclass(frozen=True, slots=True)
class Warning:
    """Something the officer should weigh: distance, school move, identity, emergency outside terms."""

    code: str
    message: str


@dataclass(frozen=True)
class StabilityEstimate:
    """One pair's estimate: the chance of lasting 12 months without an unplanned ending, and its band."""

    p_lasting: float
    band_low: float
    band_high: float
    model_version: str
    #: The range of estimates of the held-out placements the band was read from (it holds ``p_lasting``).
    estimates_low: float | None = None
    estimates_high: float | None = None

    @property
    def p_unplanned(self) -> float:
        """The chance of an unplanned ending within 12 months."""
        return 1.0 - self.p_lasting

    def describe(self) -> str:
        """The estimate in plain words."""
        said = f"estimated {self.p_lasting:.0%} chance of lasting a year without an unplanned ending"
        if self.estimates_low is None or self.estimates_high is None:
            return said
        return (
            f"{said} (of held-out past placements estimated at {self.estimates_low:.0%}-{self.estimates_high:.0%}, "
            f"{self.band_low:.0%}-{self.band_high:.0%} lasted)"
        )


@dataclass(frozen=True)
class MatchExplanation:
    """Why a household is a candidate, how good the fit is and what would close the gaps."""

    household_id: str
    agency_code: str
    agency_type: str
    rank: int
    tier: int
    score: float
    factors: tuple[Factor, ...]
    needs_met: tuple[NeedMet, ...]
    gaps: tuple[Gap, ...]
    warnings: tuple[Warning, ...]
    outside_terms: tuple[RuleOutcome, ...]
    distance_miles: float | None
    vacancies: int
    stability: StabilityEstimate | None = None

    @property
    def tier_name(self) -> str:
        """The tier's name."""
        return TIER_NAMES[self.tier]

    def top_reasons(self, n: int = 2, always: tuple[str, ...] = ()) -> list[str]:
        """The factors that added most, as short phrases, then the ``always`` factors not among them (each once)."""
        best = sorted((f for f in self.factors if f.weight > 0), key=lambda f: (-f.contribution, f.name))[:n]
        names = [f.name for f in best] + [a for a in always if a not in {f.name for f in best}]
        by_name = {f.name: f for f in self.factors}
        return [by_name[name].detail for name in names if name in by_name]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (contributions rounded to 2 decimals; the score is their sum)."""
        factors: list[dict[str, Any]] = [
            {
                "name": f.name,
                "weight": f.weight,
                "value": None if f.value is None else round(f.value, 4),
                "contribution": round(f.contribution, 2),
                "detail": f.detail,
            }
            for f in self.factors
        ]
        return {
            "household_id": self.household_id,
            "agency_code": self.agency_code,
            "agency_type": self.agency_type,
            "rank": self.rank,
            "tier": self.tier_name,
            "score": round(sum(f["contribution"] for f in factors), 2),
            "factors": factors,
            "needs_met": [
                {
                    "need": n.need,
                    "label": n.label,
                    "severity": n.severity,
                    "coverage": round(n.coverage, 3),
                    "met": n.met,
                    "by": list(n.by),
                }
                for n in self.needs_met
            ],
            "gaps": [{"kind": g.kind, "need": g.need, "action": g.action} for g in self.gaps],
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            "outside_terms": [r.code for r in self.outside_terms],
            "distance_miles": None if self.distance_miles is None else round(self.distance_miles, 1),
            "vacancies": self.vacancies,
            "stability": None
            if self.stability is None
            else {
                "p_lasting": round(self.stability.p_lasting, 4),
                "band_low": round(self.stability.band_low, 4),
                "band_high": round(self.stability.band_high, 4),
                "estimates_low": None
                if self.stability.estimates_low is None
                else round(self.stability.estimates_low, 4),
                "estimates_high": None
                if self.stability.estimates_high is None
                else round(self.stability.estimates_high, 4),
                "model_version": self.stability.model_version,
                "detail": self.stability.describe(),
            },
        }


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A household that was ruled out and every rule it failed."""

    household_id: str
    failed: tuple[RuleOutcome, ...]


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A household that fails exactly one rule, and which."""

    household_id: str
    rule: str
    reason: str
    score: float


@dataclass(frozen=True)
class MatchResult:
    """The answer to one referral: ranked candidates, and why the others were ruled out."""

    child_id: str
    referral_id: str
    on: date
    considered: int
    candidates: tuple[MatchExplanation, ...]
    eligible: int
    excluded_counts: dict[str, int]
    nearest_misses: tuple[NearMiss, ...] = ()
    excluded: tuple[Exclusion, ...] | None = None
    model: str = "rules only (no stability model loaded)"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        out: dict[str, Any] = {
            "child_id": self.child_id,
            "referral_id": self.referral_id,
            "placement_date": self.on.isoformat(),
            "considered": self.considered,
            "eligible": self.eligible,
            "model": self.model,
            "candidates": [c.as_dict() for c in self.candidates],
            "excluded_counts": dict(self.excluded_counts),
            "nearest_misses": [asdict(m) | {"score": round(m.score, 2)} for m in self.nearest_misses],
            "notes": list(self.notes),
        }
        if self.excluded is not None:
            out["excluded"] = [
                {"household_id": e.household_id, "reasons": [{"code": r.code, "reason": r.reason} for r in e.failed]}
                for e in self.excluded
            ]
        return out
