"""Linear rows over the arcs' 0/1 variables, in a form no solver owns: each family writes its rows once.

One variable per arc (in arc order): 1 when the arc's unit is placed in the arc's household.  A
family's rows are ``sum(coef * x[arc]) <= upper``; the CP-SAT model
(:func:`matching.allocation.model.build_model`) and the HiGHS model (:mod:`matching.allocation.peers`)
both emit them, and :meth:`Rows.broken` evaluates them on an assignment.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.sparse import csr_matrix

from matching.allocation.instance import AllocationInstance


@dataclass(frozen=True)
class Rows:
    """Rows ``sum(coef * x[arc]) <= upper``, stored entry by entry and sorted by row: entry ``i`` adds
    ``coef[i] * x[arc[i]]`` to row ``row[i]``.  ``about`` says what each row is about (one line of integers
    per row, meaning what the family that wrote it says), so that a broken row can be named."""

    family: str
    row: np.ndarray  # per entry: its row
    arc: np.ndarray  # per entry: its arc
    coef: np.ndarray  # per entry: its coefficient
    upper: np.ndarray  # per row: its upper bound
    about: np.ndarray  # per row: the family's description of it, as integers

    def __len__(self) -> int:
        return len(self.upper)

    @cached_property
    def starts(self) -> np.ndarray:
        """Where each row's entries start (and, last, where the entries end)."""
        return np.searchsorted(self.row, np.arange(len(self) + 1))

    def each(self, rows: Iterable[int] | None = None) -> Iterator[tuple[list[int], list[int], int]]:
        """Every row (or those at ``rows``, in that order) as (arcs, coefficients, upper bound)."""
        arcs, coefs, upper, starts = self._lists
        for r in range(len(self)) if rows is None else rows:
            yield arcs[starts[r] : starts[r + 1]], coefs[starts[r] : starts[r + 1]], upper[r]

    @cached_property
    def _lists(self) -> tuple[list[int], list[int], list[int], list[int]]:
        """The arrays as Python lists, for :meth:`each`."""
        return self.arc.tolist(), self.coef.tolist(), self.upper.tolist(), self.starts.tolist()

    def activity(self, x: np.ndarray) -> np.ndarray:
        """Each row's left-hand side at the 0/1 values ``x`` (one per arc)."""
        return np.bincount(self.row, weights=self.coef * x[self.arc], minlength=len(self)).round().astype(np.int64)

    def broken(self, x: np.ndarray) -> list[int]:
        """The rows that the 0/1 values ``x`` (one per arc) break."""
        return np.flatnonzero(self.activity(x) > self.upper).tolist()

    def matrix(self, n_arcs: int) -> csr_matrix:
        """The rows' coefficients as a sparse matrix (rows x arcs)."""
        return csr_matrix(
            (self.coef.astype(np.float64), (self.row, self.arc)), shape=(len(self), n_arcs), dtype=np.float64
        )


def rows_of(
    family: str, row: np.ndarray, arc: np.ndarray, coef: np.ndarray, upper: np.ndarray, about: np.ndarray
) -> Rows:
    """:class:`Rows` from entries in any order (kept in that order within each row), as int64 arrays."""
    order = np.argsort(row, kind="stable")
    described = np.asarray(about, dtype=np.int64)
    return Rows(
        family,
        row[order].astype(np.int64),
        arc[order].astype(np.int64),
        coef[order].astype(np.int64),
        np.asarray(upper, dtype=np.int64),
        described[:, None] if described.ndim == 1 else described,
    )


def chosen(instance: AllocationInstance, assignment: Mapping[int, int]) -> np.ndarray:
    """The 0/1 value of every arc under ``assignment`` (unit -> arc index): 1 for the arcs it uses.  Arcs
    that do not exist are left out (the validator names them)."""
    x = np.zeros(len(instance.arcs), dtype=np.int64)
    used = [k for k in assignment.values() if 0 <= k < len(instance.arcs)]
    x[used] = 1
    return x
