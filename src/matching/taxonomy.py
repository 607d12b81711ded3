"""The needs <-> skills taxonomy: which training and experience address which need.

The taxonomy is practice, not code: each fostering service may supply its own YAML file of
the shape of ``data/taxonomy/needs_skills.yaml``.  It is validated on load and every
inconsistency is reported at once.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from matching.paths import DATA_DIR
from matching.yaml_config import load_yaml_model

DEFAULT_TAXONOMY_PATH = DATA_DIR / "taxonomy" / "needs_skills.yaml"


class TaxonomyError(ValueError):
    """A taxonomy file that cannot be used, with every problem found in it."""


class Course(BaseModel):
    """A training course a carer can hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    valid_years: float | None = Field(default=None, gt=0, description="None: never expires")


class NeedDomain(BaseModel):
    """A need domain and what addresses it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    courses: dict[str, float] = Field(min_length=1)
    experience: list[str] = Field(default_factory=list)
    experience_weight: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _weights_in_range(self) -> NeedDomain:
        bad = {c: w for c, w in self.courses.items() if not 0.0 < w <= 1.0}
        if bad:
            raise ValueError(f"course weights must be in (0, 1]: {bad}")
        return self


class Taxonomy(BaseModel):
    """The whole taxonomy: courses, need domains and the 'need met' threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    met_threshold: float = Field(gt=0.0, le=1.0)
    courses: dict[str, Course]
    needs: dict[str, NeedDomain]

    @model_validator(mode="after")
    def _references_resolve(self) -> Taxonomy:
        problems: list[str] = []
        for need_id, need in self.needs.items():
            for course in need.courses:
                if course not in self.courses:
                    problems.append(f"needs.{need_id}.courses: unknown course {course!r}")
            for other in need.experience:
                if other not in self.needs:
                    problems.append(f"needs.{need_id}.experience: unknown need {other!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def need_ids(self) -> tuple[str, ...]:
        """Need domain ids in file order."""
        return tuple(self.needs)

    @property
    def course_ids(self) -> tuple[str, ...]:
        """Course ids in file order."""
        return tuple(self.courses)

    def course_expiry(self, course: str, completed_on: date) -> date | None:
        """The date a course completed on ``completed_on`` stops being current (None: never)."""
        years = self.courses[course].valid_years
        if years is None:
            return None
        days = round(years * 365.25)
        return date.fromordinal(completed_on.toordinal() + days)

    def provider_label(self, by: str) -> str:
        """What meets a need (a course code, or ``experience:<need>``) as people say it: the course's name as the
        taxonomy spells it, or "experience of <need>"."""
        if by.startswith("experience:"):
            need = by.split(":", 1)[1]
            known = self.needs.get(need)
            return f"experience of {(known.label if known else need.replace('_', ' ')).lower()}"
        course = self.courses.get(by)
        return course.label if course is not None else by.replace("_", " ")

    def best_course(self, need: str) -> str:
        """The course that addresses ``need`` most strongly (ties broken by course id)."""
        courses = self.needs[need].courses
        return min(courses, key=lambda c: (-courses[c], c))


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Load and validate a taxonomy file; the shipped default when ``path`` is None."""
    path = Path(path) if path is not None else DEFAULT_TAXONOMY_PATH
    if path == DEFAULT_TAXONOMY_PATH:
        return _default_taxonomy()
    return _load(path)


@lru_cache(maxsize=1)
def _default_taxonomy() -> Taxonomy:
    return _load(DEFAULT_TAXONOMY_PATH)


def _load(path: Path) -> Taxonomy:
    return load_yaml_model(path, Taxonomy, TaxonomyError, "taxonomy")
