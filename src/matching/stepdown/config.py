"""Step-down settings: readiness thresholds and weights, and placement costs (``data/stepdown/``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from matching import codes
from matching.paths import DATA_DIR
from matching.yaml_config import load_yaml_model

READINESS_PATH = DATA_DIR / "stepdown" / "readiness.yaml"
COSTS_PATH = DATA_DIR / "stepdown" / "costs.yaml"
INDICATORS = ("care_plan", "wishes", "stability", "incidents", "missing", "sdq", "education", "supervision", "therapy")


class StepDownConfigError(ValueError):
    """A readiness or costs file that cannot be used."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(_Strict):
    """Cohort and stage settings."""

    placements: tuple[str, ...] = ("K2",)
    window_months: int = Field(default=3, ge=1, le=12)
    trend_months: int = Field(default=6, ge=2, le=24)
    stale_after_months: int = Field(default=2, ge=1, le=12)
    #: A month's progress record arrives during the next month: the records read on a date end this many whole
    #: months before it (on 1 April, with 1: February's is the latest due, March's is not late).
    returns_lag_months: int = Field(default=1, ge=0, le=6)
    stepped_down_weeks: int = Field(default=52, ge=1, le=104)
    building_score: float = Field(default=40, ge=0, le=100)
    ready_score: float = Field(default=80, ge=0, le=100)

    @model_validator(mode="after")
    def _residential_only(self) -> Settings:
        allowed = {"K2", "R1", "S1"}
        wrong = [p for p in self.placements if p not in allowed]
        if wrong:
            raise ValueError(f"placements may be K2, R1 or S1 (K1 secure homes are never assessed), not {wrong}")
        if self.building_score > self.ready_score:
            raise ValueError("building_score must not exceed ready_score")
        return self


class Indicator(_Strict):
    """One indicator's weight, whether it is required, and its thresholds."""

    weight: float = Field(ge=0, le=100)
    required: bool = False
    min_months: float | None = Field(default=None, ge=0)
    max_in_window: int | None = Field(default=None, ge=0)
    concern_from: int | None = Field(default=None, ge=0, le=40)
    min_fall: int | None = Field(default=None, ge=0, le=40)
    min_attendance: float | None = Field(default=None, ge=0, le=100)
    max_exclusion_days: int | None = Field(default=None, ge=0)


class ReadinessConfig(_Strict):
    """The whole readiness file."""

    version: int
    settings: Settings
    indicators: dict[str, Indicator]
    step_down_courses: tuple[str, ...] = ()
    candidates: int = Field(default=3, ge=0, le=20)

    @model_validator(mode="after")
    def _complete(self) -> ReadinessConfig:
        if set(self.indicators) != set(INDICATORS):
            raise ValueError(f"indicators must be exactly {', '.join(INDICATORS)}")
        total = sum(i.weight for i in self.indicators.values())
        if abs(total - 100) > 1e-6:
            raise ValueError(f"indicator weights must add up to 100 (they add up to {total:g})")
        needs = {
            "stability": "min_months",
            "incidents": "max_in_window",
            "missing": "max_in_window",
            "sdq": "concern_from",
            "education": "min_attendance",
        }
        for name, field_name in needs.items():
            if getattr(self.indicators[name], field_name) is None:
                raise ValueError(f"indicators.{name}.{field_name} is required")
        return self


class CostConfig(_Strict):
    """Weekly costs by setting."""

    version: int
    weekly: dict[str, dict[str, float] | float]

    def residential(self, place: str) -> float:
        """Weekly cost of a residential placement of this SSDA903 PLACE code."""
        table = self.weekly.get("residential", {})
        assert isinstance(table, dict)
        return float(table.get(place, table.get(codes.PLACE_CHILDRENS_HOME, 0.0)))

    def foster(self, agency_type: str) -> float:
        """Weekly cost of a fostering placement with this kind of service."""
        table = self.weekly.get("foster", {})
        assert isinstance(table, dict)
        return float(table.get(agency_type, max(table.values(), default=0.0)))

    def flat(self, name: str) -> float:
        """A single weekly figure (kin, return_home, step_down_support)."""
        value = self.weekly.get(name, 0.0)
        return float(value) if not isinstance(value, dict) else 0.0


def load_readiness(path: Path | None = None) -> ReadinessConfig:
    """The readiness file (the shipped one by default), validated with every problem named."""
    return _readiness(str(path or READINESS_PATH))


@lru_cache(maxsize=4)
def _readiness(path: str) -> ReadinessConfig:
    return load_yaml_model(Path(path), ReadinessConfig, StepDownConfigError, "readiness settings")


def load_costs(path: Path | None = None) -> CostConfig:
    """The costs file (the shipped one by default)."""
    return _costs(str(path or COSTS_PATH))


@lru_cache(maxsize=4)
def _costs(path: str) -> CostConfig:
    return load_yaml_model(Path(path), CostConfig, StepDownConfigError, "costs")
