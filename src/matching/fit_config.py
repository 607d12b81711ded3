"""Fit score weights and matching settings, from ``data/matching/fit_weights.yaml`` or a service's own file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from matching.paths import DATA_DIR
from matching.yaml_config import load_yaml_model

DEFAULT_FIT_CONFIG_PATH = DATA_DIR / "matching" / "fit_weights.yaml"
FACTORS = ("needs", "locality", "household_fit", "track_record", "identity", "stability")


class FitConfigError(ValueError):
    """A weights file that cannot be used."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalitySettings(_Strict):
    """How the locality factor is made up."""

    home: float = Field(ge=0)
    school: float = Field(ge=0)
    in_area: float = Field(ge=0)
    home_zero_miles: float = Field(gt=0)
    school_full_miles: float = Field(ge=0)
    school_zero_miles: float = Field(gt=0)
    wish_shift: float = Field(default=0.0, ge=0, le=1)


class IdentitySettings(_Strict):
    """How the identity factor is made up."""

    ethnicity: float = Field(ge=0)
    religion: float = Field(ge=0)
    language: float = Field(ge=0)
    wish_shift: float = Field(default=0.0, ge=0, le=1)


class HouseholdFitSettings(_Strict):
    """How the household-fit factor is made up."""

    age_gap: float = Field(ge=0)
    age_gap_full_years: float = Field(gt=0)
    preferred_age: float = Field(ge=0)
    bedrooms: float = Field(ge=0)


class TrackRecordSettings(_Strict):
    """How the track-record factor is made up."""

    prior_unplanned_rate: float = Field(gt=0, lt=1)
    prior_strength: float = Field(gt=0)
    experience: float = Field(ge=0, le=1)
    experience_full_years: float = Field(gt=0)


class RuleSettings(_Strict):
    """Settings of the eligibility rules."""

    max_distance_miles: float = Field(gt=0)
    emergency_outside_terms_days: int = Field(gt=0, le=6)  # the law: an emergency of under 6 days at most
    usual_fostering_limit: int = Field(ge=1)
    #: Needs the carers will not consider rule a household out from this severity (1: any recorded need,
    #: the strict default); below it they are shown as a warning.
    carer_exclusions_from_severity: int = Field(default=1, ge=1, le=3)


class WarningSettings(_Strict):
    """Thresholds of the warnings shown with a candidate."""

    long_distance_miles: float = Field(gt=0)
    school_move_miles: float = Field(gt=0)


class StabilitySettings(_Strict):
    """How the learned stability estimate enters the score when a model is loaded."""

    #: Weight given to the estimate when a model is loaded and the file gives it none; the other
    #: weights are scaled down to make room, keeping their proportions.
    weight_when_loaded: float = Field(default=15.0, ge=0, lt=100)


class FitConfig(_Strict):
    """The whole configuration."""

    version: int
    weights: dict[str, float]
    locality: LocalitySettings
    identity: IdentitySettings
    household_fit: HouseholdFitSettings
    track_record: TrackRecordSettings
    rules: RuleSettings
    warnings: WarningSettings
    stability: StabilitySettings = StabilitySettings()

    @model_validator(mode="after")
    def _weights_are_complete(self) -> FitConfig:
        unknown = set(self.weights) - set(FACTORS)
        missing = set(FACTORS) - set(self.weights)
        if unknown or missing:
            raise ValueError(
                f"weights must name exactly {', '.join(FACTORS)} (unknown: {sorted(unknown)}, "
                f"missing: {sorted(missing)})"
            )
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("weights must not be negative")
        total = sum(self.weights.values())
        if abs(total - 100.0) > 1e-6:
            raise ValueError(f"weights must add up to 100 (they add up to {total:g})")
        for name in ("locality", "identity"):
            part = getattr(self, name)
            shares = [
                v
                for k, v in part.model_dump().items()
                if k in ("home", "school", "in_area", "ethnicity", "religion", "language")
            ]
            if abs(sum(shares) - 1.0) > 1e-6:
                raise ValueError(f"{name} shares must add up to 1")
        hf = self.household_fit
        if abs(hf.age_gap + hf.preferred_age + hf.bedrooms - 1.0) > 1e-6:
            raise ValueError("household_fit shares must add up to 1")
        return self

    def with_weights(self, **weights: float) -> FitConfig:
        """A copy with some factor weights changed (the result must still add up to 100)."""
        return FitConfig.model_validate({**self.model_dump(), "weights": {**self.weights, **weights}})

    def with_stability_model(self) -> FitConfig:
        """The weights to use when a stability model is loaded (unchanged if the file already weights it)."""
        w = self.stability.weight_when_loaded
        if self.weights["stability"] > 0 or w == 0:
            return self
        scale = (100.0 - w) / (100.0 - self.weights["stability"])
        weights = {k: (w if k == "stability" else v * scale) for k, v in self.weights.items()}
        return FitConfig.model_validate({**self.model_dump(), "weights": weights})


def load_fit_config(path: Path | str | None = None) -> FitConfig:
    """Load and validate a weights file; the shipped default when ``path`` is None."""
    if path is None or Path(path) == DEFAULT_FIT_CONFIG_PATH:
        return _default()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _default() -> FitConfig:
    return _load(DEFAULT_FIT_CONFIG_PATH)


def _load(path: Path) -> FitConfig:
    return load_yaml_model(path, FitConfig, FitConfigError, "weights")
