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

    def need_coverage(
        self, current_courses: np.ndarray, experience: np.ndarray, needs: np.ndarray | None = None
    ) -> np.ndarray:
        """Coverage 0-1 of every need (or of the needs at positions ``needs``), from current courses
        (..., C) and needs cared for (..., N)."""
        cur, exp = np.asarray(current_courses), np.asarray(experience)
        course_w, exp_w = self.course_weight, self.experience_weight
        if needs is not None:
            course_w, exp_w = course_w[needs], exp_w[needs]
        if cur.dtype == bool and exp.dtype == bool:
            return self._need_coverage_flags(cur, exp, course_w, exp_w)
        cur, exp = cur.astype(float), exp.astype(float)
        by_course = (cur[..., None, :] * course_w).max(axis=-1)
        by_experience = (exp[..., None, :] * exp_w).max(axis=-1)
        return np.maximum(by_course, by_experience)

    @staticmethod
    def _need_coverage_flags(cur: np.ndarray, exp: np.ndarray, course_w: np.ndarray, exp_w: np.ndarray) -> np.ndarray:
        """The same for yes/no flags, by weight level: a need is covered at a level when any course
        (or related need) at that level is present, a matrix product instead of a 3-D maximum."""
        out = np.zeros((*cur.shape[:-1], len(course_w)))
        for flags, table in ((cur, course_w), (exp, exp_w)):
            f = flags.astype(np.float32)
            for level in np.unique(table[table > 0]):
                hit = (f @ (table == level).T.astype(np.float32)) > 0
                out = np.maximum(out, np.where(hit, level, 0.0))
        return out

    def weighted_coverage(self, severity: np.ndarray, coverage: np.ndarray) -> np.ndarray:
        """Severity-weighted mean coverage of a needs profile (1.0 when the child has no needs)."""
        sev = np.asarray(severity, dtype=float)
        total = sev.sum(axis=-1)
        covered = (sev * coverage).sum(axis=-1)
        return np.where(total > 0, covered / np.where(total > 0, total, 1.0), 1.0)
