"""How well a household's current training and experience cover a child's needs.

Coverage of one need is the strongest of: each current course's weight for that need, and the
need's experience weight when the household has cared for a child with a related need
(``data/taxonomy/needs_skills.yaml`` explains the reading).  Everything here is vectorised so
the generator, the stability features and the scorer share one definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.taxonomy import Taxonomy


@dataclass(frozen=True)
class CoverageTables:
    """The taxonomy as arrays: course weights (needs x courses) and experience weights (needs x needs)."""

    need_ids: tuple[str, ...]
    course_ids: tuple[str, ...]
    course_weight: np.ndarray
    experience_weight: np.ndarray
    valid_days: np.ndarray
    met_threshold: float

    @classmethod
    def from_taxonomy(cls, taxonomy: Taxonomy) -> CoverageTables:
        """Build the arrays for ``taxonomy``."""
        needs, courses = taxonomy.need_ids, taxonomy.course_ids
        c_index = {c: i for i, c in enumerate(courses)}
        n_index = {n: i for i, n in enumerate(needs)}
        w = np.zeros((len(needs), len(courses)))
        e = np.zeros((len(needs), len(needs)))
        for i, need in enumerate(needs):
            domain = taxonomy.needs[need]
            for course, weight in domain.courses.items():
                w[i, c_index[course]] = weight
            for other in domain.experience:
                e[i, n_index[other]] = domain.experience_weight
        valid = np.array(
            [np.inf if (y := taxonomy.courses[c].valid_years) is None else round(y * 365.25) for c in courses]
        )  # fmt: skip
        return cls(needs, courses, w, e, valid, taxonomy.met_threshold)

    def need_coverage(self, current_courses: np.ndarray, experience: np.ndarray) -> np.ndarray:
        """Coverage 0-1 of every need, from current courses (..., C) and needs cared for (..., N)."""
        cur = np.asarray(current_courses, dtype=float)
        exp = np.asarray(experience, dtype=float)
        by_course = (cur[..., None, :] * self.course_weight).max(axis=-1)
        by_experience = (exp[..., None, :] * self.experience_weight).max(axis=-1)
        return np.maximum(by_course, by_experience)

    def weighted_coverage(self, severity: np.ndarray, coverage: np.ndarray) -> np.ndarray:
        """Severity-weighted mean coverage of a needs profile (1.0 when the child has no needs)."""
        sev = np.asarray(severity, dtype=float)
        total = sev.sum(axis=-1)
        covered = (sev * coverage).sum(axis=-1)
        return np.where(total > 0, covered / np.where(total > 0, total, 1.0), 1.0)
