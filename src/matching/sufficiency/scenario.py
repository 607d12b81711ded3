"""A sufficiency scenario: the area, the horizon, how many futures, and the levers pulled (a YAML file).

Every field is validated on load; a problem names the field (``levers.recruit.0.households: Input
should be greater than or equal to 0``), so a commissioning lead can fix the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from matching.taxonomy import load_taxonomy
from matching.yaml_config import load_yaml_model

MAX_HORIZON_MONTHS = 36
#: Levers of one kind in a scenario, and authorities or courses in one list.
MAX_LEVERS = 50
MAX_LIST = 200
#: An authority's or a course's code.
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ScenarioError(ValueError):
    """A scenario file that cannot be run."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Area(_Strict):
    """Whose children: one region, or named local authorities (households come from the whole store)."""

    region: str | None = Field(default=None, min_length=1, max_length=100)
    las: tuple[Code, ...] = Field(default=(), max_length=MAX_LIST)

    @model_validator(mode="after")
    def _one(self) -> Area:
        if (self.region is None) == (not self.las):
            raise ValueError("give exactly one of region or las")
        return self


class Recruit(_Strict):
    """New carer households with a profile, approved over the horizon."""

    households: int = Field(ge=0, le=10_000)
    ages: tuple[int, int] = (0, 17)
    places: int = Field(default=2, ge=1, le=6)
    courses: tuple[Code, ...] = Field(default=(), max_length=MAX_LIST)
    la: Code | None = None  # where they live (default: spread over the area's authorities)

    @model_validator(mode="after")
    def _ages(self) -> Recruit:
        youngest, oldest = self.ages
        bad = [a for a in self.ages if not 0 <= a <= 17]
        if bad:
            raise ValueError(f"ages must be within 0-17 ({', '.join(map(str, bad))} is not)")
        if youngest > oldest:
            raise ValueError(
                f"ages [{youngest}, {oldest}] are reversed: give [youngest, oldest], e.g. [{oldest}, {youngest}]"
            )
        return self


class Train(_Strict):
    """Existing carers trained in a course (current from the start of the horizon)."""

    households: int = Field(ge=0, le=100_000)
    course: Code


class StepDown(_Strict):
    """Children stepping down from children's homes to foster care over the horizon (extra demand)."""

    children: int = Field(ge=0, le=10_000)


class Levers(_Strict):
    """What a scenario changes against the baseline."""

    recruit: tuple[Recruit, ...] = Field(default=(), max_length=MAX_LEVERS)
    train: tuple[Train, ...] = Field(default=(), max_length=MAX_LEVERS)
    step_down: StepDown | None = None
    widen_ages: int = Field(default=0, ge=0, le=100_000, description="households whose approval widens to 0-17")


class Rates(_Strict):
    """Rates the data cannot give (monthly); the rest are estimated from the store."""

    deregistration_per_month: float = Field(default=0.009, ge=0, le=0.5)
    approvals_per_month: float | None = Field(
        default=None, ge=0, le=10_000, description="new households a month (default: the last year's, from the data)"
    )
    demand_growth: float = Field(default=0.0, ge=-0.9, le=5.0, description="relative change of entries")
    training_renewal: float = Field(
        default=0.7, ge=0, le=1, description="share of households who renew training before it expires"
    )


class Scenario(_Strict):
    """One scenario file."""

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    area: Area
    horizon_months: int = Field(default=12, ge=1)
    simulations: int = Field(default=1000, ge=1, le=100_000)
    seed: int = Field(default=2024, ge=0, le=2**32 - 1)
    coverage_threshold: float = Field(default=0.5, ge=0, le=1, description="need coverage a match must reach")
    rates: Rates = Rates()
    levers: Levers = Levers()

    @model_validator(mode="after")
    def _known(self) -> Scenario:
        if self.horizon_months > MAX_HORIZON_MONTHS:
            raise ValueError(f"horizon_months: beyond what the data supports (at most {MAX_HORIZON_MONTHS})")
        courses = set(load_taxonomy().course_ids)
        for i, r in enumerate(self.levers.recruit):
            for c in r.courses:
                if c not in courses:
                    raise ValueError(f"levers.recruit.{i}.courses: not a course of the taxonomy")
        for i, t in enumerate(self.levers.train):
            if t.course not in courses:
                raise ValueError(f"levers.train.{i}.course: not a course of the taxonomy")
        return self

    @property
    def is_baseline(self) -> bool:
        """True when no lever is pulled."""
        lv = self.levers
        return not (lv.recruit or lv.train or lv.step_down or lv.widen_ages)


def load_scenario(path: Path) -> Scenario:
    """A scenario file, validated; ScenarioError names every field in the wrong."""
    return load_yaml_model(path, Scenario, ScenarioError, "scenario")
